"""The finder against the scripted mail world: ranked probes, best guesses and learning."""

from __future__ import annotations

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.domains import InvalidDomain
from mailsleuth.engine.evidence import MemoryEvidence
from mailsleuth.engine.find import MAX_PROBES, Finder
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.patterns import candidates
from mailsleuth.engine.results import Verdict
from mailsleuth.engine.verify import Verifier
from tests.mailworld.world import MailWorld


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
