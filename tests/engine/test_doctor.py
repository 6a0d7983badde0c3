"""`mailsleuth doctor`'s checks against the scripted DNS and mail world: listed and unlisted
addresses, matching and mismatching reverse DNS, an open and a closed port 25."""

from __future__ import annotations

import dataclasses

import pytest

from mailsleuth.engine import doctor
from mailsleuth.engine.dns import Resolver
from mailsleuth.engine.doctor import Check, DoctorConfig, Status
from tests.mailworld.doctor import CLEAN, LISTED, MISMATCHED, NO_PTR, ONE_WAY
from tests.mailworld.world import HELO_NAME, MailWorld


@pytest.fixture(scope="module")
def world(mail_world: MailWorld) -> MailWorld:
    return mail_world  # with tests.mailworld.doctor's domains


@pytest.fixture
def resolver(world: MailWorld) -> Resolver:
    return Resolver([world.dns_address], timeout=1.0)


def config(world: MailWorld, **changes: object) -> DoctorConfig:
    base = DoctorConfig.from_settings(world.settings(doctor_mail_host="open.doctor.test",
                                                     mail_from="verify@sender.doctor.test"))
    return dataclasses.replace(base, **changes)


async def test_blocklists_listed_unlisted_and_refused(resolver: Resolver) -> None:
    zones = ("black.doctor.test", "grey.doctor.test")
    listed = await doctor.blocklists(resolver, LISTED, zones)
    assert listed.status is Status.FAIL
    assert listed.summary == (f"{LISTED} is listed on black.doctor.test "
                              "(Listed for sending spam, see https://black.doctor.test/10)")
    assert listed.details["zones"] == {"black.doctor.test": "listed", "grey.doctor.test": "not listed"}
    assert "delisting" in (listed.fix or "")
    clean = await doctor.blocklists(resolver, CLEAN, zones)
    assert clean == Check("blocklists", Status.OK, f"{CLEAN} is on none of 2 lists", None,
                          {"address": CLEAN, "zones": {"black.doctor.test": "not listed", "grey.doctor.test": "not listed"}})
    refused = await doctor.blocklists(resolver, CLEAN, ("grey.doctor.test", "refusing.doctor.test"))
    assert refused.status is Status.WARN and refused.details["zones"]["refusing.doctor.test"] == "refused"
    assert "MAILSLEUTH_DNS_SERVERS" in (refused.fix or "")


async def test_reverse_dns_matching_mismatching_missing_and_one_way(resolver: Resolver) -> None:
    helo = "mail.doctor.test"
    matching = await doctor.reverse_dns(resolver, CLEAN, helo)
    assert matching.status is Status.OK and matching.fix is None
    assert matching.summary == f"{CLEAN} -> {helo} -> {CLEAN}: matches the HELO name"
    assert matching.details["forward_confirmed"] == [helo]

    mismatched = await doctor.reverse_dns(resolver, MISMATCHED, helo)
    assert mismatched.status is Status.WARN
    assert mismatched.summary == f"{MISMATCHED} -> other.doctor.test: not the HELO name {helo}"
    assert mismatched.fix == (f"Set MAILSLEUTH_HELO_NAME=other.doctor.test, or change the reverse DNS of "
                              f"{MISMATCHED} to {helo}.")

    missing = await doctor.reverse_dns(resolver, NO_PTR, helo)
    assert missing.status is Status.FAIL and missing.summary == f"{NO_PTR} has no reverse DNS (PTR)"
    assert f"set its reverse DNS to {helo}" in (missing.fix or "")

    one_way = await doctor.reverse_dns(resolver, ONE_WAY, "lonely.doctor.test")
    assert one_way.status is Status.FAIL
    assert one_way.fix == f"Add an A (or AAAA) record lonely.doctor.test -> {ONE_WAY}."
    not_helo = await doctor.reverse_dns(resolver, ONE_WAY, helo)
    assert not_helo.status is Status.FAIL and "and add an A record lonely.doctor.test" in (not_helo.fix or "")


async def test_port_25_open_and_closed(world: MailWorld, resolver: Resolver) -> None:
    before = world.stats("mx.open.doctor.test").rcpt_count
    opened, seen = await doctor.reach_mail_host(resolver, config(world))
    assert opened.status is Status.OK and seen == "127.0.0.1"  # from the host's "Hello [127.0.0.1]"
    assert opened.details["host"] == "mx.open.doctor.test" and opened.details["port"] == world.smtp_port
    assert world.stats("mx.open.doctor.test").rcpt_count == before  # never a recipient
    assert "verify@sender.doctor.test" in world.stats("mx.open.doctor.test").mail_from

    closed, nothing = await doctor.reach_mail_host(resolver, config(world, mail_host="closed.doctor.test"))
    assert closed.status is Status.FAIL and nothing is None
    assert closed.summary == f"cannot connect to port {world.smtp_port} of closed.doctor.test's mail hosts"
    assert "Most cloud providers block port 25" in (closed.fix or "")
    assert len(closed.details["errors"]) == 1 and closed.details["errors"][0].startswith("mx.closed.doctor.test")

    unknown, _ = await doctor.reach_mail_host(resolver, config(world, mail_host="nowhere.doctor.test"))
    assert unknown.status is Status.FAIL and unknown.summary == (
        "could not find where nowhere.doctor.test takes mail (DNS: nxdomain)")


async def test_mail_from_domain(world: MailWorld, resolver: Resolver) -> None:
    good = await doctor.mail_from_domain(resolver, "verify@sender.doctor.test", CLEAN)
    assert good.status is Status.OK and good.summary == f"sender.doctor.test has MX and SPF naming {CLEAN}"
    outside = await doctor.mail_from_domain(resolver, "verify@sender.doctor.test", "198.51.100.7")
    assert outside.status is Status.WARN and outside.fix.startswith("Add ip4:198.51.100.7 to the SPF record")
    no_spf = await doctor.mail_from_domain(resolver, "verify@nospf.doctor.test", CLEAN)
    assert no_spf.status is Status.WARN
    assert no_spf.fix == f'Add a TXT record to nospf.doctor.test: "v=spf1 ip4:{CLEAN} -all" (some hosts distrust senders without SPF).'
    nowhere = await doctor.mail_from_domain(resolver, f"verify@{HELO_NAME}", CLEAN)
    assert nowhere.status is Status.FAIL and nowhere.summary.startswith(f"{HELO_NAME} cannot receive mail (nxdomain)")
    assert "Set MAILSLEUTH_MAIL_FROM" in (nowhere.fix or "")


async def test_diagnose_uses_the_configured_outgoing_address(world: MailWorld, resolver: Resolver) -> None:
    cfg = config(world, outgoing_address=LISTED, blocklists=("black.doctor.test",), helo_name="mail.doctor.test")
    report = await doctor.diagnose(resolver, cfg)
    assert [(c.name, c.status) for c in report.checks] == [
        ("port25", Status.OK), ("outgoing_address", Status.OK), ("reverse_dns", Status.FAIL),
        ("blocklists", Status.FAIL), ("mail_from_domain", Status.OK),
    ]
    assert report.checks[2].summary == f"{LISTED} -> mail.doctor.test, but mail.doctor.test does not resolve back to {LISTED}"
    assert not report.healthy and report.to_dict()["healthy"] is False

    seen = await doctor.diagnose(resolver, config(world, blocklists=()))
    outgoing = seen.checks[1]
    assert outgoing.status is Status.WARN and outgoing.details == {"address": "127.0.0.1", "source": "connection"}
    assert "MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS" in (outgoing.fix or "")

    unreachable = await doctor.diagnose(resolver, config(world, mail_host="closed.doctor.test"))
    assert [c.status for c in unreachable.checks[1:4]] == [Status.SKIPPED] * 3
