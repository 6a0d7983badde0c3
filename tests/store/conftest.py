"""A freshly migrated database per test: a SQLite file under tmp_path, and PostgreSQL too when
MAILSLEUTH_TEST_POSTGRES_URL is set (the session's own database, emptied per test)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailsleuth import store
from mailsleuth.store import Database
from tests import postgres
from tests.postgres import BACKENDS


@pytest.fixture(scope="session")
async def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file (much faster than running Alembic per test)."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    await database.dispose()  # the last connection checkpoints and removes the WAL
    return path


@pytest.fixture(params=BACKENDS)
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_sqlite: Path, postgres_session_url: str
) -> str:
    if request.param == "postgres":
        await postgres.empty(postgres_session_url)
        return postgres_session_url
    shutil.copyfile(migrated_sqlite, tmp_path / "store.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.migrate()  # a no-op on the copied SQLite template and the migrated PostgreSQL database
    yield database
    await database.dispose()


@dataclass
class Tenant:
    org_id: int
    user_id: int


async def make_tenant(db: Database, name: str) -> Tenant:
    """An organisation with 10 search and 10 verify credits and its admin user owner@NAME.test."""
    org = await store.create_org(db, name, credits={"search": 10, "verify": 10})
    user = await store.create_user(db, org.id, f"owner@{name}.test", name="Owner", admin=True)
    return Tenant(org.id, user.id)


@pytest.fixture
async def acme(db: Database) -> Tenant:
    return await make_tenant(db, "acme")


@pytest.fixture
async def rival(db: Database) -> Tenant:
    return await make_tenant(db, "rival")
