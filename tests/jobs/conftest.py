"""Bulk-job fixtures: a migrated database per test (a SQLite file, and PostgreSQL too when
MAILSLEUTH_TEST_POSTGRES_URL is set), a Runtime wired to the mail world with small slices and a
fast reconciler, and an organisation with credits to spend."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job, Tuning
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, Principal
from tests import postgres
from tests.postgres import BACKENDS

TUNING = Tuning(
    slice_rows=40,
    window=2,
    claim_rows=15,
    rows_per_write=4,  # fewer than claim_rows: a slice completes its finished rows over several transactions
    lease_seconds=30.0,
    max_attempts=3,
    error_retry_seconds=0.2,
    reconcile_interval=0.2,
    resend_after=1.0,
)
CREDITS = {CreditKind.SEARCH: 1000, CreditKind.VERIFY: 1000, CreditKind.ENRICH: 1000}


@pytest.fixture(scope="session")
async def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs-template") / "jobs.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    await database.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_template: Path) -> str:
    shutil.copyfile(migrated_template, tmp_path / "jobs.db")
    return f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, sqlite_url: str, postgres_session_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    await postgres.empty(postgres_session_url)
    return postgres_session_url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    yield database
    await database.dispose()


def make_runtime(settings: Settings, db: Database, tuning: Tuning = TUNING) -> Runtime:
    return Runtime(settings, db, notices=DIALECTS.notices(), webhook_interval=0.2, webhook_poll=0.05, tuning=tuning)


@pytest.fixture
async def runtime(world_settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    """Started: slices run in-process, the reconciler runs every 0.2 s, webhooks are delivered."""
    rt = make_runtime(world_settings, db)
    rt.start()
    yield rt
    await rt.close()


@pytest.fixture
async def principal(db: Database) -> Principal:
    return await make_principal(db, "jobs-org")


async def make_principal(db: Database, name: str, credits: dict[CreditKind, int] | None = None) -> Principal:
    org = await store.create_org(db, name, credits=CREDITS if credits is None else credits)
    user = await store.create_user(db, org.id, f"owner@{name}.test", name="Owner")
    return Principal(org.id, user.id, 0, user.email, user.name, org.name, False)


_domains = itertools.count()


def fresh_domain(prefix: str) -> str:
    """A domain name no earlier test (or parametrisation) of this session has used."""
    return f"{prefix}{next(_domains)}.test"


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """Poll an async check until it returns something truthy (behaviour, not speed, is asserted)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        await asyncio.sleep(interval)


async def ended(db: Database, org_id: int, job_id: int, timeout: float = 60.0) -> Job:
    async def check() -> Job | None:
        job = await bulk.get_job(db, org_id, job_id=job_id)
        return job if job is not None and job.status is store.JobStatus.ENDED else None

    return await eventually(check, timeout)
