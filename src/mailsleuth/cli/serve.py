"""`mailsleuth serve`: migrate, bootstrap on first start (printing the key once), run uvicorn.

Without a broker (the embedded default) serve also starts one `mailsleuth worker` process on the same
database with the ledger as its doorbell (`mailsleuth.jobs.doorbell`): bulk slices run there, never on
the event loop that answers requests. That is the scaled-out topology in miniature, with the same
ledger, leases and reconciler; with MAILSLEUTH_BROKER_URL set, workers are started separately.
`--workers N` runs N API processes (uvicorn's), on either database. Without Redis, all of these
processes share the per-mail-host limits through one directory of lock files (`FileGate`), so the mail
hosts see one prober, as they do through Redis.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from mailsleuth import store
from mailsleuth.cli import heap
from mailsleuth.config import Settings, get_settings
from mailsleuth.store.accounts import BOOTSTRAP_CREDITS, BOOTSTRAP_ORG

if TYPE_CHECKING:  # every CLI command imports this module: the server's machinery only when it serves
    from fastapi import FastAPI

log = logging.getLogger(__name__)

WORKER_RESTART_SECONDS = 1.0


def machine_politeness_dir(settings: Settings) -> Path:
    """Where this machine's processes with the same outgoing address share per-host limits."""
    digest = hashlib.sha256(settings.prober.encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"mailsleuth-politeness-{digest}"


async def prepare(settings: Settings) -> str | None:
    """Bring the database up to date; on an empty one create the bootstrap org and return its key."""
    db = store.Database.from_settings(settings)
    try:
        await db.migrate()
        return await store.bootstrap(db)
    finally:
        await db.dispose()


def settings_environment(settings: Settings) -> dict[str, str]:
    """The settings as MAILSLEUTH_* variables, so the processes serve starts see what it was given."""
    environment = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, bool):
            text = "1" if value else "0"
        elif isinstance(value, (dict, list)):
            text = json.dumps(value)
        else:
            text = str(value)
        environment[f"MAILSLEUTH_{name.upper()}"] = text
    return environment


def app_from_environment() -> FastAPI:
    """uvicorn's app factory, run in each API process: the settings serve put in the environment."""
    from mailsleuth.api.app import create_app

    app = create_app(Settings(), migrate=False)
    heap.settle()
    return app


class EmbeddedWorker:
    """One `mailsleuth worker` child on the ledger doorbell, restarted if it dies, stopped with serve."""

    def __init__(self, environment: dict[str, str], broker_url: str) -> None:
        self._environment = {**os.environ, **environment}
        self._broker_url = broker_url
        self._before_start = _stop_with_parent()
        self._stopping = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._watch = threading.Thread(target=self._keep_running, name="embedded-worker", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._watch.start()

    def _spawn(self) -> None:
        with self._lock:
            if not self._stopping.is_set():
                command = [sys.executable, "-m", "mailsleuth", "worker", "--broker-url", self._broker_url]
                self._process = subprocess.Popen(command, env=self._environment, preexec_fn=self._before_start)

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.wait() != 0 and not self._stopping.is_set():
                log.error("the bulk worker exited with %s; restarting it", process.returncode)
            if self._stopping.wait(WORKER_RESTART_SECONDS):
                return
            self._spawn()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _stop_with_parent() -> Callable[[], None] | None:
    """What the worker child runs before it starts: ask Linux to SIGTERM it when serve dies, however
    serve dies (uvicorn ends by re-raising the signal that stopped it, so serve's own clean-up may
    never run). Resolved here, in the parent, so the forked child only makes the call."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1
    return lambda: prctl(pr_set_pdeathsig, signal.SIGTERM)


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    workers: int = typer.Option(1, min=1, help="API processes (share rate limits through --redis-url)."),
    database_url: str | None = typer.Option(
        None, envvar="MAILSLEUTH_DATABASE_URL", help="SQLAlchemy URL (default: ./mailsleuth.db)."
    ),
    redis_url: str | None = typer.Option(
        None, envvar="MAILSLEUTH_REDIS_URL", help="Share rate-limit counters through Redis."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (every dialect, OpenAPI docs at /docs); without a broker, also one bulk worker."""
    import uvicorn

    from mailsleuth.jobs.doorbell import SCHEME

    overrides = {k: v for k, v in {"database_url": database_url, "redis_url": redis_url}.items() if v}
    # `mailsleuth --dns-servers ... serve` passes its global options through the context
    base = ctx.obj["settings"] if isinstance(ctx.obj, dict) and "settings" in ctx.obj else get_settings()
    settings = base.model_copy(update=overrides)
    key = asyncio.run(prepare(settings))
    typer.echo(f"Database: {store.database_location(settings.database_url)}")
    if key is not None:
        opening = ", ".join(f"{amount} {kind.value}" for kind, amount in BOOTSTRAP_CREDITS.items())
        typer.echo(
            f"Created the bootstrap organisation {BOOTSTRAP_ORG!r}: free plan, {opening} credits "
            f"(more: mailsleuth admin add-credits {BOOTSTRAP_ORG} N --kind search|verify|enrich)."
        )
        typer.echo("Its API key (shown only this once):")
        typer.echo(f"  {key}")
    typer.echo("Serving the API, the dashboard at / and the interactive docs at /docs (--host and --port choose where).")
    if workers > 1 and not settings.redis_url:
        typer.echo(f"Rate limits are counted per API process ({workers} processes); --redis-url shares them.")
    if not settings.redis_url and not settings.politeness_dir:
        settings = settings.model_copy(update={"politeness_dir": str(machine_politeness_dir(settings))})
    embedded = not settings.broker_url
    if embedded:
        settings = settings.model_copy(update={"broker_url": f"{SCHEME}://"})
    environment = settings_environment(settings)
    os.environ.update(environment)  # what the API processes' factory reads
    worker = EmbeddedWorker(environment, settings.broker_url) if embedded else None
    if worker is not None:
        worker.start()
    try:
        uvicorn.run(
            "mailsleuth.cli.serve:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
    finally:
        if worker is not None:
            worker.stop()
