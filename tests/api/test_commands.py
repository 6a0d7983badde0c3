"""`mailsleuth serve`: migrate, bootstrap once (printing the key), serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
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


def test_serve_prints_the_bootstrap_key_and_serves_it(tmp_path: Path, mail_world) -> None:
    port = _free_port()
    env = {
        **os.environ,
        **mail_world.env(),
        "MAILSLEUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", "from mailsleuth.cli.main import app; app()", "serve", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]
        assert lines[0] == f"Database: {tmp_path / 'served.db'}\n"
        assert "API key" in lines[2]
        key = lines[3].strip()
        assert key.startswith("ms_")
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{url}/openapi.json", trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up)
        answer = httpx.get(f"{url}/keys/verifyKey", headers={"Authorization": key}, trust_env=False)
        assert answer.json() == {"user": "admin@localhost"}
    finally:
        process.terminate()
        process.wait(timeout=20)
