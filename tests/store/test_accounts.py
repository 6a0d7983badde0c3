import asyncio

import pytest
from sqlalchemy import text

from mailsleuth import store
from mailsleuth.store import AlreadyExists, CreditKind, Database, NotFound


async def test_bootstrap_runs_once_and_its_key_works(db: Database) -> None:
    key = await store.bootstrap(db)
    assert key is not None
    assert await store.bootstrap(db) is None
    principal = await store.authenticate(db, key)
    assert principal is not None and principal.org_name == "default" and principal.admin
    balances = await store.balances(db, principal.org_id)
    assert {kind: b.remaining for kind, b in balances.items()} == {kind: 100 for kind in CreditKind}


async def test_bootstrap_skipped_when_an_org_exists(db: Database) -> None:
    await store.create_org(db, "acme")
    assert await store.bootstrap(db) is None


async def test_keys_are_stored_hashed(db: Database) -> None:
    org = await store.create_org(db, "acme")
    await store.create_user(db, org.id, "ann@acme.test", admin=True)
    key = await store.create_key(db, org.id)
    async with db.read() as session:
        rows = (await session.execute(text("SELECT * FROM api_keys"))).all()
    dumped = repr(rows)
    assert key not in dumped and key[len(store.key_prefix(key)) :] not in dumped
    assert store.key_prefix(key) in dumped  # the prefix identifies it


async def test_authenticate_identifies_the_caller(db: Database) -> None:
    org = await store.create_org(db, "acme")
    user = await store.create_user(db, org.id, "Bob@Acme.test", name="Bob")
    key = await store.create_key(db, org.id, user.id)
    principal = await store.authenticate(db, key)
    assert principal == store.Principal(org.id, user.id, principal.key_id, "bob@acme.test", "Bob", "acme", False)
    assert await store.authenticate(db, key + "x") is None
    assert await store.authenticate(db, "") is None
    assert await store.authenticate(db, "ms_\r\nX") is None


async def test_revoked_key_no_longer_authenticates(db: Database) -> None:
    org = await store.create_org(db, "acme")
    await store.create_user(db, org.id, "ann@acme.test")
    key, other = await store.create_key(db, org.id), await store.create_key(db, org.id)
    assert await store.revoke_key(db, store.key_prefix(key))
    assert await store.authenticate(db, key) is None
    assert await store.authenticate(db, other) is not None
    assert not await store.revoke_key(db, store.key_prefix(key))  # already revoked
    assert [k.revoked for k in await store.list_keys(db, org.id)] == [True, False]


async def test_revoke_key_scoped_to_an_org(db: Database) -> None:
    a, b = await store.create_org(db, "a"), await store.create_org(db, "b")
    await store.create_user(db, a.id, "x@a.test")
    key = await store.create_key(db, a.id)
    assert not await store.revoke_key(db, store.key_prefix(key), org_id=b.id)
    assert await store.authenticate(db, key) is not None


async def test_create_key_needs_a_user_of_that_org(db: Database) -> None:
    a, b = await store.create_org(db, "a"), await store.create_org(db, "b")
    user_b = await store.create_user(db, b.id, "x@b.test")
    with pytest.raises(NotFound):
        await store.create_key(db, a.id)
    with pytest.raises(NotFound):
        await store.create_key(db, a.id, user_b.id)


async def test_names_are_unique_and_validated(db: Database) -> None:
    org = await store.create_org(db, "acme")
    with pytest.raises(AlreadyExists):
        await store.create_org(db, "acme")
    await store.create_user(db, org.id, "ann@acme.test")
    with pytest.raises(AlreadyExists):
        await store.create_user(db, org.id, "ANN@acme.test")
    with pytest.raises(ValueError):
        await store.create_org(db, "bad\nname")
    with pytest.raises(ValueError):
        await store.create_user(db, org.id, "not-an-address")


async def test_set_plan(db: Database) -> None:
    org = await store.create_org(db, "acme")
    assert (await store.set_plan(db, org.id, "pro")).plan == "pro"
    assert (await store.get_org(db, org.id)).plan == "pro"  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.set_plan(db, 12345, "pro")


async def test_charge_is_idempotent_per_reference(db: Database) -> None:
    org = await store.create_org(db, "acme", credits={"search": 3})
    assert await store.charge(db, org.id, "search", 1, "contact:1")
    assert await store.charge(db, org.id, "search", 1, "contact:1")
    assert await store.balance(db, org.id, "search") == 2
    assert await store.charge(db, org.id, "search", 1, "contact:2")
    assert await store.balance(db, org.id, "search") == 1
    summary = (await store.balances(db, org.id))[CreditKind.SEARCH]
    assert (summary.remaining, summary.total, summary.used) == (1, 3, 2)


async def test_same_reference_in_another_kind_is_another_charge(db: Database) -> None:
    org = await store.create_org(db, "acme", credits={"search": 1, "verify": 1})
    assert await store.charge(db, org.id, "search", 1, "row:1")
    assert await store.charge(db, org.id, "verify", 1, "row:1")
    assert await store.balance(db, org.id, "verify") == 0


async def test_insufficient_credits_take_nothing(db: Database) -> None:
    org = await store.create_org(db, "acme", credits={"verify": 2})
    assert not await store.charge(db, org.id, "verify", 3, "job:1")
    assert await store.balance(db, org.id, "verify") == 2
    assert await store.charge(db, org.id, "verify", 2, "job:1")  # a refused reference can be paid later
    assert not await store.charge(db, org.id, "verify", 1, "job:2")
    assert await store.balance(db, org.id, "verify") == 0


async def test_concurrent_charges_never_overdraw(db: Database) -> None:
    org = await store.create_org(db, "acme", credits={"search": 5})
    results = await asyncio.gather(*(store.charge(db, org.id, "search", 1, f"c:{i}") for i in range(12)))
    assert results.count(True) == 5
    assert await store.balance(db, org.id, "search") == 0


async def test_add_credits(db: Database) -> None:
    org = await store.create_org(db, "acme")
    assert await store.add_credits(db, org.id, "enrich", 10) == 10
    assert await store.add_credits(db, org.id, "enrich", 5, reference="invoice-7") == 15
    assert await store.add_credits(db, org.id, "enrich", 5, reference="invoice-7") == 15
    assert await store.add_credits(db, org.id, "enrich", -4) == 11
    with pytest.raises(ValueError):
        await store.add_credits(db, org.id, "enrich", -12)
    with pytest.raises(ValueError):
        await store.add_credits(db, org.id, "gold", 1)
    with pytest.raises(NotFound):
        await store.add_credits(db, 999, "search", 1)
    assert await store.balance(db, org.id, "enrich") == 11


async def test_credits_are_per_org(db: Database) -> None:
    a = await store.create_org(db, "a", credits={"search": 1})
    b = await store.create_org(db, "b", credits={"search": 1})
    assert await store.charge(db, a.id, "search", 1, "contact:1")
    assert await store.charge(db, b.id, "search", 1, "contact:1")  # same reference, other org: charged
    assert await store.balance(db, a.id, "search") == await store.balance(db, b.id, "search") == 0
