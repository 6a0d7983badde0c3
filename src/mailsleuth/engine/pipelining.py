"""Reading the replies to a group of pipelined SMTP commands (RFC 2920) on an aiosmtplib connection.

aiosmtplib reads exactly one reply per command it sent and drops bytes that arrive while no command
waits, so it cannot take the replies to a group of commands written at once. `ReplyGroup` stands in
for its protocol on the connection's transport while one group is answered: it splits the replies
the way aiosmtplib does (multi-line replies joined by newlines, the same size caps), hands every
connection event (loss, EOF, flow control) on to the protocol it replaces, and puts that protocol
back when the group is done, so aiosmtplib carries on (RSET, QUIT) as if it had sent the group.
"""

from __future__ import annotations

import asyncio
from collections import deque
from types import TracebackType
from typing import cast

MAX_LINE_LENGTH = 8192  # aiosmtplib's limits for one reply line and one reply
MAX_REPLY_LENGTH = MAX_LINE_LENGTH * 4


class GroupBroken(Exception):
    """The connection ended, or the server sent something that is not an SMTP reply, mid-group."""


class ReplyGroup(asyncio.Protocol):
    """The replies to ``expected`` commands, in order. Use it as an async context manager around
    the write; `next` waits for each reply with the caller's timeout."""

    def __init__(self, transport: asyncio.Transport, expected: int) -> None:
        self._transport = transport
        self._inner = cast(asyncio.Protocol, transport.get_protocol())
        self._expected = expected
        self._buffer = bytearray()
        self._replies: deque[tuple[int, str]] = deque()
        self._broken: str | None = None
        self._wake: asyncio.Future[None] | None = None
        self.received = 0  # replies parsed so far, including those already taken

    @property
    def complete(self) -> bool:
        return self.received >= self._expected

    async def __aenter__(self) -> ReplyGroup:
        self._transport.set_protocol(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._transport.is_closing():
            self._transport.set_protocol(self._inner)

    async def next(self, timeout: float) -> tuple[int, str]:
        """The next reply as (code, text); TimeoutError when none comes in ``timeout`` seconds."""
        while not self._replies:
            if self._broken is not None:
                raise GroupBroken(self._broken)
            self._wake = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self._wake
            finally:
                self._wake = None
        return self._replies.popleft()

    # -- asyncio.Protocol -------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._broken is not None:
            return
        self._buffer += data
        try:
            while self.received < self._expected and (reply := self._parse()) is not None:
                self._replies.append(reply)
                self.received += 1
        except GroupBroken as exc:
            self._break(str(exc))
            self._transport.close()
            return
        if len(self._buffer) > MAX_REPLY_LENGTH:
            self._break("reply too long")
            self._transport.close()
            return
        self._notify()

    def eof_received(self) -> bool | None:
        self._break("the server closed the connection")
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._break("connection lost")
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- parsing ----------------------------------------------------------------------------------

    def _parse(self) -> tuple[int, str] | None:
        """One whole reply off the front of the buffer, or None while it is incomplete."""
        offset, lines = 0, []
        while (end := self._buffer.find(b"\n", offset)) != -1:
            line = bytes(self._buffer[offset : end + 1])
            if len(line) > MAX_LINE_LENGTH:
                raise GroupBroken("reply line too long")
            try:
                code = int(line[:3])
            except ValueError:
                raise GroupBroken(f"malformed reply line: {line.decode('utf-8', 'replace')!r}") from None
            offset = end + 1
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del self._buffer[:offset]
                return code, b"\n".join(lines).decode("utf-8", "surrogateescape")
        return None

    def _break(self, reason: str) -> None:
        if self._broken is None:
            self._broken = reason
        self._notify()

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)
