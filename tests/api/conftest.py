"""A real mailsleuth server for the API tests: uvicorn on a free loopback port, a temporary SQLite
database (or, with MAILSLEUTH_TEST_API_DATABASE=postgres, its own database on the
MAILSLEUTH_TEST_POSTGRES_URL server), and the scripted mail world as the outside world. Tests talk to
it over HTTP like any client would, and prepare tenants directly through the store.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from mailsleuth import store
from mailsleuth.api.app import create_app
from mailsleuth.config import Settings
from tests import postgres

API_DATABASE = os.environ.get("MAILSLEUTH_TEST_API_DATABASE", "sqlite")
WEBHOOK_INTERVAL = 0.2  # the tests' stand-in for VoilaNorbert's 30 s retry step
_names = itertools.count(1)


@dataclass(frozen=True)
class Tenant:
    org_id: int
    user_id: int
    email: str
    key: str


@dataclass
class ApiServer:
    url: str
    settings: Settings

    def call(self, coro_fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one store function against the server's database, from the (synchronous) test."""

        async def run() -> Any:
            db = store.Database(self.settings.database_url)
            try:
                return await coro_fn(db, *args, **kwargs)
            finally:
                await db.dispose()

        return asyncio.run(run())

    def tenant(self, *, search: int = 10, verify: int = 10) -> Tenant:
        """A fresh organisation with one admin user and one key (fresh rate-limit counters too)."""
        n = next(_names)

        async def create(db: store.Database) -> Tenant:
            org = await store.create_org(db, f"org-{n}", credits={"search": search, "verify": verify})
            user = await store.create_user(db, org.id, f"user{n}@org{n}.test", name=f"User {n}", admin=True)
            key = await store.create_key(db, org.id, user.id)
            return Tenant(org.id, user.id, user.email, key)

        return self.call(create)

    def client(self, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=20.0, trust_env=False, **options)

    def native(self, tenant: Tenant) -> httpx.Client:
        """A client of the native API signed in as the tenant's key."""
        return self.client(headers={"Authorization": f"Bearer {tenant.key}"})


def _serve(app: Any, sock: socket.socket) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start")
        time.sleep(0.01)
    return server, thread


@pytest.fixture(scope="session")
def api_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if API_DATABASE == "postgres":
        if not postgres.SERVER_URL:
            pytest.skip("MAILSLEUTH_TEST_API_DATABASE=postgres needs MAILSLEUTH_TEST_POSTGRES_URL")
        url = asyncio.run(postgres.create_session_database())
        yield url
        asyncio.run(postgres.drop_database(url))
        return
    yield f"sqlite+aiosqlite:///{Path(tmp_path_factory.mktemp('api')) / 'mailsleuth.db'}"


@pytest.fixture(scope="session")
def api_server(world_settings: Settings, api_database_url: str) -> Iterator[ApiServer]:
    settings = world_settings.model_copy(update={"database_url": api_database_url})
    with serving(settings, webhook_interval=WEBHOOK_INTERVAL) as server:
        yield server


@contextmanager
def serving(settings: Settings, **options: Any) -> Iterator[ApiServer]:
    """The app for `settings` on a free loopback port, in a thread, until the block ends."""
    app = create_app(settings, webhook_poll=0.05, **options)
    # proto=IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted connections (else Nagle + delayed
    # ACK add ~40 ms to every response)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server, thread = _serve(app, sock)
    host, port = sock.getsockname()
    try:
        yield ApiServer(f"http://{host}:{port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@pytest.fixture
def tenant(api_server: ApiServer) -> Tenant:
    return api_server.tenant()


def wait_until(check: Any, timeout: float = 20.0, interval: float = 0.05) -> Any:
    """Poll `check()` until it returns something truthy (background work finishing)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(interval)
