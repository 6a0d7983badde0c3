"""The key cache: one database read per key while nothing changes; a revocation applies on the next
request where the database keeps a change counter (SQLite), within the TTL where not (PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mailsleuth import store
from mailsleuth.api.keys import KeyCache
from mailsleuth.store import Database
from tests import postgres
from tests.postgres import BACKENDS


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path, postgres_session_url: str) -> AsyncIterator[Database]:
    if request.param == "postgres":
        await postgres.empty(postgres_session_url)
        database = Database(postgres_session_url)
    else:
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    await database.migrate()
    yield database
    await database.dispose()


async def make_key(db: Database) -> str:
    org = await store.create_org(db, "cached")
    user = await store.create_user(db, org.id, "a@cached.test", admin=True)
    return await store.create_key(db, org.id, user.id)


async def test_one_read_per_key_while_nothing_is_written(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    key = await make_key(db)
    reads: list[str] = []
    real = store.authenticate

    async def counted(database: Database, presented: str) -> store.Principal | None:
        reads.append(presented)
        return await real(database, presented)

    monkeypatch.setattr(store, "authenticate", counted)
    cache = KeyCache(ttl=10.0, clock=lambda: 1000.0)
    first = await cache.authenticate(db, key)
    again = [await cache.authenticate(db, key) for _ in range(5)]
    assert first is not None and first.user_email == "a@cached.test"
    assert again == [first] * 5
    assert reads == [key]
    assert await cache.authenticate(db, key + "x") is None  # failures are never cached
    assert await cache.authenticate(db, key + "x") is None
    assert reads == [key, key + "x", key + "x"]


async def test_a_revoked_key_is_refused(db: Database) -> None:
    key = await make_key(db)
    now = [1000.0]
    cache = KeyCache(ttl=10.0, clock=lambda: now[0])
    principal = await cache.authenticate(db, key)
    assert principal is not None

    assert await store.revoke_key(db, store.key_prefix(key))
    now[0] += 9.0
    if db.version() is None:  # PostgreSQL: no change counter, the TTL bounds it
        assert await cache.authenticate(db, key) == principal
        now[0] += 2.0
    assert await cache.authenticate(db, key) is None


async def test_a_revocation_by_another_process_applies_on_sqlite(tmp_path: Path) -> None:
    """Another process's commit moves SQLite's data_version for every connection: here a second
    Database on the same file stands for the CLI's `admin revoke-key`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    api, admin = Database(url), Database(url)
    try:
        await api.migrate()
        key = await make_key(api)
        cache = KeyCache(ttl=3600.0)
        assert await cache.authenticate(api, key) is not None
        assert await store.revoke_key(admin, store.key_prefix(key))
        assert await cache.authenticate(api, key) is None
    finally:
        await api.dispose()
        await admin.dispose()
