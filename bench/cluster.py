"""The scale-out measured: an API process and N `mailsleuth worker` processes on PostgreSQL + Redis
(broker, shared politeness) against the scripted mail world, one worker killed with -9 mid-job.

    eval "$(bash .ci/postgres.sh)"      # a throwaway PostgreSQL on loopback (needs root)
    python bench/cluster.py --rows 10000 --domains 20 --latency 0.02

Runs the same --rows verifier upload twice, each on a fresh database and Redis: with 1 worker, then
with 3 workers of which one is killed with SIGKILL once a third of the rows are done (the others go
on; nothing restarts it). The API process is a Runtime with the API's submit path (no HTTP: the
routes only parse and call it). Prints rows/s, rows lost (not final) and duplicated (counted or
charged more than once), the most concurrent connections any mail host saw across all workers
(the cap is --cap), and the speed-up of 3 workers over 1. The mail world runs in its own process.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from sqlalchemy import func, select

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, JobStatus
from mailsleuth.store import models as m
from tests import postgres
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.redisworld import redis_server

WORKER = "import typer; from mailsleuth.cli.jobs import worker; typer.run(worker)"


def serve_world(args: argparse.Namespace, pipe: multiprocessing.connection.Connection) -> None:
    """The mail world in its own process; answers "stats" with every bench host's max concurrency."""
    world = MailWorld()
    users = {f"user{i}" for i in range(0, args.rows, 2)}
    for d in range(args.domains):
        world.add_domain(f"cluster{d}.test", behaviour=Behaviour(mailboxes=users, latency=args.latency))
    with world:
        pipe.send(world.env())
        while (message := pipe.recv()) != "stop":
            assert message == "stats"
            hosts = [world.stats(f"mx.cluster{d}.test") for d in range(args.domains)]
            pipe.send((max(h.max_concurrent for h in hosts), sum(h.connections for h in hosts)))


def rows(args: argparse.Namespace) -> list[dict[str, str]]:
    return [{"email": f"user{i}@cluster{i % args.domains}.test"} for i in range(args.rows)]


async def run(args: argparse.Namespace, world_env: dict[str, str], workers: int, kill: bool) -> dict[str, float]:
    url = await postgres.create_database()
    with tempfile.TemporaryDirectory() as scratch, redis_server(Path(scratch)) as redis_url:
        values = {
            "MAILSLEUTH_DATABASE_URL": url,
            "MAILSLEUTH_BROKER_URL": redis_url,
            "MAILSLEUTH_REDIS_URL": redis_url,
            "MAILSLEUTH_MAX_CONNECTIONS_PER_HOST": str(args.cap),
        }
        env = {**os.environ, **world_env, **values, "PYTHONPATH": str(ROOT / "src")}
        settings = Settings(**{k.removeprefix("MAILSLEUTH_").lower(): v for k, v in {**world_env, **values}.items()})
        db = Database(url)
        await db.migrate()
        api = Runtime(settings, db, notices=DIALECTS.notices())
        api.start()
        processes = [
            subprocess.Popen([sys.executable, "-c", WORKER], cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        try:
            await asyncio.sleep(args.warmup)  # the workers import, migrate and start listening: not measured
            org = await store.create_org(db, "bench", credits={kind: 10 * args.rows for kind in CreditKind})
            user = await store.create_user(db, org.id, "bench@bench.test")
            who = store.Principal(org.id, user.id, 0, user.email, user.name, org.name, False)
            started = time.perf_counter()
            job = await bulk.submit(api, who, JobKind.VERIFY, rows(args))
            killed_at = None
            while True:
                current = await bulk.get_job(db, org.id, job_id=job.id)
                assert current is not None
                if kill and killed_at is None and current.treated >= args.rows // 3:
                    os.kill(processes[0].pid, signal.SIGKILL)
                    processes[0].wait()
                    killed_at = current.treated
                if current.status is JobStatus.ENDED:
                    break
                await asyncio.sleep(0.2)
            elapsed = time.perf_counter() - started
        finally:
            for process in processes:
                if process.poll() is None:
                    process.terminate()
            for process in processes:
                process.wait(30)
            await api.close()
        async with db.read() as session:
            final = await session.scalar(
                select(func.count()).where(m.JobRow.job_id == job.id, m.JobRow.status == "ENDED")
            )
            entries, references = (
                await session.execute(
                    select(func.count(), func.count(func.distinct(m.CreditEntry.reference))).where(
                        m.CreditEntry.org_id == org.id, m.CreditEntry.delta < 0
                    )
                )
            ).one()
        await db.dispose()
    await postgres.drop_database(url)
    return {
        "seconds": elapsed,
        "rows_per_s": args.rows / elapsed,
        "lost": args.rows - final,
        "duplicated": (current.treated - args.rows) + (entries - references) + (entries - args.rows),
        "treated": current.treated,
        "deliverable": current.deliverables,
        "killed_at": killed_at or 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds before every SMTP reply")
    parser.add_argument("--cap", type=int, default=2, help="connections per mail host")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds the workers get to start")
    args = parser.parse_args()
    if not postgres.SERVER_URL:
        sys.exit('set MAILSLEUTH_TEST_POSTGRES_URL (eval "$(bash .ci/postgres.sh)")')
    ours, theirs = multiprocessing.Pipe()
    world = multiprocessing.Process(target=serve_world, args=(args, theirs), daemon=True)
    world.start()
    world_env = ours.recv()
    print(f"{args.rows} verify rows over {args.domains} domains, {args.latency * 1000:.0f} ms per SMTP reply, cap {args.cap}")
    results = {}
    for workers, kill in ((1, False), (3, True)):
        result = asyncio.run(run(args, world_env, workers, kill))
        ours.send("stats")
        peak, connections = ours.recv()
        results[workers] = result
        print(
            f"{workers} worker(s){' (one killed -9 at ' + str(result['killed_at']) + ' rows)' if kill else ''}: "
            f"{result['seconds']:.1f} s, {result['rows_per_s']:.0f} rows/s, lost {result['lost']}, "
            f"duplicated {result['duplicated']}, deliverable {result['deliverable']}/{args.rows}, "
            f"max concurrent connections per host so far {peak} (cap {args.cap}), {connections} connections in all"
        )
    print(f"speed-up of 3 workers (one killed) over 1: {results[1]['seconds'] / results[3]['seconds']:.2f}x")
    ours.send("stop")
    world.join(10)


if __name__ == "__main__":
    main()
