"""The pool's caps and cool-downs, with in-memory sessions (real-server behaviour is in test_verify)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest

from mailsleuth.engine.politeness import HostCoolingDown, Politeness
from mailsleuth.engine.results import ReplyKind, SmtpReply

OK = SmtpReply(250, "2.1.5", "ok", ReplyKind.ACCEPTED)


class FakeSession:
    def __init__(self) -> None:
        self.recipients = 0
        self.closed = False
        self.resets = 0

    async def rcpt(self, address: str) -> SmtpReply:
        self.recipients += 1
        await asyncio.sleep(0.001)
        return OK

    async def rcpt_each(self, addresses: Sequence[str], *, then_quit: bool = False) -> AsyncIterator[SmtpReply]:
        for address in addresses:
            yield await self.rcpt(address)
        if then_quit:
            await self.close()

    async def reset(self) -> None:
        self.resets += 1

    async def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_connections_never_exceed_the_cap() -> None:
    pool = Politeness(max_connections=2, max_recipients=3)
    live = 0
    peak = 0
    opened: list[FakeSession] = []

    async def opener() -> FakeSession:
        session = FakeSession()
        opened.append(session)
        return session

    async def check() -> None:
        nonlocal live, peak
        async with pool.session("10.0.0.1", opener) as session:
            live += 1
            peak = max(peak, live)
            await session.rcpt("a@example.com")
            live -= 1

    await asyncio.gather(*(check() for _ in range(30)))
    assert peak == 2
    assert pool.stats("10.0.0.1").max_concurrent == 2
    # 30 recipients at 3 per connection: at least 10 connections, each retired when spent
    assert pool.stats("10.0.0.1").opened == len(opened) >= 10
    assert all(s.recipients <= 3 for s in opened)
    await pool.close()
    assert all(s.closed for s in opened)


async def test_sessions_are_reused_with_rset_between_checks() -> None:
    pool = Politeness(max_connections=1, max_recipients=20)
    opened: list[FakeSession] = []

    async def opener() -> FakeSession:
        opened.append(FakeSession())
        return opened[-1]

    for _ in range(5):
        async with pool.session("h", opener) as session:
            await session.rcpt("x@example.com")
    assert len(opened) == 1
    assert opened[0].resets == 5
    assert opened[0].recipients == 5


async def test_error_inside_a_check_retires_the_connection() -> None:
    pool = Politeness(max_connections=1)
    opened: list[FakeSession] = []

    async def opener() -> FakeSession:
        opened.append(FakeSession())
        return opened[-1]

    with pytest.raises(RuntimeError):
        async with pool.session("h", opener):
            raise RuntimeError("wire broke")
    assert opened[0].closed
    async with pool.session("h", opener):
        pass
    assert len(opened) == 2


async def test_failed_open_frees_its_slot() -> None:
    pool = Politeness(max_connections=1)

    async def broken() -> FakeSession:
        raise ConnectionRefusedError

    for _ in range(3):
        with pytest.raises(ConnectionRefusedError):
            async with pool.session("h", broken):
                pass

    async def opener() -> FakeSession:
        return FakeSession()

    async with asyncio.timeout(1):
        async with pool.session("h", opener):
            pass


async def test_cooldown_doubles_and_refuses_until_over() -> None:
    clock = Clock()
    pool = Politeness(cooldown_base=60, cooldown_max=200, clock=clock)
    assert await pool.penalise("h") == 60
    with pytest.raises(HostCoolingDown) as info:
        async with pool.session("h", FakeSession):  # type: ignore[arg-type]
            pass
    assert info.value.remaining == pytest.approx(60)
    clock.now += 61
    assert await pool.cooldown_remaining("h") == 0
    assert await pool.penalise("h") == 120
    assert await pool.penalise("h") == 200  # capped
    await pool.forgive("h")
    clock.now += 500
    assert await pool.penalise("h") == 60
    assert await pool.cooldown_remaining("other") == 0


async def test_minimum_interval_between_connection_opens() -> None:
    pool = Politeness(max_connections=3, min_interval=0.05)
    loop = asyncio.get_running_loop()
    opened_at: list[float] = []

    async def opener() -> FakeSession:
        opened_at.append(loop.time())
        return FakeSession()

    async def hold() -> None:
        async with pool.session("h", opener):
            await asyncio.sleep(0.01)

    await asyncio.gather(hold(), hold(), hold())
    gaps = [b - a for a, b in zip(opened_at, opened_at[1:])]
    assert len(opened_at) == 3
    assert all(gap >= 0.045 for gap in gaps)
