"""The crawler: pure extraction and history tests, then real crawls of websites served on loopback."""

from __future__ import annotations

import gzip
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio

from mailsleuth.config import Settings
from mailsleuth.engine.crawl import (
    CrawlResult,
    PageVisit,
    Skip,
    Source,
    crawl_domain,
    decode_html,
    extract_page,
    find_addresses,
    learn_from_crawl,
    merge_sources,
)
from mailsleuth.engine.domains import InvalidDomain
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.patterns import Convention, candidates
from mailsleuth.engine.egress import is_public_address
from tests.webworld import Response, WebWorld, html, huge, plain, raw, redirect

PUBLIC_STAND_IN = "127.0.0.2"  # the web world's main address, treated as public where a test says so
INTERNAL = "10.255.0.7"  # an internal address nothing serves: the crawler must never try to connect

# --- pure: addresses and obfuscations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mail jane.doe@acme.test.", ["jane.doe@acme.test"]),
        ("jane [at] acme [dot] test", ["jane@acme.test"]),
        ("jane(at)acme(dot)test", ["jane@acme.test"]),
        ("jane {at} acme {dot} test", ["jane@acme.test"]),
        ("jane (@) acme (.) test", ["jane@acme.test"]),
        ("jane at acme dot test", ["jane@acme.test"]),
        ("JANE AT ACME DOT TEST", ["jane@acme.test"]),
        ("write to jane at mail dot acme dot test", ["jane@mail.acme.test"]),
        ("Jane.Doe@Acme.Test", ["jane.doe@acme.test"]),
        ("ops@eu.acme.test", ["ops@eu.acme.test"]),
    ],
)
def test_addresses_and_obfuscations_are_read(text: str, expected: list[str]) -> None:
    assert find_addresses(text, "acme.test") == expected


@pytest.mark.parametrize(
    "text",
    [
        "Find us at acme dot test",  # prose, not an address
        "meet jane at the office dot test",  # the words spell some other domain
        "jane at acme.test",  # bare "at" without "dot": too ambiguous in prose
        "jane@acme.test.evil.example",  # the crawled domain as a prefix of another one
        "jane@notacme.test",
        "bob@partner.test",
        "jane..doe@acme.test",  # invalid syntax
    ],
)
def test_ambiguous_off_domain_and_invalid_text_yields_nothing(text: str) -> None:
    assert find_addresses(text, "acme.test") == []


def test_entities_and_mailto_encodings_are_decoded() -> None:
    page = (
        "<p>&#106;&#97;&#110;&#101;&#64;&#97;cme.test</p>"
        '<a href="mailto:press%40acme.test?subject=Hello">press</a>'
        '<a href="MAILTO:Ada Lovelace &lt;ada@acme.test&gt;, bob@partner.test">write</a>'
    )
    extract = extract_page(page, "http://acme.test/", "acme.test")
    assert extract.addresses == {"jane@acme.test", "press@acme.test", "ada@acme.test"}


def test_names_come_from_the_card_row_or_link_around_a_single_address() -> None:
    page = """
    <ul>
      <li class="card"><h3>Jane Doe</h3><p>CEO</p><a href="mailto:jane.doe@acme.test">Email</a></li>
      <li>John Smith – jsmith@acme.test</li>
    </ul>
    <table><tr><td>Grace Hopper</td><td>ghopper [at] acme [dot] test</td></tr></table>
    <div itemscope><span itemprop="name">Alan Turing</span> <span>alan(at)acme(dot)test</span></div>
    <p><a href="mailto:kt@acme.test">Ken Thompson</a></p>
    """
    names = extract_page(page, "http://acme.test/team", "acme.test").names
    assert {address: name.full for address, name in names.items()} == {
        "jane.doe@acme.test": "Jane Doe",
        "jsmith@acme.test": "John Smith",
        "ghopper@acme.test": "Grace Hopper",
        "alan@acme.test": "Alan Turing",
        "kt@acme.test": "Ken Thompson",
    }


def test_no_name_when_the_markup_does_not_make_it_clear() -> None:
    page = """
    <div class="card"><h3>Jane Doe</h3>jane@acme.test, john@acme.test</div>
    <li class="card"><h3>Sales Team</h3>sales@acme.test</li>
    <li class="card"><h3>Mary Jones</h3>info@acme.test</li>
    <li><h3>Our Offices</h3>berlin.office@acme.test</li>
    <p>Mary Jones is great. Also: zed@acme.test</p>
    """
    extract = extract_page(page, "http://acme.test/", "acme.test")
    assert "info@acme.test" in extract.addresses and "berlin.office@acme.test" in extract.addresses
    assert extract.names == {}  # two addresses in one card, roles, headings that are no one's name


def test_company_facts() -> None:
    page = """<html><head><title>Welcome | Acme Corp</title>
    <meta name="Description" content="  Anvils   and rockets ">
    <meta name="keywords" content="anvils, rockets,, coyotes">
    <meta property="og:image" content="/og.png"><link rel="icon" href="/favicon.ico">
    <link rel="apple-touch-icon" href="https://cdn.acme.test/touch.png">
    <link rel="canonical" href="/en/"></head><body></body></html>"""
    facts = extract_page(page, "https://www.acme.test/", "acme.test").facts
    assert facts.name == "Acme Corp"
    assert facts.title == "Welcome | Acme Corp"
    assert facts.description == "Anvils and rockets"
    assert facts.keywords == ("anvils", "rockets", "coyotes")
    assert facts.logo == "https://cdn.acme.test/touch.png"
    assert facts.canonical_url == "https://www.acme.test/en/"
    with_site_name = page.replace("<title>", '<meta property="og:site_name" content="ACME Inc."><title>')
    assert extract_page(with_site_name, "https://www.acme.test/", "acme.test").facts.name == "ACME Inc."
    no_icons = '<head><title>Widgets - Acme</title><meta property="og:image" content="/og.png"></head>'
    facts = extract_page(no_icons, "https://acme.test/x/", "acme.test").facts
    assert (facts.name, facts.logo) == ("Acme", "https://acme.test/og.png")


def test_links_worth_following() -> None:
    page = """<a href="/team/">x</a><a href="/about-us">About</a><a href="/p?id=7">Contact us</a>
    <a href="/products">Products</a><a href="/contact.pdf">Contact (PDF)</a><a href="javascript:void(0)">team</a>
    <a href="tel:+4930123">Contact</a><a href="/team/#jane">Team</a>"""
    links = extract_page(page, "https://acme.test/", "acme.test").links
    assert links == {"https://acme.test/team/": 3, "https://acme.test/about-us": 1, "https://acme.test/p?id=7": 3}


@pytest.mark.parametrize(
    ("body", "declared", "expected"),
    [
        ("Zoë Müller".encode("cp1252"), "windows-1252", "Zoë Müller"),
        ("Новости".encode("koi8_r"), "koi8-r", "Новости"),  # a declared charset wins over any guess
        ('<meta charset="iso-8859-15">Prix 5€'.encode("iso-8859-15"), None, '<meta charset="iso-8859-15">Prix 5€'),
        ("“quoted”".encode("cp1252"), "iso-8859-1", "“quoted”"),  # latin-1 labels mean windows-1252
        ("Zoë".encode() + b"\xff", "utf-8", "Zoë\ufffd"),  # a lying charset does not crash
        ("Zoë Müller".encode("cp1252"), None, "Zoë Müller"),  # undeclared, not UTF-8: windows-1252
        ("\ufeffZoë".encode(), "windows-1252", "Zoë"),  # the BOM wins
        ("Zoë".encode(), "no-such-charset", "Zoë"),
    ],
)
def test_decode_html(body: bytes, declared: str | None, expected: str) -> None:
    assert decode_html(body, declared) == expected


# --- pure: history and learning ------------------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=30)


def test_merge_sources_keeps_history() -> None:
    old = {
        "jane@acme.test": [Source("https://acme.test/team", T0, T0)],
        "gone@acme.test": [Source("https://acme.test/team", T0, T0), Source("https://acme.test/old", T0, T0)],
    }
    new = {
        "jane@acme.test": [Source("https://acme.test/team", T1, T1), Source("https://acme.test/press", T1, T1)],
        "new@acme.test": [Source("https://acme.test/team", T1, T1)],
    }
    merged = merge_sources(old, new, visited={"https://acme.test/team", "https://acme.test/press"})
    assert merged["jane@acme.test"] == [
        Source("https://acme.test/team", T0, T1, True),
        Source("https://acme.test/press", T1, T1, True),
    ]
    assert merged["new@acme.test"] == [Source("https://acme.test/team", T1, T1, True)]
    # Gone from a page that was read again; untouched where the page was not read this time.
    assert merged["gone@acme.test"] == [
        Source("https://acme.test/old", T0, T0, True),
        Source("https://acme.test/team", T0, T0, False),
    ]
    back = merge_sources(merged, {"gone@acme.test": [Source("https://acme.test/team", T1, T1)]}, visited=set())
    assert back["gone@acme.test"][1] == Source("https://acme.test/team", T0, T1, True)


def _result(names: dict[str, str | None], domain: str = "acme.test") -> CrawlResult:
    result = CrawlResult(domain, T0, T0)
    for address, name in names.items():
        result.sources[address] = [Source(f"https://{domain}/team", T0, T0)]
        if name:
            result.names[address] = parse_name(name)
    result.roles = {a for a in names if a.split("@")[0] in ("info", "sales")}
    return result


def test_learning_uses_names_and_skips_roles_and_subdomains() -> None:
    result = _result({
        "jdoe@acme.test": "Jane Doe",
        "bsmith@acme.test": "Bob Smith",
        "mgarcia@acme.test": None,  # read with the first-name lexicon
        "info@acme.test": None,
        "sales@acme.test": None,
        "x.y@eu.acme.test": "Xavier Young",
    })
    result.roles = {"info@acme.test", "sales@acme.test"}
    convention = Convention()
    assert learn_from_crawl(result, convention) == 3
    assert convention.evidence == 3
    ranked = candidates(parse_name("Ada Lovelace"), convention.distribution())
    assert ranked[0].local == "alovelace"
    assert candidates(parse_name("Ada Lovelace"))[0].local != "alovelace"  # the prior alone guessed otherwise


def test_learning_falls_back_to_the_bare_local_part_when_the_name_does_not_render_it() -> None:
    convention = Convention()
    assert learn_from_crawl(_result({"mary.jones@acme.test": "Jane Doe"}), convention) == 1
    assert convention.evidence == 1


# --- the web world -------------------------------------------------------------------------------


def _acme(port: int) -> dict[str, Response]:
    base = f"http://acme.test:{port}"
    return {
        "/": html(f"""<html><head><title>Acme Corp | Home</title>
            <meta name="description" content="Anvils since 1949."><meta name="keywords" content="anvils, rockets">
            <link rel="icon" href="/favicon.ico"><link rel="canonical" href="{base}/"></head><body>
            <nav><a href="/team">Our team</a> <a href="/contact">Contact</a> <a href="/about">About us</a>
            <a href="/products">Products</a> <a href="/private/staff">Staff directory</a>
            <a href="http://other.test:{port}/contact">Partner contact</a></nav>
            <p>General enquiries: info@acme.test. Our partner: <a href="mailto:bob@partner.test">Bob</a></p>
            </body></html>"""),
        "/robots.txt": plain(f"User-agent: *\nDisallow: /private/\n\nSitemap: {base}/sitemap_index.xml\n"),
        "/sitemap_index.xml": raw(
            f"<?xml version='1.0'?><sitemapindex><sitemap><loc>{base}/sitemap-pages.xml</loc></sitemap>"
            "</sitemapindex>".encode(), "application/xml"),
        "/sitemap-pages.xml": raw(
            f"<?xml version='1.0'?><urlset><url><loc>{base}/press</loc></url><url><loc>{base}/impressum</loc></url>"
            f"<url><loc>{base}/products/widget</loc></url></urlset>".encode(), "application/xml"),
        "/team": html("""<html><body><h1>Leadership</h1><ul>
            <li class="card"><h3>Jane Doe</h3><p>CEO</p><a href="mailto:jane.doe@acme.test">Email</a></li>
            <li class="card"><h3>John Smith</h3><p>CTO</p><a href="mailto:john.smith@acme.test">Email</a></li>
            </ul><table><tr><th>Name</th><th>Email</th></tr>
            <tr><td>Grace Hopper</td><td>grace.hopper [at] acme [dot] test</td></tr></table>
            <div class="h-card"><span class="p-name">Alan Turing</span> alan.turing(at)acme(dot)test</div>
            </body></html>"""),
        "/contact": html("""<html><body><h1>Contact</h1>
            <p>Sales: sales(at)acme(dot)test. Press: <a href="mailto:press%40acme.test?subject=Hi">press office</a>.</p>
            <p>Accounts: &#109;&#97;&#114;&#121;&#46;&#106;&#111;&#110;&#101;&#115;&#64;acme.test</p>
            <p>Engineering: write to ken.thompson at acme dot test. EU support: support@eu.acme.test</p>
            <p>Our lawyer: someone@gmail.com</p></body></html>"""),
        "/about": raw(
            '<html><head><meta charset="iso-8859-1"></head><body><h1>Über uns</h1><ul>'
            '<li>Zoë Noël, <a href="mailto:zoe.noel@acme.test">email</a></li></ul></body></html>'.encode("latin-1"),
            "text/html"),
        "/private/staff": html("<p>secret.agent@acme.test</p>"),
        "/press": raw(b"<h1>Caf\xe9 news</h1><ul><li><b>Linus Torvalds</b> - linus.torvalds@acme.test</li></ul>",
                      "text/html; charset=utf-8"),  # lies about its charset
        "/impressum": html('<p>Geschäftsführer: <a href="mailto:jose.mueller@acme.test">José Müller</a></p>',
                           "windows-1252"),
        "/products/widget": html("<p>widget@acme.test</p>"),
    }


@pytest.fixture(scope="module")
def web() -> Iterator[WebWorld]:
    world = WebWorld((PUBLIC_STAND_IN, "127.0.0.1"))
    with world:
        port = world.port
        world.add_site("acme.test", _acme(port))
        world.add_site("other.test", {"/contact": html("<p>x@other.test, y@acme.test</p>")})
        world.add_site("loop.test", {"/": redirect("/a"), "/a": redirect(f"http://loop.test:{port}/b"), "/b": redirect("/")})
        world.add_site("chain.test", {"/": redirect("/1"), **{f"/{i}": redirect(f"/{i + 1}") for i in range(1, 10)}})
        world.add_site("redirect.test", {
            "/": html('<p>dana.scully@redirect.test</p><a href="/contact">Contact</a>'),
            "/contact": redirect(f"http://127.0.0.1:{port}/contact"),
        })
        world.add_site("127.0.0.1", {"/contact": html("<p>fox.mulder@redirect.test</p>")}, address="127.0.0.1")
        world.add_site("internal.test", {
            "/": html('<p>walter.skinner@internal.test</p><a href="/team">Team</a>'),
            "/team": redirect(f"http://intranet.internal.test:{port}/team"),
        })
        world.alias("intranet.internal.test", INTERNAL)
        world.alias("private.test", INTERNAL)
        world.add_site("big.test", {
            "/": html('<a href="/contact">Contact</a><a href="/team">Team</a>'),
            "/contact": huge(50_000_000, "<html><body><p>first.person@big.test</p>",
                             "<p>last.person@big.test</p></body></html>"),
            "/team": raw(gzip.compress(b"<p>gz.person@big.test</p>" + b" " * 20_000_000, 1), "text/html",
                         **{"Content-Encoding": "gzip"}),
        })
        world.add_site("budget.test", {
            "/": html("".join(f'<a href="/team/{i}">Team member {i}</a>' for i in range(30))),
            **{f"/team/{i}": html(f"<p>person{i}@budget.test</p>") for i in range(30)},
        })
        world.add_site("slow.test", {
            "/": html('<p>fast.page@slow.test</p><a href="/contact">Contact</a>'),
            "/contact": Response(_drip, 1000, 200, {"Content-Type": "text/html"}),
        })
        world.add_site("www.moved.test", {"/": html("<p>lisa.simpson@moved.test</p>")})
        world.add_site("moved.test", {"/": redirect("/home"), "/home": redirect(f"http://www.moved.test:{port}/")})
        yield world


def _drip() -> Iterator[bytes]:
    for _ in range(100):
        yield b"<p>"
        time.sleep(0.1)


def _settings(allow_private: bool = True) -> Settings:
    return Settings(allow_private_networks=allow_private, helo_name="crawler.test")


async def _crawl(web: WebWorld, domain: str, *, allow_private: bool = True, **options: object) -> CrawlResult:
    return await crawl_domain(domain, settings=_settings(allow_private), scheme="http", port=web.port,
                              resolve=web.resolve, timeout=options.pop("timeout", 3.0), **options)  # type: ignore[arg-type]


@pytest_asyncio.fixture(scope="module")
async def acme(web: WebWorld) -> AsyncIterator[CrawlResult]:
    yield await _crawl(web, "acme.test")


PEOPLE = {
    "jane.doe@acme.test": "Jane Doe",
    "john.smith@acme.test": "John Smith",
    "grace.hopper@acme.test": "Grace Hopper",
    "alan.turing@acme.test": "Alan Turing",
    "zoe.noel@acme.test": "Zoë Noël",
    "linus.torvalds@acme.test": "Linus Torvalds",
    "jose.mueller@acme.test": "José Müller",
    "mary.jones@acme.test": None,
    "ken.thompson@acme.test": None,
}
ROLES = {"info@acme.test", "sales@acme.test", "press@acme.test", "support@eu.acme.test"}


async def test_crawl_finds_people_roles_and_names(acme: CrawlResult) -> None:
    assert set(acme.sources) == set(PEOPLE) | ROLES
    assert acme.roles == ROLES
    assert set(acme.people) == set(PEOPLE)
    assert {a: n.full for a, n in acme.names.items()} == {a: n for a, n in PEOPLE.items() if n}


async def test_crawl_respects_robots_scope_and_interest(acme: CrawlResult, web: WebWorld) -> None:
    assert web.hits("acme.test", "/private/staff") == 0
    assert "secret.agent@acme.test" not in acme.sources
    assert any(v.url.endswith("/private/staff") and v.error == Skip.ROBOTS for v in acme.visits)
    assert web.hits("other.test") == 0  # off-site link never followed
    assert web.hits("acme.test", "/products") == 0 and web.hits("acme.test", "/products/widget") == 0
    assert web.hits("acme.test", "/press") == 1 and web.hits("acme.test", "/impressum") == 1  # via the sitemap
    assert "bob@partner.test" not in acme.sources and "someone@gmail.com" not in acme.sources


async def test_crawl_records_sources_and_facts(acme: CrawlResult, web: WebWorld) -> None:
    base = f"http://acme.test:{web.port}"
    assert [s.uri for s in acme.sources["jane.doe@acme.test"]] == [f"{base}/team"]
    assert [s.uri for s in acme.sources["info@acme.test"]] == [f"{base}/"]
    source = acme.sources["jose.mueller@acme.test"][0]
    assert source.still_on_page and acme.started_at <= source.extracted_on == source.last_seen_on <= acme.finished_at
    assert acme.facts.name == "Acme Corp" and acme.facts.title == "Acme Corp | Home"
    assert acme.facts.description == "Anvils since 1949." and acme.facts.keywords == ("anvils", "rockets")
    assert acme.facts.logo == f"{base}/favicon.ico" and acme.facts.canonical_url == f"{base}/"
    assert f"{base}/team" in acme.visited and f"{base}/private/staff" not in acme.visited


async def test_recrawl_merges_history(acme: CrawlResult, web: WebWorld) -> None:
    later = datetime.now(UTC) + timedelta(days=7)
    stored = {**acme.sources, "left@acme.test": [Source(f"http://acme.test:{web.port}/team", T0, T0)]}
    again = await _crawl(web, "acme.test", clock=lambda: later)
    merged = merge_sources(stored, again.sources, visited=again.visited)
    jane = merged["jane.doe@acme.test"][0]
    assert jane.extracted_on == acme.sources["jane.doe@acme.test"][0].extracted_on and jane.last_seen_on == later
    assert merged["left@acme.test"][0].still_on_page is False


async def test_learning_from_a_crawl(acme: CrawlResult) -> None:
    convention = Convention()
    assert learn_from_crawl(acme, convention) == len(PEOPLE)
    assert candidates(parse_name("Ada Lovelace"), convention.distribution())[0].local == "ada.lovelace"


async def test_redirect_loops_and_chains_stop(web: WebWorld) -> None:
    loop = await _crawl(web, "loop.test")
    assert [v.error for v in loop.visits] == [Skip.LOOP] and loop.sources == {}
    assert web.hits("loop.test") - web.hits("loop.test", "/robots.txt") == 3
    chain = await _crawl(web, "chain.test")
    assert [v.error for v in chain.visits] == [Skip.TOO_MANY_REDIRECTS]
    assert web.hits("chain.test", "/6") == 0 and web.hits("chain.test", "/5") == 1


async def test_redirects_to_another_host_are_followed(web: WebWorld) -> None:
    moved = await _crawl(web, "moved.test")
    assert list(moved.sources) == ["lisa.simpson@moved.test"]
    assert moved.visits[0].final_url == f"http://www.moved.test:{web.port}/"


def _visit(result: CrawlResult, path: str) -> PageVisit:
    visits = [v for v in result.visits if v.url.endswith(path)]
    assert len(visits) == 1, result.visits
    return visits[0]


def _public_except_loopback_stand_in(ip: str) -> bool:
    return ip == PUBLIC_STAND_IN or is_public_address(ip)


async def test_redirect_to_loopback_is_refused_before_connecting(web: WebWorld) -> None:
    result = await _crawl(web, "redirect.test", allow_private=False, is_public=_public_except_loopback_stand_in)
    assert list(result.sources) == ["dana.scully@redirect.test"]
    contact = _visit(result, "/contact")
    assert contact.error == Skip.PRIVATE and contact.final_url == f"http://127.0.0.1:{web.port}/contact"
    assert web.hits("127.0.0.1") == 0


async def test_the_same_redirect_is_followed_when_private_networks_are_allowed(web: WebWorld) -> None:
    result = await _crawl(web, "redirect.test", allow_private=True)  # proves the test above can fail
    assert "fox.mulder@redirect.test" in result.sources and web.hits("127.0.0.1", "/contact") >= 1


async def test_redirect_to_an_internal_address_is_refused(web: WebWorld) -> None:
    result = await _crawl(web, "internal.test", allow_private=False, is_public=_public_except_loopback_stand_in)
    team = _visit(result, "/team")
    assert team.error == Skip.PRIVATE and INTERNAL in team.detail


async def test_private_sites_are_refused_by_default(web: WebWorld) -> None:
    web.reset_counts()
    result = await _crawl(web, "redirect.test", allow_private=False)
    assert [v.error for v in result.visits] == [Skip.PRIVATE] and web.hits("redirect.test") == 0
    internal = await _crawl(web, "private.test", allow_private=False)
    assert [v.error for v in internal.visits] == [Skip.PRIVATE]
    unknown = await _crawl(web, "nowhere.test")
    assert [v.error for v in unknown.visits] == [Skip.NOT_FOUND]


async def test_a_50_mb_page_is_read_only_up_to_the_limit(web: WebWorld) -> None:
    limit = 1_000_000
    tracemalloc.start()
    try:
        result = await _crawl(web, "big.test", max_page_bytes=limit)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    contact = _visit(result, "/contact")
    assert contact.truncated and contact.bytes_read == limit and contact.error is None
    assert "first.person@big.test" in result.sources and "last.person@big.test" not in result.sources
    assert web.sent("big.test", "/contact") < 20_000_000  # socket buffers, not the 50 MB
    assert peak < 20 * limit
    team = _visit(result, "/team")  # a gzip bomb: 20 MB from ~20 kB
    assert team.truncated and team.bytes_read == limit and "gz.person@big.test" in result.sources


async def test_page_budget_caps_requests(web: WebWorld) -> None:
    result = await _crawl(web, "budget.test", page_budget=5)
    requests = web.hits("budget.test") - web.hits("budget.test", "/robots.txt")
    assert requests == 5 == len(result.visits)  # homepage, /sitemap.xml (404), three team pages
    assert len(result.sources) == 3


async def test_a_slow_page_times_out_without_losing_the_rest(web: WebWorld) -> None:
    result = await _crawl(web, "slow.test", timeout=0.5)
    assert list(result.sources) == ["fast.page@slow.test"]
    assert _visit(result, "/contact").error == Skip.TIMEOUT


async def test_bad_arguments_are_refused() -> None:
    with pytest.raises(InvalidDomain):
        await crawl_domain("http://exa mple/", settings=_settings())
    with pytest.raises(ValueError, match="scheme"):
        await crawl_domain("acme.test", settings=_settings(), scheme="ftp")
    with pytest.raises(ValueError, match="control"):
        await crawl_domain("acme.test", settings=_settings(), user_agent="x\r\nHost: evil")


async def test_a_site_only_on_http_is_read_after_https_fails(web: WebWorld) -> None:
    """The default scheme tries https first; the plain-http server refuses the TLS handshake."""
    result = await crawl_domain("redirect.test", settings=_settings(), port=web.port, resolve=web.resolve, timeout=3.0)
    assert [v.url for v in result.visits[:2]] == [f"https://redirect.test:{web.port}/", f"http://redirect.test:{web.port}/"]
    assert result.visits[0].error == Skip.NETWORK and result.home == result.visits[1]
    assert "dana.scully@redirect.test" in result.sources
    plain = await crawl_domain("redirect.test", settings=_settings(), scheme="http", port=web.port,
                               resolve=web.resolve, timeout=3.0)
    assert plain.visits[0].url.startswith("http://")  # an explicit http crawl tries nothing else
