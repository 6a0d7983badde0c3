"""Per mail-host limits that keep mailsleuth a good citizen on the wire.

A mail host (an MX *address*, not a domain) gets at most ``max_connections`` concurrent connections,
at most ``max_recipients`` RCPT commands per connection, a minimum interval between connection opens,
and an exponential cool-down after it tells us to slow down or blocks us. Connections are pooled so
checks for the same host share them; the pool is the only place that opens a session.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Protocol

from mailsleuth.engine.results import SmtpReply


class Session(Protocol):
    """What the pool needs from an SMTP session (``smtp.SmtpSession`` or a test fake)."""

    recipients: int
    closed: bool

    async def rcpt(self, address: str) -> SmtpReply: ...

    async def reset(self) -> None: ...

    async def close(self) -> None: ...


class HostCoolingDown(Exception):
    """The host asked us to back off (421, 452 too many, blocklist) and the cool-down is not over."""

    def __init__(self, host: str, remaining: float) -> None:
        super().__init__(f"{host} is cooling down for {remaining:.0f}s more")
        self.host = host
        self.remaining = remaining


@dataclass
class HostStats:
    opened: int = 0
    max_concurrent: int = 0
    recipients: int = 0


@dataclass
class _Host:
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)
    open: int = 0
    idle: list[tuple[Session, float]] = field(default_factory=list)
    last_open: float = float("-inf")
    cooldown_until: float = 0.0
    strikes: int = 0
    stats: HostStats = field(default_factory=HostStats)


class Politeness:
    """Connection pool and limiter shared by every probe in one process."""

    def __init__(
        self,
        *,
        max_connections: int = 2,
        max_recipients: int = 20,
        min_interval: float = 0.0,
        cooldown_base: float = 60.0,
        cooldown_max: float = 3600.0,
        idle_timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_connections < 1 or max_recipients < 1:
            raise ValueError("connection and recipient caps must be at least 1")
        self.max_connections = max_connections
        self.max_recipients = max_recipients
        self.min_interval = min_interval
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self.idle_timeout = idle_timeout
        self._clock = clock
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str) -> _Host:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Host()
        return state

    def stats(self, host: str) -> HostStats:
        return self._host(host).stats

    def cooldown_remaining(self, host: str) -> float:
        return max(0.0, self._host(host).cooldown_until - self._clock())

    def penalise(self, host: str) -> float:
        """Start or lengthen the host's cool-down (doubling each strike); returns its length."""
        state = self._host(host)
        delay = min(self.cooldown_max, self.cooldown_base * (2**state.strikes))
        state.strikes += 1
        state.cooldown_until = max(state.cooldown_until, self._clock() + delay)
        return delay

    def forgive(self, host: str) -> None:
        """A clean exchange resets the backoff ladder (the current cool-down still runs out)."""
        self._host(host).strikes = 0

    def budget(self, session: Session) -> int:
        """RCPT commands the session may still send before it must be retired."""
        return max(0, self.max_recipients - session.recipients)

    @asynccontextmanager
    async def session(self, host: str, opener: Callable[[], Awaitable[Session]]) -> AsyncIterator[Session]:
        """Lend a session to ``host``: an idle one with budget left, or a new one within the caps.

        On return the transaction is reset (RSET) so the next check starts clean; a spent, broken or
        errored session is closed instead, which frees its slot for a fresh connection.
        """
        state = self._host(host)
        remaining = self.cooldown_remaining(host)
        if remaining > 0:
            raise HostCoolingDown(host, remaining)
        session = await self._checkout(host, state, opener)
        ok = False
        before = session.recipients
        try:
            yield session
            ok = True
        finally:
            state.stats.recipients += session.recipients - before
            await self._checkin(state, session, reusable=ok)

    async def _checkout(self, host: str, state: _Host, opener: Callable[[], Awaitable[Session]]) -> Session:
        async with state.condition:
            while True:
                now = self._clock()
                while state.idle:
                    session, since = state.idle.pop()
                    if session.closed or self.budget(session) == 0 or now - since > self.idle_timeout:
                        state.open -= 1
                        await _quietly_close(session)
                        continue
                    return session
                if state.open < self.max_connections:
                    break
                await state.condition.wait()
            state.open += 1
            state.stats.max_concurrent = max(state.stats.max_concurrent, state.open)
            wait = state.last_open + self.min_interval - self._clock()
            state.last_open = max(self._clock(), state.last_open + self.min_interval)
        if wait > 0:
            await asyncio.sleep(wait)
        try:
            session = await opener()
        except BaseException:
            async with state.condition:
                state.open -= 1
                state.condition.notify()
            raise
        state.stats.opened += 1
        return session

    async def _checkin(self, state: _Host, session: Session, *, reusable: bool) -> None:
        keep = reusable and not session.closed and self.budget(session) > 0
        try:
            if keep:
                await session.reset()
        except Exception:
            keep = False
        except BaseException:  # cancelled mid-RSET: the conversation's state is unknown
            keep = False
            raise
        finally:
            if not keep:
                await _quietly_close(session)
            async with state.condition:
                if keep:
                    state.idle.append((session, self._clock()))
                else:
                    state.open -= 1
                state.condition.notify()

    async def close(self) -> None:
        """QUIT every idle connection (busy ones are closed by their borrowers)."""
        for state in self._hosts.values():
            async with state.condition:
                idle, state.idle = state.idle, []
                state.open -= len(idle)
            for session, _ in idle:
                await _quietly_close(session)


async def _quietly_close(session: Session) -> None:
    with suppress(Exception):
        await session.close()
