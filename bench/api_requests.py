"""Requests/s of the polling routes against a bare ASGI app, then the API while a bulk upload runs.

    apt-get install -y wrk   # the load tool (Debian package `wrk`)
    python bench/api_requests.py --seconds 10 --connections 32 [--workers 1]

Phase 1 serves a bare ASGI app (a static JSON body) with the same interpreter and uvicorn (its
defaults, as `mailsleuth serve` uses them), then `mailsleuth serve` on a fresh SQLite file, and lets
`wrk --latency` poll each polling route: `GET /2018-01-08/contacts/{id}` (VoilaNorbert),
`GET /emailguess/v1/job/status/{id}` (LeadGenius) and `GET /v1/jobs/{id}` (native bulk job). It
prints requests/s, the ratio to the bare app, p50 and p99.

Phase 2 uploads a --upload-rows verifier file (VoilaNorbert `/verifier/upload`) against the test mail
world and, while it runs, polls the contact with wrk, sends `POST /2018-01-08/search/name` from
--clients concurrent clients, and samples the upload's progress. It prints the read p99, the
submissions' p50/p99 and throughput, and the rows the upload treated over the window.

The mail world runs in a child process (as in bench/bulk_jobs.py) so its SMTP servers do not share
the benchmark's interpreter. The vendors' per-key quotas are raised for the run
(MAILSLEUTH_RATE_LIMITS), so what is measured is the work of answering, not 429s; rate limiting
itself still runs on every request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402

BARE_BODY = json.dumps({"status": 200, "result": "jane.doe@acme.test"}).encode()
QUOTA_SCOPES = ("vn", "vn:search/name", "vn:search/domain", "vn:massives", "lg", "lg:submit", "native", "kaspr")
UPLOAD_DOMAINS = 20


async def bare_app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    """The reference: the least an ASGI app can do per request (served with `uvicorn api_requests:bare_app`)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BARE_BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BARE_BODY})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve_world(rows: int, pipe: multiprocessing.connection.Connection) -> None:
    """acme.test for the searches, and UPLOAD_DOMAINS domains where every other upload address exists."""
    world = MailWorld()
    world.add_domain("acme.test", behaviour=Behaviour(mailboxes={"jane.doe", "john.smith"}, latency=0.002))
    users = {f"user{i}" for i in range(0, rows // UPLOAD_DOMAINS + 1, 2)}
    for d in range(UPLOAD_DOMAINS):
        world.add_domain(f"bench{d}.test", behaviour=Behaviour(mailboxes=users, latency=0.005))
    with world:
        pipe.send(world.env())
        pipe.recv()


@contextmanager
def mail_world(rows: int) -> Iterator[dict[str, str]]:
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=serve_world, args=(rows, theirs), daemon=True)
    child.start()
    try:
        yield ours.recv()
    finally:
        ours.send("stop")
        child.join(10)


class _Sink(BaseHTTPRequestHandler):
    """Takes the completion webhooks (the verifier upload requires one) and answers 200."""

    def do_POST(self) -> None:  # noqa: N802 (http.server's spelling)
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def webhook_sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()


def wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    for _ in range(300):
        if process.poll() is not None:
            raise SystemExit(f"{process.args} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def start_bare(port: int, workers: int) -> subprocess.Popen[str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api_requests:bare_app", "--app-dir", str(Path(__file__).parent),
         "--port", str(port), "--workers", str(workers), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, text=True,
    )
    wait_until_up(f"http://127.0.0.1:{port}/", server)
    return server


def start_server(workdir: Path, port: int, workers: int, env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "mailsleuth", "serve", "--port", str(port), "--log-level", "warning",
         *(["--workers", str(workers)] if workers != 1 else [])],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    assert server.stdout is not None
    key = None
    for line in server.stdout:
        match = re.search(r"^\s+(\S{20,})\s*$", line)
        if match:
            key = match.group(1)
            break
    if key is None:
        server.kill()
        raise SystemExit("the server printed no bootstrap key")
    drain(server)
    wait_until_up(f"http://127.0.0.1:{port}/docs", server)
    return server, key


def drain(process: subprocess.Popen[str]) -> None:
    """Keep reading the server's output so a chatty log never blocks it on a full pipe."""
    assert process.stdout is not None
    stream = process.stdout
    threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def wrk(url: str, header: str | None, seconds: float, connections: int) -> dict[str, float]:
    """wrk --latency: requests/s, p50 and p99 in ms, and the count of non-2xx/3xx answers."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", url]
    if header:
        command[1:1] = ["-H", header]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not (rate and p50 and p99):
        raise SystemExit(f"could not read wrk's output:\n{out}")
    return {"rps": float(rate.group(1)), "p50": _ms(p50.group(1)), "p99": _ms(p99.group(1)),
            "non2xx": float(errors.group(1)) if errors else 0.0}


def line(label: str, figures: dict[str, float], bare: float | None) -> str:
    ratio = f"{figures['rps'] / bare:6.1%} of bare" if bare else "    reference"
    bad = f", non-2xx {figures['non2xx']:.0f}" if figures["non2xx"] else ""
    return (f"{label:44} {figures['rps']:8.0f} req/s  {ratio}  p50 {figures['p50']:7.2f} ms  "
            f"p99 {figures['p99']:7.2f} ms{bad}")


def wait_done(client: httpx.Client, url: str, done: str = "ENDED", timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get(url).json().get("status") == done:
            return
        time.sleep(0.1)
    raise SystemExit(f"{url} did not reach {done}")


async def submissions(base: str, basic: str, clients: int, seconds: float) -> list[tuple[float, float]]:
    """`clients` concurrent clients sending searches back to back; when each was answered
    (time.monotonic) and its latency (s)."""
    latencies: list[tuple[float, float]] = []
    deadline = time.monotonic() + seconds

    async def client(number: int) -> None:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": basic}, timeout=60) as http:
            sent = 0
            while time.monotonic() < deadline:
                started = time.perf_counter()
                answer = await http.post("/2018-01-08/search/name",
                                         data={"name": f"Person{number}x{sent} Bench", "domain": "acme.test"})
                latencies.append((time.monotonic(), time.perf_counter() - started))
                if answer.status_code != 200:
                    raise SystemExit(f"search submission answered {answer.status_code}: {answer.text[:200]}")
                sent += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (bare app and server)")
    parser.add_argument("--upload-rows", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent search submitters in phase 2")
    parser.add_argument("--window", type=float, default=15, help="seconds of phase 2")
    parser.add_argument("--skip-phase1", action="store_true", help="only the upload phase (no bare app, no poll runs)")
    parser.add_argument("--skip-phase2", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")

    if not args.skip_phase1:
        bare_port = free_port()
        bare = start_bare(bare_port, args.workers)
        try:
            reference = wrk(f"http://127.0.0.1:{bare_port}/", None, args.seconds, args.connections)
        finally:
            stop(bare)

    with tempfile.TemporaryDirectory() as tmp, mail_world(args.upload_rows) as world_env, webhook_sink() as hook:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        env = {**os.environ, **world_env, "MAILSLEUTH_DATABASE_URL": url,
               # the vendors' quotas (120/min) would turn the measurement into one of 429 answers
               "MAILSLEUTH_RATE_LIMITS": json.dumps({scope: "100000000/minute" for scope in QUOTA_SCOPES})}
        port = free_port()
        server, key = start_server(Path(tmp), port, args.workers, env)
        try:
            for kind in ("search", "verify"):
                subprocess.run([sys.executable, "-m", "mailsleuth", "admin", "add-credits", "default", "10000000",
                                "--kind", kind], env=env, cwd=tmp, check=True, capture_output=True)
            base = f"http://127.0.0.1:{port}"
            basic = "Basic " + base64.b64encode(f"bench:{key}".encode()).decode()
            vn = httpx.Client(base_url=f"{base}/2018-01-08", headers={"Authorization": basic}, timeout=60)
            native = httpx.Client(base_url=f"{base}/v1", headers={"Authorization": f"Bearer {key}"}, timeout=60)
            contact = vn.post("/search/name", data={"name": "Jane Doe", "domain": "acme.test"}).json()
            job = httpx.post(f"{base}/emailguess/v1/submit", headers={"X-LG-API-KEY": key},
                             json={"first": "John", "middle": "", "last": "Smith", "domain": "acme.test",
                                   "use_smtp_sniff": True}).json()
            small = vn.post("/verifier/upload", data={"data": "jane.doe@acme.test\nnobody@acme.test", "webhook": hook}).json()
            small_id = vn.get(f"/verifier/{small['token']}").json()["id"]
            wait_done(native, f"/jobs/{small_id}")
            deadline = time.monotonic() + 30  # the figures are for polling finished results
            while vn.get(f"/contacts/{contact['id']}").json()["searching"] and time.monotonic() < deadline:
                time.sleep(0.1)
            routes = [
                ("GET /2018-01-08/contacts/{id}", f"{base}/2018-01-08/contacts/{contact['id']}",
                 f"Authorization: {basic}"),
                ("GET /emailguess/v1/job/status/{id}", f"{base}/emailguess/v1/job/status/{job['id']}",
                 f"X-LG-API-KEY: {key}"),
                ("GET /v1/jobs/{id}", f"{base}/v1/jobs/{small_id}", f"Authorization: Bearer {key}"),
            ]
            if not args.skip_phase1:
                polled = [(label, wrk(target, header, args.seconds, args.connections)) for label, target, header in routes]
                print(f"phase 1: SQLite, uvicorn workers {args.workers}, wrk -t2 -c{args.connections} "
                      f"-d{args.seconds:g}s --latency")
                print(line("bare ASGI app (static JSON)", reference, None))
                for label, figures in polled:
                    print(line(label, figures, reference["rps"]))
            if not args.skip_phase2:
                phase2(args, vn, native, base, basic, routes[0], hook)
        finally:
            stop(server)


def phase2(args: argparse.Namespace, vn: httpx.Client, native: httpx.Client, base: str, basic: str,
           poll: tuple[str, str, str], hook: str) -> None:
    rows = "\n".join(f"user{i // UPLOAD_DOMAINS}@bench{i % UPLOAD_DOMAINS}.test" for i in range(args.upload_rows))
    started = time.perf_counter()
    token = vn.post("/verifier/upload", data={"data": rows, "webhook": hook}).json()["token"]
    stored = time.perf_counter() - started
    job_id = vn.get(f"/verifier/{token}").json()["id"]
    time.sleep(1.0)  # let the slices start

    samples: list[tuple[float, int]] = []

    async def sample_progress(seconds: float) -> None:
        async with httpx.AsyncClient(base_url=f"{base}/v1", headers=native.headers, timeout=60) as http:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                samples.append((time.monotonic(), (await http.get(f"/jobs/{job_id}")).json()["treated"]))
                await asyncio.sleep(1.0)

    async def window() -> tuple[dict[str, float], list[tuple[float, float]]]:
        reads = asyncio.create_task(asyncio.to_thread(wrk, poll[1], poll[2], args.window, 8))
        progress = asyncio.create_task(sample_progress(args.window))
        writes = await submissions(base, basic, args.clients, args.window)
        await progress
        return await reads, writes

    reads, answered = asyncio.run(window())
    final = native.get(f"/jobs/{job_id}").json()
    (t0, first), (t1, last) = samples[0], samples[-1]
    # only the searches answered while the upload still ran count (it can end inside the window)
    ended = next((at for at, treated in samples if treated >= args.upload_rows), None)
    writes = [latency for at, latency in answered if ended is None or at <= ended]
    if not writes or (ended is not None and ended <= t0):
        raise SystemExit("the upload ended before the window began: give it more rows (--upload-rows)")
    print(f"phase 2: {args.upload_rows}-row verifier upload (stored in {stored:.1f} s) over {UPLOAD_DOMAINS} "
          f"domains, {args.window:g} s window")
    if ended is not None:
        print(f"  the upload ended {ended - t0:.0f} s into the window: {len(writes)} of {len(answered)} searches "
              "counted (those answered before); the wrk figures cover the whole window")
    print(line(f"{poll[0]} (wrk -c8)", reads, None).replace("    reference", "  during upload"))
    seconds = args.window if ended is None else ended - t0
    print(f"{'POST /2018-01-08/search/name':44} {len(writes) / seconds:8.1f} req/s  {args.clients} clients"
          f"       p50 {statistics.median(writes) * 1000:7.2f} ms  p99 {percentile(writes, 0.99) * 1000:7.2f} ms")
    rate = (last - first) / (t1 - t0) if t1 > t0 else 0.0
    print(f"upload progress over the window: {first} -> {last} of {args.upload_rows} rows treated "
          f"({rate:.0f} rows/s); status now {final['status']}, treated {final['treated']}")


if __name__ == "__main__":
    main()
