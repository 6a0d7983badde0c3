"""Engines, sessions and migrations.

SQLite (the embedded default) gets the settings that make it a dependable server database: WAL so
readers never block the writer, foreign keys on, `BEGIN IMMEDIATE` so a write transaction takes the
write lock up front instead of failing half-way, and exactly one writer: an asyncio lock in each
process (requests' writes before background work's, `mailsleuth.store.writerqueue`), a lock file
between processes (`mailsleuth.store.writerlock`). SQLite's write lock, which
every process shares, must be held only while statements run, never while an event loop attends to
other work between two of them: a request's write runs its statements inline on the loop
(`mailsleuth.store.inline`), and batch writes (`write_at_once`: bulk claims, completions, row
inserts) run whole in a thread on a synchronous connection. Reads use a separate pool of read-only
connections, and point reads of one row (`read_one`, what polling clients hit) a synchronous
read-only connection in the calling thread. PostgreSQL needs none of that and gets one ordinary engine.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Select, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from mailsleuth.config import Settings
from mailsleuth.store import inline
from mailsleuth.store.groupcommit import GroupCommit
from mailsleuth.store.lookups import Lookups
from mailsleuth.store.writerlock import WriterLock
from mailsleuth.store.writerqueue import WriterQueue, in_background

MIGRATIONS = Path(__file__).with_name("migrations")
ALEMBIC_INI = Path(__file__).with_name("alembic.ini")
BUSY_TIMEOUT_MS = 10_000
READ_POOL_SIZE = 4
MIGRATION_LOCK = 0x6D61696C736C7468  # PostgreSQL advisory lock key held while migrating ("mailslth")
T = TypeVar("T")


def database_location(url: str) -> str:
    """Where the database lives, for people to read: a SQLite file's absolute path (a relative URL,
    like the default `./mailsleuth.db`, is relative to the working directory), else the URL with
    its password hidden."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database or "").resolve())
    return parsed.render_as_string(hide_password=True)


class Database:
    """The application's handle on its database; create one per process and share it."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            database = parsed.database or ""
            if database in ("", ":memory:") or database.startswith("file::memory:"):
                raise ValueError("an in-memory SQLite database cannot be shared by the reader and writer; use a file")
            if not database.startswith("file:"):
                _create_private(Path(database))
            uri = database.startswith("file:") or parsed.query.get("uri") in ("true", "1")
            self._writer = create_async_engine(  # its statements run inline (`mailsleuth.store.inline`)
                url, echo=echo, pool_size=2, max_overflow=0,  # one in a transaction, one being closed
                async_creator=inline.connector(database, uri=uri, busy_timeout=BUSY_TIMEOUT_MS / 1000),
            )
            self._reader = create_async_engine(url, echo=echo, pool_size=READ_POOL_SIZE, max_overflow=0)
            synchronous = parsed.set(drivername="sqlite+pysqlite")
            lookups = create_engine(synchronous, poolclass=NullPool, connect_args={"check_same_thread": False})
            self._batch_writer: Engine | None = create_engine(
                synchronous, pool_size=1, max_overflow=0, connect_args={"check_same_thread": False}
            )
            _configure_sqlite(self._batch_writer, begin="BEGIN IMMEDIATE", read_only=False)
            # no busy timeout: the inline writer waits for another process's lock without blocking the loop
            _configure_sqlite(self._writer.sync_engine, begin="BEGIN IMMEDIATE", read_only=False, busy_timeout_ms=0)
            _configure_sqlite(self._reader.sync_engine, begin="BEGIN", read_only=True)
            _configure_sqlite(lookups, begin=None, read_only=True)
            self._lookups: Lookups | None = Lookups(lookups)
            # between processes: a lock file every writer takes before BEGIN (`mailsleuth.store.writerlock`)
            self._writer_lock = None if database.startswith("file:") else WriterLock(Path(f"{database}-writer"))
        else:
            self._writer = self._reader = create_async_engine(url, echo=echo, pool_pre_ping=True)
            self._lookups = None
            self._batch_writer = None
            self._writer_lock = None
        self._write_sessions = async_sessionmaker(self._writer, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._reader, expire_on_commit=False)
        self._write_lock = WriterQueue() if self.is_sqlite else None
        # one group for requests' writes, one for background work's (each keeps its place in line)
        self._together = (GroupCommit(self.write), GroupCommit(self.write)) if self.is_sqlite else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        return cls(settings.database_url)

    @property
    def engine(self) -> AsyncEngine:
        """The engine that writes (and, on PostgreSQL, also reads)."""
        return self._writer

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed on success, rolled back on error.

        Keep it short and free of network IO: on SQLite every other writer waits for it.
        """
        if self._write_lock is None:
            async with self._write_sessions() as session, session.begin():
                yield session
            return
        session = self._write_sessions()
        try:
            async with (
                self._announced(),
                self._turn(background=in_background()),
                self._between_processes(),
                session.begin(),
            ):
                yield session
        finally:
            await session.close()  # after the locks are given back: closing takes a few loop turns

    async def write_together(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """`work` as a short write transaction that, on SQLite, shares its commit with the writes
        waiting at the same moment, each in its own savepoint (`mailsleuth.store.groupcommit`):
        for frequent short writes (opening and completing searches), which would otherwise each wait
        a turn at the one writer. Requests' writes and background work's are grouped apart."""
        if self._together is None:
            async with self.write() as session:
                return await work(session)
        return await self._together[in_background()].run(work)

    @asynccontextmanager
    async def _turn(self, *, background: bool) -> AsyncIterator[None]:
        """This process's turn at the writer (`mailsleuth.store.writerqueue`)."""
        assert self._write_lock is not None
        await self._write_lock.acquire(background=background)
        try:
            yield
        finally:
            self._write_lock.release()

    @asynccontextmanager
    async def _announced(self) -> AsyncIterator[None]:
        """Announced to other processes' background writes (`WriterLock.announce`) from before this
        process's turn until after the write, so none begins while the turn is handed from one write
        to the next: announced only once it held the turn, a write could wait for such a bulk
        transaction besides the one already running."""
        if self._writer_lock is None:
            yield
            return
        await self._writer_lock.announce()
        try:
            yield
        finally:
            self._writer_lock.withdraw()

    @asynccontextmanager
    async def _between_processes(self) -> AsyncIterator[None]:
        """Hold the lock file writers of every process take turns on (a request's write: first in line)."""
        if self._writer_lock is None:
            yield
            return
        await self._writer_lock.acquire()
        try:
            yield
        finally:
            self._writer_lock.release()

    async def write_at_once(self, work: Callable[[Session], T]) -> T:
        """Run `work` (synchronous statements on a Session) as one write transaction, committed when
        it returns. On SQLite the whole transaction runs in a thread, so the write lock is held for
        the statements' time only, however busy this process's event loop is; on PostgreSQL it runs
        on the async session (`run_sync`)."""
        if self._batch_writer is None:
            async with self.write() as session:
                return await session.run_sync(work)
        async with self._turn(background=in_background()):
            return await asyncio.to_thread(self._write_now, work)

    def _write_now(self, work: Callable[[Session], T]) -> T:
        assert self._batch_writer is not None
        if self._writer_lock is not None:
            self._writer_lock.acquire_in_background()  # after any request's write that waits
        try:
            with Session(self._batch_writer, expire_on_commit=False) as session, session.begin():
                return work(session)
        finally:
            if self._writer_lock is not None:
                self._writer_lock.release()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A read-only snapshot that never waits for the writer (WAL)."""
        async with self._read_sessions() as session, session.begin():
            yield session

    async def read_one(self, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
        """The first row (attribute access by column key) of one short read, a look-up by key as polls
        make; `statement` must be built once (a module constant) with `bindparam`s for `params`.

        On SQLite it runs right here on a synchronous read-only connection (`mailsleuth.store.lookups`):
        the look-up takes tens of microseconds, a hop to aiosqlite's thread and back costs more.
        """
        if self._lookups is not None:
            return self._lookups.first(statement, params)
        async with self._reader.connect() as connection:
            return (await connection.execute(statement, params)).first()

    def version(self) -> int | None:
        """A counter that moves whenever anything is committed, by any connection of any process, so
        an answer computed from the database may be reused while it stays put. SQLite's
        `PRAGMA data_version`; None on PostgreSQL, which keeps no such counter."""
        return self._lookups.version() if self._lookups is not None else None

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic upgrade head); safe to call on every start."""
        config = alembic_config(self.url)
        if self._write_lock is None:
            async with self._writer.begin() as connection:
                # every worker migrates on start: the first upgrades, the others wait, then find it done
                await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
                await connection.run_sync(_upgrade, config)
            return
        async with self._turn(background=False), self._between_processes(), self._writer.begin() as connection:
            await connection.run_sync(_upgrade, config)

    async def dispose(self) -> None:
        await self._writer.dispose()
        if self._batch_writer is not None:
            self._batch_writer.dispose()
        if self._reader is not self._writer:
            await self._reader.dispose()
        if self._lookups is not None:
            self._lookups.close()
        if self._writer_lock is not None:
            self._writer_lock.close()


def _create_private(path: Path) -> None:
    """Create a new database file readable by its owner only (it holds webhook secrets and key
    hashes); SQLite gives the -wal and -shm files the same permissions as the database file."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _configure_sqlite(
    engine: Engine, *, begin: str | None, read_only: bool, busy_timeout_ms: int = BUSY_TIMEOUT_MS
) -> None:
    """Take transaction control away from the driver so we decide how each transaction begins
    (`begin` None: no transaction is begun, each statement is its own)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver emits no BEGIN of its own
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if read_only:
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    if begin is not None:

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Any) -> None:
            connection.exec_driver_sql(begin)
