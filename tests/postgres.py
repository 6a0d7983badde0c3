"""The PostgreSQL the contract suite runs on when MAILSLEUTH_TEST_POSTGRES_URL names a server
(`eval "$(bash .ci/postgres.sh)"`): each test session gets its own database on it, migrated once
and emptied before every test, so several test runs can share one server."""

from __future__ import annotations

import os
import secrets

from sqlalchemy import text
from sqlalchemy.engine import make_url

from mailsleuth.store import Database

SERVER_URL = os.environ.get("MAILSLEUTH_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if SERVER_URL else ["sqlite"]


async def _admin(statement: str) -> None:
    """Run CREATE/DROP DATABASE (outside a transaction) on the server's own database."""
    db = Database(SERVER_URL)
    try:
        async with db.engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text(statement))
    finally:
        await db.dispose()


async def create_database() -> str:
    """A new, empty database on the server; returns its URL."""
    name = f"mailsleuth_test_{os.getpid()}_{secrets.token_hex(3)}"
    await _admin(f'CREATE DATABASE "{name}"')
    return make_url(SERVER_URL).set(database=name).render_as_string(hide_password=False)


async def create_session_database() -> str:
    """A new, migrated database for this test session; returns its URL."""
    url = await create_database()
    db = Database(url)
    await db.migrate()
    await db.dispose()
    return url


async def drop_database(url: str) -> None:
    await _admin(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


async def empty(url: str) -> None:
    """Delete every row of every table but Alembic's, restarting the id sequences."""
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            # A connection the previous test left open (a task cancelled mid-transaction) would hold a
            # lock that TRUNCATE waits on for ever: end such sessions first, and never wait long.
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = current_database() AND pid <> pg_backend_pid()")
            )
            await connection.execute(text("SET LOCAL lock_timeout = '30s'"))
            tables = (
                await connection.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
                )
            ).scalars()
            names = ", ".join(f'"{name}"' for name in tables)
            if names:
                await connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    finally:
        await db.dispose()
