"""The ledger as its own doorbell: a taskiq broker for processes that share a database and no broker.

The embedded default (`mailsleuth serve` without MAILSLEUTH_BROKER_URL) runs the API in one process and
bulk slices in a `mailsleuth worker` beside it, both on the same database: the scaled-out topology in
miniature. Announcing a slice already marks it SENT in the ledger, so sending costs nothing here; the
listening worker polls the ledger for announced slices that no live lease holds and runs them. A
slice handed out twice is harmless (its lease makes the second run a no-op), which is the contract
every broker already has to meet.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncGenerator

from taskiq import AsyncBroker
from taskiq.message import BrokerMessage, TaskiqMessage

from mailsleuth.store import Database
from mailsleuth.store import bulk as ledger

SCHEME = "ledger"
POLL_SECONDS = 0.2  # how soon a worker notices a new slice
REDELIVER_SECONDS = 10.0  # a slice handed out but still unleased after this is handed out again


class LedgerBroker(AsyncBroker):
    """Sends nothing, listens to the ledger; `task_name` is the one task this broker carries."""

    def __init__(self, db: Database, task_name: str, *, poll: float = POLL_SECONDS) -> None:
        super().__init__()
        self.db, self.task_name, self.poll = db, task_name, poll
        self._handed: dict[tuple[int, int], float] = {}

    async def kick(self, message: BrokerMessage) -> None:
        """Nothing to carry: the ledger row that says the slice is due is the message."""

    async def listen(self) -> AsyncGenerator[bytes, None]:
        while True:
            now = time.monotonic()
            self._handed = {key: at for key, at in self._handed.items() if now - at < REDELIVER_SECONDS}
            for key in await ledger.waiting_slices(self.db):
                if key in self._handed:
                    continue
                self._handed[key] = now
                yield self.formatter.dumps(
                    TaskiqMessage(
                        task_id=uuid.uuid4().hex,
                        task_name=self.task_name,
                        labels={},
                        labels_types={},
                        args=list(key),
                        kwargs={},
                    )
                ).message
            await asyncio.sleep(self.poll)
