"""What a service needs from the process it runs in: settings, the store, the shared Verifier, the
webhook outbox and a way to run work in the background.

`mailsleuth.jobs.runtime.Runtime` provides it; the services depend on this protocol only, so the
job machinery (which calls the services) sits above them and no import runs in a circle.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

from mailsleuth.config import Settings
from mailsleuth.engine.verify import Verifier
from mailsleuth.store import Database


class Outbox(Protocol):
    async def enqueue(self, org_id: int, target: str, payload: dict[str, Any], *, key: str, job_id: int | None) -> None:
        """Queue a webhook delivery (durably: the store's outbox)."""
        ...


class Context(Protocol):
    settings: Settings
    db: Database
    verifier: Verifier
    webhooks: Outbox
    finds: asyncio.Semaphore  # single searches' finds running at once (`Settings.concurrent_finds`)

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``work`` in the background, tracked so shutdown can wait for it."""
        ...
