"""This process's turns at SQLite's one writer: a request's write goes before background writes.

Every write transaction of a process waits here before the lock file between processes
(`mailsleuth.store.writerlock`). A plain FIFO lock let one request's write queue behind every
background write ahead of it: the searches and verifications running after their requests were
answered, and a worker's batches, each costing an event-loop turn to hand over, which on a loop
busy answering polls is milliseconds. Writes made from background work (`background_context`:
what the job runtime spawns) wait in a second line that moves only while no request's write waits,
so a request waits at most for the one write being made.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections import deque

_BACKGROUND: contextvars.ContextVar[bool] = contextvars.ContextVar("mailsleuth_background_writes", default=False)


def background_context() -> contextvars.Context:
    """A copy of the current context whose writes give way to requests' (for `asyncio.create_task`)."""
    context = contextvars.copy_context()
    context.run(_BACKGROUND.set, True)
    return context


def in_background() -> bool:
    """Whether the running code was started as background work."""
    return _BACKGROUND.get()


class WriterQueue:
    """One writer at a time; on release the lock passes to the longest-waiting request's write, else
    to the longest-waiting background write."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._background: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, background: bool) -> None:
        if not self._held:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line = self._background if background else self._urgent
        line.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the lock as it was cancelled: pass it on
            else:
                line.remove(waiter)
            raise

    def release(self) -> None:
        for line in (self._urgent, self._background):
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the lock passes to it directly: never free in between
                    return
        self._held = False
