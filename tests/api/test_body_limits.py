"""Bodies are limited while they are read: 300 MB sent to a real `mailsleuth serve` process.

The server runs in its own process so its memory can be read from /proc: the peak resident set
(VmHWM) must not grow by anything like the body's size. The client is a raw socket that keeps
sending until the server answers and hangs up, so the test also sees that the server stopped
reading long before the end. Each refusal comes in the dialect's own error shape.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mailsleuth.service.uploads import TOO_LARGE
from tests.api.conftest import wait_until

SRC = str(Path(__file__).resolve().parents[2] / "src")
BODY = 300 * 1024 * 1024
MB = 1024 * 1024


@dataclass
class Served:
    port: int
    key: str
    pid: int

    def rss(self) -> int:
        """The server's resident set now, in bytes (VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "MAILSLEUTH_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('limits') / 'limits.db'}",
        "MAILSLEUTH_DNS_SERVERS": "127.0.0.1:9",  # nothing here resolves names: no request gets that far
        "PYTHONPATH": os.pathsep.join(filter(None, [SRC, os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-c", "from mailsleuth.cli.main import app; app()", "serve", "--port", str(port),
               "--log-level", "warning"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline() for _ in range(4)]  # database, organisation, "API key", the key
        key = lines[3].strip()
        assert key.startswith("ms_"), lines

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/openapi.json", trust_env=False).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up)
        yield Served(port, key, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class Answer:
    status: int
    body: object
    sent: int  # body bytes the client managed to send before the server hung up or answered


def _filler(first: bytes, total: int) -> Iterator[bytes]:
    """`first`, then "a" up to `total` bytes."""
    yield first
    block = b"a" * (256 * 1024)
    left = total - len(first)
    while left > 0:
        yield block[:left]
        left -= len(block)


def _send(port: int, path: str, headers: dict[str, str], *, total: int, chunked: bool, first: bytes = b"",
          pieces: Iterator[bytes] | None = None) -> Answer:
    """POST `pieces` (`total` bytes; by default `first` then filler), reading the answer while still
    sending."""
    pieces = pieces if pieces is not None else _filler(first, total)
    sock = socket.create_connection(("127.0.0.1", port))
    framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(total)}
    head = "".join(f"{k}: {v}\r\n" for k, v in {"Host": "limits.test", **headers, **framing}.items())
    sock.sendall(f"POST {path} HTTP/1.1\r\n{head}\r\n".encode())
    sent = 0
    answered = threading.Event()

    def pump() -> None:
        nonlocal sent
        try:
            for piece in pieces:
                if answered.is_set():
                    break
                sock.sendall(b"%x\r\n%b\r\n" % (len(piece), piece) if chunked and piece else piece)
                sent += len(piece)
            if chunked and sent >= total:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed: what a limit is for

    sender = threading.Thread(target=pump, daemon=True)
    sender.start()
    reader = sock.makefile("rb")
    status = int(reader.readline().split()[1])
    length = 0
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    body = json.loads(reader.read(length))
    answered.set()
    sock.shutdown(socket.SHUT_RDWR)
    sender.join(timeout=60)
    sock.close()
    return Answer(status, body, sent)


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"x:{key}".encode()).decode()


def _rss_growth(served: Served, send: Callable[[], Answer]) -> tuple[Answer, int]:
    """Run `send`, sampling the server's resident set every 10 ms: (answer, peak minus the start)."""
    before = served.rss()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.01):
            peak = max(peak, served.rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        answer = send()
    finally:
        done.set()
        sampler.join()
    return answer, max(peak, served.rss()) - before


def test_a_declared_300_mb_body_is_refused_before_it_is_read(served: Served) -> None:
    answer, growth = _rss_growth(served, lambda: _send(
        served.port, "/2018-01-08/search/name", {"Authorization": _basic(served.key), "Content-Type": "application/json"},
        total=BODY, chunked=False,
    ))
    print(f"\nContent-Length 300 MB -> {answer.status} after {answer.sent / MB:.0f} MB sent; RSS grew {growth / MB:.1f} MB")
    assert growth < 64 * MB
    assert (answer.status, answer.body) == (413, {"code": 413, "error": "Request body too large."})
    assert answer.sent < 64 * MB


@pytest.mark.parametrize(
    ("path", "headers", "first", "expected"),
    [
        ("/2018-01-08/search/name", {"Content-Type": "application/json"}, b'{"name": "',
         (413, {"code": 413, "error": "Request body too large."})),
        ("/emailguess/v1/bulk/job", {"Content-Type": "application/json"}, b'{"data": [',
         (413, {"status": 413, "error": "Request body too large."})),
        ("/v1/people", {"Content-Type": "text/csv"}, b"full_name,company\n",
         (413, {"code": 413, "error": "Request body too large."})),
        ("/2018-01-08/massives/", {"Content-Type": "application/x-www-form-urlencoded"}, b"col_name=0&content=",
         (400, {"code": "400", "error": TOO_LARGE})),
        ("/2018-01-08/massives/", {"Content-Type": "application/json"}, b'{"col_name": "0", "content": "',
         (400, {"code": "400", "error": TOO_LARGE})),
        ("/2018-01-08/verifier/upload", {"Content-Type": "multipart/form-data; boundary=XyZ"},
         b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nemail\n',
         (400, {"code": "400", "error": TOO_LARGE})),
    ],
    ids=["vn-json", "lg-json", "native-csv", "vn-massive-form", "vn-massive-json", "vn-verifier-multipart"],
)
def test_a_chunked_300_mb_body_is_cut_off_while_it_arrives(
    served: Served, path: str, headers: dict[str, str], first: bytes, expected: tuple[int, object]
) -> None:
    auth = {"X-LG-API-KEY": served.key} if path.startswith("/emailguess") else (
        {"X-API-KEY": served.key} if path.startswith("/v1/") else {"Authorization": _basic(served.key)})
    answer, growth = _rss_growth(
        served, lambda: _send(served.port, path, {**auth, **headers}, total=BODY, chunked=True, first=first)
    )
    print(f"\n{path} ({headers['Content-Type']}): 300 MB chunked -> {answer.status} after {answer.sent / MB:.0f} MB "
          f"sent; server peak RSS grew {growth / MB:.1f} MB")
    assert (answer.status, answer.body) == expected
    assert answer.sent < BODY
    assert growth < 64 * MB


def _escaped_csv_upload(rows: int) -> tuple[list[bytes], int, int]:
    """A massive's JSON body as a client library writes it (`ensure_ascii`): a CSV of `rows` rows
    whose notes column is accented text, so the JSON is more than twice the CSV's UTF-8 size.
    (the body's pieces, their total size, the CSV's size)."""
    notes = "élève à côté, déjà réglé; " * 1769  # 45 994 characters, under csv's field limit
    head = json.dumps({"col_name": "0", "col_domain": "1", "webhook": "https://hooks.example.com/done"})
    pieces = [head[:-1].encode() + b', "content": "']
    csv_size = 0
    for index in range(rows):
        line = f'Jeanne Dupont,dupont-{index:05}.example.com,"{notes}"\n'
        csv_size += len(line.encode())
        pieces.append(json.dumps(line)[1:-1].encode())  # ASCII: every accent is a \\u escape
    pieces.append(b'"}')
    return pieces, sum(map(len, pieces)), csv_size


def test_a_200_mb_json_upload_is_accepted_with_flat_memory(served: Served) -> None:
    """Under the upload limit a JSON body is read from its spool field by field: the 95 MB CSV it
    carries goes to disk escape by escape, never whole into memory (as text, then decoded, then
    encoded again, it used to cost three times its size)."""
    rows = 1600
    pieces, total, csv_size = _escaped_csv_upload(rows)
    assert 190 * MB < total < 201 * MB and csv_size < 100 * MB
    headers = {"Authorization": _basic(served.key), "Content-Type": "application/json"}
    answer, growth = _rss_growth(served, lambda: _send(
        served.port, "/2018-01-08/massives/", headers, total=total, chunked=False, pieces=iter(pieces)))
    print(f"\n/2018-01-08/massives/ JSON upload of {total / MB:.0f} MB ({csv_size / MB:.0f} MB of CSV) -> "
          f"{answer.status}; server peak RSS grew {growth / MB:.1f} MB")
    assert answer.status == 200, answer.body
    assert isinstance(answer.body, dict)
    assert {key: answer.body[key] for key in ("quantity", "filename", "webhook", "status")} == {
        "quantity": rows, "filename": "upload.csv", "webhook": "https://hooks.example.com/done", "status": "QUEUED",
    }
    assert answer.sent == total
    assert growth < 64 * MB
