"""`mailsleuth serve` as a newcomer starts it: in an empty directory, on the embedded defaults."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailsleuth.cli.serve import machine_politeness_dir
from mailsleuth.config import Settings


class Served:
    """A `mailsleuth serve --port 0` child process whose output is collected line by line."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAILSLEUTH_")}
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "mailsleuth", "serve", "--port", "0"],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None and not self.lines:
                break
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in {self.lines}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    server = Served(tmp_path)
    yield server
    server.stop()


def test_first_start_prints_the_database_path_the_plan_and_a_working_key(served: Served, tmp_path: Path) -> None:
    port = served.wait_for(r"Uvicorn running on http://127\.0\.0\.1:(\d+)").group(1)
    database = served.wait_for(r"^Database: (.+)$").group(1)
    assert database == str((tmp_path / "mailsleuth.db").resolve()) and Path(database).is_file()
    served.wait_for(r"^Created the bootstrap organisation 'default': free plan, 100 search, 100 verify, 100 enrich "
                    r"credits \(more: mailsleuth admin add-credits default N --kind search\|verify\|enrich\)\.$")
    key = served.wait_for(r"^  (ms_\S+)$").group(1)
    served.wait_for(r"--host and --port choose where")
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        answer = client.get("/keys/verifyKey", headers={"Authorization": key})
    assert answer.status_code == 200 and answer.json() == {"user": "admin@localhost"}
    assert answer.headers["Remaining-Credits"] == "100"


@pytest.mark.parametrize("other", ["192.0.2.8", ""])
def test_serve_shares_limits_per_outgoing_address(other: str) -> None:
    one = machine_politeness_dir(Settings(source_address="192.0.2.7", helo_name="probe.example"))
    again = machine_politeness_dir(Settings(source_address="192.0.2.7", helo_name="probe.example"))
    different = machine_politeness_dir(Settings(source_address=other, helo_name="probe.example"))
    assert one == again and one != different
