"""The embedded topology: the API process announces slices on the ledger itself, a `mailsleuth worker`
process on the same SQLite file listens to the ledger (no broker) and runs them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from mailsleuth.api.dialects import DIALECTS
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.doorbell import LedgerBroker
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database
from tests.jobs.conftest import TUNING, ended, fresh_domain, make_principal
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

ROOT = Path(__file__).resolve().parents[2]
WORKER = "import typer; from mailsleuth.cli.jobs import worker; typer.run(worker)"


def _worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)


async def test_a_worker_on_the_ledger_doorbell_runs_the_api_processes_slices(
    sqlite_url: str, mail_world: MailWorld
) -> None:
    domain = fresh_domain("doorbell")
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={f"u{i}" for i in range(0, 60, 3)}))
    env = {
        **os.environ,
        **mail_world.env(broker_url="ledger://", database_url=sqlite_url),
        "PYTHONPATH": str(ROOT / "src"),
    }
    db = Database(sqlite_url)
    api = Runtime(mail_world.settings(broker_url="ledger://", database_url=sqlite_url), db, tuning=TUNING,
                  notices=DIALECTS.notices())
    api.start()
    try:
        who = await make_principal(db, "doorbell-org")
        job = await bulk.submit(api, who, JobKind.VERIFY, [{"email": f"u{i}@{domain}"} for i in range(60)])
        await asyncio.sleep(1.0)  # nobody listens yet: announced slices wait in the ledger
        waiting = await bulk.get_job(db, who.org_id, job_id=job.id)
        worker = _worker(env)
        try:
            done = await ended(db, who.org_id, job.id)
        finally:
            worker.terminate()
            worker.wait(10)
    finally:
        await api.close()
        await db.dispose()
    assert isinstance(api.queue.broker, LedgerBroker) and not api.queue.in_process
    assert waiting is not None and waiting.treated == 0
    assert api.verifier.rcpt_commands == 0  # the API process probed nothing: the worker did
    assert (done.treated, done.deliverables, done.bounces) == (60, 20, 40)
