from datetime import timedelta

import pytest

from mailsleuth import store
from mailsleuth.store import Database, utcnow


async def test_convention_round_trip(db: Database) -> None:
    patterns = pytest.importorskip("mailsleuth.engine.patterns")
    names = pytest.importorskip("mailsleuth.engine.names")
    assert await store.get_convention(db, "acme.test") is None
    convention = patterns.Convention()
    for full in ("Jane Doe", "John Smith", "Mary Major"):
        name = names.parse_name(full)
        convention.observe(f"{name.first}.{name.last}", name)
    await store.save_convention(db, "Acme.test", convention)
    loaded = await store.get_convention(db, "acme.test")
    assert loaded is not None
    assert loaded.evidence == convention.evidence == 3
    assert loaded.distribution() == convention.distribution()
    convention.observe("bob", names.parse_name("Bob Jones"))
    await store.save_convention(db, "acme.test", convention)  # replaces
    assert (await store.get_convention(db, "acme.test")).to_dict() == convention.to_dict()  # type: ignore[union-attr]


async def test_domain_state_expires_after_its_ttl(db: Database) -> None:
    assert await store.get_domain_state(db, "acme.test") is None
    saved = await store.save_domain_state(
        db, "acme.test", mx_hosts=[{"preference": 10, "host": "mx.acme.test"}], catch_all=False,
        route_status="ok", ttl_seconds=60,
    )
    state = await store.get_domain_state(db, "ACME.test")
    assert state == saved and state.catch_all is False and state.mx_hosts[0]["host"] == "mx.acme.test"
    assert await store.get_domain_state(db, "acme.test", now=utcnow() + timedelta(seconds=61)) is None
    await store.save_domain_state(db, "acme.test", mx_hosts=[], catch_all=True, ttl_seconds=60)
    assert (await store.get_domain_state(db, "acme.test")).catch_all is True  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        await store.save_domain_state(db, "bad domain\r\n", mx_hosts=[], catch_all=None)


async def test_company_facts(db: Database) -> None:
    assert await store.get_company(db, "example.com") is None
    created = await store.save_company(db, "example.com", name="Example Website", keywords=("Some", "Keywords"))
    updated = await store.save_company(db, "example.com", title="Example.com super website !", facts_fetched_at=utcnow())
    assert updated.id == created.id and updated.name == "Example Website" and updated.keywords == ["Some", "Keywords"]
    assert updated.title == "Example.com super website !" and updated.facts_fetched_at is not None
    with pytest.raises(TypeError):
        await store.save_company(db, "example.com", org_id=1)


async def test_knowledge_is_shared_between_orgs(db: Database) -> None:
    """Company facts are global: two organisations' contacts point at the same row."""
    a, b = await store.create_org(db, "a"), await store.create_org(db, "b")
    company = await store.save_company(db, "example.com", name="Example")
    ca = await store.create_contact(db, a.id, name="X", company_id=company.id)
    cb = await store.create_contact(db, b.id, name="Y", company_id=company.id)
    assert ca.company == cb.company == company


async def test_find_company_domain(db: Database) -> None:
    await store.save_company(db, "google.com", name="Google")
    assert await store.find_company_domain(db, "  google ") == "google.com"
    assert await store.find_company_domain(db, "Googl") is None
    assert await store.find_company_domain(db, "") is None
