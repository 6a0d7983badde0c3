"""Short writes that arrive together share one SQLite transaction (group commit).

On SQLite a process's writes take turns at the one writer (`mailsleuth.store.writerqueue`), and a
turn costs more than the statements: an event-loop turn to hand it over, which on a loop busy
answering polls is milliseconds, and often a wait for another process's transaction to end
(`mailsleuth.store.writerlock`). Eight clients submitting searches at once queued eight turns, so
the last waited for all of them. Here the writes waiting at the same moment run one after the
other in ONE transaction, each in its own savepoint: a write that fails undoes its own changes
only and its caller gets its exception; the others commit together, and nobody is answered before
the commit. Each write sees the ones before it, as it would have one turn later.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[Any]]


class GroupCommit:
    """Runs each `run(work)` inside a transaction shared with the works waiting at the same time."""

    def __init__(self, write: Callable[[], AbstractAsyncContextManager[AsyncSession]]) -> None:
        self._write = write
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((work, done))
        if self._flusher is None:  # not tied to one request: a caller that goes away stops nobody's write
            self._flusher = asyncio.create_task(self._flush(), name="group-commit", context=contextvars.copy_context())
        return await asyncio.shield(done)

    async def _flush(self) -> None:
        try:
            while self._waiting:
                await self._commit_waiting()
        finally:
            self._flusher = None

    async def _commit_waiting(self) -> None:
        taken: list[tuple[Work, asyncio.Future[Any]]] = []
        outcomes: list[tuple[bool, Any]] = []
        try:
            async with self._write() as session:
                taken, self._waiting = self._waiting, []  # everyone who came while the turn was awaited
                for work, _ in taken:
                    try:
                        async with session.begin_nested():
                            outcomes.append((True, await work(session)))
                    except Exception as error:  # its savepoint is rolled back; the others go on
                        outcomes.append((False, error))
        except BaseException as error:  # the transaction itself failed, or shutdown: none of it was written
            failed = taken or self._waiting
            if not taken:
                self._waiting = []
            for _, done in failed:
                if done.done():
                    continue
                if isinstance(error, Exception):
                    done.set_exception(error)
                else:
                    done.cancel()
            if not isinstance(error, Exception):
                raise
            return
        for (_, done), (ok, value) in zip(taken, outcomes):
            if done.done():
                continue
            if ok:
                done.set_result(value)
            else:
                done.set_exception(value)
