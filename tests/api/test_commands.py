"""`mailsleuth serve`: migrate, bootstrap once (printing the key), serve."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from mailsleuth import store
from mailsleuth.cli.serve import prepare
from mailsleuth.config import Settings
from mailsleuth.store import CreditKind
from tests import postgres
from tests.api.conftest import wait_until
from tests.api.receiver import WebhookReceiver
from tests.mailworld.smtp_server import Behaviour

SRC = str(Path(__file__).resolve().parents[2] / "src")


async def test_prepare_bootstraps_only_an_empty_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'first.db'}")
    key = await prepare(settings)
    assert key is not None and key.startswith("ms_")
    assert await prepare(settings) is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_served_processes: dict[str, subprocess.Popen[str]] = {}  # serve's process by URL, for the topology tests
_domains = itertools.count()


@contextmanager
def _served(
    tmp_path: Path, world_env: dict[str, str], *options: str, database_url: str | None = None, **variables: str
) -> Iterator[tuple[list[str], str]]:
    """`mailsleuth serve` as a real process on a fresh SQLite file (or `database_url`); yields its
    first four output lines (the bootstrap key announcement) and its URL once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        **world_env,
        "MAILSLEUTH_DATABASE_URL": database_url or f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        **variables,
        "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", "from mailsleuth.cli.main import app; app()", "serve", "--port", str(port),
               *options]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        if database_url is None:
            assert lines[0] == f"Database: {tmp_path / 'served.db'}\n"
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/openapi.json", trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60)
        _served_processes[url] = process
        yield lines, url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_prints_the_bootstrap_key_and_serves_it(tmp_path: Path, mail_world) -> None:
    with _served(tmp_path, mail_world.env()) as (lines, url):
        assert "API key" in lines[2]
        key = lines[3].strip()
        assert key.startswith("ms_")
        assert key.startswith("ms_")
        answer = httpx.get(f"{url}/keys/verifyKey", headers={"Authorization": key}, trust_env=False)
        assert answer.json() == {"user": "admin@localhost"}


def test_serve_on_redis_counts_rate_limits_there(tmp_path: Path, mail_world, redis_url: str) -> None:
    """`mailsleuth serve` with MAILSLEUTH_REDIS_URL starts, and its rate-limited routes answer with
    the counters kept in the real redis-server."""
    import redis

    limits = {"MAILSLEUTH_REDIS_URL": redis_url, "MAILSLEUTH_RATE_LIMITS": '{"vn": "2/minute"}'}
    with _served(tmp_path, mail_world.env(), **limits) as (lines, url):
        auth = httpx.BasicAuth("", lines[3].strip())
        answers = [httpx.get(f"{url}/2018-01-08/account/", auth=auth, trust_env=False) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["1", "0", "0"]
        assert answers[2].json()["error"] == "Too many requests in the allowed time frame (2 requests per minute)"
        client = redis.Redis.from_url(redis_url)
        try:
            assert any(b"vn" in name for name in client.keys("LIMITS*"))
        finally:
            client.close()


def _children(url: str, pattern: str) -> list[int]:
    """The pids of serve's child processes whose command line matches `pattern`."""
    found = subprocess.run(["pgrep", "-P", str(_served_processes[url].pid), "-f", pattern],
                           capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout.strip()[:1] != "Z"


def _store(url: str, work):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        db = store.Database(url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_serve_runs_bulk_jobs_in_its_worker_process_and_a_killed_worker_loses_no_row(
    tmp_path: Path, mail_world
) -> None:
    """The embedded default is the scaled-out topology in miniature: serve starts one `mailsleuth
    worker` beside the API; kill -9 it mid-job and serve starts another, which finishes the job with
    every row counted and charged once."""
    domain = f"served{next(_domains)}.test"
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={f"u{i}" for i in range(0, 120, 2)}, latency=0.03))
    database = f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
    quota = {"MAILSLEUTH_RATE_LIMITS": '{"vn": "100000/minute"}'}  # the test polls faster than 120/minute
    with WebhookReceiver() as receiver, _served(tmp_path, mail_world.env(), **quota) as (lines, url):
        key = lines[3].strip()
        org = _store(database, lambda db: store.find_org(db, "default"))
        _store(database, lambda db: store.add_credits(db, org.id, CreditKind.VERIFY, 1000))
        before = _store(database, lambda db: store.balance(db, org.id, CreditKind.VERIFY))
        workers = wait_until(lambda: _children(url, "mailsleuth worker"))
        assert len(workers) == 1
        vn = httpx.Client(base_url=f"{url}/2018-01-08", auth=("any", key), trust_env=False, timeout=20)
        rows = "\n".join(f"u{i}@{domain}" for i in range(120))
        token = vn.post("/verifier/upload", data={"data": rows, "webhook": receiver.url}).json()["token"]
        wait_until(lambda: vn.get(f"/verifier/{token}").json()["treated"] > 0, timeout=60)
        os.kill(workers[0], signal.SIGKILL)
        replaced = wait_until(lambda: [pid for pid in _children(url, "mailsleuth worker") if pid != workers[0]],
                              timeout=30)
        done = wait_until(lambda: (body := vn.get(f"/verifier/{token}").json())["status"] == "ENDED" and body,
                          timeout=120)
        after = _store(database, lambda db: store.balance(db, org.id, CreditKind.VERIFY))
    assert len(replaced) == 1
    wait_until(lambda: not _alive(replaced[0]), timeout=30)  # serve stopped: its worker stops with it
    assert (done["entries"], done["treated"], done["deliverables"], done["bounces"]) == (120, 120, 60, 60)
    assert before - after == 120  # each row charged once, the killed worker's rows included


@pytest.mark.parametrize("backend", postgres.BACKENDS)
def test_serve_with_two_workers_answers_from_both_processes_on_one_store(
    tmp_path: Path, mail_world, backend: str
) -> None:
    """`serve --workers 2`: two API processes (and one bulk worker) answer on one port from one store.
    Which process answered shows in X-RateLimit-Remaining: without Redis each counts its own hits."""
    database = asyncio.run(postgres.create_database()) if backend == "postgres" else None
    try:
        with _served(tmp_path, mail_world.env(), "--workers", "2", database_url=database) as (lines, url):
            key = lines[3].strip()
            database = database or f"sqlite+aiosqlite:///{tmp_path / 'served.db'}"
            org = _store(database, lambda db: store.find_org(db, "default"))
            contact = _store(database, lambda db: store.create_contact(
                db, org.id, name="Ada Lovelace", domain="analytical.test", email="ada@analytical.test", score=100))
            assert len(wait_until(lambda: len(_children(url, "multiprocessing.spawn")) == 2 and [1])) == 1
            assert len(_children(url, "mailsleuth worker")) == 1
            seen: list[int] = []
            answers = []
            for _ in range(200):  # a fresh connection each time: the kernel hands it to either process
                answer = httpx.get(f"{url}/2018-01-08/contacts/{contact.id}", auth=("any", key), trust_env=False)
                answers.append(answer.json())
                seen.append(int(answer.headers["X-RateLimit-Remaining"]))
                if len(seen) != len(set(seen)):
                    break
    finally:
        if backend == "postgres" and database:
            asyncio.run(postgres.drop_database(database))
    assert len(seen) != len(set(seen)), "every answer came from one process"
    assert all(body["id"] == contact.id and body["email"]["email"] == "ada@analytical.test" for body in answers)
