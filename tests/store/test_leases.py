"""The named lease (the reconciler's leadership) under racing processes: one winner, no error."""

from __future__ import annotations

import asyncio

from mailsleuth.store import Database
from mailsleuth.store import bulk as ledger

RACERS = 8


async def _race(url: str, owners: list[str], *, seconds: float, steal_from: tuple[str, ...] = ()) -> dict[str, bool]:
    """Every owner asks at once, each through its own Database (its own connections, as separate
    processes would)."""
    handles = [Database(url) for _ in owners]
    try:
        results = await asyncio.gather(
            *(ledger.take_lease(db, "race", owner, seconds=seconds, steal_from=steal_from) for db, owner in zip(handles, owners))
        )
    finally:
        for db in handles:
            await db.dispose()
    return dict(zip(owners, results))


async def test_racing_for_a_free_lease_gives_exactly_one_holder(db: Database, database_url: str) -> None:
    owners = [f"host:{n}:x" for n in range(RACERS)]
    won = await _race(database_url, owners, seconds=30)
    [winner] = [owner for owner, held in won.items() if held]
    assert await ledger.lease_holder(db, "race") == winner
    again = await _race(database_url, owners, seconds=30)  # the holder renews, nobody else gets it
    assert again == {owner: owner == winner for owner in owners}


async def test_an_expired_lease_goes_to_exactly_one_racer(db: Database, database_url: str) -> None:
    assert await ledger.take_lease(db, "race", "gone:1:x", seconds=0.2)
    await asyncio.sleep(0.25)
    owners = [f"host:{n}:x" for n in range(RACERS)]
    won = await _race(database_url, owners, seconds=30)
    assert sum(won.values()) == 1
    assert await ledger.lease_holder(db, "race") in owners


async def test_a_dead_holders_lease_is_taken_over_before_it_expires(db: Database) -> None:
    assert await ledger.take_lease(db, "race", "dead:1:x", seconds=60)
    assert not await ledger.take_lease(db, "race", "live:2:x", seconds=60)
    assert await ledger.take_lease(db, "race", "live:2:x", seconds=60, steal_from=("dead:1:x",))
    assert await ledger.lease_holder(db, "race") == "live:2:x"
    assert not await ledger.take_lease(db, "race", "dead:1:x", seconds=60)
