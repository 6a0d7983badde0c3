"""`mailsleuth doctor` as a self-hoster runs it, against the scripted world's doctor domains."""

from __future__ import annotations

import json

from tests.cli.test_main import run
from tests.mailworld.doctor import BLOCKLIST, CLEAN, CLEAN_LIST, CLOSED_HOST, HELO, LISTED, LISTING_REASON, OPEN_HOST, SENDER
from tests.mailworld.world import MailWorld

IDENTITY = ("--helo-name", HELO, "--mail-from", SENDER)
LISTS = ("--blocklists", f"{BLOCKLIST},{CLEAN_LIST}")


def test_a_healthy_host_exits_0(mail_world: MailWorld) -> None:
    done = run(mail_world, *IDENTITY, "doctor", "--mail-host", OPEN_HOST, *LISTS, "--outgoing-address", CLEAN)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines == [
        f"ok    port25            port {mail_world.smtp_port} of mx.{OPEN_HOST} answers and accepts our MAIL FROM",
        f"ok    outgoing_address  {CLEAN} (from MAILSLEUTH_DOCTOR_OUTGOING_ADDRESS)",
        f"ok    reverse_dns       {CLEAN} -> {HELO} -> {CLEAN}: matches the HELO name",
        f"ok    blocklists        {CLEAN} is on none of 2 lists",
        f"ok    mail_from_domain  sender.doctor.test has MX and SPF naming {CLEAN}",
        "healthy: nothing failed",
    ]


def test_a_listed_address_and_a_closed_port_say_what_to_fix(mail_world: MailWorld) -> None:
    listed = run(mail_world, *IDENTITY, "doctor", "--mail-host", OPEN_HOST, *LISTS, "--outgoing-address", LISTED,
                 "--json")
    assert listed.returncode == 1
    report = json.loads(listed.stdout)
    assert report["healthy"] is False
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["blocklists"]["status"] == "fail"
    assert checks["blocklists"]["summary"] == f"{LISTED} is listed on {BLOCKLIST} ({LISTING_REASON})"
    assert checks["blocklists"]["details"]["zones"] == {BLOCKLIST: "listed", CLEAN_LIST: "not listed"}
    assert checks["reverse_dns"]["fix"] == f"Add an A (or AAAA) record {HELO} -> {LISTED}."

    closed = run(mail_world, *IDENTITY, "doctor", "--mail-host", CLOSED_HOST, *LISTS)
    assert closed.returncode == 1
    assert closed.stdout.splitlines()[0] == (
        f"FAIL  port25            cannot connect to port {mail_world.smtp_port} of {CLOSED_HOST}'s mail hosts")
    assert closed.stdout.splitlines()[1].startswith("        fix: Outgoing connections to port")
    assert "not healthy: fix the FAIL lines first" in closed.stdout
