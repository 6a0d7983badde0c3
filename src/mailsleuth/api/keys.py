"""API keys already checked, so polling clients do not cost a database read per request."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable

from mailsleuth import store
from mailsleuth.store import Database, Principal


class KeyCache:
    """Recently authenticated keys, so polling clients do not cost a database read per request.

    Only successes are cached, by the key's SHA-256. Where the database keeps a change counter
    (`Database.version`, SQLite) an entry holds until anything is committed, so a revoked key (or
    a changed user) is refused on its next request, from any process; elsewhere (PostgreSQL) for
    `ttl` seconds, so a revoked key keeps working for at most that long in each API process.
    """

    def __init__(self, ttl: float = 10.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._entries: OrderedDict[bytes, tuple[int | None, float, Principal]] = OrderedDict()

    async def authenticate(self, db: Database, key: str) -> Principal | None:
        digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
        entry = self._entries.get(digest)
        version, now = db.version(), self.clock()
        if entry is not None and entry[0] == version and (version is not None or entry[1] > now):
            return entry[2]
        principal = await store.authenticate(db, key)
        if principal is None:
            self._entries.pop(digest, None)
            return None
        self._entries[digest] = (version, now + self.ttl, principal)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return principal
