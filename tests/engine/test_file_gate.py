"""FileGate: the per-host limits shared by the processes of one machine through lock files (serve, its
API processes and its embedded worker, without Redis). Two gates on one directory stand for two
processes: each holds its own descriptors, and flock locks conflict between descriptors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from mailsleuth.config import Settings
from mailsleuth.engine.politeness import FileGate, MemoryGate, Politeness

HOST = "127.0.0.9:2525"


def gate(directory: Path, **limits: float) -> FileGate:
    settings = {"max_connections": 2, "min_interval": 0.0, "cooldown_base": 60.0, "cooldown_max": 3600.0}
    return FileGate(directory, **{**settings, **limits})  # type: ignore[arg-type]


async def test_two_processes_share_the_connection_cap(tmp_path: Path) -> None:
    first, second = gate(tmp_path), gate(tmp_path)
    await first.acquire(HOST)
    await second.acquire(HOST)
    third = asyncio.create_task(first.acquire(HOST))
    await asyncio.sleep(0.3)
    assert not third.done()  # both slots are taken, by two different holders
    await second.release(HOST)
    await asyncio.wait_for(third, timeout=10)
    await first.close()
    await second.close()


async def test_another_host_has_slots_of_its_own(tmp_path: Path) -> None:
    first, second = gate(tmp_path, max_connections=1), gate(tmp_path, max_connections=1)
    await first.acquire(HOST)
    await asyncio.wait_for(second.acquire("127.0.0.10:2525"), timeout=10)
    await first.close()
    await second.close()


async def test_a_killed_process_frees_its_slots_at_once(tmp_path: Path) -> None:
    holder = textwrap.dedent(
        f"""
        import asyncio
        from mailsleuth.engine.politeness import FileGate
        async def main():
            gate = FileGate({str(tmp_path)!r}, max_connections=2, min_interval=0, cooldown_base=1, cooldown_max=1)
            await gate.acquire({HOST!r})
            await gate.acquire({HOST!r})
            print("held", flush=True)
            await asyncio.sleep(600)
        asyncio.run(main())
        """
    )
    process = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "held"
        mine = gate(tmp_path)
        waiting = asyncio.create_task(mine.acquire(HOST))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        os.kill(process.pid, signal.SIGKILL)
        await asyncio.wait_for(waiting, timeout=10)
        await mine.close()
    finally:
        process.kill()
        process.wait()


async def test_spacing_between_opens_is_shared(tmp_path: Path) -> None:
    first, second = gate(tmp_path, min_interval=30.0), gate(tmp_path, min_interval=30.0)
    assert await first.acquire(HOST) == 0.0
    wait = await second.acquire(HOST)  # the other process opened just now: wait out the interval
    assert 29.0 < wait <= 30.0
    await first.close()
    await second.close()


async def test_cooldown_and_its_ladder_are_shared(tmp_path: Path) -> None:
    first, second = gate(tmp_path, cooldown_base=60.0), gate(tmp_path, cooldown_base=60.0)
    assert await second.cooldown_remaining(HOST) == 0.0
    assert await first.penalise(HOST) == 60.0
    assert 59.0 < await second.cooldown_remaining(HOST) <= 60.0
    assert await second.penalise(HOST) == 120.0  # the second strike, whoever takes it
    await first.forgive(HOST)
    assert await second.penalise(HOST) == 60.0


def test_the_settings_choose_the_gate(tmp_path: Path) -> None:
    shared = Politeness.from_settings(Settings(politeness_dir=str(tmp_path / "gate")))
    assert isinstance(shared.gate, FileGate) and (tmp_path / "gate").is_dir()
    assert isinstance(Politeness.from_settings(Settings()).gate, MemoryGate)
