"""Per mail-host limits that keep mailsleuth a good citizen on the wire.

A mail host (an MX *address*, not a domain) gets at most ``max_connections`` concurrent connections,
at most ``max_recipients`` RCPT commands per connection, a minimum interval between connection opens,
and an exponential cool-down after it tells us to slow down or blocks us. Connections are pooled so
checks for the same host share them; the pool is the only place that opens a session.

To the mail host, every process that connects from the same outgoing address is one prober. The
limits it sees (connection slots, spacing of opens, cool-downs) sit behind the `HostGate`
interface: `MemoryGate` for one process, `FileGate` for the processes of one machine (`serve`, its
API processes and its worker share a directory of lock files), `RedisGate` to share them among all
workers of one outgoing address through Redis, with slots that expire unless their holder renews
them. Either way a killed worker frees its slots. The pool itself (idle sessions, recipient budgets) is
always per process: a connection belongs to the process that opened it.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import random
import secrets
import socket
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mailsleuth.config import Settings

from mailsleuth.engine.results import SmtpReply


class Session(Protocol):
    """What the pool needs from an SMTP session (``smtp.SmtpSession`` or a test fake)."""

    recipients: int
    closed: bool

    async def rcpt(self, address: str) -> SmtpReply: ...

    def rcpt_each(self, addresses: Sequence[str], *, then_quit: bool = False) -> AsyncIterator[SmtpReply]:
        """The replies for several recipients, in order (pipelined where the host allows); with
        `then_quit` the session ends after them."""
        ...

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


class HostGate(Protocol):
    """The limits every prober with the same outgoing address shares, per mail host."""

    async def acquire(self, host: str) -> float:
        """Take a connection slot, waiting while every slot is taken; returns the seconds to wait
        before connecting (the minimum interval between opens)."""
        ...

    async def release(self, host: str) -> None:
        """Give back a slot taken by `acquire` (the connection is closed or was never opened)."""
        ...

    async def cooldown_remaining(self, host: str) -> float: ...

    async def penalise(self, host: str) -> float:
        """Start or lengthen the host's cool-down (doubling each strike); returns its length."""
        ...

    async def forgive(self, host: str) -> None:
        """A clean exchange resets the backoff ladder (the current cool-down still runs out)."""
        ...

    async def close(self) -> None: ...


def backoff(base: float, ceiling: float, strikes: int) -> float:
    """The cool-down after `strikes` earlier strikes: doubling from `base`, at most `ceiling`
    (the Redis gate's script computes the same)."""
    return min(ceiling, base * (2**strikes))


@dataclass
class _GateHost:
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)
    open: int = 0
    last_open: float = float("-inf")
    cooldown_until: float = 0.0
    strikes: int = 0


class MemoryGate:
    """The limits of one process (the embedded default)."""

    def __init__(
        self,
        *,
        max_connections: int,
        min_interval: float,
        cooldown_base: float,
        cooldown_max: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_connections = max_connections
        self.min_interval = min_interval
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self._clock = clock
        self._hosts: dict[str, _GateHost] = defaultdict(_GateHost)

    async def acquire(self, host: str) -> float:
        state = self._hosts[host]
        async with state.condition:
            await state.condition.wait_for(lambda: state.open < self.max_connections)
            state.open += 1
            now = self._clock()
            wait = state.last_open + self.min_interval - now
            state.last_open = max(now, state.last_open + self.min_interval)
        return max(0.0, wait)

    async def release(self, host: str) -> None:
        state = self._hosts[host]
        async with state.condition:
            state.open -= 1
            state.condition.notify()

    async def cooldown_remaining(self, host: str) -> float:
        return max(0.0, self._hosts[host].cooldown_until - self._clock())

    async def penalise(self, host: str) -> float:
        state = self._hosts[host]
        delay = backoff(self.cooldown_base, self.cooldown_max, state.strikes)
        state.strikes += 1
        state.cooldown_until = max(state.cooldown_until, self._clock() + delay)
        return delay

    async def forgive(self, host: str) -> None:
        self._hosts[host].strikes = 0

    async def close(self) -> None:
        return None


class FileGate:
    """The limits shared by the processes of one machine that name the same directory.

    A connection slot is an exclusive `flock` on one of `max_connections` files per host, so the
    kernel frees a killed process's slots at once. The next allowed open, the cool-down's end and the
    strike count sit in the host's state file, read and written under its lock. Times are wall-clock
    seconds, one clock for every process of the machine.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        max_connections: int,
        min_interval: float,
        cooldown_base: float,
        cooldown_max: float,
        poll_interval: float = 0.02,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.max_connections = max_connections
        self.min_interval = min_interval
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self._poll_interval = poll_interval
        self._held: dict[str, list[int]] = defaultdict(list)

    def _path(self, host: str, what: str) -> Path:
        return self.directory / f"{hashlib.sha256(host.encode()).hexdigest()[:32]}.{what}"

    def _take_slot(self, host: str) -> int | None:
        for index in range(self.max_connections):
            fd = os.open(self._path(host, f"slot{index}"), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return fd
        return None

    @contextmanager
    def _state(self, host: str) -> Iterator[dict[str, float]]:
        """The host's shared state, locked for the (microseconds-long) read-modify-write."""
        fd = os.open(self._path(host, "state"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = os.pread(fd, 4096, 0)
            state: dict[str, float] = json.loads(raw) if raw else {}
            yield state
            encoded = json.dumps(state).encode()
            if encoded != raw:  # a look (cooldown_remaining) writes nothing
                os.ftruncate(fd, 0)
                os.pwrite(fd, encoded, 0)
        finally:
            os.close(fd)  # closing the descriptor drops the lock

    async def acquire(self, host: str) -> float:
        while (fd := self._take_slot(host)) is None:
            await asyncio.sleep(self._poll_interval)
        self._held[host].append(fd)
        with self._state(host) as state:
            now = time.time()
            next_open = state.get("next_open", now)
            state["next_open"] = max(now, next_open) + self.min_interval
        return max(0.0, next_open - now)

    async def release(self, host: str) -> None:
        os.close(self._held[host].pop())

    async def cooldown_remaining(self, host: str) -> float:
        with self._state(host) as state:
            return max(0.0, state.get("cooldown_until", 0.0) - time.time())

    async def penalise(self, host: str) -> float:
        with self._state(host) as state:
            strikes = int(state.get("strikes", 0))
            delay = backoff(self.cooldown_base, self.cooldown_max, strikes)
            state["strikes"] = strikes + 1
            state["cooldown_until"] = max(state.get("cooldown_until", 0.0), time.time() + delay)
        return delay

    async def forgive(self, host: str) -> None:
        with self._state(host) as state:
            state["strikes"] = 0

    async def close(self) -> None:
        for held in self._held.values():
            while held:
                os.close(held.pop())


# Redis keeps, per prober and host: a sorted set of slot tokens scored by expiry, the earliest next
# open, the cool-down's end and the strike count. Times are the Redis server's (one clock for all).
_NOW = "local t = redis.call('TIME') local now = tonumber(t[1]) + tonumber(t[2]) / 1000000 "
_ACQUIRE = (  # KEYS slots, next; ARGV cap, token, ttl, interval -> "-1" when full, else the wait
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return '-1' end
local ttl = tonumber(ARGV[3])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000) + 1000)
local interval = tonumber(ARGV[4])
if interval <= 0 then return '0' end
local at = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0'))
redis.call('SET', KEYS[2], tostring(at + interval), 'PX', math.ceil((at + interval - now) * 1000) + 1000)
return tostring(at - now)
"""
)
_RENEW = (  # KEYS slots; ARGV ttl, tokens...
    _NOW
    + """
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', now + ttl, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl * 1000) + 1000)
return 0
"""
)
_PENALISE = (  # KEYS cool, strikes; ARGV base, max -> the delay
    _NOW
    + """
local strikes = redis.call('INCR', KEYS[2]) - 1
local delay = math.min(tonumber(ARGV[2]), tonumber(ARGV[1]) * 2 ^ strikes)
local ends = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + delay)
redis.call('SET', KEYS[1], tostring(ends), 'PX', math.ceil((ends - now) * 1000) + 1)
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[2]) * 2) + 60)
return tostring(delay)
"""
)
_COOLDOWN = _NOW + "return tostring(math.max(0, tonumber(redis.call('GET', KEYS[1]) or '0') - now))"


class RedisGate:
    """The limits shared by every process that probes from one outgoing address (`prober`).

    A slot lives `slot_ttl` seconds unless renewed; this process renews the slots it holds every
    third of that, so the slots of a killed process come free within `slot_ttl`, and at once for a
    waiter on the same machine (a slot names its machine and process).
    """

    def __init__(
        self,
        url: str,
        *,
        prober: str,
        max_connections: int,
        min_interval: float,
        cooldown_base: float,
        cooldown_max: float,
        slot_ttl: float = 30.0,
        poll: float = 0.05,
    ) -> None:
        import redis.asyncio  # the `redis` extra; imported only when a Redis URL is configured

        self._redis: Any = redis.asyncio.Redis.from_url(url)
        self.prefix = f"mailsleuth:politeness:{prober}:"
        self.max_connections = max_connections
        self.min_interval = min_interval
        self.cooldown_base = cooldown_base
        self.cooldown_max = cooldown_max
        self.slot_ttl = slot_ttl
        self.poll = poll
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._renew = self._redis.register_script(_RENEW)
        self._penalise = self._redis.register_script(_PENALISE)
        self._cooldown = self._redis.register_script(_COOLDOWN)
        self._held: dict[str, list[str]] = defaultdict(list)
        self._machine = socket.gethostname()
        self._renewing: asyncio.Task[None] | None = None

    def _key(self, host: str, what: str) -> str:
        return f"{self.prefix}{host}:{what}"

    async def acquire(self, host: str) -> float:
        token = f"{self._machine}:{os.getpid()}:{secrets.token_hex(6)}"
        keys = [self._key(host, "slots"), self._key(host, "next")]
        args = [self.max_connections, token, self.slot_ttl, self.min_interval]
        while (wait := float(await self._acquire(keys=keys, args=args))) < 0:
            await self._free_dead_local(keys[0])
            await asyncio.sleep(self.poll * (0.5 + random.random()))  # jittered, so waiters do not march in step
        self._held[host].append(token)
        if self._renewing is None or self._renewing.done():
            self._renewing = asyncio.create_task(self._renew_forever(), name="politeness-slots")
        return wait

    async def _free_dead_local(self, slots: str) -> None:
        """Drop the slots of killed processes of this machine now instead of when they expire."""
        for member in await self._redis.zrange(slots, 0, -1):
            machine, _, rest = member.decode().partition(":")
            pid = rest.partition(":")[0]
            if machine == self._machine and pid.isdigit() and not _alive(int(pid)):
                await self._redis.zrem(slots, member)

    async def release(self, host: str) -> None:
        tokens = self._held.get(host)
        if tokens:
            await self._redis.zrem(self._key(host, "slots"), tokens.pop())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.slot_ttl / 3)
            for host, tokens in list(self._held.items()):
                if tokens:
                    with suppress(Exception):  # Redis away for a moment: the next round renews
                        await self._renew(keys=[self._key(host, "slots")], args=[self.slot_ttl, *tokens])

    async def cooldown_remaining(self, host: str) -> float:
        return float(await self._cooldown(keys=[self._key(host, "cool")]))

    async def penalise(self, host: str) -> float:
        keys = [self._key(host, "cool"), self._key(host, "strikes")]
        return float(await self._penalise(keys=keys, args=[self.cooldown_base, self.cooldown_max]))

    async def forgive(self, host: str) -> None:
        await self._redis.delete(self._key(host, "strikes"))

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with suppress(BaseException):
                await self._renewing
        for host, tokens in self._held.items():
            if tokens:
                with suppress(Exception):
                    await self._redis.zrem(self._key(host, "slots"), *tokens)
        self._held.clear()
        await self._redis.aclose()


SHARED_IDLE_TIMEOUT = 2.0  # an idle pooled connection holds a slot other workers may be waiting for


@dataclass
class _Host:
    condition: asyncio.Condition = field(default_factory=asyncio.Condition)
    open: int = 0  # this process's connections (busy and idle)
    idle: list[tuple[Session, float]] = field(default_factory=list)
    stats: HostStats = field(default_factory=HostStats)
    reaper: asyncio.Task[None] | None = None


class Politeness:
    """Connection pool shared by every probe in one process, within the limits of its `HostGate`."""

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
        gate: HostGate | None = None,
    ) -> None:
        if max_connections < 1 or max_recipients < 1:
            raise ValueError("connection and recipient caps must be at least 1")
        self.max_connections = max_connections
        self.max_recipients = max_recipients
        self.idle_timeout = idle_timeout
        self.gate: HostGate = gate or MemoryGate(
            max_connections=max_connections,
            min_interval=min_interval,
            cooldown_base=cooldown_base,
            cooldown_max=cooldown_max,
            clock=clock,
        )
        self._clock = clock
        self._hosts: dict[str, _Host] = defaultdict(_Host)

    @classmethod
    def from_settings(cls, settings: Settings) -> Politeness:
        """Shared through MAILSLEUTH_REDIS_URL by every worker of the same prober, through
        MAILSLEUTH_POLITENESS_DIR by the processes of one machine, else in this process's memory."""
        limits = {
            "max_connections": settings.max_connections_per_host,
            "min_interval": settings.min_connection_interval,
            "cooldown_base": settings.cooldown_base,
            "cooldown_max": settings.cooldown_max,
        }
        gate: HostGate
        if settings.redis_url:
            gate = RedisGate(settings.redis_url, prober=settings.prober, slot_ttl=settings.politeness_slot_ttl, **limits)
        elif settings.politeness_dir:
            gate = FileGate(settings.politeness_dir, **limits)
        else:
            return cls(max_recipients=settings.max_recipients_per_connection, **limits)
        return cls(
            max_recipients=settings.max_recipients_per_connection,
            idle_timeout=SHARED_IDLE_TIMEOUT,
            gate=gate,
            **limits,
        )

    def stats(self, host: str) -> HostStats:
        return self._hosts[host].stats

    async def cooldown_remaining(self, host: str) -> float:
        return await self.gate.cooldown_remaining(host)

    async def penalise(self, host: str) -> float:
        return await self.gate.penalise(host)

    async def forgive(self, host: str) -> None:
        await self.gate.forgive(host)

    def budget(self, session: Session) -> int:
        """RCPT commands the session may still send before it must be retired."""
        return max(0, self.max_recipients - session.recipients)

    @asynccontextmanager
    async def session(self, host: str, opener: Callable[[], Awaitable[Session]]) -> AsyncIterator[Session]:
        """Lend a session to ``host``: an idle one with budget left, or a new one within the caps.

        On return the transaction is reset (RSET) so the next check starts clean; a spent, broken or
        errored session is closed instead, which frees its slot for a fresh connection.
        """
        state = self._hosts[host]
        remaining = await self.gate.cooldown_remaining(host)
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
            await self._checkin(host, state, session, reusable=ok)

    async def _checkout(self, host: str, state: _Host, opener: Callable[[], Awaitable[Session]]) -> Session:
        async with state.condition:
            while True:
                now = self._clock()
                while state.idle:
                    session, since = state.idle.pop()
                    if session.closed or self.budget(session) == 0 or now - since > self.idle_timeout:
                        await self._retire(host, state, session)
                        continue
                    return session
                if state.open < self.max_connections:
                    break
                await state.condition.wait()
            state.open += 1
            state.stats.max_concurrent = max(state.stats.max_concurrent, state.open)
        try:
            wait = await self.gate.acquire(host)
        except BaseException:
            await self._give_back(state)
            raise
        try:
            if wait > 0:
                await asyncio.sleep(wait)
            session = await opener()
        except BaseException:
            await self.gate.release(host)
            await self._give_back(state)
            raise
        state.stats.opened += 1
        return session

    async def _retire(self, host: str, state: _Host, session: Session) -> None:
        """Close a pooled session and free its slot (the caller holds the host's condition)."""
        state.open -= 1
        await _quietly_close(session)
        await self.gate.release(host)

    async def _give_back(self, state: _Host) -> None:
        async with state.condition:
            state.open -= 1
            state.condition.notify()

    async def _checkin(self, host: str, state: _Host, session: Session, *, reusable: bool) -> None:
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
            if keep:
                async with state.condition:
                    state.idle.append((session, self._clock()))
                    state.condition.notify()
                if state.reaper is None or state.reaper.done():
                    state.reaper = asyncio.create_task(self._reap(host, state), name=f"politeness-idle-{host}")
            else:
                await _quietly_close(session)
                await self.gate.release(host)
                await self._give_back(state)

    async def _reap(self, host: str, state: _Host) -> None:
        """Close sessions left idle for `idle_timeout`: an idle connection still occupies the host."""
        while state.idle:
            oldest = min(since for _, since in state.idle)
            await asyncio.sleep(max(0.0, oldest + self.idle_timeout - self._clock()) + 0.01)
            async with state.condition:
                now, idle, state.idle = self._clock(), state.idle, []
                for session, since in idle:
                    if now - since >= self.idle_timeout:
                        await self._retire(host, state, session)
                    else:
                        state.idle.append((session, since))
                state.condition.notify()

    async def close(self) -> None:
        """QUIT every idle connection (busy ones are closed by their borrowers) and close the gate."""
        for host, state in self._hosts.items():
            if state.reaper is not None:
                state.reaper.cancel()
                with suppress(BaseException):
                    await state.reaper
            async with state.condition:
                idle, state.idle = state.idle, []
                for session, _ in idle:
                    await self._retire(host, state, session)
        await self.gate.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _quietly_close(session: Session) -> None:
    with suppress(Exception):
        await session.close()
