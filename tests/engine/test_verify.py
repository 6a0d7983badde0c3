"""Every verdict path, against the scripted mail world on loopback (see build_standard_world)."""

from __future__ import annotations

import asyncio
import time

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.dns import MailRoute, RouteStatus
from mailsleuth.engine.results import ReplyKind, SmtpReply, Verdict
from mailsleuth.engine.egress import is_public_address
from mailsleuth.engine.verify import Outcome, Verifier, grade, grade_route
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld


def reply(code: int, kind: ReplyKind) -> SmtpReply:
    return SmtpReply(code, None, "", kind)


@pytest.mark.parametrize(
    ("outcome", "catch_all", "role", "expected"),
    [
        (Outcome(reply(250, ReplyKind.ACCEPTED)), False, False, (Verdict.DELIVERABLE, "accepted")),
        (Outcome(reply(250, ReplyKind.ACCEPTED)), False, True, (Verdict.RISKY, "role_address")),
        (Outcome(reply(250, ReplyKind.ACCEPTED)), True, False, (Verdict.RISKY, "catch_all")),
        (Outcome(reply(550, ReplyKind.NO_SUCH_USER)), False, False, (Verdict.UNDELIVERABLE, "mailbox_not_found")),
        (Outcome(reply(550, ReplyKind.DISABLED)), False, False, (Verdict.UNDELIVERABLE, "mailbox_disabled")),
        (Outcome(reply(552, ReplyKind.FULL)), False, False, (Verdict.RISKY, "mailbox_full")),
        (Outcome(reply(450, ReplyKind.GREYLISTED)), None, False, (Verdict.UNKNOWN, "greylisted")),
        (Outcome(reply(554, ReplyKind.BLOCKED)), None, False, (Verdict.UNKNOWN, "blocked")),
        (Outcome(reply(421, ReplyKind.SLOW_DOWN)), None, False, (Verdict.UNKNOWN, "rate_limited")),
        (Outcome(reply(550, ReplyKind.PERMANENT)), False, False, (Verdict.UNKNOWN, "unclassified_rejection")),
        (Outcome(failure="smtp_connect_failed"), None, False, (Verdict.UNKNOWN, "smtp_connect_failed")),
    ],
)
def test_grade(outcome: Outcome, catch_all: bool | None, role: bool, expected: tuple[Verdict, str]) -> None:
    assert grade(outcome, catch_all=catch_all, role=role) == expected


def test_grade_disposable_acceptance_is_risky() -> None:
    assert grade(Outcome(reply(250, ReplyKind.ACCEPTED)), catch_all=False, disposable=True) == (
        Verdict.RISKY,
        "disposable_address",
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RouteStatus.NXDOMAIN, Verdict.UNDELIVERABLE),
        (RouteStatus.NULL_MX, Verdict.UNDELIVERABLE),
        (RouteStatus.NO_MAIL, Verdict.UNDELIVERABLE),
        (RouteStatus.SERVFAIL, Verdict.UNKNOWN),
        (RouteStatus.TIMEOUT, Verdict.UNKNOWN),
    ],
)
def test_grade_route(status: RouteStatus, expected: Verdict) -> None:
    settled = grade_route(MailRoute("x.test", status, (), False))
    assert settled is not None and settled[0] is expected
    assert grade_route(MailRoute("x.test", RouteStatus.OK, (), False)) is None


@pytest.mark.parametrize(
    ("ip", "public"),
    [("127.0.0.1", False), ("10.1.2.3", False), ("192.168.0.1", False), ("169.254.1.1", False),
     ("::1", False), ("fe80::1", False), ("0.0.0.0", False), ("8.8.8.8", True), ("2a00:1450::1", True)],
)
def test_private_addresses_are_not_public(ip: str, public: bool) -> None:
    assert is_public_address(ip) is public


@pytest.mark.parametrize(
    ("address", "verdict", "reason", "code"),
    [
        ("jane.doe@acme.test", Verdict.DELIVERABLE, "accepted", 250),
        ("Jane.Doe@ACME.test", Verdict.DELIVERABLE, "accepted", 250),
        ("nobody@acme.test", Verdict.UNDELIVERABLE, "mailbox_not_found", 550),
        ("info@acme.test", Verdict.RISKY, "role_address", 250),
        ("whoever@catchall.test", Verdict.RISKY, "catch_all", None),
        ("jane.doe@full.test", Verdict.RISKY, "mailbox_full", 552),
        ("jane.doe@disabled.test", Verdict.UNDELIVERABLE, "mailbox_disabled", 550),
        ("jane.doe@blocked.test", Verdict.UNKNOWN, "blocked", 554),
        ("jane.doe@nullmx.test", Verdict.UNDELIVERABLE, "null_mx", None),
        ("jane.doe@nomail.test", Verdict.UNDELIVERABLE, "no_mail_server", None),
        ("jane.doe@nxdomain.test", Verdict.UNDELIVERABLE, "domain_not_found", None),
        ("jane.doe@servfail.test", Verdict.UNKNOWN, "dns_servfail", None),
        ("jane.doe@aonly.test", Verdict.DELIVERABLE, "accepted", 250),
        ("jane.doe@backup.test", Verdict.DELIVERABLE, "accepted", 250),
        ("jane.doe@dead.test", Verdict.UNKNOWN, "smtp_connect_failed", None),
        ("not an address", Verdict.UNDELIVERABLE, None, None),
    ],
)
async def test_verdicts_in_the_mail_world(
    world_settings: Settings, address: str, verdict: Verdict, reason: str | None, code: int | None
) -> None:
    async with Verifier(world_settings) as verifier:
        result = await verifier.verify(address)
    assert result.verdict is verdict, result
    if reason is not None:
        assert result.reason == reason
    else:
        assert result.reason.startswith("invalid_syntax")
    assert result.smtp_code == code


async def test_evidence_of_a_deliverable_address(world_settings: Settings) -> None:
    async with Verifier(world_settings) as verifier:
        result = await verifier.verify("john.smith@acme.test")
    assert result.mx_hosts == ["mx.acme.test"]
    assert result.catch_all is False
    assert result.enhanced_status == "2.1.5"
    assert result.score == 100
    assert result.to_dict()["verdict"] == "deliverable"


async def test_blocked_host_is_cooled_down_and_not_retried(mail_world: MailWorld, world_settings: Settings) -> None:
    server = mail_world.server("mx.blocked.test")
    async with Verifier(world_settings) as verifier:
        first = await verifier.verify("jane.doe@blocked.test")
        connections = server.stats.connections
        second = await verifier.verify("john.smith@blocked.test")
        assert server.stats.connections == connections  # cooling down: no new connection
        assert await verifier.politeness.cooldown_remaining(mail_world.ip("mx.blocked.test")) > 0
    assert first.verdict is second.verdict is Verdict.UNKNOWN
    assert second.reason == "host_cooling_down"


async def test_tarpit_times_out_as_unknown(world_settings: Settings) -> None:
    settings = world_settings.model_copy(update={"command_timeout": 0.5})
    async with Verifier(settings) as verifier:
        result = await verifier.verify("jane.doe@tarpit.test")
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason == "smtp_banner_failed"


async def test_dns_timeout_is_unknown(world_settings: Settings) -> None:
    settings = world_settings.model_copy(update={"dns_timeout": 0.3})
    async with Verifier(settings) as verifier:
        result = await verifier.verify("jane.doe@dnstimeout.test")
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, "dns_timeout")


async def test_greylisting_is_unknown_with_retry_time_and_can_be_waited_out(world_settings: Settings) -> None:
    async with Verifier(world_settings) as verifier:
        before = time.time()
        first = await verifier.verify("jane.doe@greylist.test")
        assert (first.verdict, first.reason, first.smtp_code) == (Verdict.UNKNOWN, "greylisted", 450)
        assert first.retry_at is not None and first.retry_at >= before + world_settings.greylist_delay
    async with Verifier(world_settings) as verifier:
        waited = await verifier.verify("maria.garcia@greylist.test", wait_greylisted=True)
    assert waited.verdict is Verdict.UNDELIVERABLE  # the retry got through the greylist: 550, not 450
    assert waited.smtp_code == 550


async def test_rate_limited_host_within_caps(mail_world: MailWorld, world_settings: Settings) -> None:
    """ratelimit.test allows 1 connection and 3 recipients: within those caps every answer is real."""
    settings = world_settings.model_copy(update={"max_connections_per_host": 1, "max_recipients_per_connection": 3})
    server = mail_world.server("mx.ratelimit.test")
    refused = server.stats.refused
    addresses = ["jane.doe@ratelimit.test", "john.smith@ratelimit.test"] + [f"x{i}@ratelimit.test" for i in range(6)]
    async with Verifier(settings) as verifier:
        results = [r async for r in verifier.verify_many(addresses)]
    assert [r.verdict for r in results] == [Verdict.DELIVERABLE] * 2 + [Verdict.UNDELIVERABLE] * 6
    assert server.stats.refused == refused


async def test_rate_limited_host_beyond_caps_is_unknown_never_undeliverable(world_settings: Settings) -> None:
    """Above 3 recipients the host answers 452 4.5.3: we back off and say unknown."""
    settings = world_settings.model_copy(update={"max_connections_per_host": 1})
    addresses = [f"x{i}@ratelimit.test" for i in range(8)]
    async with Verifier(settings) as verifier:
        results = [r async for r in verifier.verify_many(addresses)]
    assert {r.verdict for r in results[:2]} == {Verdict.UNDELIVERABLE}  # catch-all test + 2 real RCPTs
    assert all(r.verdict is Verdict.UNKNOWN for r in results[2:])
    assert results[2].reason == "rate_limited"


async def test_checks_for_one_domain_share_connections(mail_world: MailWorld, world_settings: Settings) -> None:
    mail_world.add_domain("share.test", behaviour=Behaviour(mailboxes={"jane.doe"}))
    server = mail_world.server("mx.share.test")
    addresses = [f"user{i}@share.test" for i in range(30)] + ["jane.doe@share.test"]
    async with Verifier(world_settings) as verifier:
        results = await asyncio.gather(*(verifier.verify(a) for a in addresses))
    assert results[-1].verdict is Verdict.DELIVERABLE
    assert server.stats.rcpt_count == 32  # one catch-all test, then each address once
    assert server.stats.connections <= 3  # 32 RCPTs at 20 per connection: two, plus at most one partly used
    assert server.stats.max_concurrent <= 2
    for _ in range(200):  # the server notices each QUIT on its own thread
        if server.stats.concurrent == 0:
            break
        await asyncio.sleep(0.01)
    assert server.stats.concurrent == 0  # closing the verifier QUITs every connection
    assert server.stats.data_count == 0


async def test_private_mail_hosts_are_refused_by_default(world_settings: Settings) -> None:
    settings = world_settings.model_copy(update={"allow_private_networks": False})
    async with Verifier(settings) as verifier:
        result = await verifier.verify("jane.doe@acme.test")
    assert (result.verdict, result.reason) == (Verdict.UNKNOWN, "private_network_refused")


async def test_control_characters_never_reach_the_wire(mail_world: MailWorld, world_settings: Settings) -> None:
    server = mail_world.server("mx.acme.test")
    before = server.stats.rcpt_count
    async with Verifier(world_settings) as verifier:
        result = await verifier.verify("jane.doe@acme.test\r\nDATA")
    assert result.verdict is Verdict.UNDELIVERABLE
    assert result.reason.startswith("invalid_syntax")
    assert server.stats.rcpt_count == before


async def test_identity_on_the_wire_is_configurable(mail_world: MailWorld, world_settings: Settings) -> None:
    settings = world_settings.model_copy(update={"helo_name": "checker.example.test", "mail_from": "bounce@example.test"})
    async with Verifier(settings) as verifier:
        await verifier.verify("jane.doe@aonly.test")
    stats = mail_world.server("aonly.test").stats
    assert "checker.example.test" in stats.helo_names
    assert "bounce@example.test" in stats.mail_from


async def test_a_catch_all_check_sends_one_rcpt_and_is_cached(mail_world: MailWorld, world_settings: Settings) -> None:
    mail_world.add_domain("takesall.test", behaviour=Behaviour(mailboxes={"jane.doe"}, catch_all=True))
    mail_world.add_domain("honest.test", behaviour=Behaviour(mailboxes={"jane.doe"}))
    takes_all, honest = mail_world.server("mx.takesall.test"), mail_world.server("mx.honest.test")
    async with Verifier(world_settings) as verifier:
        accepting = await verifier.check_catch_all("takesall.test")
        again = await verifier.check_catch_all("takesall.test")
        refusing = await verifier.check_catch_all("honest.test")
        nowhere = await verifier.check_catch_all("nullmx.test")
    assert (accepting.catch_all, again.catch_all, refusing.catch_all) == (True, True, False)
    assert [mx.host for mx in accepting.route.hosts] == ["mx.takesall.test"]
    assert takes_all.stats.rcpt_count == 1 and honest.stats.rcpt_count == 1  # the second check was the cache
    assert (nowhere.route.status, nowhere.catch_all) == (RouteStatus.NULL_MX, None)
    assert takes_all.stats.data_count == 0


def two_host_domain(world: MailWorld, name: str, first: Behaviour, second: Behaviour | None) -> tuple[str, ...]:
    """``name`` with MX 10 behaving as ``first`` and, when given, MX 20 behaving as ``second``."""
    hosts = [(10, f"mx1.{name}", first)] + ([(20, f"mx2.{name}", second)] if second else [])
    for _, host, behaviour in hosts:
        world.add_domain(f"only-{host}", mx=[(10, host)], behaviour=behaviour)
    return world.add_domain(name, mx=[(preference, host) for preference, host, _ in hosts])


EVEN = {f"u{i}" for i in range(0, 12, 2)}
EVEN_VERDICTS = [Verdict.DELIVERABLE if i % 2 == 0 else Verdict.UNDELIVERABLE for i in range(12)]


async def test_a_hang_up_mid_batch_sends_the_unanswered_rows_to_the_next_host(
    mail_world: MailWorld, world_settings: Settings
) -> None:
    """mx1 hangs up (421) at its 6th RCPT: the catch-all test and u0..u3 have their answers, u4 on
    are asked again at mx2, so every row gets a real verdict and none is lost or asked twice at mx2."""
    first, second = two_host_domain(
        mail_world, "hangup.test", Behaviour(mailboxes=EVEN, hang_up_after=5), Behaviour(mailboxes=EVEN)
    )
    settings = world_settings.model_copy(update={"max_connections_per_host": 1})
    async with Verifier(settings) as verifier:
        results = [r async for r in verifier.verify_many([f"u{i}@hangup.test" for i in range(12)])]
        assert await verifier.politeness.cooldown_remaining(mail_world.ip(first)) > 0
    assert [r.verdict for r in results] == EVEN_VERDICTS
    assert [r.smtp_code for r in results] == [250 if i % 2 == 0 else 550 for i in range(12)]
    assert mail_world.stats(first).rcpt_count == 6
    assert mail_world.stats(second).rcpt_count == 8  # u4..u11, the catch-all verdict already known
    assert mail_world.stats(first).pipelined > 0


async def test_a_hang_up_mid_batch_with_no_other_host_is_unknown_never_undeliverable(
    mail_world: MailWorld, world_settings: Settings
) -> None:
    two_host_domain(mail_world, "hangup-alone.test", Behaviour(mailboxes=EVEN, hang_up_after=5), None)
    settings = world_settings.model_copy(update={"max_connections_per_host": 1})
    async with Verifier(settings) as verifier:
        results = [r async for r in verifier.verify_many([f"u{i}@hangup-alone.test" for i in range(12)])]
    assert [r.verdict for r in results[:4]] == EVEN_VERDICTS[:4]
    assert {(r.verdict, r.reason, r.smtp_code) for r in results[4:]} == {(Verdict.UNKNOWN, "rate_limited", 421)}


async def test_hosts_with_and_without_pipelining_give_the_same_answers(
    mail_world: MailWorld, world_settings: Settings
) -> None:
    answers = []
    cases = [("pipelined.test", True, True), ("one-by-one.test", False, True), ("not-wanted.test", True, False)]
    for name, offered, wanted in cases:
        behaviour = Behaviour(mailboxes=EVEN, full={"u4"}, disabled={"u6"}, pipelining=offered)
        mail_world.add_domain(name, behaviour=behaviour)
        async with Verifier(world_settings.model_copy(update={"use_pipelining": wanted})) as verifier:
            results = [r async for r in verifier.verify_many([f"u{i}@{name}" for i in range(40)])]
        answers.append([(r.verdict, r.reason, r.smtp_code, (r.smtp_text or "").replace(name, "D")) for r in results])
        stats = mail_world.stats(f"mx.{name}")
        assert (stats.pipelined > 0) is (offered and wanted)
        assert stats.rcpt_count == 41  # the catch-all test, then each address once
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][4][:2] == (Verdict.RISKY, "mailbox_full")
    assert answers[0][6][:2] == (Verdict.UNDELIVERABLE, "mailbox_disabled")


async def test_an_internationalised_local_part_is_unknown_and_spoils_no_other_check(
    mail_world: MailWorld, world_settings: Settings
) -> None:
    """email-validator accepts "jäne@...", but asking about it needs SMTPUTF8: it is never sent, and
    the checks queued beside it are answered as usual (it used to fail the domain's whole queue)."""
    mail_world.add_domain("utf8.test", behaviour=Behaviour(mailboxes={"jane"}))
    addresses = ["jane@utf8.test", "jäne@utf8.test", "bob@utf8.test", "Jäne@utf8.test", "jane@utf8.test"]
    async with Verifier(world_settings) as verifier:
        results = [r async for r in verifier.verify_many(addresses)]
    assert [(r.verdict, r.reason) for r in results] == [
        (Verdict.DELIVERABLE, "accepted"),
        (Verdict.UNKNOWN, "smtputf8_unsupported"),
        (Verdict.UNDELIVERABLE, "mailbox_not_found"),
        (Verdict.UNKNOWN, "smtputf8_unsupported"),
        (Verdict.DELIVERABLE, "accepted"),
    ]
    assert results[1].email == "jäne@utf8.test" and results[1].domain == "utf8.test"
    assert not any("ä" in line for line in mail_world.stats("mx.utf8.test").commands)
