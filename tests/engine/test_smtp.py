"""SMTP reply classification (pure, on replies real servers send) and the probe session against the
scripted server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.results import ReplyKind
from mailsleuth.engine.smtp import ProbeError, SmtpSession, classify
from tests.mailworld.smtp_server import Behaviour, ScriptedSmtpServer

K = ReplyKind
NO_USER = K.NO_SUCH_USER

# (code, text as aiosmtplib hands it over: code stripped, lines joined with "\n", expected kind)
REAL_REPLIES = [
    # accepted
    (250, "2.1.5 Ok", K.ACCEPTED),  # Postfix
    (250, "2.1.5 OK a1si1234567qkb.123 - gsmtp", K.ACCEPTED),  # Gmail
    (250, "2.1.5 Recipient OK", K.ACCEPTED),  # Exchange
    (251, "User not local; will forward to <jane@elsewhere.test>", K.ACCEPTED),
    # the mailbox does not exist
    (
        550,
        "5.1.1 <jane@acme.test>: Recipient address rejected: User unknown in virtual mailbox table",
        NO_USER,
    ),
    (
        550,
        "5.1.1 <jane@acme.test>: Recipient address rejected: User unknown in local recipient table",
        NO_USER,
    ),
    (
        550,
        "5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "5.1.1 double-checking the recipient's email address for typos or\n"
        "5.1.1 unnecessary spaces. Learn more at\n"
        "5.1.1  https://support.google.com/mail/?p=NoSuchUser a1si1234567qkb.123 - gsmtp",
        K.NO_SUCH_USER,
    ),  # Gmail
    (550, "5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", NO_USER),
    (550, "5.1.1 RESOLVER.ADR.RecipNotFound; not found", K.NO_SUCH_USER),  # Exchange on-premises
    (550, "5.1.1 <jane@acme.test>... User unknown", K.NO_SUCH_USER),  # Sendmail
    (550, "<jane@acme.test>... User unknown", K.NO_SUCH_USER),  # Sendmail without enhanced codes
    (550, "No Such User Here", K.NO_SUCH_USER),  # cPanel Exim
    (550, "Unknown user", K.NO_SUCH_USER),  # Exim
    (550, "sorry, no mailbox here by that name. (#5.1.1)", K.NO_SUCH_USER),  # qmail
    (550, "Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550", K.NO_SUCH_USER),  # Mimecast
    (553, "5.1.1 <jane@acme.test>: Recipient address rejected: User unknown", K.NO_SUCH_USER),
    (550, "5.1.6 Recipient addresses in this domain no longer accept mail", K.NO_SUCH_USER),
    # disabled
    (
        550,
        "5.2.1 The email account that you tried to reach is disabled. Learn more at\n"
        "5.2.1  https://support.google.com/mail/?p=DisabledUser a1si1234567qkb.123 - gsmtp",
        K.DISABLED,
    ),  # Gmail
    (550, "Account inactive", K.DISABLED),
    (550, "<jane@acme.test>: mailbox has been suspended", K.DISABLED),
    (550, "Relaying disabled; this server does not forward mail", K.PERMANENT),
    (
        554,
        "delivery error: dd Sorry your message to jane@acme.test cannot be delivered. This mailbox is "
        "disabled (554.30). - mta1234.mail.ne1.yahoo.com",
        K.DISABLED,
    ),  # Yahoo
    # full
    (
        452,
        "4.2.2 The email account that you tried to reach is over quota. Please direct\n"
        "4.2.2 the recipient to\n"
        "4.2.2  https://support.google.com/mail/?p=OverQuotaTemp a1si1234567qkb.123 - gsmtp",
        K.FULL,
    ),  # Gmail
    (552, "5.2.2 <jane@acme.test>: Recipient address rejected: Mailbox full", K.FULL),
    (552, "Requested mail action aborted: exceeded storage allocation", K.FULL),  # RFC 5321 wording
    (550, "5.0.0 <jane@acme.test>... Mailbox quota exceeded", K.FULL),
    (450, "4.2.2 Mailbox full", K.FULL),
    # greylisted
    (
        450,
        "4.2.0 <jane@acme.test>: Recipient address rejected: Greylisted, see "
        "http://postgrey.schweikert.ch/help/acme.test.html",
        K.GREYLISTED,
    ),  # Postgrey
    (451, "4.7.1 Greylisting in action, please come back later", K.GREYLISTED),  # milter-greylist
    (451, "Please try again later", K.GREYLISTED),
    (450, "4.7.1 <jane@acme.test>: Recipient address rejected: Service is unavailable", K.GREYLISTED),
    # slow down and reconnect later
    (421, "4.7.0 Try again later, closing connection. (EHLO) a1si1234567qkb.123 - gsmtp", K.SLOW_DOWN),
    (
        421,
        "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user "
        "complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
        K.SLOW_DOWN,
    ),  # Yahoo
    (421, "Service not available, closing transmission channel", K.SLOW_DOWN),
    (452, "4.5.3 Error: too many recipients", K.SLOW_DOWN),  # Postfix
    (452, "Too many recipients received this hour", K.SLOW_DOWN),
    (552, "5.5.3 Too many recipients", K.SLOW_DOWN),  # RFC 5321 4.5.3.1.10: treat as temporary
    # we are blocked
    (
        554,
        "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; "
        "https://www.spamhaus.org/query/ip/192.0.2.1",
        K.BLOCKED,
    ),  # Postfix + Spamhaus
    (
        550,
        "5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please "
        "visit https://sender.office.com/ and follow the directions.",
        K.BLOCKED,
    ),  # Office 365
    (
        550,
        "5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service "
        "provider since part of their network is on our block list (S3150).",
        K.BLOCKED,
    ),  # Outlook.com
    (
        554,
        "Service unavailable; Client host [192.0.2.1] blocked using Barracuda Reputation, "
        "http://www.barracudanetworks.com/reputation/?r=1&ip=192.0.2.1",
        K.BLOCKED,
    ),  # Barracuda
    (
        550,
        "5.7.1 [192.0.2.1] Our system has detected that this message is likely unsolicited mail. To reduce "
        "the amount of spam sent to Gmail, this message has been blocked.",
        K.BLOCKED,
    ),  # Gmail
    (550, "5.7.1 Mail from 192.0.2.1 refused - see http://www.spamcop.net/bl.shtml?192.0.2.1", K.BLOCKED),
    (450, "4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]", K.BLOCKED),  # Postfix
    (421, "4.7.0 192.0.2.1 listed at zen.spamhaus.org", K.BLOCKED),  # a block outranks plain 421
    # permanent but not a fact about the mailbox: graded unknown, never undeliverable
    (550, "Requested action not taken: mailbox unavailable", K.PERMANENT),  # RFC 5321: also policy refusals
    (550, "5.5.0 Requested action not taken: mailbox unavailable (S2017062302).", K.PERMANENT),  # Outlook.com
    (550, "5.4.1 Recipient address rejected: Access denied. AS(201806281)", K.PERMANENT),  # Office 365 DBEB
    (554, "5.7.1 <jane@elsewhere.test>: Relay access denied", K.PERMANENT),  # Postfix
    (550, "5.7.1 <jane@acme.test>: Recipient address rejected: Access denied", K.PERMANENT),
    (550, "5.7.1 User unknown; policy rejection", K.PERMANENT),  # x.7.x is policy, whatever the words
    (553, "5.7.1 <me@probe.test>: Sender address rejected: not owned by user probe", K.PERMANENT),
    (
        550,
        "5.7.26 This mail is unauthenticated, which poses a security risk to the sender and Gmail users",
        K.PERMANENT,
    ),
    (552, "5.3.4 Message size exceeds fixed limit", K.PERMANENT),
    (554, "delivery error: dd This user doesn't have a yahoo.com account (jane@yahoo.com) [0]", K.PERMANENT),
    (551, "User not local; please try <jane@elsewhere.test>", K.PERMANENT),
    (550, "unknown error", K.PERMANENT),
    (553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", K.PERMANENT),  # qmail relay
    (500, "5.5.2 Error: command not recognized", K.PERMANENT),
    # temporary
    (451, "4.3.0 Temporary lookup failure", K.TEMPORARY),  # Postfix
    (
        450,
        "4.1.1 <jane@acme.test>: Recipient address rejected: unverified address: connection refused",
        K.TEMPORARY,
    ),  # a temporary "unknown" is never NO_SUCH_USER
    (
        450,
        "4.2.1 The user you are trying to contact is receiving mail at a rate that\n"
        "4.2.1 prevents additional messages from being delivered. Please resend your\n"
        "4.2.1 message at a later time.",
        K.TEMPORARY,
    ),  # Gmail
    (452, "4.3.1 Insufficient system storage", K.TEMPORARY),
]


@pytest.mark.parametrize(("code", "text", "kind"), REAL_REPLIES)
def test_classify_real_replies(code: int, text: str, kind: ReplyKind) -> None:
    reply = classify(code, text)
    assert (reply.kind, reply.code) == (kind, code)


@pytest.mark.parametrize(
    ("text", "enhanced"),
    [
        ("5.1.1 <jane@acme.test>: User unknown", "5.1.1"),
        ("550-5.1.1 The email account that you tried to reach does not exist.", "5.1.1"),  # raw line
        ("550 5.7.606 Access denied", "5.7.606"),
        ("  4.2.2 over quota", "4.2.2"),
        ("5.1.10 RESOLVER.ADR.RecipientNotFound", "5.1.10"),
        ("User unknown 5.1.1", None),  # only at the start
        ("sorry, no mailbox here by that name. (#5.1.1)", None),
        ("5.1.1.4 not a status", None),
        ("Ok", None),
    ],
)
def test_classify_reads_enhanced_status_at_start(text: str, enhanced: str | None) -> None:
    assert classify(550, text).enhanced == enhanced


def test_classify_keeps_the_text_as_evidence() -> None:
    reply = classify(550, " 5.1.1 <jane@acme.test>: User unknown \r\n")
    assert reply.text == "5.1.1 <jane@acme.test>: User unknown"


def test_classify_code_decides_temporary_against_permanent_status() -> None:
    # A 4xx may never become a mailbox fact, even with a 5.1.1-style status or user-unknown words.
    assert classify(450, "5.1.1 User unknown").kind is K.TEMPORARY
    assert classify(550, "5.1.1 User unknown").kind is K.NO_SUCH_USER


# --- the session against the scripted server ---------------------------------------------------------

HOST = "127.0.0.42"
HELO = "probe.mailsleuth.test"
SENDER = "check@probe.mailsleuth.test"


@asynccontextmanager
async def serving(behaviour: Behaviour, **options: Any) -> AsyncIterator[ScriptedSmtpServer]:
    async with ScriptedSmtpServer(HOST, 0, behaviour, **options) as server:
        yield server


async def probe(server: ScriptedSmtpServer, **overrides: Any) -> SmtpSession:
    options: dict[str, Any] = (
        dict(helo=HELO, mail_from=SENDER, connect_timeout=2.0, command_timeout=2.0) | overrides
    )
    return await SmtpSession.open(server.host, server.port, **options)


async def test_session_checks_many_recipients_on_one_connection() -> None:
    async with serving(Behaviour(mailboxes={"Jane.Doe"})) as server:
        session = await probe(server)
        assert (await session.rcpt("jane.doe@acme.test")).kind is K.ACCEPTED
        unknown = await session.rcpt("bob@acme.test")
        await session.reset()
        assert (await session.rcpt("JANE.DOE@other.test")).kind is K.ACCEPTED
        assert session.recipients == 3
        await session.close()
        assert session.closed

    assert (unknown.kind, unknown.code, unknown.enhanced) == (K.NO_SUCH_USER, 550, "5.1.1")
    assert server.stats.connections == 1
    assert server.stats.helo_names == {HELO}
    assert server.stats.mail_from == {SENDER}
    assert list(server.stats.commands) == [
        f"EHLO {HELO}",
        f"MAIL FROM:<{SENDER}>",
        "RCPT TO:<jane.doe@acme.test>",
        "RCPT TO:<bob@acme.test>",
        "RSET",
        f"MAIL FROM:<{SENDER}>",
        "RCPT TO:<JANE.DOE@other.test>",
        "QUIT",
    ]
    assert server.stats.data_count == 0


async def test_identity_on_the_wire_is_configurable() -> None:
    async with (
        serving(Behaviour()) as server,
        await probe(server, helo="mx-check.example.test", mail_from=""),
    ):
        pass
    assert server.stats.helo_names == {"mx-check.example.test"}
    assert server.stats.mail_from == {""}  # the null sender <>


async def test_falls_back_to_helo_when_ehlo_is_refused() -> None:
    async with (
        serving(Behaviour(mailboxes={"jane"}, refuse_ehlo=True)) as server,
        await probe(server) as session,
    ):
        assert (await session.rcpt("jane@acme.test")).kind is K.ACCEPTED
    assert list(server.stats.commands)[:2] == [f"EHLO {HELO}", f"HELO {HELO}"]


@pytest.mark.parametrize("offered", [True, False])
async def test_starttls_when_asked_and_offered(offered: bool) -> None:
    async with (
        serving(Behaviour(mailboxes={"jane"}, starttls=offered)) as server,
        await probe(server, starttls=True) as session,
    ):
        assert (await session.rcpt("jane@acme.test")).kind is K.ACCEPTED
    commands = list(server.stats.commands)
    if offered:
        assert commands[:3] == [f"EHLO {HELO}", "STARTTLS", f"EHLO {HELO}"]
    else:
        assert "STARTTLS" not in commands


async def test_no_starttls_unless_asked() -> None:
    async with serving(Behaviour(starttls=True)) as server, await probe(server):
        pass
    assert "STARTTLS" not in server.stats.commands


@pytest.mark.parametrize(
    ("behaviour", "code", "kind"),
    [
        (Behaviour(mailboxes={"jane"}), 250, K.ACCEPTED),
        (Behaviour(mailboxes={"jane@acme.test"}), 250, K.ACCEPTED),
        (Behaviour(mailboxes={"jane@other.test"}), 550, K.NO_SUCH_USER),  # full address: that domain only
        (Behaviour(catch_all=True), 250, K.ACCEPTED),
        (Behaviour(), 550, K.NO_SUCH_USER),
        (Behaviour(mailboxes={"jane"}, full={"jane"}), 552, K.FULL),
        (Behaviour(mailboxes={"jane"}, disabled={"Jane"}), 550, K.DISABLED),
        (Behaviour(catch_all=True, disabled={"jane@acme.test"}), 550, K.DISABLED),
    ],
)
async def test_mailbox_answers(behaviour: Behaviour, code: int, kind: ReplyKind) -> None:
    async with serving(behaviour) as server, await probe(server) as session:
        reply = await session.rcpt("jane@acme.test")
    assert (reply.code, reply.kind) == (code, kind)


async def test_greylisting_until_the_delay_has_passed() -> None:
    now = [1000.0]
    async with (
        serving(Behaviour(mailboxes={"jane"}, greylist_seconds=300), clock=lambda: now[0]) as server,
        await probe(server) as session,
    ):
        first = await session.rcpt("jane@acme.test")
        now[0] += 299
        again = await session.rcpt("jane@acme.test")
        now[0] += 1
        later = await session.rcpt("jane@acme.test")
    assert (first.code, first.enhanced, first.kind) == (450, "4.7.1", K.GREYLISTED)
    assert again.kind is K.GREYLISTED
    assert later.kind is K.ACCEPTED


async def test_too_many_recipients_means_slow_down() -> None:
    async with serving(Behaviour(catch_all=True, max_recipients=2)) as server, await probe(server) as session:
        kinds = [(await session.rcpt(f"user{n}@acme.test")).kind for n in range(3)]
    assert kinds == [K.ACCEPTED, K.ACCEPTED, K.SLOW_DOWN]


async def test_block_at_mail_from_is_an_error_with_the_reply() -> None:
    async with serving(Behaviour(block=True)) as server:
        with pytest.raises(ProbeError) as caught:
            await probe(server)
    assert caught.value.stage == "mail"
    assert caught.value.reply is not None
    assert (caught.value.reply.code, caught.value.reply.kind) == (554, K.BLOCKED)
    assert list(server.stats.commands)[-1] == "QUIT"  # still polite on the way out
    assert server.stats.rcpt_count == 0


async def test_connection_limit_gives_421_banner() -> None:
    async with serving(Behaviour(max_connections=1)) as server, await probe(server):
        with pytest.raises(ProbeError) as caught:
            await probe(server)
    assert caught.value.stage == "banner"
    assert caught.value.reply is not None
    assert (caught.value.reply.code, caught.value.reply.kind) == (421, K.SLOW_DOWN)
    assert (server.stats.connections, server.stats.refused, server.stats.max_concurrent) == (2, 1, 2)


async def test_banner_tarpit_times_out() -> None:
    async with serving(Behaviour(banner_delay=30)) as server:
        with pytest.raises(ProbeError) as caught:
            await probe(server, command_timeout=0.2)
    assert (caught.value.stage, caught.value.reply) == ("banner", None)


async def test_slow_rcpt_times_out_and_closes() -> None:
    async with serving(Behaviour(catch_all=True)) as server:
        session = await probe(server, command_timeout=0.2)
        server.behaviour.latency = 30
        with pytest.raises(ProbeError) as caught:
            await session.rcpt("jane@acme.test")
        assert session.closed
        await session.close()  # never raises
        with pytest.raises(ProbeError) as again:
            await session.rcpt("jane@acme.test")
    assert (caught.value.stage, caught.value.reply) == ("rcpt", None)
    assert again.value.stage == "rcpt"


async def test_dropped_connection_is_an_error_without_reply() -> None:
    async with serving(Behaviour(catch_all=True)) as server:
        session = await probe(server)
        await server.stop()
        with pytest.raises(ProbeError) as caught:
            await session.rcpt("jane@acme.test")
        await session.close()
    assert (caught.value.stage, caught.value.reply) == ("rcpt", None)
    assert session.closed


async def test_dead_port_is_a_connect_error() -> None:
    with socket.socket() as placeholder:
        placeholder.bind((HOST, 0))
        port = placeholder.getsockname()[1]
    with pytest.raises(ProbeError) as caught:
        await SmtpSession.open(HOST, port, helo=HELO, mail_from=SENDER, connect_timeout=1, command_timeout=1)
    assert (caught.value.stage, caught.value.reply) == ("connect", None)


@pytest.mark.parametrize(
    "address",
    [
        "jane@acme.test\r\nDATA",
        "jane@acme.test>\r\nRCPT TO:<bob@acme.test",
        "jane@acme.test\n",
        "jane@acme.test\r",
        "ja\x00ne@acme.test",
        "ja\x1bne@acme.test",
        "ja\x7fne@acme.test",
        "ja\x85ne@acme.test",
        "<jane@acme.test>",
        "jane@acme.test> NOTIFY=NEVER",
        "ja ne@acme.test",
        "jane@acme.test\t",
        "jäne@acme.test",
        "",
    ],
)
async def test_unsafe_recipient_never_reaches_the_wire(address: str) -> None:
    async with serving(Behaviour(catch_all=True)) as server, await probe(server) as session:
        with pytest.raises(ValueError):
            await session.rcpt(address)
        assert session.recipients == 0
        assert (await session.rcpt("jane@acme.test")).kind is K.ACCEPTED  # the session is still usable
    assert server.stats.rcpt_count == 1
    assert [line for line in server.stats.commands if line.startswith("RCPT")] == ["RCPT TO:<jane@acme.test>"]
    assert "DATA" not in server.stats.commands


@pytest.mark.parametrize(
    ("helo", "mail_from"),
    [("probe.test\r\nRCPT TO:<x@y.test>", SENDER), (HELO, "me@probe.test>\r\nDATA"), ("", SENDER)],
)
async def test_unsafe_identity_is_refused_before_connecting(helo: str, mail_from: str) -> None:
    async with serving(Behaviour()) as server:
        with pytest.raises(ValueError):
            await probe(server, helo=helo, mail_from=mail_from)
    assert server.stats.connections == 0


async def test_sessions_share_a_host_concurrently() -> None:
    async with serving(Behaviour(mailboxes={"jane"})) as server:
        sessions = await asyncio.gather(probe(server), probe(server))
        replies = await asyncio.gather(*(session.rcpt("jane@acme.test") for session in sessions))
        await asyncio.gather(*(session.close() for session in sessions))
    assert [reply.kind for reply in replies] == [K.ACCEPTED, K.ACCEPTED]
    assert (server.stats.connections, server.stats.max_concurrent, server.stats.rcpt_count) == (2, 2, 2)


async def test_server_counts_data_so_the_probe_tests_can_fail() -> None:
    async with serving(Behaviour(catch_all=True)) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        lines = [b"EHLO raw.test", b"MAIL FROM:<a@raw.test>", b"RCPT TO:<b@acme.test>", b"DATA", b"QUIT"]
        replies = [await reader.readline()]
        for line in lines:
            writer.write(line + b"\r\n")
            replies.append(await _read_reply(reader))
        writer.close()
    assert replies[4].startswith(b"554 ")
    assert server.stats.data_count == 1


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    """The last line of a possibly multi-line reply."""
    while (line := await reader.readline())[3:4] == b"-":
        pass
    return line


async def test_a_session_leaves_from_the_configured_source_address() -> None:
    """MAILSLEUTH_SOURCE_ADDRESS: the server sees the connection come from that local address."""
    peers: list[str] = []

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        writer.write(b"220 peer.test ESMTP\r\n")
        while line := await reader.readline():
            writer.write(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 ok\r\n")
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        session = await SmtpSession.open(
            "127.0.0.1", port, helo="probe.test", mail_from="", connect_timeout=5, command_timeout=5,
            source_address="127.0.0.7",
        )
        await session.close()
        with pytest.raises(ProbeError, match="connect"):  # not an address of this machine
            await SmtpSession.open(
                "127.0.0.1", port, helo="probe.test", mail_from="", connect_timeout=5, command_timeout=5,
                source_address="192.0.2.1",
            )
    finally:
        server.close()
        await server.wait_closed()
    assert peers == ["127.0.0.7"]
    assert Settings(source_address="127.0.0.7").prober == "127.0.0.7"
    assert Settings(source_address="", helo_name="probe.test").prober == "probe.test"
    with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 address"):
        Settings(source_address="mx.example.com")
