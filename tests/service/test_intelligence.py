"""Domain intelligence: pure helpers, then crawl -> store -> learn -> find against real loopback worlds.

The worlds: company websites (tests/webworld) whose host names resolve through the mail world's DNS
server, exactly as in production (A records next to the MX records), and strict SMTP servers that
know each company's real mailboxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from mailsleuth.service import companies, crawling, intelligence

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine.crawl import CompanyFacts
from mailsleuth.engine.dns import Resolver
from mailsleuth.engine.find import Finder
from mailsleuth.service.errors import NotFound, PaymentRequired
from mailsleuth.service.finding import Finding
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.patterns import Convention
from mailsleuth.service.people import parse_people_records, store_people
from mailsleuth.store import CreditKind, Database
from mailsleuth.store import intelligence as knowledge
from mailsleuth.engine.verify import Verifier
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.webworld import WebWorld, html

WEB_ADDRESS = "127.0.0.2"

# --- pure ----------------------------------------------------------------------------------------


def test_candidate_domains_drop_the_legal_form_first() -> None:
    assert companies.candidate_domains("Acme Corp", ["com", "io"]) == [
        "acme.com", "acmecorp.com", "acme-corp.com", "acme.io", "acmecorp.io", "acme-corp.io",
    ]
    assert companies.candidate_domains("Société Générale S.A.", ["fr"])[:2] == ["societegenerale.fr", "societegeneralesa.fr"]
    assert companies.candidate_domains("AT&T Inc.", ["com"])[0] == "att.com"
    with pytest.raises(companies.CompanyNotFound):
        companies.candidate_domains("!!!")


@pytest.mark.parametrize(
    ("name", "title", "expected"),
    [
        ("Acme Corp", "Welcome | Acme Corporation", True),
        ("Acme Corp", "ACME", True),
        ("Acme Widgets", "AcmeWidgets - home", True),
        ("Acme Widgets", "Acme Rockets", False),
        ("Go", "Google", False),  # a whole word, not a substring
        ("Acme", "Totally different", False),
    ],
)
def test_a_homepage_title_names_the_company(name: str, title: str, expected: bool) -> None:
    assert companies.name_matches_site(name, CompanyFacts(title=title)) is expected


def test_names_are_read_back_from_local_parts() -> None:
    assert intelligence.infer_name("jane.doe") == parse_name("Jane Doe")
    assert intelligence.infer_name("doe_jane") == parse_name("Jane Doe")
    assert intelligence.infer_name("johnsmith") == parse_name("John Smith")
    assert intelligence.infer_name("jsmith") is None  # an initial cannot be read back
    assert intelligence.infer_name("sales.team") is None  # "sales" is no given name
    learned = Convention()
    for name in ("Zorg Blat", "Quax Miro", "Vell Tharn"):
        parsed = parse_name(name)
        learned.observe(f"{parsed.last.lower()}.{parsed.first.lower()}", parsed)
    # a domain known to write {last}.{first}: unknown given names are read in that order
    assert intelligence.infer_name("tharn.vell", learned) == parse_name("Vell Tharn")


def test_web_scores() -> None:
    assert intelligence.web_score("deliverable") == 100
    assert intelligence.web_score("risky") == intelligence.web_score(None) == 5


# --- the worlds ----------------------------------------------------------------------------------

STAFF = {"jdoe": "Jane Doe", "asmith": "Adam Smith", "mgarcia": "Maria Garcia", "bjones": "Bob Jones"}


def _widgets_site() -> dict[str, object]:
    cards = "".join(
        f'<li class="card"><h3>{name}</h3><a href="mailto:{local}@widgets.test">Email</a></li>'
        for local, name in list(STAFF.items())[:3]
    )
    return {
        "/": html('<html><head><title>Widgets Inc | Home</title><meta name="description" content="Widgets for all">'
                  '</head><body><a href="/team">Our team</a><a href="/contact">Contact</a></body></html>'),
        "/team": html(f"<ul>{cards}</ul><p>Old timer: left.company@widgets.test</p>"),
        "/contact": html("<p>Write to info@widgets.test</p><table><tr><td>Bob Jones</td>"
                         "<td>bjones [at] widgets [dot] test</td></tr></table>"),
    }


@pytest.fixture(scope="module")
def web() -> Iterator[WebWorld]:
    with WebWorld((WEB_ADDRESS, "127.0.0.1")) as world:
        world.add_site("widgets.test", _widgets_site())
        world.add_site("catchy.test", {
            "/": html("<title>Catchy</title><a href='/team'>team</a>"),
            "/team": html("<li class='card'><h3>Carl Catch</h3>carl.catch@catchy.test</li>"),
        })
        world.add_site("gadgets.test", {"/": html("<title>Totally Different Ltd</title>")})
        yield world


@pytest.fixture(scope="module")
def mail() -> Iterator[MailWorld]:
    world = MailWorld(first_ip="127.0.7.1")
    world.add_domain("widgets.test", behaviour=Behaviour(mailboxes={*STAFF, "cwhite", "info", "dlee"}))
    world.add_domain("catchy.test", behaviour=Behaviour(mailboxes={"carl.catch"}, catch_all=True))
    world.add_domain("gadgets.test", behaviour=Behaviour())
    for domain in ("widgets.test", "catchy.test", "gadgets.test"):
        world.dns.add(domain, "A", WEB_ADDRESS)  # the website, served by the web world
    with world:
        yield world


@pytest.fixture(scope="module")
def settings(web: WebWorld, mail: MailWorld) -> Settings:
    return mail.settings(crawl_scheme="http", crawl_port=web.port, crawl_timeout=5.0)


async def _org(db: Database, credits: int = 10) -> int:
    return (await store.create_org(db, f"org-{id(db)}-{credits}", credits={"search": credits})).id


# --- crawl -> store -> learn -> find -------------------------------------------------------------


async def test_a_crawl_teaches_the_convention_so_a_new_person_is_the_first_candidate(
    db: Database, settings: Settings, verifier: Verifier, mail: MailWorld, web: WebWorld
) -> None:
    carol = parse_name("Carol White")
    before = await Finder(verifier).find(carol, "widgets.test")
    assert before.email == "cwhite@widgets.test" and before.candidates_tried[0] != before.email  # prior: carol.white

    record = await crawling.ensure_crawled(db, settings, "widgets.test", verifier=verifier)
    assert record.error is None and record.pages >= 3
    people = {w.address: w for w in await knowledge.web_addresses(db, "widgets.test")}
    assert set(people) == {f"{local}@widgets.test" for local in STAFF} | {"left.company@widgets.test"}
    assert people["bjones@widgets.test"].name == "Bob Jones"  # named in its table row, obfuscated address
    assert people["jdoe@widgets.test"].verdict == "deliverable"
    assert people["left.company@widgets.test"].verdict == "undeliverable"
    assert (await knowledge.get_web_address(db, "info@widgets.test")).role  # type: ignore[union-attr]
    assert [s["uri"] for s in await intelligence.sources_for(db, "jdoe@widgets.test")] == [web.url("widgets.test", "/team")]
    company = await store.get_company(db, "widgets.test")
    assert company is not None and company.name == "Widgets Inc" and company.description == "Widgets for all"

    convention = await store.get_convention(db, "widgets.test")
    assert convention is not None and convention.evidence >= 4
    rcpts = mail.stats("mx.widgets.test").rcpt_count
    after = await Finding(db, settings, verifier).find(parse_name("Dan Lee"), "widgets.test")
    assert after.email == "dlee@widgets.test" and after.score == 100
    assert after.candidates_tried == ["dlee@widgets.test"]  # the learned convention's first guess
    assert mail.stats("mx.widgets.test").rcpt_count - rcpts <= 2  # dlee plus at most the catch-all test
    learned = (await store.get_convention(db, "widgets.test")).evidence  # type: ignore[union-attr]
    assert learned == convention.evidence + 1  # the verified find taught the shared convention

    patterns = await intelligence.domain_patterns_all_evidence(Finding(db, settings, verifier), "widgets.test")
    assert patterns[0]["pattern"] == "{f}{last}@widgets.test" and sum(p["score"] for p in patterns) <= 1

    hits = web.hits("widgets.test", "/team")
    again = await crawling.ensure_crawled(db, settings, "widgets.test", verifier=verifier)
    assert again == record and web.hits("widgets.test", "/team") == hits  # cached: no second crawl
    assert (await store.get_convention(db, "widgets.test")).evidence == learned  # type: ignore[union-attr]


async def test_company_names_resolve_to_domains(db: Database, settings: Settings) -> None:
    resolver = Resolver.from_settings(settings)
    tlds = ("test",)
    assert await companies.resolve_company(db, settings, resolver, "Widgets Inc", tlds=tlds) == "widgets.test"
    assert await store.find_company_domain(db, "Widgets Inc") == "widgets.test"  # its facts are kept
    assert await companies.resolve_company(db, settings, resolver, "catchy.test") == "catchy.test"
    with pytest.raises(companies.CompanyNotFound) as not_found:
        await companies.resolve_company(db, settings, resolver, "Nowhere Corp", tlds=tlds)
    assert not_found.value.field == "company" and not_found.value.status == 400
    assert "nowhere.test" in not_found.value.message
    with pytest.raises(companies.CompanyNotFound):  # receives mail, but its homepage names someone else
        await companies.resolve_company(db, settings, resolver, "Gadgets", tlds=tlds)


async def test_domain_search_pages_known_and_web_people_with_scores(
    db: Database, settings: Settings, verifier: Verifier
) -> None:
    org = await _org(db)
    await store.create_contact(db, org, name="Dan Lee", domain="widgets.test", email="dlee@widgets.test", score=100,
                               verdict="deliverable")
    await crawling.ensure_crawled(db, settings, "widgets.test", verifier=verifier)
    await crawling.ensure_crawled(db, settings, "catchy.test", verifier=verifier)

    first = await intelligence.domain_search(db, org, "widgets.test", 1, per_page=3)
    assert first.total == 5 and first.has_next and first.credits_available  # dan + 4 staff (not the one who left)
    second = await intelligence.domain_search(db, org, "widgets.test", 2, per_page=3)
    assert second.total == 5 and not second.has_next and len(second.items) == 2
    everyone = {c.email: c for c in first.items + second.items}
    assert set(everyone) == {f"{local}@widgets.test" for local in STAFF} | {"dlee@widgets.test"}
    revealed = {c.email for c in everyone.values() if c.id in first.revealed}
    assert revealed == {f"{local}@widgets.test" for local in STAFF} and not second.revealed  # page 1 revealed them all
    assert not second.revealed_within(everyone["dlee@widgets.test"], timedelta(hours=1))
    assert second.revealed_within(everyone["jdoe@widgets.test"], timedelta(hours=1))  # revealed just before
    assert not second.revealed_within(everyone["jdoe@widgets.test"], timedelta(0))
    jane = everyone["jdoe@widgets.test"]
    assert (jane.name, jane.score, jane.source) == ("Jane Doe", 100, "crawl")
    assert jane.company is not None and jane.company.name == "Widgets Inc"
    assert await store.balance(db, org, CreditKind.SEARCH) == 6  # 4 new contacts, charged once

    catchy = await intelligence.domain_search(db, org, "catchy.test")
    assert [(c.email, c.score) for c in catchy.items] == [("carl.catch@catchy.test", 5)]  # catch-all: unverifiable

    broke = await _org(db, credits=0)
    with pytest.raises(PaymentRequired):
        await intelligence.domain_search(db, broke, "widgets.test")


async def test_kaspr_profiles_find_known_people_on_the_spot(db: Database, settings: Settings, verifier: Verifier) -> None:
    org = await _org(db)
    parsed = parse_people_records([
        {"full_name": "Carol White", "domain": "widgets.test", "linkedin": "https://www.linkedin.com/in/carol-white/",
         "phone": "+1 650-253-0000", "title": "CFO", "location": "Austin, TX, USA"},
    ])
    await store_people(db, org, parsed)
    profile = await intelligence.person_profile(db, org, "carol-white", "Carol White", Finding(db, settings, verifier))
    assert profile.contact.email == "cwhite@widgets.test" and profile.charged
    assert profile.contact.phone == "+16502530000" and profile.contact.title == "CFO"
    assert await store.balance(db, org, CreditKind.SEARCH) == 9
    again = await intelligence.person_profile(db, org, "CAROL-WHITE", "", Finding(db, settings, verifier))
    assert again.contact.id == profile.contact.id and not again.charged
    with pytest.raises(NotFound):
        await intelligence.person_profile(db, org, "nobody", "No Body", Finding(db, settings, verifier))
    with pytest.raises(NotFound):  # people are the organisation's own
        await intelligence.person_profile(db, await _org(db, 3), "carol-white", "Carol White", Finding(db, settings, verifier))

    employees = await intelligence.domain_employees(db, org, "widgets.test", limit=5, phone_required=True)
    assert [c.name for c in employees] == ["Carol White"]


async def test_enrichment_joins_verdict_person_and_company(db: Database, settings: Settings, verifier: Verifier) -> None:
    org = await _org(db)
    await crawling.ensure_crawled(db, settings, "widgets.test", verifier=verifier)
    await store_people(db, org, parse_people_records([
        {"name": "Dan Lee", "email": "dlee@widgets.test", "title": "CTO", "linkedin": "dan-lee"},
    ]))
    known = await intelligence.enrich(db, org, verifier, "dlee@widgets.test")
    assert known["verdict"] == "deliverable" and known["score"] == 100
    assert known["person"]["source"] == "contact" and known["person"]["title"] == "CTO"
    assert known["company"]["name"] == "Widgets Inc"
    from_web = await intelligence.enrich(db, org, verifier, "bjones@widgets.test")
    assert from_web["person"]["name"] == "Bob Jones" and from_web["person"]["source"] == "web"
    assert from_web["sources"] and from_web["sources"][0]["still_on_page"] is True
    inferred = await intelligence.enrich(db, org, verifier, "carl.catch@catchy.test")
    assert inferred["person"]["name"] == "Carl Catch" and inferred["person"]["source"] == "inferred"
    assert inferred["verdict"] == "risky" and inferred["score"] == 80  # catch-all, not seen on the web here
    role = await intelligence.enrich(db, org, verifier, "info@widgets.test")
    assert role["person"] is None
    flat = await intelligence.enrich_fields(db, org, await verifier.verify("dlee@widgets.test"))
    assert flat["full_name"] == "Dan Lee" and flat["linkedin_id"] == "dan-lee" and flat["company_name"] == "Widgets Inc"


async def test_employees_are_people_not_searches_that_found_nobody(db: Database) -> None:
    org = await _org(db)
    await store.create_contact(db, org, name="Never Found", domain="widgets.test", source="search")
    await store.create_contact(db, org, name="Dan Lee", domain="widgets.test", email="dlee@widgets.test", source="search")
    await store_people(db, org, parse_people_records([{"name": "Carol White", "domain": "widgets.test"}]))
    employees = await intelligence.domain_employees(db, org, "widgets.test", limit=10)
    assert [c.name for c in employees] == ["Dan Lee", "Carol White"]  # with an address first; no empty search
