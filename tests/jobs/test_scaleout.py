"""The scale-out: slices carried by Redis Streams to `mailsleuth worker` processes (real redis-server
on loopback, skipped where it is not installed); a worker killed mid-job loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
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
WORKER = "import typer; from mailsleuth.cli.jobs import worker; typer.run(worker)"


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
