"""The prober against a real Postfix: the replies a real mail server gives, and proof that probing
delivers nothing.

`.ci/postfix.sh` installs and starts the instance (loopback only, virtual mailboxes) and prints the
MAILSLEUTH_TEST_POSTFIX* variables this test reads. Without them the test is skipped on a developer's
machine, but fails on CI, where a missing Postfix means .ci/run is broken. Reading the queue needs
root, as .ci/run has.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import uuid
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path

import pytest

from mailsleuth.engine.find import Finder
from mailsleuth.engine.names import parse_name
from mailsleuth.engine.results import ReplyKind, Verdict
from mailsleuth.engine.smtp import SmtpSession
from mailsleuth.engine.verify import Verifier
from tests.mailworld.world import MailWorld

pytestmark = pytest.mark.postfix

HELO = "probe.mailsleuth.test"


@dataclass(frozen=True)
class Postfix:
    """The instance .ci/postfix.sh started, and the ways to see what it did with mail."""

    host: str
    port: int
    domain: str
    mailboxes: tuple[str, ...]
    config_dir: str

    def setting(self, name: str) -> str:
        return subprocess.run(
            ["postconf", "-c", self.config_dir, "-h", name], check=True, capture_output=True, text=True
        ).stdout.strip()

    def queue_ids(self) -> set[str]:
        """Every message in any queue (incoming, active, deferred, hold, maildrop)."""
        out = subprocess.run(
            ["postqueue", "-c", self.config_dir, "-j"], check=True, capture_output=True, text=True
        ).stdout
        return {json.loads(line)["queue_id"] for line in out.splitlines() if line.strip()}

    def delivered_files(self) -> set[Path]:
        """Every file under the virtual mailboxes; an unreadable directory fails rather than hides mail."""

        def refuse(error: OSError) -> None:
            raise error

        base = self.setting("virtual_mailbox_base")
        return {Path(root, name) for root, _, names in os.walk(base, onerror=refuse) for name in names}


def postfix_from_env() -> Postfix:
    target = os.environ.get("MAILSLEUTH_TEST_POSTFIX")
    if not target:
        if os.environ.get("CI") == "true":
            pytest.fail("MAILSLEUTH_TEST_POSTFIX is unset on CI: .ci/run must eval .ci/postfix.sh", pytrace=False)
        pytest.skip('no real Postfix: run `eval "$(sudo bash .ci/postfix.sh)"` first')
    host, _, port = target.rpartition(":")
    return Postfix(
        host=host,
        port=int(port),
        domain=os.environ["MAILSLEUTH_TEST_POSTFIX_DOMAIN"],
        mailboxes=tuple(os.environ["MAILSLEUTH_TEST_POSTFIX_MAILBOXES"].split(",")),
        config_dir=os.environ["MAILSLEUTH_TEST_POSTFIX_CONFIG"],
    )


async def log_line_after(log: Path, start: int, *needles: str, timeout: float = 10.0) -> tuple[str, int]:
    """The first line after byte `start` that contains every needle, and the offset where it ends.

    Postfix logs through postlogd, a moment after the reply went out, so the line is waited for.
    """
    async with asyncio.timeout(timeout):
        while True:
            with log.open("rb") as handle:
                handle.seek(start)
                end = start
                for raw in handle:
                    end += len(raw)
                    line = raw.decode(errors="replace")
                    if raw.endswith(b"\n") and all(needle in line for needle in needles):
                        return line.rstrip("\n"), end
            await asyncio.sleep(0.05)


async def test_real_postfix_accepts_mailboxes_rejects_unknown_and_receives_no_mail() -> None:
    postfix = postfix_from_env()
    log = Path(postfix.setting("maillog_file"))
    log_start = log.stat().st_size
    queued_before = postfix.queue_ids()
    delivered_before = postfix.delivered_files()
    unknown = f"nobody-{uuid.uuid4().hex[:12]}@{postfix.domain}"

    session = await SmtpSession.open(
        postfix.host,
        postfix.port,
        helo=HELO,
        mail_from=f"verify@{HELO}",
        connect_timeout=5.0,
        command_timeout=10.0,
    )
    try:
        accepted = []
        for mailbox in postfix.mailboxes:
            accepted.append(await session.rcpt(mailbox))
            await session.reset()
        rejected = await session.rcpt(unknown)
    finally:
        await session.close()

    assert [(reply.code, reply.kind) for reply in accepted] == [(250, ReplyKind.ACCEPTED)] * len(postfix.mailboxes)
    assert (rejected.code, rejected.enhanced, rejected.kind) == (550, "5.1.1", ReplyKind.NO_SUCH_USER)
    assert "User unknown in virtual mailbox table" in rejected.text

    # Postfix's own account of the conversation: it saw our rejected recipient, every accepted one
    # counted, and the session ended without a DATA or BDAT command.
    reject, after_reject = await log_line_after(log, log_start, "reject: RCPT", f"to=<{unknown}>", f"helo=<{HELO}>")
    smtpd = reject.split(": ", 1)[0].rsplit(" ", 1)[1]  # "postfix-mailsleuth/smtpd[1234]"
    disconnect, _ = await log_line_after(log, after_reject, f"{smtpd}: disconnect from")
    accepted_count = len(postfix.mailboxes)
    assert f" rcpt={accepted_count}/{accepted_count + 1} " in disconnect
    assert " data=" not in disconnect and " bdat=" not in disconnect

    # Nothing was queued or delivered. A message would be in the queue until its delivery is written
    # to a mailbox, so checking the queue first, then the mailboxes, leaves no gap.
    assert postfix.queue_ids() - queued_before == set()
    assert postfix.delivered_files() - delivered_before == set()
    assert "status=sent" not in log.read_bytes()[log_start:].decode(errors="replace")


async def test_verifier_end_to_end_against_real_postfix(mail_world: MailWorld) -> None:
    """The whole engine (DNS -> MX -> catch-all test -> RCPT -> verdict) against Postfix."""
    postfix = postfix_from_env()
    mail_world.dns.add(postfix.domain, "MX", (10, "mx.postfix.mailsleuth.test"))
    mail_world.dns.add("mx.postfix.mailsleuth.test", "A", postfix.host)
    settings = mail_world.settings(smtp_port=postfix.port)
    queued_before = postfix.queue_ids()
    async with Verifier(settings) as verifier:
        known = await verifier.verify(postfix.mailboxes[0])
        unknown = await verifier.verify(f"nobody-{uuid.uuid4().hex[:12]}@{postfix.domain}")
        found = await Finder(verifier).find(parse_name("John Smith"), postfix.domain)
        batch = [f"nobody-{n}-{uuid.uuid4().hex[:8]}@{postfix.domain}" for n in range(3)] + list(postfix.mailboxes)
        many = [r.verdict async for r in verifier.verify_many(batch)]  # pipelined batches on shared sessions
    assert (known.verdict, known.catch_all, known.smtp_code) == (Verdict.DELIVERABLE, False, 250)
    assert known.mx_hosts == ["mx.postfix.mailsleuth.test"]
    assert (unknown.verdict, unknown.reason, unknown.enhanced_status) == (
        Verdict.UNDELIVERABLE, "mailbox_not_found", "5.1.1"
    )
    assert (found.email, found.score) == (f"john.smith@{postfix.domain}", 100)
    assert many == [Verdict.UNDELIVERABLE] * 3 + [Verdict.DELIVERABLE] * len(postfix.mailboxes)
    assert postfix.queue_ids() - queued_before == set()


async def test_real_postfix_answers_a_pipelined_batch_in_order() -> None:
    """Postfix offers PIPELINING: one group of RCPTs gets its replies in order, Postfix logs no
    improper pipelining, counts every recipient and, as ever, receives no mail."""
    postfix = postfix_from_env()
    log = Path(postfix.setting("maillog_file"))
    log_start = log.stat().st_size
    queued_before = postfix.queue_ids()
    unknown = [f"nobody-{uuid.uuid4().hex[:12]}@{postfix.domain}" for _ in range(2)]
    batch = [unknown[0], *postfix.mailboxes, unknown[1]]

    session = await SmtpSession.open(
        postfix.host, postfix.port, helo=HELO, mail_from=f"verify@{HELO}", connect_timeout=5.0, command_timeout=10.0
    )
    try:
        assert session.pipelining
        async with aclosing(session.rcpt_each(batch)) as replies:
            kinds = [(reply.code, reply.kind) async for reply in replies]
        await session.reset()  # still in step with Postfix after the group
        again = await session.rcpt(postfix.mailboxes[0])
        async with aclosing(session.rcpt_each(postfix.mailboxes, then_quit=True)) as replies:
            last = [reply.kind async for reply in replies]  # and QUIT at the end of the group
        assert session.closed
    finally:
        await session.close()

    rejected, accepted = (550, ReplyKind.NO_SUCH_USER), (250, ReplyKind.ACCEPTED)
    assert kinds == [rejected] + [accepted] * len(postfix.mailboxes) + [rejected]
    assert again.kind is ReplyKind.ACCEPTED
    assert last == [ReplyKind.ACCEPTED] * len(postfix.mailboxes)
    first, after = await log_line_after(log, log_start, "reject: RCPT", f"to=<{unknown[0]}>")
    smtpd = first.split(": ", 1)[0].rsplit(" ", 1)[1]
    _, after = await log_line_after(log, after, f"{smtpd}: ", "reject: RCPT", f"to=<{unknown[1]}>")
    disconnect, _ = await log_line_after(log, after, f"{smtpd}: disconnect from")
    total = len(batch) + 1 + len(postfix.mailboxes)
    assert f" rcpt={total - 2}/{total} " in disconnect and " quit=1 " in disconnect
    assert " data=" not in disconnect and " bdat=" not in disconnect
    assert "improper command pipelining" not in log.read_bytes()[log_start:].decode(errors="replace")
    assert postfix.queue_ids() - queued_before == set()
