from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from mailsleuth import store
from mailsleuth.api.contactquery import contact_filters
from mailsleuth.store import ContactFilters, ContactStatus, Database, InvalidFilter, NotFound, models
from tests.store.conftest import Tenant


async def _set_created(db: Database, contact_id: int, moment: datetime) -> None:
    async with db.write() as session:
        await session.execute(update(models.Contact).where(models.Contact.id == contact_id).values(created_at=moment))


async def test_create_and_get_contact(db: Database, acme: Tenant) -> None:
    company = await store.save_company(db, "example.com", name="Example Website", keywords=["a", "b"])
    contact = await store.create_contact(
        db, acme.org_id, name="Fake  User", owner_id=acme.user_id, domain="Example.com", company_id=company.id,
        email="Email@Example.com", score=100, verdict="deliverable", evidence={"mx": ["mx.example.com"]},
    )
    fetched = await store.get_contact(db, acme.org_id, contact.id)
    assert fetched == contact
    assert fetched.owner is not None and fetched.owner.email == "owner@acme.test"
    assert fetched.company is not None and fetched.company.keywords == ["a", "b"]
    assert (fetched.email, fetched.domain, fetched.status, fetched.searching) == (
        "email@example.com", "example.com", ContactStatus.LEAD, False)
    assert fetched.created_at.tzinfo is not None


async def test_contact_fields_are_validated(db: Database, acme: Tenant) -> None:
    with pytest.raises(ValueError):
        await store.create_contact(db, acme.org_id, name="")
    with pytest.raises(ValueError):
        await store.create_contact(db, acme.org_id, name="Evil\r\nName")
    with pytest.raises(ValueError):
        await store.create_contact(db, acme.org_id, name="A", status="MAYBE")
    contact = await store.create_contact(db, acme.org_id, name="A")
    with pytest.raises(TypeError):
        await store.update_contact(db, acme.org_id, contact.id, org_id=2)


async def test_update_and_soft_delete(db: Database, acme: Tenant) -> None:
    contact = await store.create_contact(db, acme.org_id, name="Jane Doe", domain="acme.test", searching=True)
    updated = await store.update_contact(db, acme.org_id, contact.id, email="jane@acme.test", searching=False,
                                         status="won")
    assert updated is not None and (updated.email, updated.status, updated.searching) == (
        "jane@acme.test", ContactStatus.WON, False)
    assert await store.find_existing_contact(db, acme.org_id, " jane   DOE ", "ACME.test") == updated
    assert await store.delete_contact(db, acme.org_id, contact.id)
    assert await store.get_contact(db, acme.org_id, contact.id) is None
    assert await store.find_existing_contact(db, acme.org_id, "Jane Doe", "acme.test") is None
    assert not await store.delete_contact(db, acme.org_id, contact.id)
    assert await store.update_contact(db, acme.org_id, contact.id, status="LOST") is None
    assert (await store.query_contacts(db, acme.org_id)).total == 0


async def test_find_existing_contact_needs_same_domain(db: Database, acme: Tenant) -> None:
    await store.create_contact(db, acme.org_id, name="Jane Doe", domain="acme.test")
    assert await store.find_existing_contact(db, acme.org_id, "Jane Doe", "other.test") is None
    assert await store.find_existing_contact(db, acme.org_id, "Jane Do", "acme.test") is None


async def test_tenant_isolation(db: Database, acme: Tenant, rival: Tenant) -> None:
    theirs = await store.create_contact(db, rival.org_id, name="Secret Person", domain="rival.test")
    their_list = await store.create_list(db, rival.org_id, "Rival leads")
    await store.add_to_list(db, rival.org_id, their_list.id, [theirs.id])
    mine = await store.create_contact(db, acme.org_id, name="Mine", domain="acme.test")
    my_list = await store.create_list(db, acme.org_id, "Mine")

    assert await store.get_contact(db, acme.org_id, theirs.id) is None
    assert await store.update_contact(db, acme.org_id, theirs.id, status="WON") is None
    assert not await store.delete_contact(db, acme.org_id, theirs.id)
    assert await store.find_existing_contact(db, acme.org_id, "Secret Person", "rival.test") is None
    page = await store.query_contacts(db, acme.org_id, ContactFilters(ids=[theirs.id, mine.id]))
    assert [c.id for c in page.items] == [mine.id]
    assert (await store.query_contacts(db, acme.org_id, ContactFilters(lists=[their_list.id]))).total == 0

    assert await store.get_list(db, acme.org_id, their_list.id) is None
    assert [lst.id for lst in await store.query_lists(db, acme.org_id)] == [my_list.id]
    assert await store.update_list(db, acme.org_id, their_list.id, name="pwned") is None
    assert not await store.delete_list(db, acme.org_id, their_list.id)
    assert await store.add_to_list(db, acme.org_id, their_list.id, [mine.id]) is None
    assert await store.add_matching_to_list(db, acme.org_id, their_list.id, ContactFilters()) is None
    # adding someone else's contact to my list is silently ignored
    assert (await store.add_to_list(db, acme.org_id, my_list.id, [theirs.id])).contacts == 0  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await store.create_contact(db, acme.org_id, name="X", list_ids=[their_list.id])
    with pytest.raises(NotFound):
        await store.create_contact(db, acme.org_id, name="X", owner_id=rival.user_id)

    untouched = await store.get_contact(db, rival.org_id, theirs.id)
    assert untouched is not None and untouched.status == ContactStatus.LEAD and untouched.list_ids == (their_list.id,)
    assert (await store.get_list(db, rival.org_id, their_list.id)).name == "Rival leads"  # type: ignore[union-attr]


@pytest.fixture
async def people(db: Database, acme: Tenant, rival: Tenant) -> dict[str, int]:
    """A small address book covering every filter; the rival org's lookalike must never show up."""
    await store.save_company(db, "google.com", name="Google LLC")
    google = await store.get_company(db, "google.com")
    rows = {
        "larry": dict(name="Larry Page", domain="google.com", company_id=google.id, email="larry@google.com",
                      status="WON", score=100),
        "sergey": dict(name="Sergey Brin", domain="google.com", company_name="Googol", email="sergey@google.com",
                       status="CONTACTED", score=80),
        "larry_e": dict(name="Larry Ellison", domain="oracle.com", company_name="Oracle", status="LEAD",
                        source="bulk"),
        "under": dict(name="Under_Score 100%", domain="odd.test", email="u@odd.test", status="LOST", score=5),
    }
    ids = {key: (await store.create_contact(db, acme.org_id, owner_id=acme.user_id, **fields)).id
           for key, fields in rows.items()}
    await store.create_contact(db, rival.org_id, name="Larry Page", domain="google.com", email="larry@google.com")
    base = datetime(2016, 4, 1, 10, 0, tzinfo=timezone.utc)
    for offset, key in enumerate(rows):
        await _set_created(db, ids[key], base + timedelta(days=offset))
    return ids


async def _names(db: Database, org_id: int, **params: str) -> list[str]:
    page = await store.query_contacts(db, org_id, contact_filters(params))
    return [contact.name for contact in page.items]


async def test_filter_ids(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    ids = f"{people['larry']},{people['under']}"
    assert sorted(await _names(db, acme.org_id, ids=ids)) == ["Larry Page", "Under_Score 100%"]
    filters = contact_filters([("ids", str(people["larry"])), ("ids[]", str(people["sergey"]))])
    assert sorted(c.name for c in (await store.query_contacts(db, acme.org_id, filters)).items) == [
        "Larry Page", "Sergey Brin"]
    with pytest.raises(InvalidFilter) as error:
        contact_filters({"ids": "1,two"})
    assert error.value.field == "ids"


async def test_filter_query_matches_name_email_domain_and_company(
    db: Database, acme: Tenant, people: dict[str, int]
) -> None:
    assert sorted(await _names(db, acme.org_id, query="larry")) == ["Larry Ellison", "Larry Page"]
    assert await _names(db, acme.org_id, query="SERGEY@") == ["Sergey Brin"]
    assert await _names(db, acme.org_id, query="oracle.com") == ["Larry Ellison"]
    assert await _names(db, acme.org_id, query="llc") == ["Larry Page"]  # the stored company's name
    assert await _names(db, acme.org_id, query="googol") == ["Sergey Brin"]  # the company as given


async def test_filter_name_email_company(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert await _names(db, acme.org_id, name="ellison") == ["Larry Ellison"]
    assert sorted(await _names(db, acme.org_id, email="@google.com")) == ["Larry Page", "Sergey Brin"]
    assert sorted(await _names(db, acme.org_id, company="goog")) == ["Larry Page", "Sergey Brin"]
    assert await _names(db, acme.org_id, domain="ORACLE.com") == ["Larry Ellison"]


async def test_like_wildcards_are_literal(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert await _names(db, acme.org_id, name="_") == ["Under_Score 100%"]
    assert await _names(db, acme.org_id, name="%") == ["Under_Score 100%"]


async def test_filter_status(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert await _names(db, acme.org_id, status="contacted") == ["Sergey Brin"]
    with pytest.raises(InvalidFilter):
        contact_filters({"status": "MAYBE"})


async def test_filter_found(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert len(await _names(db, acme.org_id, found="1")) == 3
    assert len(await _names(db, acme.org_id, found="true")) == 3
    assert len(await _names(db, acme.org_id, found="0")) == 4  # the spec: "only contacts found or all"
    not_found = await store.query_contacts(db, acme.org_id, ContactFilters(found=False))
    assert [c.name for c in not_found.items] == ["Larry Ellison"]


async def test_filter_history(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert "Larry Ellison" not in await _names(db, acme.org_id, history="1")
    assert len(await _names(db, acme.org_id, history="1")) == 3


async def test_filter_lists(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    first = await store.create_list(db, acme.org_id, "first")
    second = await store.create_list(db, acme.org_id, "second")
    await store.add_to_list(db, acme.org_id, first.id, [people["larry"]])
    await store.add_to_list(db, acme.org_id, second.id, [people["sergey"], people["larry"]])
    assert await _names(db, acme.org_id, lists=str(first.id)) == ["Larry Page"]
    assert sorted(await _names(db, acme.org_id, lists=f"{first.id},{second.id}")) == ["Larry Page", "Sergey Brin"]
    assert (await store.get_contact(db, acme.org_id, people["larry"])).list_ids == (first.id, second.id)  # type: ignore[union-attr]


async def test_filter_created(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    april_2 = int(datetime(2016, 4, 2, 10, 0, tzinfo=timezone.utc).timestamp() * 1000)
    assert await _names(db, acme.org_id, created=f"{april_2}") == ["Sergey Brin"]
    assert await _names(db, acme.org_id, created=f">{april_2}", order_by="created") == [
        "Larry Ellison", "Under_Score 100%"]
    assert await _names(db, acme.org_id, created=f">={april_2}", order_by="created") == [
        "Sergey Brin", "Larry Ellison", "Under_Score 100%"]
    assert await _names(db, acme.org_id, created=f"<{april_2}") == ["Larry Page"]
    assert await _names(db, acme.org_id, created=f"<={april_2}", order_by="created") == ["Larry Page", "Sergey Brin"]
    assert await _names(db, acme.org_id, created=">=2016-04-03 10:00", order_by="created") == [
        "Larry Ellison", "Under_Score 100%"]
    assert await _names(db, acme.org_id, created="201604-01 10:00") == ["Larry Page"]  # the spec's example
    assert await _names(db, acme.org_id, created="2016-04-04") == ["Under_Score 100%"]  # a whole day
    between = contact_filters([("created", ">2016-04-01 12:00"), ("created", "<2016-04-03")])
    assert [c.name for c in (await store.query_contacts(db, acme.org_id, between)).items] == ["Sergey Brin"]
    with pytest.raises(InvalidFilter):
        contact_filters({"created": ">=yesterday"})


async def test_created_matches_at_the_precision_shown(db: Database, acme: Tenant) -> None:
    """The API shows created in ms; a contact stored with microseconds must match its own ms value."""
    contact = await store.create_contact(db, acme.org_id, name="Micro")
    moment = datetime(2020, 1, 2, 3, 4, 5, 678_901, tzinfo=timezone.utc)
    await _set_created(db, contact.id, moment)
    shown = store.to_ms(moment)
    assert await _names(db, acme.org_id, created=str(shown)) == ["Micro"]
    assert await _names(db, acme.org_id, created=f"<={shown}") == ["Micro"]
    assert await _names(db, acme.org_id, created=f">={shown}") == ["Micro"]
    assert await _names(db, acme.org_id, created=f">{shown}") == []
    assert await _names(db, acme.org_id, created=f"<{shown}") == []
    assert await _names(db, acme.org_id, created="<=2020-01-02 03:04") == ["Micro"]
    assert await _names(db, acme.org_id, created=">2020-01-02 03:04") == []


async def test_order_by(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert await _names(db, acme.org_id, order_by="-name") == [
        "Under_Score 100%", "Sergey Brin", "Larry Page", "Larry Ellison"]
    assert await _names(db, acme.org_id, order_by="name") == [
        "Larry Ellison", "Larry Page", "Sergey Brin", "Under_Score 100%"]
    assert await _names(db, acme.org_id) == [  # default: newest first
        "Under_Score 100%", "Larry Ellison", "Sergey Brin", "Larry Page"]
    assert (await _names(db, acme.org_id, order_by="-score"))[:3] == ["Larry Page", "Sergey Brin", "Under_Score 100%"]
    assert await _names(db, acme.org_id, order_by="-name", name="larry") == ["Larry Page", "Larry Ellison"]
    with pytest.raises(InvalidFilter) as error:
        contact_filters({"order_by": "-password"})
    assert error.value.field == "order_by"


async def test_paging(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    first = await store.query_contacts(db, acme.org_id, ContactFilters(order_by="name", per_page=3))
    second = await store.query_contacts(db, acme.org_id, ContactFilters(order_by="name", per_page=3, page=2))
    assert (first.total, first.pages, first.has_next, first.has_prev) == (4, 2, True, False)
    assert (second.has_next, second.has_prev) == (False, True)
    assert [c.name for c in first.items + second.items] == [
        "Larry Ellison", "Larry Page", "Sergey Brin", "Under_Score 100%"]
    assert contact_filters({"page": "2", "limit": "10"}).per_page == 10
    for bad in ({"page": "0"}, {"per_page": "100000"}, {"page": "x"}):
        with pytest.raises(InvalidFilter):
            contact_filters(bad)


async def test_filters_combine(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    assert await _names(db, acme.org_id, query="larry", found="1") == ["Larry Page"]
    assert await _names(db, acme.org_id, company="goog", status="WON") == ["Larry Page"]


async def test_control_characters_in_filters_are_refused() -> None:
    with pytest.raises(InvalidFilter):
        contact_filters({"name": "a\x00b"})


async def test_lists_crud(db: Database, acme: Tenant) -> None:
    great = await store.create_list(db, acme.org_id, "My great list")
    awesome = await store.create_list(db, acme.org_id, "Awesome leads")
    contact = await store.create_contact(db, acme.org_id, name="A", list_ids=[great.id])
    assert (await store.get_list(db, acme.org_id, great.id)).contacts == 1  # type: ignore[union-attr]
    assert [lst.name for lst in await store.query_lists(db, acme.org_id, order_by="name")] == [
        "Awesome leads", "My great list"]
    assert [lst.name for lst in await store.query_lists(db, acme.org_id, name="great")] == ["My great list"]
    assert [lst.name for lst in await store.query_lists(db, acme.org_id, order_by="-contacts")][0] == "My great list"
    renamed = await store.update_list(db, acme.org_id, awesome.id, name="My New Name")
    assert renamed is not None and renamed.name == "My New Name"
    assert (await store.add_to_list(db, acme.org_id, awesome.id, [contact.id, contact.id])).contacts == 1  # type: ignore[union-attr]
    assert (await store.remove_from_list(db, acme.org_id, awesome.id, [contact.id])).contacts == 0  # type: ignore[union-attr]
    assert await store.delete_list(db, acme.org_id, great.id)
    assert await store.get_list(db, acme.org_id, great.id) is None
    assert (await store.get_contact(db, acme.org_id, contact.id)).list_ids == ()  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        await store.create_list(db, acme.org_id, "  ")
    with pytest.raises(InvalidFilter):
        await store.query_lists(db, acme.org_id, order_by="secret")


async def test_deleted_contacts_leave_list_counts(db: Database, acme: Tenant) -> None:
    lst = await store.create_list(db, acme.org_id, "l")
    contact = await store.create_contact(db, acme.org_id, name="A", list_ids=[lst.id])
    await store.delete_contact(db, acme.org_id, contact.id)
    assert (await store.get_list(db, acme.org_id, lst.id)).contacts == 0  # type: ignore[union-attr]


async def test_add_matching_to_list(db: Database, acme: Tenant, people: dict[str, int]) -> None:
    lst = await store.create_list(db, acme.org_id, "Google")
    filled = await store.add_matching_to_list(db, acme.org_id, lst.id, contact_filters({"company": "goog"}))
    assert filled is not None and filled.contacts == 2
    again = await store.add_matching_to_list(db, acme.org_id, lst.id, ContactFilters(per_page=1))  # every page
    assert again is not None and again.contacts == 4
