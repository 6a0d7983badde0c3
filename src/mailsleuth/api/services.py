"""What every route needs, built once per app: the background runtime, rate limiter and key cache."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from mailsleuth.api.keys import KeyCache
from mailsleuth.api.ratelimit import RateLimiter
from mailsleuth.config import Settings
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database


@dataclass
class Services:
    runtime: Runtime
    limiter: RateLimiter
    keys: KeyCache = field(default_factory=KeyCache)

    @property
    def db(self) -> Database:
        return self.runtime.db

    @property
    def settings(self) -> Settings:
        return self.runtime.settings


async def settle(task: asyncio.Task[Any] | None, wait: float) -> None:
    """Wait up to `wait` seconds for background work, without cancelling it when the time is up."""
    if task is not None and wait > 0:
        await asyncio.wait({task}, timeout=wait)
