"""`mailsleuth serve`: migrate, bootstrap once (printing the key), serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from mailsleuth.cli.serve import prepare
from mailsleuth.config import Settings
from tests.api.conftest import wait_until

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


@contextmanager
def _served(tmp_path: Path, world_env: dict[str, str], **variables: str) -> Iterator[tuple[list[str], str]]:
    """`mailsleuth serve` as a real process on a fresh SQLite file; yields its first two output
    lines (the bootstrap key announcement) and its URL once it answers."""
    port = _free_port()
    env = {
        **os.environ,
        **world_env,
        "MAILSLEUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        **variables,
        "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", "from mailsleuth.cli.main import app; app()", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0] == f"Database: {tmp_path / 'served.db'}\n"
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/openapi.json", trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up)
        yield lines, url
    finally:
        process.terminate()
        process.wait(timeout=20)


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
