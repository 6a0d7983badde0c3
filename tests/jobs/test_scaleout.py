"""The scale-out: slices carried by Redis Streams to several `mailsleuth worker` processes (real
redis-server on loopback, skipped where it is not installed), on SQLite and on PostgreSQL; a worker
killed mid-job loses nothing, nothing is done or charged twice, and the workers share the per-host
connection cap through Redis."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database
from mailsleuth.store import models as m
from tests.api.receiver import WebhookReceiver
from tests.jobs.conftest import TUNING, ended, eventually, fresh_domain, make_principal
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

ROOT = Path(__file__).resolve().parents[2]
ROWS, WORKERS = 300, 3
WORKER = "import typer; from mailsleuth.cli.jobs import worker; typer.run(worker)"


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


async def test_workers_run_slices_from_redis_and_a_killed_worker_loses_nothing(
    redis_url: str, database_url: str, mail_world: MailWorld
) -> None:
    domain = fresh_domain("scaleout")
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={f"u{i}" for i in range(0, ROWS, 2)}, latency=0.01))
    values = {"broker_url": redis_url, "database_url": database_url, "redis_url": redis_url, "politeness_slot_ttl": 3.0}
    settings: Settings = mail_world.settings(**values)
    env = {**os.environ, **mail_world.env(**values), "PYTHONPATH": str(ROOT / "src")}
    db = Database(database_url)
    api = Runtime(settings, db, notices=DIALECTS.notices(), tuning=TUNING)  # the API process: announces slices, runs none
    api.start()
    workers = [_worker(env) for _ in range(WORKERS)]  # they race for the reconciler's lease on start
    try:
        who = await make_principal(db, "scaleout-org")
        job = await bulk.submit(api, who, JobKind.VERIFY, [{"email": f"u{i}@{domain}"} for i in range(ROWS)])

        async def mid_job() -> bool:
            current = await bulk.get_job(db, who.org_id, job_id=job.id)
            return current is not None and current.treated > 0

        await eventually(mid_job, timeout=120)  # three workers start on a shared, busy machine
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait()
        replacement = _worker(env)
        try:
            done = await ended(db, who.org_id, job.id, timeout=180)
        finally:
            for process in (*workers[1:], replacement):
                process.terminate()
            exits = [process.wait(30) for process in workers[1:]]
            replacement.wait(30)  # it may still be starting, before its SIGTERM handler is installed
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
        await api.close()
    assert not api.queue.in_process
    assert exits == [0] * (WORKERS - 1)  # no worker crashed (e.g. on the leader lease) before it was stopped
    assert (done.treated, done.deliverables, done.bounces) == (ROWS, ROWS // 2, ROWS // 2)
    assert mail_world.stats(f"mx.{domain}").max_concurrent <= settings.max_connections_per_host
    async with db.read() as session:
        charges = await session.scalar(
            select(func.count(func.distinct(m.CreditEntry.reference))).where(
                m.CreditEntry.org_id == who.org_id, m.CreditEntry.delta < 0
            )
        )
        entries = await session.scalar(
            select(func.count()).where(m.CreditEntry.org_id == who.org_id, m.CreditEntry.delta < 0)
        )
    assert charges == entries == ROWS
    assert (await store.balances(db, who.org_id))[store.CreditKind.VERIFY].used == ROWS
    await db.dispose()


async def test_a_job_a_worker_ends_is_announced_in_its_dialects_shape(
    redis_url: str, database_url: str, mail_world: MailWorld
) -> None:
    """The process that submits here has no webhook shapes and never starts its runtime (no
    reconciler, no sender): only `mailsleuth worker` can shape and send the LeadGenius matches."""
    domain = fresh_domain("workerhook")
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={"chris.george", "dana.scully"}))
    values = {"broker_url": redis_url, "database_url": database_url, "redis_url": redis_url}
    settings: Settings = mail_world.settings(**values)
    env = {**os.environ, **mail_world.env(**values), "PYTHONPATH": str(ROOT / "src")}
    db = Database(database_url)
    api = Runtime(settings, db, notices={}, tuning=TUNING)
    await api.queue.start()
    worker = subprocess.Popen([sys.executable, "-m", "mailsleuth", "worker"], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    rows = [
        {"first": "Chris", "middle": "", "last": "George", "domain": domain, "sub": "7"},
        {"first": "Dana", "middle": "K", "last": "Scully", "domain": domain},
        {"first": "Fox", "middle": "", "last": "Mulder", "domain": domain},
    ]
    try:
        with WebhookReceiver() as receiver:
            who = await make_principal(db, "workerhook-org")
            job = await bulk.submit(api, who, JobKind.FIND_BATCH, rows, webhook=receiver.url)
            await ended(db, who.org_id, job.id, timeout=120)

            async def both_sent() -> bool:
                return len(receiver.deliveries) == 2

            await eventually(both_sent, timeout=60)
        worker.terminate()
        exit_code = worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        await api.close()
        await db.dispose()
    assert exit_code == 0
    bodies = sorted((delivery.json() for delivery in receiver.deliveries), key=lambda body: body["webhook_id"])
    assert bodies == [
        {
            "status": 200,
            "webhook_id": f"{job.id};2;dana.scully@{domain}",
            "result": {"bulk_id": job.id, "domain": domain, "first": "Dana", "jobid": 2, "last": "Scully",
                       "middle": "K", "email": f"dana.scully@{domain}"},
        },
        {
            "status": 200,
            "webhook_id": f"{job.id};7;chris.george@{domain}",
            "result": {"bulk_id": job.id, "domain": domain, "first": "Chris", "jobid": "7", "last": "George",
                       "middle": "", "email": f"chris.george@{domain}"},
        },
    ]
    keys = sorted(delivery.headers["X-Mailsleuth-Idempotency-Key"] for delivery in receiver.deliveries)
    assert keys == [f"job:{job.id}:row:0:0", f"job:{job.id}:row:1:0"]
