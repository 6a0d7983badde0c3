"""The finder against the scripted mail world: ranked probes, best guesses and learning."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.domains import InvalidDomain
from mailsleuth.engine.evidence import KnownAddress, MemoryEvidence
from mailsleuth.engine.find import MAX_PROBES, Finder
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.patterns import PATTERNS, candidates, render
from mailsleuth.engine.results import Verdict
from mailsleuth.engine.verify import Verifier
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.webworld.companies import BlocklistingBehaviour


async def find(settings: Settings, name: str, domain: str, **options: object):
    async with Verifier(settings) as verifier:
        return await Finder(verifier).find(parse_name(name), domain, **options)


async def test_finds_and_verifies_an_existing_person(world_settings: Settings) -> None:
    result = await find(world_settings, "Maria Garcia", "acme.test")
    assert (result.email, result.score, result.verdict) == ("maria.garcia@acme.test", 100, Verdict.DELIVERABLE)
    assert result.pattern == "{first}.{last}"
    assert result.candidates_tried[-1] == "maria.garcia@acme.test"
    assert result.verification is not None and result.verification.smtp_code == 250


async def test_stops_at_the_first_accepted_candidate(mail_world: MailWorld, world_settings: Settings) -> None:
    """acme.test uses {first}.{last}; learned from one find, the next find needs one RCPT."""
    server = mail_world.server("mx.acme.test")
    async with Verifier(world_settings) as verifier:
        evidence = MemoryEvidence()
        finder = Finder(verifier, evidence)
        await finder.find(parse_name("Jane Doe"), "acme.test")
        for local in ("john.smith", "info"):  # more evidence for the convention
            (await evidence.gather("acme.test")).convention.observe(local, None)
        before = server.stats.rcpt_count
        result = await finder.find(parse_name("John Smith"), "acme.test")
    assert result.email == "john.smith@acme.test"
    assert result.candidates_tried == ["john.smith@acme.test"]
    assert server.stats.rcpt_count - before == 1  # catch-all status is cached, the top guess is right


async def test_nobody_accepted_is_not_found_not_undeliverable(world_settings: Settings) -> None:
    """An honest server refusing every candidate says nothing about the domain: not_found."""
    result = await find(world_settings, "Nobody Here", "acme.test")
    assert result.email is None and result.score is None
    assert result.verdict is Verdict.NOT_FOUND
    every = [f"{c.local}@acme.test" for c in candidates(parse_name("Nobody Here"))]
    assert result.candidates_tried == every[:MAX_PROBES] and result.rcpt_commands == len(every[:MAX_PROBES])
    assert result.reason == "no_candidate_accepted"


async def test_catch_all_domain_gives_the_best_guess_with_score_80(world_settings: Settings) -> None:
    result = await find(world_settings, "Jane Doe", "catchall.test")
    assert (result.email, result.score, result.verdict, result.reason) == (
        "jane.doe@catchall.test", 80, Verdict.RISKY, "catch_all"
    )
    assert result.candidates_tried == []  # nothing beyond the catch-all test is worth asking


@pytest.mark.parametrize(
    ("domain", "verdict", "reason"),
    [
        ("greylist.test", Verdict.UNKNOWN, "greylisted"),
        ("blocked.test", Verdict.UNKNOWN, "blocked"),
        ("dead.test", Verdict.UNKNOWN, "smtp_connect_failed"),
        ("servfail.test", Verdict.UNKNOWN, "dns_servfail"),
    ],
)
async def test_unverifiable_domains_give_a_best_guess(
    world_settings: Settings, domain: str, verdict: Verdict, reason: str
) -> None:
    result = await find(world_settings, "Gwen Unseen", domain)  # a name no other test probes (greylisting)
    assert (result.email, result.score, result.verdict, result.reason) == (f"gwen.unseen@{domain}", 80, verdict, reason)


@pytest.mark.parametrize("domain", ["nxdomain.test", "nullmx.test", "nomail.test"])
async def test_domains_that_take_no_mail_find_nothing(world_settings: Settings, domain: str) -> None:
    result = await find(world_settings, "Jane Doe", domain)
    assert result.email is None
    assert result.verdict is Verdict.UNDELIVERABLE


async def test_without_smtp_the_top_candidate_is_a_guess(mail_world: MailWorld, world_settings: Settings) -> None:
    server = mail_world.server("mx.acme.test")
    before = server.stats.connections
    result = await find(world_settings, "Jane Doe", "acme.test", smtp=False)
    assert (result.email, result.score, result.reason) == ("jane.doe@acme.test", 80, "smtp_skipped")
    assert server.stats.connections == before


async def test_bad_domain_is_refused(world_settings: Settings) -> None:
    with pytest.raises(InvalidDomain):
        await find(world_settings, "Jane Doe", "not a domain")


async def test_domain_given_as_url_is_normalised(world_settings: Settings) -> None:
    result = await find(world_settings, "Jane Doe", "https://www.acme.test/about")
    assert result.email == "jane.doe@acme.test"


# --- the whole catalogue, namesakes and blocking servers, each domain on a world of its own -------

CATALOGUE_PERSON = parse_name("Rachel Sophie Turner")


@pytest.fixture(scope="module")
def catalogue_world() -> Iterator[MailWorld]:
    """One honest domain per catalogue convention, each knowing only Rachel's mailbox; a {f}.{last}
    domain where Jane Smith is j.smith2 because John Smith had j.smith; a harvest-protected host."""
    world = MailWorld(first_ip="127.0.11.1")
    for index, pattern in enumerate(PATTERNS):
        local = render(pattern, CATALOGUE_PERSON.variants()[0])
        world.add_domain(f"p{index}.test", behaviour=Behaviour(mailboxes={local}))
    world.add_domain("smiths.test", behaviour=Behaviour(mailboxes={"j.smith", "j.smith2"}))
    world.add_domain("harvest.test", behaviour=BlocklistingBehaviour(mailboxes={"zed.quill"}, block_after=3))
    with world:
        yield world


@pytest.mark.parametrize(("index", "pattern"), list(enumerate(PATTERNS)))
async def test_every_catalogue_convention_is_found_on_an_honest_server(
    catalogue_world: MailWorld, index: int, pattern: str
) -> None:
    """No evidence at all: the finder goes through the catalogue until the server accepts."""
    async with Verifier(catalogue_world.settings()) as verifier:
        result = await Finder(verifier).find(CATALOGUE_PERSON, f"p{index}.test")
    expected = f"{render(pattern, CATALOGUE_PERSON.variants()[0])}@p{index}.test"
    assert (result.email, result.score, result.verdict, result.confidence) == (expected, 100, Verdict.DELIVERABLE, 100)
    assert result.candidates_tried[-1] == expected and len(result.candidates_tried) <= MAX_PROBES


async def test_an_address_known_to_be_a_namesakes_sends_the_next_person_to_the_digit(
    catalogue_world: MailWorld,
) -> None:
    evidence = MemoryEvidence()
    known = await evidence.gather("smiths.test")
    known.known.append(KnownAddress("j.smith@smiths.test", parse_name("John Smith"), ("http://smiths.test/team",)))
    known.convention.observe("j.smith", parse_name("John Smith"))
    async with Verifier(catalogue_world.settings()) as verifier:
        finder = Finder(verifier, evidence)
        jane = await finder.find(parse_name("Jane Smith"), "smiths.test")
        john = await finder.find(parse_name("John Smith"), "smiths.test")
    assert (jane.email, jane.score) == ("j.smith2@smiths.test", 100)
    assert "j.smith@smiths.test" not in jane.candidates_tried  # never asked: it is John's
    assert (john.email, john.sources, john.candidates_tried) == (
        "j.smith@smiths.test", ["http://smiths.test/team"], ["j.smith@smiths.test"]  # his own published address
    )


async def test_an_unknown_owner_behind_a_digit_sibling_makes_the_answer_ambiguous(catalogue_world: MailWorld) -> None:
    """j.smith and j.smith2 both exist and nobody is known: either may be Jane's."""
    async with Verifier(catalogue_world.settings()) as verifier:
        result = await Finder(verifier).find(parse_name("Jane Smith"), "smiths.test")
    assert (result.email, result.verdict, result.reason, result.confidence) == (
        "j.smith@smiths.test", Verdict.RISKY, "namesake_ambiguous", 50
    )


async def test_a_server_that_blocks_probers_is_never_called_undeliverable(catalogue_world: MailWorld) -> None:
    async with Verifier(catalogue_world.settings()) as verifier:
        result = await Finder(verifier).find(parse_name("Anna Bell"), "harvest.test")  # not there: refusals pile up
        after = await Finder(verifier).find(parse_name("Zed Quill"), "harvest.test")
    assert result.verdict is Verdict.UNKNOWN and result.email is not None  # a guess, not "does not exist"
    assert result.reason in {"blocked", "host_cooling_down"}
    assert after.verdict is Verdict.UNKNOWN and after.email == "zed.quill@harvest.test"  # best guess, unverified
