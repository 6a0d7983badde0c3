"""One reconciler leads; a dead leader's lease is taken over at once."""

from __future__ import annotations

from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database
from mailsleuth.store import bulk as ledger
from tests.jobs.conftest import make_runtime


async def test_only_the_lease_holder_reconciles(world_settings, db: Database) -> None:
    first, second = make_runtime(world_settings, db), make_runtime(world_settings, db)
    try:
        assert (await first.reconciler.round()).leader
        assert not (await second.reconciler.round()).leader
        assert (await first.reconciler.round()).leader  # renewing its own lease
        assert await ledger.lease_holder(db, "reconciler") == first.queue.owner
        await first.queue.close()  # the leader's queue is gone: its lease is a dead one of this process
        assert (await second.reconciler.round()).leader
        assert await ledger.lease_holder(db, "reconciler") == second.queue.owner
    finally:
        for rt in (first, second):
            await rt.close()


async def test_a_foreign_live_lease_is_respected_until_it_expires(world_settings, db: Database) -> None:
    assert await ledger.take_lease(db, "reconciler", "elsewhere.example:7:abc", seconds=0.3)
    rt: Runtime = make_runtime(world_settings, db)
    try:
        assert not (await rt.reconciler.round()).leader
        import asyncio

        await asyncio.sleep(0.35)
        assert (await rt.reconciler.round()).leader
    finally:
        await rt.close()
