"""A real mailsleuth server with the dashboard, on a free loopback port (the API tests' server helper)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from mailsleuth import web
from mailsleuth.api.app import create_app
from mailsleuth.config import Settings
from tests.api.conftest import ApiServer, _serve
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.web.browser import DESKTOP, Console, chromium_path, unavailable
from tests.webworld import WebWorld
from tests.webworld.world import html


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


# --- the browser tests: `mailsleuth serve` against the mail world and a company website ----------

SITE = "gizmos.test"
SITE_ADDRESS = "127.0.0.2"
# Who works at gizmos.test: the website names the first two and the role address; the mail server
# knows them all, so the convention ({first}.{last}) learned from the site finds the third.
SITE_PEOPLE = {"nina.patel": "Nina Patel", "omar.haddad": "Omar Haddad"}
SITE_MAILBOXES = {*SITE_PEOPLE, "lena.fischer", "hello"}


def _gizmos_site() -> dict[str, object]:
    cards = "".join(
        f'<li><h3>{name}</h3><a href="mailto:{local}@{SITE}">Email {name.split()[0]}</a></li>'
        for local, name in SITE_PEOPLE.items()
    )
    return {
        "/": html("<html><head><title>Gizmos Ltd | Home</title><meta name='description' content='Gizmos'></head>"
                  "<body><a href='/team'>Team</a><a href='/contact'>Contact</a></body></html>"),
        "/team": html(f"<h1>Our team</h1><ul>{cards}</ul>"),
        "/contact": html(f"<p>Write to hello@{SITE}</p>"),
    }


@dataclass(frozen=True)
class LiveServer:
    """A `mailsleuth serve` process: its URL, the key it printed on first start, its settings."""

    url: str
    key: str
    api: ApiServer


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _read_key(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip().startswith("ms_"):
            return line.strip()
    raise RuntimeError(f"mailsleuth serve printed no key (exit {process.wait()})")


@pytest.fixture(scope="session")
def live_server(mail_world: MailWorld, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real server as a user starts it, the mail world as its internet, gizmos.test's website."""
    with WebWorld((SITE_ADDRESS, "127.0.0.1")) as web_world:
        web_world.add_site(SITE, _gizmos_site())
        mail_world.add_domain(SITE, behaviour=Behaviour(mailboxes=SITE_MAILBOXES))
        mail_world.dns.add(SITE, "A", SITE_ADDRESS)
        path = Path(tmp_path_factory.mktemp("browser")) / "mailsleuth.db"
        overrides = {"database_url": f"sqlite+aiosqlite:///{path}", "crawl_scheme": "http",
                     "crawl_port": web_world.port, "crawl_timeout": 5.0}
        port = _free_port()
        process = subprocess.Popen(
            ["mailsleuth", "serve", "--port", str(port), "--log-level", "warning"],
            env={**os.environ, **mail_world.env(**overrides)},
            stdout=subprocess.PIPE, text=True,
        )
        try:
            key = _read_key(process)
            url = f"http://127.0.0.1:{port}"
            _wait_listening(url, process)
            yield LiveServer(url, key, ApiServer(url, mail_world.settings(**overrides)))
        finally:
            process.terminate()
            process.wait(timeout=20)


def _wait_listening(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mailsleuth serve exited with {process.returncode}")
        try:
            httpx.get(url + "/dashboard", timeout=1.0, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("mailsleuth serve did not start listening")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Module-scoped: Playwright's sync API keeps an event loop running in this thread while it lives."""
    executable = chromium_path()
    if executable is None:
        unavailable("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright  # test_browser.py has checked it is there

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer, console: Console) -> Iterator[Any]:
    """A fresh browser profile at 1280 px on the dashboard; the test fails on any console error."""
    context = chromium.new_context(viewport=DESKTOP, accept_downloads=True, base_url=live_server.url)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    console.watch(tab)
    tab.goto("/dashboard")
    yield tab
    context.close()
    assert console.errors == []
