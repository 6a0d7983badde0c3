"""The scale-out: slices carried by Redis Streams to `mailsleuth worker` processes (real redis-server
on loopback, skipped where it is not installed); a worker killed mid-job loses nothing."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database
from mailsleuth.store import models as m
from tests.jobs.conftest import TUNING, ended, eventually, fresh_domain, make_principal
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

ROOT = Path(__file__).resolve().parents[2]
REDIS = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS is None, reason="redis-server is not installed")
WORKER = "import typer; from mailsleuth.cli.jobs import worker; typer.run(worker)"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [
            str(REDIS),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(10)


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


async def test_workers_run_slices_from_redis_and_a_killed_worker_loses_nothing(
    redis_url: str, sqlite_url: str, mail_world: MailWorld
) -> None:
    domain = fresh_domain("scaleout")
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={f"u{i}" for i in range(0, 200, 2)}, latency=0.01))
    settings: Settings = mail_world.settings(broker_url=redis_url, database_url=sqlite_url)
    env = {
        **os.environ,
        **mail_world.env(broker_url=redis_url, database_url=sqlite_url),
        "PYTHONPATH": str(ROOT / "src"),
    }
    db = Database(sqlite_url)
    api = Runtime(settings, db, tuning=TUNING)  # the API process: announces slices, runs none
    api.start()
    first = _worker(env)
    try:
        who = await make_principal(db, "scaleout-org")
        job = await bulk.submit(api, who, JobKind.VERIFY, [{"email": f"u{i}@{domain}"} for i in range(200)])

        async def mid_job() -> bool:
            current = await bulk.get_job(db, who.org_id, job_id=job.id)
            return current is not None and current.treated > 0

        await eventually(mid_job)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        second = _worker(env)
        try:
            done = await ended(db, who.org_id, job.id)
        finally:
            second.terminate()
            second.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
        await api.close()
    assert not api.queue.in_process
    assert (done.treated, done.deliverables, done.bounces) == (200, 100, 100)
    async with db.read() as session:
        charges = await session.scalar(
            select(func.count(func.distinct(m.CreditEntry.reference))).where(
                m.CreditEntry.org_id == who.org_id, m.CreditEntry.delta < 0
            )
        )
        entries = await session.scalar(
            select(func.count()).where(m.CreditEntry.org_id == who.org_id, m.CreditEntry.delta < 0)
        )
    assert charges == entries == 200
    assert (await store.balances(db, who.org_id))[store.CreditKind.VERIFY].used == 200
    await db.dispose()
