"""Bulk jobs on the embedded default (SQLite, in-process queue) against the scripted mail world.

    python bench/bulk_jobs.py --verify-rows 100000 --massive-rows 10000 --latency 0.005

Three runs, each in a fresh process so its peak RSS is its own (the world runs in another child):
  1. a verifier upload of --verify-rows addresses over --domains domains (half of them exist);
  2. a massive of --massive-rows people over --domains domains (half of them exist as first.last);
  3. kill -9 of a server mid-job (a verify job of --kill-rows rows), restart, and count rows lost
     (not final) and duplicated (counted or charged more than once) once the job has ended.
Every mail host answers each command after --latency seconds and enforces the prober's caps
(2 connections x 20 recipients per host by default).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, select

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind, Tuning
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, JobStatus, Principal
from mailsleuth.store import models as m
from tests.jobs.runner import FIRSTS, LASTS
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

PEOPLE = [(f, l) for f in FIRSTS for l in LASTS]  # 100 people; the first half exist at every domain


def serve_world(args: argparse.Namespace, pipe: multiprocessing.connection.Connection) -> None:
    world = MailWorld()
    users = {f"user{i}" for i in range(0, args.verify_rows // args.domains + args.kill_rows, 2)}
    people = {f"{f}.{l}" for f, l in PEOPLE[: len(PEOPLE) // 2]}
    for d in range(args.domains):
        world.add_domain(f"bench{d}.test", behaviour=Behaviour(mailboxes=users | people, latency=args.latency))
    with world:
        pipe.send(world.env())
        pipe.recv()


def verify_rows(count: int, domains: int) -> Iterator[dict[str, str]]:
    """Domains interleaved, as real uploads mix them."""
    for i in range(count):
        yield {"email": f"user{i // domains}@bench{i % domains}.test"}


def massive_rows(count: int, domains: int) -> Iterator[dict[str, str]]:
    for i in range(count):
        first, last = PEOPLE[(i // domains) % len(PEOPLE)]
        yield {"name": f"{first.title()} {last.title()}", "domain": f"bench{i % domains}.test"}


async def _principal(db: Database) -> Principal:
    org = await store.create_org(db, "bench", credits={kind: 10_000_000 for kind in CreditKind})
    user = await store.create_user(db, org.id, "bench@bench.test")
    return Principal(org.id, user.id, 0, user.email, user.name, org.name, False)


async def _run_job(env: dict[str, str], url: str, kind: JobKind, rows: Iterator[dict[str, str]]) -> dict[str, object]:
    settings = Settings(**{k.removeprefix("MAILSLEUTH_").lower(): v for k, v in env.items()}, database_url=url)
    db = Database(url)
    await db.migrate()
    runtime = Runtime(settings, db, notices=DIALECTS.notices(), tuning=Tuning(reconcile_interval=1.0))
    runtime.start()
    try:
        who = await _principal(db)
        started = time.perf_counter()
        job = await bulk.submit(runtime, who, kind, rows, new_list="bench" if kind is JobKind.FIND_FILE else None)
        stored = time.perf_counter() - started
        while True:
            current = await bulk.get_job(db, who.org_id, job_id=job.id)
            assert current is not None
            if current.status is JobStatus.ENDED:
                break
            await asyncio.sleep(0.2)
        elapsed = time.perf_counter() - started
    finally:
        await runtime.close()
        await db.dispose()
    return {
        "rows": current.quantity,
        "elapsed": elapsed,
        "stored": stored,
        "treated": current.treated,
        "success": current.success,
        "deliverable": current.deliverables,
        "risky": current.risky,
        "bounces": current.bounces,
        "rcpts": runtime.verifier.rcpt_commands,
    }


def run_phase(
    kind: str, args: argparse.Namespace, env: dict[str, str], pipe: multiprocessing.connection.Connection
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        rows = (
            verify_rows(args.verify_rows, args.domains)
            if kind == "verify"
            else massive_rows(args.massive_rows, args.domains)
        )
        figures = asyncio.run(_run_job(env, url, JobKind(kind), rows))
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pipe.send(figures)


def in_child(kind: str, args: argparse.Namespace, env: dict[str, str]) -> dict[str, object]:
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    child = context.Process(target=run_phase, args=(kind, args, env, theirs))
    child.start()
    figures = ours.recv()
    child.join()
    return figures


def kill_run(args: argparse.Namespace, env: dict[str, str]) -> dict[str, int]:
    """The kill -9 run: the test's runner process, killed mid-job and restarted."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/kill.db"
        child_env = {**os.environ, **env, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}

        def start(*extra: str) -> tuple[subprocess.Popen[str], dict[str, int]]:
            process = subprocess.Popen(
                [sys.executable, "-m", "tests.jobs.runner", url, *extra],
                cwd=ROOT,
                env=child_env,
                stdout=subprocess.PIPE,
                text=True,
            )
            jobs: dict[str, int] = {}
            assert process.stdout is not None
            for line in process.stdout:
                if line.strip() == "ready":
                    return process, jobs
                kind, job_id = line.split()
                jobs[kind] = int(job_id)
            raise SystemExit("the runner died")

        async def job_state(job_id: int) -> tuple[int, int, str, int, int, int]:
            db = Database(url)
            try:
                async with db.read() as session:
                    job = await session.get(m.Job, job_id)
                    final = await session.scalar(
                        select(func.count()).where(m.JobRow.job_id == job_id, m.JobRow.status.in_(("ENDED", "FAILED")))
                    )
                    charges, distinct = (
                        await session.execute(
                            select(func.count(), func.count(func.distinct(m.CreditEntry.reference))).where(
                                m.CreditEntry.kind == "verify", m.CreditEntry.delta < 0
                            )
                        )
                    ).one()
                    assert job is not None
                    return job.quantity, job.treated, job.status, final or 0, charges, distinct
            finally:
                await db.dispose()

        first, jobs = start("--verify", f"{args.kill_rows}@bench0.test")
        job_id = jobs["verify"]
        while asyncio.run(job_state(job_id))[1] < args.kill_rows // 3:
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        at_kill = asyncio.run(job_state(job_id))[1]
        second, _ = start()
        while (state := asyncio.run(job_state(job_id)))[2] != "ENDED":
            time.sleep(0.2)
        second.terminate()
        second.wait()
    quantity, treated, _, final, charges, distinct = state
    return {
        "rows": quantity,
        "treated_at_kill": at_kill,
        "lost": quantity - final,
        "duplicated": max(0, treated - quantity) + (charges - distinct) + max(0, distinct - quantity),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verify-rows", type=int, default=100_000)
    parser.add_argument("--massive-rows", type=int, default=10_000)
    parser.add_argument("--kill-rows", type=int, default=3_000)
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.005, help="seconds before every server reply")
    args = parser.parse_args()

    ours, theirs = multiprocessing.Pipe()
    world = multiprocessing.Process(target=serve_world, args=(args, theirs), daemon=True)
    world.start()
    env = ours.recv()
    try:
        print(
            f"world: {args.domains} domains, reply latency {args.latency * 1000:.0f} ms, "
            "caps 2 connections x 20 recipients per host; SQLite + in-process queue"
        )
        for kind, count in (("verify", args.verify_rows), ("find_file", args.massive_rows)):
            f = in_child(kind, args, env)
            print(
                f"{kind:8} {count:>7} rows: {f['elapsed']:.1f} s ({count / f['elapsed']:.0f} rows/s; rows stored in "
                f"{f['stored']:.1f} s), peak RSS {f['peak_rss_mb']:.0f} MB, treated {f['treated']}, "
                f"success {f['success']}, deliverable/risky/bounces {f['deliverable']}/{f['risky']}/{f['bounces']}, "
                f"RCPT {f['rcpts']}"
            )
        k = kill_run(args, env)
        print(
            f"kill -9  {k['rows']:>7} rows: killed after {k['treated_at_kill']} rows, then restarted: "
            f"rows lost {k['lost']}, duplicated {k['duplicated']}"
        )
    finally:
        ours.send("stop")
        world.join(5)


if __name__ == "__main__":
    main()
