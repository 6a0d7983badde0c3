"""The process-wide pieces background work shares, started and stopped with the server.

In the embedded default, single searches run as asyncio tasks of the API process. Bulk jobs go
through the queue (`mailsleuth.jobs.queue`, a taskiq broker chosen by settings.broker_url) with the
database as the ledger, and the reconciler (`mailsleuth.jobs.reconciler`) repairs what crashes leave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from mailsleuth.config import Settings
from mailsleuth.engine.egress import Egress
from mailsleuth.jobs.notices import Notices
from mailsleuth.jobs.webhooks import WebhookDispatcher
from mailsleuth.store import Database, background_context
from mailsleuth.engine.verify import Verifier

if TYPE_CHECKING:
    from mailsleuth.jobs.bulk import Tuning

log = logging.getLogger(__name__)

WEBHOOK_TIMEOUT = 10.0  # seconds for one delivery, connect to last byte
WEBHOOK_RESPONSE_BYTES = 64 * 1024  # a receiver's answer is not read, only its status; this bounds any read


class Runtime:
    """Settings, database, the shared Verifier, the webhook dispatcher, the job queue and reconciler,
    and the running tasks. `notices` are the webhook shapes of ended bulk jobs by kind (the API
    layer's, `mailsleuth.api.dialects.DIALECTS.notices()`): required, since any process may end a job."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        *,
        notices: Notices,
        verifier: Verifier | None = None,
        webhook_interval: float = 30.0,
        webhook_poll: float = 5.0,
        tuning: Tuning | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.notices = notices
        self.verifier = verifier or Verifier(settings)
        self.finds = asyncio.Semaphore(settings.concurrent_finds)
        self.egress = Egress.from_settings(settings, resolve=self.verifier.resolver.addresses)
        self.http = self.egress.client(
            max_response_bytes=WEBHOOK_RESPONSE_BYTES, deadline=WEBHOOK_TIMEOUT, timeout=WEBHOOK_TIMEOUT
        )
        self.webhooks = WebhookDispatcher(
            db,
            client=self.http,
            interval=webhook_interval,
            poll=webhook_poll,
        )
        # Imported here: the bulk machinery imports the search service, which imports this module.
        from mailsleuth.jobs.queue import JobQueue
        from mailsleuth.jobs.reconciler import Reconciler

        self.queue = JobQueue(self, tuning=tuning)
        self.reconciler = Reconciler(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dispatcher: asyncio.Task[None] | None = None
        self._reconciling: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._dispatcher = asyncio.create_task(self.webhooks.run(), name="webhooks", context=background_context())
        self._reconciling = asyncio.create_task(self._run_jobs(), name="reconciler", context=background_context())

    async def _run_jobs(self) -> None:
        """Start the queue, then recover and reconcile bulk jobs until closed."""
        await self.queue.start()
        await self.reconciler.run()

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run `work` in the background, keeping a reference so it is neither collected nor forgotten;
        its writes give way to requests' (`store.background_context`)."""
        task = asyncio.create_task(work, name=name, context=background_context())
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task %s failed", task.get_name(), exc_info=task.exception())

    async def idle(self) -> None:
        """Wait until no background work is running (graceful shutdown, tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        tasks = [*self._tasks, *(task for task in (self._dispatcher, self._reconciling) if task is not None)]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.queue.close()
        await self.verifier.close()
        await self.http.aclose()
