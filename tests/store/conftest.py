"""A freshly migrated database per test: a SQLite file under tmp_path, or PostgreSQL when
MAILSLEUTH_TEST_POSTGRES_URL is set (each test then gets its own, emptied, schema)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mailsleuth.store import Database

POSTGRES_URL = os.environ.get("MAILSLEUTH_TEST_POSTGRES_URL", "")
BACKENDS = ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


async def _reset_postgres(url: str) -> None:
    db = Database(url)
    async with db.engine.begin() as connection:
        await connection.execute(text("DROP SCHEMA public CASCADE"))
        await connection.execute(text("CREATE SCHEMA public"))
    await db.dispose()


@pytest.fixture(scope="session")
async def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file (much faster than running Alembic per test)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    await database.dispose()  # the last connection checkpoints and removes the WAL
    return path


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path) -> str:
    if request.param == "postgres":
        await _reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    shutil.copyfile(migrated_sqlite, tmp_path / "store.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()  # a no-op on the copied SQLite template; creates the schema on PostgreSQL
    yield database
    await database.dispose()
