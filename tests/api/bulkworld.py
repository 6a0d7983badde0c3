"""What the bulk API tests share: a company with a few hundred mailboxes in the mail world, a second
server that keeps the trust boundaries on (allow_private_networks off), and small helpers.

Import the fixtures into a test module to use them (`from tests.api.bulkworld import ...`).
"""

from __future__ import annotations

import csv
import io
import itertools
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from mailsleuth import store
from mailsleuth.api.app import create_app
from mailsleuth.store import models as m
from tests.api.conftest import WEBHOOK_INTERVAL, ApiServer, Tenant, _serve, wait_until
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld

VN = "/2018-01-08"
FIRST = ["anna", "ben", "clara", "david", "emma", "felix", "grace", "henry", "irene", "jack", "kate", "liam",
         "maria", "noah", "olivia", "peter", "quinn", "rachel", "simon", "tara"]
LAST = ["adams", "baker", "carter", "dixon", "evans", "fisher", "green", "hughes", "irwin", "jones", "king",
        "lewis", "moore", "nash", "owen", "parker", "quinn", "reed", "scott", "turner"]
_domains = itertools.count(1)


@dataclass(frozen=True)
class Company:
    """A {first}.{last} company whose mail server knows `known` of `people`."""

    domain: str
    people: list[tuple[str, str]]
    known: set[tuple[str, str]]

    def address(self, first: str, last: str) -> str:
        return f"{first}.{last}@{self.domain}"


def company(world: MailWorld, size: int, *, missing_every: int = 5, latency: float = 0.0) -> Company:
    """`size` people, every `missing_every`-th without a mailbox (strict server: 550 for them)."""
    domain = f"bulk{next(_domains)}.test"
    people = list(itertools.islice(itertools.product(FIRST, LAST), size))
    known = {person for index, person in enumerate(people) if index % missing_every}
    world.add_domain(domain, behaviour=Behaviour(mailboxes={f"{f}.{l}" for f, l in known}, latency=latency))
    return Company(domain, people, known)


def vn_client(api_server: ApiServer, tenant: Tenant) -> httpx.Client:
    return api_server.client(auth=("any_string", tenant.key))


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def rich_tenant(api_server: ApiServer, *, search: int = 1000, verify: int = 1000, enrich: int = 1000) -> Tenant:
    tenant = api_server.tenant(search=search, verify=verify)
    if enrich:
        api_server.call(store.add_credits, tenant.org_id, "enrich", enrich)
    return tenant


def job_count(api_server: ApiServer, org_id: int) -> int:
    """Every job the organisation has, sealed or not: proof that a refused upload left nothing."""

    async def count(db: store.Database) -> int:
        async with db.read() as session:
            jobs = await session.scalar(select(func.count()).select_from(m.Job).where(m.Job.org_id == org_id))
            rows = await session.scalar(
                select(func.count()).select_from(m.JobRow).join(m.Job, m.Job.id == m.JobRow.job_id)
                .where(m.Job.org_id == org_id)
            )
        return int(jobs or 0) + int(rows or 0)

    return api_server.call(count)


def age_retention(api_server: ApiServer, job_id: int) -> None:
    """Let the retention time pass: move the job's retention deadline into the past."""

    async def expire(db: store.Database) -> None:
        async with db.write() as session:
            await session.execute(
                update(m.Job).where(m.Job.id == job_id).values(retention_until=store.utcnow() - timedelta(seconds=1))
            )

    api_server.call(expire)


def wait_status(client: httpx.Client, path: str, status: str = "ENDED", timeout: float = 60.0) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        return answer.json() if answer.json()["status"] == status else None

    return wait_until(check, timeout=timeout, interval=0.25)  # under VoilaNorbert's 120/minute


# --- a second server with the trust boundaries on ------------------------------------------------


@pytest.fixture(scope="session")
def strict_server(world_settings: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """Like `api_server`, but private, loopback and link-local targets are refused (the default)."""
    path = Path(tmp_path_factory.mktemp("strict")) / "mailsleuth.db"
    settings = world_settings.model_copy(
        update={"database_url": f"sqlite+aiosqlite:///{path}", "allow_private_networks": False}
    )
    app = create_app(settings, webhook_interval=WEBHOOK_INTERVAL, webhook_poll=0.05)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server, thread = _serve(app, sock)
    host, port = sock.getsockname()
    yield ApiServer(f"http://{host}:{port}", settings)
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()


# --- a file server for file_url ------------------------------------------------------------------


class FileServer:
    """Serves `files[path] = bytes` on loopback; counts requests per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        files, hits = self.files, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits[self.path] = hits.get(self.path, 0) + 1
                body = files.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "text/csv")
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                self.wfile.write(body or b"")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture(scope="module")
def file_server() -> Iterator[FileServer]:
    server = FileServer()
    yield server
    server.close()
