"""The intelligence tables: crawls with merged sources, learning each address once, people, charges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from mailsleuth import store
from mailsleuth.engine.crawl import CompanyFacts, CrawlResult, PageVisit, Source
from mailsleuth.engine.names import parse_name
from mailsleuth.store import CreditKind, Database
from mailsleuth.store import intelligence as knowledge

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=10)
TEAM = "https://acme.test/team"
CONTACT = "https://acme.test/contact"


def _crawl(at: datetime, pages: dict[str, list[str]], names: dict[str, str] | None = None) -> CrawlResult:
    """A crawl of acme.test that read the homepage and ``pages`` (url -> addresses on it)."""
    sources: dict[str, list[Source]] = {}
    for url, addresses in pages.items():
        for address in addresses:
            sources.setdefault(address, []).append(Source(url, at, at))
    visits = [PageVisit("https://acme.test/", "https://acme.test/", 200)]
    visits += [PageVisit(url, url, 200) for url in pages]
    return CrawlResult(
        "acme.test", at, at,
        facts=CompanyFacts(name="Acme Corp", title="Acme Corp | Home", description="Anvils", keywords=("anvils",)),
        visits=visits,
        sources=sources,
        names={a: parse_name(n) for a, n in (names or {}).items()},
        roles={a for a in sources if a.startswith("info@")},
    )


async def test_a_crawl_stores_facts_sources_and_teaches_the_convention(db: Database) -> None:
    first = _crawl(T0, {TEAM: ["jane.doe@acme.test", "john.smith@acme.test", "info@acme.test"]},
                   {"jane.doe@acme.test": "Jane Doe"})
    saved = await knowledge.save_crawl(db, first)
    assert saved.new_addresses == ("info@acme.test", "jane.doe@acme.test", "john.smith@acme.test")
    assert saved.learned == 2  # the role address teaches nothing
    assert saved.crawl.error is None and saved.crawl.pages == 2 and saved.crawl.addresses == 3
    company = await store.get_company(db, "acme.test")
    assert company is not None and company.name == "Acme Corp" and company.facts_fetched_at == T0
    assert await store.find_company_domain(db, "acme corp") == "acme.test"
    convention = await store.get_convention(db, "acme.test")
    assert convention is not None and convention.evidence == 2
    assert max(convention.distribution().items(), key=lambda kv: kv[1])[0] == "{first}.{last}"
    people = await knowledge.web_addresses(db, "acme.test")
    assert [(w.address, w.name) for w in people] == [("jane.doe@acme.test", "Jane Doe"), ("john.smith@acme.test", None)]
    assert len(await knowledge.web_addresses(db, "acme.test", people_only=False)) == 3

    # Read again ten days later: jane moved to the contact page, john is gone from the team page.
    second = await knowledge.save_crawl(db, _crawl(T1, {TEAM: ["jane.doe@acme.test"], CONTACT: ["jane.doe@acme.test"]}))
    assert second.new_addresses == () and second.learned == 0  # nothing learned twice
    assert (await store.get_convention(db, "acme.test")).evidence == 2  # type: ignore[union-attr]
    jane = await knowledge.get_web_address(db, "Jane.Doe@acme.test")
    assert jane is not None and jane.sources == (Source(TEAM, T0, T1, True), Source(CONTACT, T1, T1, True))
    john = await knowledge.get_web_address(db, "john.smith@acme.test")
    assert john is not None and john.sources == (Source(TEAM, T0, T0, False),) and not john.on_web
    assert await knowledge.evidence_by_source(db, "acme.test") == {"crawl": 2}


async def test_a_failed_crawl_is_recorded_without_touching_facts(db: Database) -> None:
    failed = CrawlResult("down.test", T0, T0, visits=[PageVisit("https://down.test/", error="timeout")])
    saved = await knowledge.save_crawl(db, failed)
    assert saved.crawl.error == "timeout"
    assert await store.get_company(db, "down.test") is None
    record = await knowledge.get_crawl(db, "down.test")
    assert record is not None
    assert not record.is_fresh(timedelta(days=7), retry_failed=timedelta(hours=1), now=T0 + timedelta(hours=2))
    assert record.is_fresh(timedelta(days=7), retry_failed=timedelta(hours=1), now=T0 + timedelta(minutes=30))


async def test_people_are_upserted_and_addresses_learned_once(db: Database) -> None:
    org = await store.create_org(db, "people-org")
    other = await store.create_org(db, "other-org")
    person = {"name": "Jane Doe", "domain": "acme.test", "linkedin_id": "jane-doe", "title": "CEO",
              "email": "jane.doe@acme.test"}
    first = await knowledge.save_people(db, org.id, [person, {"name": "John Smith", "domain": "acme.test"}])
    assert len(first.created) == 2 and first.updated == []
    again = await knowledge.save_people(db, org.id, [{"name": "Jane Q. Doe", "linkedin_id": "JANE-DOE",
                                                      "phone": "+33142685300"}])
    assert again.updated == [first.created[0]] and again.created == []  # same LinkedIn id, other spelling
    jane = await knowledge.find_by_linkedin(db, org.id, "jane-doe")
    assert jane is not None and jane.source == "import" and jane.title == "CEO" and jane.phone == "+33142685300"
    assert await knowledge.find_by_linkedin(db, other.id, "jane-doe") is None  # tenant-scoped
    assert (await knowledge.find_by_email(db, org.id, "JANE.DOE@acme.test")) == jane

    with_phone = await knowledge.people_at_domain(db, org.id, "acme.test", limit=5, phone_required=True)
    assert [c.name for c in with_phone] == ["Jane Q. Doe"]  # renamed, phone added, domain kept
    everyone = await knowledge.people_at_domain(db, org.id, "acme.test", limit=5)
    assert everyone[0].name == "Jane Q. Doe"  # with an address first

    learned = await knowledge.learn_people(db, "acme.test", {"jane.doe@acme.test": parse_name("Jane Doe")}, "import")
    assert learned == 1
    assert await knowledge.learn_people(db, "acme.test", {"jane.doe@acme.test": parse_name("Jane Doe")}, "import") == 0
    with pytest.raises(TypeError):
        await knowledge.save_people(db, org.id, [{"name": "X Y", "salary": "1"}])
    with pytest.raises(ValueError):
        await knowledge.save_people(db, org.id, [{"name": "X Y", "title": "evil\r\nheader"}])


async def test_finds_that_confirm_at_once_at_a_new_domain_each_teach_its_convention(db: Database) -> None:
    """Pipelined probes answer a domain's finds together: their first lessons race to create the
    domain's convention row (on PostgreSQL one insert loses), and every lesson is kept."""
    people = {f"{first}.{last}@racing.test": parse_name(f"{first} {last}")
              for first, last in [("ann", "lee"), ("bob", "ray"), ("cat", "poe"), ("dan", "fry"), ("eve", "orr")]}
    lessons = (knowledge.learn_people(db, "racing.test", {address: name}, "verify") for address, name in people.items())
    learned = await asyncio.gather(*lessons)
    assert learned == [1] * len(people)
    convention = await store.get_convention(db, "racing.test")
    assert convention is not None and convention.evidence == len(people)


async def test_found_contacts_are_charged_once_each_and_stop_when_credits_run_out(db: Database) -> None:
    org = await store.create_org(db, "found-org", credits={"search": 2})
    drafts = [{"name": f"Person {i}", "domain": "acme.test", "email": f"p{i}@acme.test", "score": 5, "source": "crawl"}
              for i in range(3)]
    created, ran_out = await knowledge.add_found_contacts(db, org.id, drafts)
    assert len(created) == 2 and ran_out
    assert await store.balance(db, org.id, CreditKind.SEARCH) == 0
    assert await knowledge.org_emails_at(db, org.id, "acme.test") == {"p0@acme.test", "p1@acme.test"}
