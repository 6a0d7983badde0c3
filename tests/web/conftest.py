"""A real mailsleuth server with the dashboard, on a free loopback port (the API tests' server helper)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from mailsleuth import web
from mailsleuth.api.app import create_app
from mailsleuth.config import Settings
from tests.api.conftest import ApiServer, _serve


def dashboard_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    if not any(getattr(route, "path", None) == "/dashboard" for route in app.routes):  # until create_app has it
        app.include_router(web.router)
    return app


@pytest.fixture(scope="session")
def dashboard_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    path = Path(tmp_path_factory.mktemp("web")) / "mailsleuth.db"
    # No test here resolves anything; a loopback resolver keeps any accidental lookup on this machine.
    return Settings(database_url=f"sqlite+aiosqlite:///{path}", dns_servers="127.0.0.1:1")


@pytest.fixture(scope="session")
def dashboard_server(dashboard_settings: Settings) -> Iterator[ApiServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    server, thread = _serve(dashboard_app(dashboard_settings), sock)
    host, port = sock.getsockname()
    yield ApiServer(f"http://{host}:{port}", dashboard_settings)
    server.should_exit = True
    thread.join(timeout=20)
    sock.close()
