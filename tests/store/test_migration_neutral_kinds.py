"""Migration 0006 renames the stored bulk kinds and the bulk-find contact source, and back again,
on SQLite and (with MAILSLEUTH_TEST_POSTGRES_URL) PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, select

from mailsleuth.store import Database
from mailsleuth.store import models as m
from mailsleuth.store.db import alembic_config
from tests import postgres
from tests.postgres import BACKENDS

BEFORE, AFTER = "0005", "0006_neutral_kinds"
OLD_KINDS = ["search", "massive", "lg_bulk", "verify", "enrich"]
NEW_KINDS = ["search", "find_file", "find_batch", "verify", "enrich"]
OLD_SOURCES = ["search", "massive", "import", "crawl"]
NEW_SOURCES = ["search", "bulk", "import", "crawl"]


@pytest.fixture(params=BACKENDS)
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no schema at all (the test migrates it step by step)."""
    url = await postgres.create_database() if request.param == "postgres" else f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    db = Database(url)
    yield db
    await db.dispose()
    if request.param == "postgres":
        await postgres.drop_database(url)


async def _alembic(db: Database, step: str, revision: str) -> None:
    def run(connection: Connection, config: Config) -> None:
        config.attributes["connection"] = connection
        getattr(command, step)(config, revision)

    async with db.engine.begin() as connection:
        await connection.run_sync(run, alembic_config(db.url))


async def _stored(db: Database) -> tuple[list[str], list[str]]:
    async with db.engine.connect() as connection:
        kinds = (await connection.execute(select(m.Job.__table__.c.kind).order_by(m.Job.__table__.c.id))).scalars()
        sources = (await connection.execute(select(m.Contact.__table__.c.source).order_by(m.Contact.__table__.c.id))).scalars()
        return list(kinds), list(sources)


async def test_the_stored_kinds_and_sources_are_renamed_and_back(empty_db: Database) -> None:
    await _alembic(empty_db, "upgrade", BEFORE)
    async with empty_db.engine.begin() as connection:
        org = (await connection.execute(m.Organization.__table__.insert().values(name="acme", webhook_secret="s"))).inserted_primary_key[0]
        await connection.execute(m.Job.__table__.insert(), [{"org_id": org, "kind": kind} for kind in OLD_KINDS])
        await connection.execute(
            m.Contact.__table__.insert(),
            [{"org_id": org, "name": f"P {i}", "name_key": f"p {i}", "source": s} for i, s in enumerate(OLD_SOURCES)],
        )

    await _alembic(empty_db, "upgrade", AFTER)
    assert await _stored(empty_db) == (NEW_KINDS, NEW_SOURCES)

    await _alembic(empty_db, "downgrade", BEFORE)
    assert await _stored(empty_db) == (OLD_KINDS, OLD_SOURCES)

