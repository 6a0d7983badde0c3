"""SQLite writes run inline on the event loop: a write transaction never waits for a loop turn.

Through aiosqlite every statement of a write transaction is a hop to its thread and back, and the
transaction stays open while the loop runs whatever else is ready in between. On a busy API (polls
answered as fast as clients send them) each hop waits a loop turn, so a five-statement transaction
held SQLite's write lock, which every process and writer shares, for tens of milliseconds, and the
writers behind it queued for seconds. A statement itself takes microseconds: here the SQLAlchemy
aiosqlite dialect is handed a connection whose coroutines run the sqlite3 call at once and never
suspend, so a transaction runs from BEGIN to COMMIT without yielding. The one wait that can be long,
for the write lock another process holds, must not block the loop: the connection has no busy
timeout, and a statement SQLite refuses as busy is retried after an asynchronous sleep instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from typing import Any

BUSY_RETRY_FIRST = 0.001  # seconds; doubling up to BUSY_RETRY_MAX while another process writes
BUSY_RETRY_MAX = 0.02


class InlineCursor:
    """aiosqlite's cursor interface over a sqlite3 cursor, each call done before it returns."""

    def __init__(self, owner: InlineConnection) -> None:
        self._owner = owner
        self._cursor = owner.driver.cursor()

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        await self._owner.when_free(lambda: self._cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        rows = list(parameters)
        await self._owner.when_free(lambda: self._cursor.executemany(sql, rows))
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Now:
    """Stands for aiosqlite's request queue, which the dialect feeds (future, function) pairs."""

    def __init__(self, driver: sqlite3.Connection) -> None:
        self.driver = driver

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:  # the dialect re-raises it where it awaits the future
            future.set_exception(error)


class InlineConnection:
    """The part of aiosqlite.Connection SQLAlchemy's aiosqlite dialect uses, run inline."""

    def __init__(self, driver: sqlite3.Connection, busy_timeout: float) -> None:
        self.driver = driver
        self._conn = driver  # names the dialect reaches for
        self._connection = driver
        self._tx = _Now(driver)
        self.busy_timeout = busy_timeout

    async def when_free(self, statement: Callable[[], Any]) -> Any:
        """Run `statement`; while SQLite says another writer holds the lock, sleep (the loop goes on)
        and try again, for up to `busy_timeout` seconds."""
        deadline = time.monotonic() + self.busy_timeout
        pause = BUSY_RETRY_FIRST
        while True:
            try:
                return statement()
            except sqlite3.OperationalError as error:
                busy = error.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # extended codes too
                if not busy or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(BUSY_RETRY_MAX, pause * 2)

    @property
    def isolation_level(self) -> str | None:
        return self.driver.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self)

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.driver.create_function(*args, **kwargs)

    async def commit(self) -> None:
        await self.when_free(self.driver.commit)

    async def rollback(self) -> None:
        self.driver.rollback()

    async def close(self) -> None:
        self.driver.close()

    def stop(self) -> None:
        self.driver.close()


def connector(database: str, *, uri: bool, busy_timeout: float) -> Callable[[], Any]:
    """An `async_creator` for `create_async_engine("sqlite+aiosqlite://...")`."""

    async def connect() -> InlineConnection:
        driver = sqlite3.connect(database, uri=uri, timeout=0, isolation_level=None, check_same_thread=False)
        return InlineConnection(driver, busy_timeout)

    return connect
