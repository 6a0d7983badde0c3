"""kill -9 of the server mid-job: after a restart every row is done exactly once, nothing charged twice."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailsleuth import store
from mailsleuth.jobs import bulk
from mailsleuth.store import CreditKind, Database, JobStatus
from mailsleuth.store import models as m
from tests.jobs.conftest import eventually
from tests.jobs.runner import existing
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

ROOT = Path(__file__).resolve().parents[2]
VERIFY_ROWS, MASSIVE_ROWS = 240, 60
FOUND = 50  # the runner's people whose first name is among the first five exist
_numbers = itertools.count()


class Server:
    """`python -m tests.jobs.runner` as a real separate process."""

    def __init__(self, url: str, env: dict[str, str], *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.jobs.runner", url, *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.jobs: dict[str, int] = {}
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.strip() == "ready":
                return
            kind, job_id = line.split()
            self.jobs[kind] = int(job_id)
        raise AssertionError(f"the runner died: {self.process.stderr.read() if self.process.stderr else ''}")

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def domain(mail_world: MailWorld) -> str:
    """A fresh domain per test (the world is shared by the session)."""
    name = f"kill{next(_numbers)}.test"
    mail_world.add_domain(name, behaviour=Behaviour(mailboxes=existing(VERIFY_ROWS), latency=0.01))
    return name


@pytest.fixture
def env(mail_world: MailWorld) -> dict[str, str]:
    return {**os.environ, **mail_world.env(), "PYTHONPATH": str(ROOT / "src")}


async def test_kill_9_mid_job_loses_and_repeats_nothing(
    env: dict[str, str], domain: str, database_url: str, db: Database
) -> None:
    first = Server(database_url, env, "--verify", f"{VERIFY_ROWS}@{domain}", "--massive", f"{MASSIVE_ROWS}@{domain}")
    verify_id, massive_id = first.jobs["verify"], first.jobs["find_file"]
    [org] = [o for o in await store.list_orgs(db) if o.name == "runner"]

    async def mid_job() -> bool:
        job = await bulk.get_job(db, org.id, job_id=verify_id)
        return job is not None and job.treated >= 60

    try:
        await eventually(mid_job)
    finally:
        first.kill()
    killed = await bulk.get_job(db, org.id, job_id=verify_id)
    assert killed is not None and killed.treated < killed.quantity, "the kill must land mid-job"

    second = Server(database_url, env)
    try:

        async def finished() -> bool:
            jobs = [await bulk.get_job(db, org.id, job_id=i) for i in (verify_id, massive_id)]
            return all(j is not None and j.status is JobStatus.ENDED for j in jobs)

        await eventually(finished, timeout=90)
    finally:
        second.stop()

    verify = await bulk.get_job(db, org.id, job_id=verify_id)
    massive = await bulk.get_job(db, org.id, job_id=massive_id)
    assert verify is not None and massive is not None
    assert (verify.treated, verify.deliverables, verify.bounces) == (VERIFY_ROWS, VERIFY_ROWS // 2, VERIFY_ROWS // 2)
    assert (massive.treated, massive.success) == (MASSIVE_ROWS, FOUND)
    async with db.read() as session:
        statuses = dict(
            (
                await session.execute(
                    select(m.JobRow.status, func.count())
                    .where(m.JobRow.job_id.in_((verify_id, massive_id)))
                    .group_by(m.JobRow.status)
                )
            ).all()
        )
        charges = (
            await session.execute(
                select(m.CreditEntry.kind, func.count(), func.count(func.distinct(m.CreditEntry.reference)))
                .where(m.CreditEntry.org_id == org.id, m.CreditEntry.delta < 0)
                .group_by(m.CreditEntry.kind)
            )
        ).all()
        contacts = await session.scalar(select(func.count()).select_from(m.Contact).where(m.Contact.org_id == org.id))
    assert statuses == {"ENDED": VERIFY_ROWS + MASSIVE_ROWS}
    assert sorted(charges) == [("search", FOUND, FOUND), ("verify", VERIFY_ROWS, VERIFY_ROWS)]
    assert contacts == FOUND
    balances = await store.balances(db, org.id)
    assert balances[CreditKind.VERIFY].used == VERIFY_ROWS and balances[CreditKind.SEARCH].used == FOUND
