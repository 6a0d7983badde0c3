"""A scripted SMTP server: a mail host whose answers the test decides, on plain asyncio streams.

Tests and benchmarks run about a hundred of these at once, so it is a single small coroutine per
connection and no framework. It speaks just enough ESMTP for a prober (EHLO/HELO, STARTTLS, MAIL,
RCPT, RSET, NOOP, VRFY, QUIT) with Postfix-style replies, refuses DATA (and counts it: probing must
never send it), and records what it saw in `stats`. It offers PIPELINING (RFC 2920) unless told not
to: the commands that arrive together are answered in order and their replies go out in one write
once the input is used up, as RFC 2920 asks of a server.

A host may serve several domains, so recipients match on the address as a whole *or* on its local
part alone: `mailboxes={"jane.doe"}` accepts jane.doe at any domain routed here, while
`mailboxes={"jane.doe@acme.test"}` accepts her at acme.test only. Matching is case-insensitive.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from types import TracebackType

__all__ = ["Behaviour", "ScriptedSmtpServer", "ServerStats"]

COMMAND_LOG_SIZE = 1000
_LINE_LIMIT = 4096  # longer command lines end the connection (RFC 5321 allows 512)
_READ_SIZE = 65536
_MAIL_PATH = re.compile(r"FROM:\s*<([^<>]*)>", re.IGNORECASE)
_RCPT_PATH = re.compile(r"TO:\s*<([^<>]+)>", re.IGNORECASE)


@dataclass
class Behaviour:
    """How the host answers. The defaults are a strict, fast host that knows no one.

    Address sets are lower-cased on creation; add lower-case entries if you mutate them later.
    """

    mailboxes: set[str] = field(default_factory=set)  # local parts or full addresses accepted
    catch_all: bool = False  # accept every recipient not listed in `full` or `disabled`
    greylist_seconds: float = 0.0  # 450 4.7.1 for a recipient until this long after its first try
    latency: float = 0.0  # time taken over every reply, banner included (a group's replies leave together)
    banner_delay: float = 0.0  # tarpit: extra delay before the banner
    max_connections: int | None = None  # 421 4.7.0 banner for connections above it
    max_recipients: int | None = None  # 452 4.5.3 for RCPTs above it on one connection
    hang_up_after: int | None = None  # 421 4.7.0 and hang up at the RCPT after this many on one connection
    block: bool = False  # 554 5.7.1 "blocked using zen.spamhaus.org" at MAIL FROM
    full: set[str] = field(default_factory=set)  # 552 5.2.2
    disabled: set[str] = field(default_factory=set)  # 550 5.2.1
    starttls: bool = False  # offer STARTTLS (with a self-signed certificate unless one is given)
    refuse_ehlo: bool = False  # answer EHLO with 502, like a pre-ESMTP host, to exercise HELO
    show_client: bool = False  # greet EHLO with the client's address, as large providers do: "Hello [ip]"
    pipelining: bool = True  # offer PIPELINING in the EHLO reply

    def __post_init__(self) -> None:
        self.mailboxes = {entry.lower() for entry in self.mailboxes}
        self.full = {entry.lower() for entry in self.full}
        self.disabled = {entry.lower() for entry in self.disabled}

    def mailbox_reply(self, address: str) -> str:
        """The answer for a recipient, once connection limits and greylisting have let it through."""
        key = address.lower()
        local = key.rpartition("@")[0] or key
        if key in self.full or local in self.full:
            return f"552 5.2.2 <{address}>: Recipient address rejected: Mailbox full"
        if key in self.disabled or local in self.disabled:
            return f"550 5.2.1 <{address}>: Recipient address rejected: Account disabled"
        if self.catch_all or key in self.mailboxes or local in self.mailboxes:
            return "250 2.1.5 Ok"
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in virtual mailbox table"


@dataclass
class ServerStats:
    """What the host saw; read it from the server's own event loop."""

    connections: int = 0
    refused: int = 0  # connections turned away with 421 (max_connections)
    concurrent: int = 0
    max_concurrent: int = 0
    rcpt_count: int = 0
    data_count: int = 0  # must stay 0: a probe never sends DATA
    pipelined: int = 0  # commands that arrived behind another one before its reply went out
    helo_names: set[str] = field(default_factory=set)
    mail_from: set[str] = field(default_factory=set)
    commands: deque[str] = field(default_factory=lambda: deque(maxlen=COMMAND_LOG_SIZE))


class _Conversation:
    """One connection's SMTP state machine, free of IO: the loop in `_converse` reads, sleeps and writes."""

    def __init__(self, server: ScriptedSmtpServer, client: str = "") -> None:
        self.server = server
        self.client = client  # the peer's address
        self.greeted = False
        self.tls = False
        self.sender: str | None = None
        self.recipients = 0

    def respond(self, line: str) -> str:
        verb, _, arg = line.partition(" ")
        handler = getattr(self, f"_{verb.lower()}", None) if verb.isalpha() else None
        return handler(arg.strip()) if handler else "502 5.5.2 Error: command not recognized"

    def _ehlo(self, name: str) -> str:
        behaviour = self.server.behaviour
        if behaviour.refuse_ehlo:
            return "502 5.5.2 Error: command not recognized"
        reply = self._helo(name)
        if not reply.startswith("250"):
            return reply
        offers = ["PIPELINING"] if behaviour.pipelining else []
        offers += ["SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME"]
        if behaviour.starttls and not self.tls:
            offers.append("STARTTLS")
        greeting = f"{self.server.name} Hello [{self.client}]" if behaviour.show_client else self.server.name
        lines = [greeting, *offers]
        return "\r\n".join(f"250-{text}" for text in lines[:-1]) + f"\r\n250 {lines[-1]}"

    def _helo(self, name: str) -> str:
        if not name:
            return "501 5.5.4 Syntax: HELO hostname"
        self.server.stats.helo_names.add(name)
        self.greeted, self.sender = True, None
        return f"250 {self.server.name}"

    def _starttls(self, arg: str) -> str:
        if not self.server.behaviour.starttls or self.tls:
            return "502 5.5.1 Error: STARTTLS not available"
        return "220 2.0.0 Ready to start TLS"

    def _mail(self, arg: str) -> str:
        if not self.greeted:
            return "503 5.5.1 Error: send HELO/EHLO first"
        if self.sender is not None:
            return "503 5.5.1 Error: nested MAIL command"
        path = _MAIL_PATH.match(arg)
        if not path:
            return "501 5.5.4 Syntax: MAIL FROM:<address>"
        if self.server.behaviour.block:
            return "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"
        self.sender = path[1]
        self.server.stats.mail_from.add(self.sender)
        return "250 2.1.0 Ok"

    def _rcpt(self, arg: str) -> str:
        if self.sender is None:
            return "503 5.5.1 Error: need MAIL command"
        path = _RCPT_PATH.match(arg)
        if not path:
            return "501 5.5.4 Syntax: RCPT TO:<address>"
        self.recipients += 1
        self.server.stats.rcpt_count += 1
        behaviour = self.server.behaviour
        if behaviour.hang_up_after is not None and self.recipients > behaviour.hang_up_after:
            return f"421 4.7.0 {self.server.name} Error: too many recipients, closing connection"
        if behaviour.max_recipients is not None and self.recipients > behaviour.max_recipients:
            return "452 4.5.3 Error: too many recipients"
        address = path[1]
        if self.server.greylisted(address):
            return f"450 4.7.1 <{address}>: Recipient address rejected: Greylisted, try again later"
        return behaviour.mailbox_reply(address)

    def _rset(self, arg: str) -> str:
        self.sender = None
        return "250 2.0.0 Ok"

    def _noop(self, arg: str) -> str:
        return "250 2.0.0 Ok"

    def _vrfy(self, arg: str) -> str:
        return "252 2.0.0 Cannot VRFY user"

    def _data(self, arg: str) -> str:
        self.server.stats.data_count += 1
        return "554 5.7.0 Error: this host only takes probes, DATA is refused"

    def _quit(self, arg: str) -> str:
        return "221 2.0.0 Bye"


class ScriptedSmtpServer:
    """A mail host on `host:port` (port 0 picks a free one, read back from `.port` after start)."""

    def __init__(
        self,
        host: str,
        port: int,
        behaviour: Behaviour | None = None,
        *,
        name: str = "mx.mailworld.test",
        tls_context: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.host = host
        self.port = port
        self.behaviour = behaviour or Behaviour()
        self.name = name
        self.stats = ServerStats()
        self._tls_context = tls_context
        self._clock = clock
        self._first_tries: dict[str, float] = {}
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is None:
            return
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def __aenter__(self) -> ScriptedSmtpServer:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def greylisted(self, address: str) -> bool:
        """Greylisting on the recipient alone: refused until `greylist_seconds` after its first try."""
        delay = self.behaviour.greylist_seconds
        if delay <= 0:
            return False
        now = self._clock()
        first = self._first_tries.setdefault(address.lower(), now)
        return now - first < delay

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        stats = self.stats
        stats.connections += 1
        stats.concurrent += 1
        stats.max_concurrent = max(stats.max_concurrent, stats.concurrent)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, ssl.SSLError, ValueError):  # peer gone, TLS failure, overlong line
            pass
        except asyncio.CancelledError:  # the server is stopping: a quiet end, not a crash
            pass
        finally:
            stats.concurrent -= 1
            self._handlers.discard(task)
            writer.close()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        behaviour = self.behaviour
        if behaviour.banner_delay:
            await asyncio.sleep(behaviour.banner_delay)
        if behaviour.max_connections is not None and self.stats.concurrent > behaviour.max_connections:
            self.stats.refused += 1
            await self._reply(writer, ["421 4.7.0 Too many connections from your host, try again later"])
            return
        await self._reply(writer, [f"220 {self.name} ESMTP mailworld"])
        conversation = _Conversation(self, writer.get_extra_info("peername")[0])
        pending = b""
        while chunk := await reader.read(_READ_SIZE):
            *lines, pending = (pending + chunk).split(b"\n")
            if len(pending) > _LINE_LIMIT or any(len(raw) > _LINE_LIMIT for raw in lines):
                raise ValueError("command line too long")
            self.stats.pipelined += max(0, len(lines) - 1) + (1 if lines and pending else 0)
            replies = []
            for raw in lines:
                line = raw.rstrip(b"\r").decode("utf-8", "replace")
                self.stats.commands.append(line)
                replies.append(conversation.respond(line))
                if replies[-1].startswith(("221", "421")):  # goodbye, or hanging up on the client
                    await self._reply(writer, replies)
                    return
                if line.upper() == "STARTTLS" and replies[-1].startswith("220"):  # restart, encrypted
                    await self._reply(writer, replies)
                    replies, pending = [], b""  # RFC 3207: what was sent before TLS is not a command
                    await writer.start_tls(self._tls_context or _self_signed_context())
                    conversation = _Conversation(self, writer.get_extra_info("peername")[0])
                    conversation.tls = True
                    break
            if replies:
                await self._reply(writer, replies)

    async def _reply(self, writer: asyncio.StreamWriter, replies: list[str]) -> None:
        """Send replies in one write, RFC 2920's rule for the answers to a group of commands."""
        if self.behaviour.latency:
            await asyncio.sleep(self.behaviour.latency * len(replies))
        writer.write("".join(f"{reply}\r\n" for reply in replies).encode())
        await writer.drain()


@cache
def _self_signed_context() -> ssl.SSLContext:
    """A throwaway certificate for STARTTLS; probers do not verify it, so one per process is enough."""
    import datetime
    import tempfile

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mx.mailworld.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    with tempfile.NamedTemporaryFile("wb", suffix=".pem") as pem:
        pem.write(certificate.public_bytes(serialization.Encoding.PEM))
        pem.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        pem.flush()
        context.load_cert_chain(pem.name)
    return context
