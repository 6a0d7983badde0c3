"""The key cache: one database read per key and TTL, and a revocation applies within the TTL."""

from __future__ import annotations

from pathlib import Path

from mailsleuth import store
from mailsleuth.api.keys import KeyCache


async def test_cached_until_the_ttl_then_revocation_applies(tmp_path: Path) -> None:
    db = store.Database(f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}")
    await db.migrate()
    try:
        org = await store.create_org(db, "cached")
        user = await store.create_user(db, org.id, "a@cached.test", admin=True)
        key = await store.create_key(db, org.id, user.id)
        now = [1000.0]
        cache = KeyCache(ttl=10.0, clock=lambda: now[0])

        principal = await cache.authenticate(db, key)
        assert principal is not None and principal.org_id == org.id
        assert await cache.authenticate(db, key + "x") is None

        assert await store.revoke_key(db, store.key_prefix(key))
        now[0] += 9.0
        assert await cache.authenticate(db, key) == principal  # still within the TTL
        now[0] += 2.0
        assert await cache.authenticate(db, key) is None  # re-checked: revoked
    finally:
        await db.dispose()

