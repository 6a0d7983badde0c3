"""A contact's history (contact_events): written by the store functions that make each change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect

from mailsleuth import store
from mailsleuth.store import ContactEvent, ContactFilters, ContactStatus, Database, EventKind
from mailsleuth.store.db import alembic_config
from tests import postgres
from tests.postgres import BACKENDS
from tests.store.conftest import Tenant, make_tenant


def lines(history: list[ContactEvent] | None) -> list[tuple[str, str | None, dict[str, object]]]:
    assert history is not None
    return [(event.kind.value, event.user_email, event.detail) for event in history]


async def test_a_status_change_is_recorded_with_who_and_from_what(db: Database, acme: Tenant) -> None:
    contact = await store.create_contact(db, acme.org_id, name="Jane Doe")
    assert await store.contact_history(db, acme.org_id, contact.id) == []
    await store.update_contact(db, acme.org_id, contact.id, actor_id=acme.user_id, status="CONTACTED")
    await store.update_contact(db, acme.org_id, contact.id, actor_id=acme.user_id, status=ContactStatus.CONTACTED)
    await store.update_contact(db, acme.org_id, contact.id, status="won")  # no user: the system
    await store.update_contact(db, acme.org_id, contact.id, title="CTO")  # not a status change
    history = await store.contact_history(db, acme.org_id, contact.id)
    assert lines(history) == [  # newest first; setting the status it already had is no change
        ("status", None, {"from": "CONTACTED", "to": "WON"}),
        ("status", "owner@acme.test", {"from": "LEAD", "to": "CONTACTED"}),
    ]
    assert history is not None and history[0].created_at >= history[1].created_at
    assert history[1].user_id == acme.user_id and history[1].contact_id == contact.id


async def test_list_membership_changes_are_recorded_with_the_lists_name(db: Database, acme: Tenant) -> None:
    jane = await store.create_contact(db, acme.org_id, name="Jane Doe", domain="acme.test")
    john = await store.create_contact(db, acme.org_id, name="John Roe", domain="acme.test")
    hot = await store.create_list(db, acme.org_id, "Hot")
    cold = await store.create_list(db, acme.org_id, "Cold")
    await store.add_to_list(db, acme.org_id, hot.id, [jane.id, john.id], actor_id=acme.user_id)
    await store.add_to_list(db, acme.org_id, hot.id, [jane.id], actor_id=acme.user_id)  # already in: no event
    await store.remove_from_list(db, acme.org_id, hot.id, [jane.id], actor_id=acme.user_id)
    await store.remove_from_list(db, acme.org_id, cold.id, [jane.id], actor_id=acme.user_id)  # not in it
    await store.add_matching_to_list(db, acme.org_id, cold.id, ContactFilters(name="jane"), actor_id=acme.user_id)
    await store.delete_list(db, acme.org_id, cold.id, actor_id=acme.user_id)
    who = "owner@acme.test"
    assert lines(await store.contact_history(db, acme.org_id, jane.id)) == [
        ("list_removed", who, {"list_id": cold.id, "list": "Cold", "reason": "list deleted"}),
        ("list_added", who, {"list_id": cold.id, "list": "Cold"}),
        ("list_removed", who, {"list_id": hot.id, "list": "Hot"}),
        ("list_added", who, {"list_id": hot.id, "list": "Hot"}),
    ]
    assert lines(await store.contact_history(db, acme.org_id, john.id)) == [
        ("list_added", who, {"list_id": hot.id, "list": "Hot"})]


async def test_a_contact_created_in_a_list_has_that_in_its_history(db: Database, acme: Tenant) -> None:
    made = await store.create_list(db, acme.org_id, "Imported")
    contact = await store.create_contact(db, acme.org_id, name="Ann Lee", owner_id=acme.user_id, list_ids=[made.id])
    assert lines(await store.contact_history(db, acme.org_id, contact.id)) == [
        ("list_added", "owner@acme.test", {"list_id": made.id, "list": "Imported"})]


async def test_finds_and_verifications_of_the_address_are_in_the_history(
    db: Database, acme: Tenant, rival: Tenant
) -> None:
    contact = await store.create_contact(db, acme.org_id, name="Jane Doe", domain="acme.test", searching=True)
    search = await store.create_search(db, acme.org_id, user_id=acme.user_id, contact_id=contact.id)
    await store.complete_search(db, acme.org_id, search.id, email="Jane.Doe@acme.test", score=100,
                                verdict="deliverable", result={"reason": "accepted"})
    await store.complete_search(db, acme.org_id, search.id, email="other@acme.test")  # ended: changes nothing

    async def verified(tenant: Tenant, address: str, result: dict[str, object] | None, error: str | None = None) -> int:
        job = await store.create_search(db, tenant.org_id, user_id=tenant.user_id, kind="single_verify")
        await store.finish_job(db, tenant.org_id, job.id, result=result, error=error, charge_kind="verify",
                               verified=address)
        return job.id

    first = await verified(acme, "JANE.DOE@acme.test", {"email": "jane.doe@acme.test", "verdict": "risky",
                                                        "score": 80, "reason": "catch_all"})
    failed = await verified(acme, "jane.doe@acme.test", None, "TimeoutError: no answer")
    await verified(acme, "john@acme.test", {"verdict": "deliverable"})  # another address
    await verified(rival, "jane.doe@acme.test", {"verdict": "undeliverable"})  # another organisation's check
    history = await store.contact_history(db, acme.org_id, contact.id)
    assert lines(history) == [
        ("verification", "owner@acme.test", {"error": "TimeoutError: no answer"}),
        ("verification", "owner@acme.test", {"verdict": "risky", "score": 80, "reason": "catch_all"}),
        ("search", "owner@acme.test",
         {"email": "jane.doe@acme.test", "verdict": "deliverable", "score": 100, "reason": "accepted"}),
    ]
    assert history is not None
    assert [(e.job_id, e.address, e.contact_id) for e in history] == [
        (failed, "jane.doe@acme.test", None), (first, "jane.doe@acme.test", None),
        (search.id, "jane.doe@acme.test", contact.id)]

    # a contact made later with the same address shows the earlier checks, not the other one's find
    later = await store.create_contact(db, acme.org_id, name="J. Doe", email="jane.doe@acme.test")
    assert [kind for kind, _, _ in lines(await store.contact_history(db, acme.org_id, later.id))] == [
        "verification", "verification"]


async def test_a_search_that_found_nothing_or_could_not_pay_says_so(db: Database, acme: Tenant) -> None:
    contact = await store.create_contact(db, acme.org_id, name="Nobody Here", domain="acme.test", searching=True)
    search = await store.create_search(db, acme.org_id, user_id=acme.user_id, contact_id=contact.id)
    await store.complete_search(db, acme.org_id, search.id, email=None, verdict="not_found")
    poor = await make_tenant(db, "poor")
    broke = await store.create_contact(db, poor.org_id, name="Jane Doe", domain="acme.test")
    left = await store.balance(db, poor.org_id, "search")
    assert await store.charge(db, poor.org_id, "search", left, "spend-it-all")
    paid = await store.create_search(db, poor.org_id, user_id=poor.user_id, contact_id=broke.id)
    await store.complete_search(db, poor.org_id, paid.id, email="jane.doe@acme.test", verdict="deliverable")
    assert lines(await store.contact_history(db, acme.org_id, contact.id)) == [
        ("search", "owner@acme.test", {"verdict": "not_found"})]
    assert lines(await store.contact_history(db, poor.org_id, broke.id)) == [
        ("search", "owner@poor.test", {"error": "insufficient credits"})]


async def test_history_is_the_organisations_own(db: Database, acme: Tenant, rival: Tenant) -> None:
    contact = await store.create_contact(db, acme.org_id, name="Jane Doe")
    await store.update_contact(db, acme.org_id, contact.id, actor_id=acme.user_id, status="WON")
    assert await store.contact_history(db, rival.org_id, contact.id) is None
    assert await store.contact_history(db, acme.org_id, 10**12) is None
    await store.delete_contact(db, acme.org_id, contact.id)
    assert await store.contact_history(db, acme.org_id, contact.id) is None


@pytest.fixture(params=BACKENDS)
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    url = await postgres.create_database()
    yield url
    await postgres.drop_database(url)


async def test_the_migration_downgrades_and_upgrades_again(fresh_url: str) -> None:
    db = Database(fresh_url)
    try:
        await db.migrate()
        org = await store.create_org(db, "acme")
        contact = await store.create_contact(db, org.id, name="Jane Doe")
        await store.update_contact(db, org.id, contact.id, status="WON")

        async def tables() -> set[str]:
            async with db.read() as session:
                return await session.run_sync(lambda s: set(inspect(s.connection()).get_table_names()))

        assert "contact_events" in await tables()
        await db.dispose()  # Alembic runs on its own connection (in a thread: it starts its own loop)
        await asyncio.to_thread(command.downgrade, alembic_config(fresh_url), "0004")
        assert "contact_events" not in await tables()
        assert (await store.get_contact(db, org.id, contact.id)) is not None  # the contacts stay
        await db.migrate()
        assert await store.contact_history(db, org.id, contact.id) == []
    finally:
        await db.dispose()


async def test_an_address_revealed_for_a_known_person_is_a_find_in_the_history(db: Database, acme: Tenant) -> None:
    from mailsleuth.store.intelligence import reveal_address

    kim = await store.create_contact(db, acme.org_id, name="Kim Park", domain="acme.test", source="import")
    await reveal_address(db, acme.org_id, kim.id, email="kim.park@acme.test", score=100, verdict="deliverable",
                         evidence={}, user_id=acme.user_id)
    assert lines(await store.contact_history(db, acme.org_id, kim.id)) == [
        ("search", "owner@acme.test", {"email": "kim.park@acme.test", "verdict": "deliverable", "score": 100})]
