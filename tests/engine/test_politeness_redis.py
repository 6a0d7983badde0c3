"""Politeness shared through a real redis-server: every process probing from one outgoing address
is one prober to the mail host (connection cap, spacing of opens, cool-downs), a killed process's
slots come free, and another outgoing address is another prober."""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from pathlib import Path

import pytest
import redis.asyncio

from mailsleuth.engine.politeness import HostCoolingDown, Politeness, RedisGate
from tests.engine.test_politeness import FakeSession
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, ROWS, CAP = 3, 24, 2
_numbers = itertools.count()


def _gate(url: str, prober: str = "192.0.2.1", **limits: float) -> RedisGate:
    values = {"max_connections": CAP, "min_interval": 0.0, "cooldown_base": 60.0, "cooldown_max": 3600.0, **limits}
    return RedisGate(url, prober=prober, **values)  # type: ignore[arg-type]


async def _open() -> FakeSession:
    return FakeSession()


def _pool(gate: RedisGate) -> Politeness:
    return Politeness(max_connections=gate.max_connections, max_recipients=3, idle_timeout=0.05, gate=gate)


async def test_pools_of_one_prober_share_the_connection_cap(redis_url: str) -> None:
    pools = [_pool(_gate(redis_url)) for _ in range(3)]
    live = peak = 0

    async def check(pool: Politeness) -> None:
        nonlocal live, peak
        async with pool.session("10.0.0.1", _open) as session:
            live += 1
            peak = max(peak, live)
            await session.rcpt("a@example.com")
            await asyncio.sleep(0.005)
            live -= 1

    await asyncio.gather(*(check(pool) for pool in pools for _ in range(10)))
    for pool in pools:
        await pool.close()
    assert peak == CAP  # three pools of cap 2 each would reach 6 on their own
    assert sum(pool.stats("10.0.0.1").recipients for pool in pools) == 30


async def test_cooldowns_and_spacing_are_shared_and_other_probers_are_apart(redis_url: str) -> None:
    first, second, elsewhere = _gate(redis_url), _gate(redis_url), _gate(redis_url, prober="192.0.2.2")
    try:
        assert await first.penalise("h") == 60
        assert 59 < await second.cooldown_remaining("h") <= 60
        assert await elsewhere.cooldown_remaining("h") == 0
        assert await second.penalise("h") == 120  # one ladder for the prober
        await first.forgive("h")
        assert await second.penalise("h") == 60
        pool = _pool(second)
        with pytest.raises(HostCoolingDown):
            async with pool.session("h", _open):
                pass
    finally:
        for gate in (first, second, elsewhere):
            await gate.close()
    spaced = [_gate(redis_url, min_interval=0.5, max_connections=5) for _ in range(2)]
    waits = [await gate.acquire("s") for gate in (*spaced, *spaced)]
    assert waits[0] == 0 and [round(w, 1) for w in waits[1:]] == [0.5, 1.0, 1.5]
    for gate in spaced:
        await gate.close()


def _env(mail_world: MailWorld, **overrides: object) -> dict[str, str]:
    return {**os.environ, **mail_world.env(**overrides), "PYTHONPATH": str(ROOT / "src")}


async def test_a_killed_process_frees_its_slots(redis_url: str, mail_world: MailWorld) -> None:
    """On this machine at once (the waiter sees the holder's process is gone); the slots of
    another machine's process when they expire unrenewed."""
    env = _env(
        mail_world, redis_url=redis_url, politeness_slot_ttl=60.0, max_connections_per_host=CAP, helo_name="p.test"
    )
    command = [sys.executable, "-m", "tests.engine.prober", "--hold", "10.9.9.9"]
    holder = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    gate = _gate(redis_url, prober="p.test")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(TimeoutError):  # every slot is taken while the holder lives
            async with asyncio.timeout(1.0):
                await gate.acquire("10.9.9.9")
        holder.kill()
        holder.wait()
        async with asyncio.timeout(2):  # long before the 60 s expiry
            assert [await gate.acquire("10.9.9.9") for _ in range(CAP)] == [0, 0]
        await gate.release("10.9.9.9")
        client = redis.asyncio.Redis.from_url(redis_url)
        try:  # the other slot goes to a process of another machine that then dies: 1 s left
            seconds, micros = await client.time()
            await client.zadd(f"{gate.prefix}10.9.9.9:slots", {"elsewhere:7:x": seconds + micros / 1e6 + 1.0})
        finally:
            await client.aclose()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await gate.acquire("10.9.9.9")
        async with asyncio.timeout(2):
            assert await gate.acquire("10.9.9.9") == 0
    finally:
        await gate.close()
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def _probe_from_processes(mail_world: MailWorld, domain: str, env: dict[str, str]) -> list[str]:
    batches = [[f"user{p * ROWS + i}@{domain}" for i in range(ROWS)] for p in range(PROCESSES)]
    command = [sys.executable, "-m", "tests.engine.prober"]
    processes = [
        subprocess.Popen([*command, *batch], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True) for batch in batches
    ]
    lines = []
    for process in processes:
        out, _ = process.communicate(timeout=120)
        assert process.returncode == 0
        lines.extend(out.splitlines())
    return sorted(lines)


def _slow_domain(mail_world: MailWorld) -> str:
    domain = f"polite{next(_numbers)}.test"
    mailboxes = {f"user{i}" for i in range(0, PROCESSES * ROWS, 2)}
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes=mailboxes, latency=0.02))
    return domain


def _expected(domain: str) -> list[str]:
    return sorted(
        f"user{i}@{domain} {'deliverable' if i % 2 == 0 else 'undeliverable'}" for i in range(PROCESSES * ROWS)
    )


async def test_processes_of_one_prober_keep_the_per_host_cap_together(redis_url: str, mail_world: MailWorld) -> None:
    domain = _slow_domain(mail_world)
    env = _env(mail_world, redis_url=redis_url, max_connections_per_host=CAP, max_recipients_per_connection=4)
    assert _probe_from_processes(mail_world, domain, env) == _expected(domain)
    stats = mail_world.stats(f"mx.{domain}")
    assert stats.max_concurrent == CAP
    assert stats.connections >= PROCESSES * ROWS // 4  # 4 recipients per connection: many connections


async def test_without_redis_each_process_is_its_own_prober(mail_world: MailWorld) -> None:
    """The same run with in-memory politeness: the host sees more than the cap (what Redis prevents)."""
    domain = _slow_domain(mail_world)
    env = _env(mail_world, max_connections_per_host=CAP, max_recipients_per_connection=4)
    env.pop("MAILSLEUTH_REDIS_URL", None)
    assert _probe_from_processes(mail_world, domain, env) == _expected(domain)
    assert mail_world.stats(f"mx.{domain}").max_concurrent > CAP
