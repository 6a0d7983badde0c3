"""The SMTP probe: one polite conversation with a mail host, and what its replies mean.

A probe asks a server whether it would accept a recipient (RCPT TO) and never sends DATA, so nothing
is ever delivered. `classify` is pure and carries all the judgement; `SmtpSession` only moves lines.

The session is built on aiosmtplib rather than raw streams: it already parses multi-line replies, caps
reply sizes, upgrades to TLS in place and refuses control characters on command lines (a second guard
behind ours). Only MAIL and RCPT go through `execute_command`, so every reply code comes back raw instead
of as an exception, and the TCP connection is opened here so a dead port ("connect") is told apart from
a server that never greets ("banner"). When the server offers PIPELINING (RFC 2920), the RCPT
commands of a batch go out in one write and `pipelining.ReplyGroup` reads their replies, which
aiosmtplib cannot do.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import cast

import aiosmtplib

from mailsleuth.engine.pipelining import GroupBroken, ReplyGroup
from mailsleuth.engine.results import ReplyKind, SmtpReply

__all__ = ["ProbeError", "SmtpSession", "classify"]

# RFC 3463: class.subject.detail at the start of the text, possibly after the code of a raw
# multi-line reply ("550-5.1.1 ...").
_ENHANCED = re.compile(r"^\s*(?:\d{3}[ -])?([245])\.(\d{1,3})\.(\d{1,3})(?![.\d])")

# Statuses that name the mailbox itself as missing: 5.1.1 bad mailbox, 5.1.6 moved without forwarding,
# 5.1.10 Office 365's "RecipientNotFound".
_NO_USER_DETAILS = {(1, 1), (1, 6), (1, 10)}

_BLOCK_WORDS = re.compile(
    r"spamhaus|spamcop|barracuda|blocked|banned|reputation|black ?list|block ?list|\brbl\b|dnsbl"
    r"|client host rejected"
)
_MAILBOX = r"(?:user|recipient|mailbox|address|account)"
_NO_USER_WORDS = re.compile(
    rf"no such {_MAILBOX}|{_MAILBOX} (?:name )?(?:is )?(?:unknown|not found)|unknown {_MAILBOX}"
    rf"|invalid {_MAILBOX}|does ?n[o']?t exist|no mailbox"
)
_DISABLED_WORDS = re.compile(  # about the mailbox, in the same clause: "relaying disabled" is not
    rf"{_MAILBOX}[^.;:]{{0,40}}\b(?:disabled|inactive|suspended|deactivated)"
    rf"|(?:disabled|inactive|suspended|deactivated) {_MAILBOX}"
)
_FULL_WORDS = re.compile(r"over ?quota|quota exceeded|mailbox (?:is )?full|insufficient storage")
_GREYLIST_WORDS = re.compile(r"gr[ea]ylist|try (?:again )?later|come back later")
_TOO_MANY_WORDS = re.compile(r"too many")


def classify(code: int, text: str) -> SmtpReply:
    """Say what a reply means, judging by the code first, then the enhanced status, then the text.

    Only a clear statement about the mailbox may become NO_SUCH_USER, because that one is reported as
    undeliverable; anything unrecognised stays PERMANENT or TEMPORARY (both graded unknown). In order:

    1. 2xx: ACCEPTED.
    2. Blocklist words, unless the enhanced status is about the mailbox (x.1.x, x.2.x): BLOCKED.
    3. 421, x.5.3, or "too many" on a 4xx: SLOW_DOWN (RFC 5321 says a 552 "too many recipients" is
       temporary too).
    4. 5xx: 5.1.1/5.1.6/5.1.10 NO_SUCH_USER, x.2.1 DISABLED, x.2.2 FULL, other x.7.x PERMANENT
       (policy, not a mailbox fact); then the text: disabled words DISABLED, a bare 552 or quota words
       FULL, user-unknown words on 550/551/553 with a status that does not contradict them
       (none, x.0.x, x.1.x) NO_SUCH_USER; else PERMANENT. A bare "550 mailbox unavailable" is
       PERMANENT: RFC 5321 gives that text for policy refusals as well.
    5. Anything else: x.2.2 or quota words FULL, 450/451 with x.7.x or greylisting words GREYLISTED,
       else TEMPORARY.
    """
    match = _ENHANCED.match(text)
    enhanced = ".".join(match.groups()) if match else None
    status = (int(match[2]), int(match[3])) if match else None
    return SmtpReply(code=code, enhanced=enhanced, text=text.strip(), kind=_kind(code, status, text.lower()))


def _kind(code: int, status: tuple[int, int] | None, text: str) -> ReplyKind:
    subject = status[0] if status else None
    if 200 <= code < 300:
        return ReplyKind.ACCEPTED
    if subject not in (1, 2) and _BLOCK_WORDS.search(text):
        return ReplyKind.BLOCKED
    if code == 421 or status == (5, 3) or (400 <= code < 500 and _TOO_MANY_WORDS.search(text)):
        return ReplyKind.SLOW_DOWN
    if 500 <= code < 600:
        return _permanent_kind(code, status, text)
    if status == (2, 2) or _FULL_WORDS.search(text):
        return ReplyKind.FULL
    if (code in (450, 451) and subject == 7) or _GREYLIST_WORDS.search(text):
        return ReplyKind.GREYLISTED
    return ReplyKind.TEMPORARY


def _permanent_kind(code: int, status: tuple[int, int] | None, text: str) -> ReplyKind:
    subject = status[0] if status else None
    if status in _NO_USER_DETAILS:
        return ReplyKind.NO_SUCH_USER
    if status == (2, 1):
        return ReplyKind.DISABLED
    if status == (2, 2):
        return ReplyKind.FULL
    if subject == 7:
        return ReplyKind.PERMANENT
    if _DISABLED_WORDS.search(text):
        return ReplyKind.DISABLED
    if (code == 552 and status is None) or _FULL_WORDS.search(text):
        return ReplyKind.FULL
    if code in (550, 551, 553) and subject in (None, 0, 1) and _NO_USER_WORDS.search(text):
        return ReplyKind.NO_SUCH_USER
    return ReplyKind.PERMANENT


class ProbeError(Exception):
    """A probe that could not get an answer about the mailbox.

    `stage` says where it stopped ("connect", "banner", "ehlo", "helo", "starttls", "mail", "rset",
    "rcpt"); `reply` is the classified reply when the server said no, None on a timeout or a dropped
    connection. Either way the mailbox's fate is unknown.
    """

    def __init__(self, stage: str, message: str, reply: SmtpReply | None = None) -> None:
        super().__init__(f"{stage}: {message}")
        self.stage = stage
        self.reply = reply


# Printable ASCII without space and angle brackets: what _check_wire_text lets through, at a glance.
_WIRE_SAFE = re.compile(r"[\x21-\x3b\x3d\x3f-\x7e]+\Z")


def _check_wire_text(value: str, what: str, *, allow_empty: bool = False) -> str:
    """Refuse anything that could end an SMTP line early or smuggle parameters onto it."""
    if len(value) <= 254 and _WIRE_SAFE.match(value):
        return value
    if not value and not allow_empty:
        raise ValueError(f"{what} is empty")
    if len(value) > 254:
        raise ValueError(f"{what} is longer than 254 characters")
    for char in value:
        if not char.isascii():
            raise ValueError(f"{what} is not ASCII (SMTPUTF8 is not supported): {value!r}")
        if not char.isprintable() or char in "<> ":
            raise ValueError(f"{what} contains a forbidden character {char!r}: {value!r}")
    return value


def _refusal(stage: str, code: int, message: str) -> ProbeError:
    return ProbeError(stage, f"{code} {message}", classify(code, message))


@contextmanager
def _stage(stage: str) -> Iterator[None]:
    """Turn aiosmtplib's exceptions into ProbeError: a refusal keeps its reply, a timeout or drop has none."""
    try:
        yield
    except aiosmtplib.SMTPResponseException as exc:
        raise _refusal(stage, exc.code, exc.message) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:  # timeouts, disconnects, TLS failures
        raise ProbeError(stage, str(exc) or type(exc).__name__) from exc


class SmtpSession:
    """One connection to one mail host, ready to ask about any number of recipients.

    Open it with `SmtpSession.open`; it is an async context manager that QUITs on exit.
    """

    def __init__(self, client: aiosmtplib.SMTP, host: str, mail_from: str) -> None:
        self._client = client
        self._sender = mail_from
        self._closed = False
        self._timeout = client.timeout
        self.host = host
        self.recipients = 0
        self.pipelining = False  # the server offered PIPELINING (and the caller allowed it)
        self.hello_reply = ""  # what the server said to EHLO/HELO (often the client address it sees)
        self.local_address = ""  # this side's address of the connection

    @classmethod
    async def open(
        cls,
        address: str,
        port: int,
        *,
        helo: str,
        mail_from: str,
        connect_timeout: float,
        command_timeout: float,
        starttls: bool = False,
        tls_context: ssl.SSLContext | None = None,
        source_address: str = "",
        pipelining: bool = True,
    ) -> SmtpSession:
        """Connect to the IP `address`, read the banner, EHLO (HELO if refused), STARTTLS, MAIL FROM.

        STARTTLS happens only when asked and offered, and so does PIPELINING (see `rcpt_each`).
        `tls_context` defaults to one that does not verify the server: a probe only wants privacy on
        the wire, and mail hosts often present certificates for another name. An empty `mail_from`
        sends the null sender `<>`. `source_address` is the local IP to connect from (empty: the
        system's choice).
        """
        _check_wire_text(helo, "HELO name")
        _check_wire_text(mail_from, "MAIL FROM address", allow_empty=True)
        sock = await _connect(address, port, connect_timeout, source_address)
        client = aiosmtplib.SMTP(
            hostname=address, sock=sock, local_hostname=helo, timeout=command_timeout, start_tls=False
        )
        session = cls(client, address, mail_from)
        session.local_address = str(sock.getsockname()[0])
        try:
            with _stage("banner"):
                await client.connect()
            await session._hello(helo)
            if starttls and client.supports_extension("starttls"):
                with _stage("starttls"):
                    await client.starttls(tls_context=tls_context or _unverified_context())
                await session._hello(helo)  # RFC 3207: forget what was learned before TLS, ask again
            session.pipelining = pipelining and client.supports_extension("pipelining")
            await session._mail_from()
        except ProbeError:
            await session.close()  # QUIT if the server is still listening
            sock.close()
            raise
        except BaseException:  # cancelled: leave at once
            client.close()
            sock.close()
            raise
        return session

    @property
    def closed(self) -> bool:
        return self._closed or not self._client.is_connected

    async def rcpt(self, address: str) -> SmtpReply:
        """Ask whether the server would accept `address`; the reply is classified, never raised.

        The address is checked before anything is sent, so a CR, LF or other control character never
        reaches the wire (ValueError). Timeouts and dropped connections raise ProbeError; after a 421
        the server has hung up and `closed` is true.
        """
        _check_wire_text(address, "recipient")
        self._require_open("rcpt")
        self.recipients += 1
        response = await self._command("rcpt", b"RCPT", b"TO:<" + address.encode("ascii") + b">")
        return classify(response.code, response.message)

    async def rcpt_each(self, addresses: Sequence[str], *, then_quit: bool = False) -> AsyncIterator[SmtpReply]:
        """Ask about each address in turn, yielding the classified replies in order.

        With PIPELINING the RCPT commands go out as one group in one write (RFC 2920 lets RCPT
        commands be grouped) and the replies are read back in order, each within the command
        timeout; without it each command waits for its reply, so a caller that stops early (after
        a 421, say) sends no more. Every address is checked before anything is sent. Use it under
        `contextlib.aclosing`: a group left early is still read to its end so that the
        conversation stays in step, and a group that cannot be (timeout, garbage) drops the
        connection. Timeouts and dropped connections raise ProbeError after the replies that came.

        `then_quit` ends the session with this batch (its recipient budget is spent): QUIT rides at
        the end of the group (RFC 2920 allows it as a group's last command), or follows the last
        reply without PIPELINING.
        """
        lines = [b"RCPT TO:<" + _check_wire_text(a, "recipient").encode("ascii") + b">\r\n" for a in addresses]
        self._require_open("rcpt")
        if not self.pipelining or len(lines) < 2:
            for address in addresses:
                yield await self.rcpt(address)
            if then_quit:
                await self.close()
            return
        transport = cast(asyncio.Transport, self._client.transport)
        commands = lines + [b"QUIT\r\n"] if then_quit else lines
        taken = 0
        async with ReplyGroup(transport, len(commands)) as group:
            transport.write(b"".join(commands))
            self.recipients += len(lines)
            try:
                while taken < len(lines):
                    code, text = await group.next(self._timeout)
                    taken += 1
                    yield classify(code, text)
            except (TimeoutError, GroupBroken) as exc:
                self._client.close()  # out of step with the server: never pair a stale reply with a command
                what = "timed out waiting for a reply" if isinstance(exc, TimeoutError) else str(exc)
                raise ProbeError("rcpt", f"{what} ({taken} of {len(lines)} pipelined recipients answered)") from exc
            except GeneratorExit:  # the caller stopped early: read the rest so the next command pairs up
                await self._finish(group, quitting=then_quit)
                raise
            except BaseException:  # cancelled mid-group
                self._client.close()
                raise
            await self._finish(group, quitting=then_quit)  # the QUIT's goodbye, if it was sent

    async def _finish(self, group: ReplyGroup, *, quitting: bool) -> None:
        """Read the rest of a group's replies; a session whose group ended in QUIT is closed."""
        try:
            while not group.complete:
                await group.next(self._timeout)
        except Exception:
            self._client.close()
        except BaseException:
            self._client.close()
            raise
        if quitting:
            self._closed = True
            self._client.close()

    async def reset(self) -> None:
        """RSET and MAIL FROM again, so the next recipients start a fresh transaction."""
        self._require_open("rset")
        response = await self._command("rset", b"RSET")
        if response.code != 250:
            raise _refusal("rset", response.code, response.message)
        await self._mail_from()

    async def close(self) -> None:
        """QUIT politely; a server that has already gone is not an error."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._client.is_connected:
                await self._client.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            self._client.close()

    async def __aenter__(self) -> SmtpSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _hello(self, helo: str) -> None:
        try:
            with _stage("ehlo"):
                self.hello_reply = (await self._client.ehlo(hostname=helo)).message
        except ProbeError as exc:
            # A 5xx is how pre-ESMTP hosts say "unknown command": greet them the old way. A 4xx means
            # "not now" and stands.
            if exc.reply is None or exc.reply.code < 500 or not self._client.is_connected:
                raise
            with _stage("helo"):
                self.hello_reply = (await self._client.helo(hostname=helo)).message

    async def _mail_from(self) -> None:
        response = await self._command("mail", b"MAIL", b"FROM:<" + self._sender.encode("ascii") + b">")
        if response.code != 250:
            raise _refusal("mail", response.code, response.message)

    async def _command(self, stage: str, *args: bytes) -> aiosmtplib.SMTPResponse:
        with _stage(stage):
            return await self._client.execute_command(*args)

    def _require_open(self, stage: str) -> None:
        if self.closed:
            raise ProbeError(stage, f"the connection to {self.host} is closed")


async def _connect(address: str, port: int, timeout: float, source_address: str = "") -> socket.socket:
    """Open the TCP connection here so a dead port is stage "connect", not "banner"."""
    loop = asyncio.get_running_loop()
    try:
        ip = ipaddress.ip_address(address)  # parsed here: getaddrinfo would take a thread for it
    except ValueError as exc:
        raise ProbeError("connect", f"not an IP address: {address!r}") from exc
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    sockaddr = (address, port, 0, 0) if ip.version == 6 else (address, port)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setblocking(False)
    try:
        if source_address:
            sock.bind((source_address, 0))
        async with asyncio.timeout(timeout):
            await loop.sock_connect(sock, sockaddr)
    except BaseException as exc:
        sock.close()
        if isinstance(exc, TimeoutError):
            raise ProbeError("connect", f"timed out connecting to {address}:{port}") from exc
        if isinstance(exc, OSError):
            raise ProbeError("connect", f"{address}:{port}: {exc.strerror or exc}") from exc
        raise
    return sock


def _unverified_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
