"""The find service against real loopback worlds: websites read before the wire, company names at
country endings, concurrent finds at one domain, and whose knowledge a find may use."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.results import Verdict
from mailsleuth.engine.verify import Verifier
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.finding import Finding
from mailsleuth.service.people import parse_people_records, store_people
from mailsleuth.store import Database
from tests import postgres
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.postgres import BACKENDS
from tests.webworld import WebWorld, html

WEB_ADDRESS = "127.0.0.2"
# quillworks.test writes {last}{f}, a convention the prior ranks 8th; its team page shows two people.
QUILL_STAFF = {"quillz": "Zed Quill", "marsha": "Ann Marsh"}
QUILL_PEOPLE = {*QUILL_STAFF, "pikeb", "rowee", "stonec", "vanced", "wolfef", "youngg", "zaneh"}


def _cards(staff: dict[str, str], domain: str) -> str:
    return "".join(f'<li class="card"><h3>{n}</h3><a href="mailto:{loc}@{domain}">Email</a></li>' for loc, n in staff.items())


@pytest.fixture(scope="module")
def web() -> Iterator[WebWorld]:
    with WebWorld((WEB_ADDRESS, "127.0.0.1")) as world:
        world.add_site("quillworks.test", {
            "/": html("<title>Quillworks</title><a href='/team'>Team</a>"),
            "/team": html(f"<ul>{_cards(QUILL_STAFF, 'quillworks.test')}</ul>"),
        })
        world.add_site("open-all.test", {  # catch-all: only the website can say {f}{last}
            "/": html("<title>Open All</title><a href='/about'>About us</a>"),
            "/about": html(f"<ul>{_cards({'jdoe': 'Jane Doe', 'bsmith': 'Bob Smith', 'mlee': 'Mia Lee'}, 'open-all.test')}</ul>"),
        })
        world.add_site("ravenridge.de", {"/": html("<title>Ravenridge AG - Präzision seit 1921</title>")})
        world.add_site("ravenridge.com", {"/": html("<title>This domain may be for sale</title>")})
        yield world


@pytest.fixture(scope="module")
def mail() -> Iterator[MailWorld]:
    world = MailWorld(first_ip="127.0.12.1")
    world.add_domain("quillworks.test", behaviour=Behaviour(mailboxes=QUILL_PEOPLE))
    world.add_domain("open-all.test", behaviour=Behaviour(catch_all=True))
    world.add_domain("ravenridge.de", behaviour=Behaviour(mailboxes={"petra.klein"}))
    world.add_domain("ravenridge.com", behaviour=Behaviour(catch_all=True))  # a parked lookalike
    world.add_domain("private.test", behaviour=Behaviour(mailboxes={"kim.oh", "lu.pan"}))
    for domain in ("quillworks.test", "open-all.test", "ravenridge.de", "ravenridge.com", "private.test"):
        world.dns.add(domain, "A", WEB_ADDRESS)
    with world:
        yield world


@pytest.fixture(scope="module")
def settings(web: WebWorld, mail: MailWorld) -> Settings:
    return mail.settings(crawl_scheme="http", crawl_port=web.port, crawl_timeout=5.0, company_tlds="com,de")


async def test_a_published_person_is_found_with_one_rcpt_and_its_source(
    db: Database, settings: Settings, verifier: Verifier, mail: MailWorld, web: WebWorld
) -> None:
    before = mail.stats("mx.quillworks.test").rcpt_count
    result = await Finding(db, settings, verifier).find(parse_name("Zed Quill"), "quillworks.test")
    assert (result.email, result.score, result.verdict) == ("quillz@quillworks.test", 100, Verdict.DELIVERABLE)
    assert result.sources == [web.url("quillworks.test", "/team")]
    assert result.candidates_tried == ["quillz@quillworks.test"] and result.rcpt_commands == 1
    assert mail.stats("mx.quillworks.test").rcpt_count - before == 2  # its RCPT plus the catch-all test


async def test_the_website_ranks_a_new_colleague_first_and_learning_needs_no_second_crawl(
    db: Database, settings: Settings, verifier: Verifier, web: WebWorld
) -> None:
    finding = Finding(db, settings, verifier)
    first = await finding.find(parse_name("Bea Pike"), "quillworks.test")
    assert (first.email, first.pattern, first.candidates_tried) == ("pikeb@quillworks.test", "{last}{f}", ["pikeb@quillworks.test"])
    hits = web.hits("quillworks.test", "/team")
    second = await Finding(db, settings, verifier).find(parse_name("Eli Rowe"), "quillworks.test")
    assert second.candidates_tried == ["rowee@quillworks.test"] and web.hits("quillworks.test", "/team") == hits
    convention = await store.get_convention(db, "quillworks.test")
    assert convention is not None and convention.evidence == 4  # two from the page, two verified finds


async def test_without_the_web_the_same_find_walks_the_catalogue(db: Database, settings: Settings, verifier: Verifier) -> None:
    result = await Finding(db, settings, verifier, web=False).find(parse_name("Cai Stone"), "quillworks.test")
    assert result.email == "stonec@quillworks.test" and len(result.candidates_tried) > 1
    assert await store.get_company(db, "quillworks.test") is None  # nothing was crawled


async def test_a_catch_all_guess_follows_the_websites_convention_with_a_calibrated_confidence(
    db: Database, settings: Settings, verifier: Verifier
) -> None:
    result = await Finding(db, settings, verifier).find(parse_name("Tom Wright"), "open-all.test")
    assert (result.email, result.verdict, result.reason, result.pattern) == (
        "twright@open-all.test", Verdict.RISKY, "catch_all", "{f}{last}"
    )
    assert result.score == 80 and result.confidence is not None and 85 <= result.confidence <= 95
    bare = await Finding(db, settings, verifier, web=False).find(parse_name("Tom Wright"), "private.test", smtp=False)
    assert bare.email == "tom.wright@private.test"  # the prior alone: first.last, about a third of companies
    assert bare.confidence is not None and 30 <= bare.confidence <= 40


async def test_a_company_name_is_located_at_its_country_ending(db: Database, settings: Settings, verifier: Verifier) -> None:
    finding = Finding(db, settings, verifier)
    result = await finding.find(parse_name("Petra Klein"), None, "Ravenridge AG")
    assert (result.domain, result.email, result.score) == ("ravenridge.de", "petra.klein@ravenridge.de", 100)
    assert await store.find_company_domain(db, "Ravenridge AG") == "ravenridge.de"  # cached for next time
    with pytest.raises(ServiceError) as missing:
        await finding.find(parse_name("Petra Klein"), None, "Nowhere Widgets")
    assert missing.value.field == "company" and "Nowhere Widgets" in missing.value.message


@pytest.fixture(params=BACKENDS)
async def any_db(request: pytest.FixtureRequest, db: Database, postgres_session_url: str) -> AsyncIterator[Database]:
    """The test's SQLite store, and PostgreSQL too when MAILSLEUTH_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield db
        return
    await postgres.empty(postgres_session_url)
    database = Database(postgres_session_url)
    yield database
    await database.dispose()


async def test_concurrent_finds_at_one_domain_keep_every_observation(
    any_db: Database, settings: Settings, verifier: Verifier
) -> None:
    """Each find is its own Finding (as separate requests or workers are): all merge into one row."""
    db = any_db
    people = ["Dee Vance", "Fay Wolfe", "Gus Young", "Hal Zane"]
    await Finding(db, settings, verifier).find(parse_name("Zed Quill"), "quillworks.test")  # crawl once first
    before = (await store.get_convention(db, "quillworks.test")).evidence  # type: ignore[union-attr]
    results = await asyncio.gather(*(Finding(db, settings, verifier).find(parse_name(p), "quillworks.test") for p in people))
    assert [r.verdict for r in results] == [Verdict.DELIVERABLE] * 4
    after = await store.get_convention(db, "quillworks.test")
    assert after is not None and after.evidence == before + 4


async def test_imported_people_inform_only_their_own_organisations_finds(
    db: Database, settings: Settings, verifier: Verifier, mail: MailWorld
) -> None:
    """private.test writes {first}.{last}; org A imported one such address, org B knows nothing."""
    org_a = (await store.create_org(db, "org-a")).id
    org_b = (await store.create_org(db, "org-b")).id
    await store_people(db, org_a, parse_people_records([{"name": "Kim Oh", "email": "kim.oh@private.test"}]))
    assert await store.get_convention(db, "private.test") is None  # nothing shared
    mine = await Finding(db, settings, verifier, org_a, web=False).find(parse_name("Lu Pan"), "private.test", smtp=False)
    theirs = await Finding(db, settings, verifier, org_b, web=False).find(parse_name("Lu Pan"), "private.test", smtp=False)
    assert mine.email == theirs.email == "lu.pan@private.test"  # first.last is also the prior's best
    assert mine.confidence is not None and theirs.confidence is not None and mine.confidence > theirs.confidence
    assert 30 <= theirs.confidence <= 40  # the prior alone
