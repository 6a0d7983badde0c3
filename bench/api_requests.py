"""Requests/s of the two hottest polling routes on the embedded default (SQLite, one process).

    apt-get install wrk   # the load tool (Debian package)
    python bench/api_requests.py --seconds 10 --connections 32

Starts `mailsleuth serve` on a fresh SQLite file on loopback, creates one VoilaNorbert contact and
one LeadGenius job through the API (their searches run against the scripted mail world), then lets
wrk poll `GET /2018-01-08/contacts/{id}` and `GET /emailguess/v1/job/status/{id}`. The vendors'
per-key quotas are raised for the run (MAILSLEUTH_RATE_LIMITS), so what is measured is the work of
answering, not 429s; rate limiting itself still runs on every request.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.mailworld.world import build_standard_world  # noqa: E402


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir: Path, port: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "mailsleuth", "serve", "--port", str(port), "--log-level", "warning"],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert server.stdout is not None
    deadline = time.monotonic() + 60
    key = None
    while time.monotonic() < deadline:
        line = server.stdout.readline()
        if not line:
            break
        match = re.search(r"^\s+(\S{20,})\s*$", line)
        if match:
            key = match.group(1)
            break
    if key is None:
        server.kill()
        raise SystemExit("the server printed no bootstrap key")
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
            return server, key
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not answer")


def wrk(url: str, header: str, seconds: int, connections: int) -> str:
    done = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-H", header, url],
        capture_output=True, text=True, check=True,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    latency = re.search(r"Latency\s+(\S+)", done.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    return (f"{float(rate.group(1)):.0f} req/s, mean latency {latency.group(1) if latency else '?'}, "
            f"non-2xx {errors.group(1) if errors else 0}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, build_standard_world() as world:
        env = {
            **os.environ,
            **world.env(),
            "MAILSLEUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/bench.db",
            # the vendors' quotas (120/min) would turn the measurement into one of 429 answers
            "MAILSLEUTH_RATE_LIMITS": json.dumps({"vn": "1000000/minute", "lg": "1000000/minute"}),
        }
        server, key = start_server(Path(tmp), port, env)
        try:
            base = f"http://127.0.0.1:{port}"
            basic = "Basic " + base64.b64encode(f"bench:{key}".encode()).decode()
            contact = httpx.post(f"{base}/2018-01-08/search/name", headers={"Authorization": basic},
                                 data={"name": "Jane Doe", "domain": "acme.test"}).json()
            job = httpx.post(f"{base}/emailguess/v1/submit", headers={"X-LG-API-KEY": key},
                             json={"first": "John", "middle": "", "last": "Smith", "domain": "acme.test",
                                   "use_smtp_sniff": True}).json()
            time.sleep(2)  # let both searches finish: the figures are for polling a finished result
            vn = wrk(f"{base}/2018-01-08/contacts/{contact['id']}", f"Authorization: {basic}",
                     args.seconds, args.connections)
            lg = wrk(f"{base}/emailguess/v1/job/status/{job['id']}", f"X-LG-API-KEY: {key}",
                     args.seconds, args.connections)
        finally:
            server.terminate()
            server.wait(10)
    print(f"embedded default (SQLite, 1 uvicorn process), wrk -t2 -c{args.connections} -d{args.seconds}s")
    print(f"GET /2018-01-08/contacts/{{id}}:        {vn}")
    print(f"GET /emailguess/v1/job/status/{{id}}:   {lg}")


if __name__ == "__main__":
    main()
