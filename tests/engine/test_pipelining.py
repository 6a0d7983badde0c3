"""Pipelined RCPT batches (RFC 2920): against the scripted server with and without PIPELINING, and
against a raw loopback server that writes the replies byte by byte as a test scripts them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from typing import Any

import pytest

from mailsleuth.engine.results import ReplyKind, SmtpReply
from mailsleuth.engine.smtp import ProbeError, SmtpSession
from tests.mailworld.smtp_server import Behaviour, ScriptedSmtpServer

K = ReplyKind
HOST = "127.0.0.43"
HELO = "probe.mailsleuth.test"
SENDER = "check@probe.mailsleuth.test"
MIXED = ["jane@acme.test", "bob@acme.test", "full@acme.test", "gone@acme.test", "JANE@other.test"]
MIXED_KINDS = [K.ACCEPTED, K.NO_SUCH_USER, K.FULL, K.DISABLED, K.ACCEPTED]


def mixed_host(**options: Any) -> Behaviour:
    return Behaviour(mailboxes={"jane", "full", "gone"}, full={"full"}, disabled={"gone"}, **options)


@asynccontextmanager
async def session_with(behaviour: Behaviour, **options: Any) -> AsyncIterator[tuple[ScriptedSmtpServer, SmtpSession]]:
    async with ScriptedSmtpServer(HOST, 0, behaviour) as server:
        session = await SmtpSession.open(
            server.host, server.port, helo=HELO, mail_from=SENDER, connect_timeout=2.0, command_timeout=2.0, **options
        )
        async with session:
            yield server, session


async def replies_for(session: SmtpSession, addresses: list[str]) -> list[SmtpReply]:
    async with aclosing(session.rcpt_each(addresses)) as replies:
        return [reply async for reply in replies]


def rcpt_lines(server: ScriptedSmtpServer) -> list[str]:
    return [line for line in server.stats.commands if line.startswith("RCPT")]


async def test_a_batch_goes_out_as_one_group_and_each_reply_pairs_with_its_recipient() -> None:
    async with session_with(mixed_host()) as (server, session):
        assert session.pipelining
        replies = await replies_for(session, MIXED)
        assert session.recipients == len(MIXED)
        await session.reset()  # aiosmtplib is in charge again and in step
        after = await session.rcpt("jane@acme.test")
    assert [reply.kind for reply in replies] == MIXED_KINDS
    assert replies[1].text == "5.1.1 <bob@acme.test>: Recipient address rejected: User unknown in virtual mailbox table"
    assert after.kind is K.ACCEPTED
    assert server.stats.pipelined == len(MIXED) - 1  # every RCPT after the first came before a reply
    assert rcpt_lines(server) == [f"RCPT TO:<{address}>" for address in MIXED] + ["RCPT TO:<jane@acme.test>"]
    assert server.stats.data_count == 0


@pytest.mark.parametrize(
    ("behaviour", "options"),
    [(mixed_host(pipelining=False), {}), (mixed_host(), {"pipelining": False})],
    ids=["not offered", "not wanted"],
)
async def test_without_pipelining_each_recipient_waits_for_its_reply(
    behaviour: Behaviour, options: dict[str, Any]
) -> None:
    async with session_with(behaviour, **options) as (server, session):
        assert not session.pipelining
        replies = await replies_for(session, MIXED)
    assert [reply.kind for reply in replies] == MIXED_KINDS
    assert server.stats.pipelined == 0
    assert rcpt_lines(server) == [f"RCPT TO:<{address}>" for address in MIXED]


async def test_without_pipelining_stopping_early_sends_no_more() -> None:
    async with session_with(mixed_host(pipelining=False)) as (server, session):
        async with aclosing(session.rcpt_each(MIXED)) as replies:
            async for _ in replies:
                break
    assert rcpt_lines(server) == [f"RCPT TO:<{MIXED[0]}>"]


async def test_a_group_left_early_is_read_to_its_end_so_later_replies_pair_up() -> None:
    async with session_with(mixed_host()) as (server, session):
        async with aclosing(session.rcpt_each(MIXED)) as replies:
            async for reply in replies:
                assert reply.kind is K.ACCEPTED
                break
        assert not session.closed
        assert (await session.rcpt("bob@acme.test")).kind is K.NO_SUCH_USER
        assert (await session.rcpt("jane@acme.test")).kind is K.ACCEPTED
    assert server.stats.rcpt_count == len(MIXED) + 2


@pytest.mark.parametrize("offered", [True, False])
async def test_a_batch_that_spends_the_session_ends_with_quit(offered: bool) -> None:
    async with session_with(mixed_host(pipelining=offered)) as (server, session):
        async with aclosing(session.rcpt_each(MIXED, then_quit=True)) as replies:
            kinds = [reply.kind async for reply in replies]
        assert session.closed
    assert kinds == MIXED_KINDS
    assert list(server.stats.commands)[-len(MIXED) - 1 :] == [f"RCPT TO:<{a}>" for a in MIXED] + ["QUIT"]
    assert server.stats.pipelined == (len(MIXED) if offered else 0)  # QUIT rode in the group
    assert server.stats.commands.count("QUIT") == 1


async def test_a_quitting_group_left_early_still_says_goodbye() -> None:
    async with session_with(mixed_host()) as (server, session):
        async with aclosing(session.rcpt_each(MIXED, then_quit=True)) as replies:
            async for _ in replies:
                break
        assert session.closed
    assert list(server.stats.commands)[-1] == "QUIT"
    assert server.stats.commands.count("QUIT") == 1


async def test_too_many_recipients_mid_group_reads_as_slow_down_for_the_rest() -> None:
    async with session_with(Behaviour(catch_all=True, max_recipients=2)) as (_, session):
        replies = await replies_for(session, [f"user{n}@acme.test" for n in range(5)])
        assert not session.closed  # 452 is an answer, not a hang-up: QUIT still follows
    assert [reply.kind for reply in replies] == [K.ACCEPTED, K.ACCEPTED] + [K.SLOW_DOWN] * 3
    assert [reply.code for reply in replies] == [250, 250, 452, 452, 452]


async def test_a_hang_up_mid_group_gives_the_replies_that_came_then_an_error() -> None:
    async with session_with(Behaviour(catch_all=True, hang_up_after=2)) as (_, session):
        seen: list[SmtpReply] = []
        with pytest.raises(ProbeError) as caught:
            async with aclosing(session.rcpt_each([f"user{n}@acme.test" for n in range(5)])) as replies:
                async for reply in replies:
                    seen.append(reply)
        assert session.closed
    assert [(reply.code, reply.kind) for reply in seen] == [(250, K.ACCEPTED)] * 2 + [(421, K.SLOW_DOWN)]
    assert caught.value.stage == "rcpt" and caught.value.reply is None
    assert "3 of 5 pipelined recipients answered" in str(caught.value)


@pytest.mark.parametrize("unsafe", ["bob@acme.test\r\nDATA", "bob@acme.test> NOTIFY=NEVER", "jäne@acme.test", ""])
async def test_an_unsafe_recipient_anywhere_in_a_batch_stops_it_before_anything_is_sent(unsafe: str) -> None:
    async with session_with(Behaviour(catch_all=True)) as (server, session):
        with pytest.raises(ValueError):
            await replies_for(session, ["jane@acme.test", unsafe, "john@acme.test"])
        assert session.recipients == 0
        assert (await session.rcpt("jane@acme.test")).kind is K.ACCEPTED
    assert rcpt_lines(server) == ["RCPT TO:<jane@acme.test>"]


async def test_a_slow_group_times_out_and_drops_the_connection() -> None:
    async with session_with(Behaviour(catch_all=True)) as (server, session):
        server.behaviour.latency = 30
        session._timeout = 0.2  # the command timeout the session was opened with, made short
        with pytest.raises(ProbeError) as caught:
            await replies_for(session, ["jane@acme.test", "john@acme.test"])
        assert session.closed
    assert "timed out waiting for a reply (0 of 2 pipelined recipients answered)" in str(caught.value)


# -- the replies as bytes on the wire ---------------------------------------------------------------

Script = Callable[[asyncio.StreamWriter], Any]


@asynccontextmanager
async def raw_server(script: Script, recipients: int) -> AsyncIterator[int]:
    """A server that greets, offers PIPELINING, takes MAIL, reads ``recipients`` RCPT lines, lets
    ``script`` write whatever bytes the test wants, then accepts any later RCPT ("2.1.5 later")."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 raw.test ESMTP\r\n")
        await reader.readline()
        writer.write(b"250-raw.test\r\n250 PIPELINING\r\n")
        await reader.readline()
        writer.write(b"250 2.1.0 Ok\r\n")
        for _ in range(recipients):
            await reader.readline()
        await script(writer)
        while line := await reader.readline():
            if line.startswith(b"QUIT"):
                writer.write(b"221 Bye\r\n")
                break
            writer.write(b"250 2.1.5 later\r\n" if line.startswith(b"RCPT") else b"502 5.5.2 not here\r\n")
        writer.close()

    server = await asyncio.start_server(handle, HOST, 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_replies_still_on_their_way_when_a_group_is_left_are_not_taken_for_later_ones() -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(b"250 2.1.5 Ok\r\n")
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.write(b"550 5.1.1 second\r\n550 5.1.1 third\r\n")

    async with raw_server(script, 3) as port:
        session = await SmtpSession.open(HOST, port, helo=HELO, mail_from=SENDER, connect_timeout=2, command_timeout=2)
        async with session:
            async with aclosing(session.rcpt_each(["a@acme.test", "b@acme.test", "c@acme.test"])) as replies:
                async for first in replies:
                    break
            later = await session.rcpt("d@acme.test")
    assert (first.code, first.text) == (250, "2.1.5 Ok")
    assert (later.code, later.text) == (250, "2.1.5 later")


async def raw_replies(script: Script, recipients: int) -> list[tuple[int, str, ReplyKind]]:
    async with raw_server(script, recipients) as port:
        session = await SmtpSession.open(HOST, port, helo=HELO, mail_from=SENDER, connect_timeout=2, command_timeout=2)
        async with session:
            replies = await replies_for(session, [f"user{n}@acme.test" for n in range(recipients)])
    return [(reply.code, reply.text, reply.kind) for reply in replies]


async def test_multi_line_replies_split_across_packets_are_put_together_as_aiosmtplib_does() -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        for piece in [
            b"250 2.1.5 Ok\r\n550-5.1.1 The email account that you tried to reach does not exist.",
            b" Please try\r\n550-5.1.1 double-checking the recipient's email\r\n550 5.1.1 ",
            b"address for typos\r\n25",
            b"0 2.1.5 Ok\r\n",
        ]:
            writer.write(piece)
            await writer.drain()
            await asyncio.sleep(0.02)

    assert await raw_replies(script, 3) == [
        (250, "2.1.5 Ok", K.ACCEPTED),
        (
            550,
            "5.1.1 The email account that you tried to reach does not exist. Please try\n"
            "5.1.1 double-checking the recipient's email\n5.1.1 address for typos",
            K.NO_SUCH_USER,
        ),
        (250, "2.1.5 Ok", K.ACCEPTED),
    ]


@pytest.mark.parametrize(
    ("garbage", "problem"),
    [
        (b"250 2.1.5 Ok\r\nhello there\r\n", "malformed reply line"),
        (b"250 " + b"x" * 9000 + b"\r\n", "reply line too long"),
    ],
)
async def test_what_is_not_a_reply_ends_the_group_and_the_connection(garbage: bytes, problem: str) -> None:
    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(garbage)
        await writer.drain()

    with pytest.raises(ProbeError) as caught:
        await raw_replies(script, 2)
    assert caught.value.stage == "rcpt"
    assert problem in str(caught.value)
