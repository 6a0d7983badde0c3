"""Session-wide fixtures: the scripted mail world every IO test talks to, and the PostgreSQL database."""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from mailsleuth.config import Settings
from tests.mailworld.doctor import BLOCKLIST, CLEAN_LIST, OPEN_HOST, add_doctor_domains
from tests import postgres
from tests.mailworld.world import MailWorld, build_standard_world
from tests.redisworld import REDIS, redis_server

EXIT_GRACE_SECONDS = 120.0


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Bound the interpreter's exit: a thread a test leaked (a server's, an executor's) could keep the
    process alive for ever after the results are in. Past the grace period every thread's stack goes
    to stderr, so the leak is visible, and the process ends with the session's own exit status."""
    status = int(getattr(config, "_mailsleuth_exitstatus", 1))

    def end() -> None:
        sys.stderr.write(f"pytest: still running {EXIT_GRACE_SECONDS:.0f} s after the session ended; threads:\n")
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        os._exit(status)

    watchdog = threading.Timer(EXIT_GRACE_SECONDS, end)
    watchdog.daemon = True
    watchdog.start()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    session.config._mailsleuth_exitstatus = int(exitstatus)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def mail_world() -> Iterator[MailWorld]:
    """The standard world (see build_standard_world for what exists where), started once."""
    with build_standard_world() as world:
        yield add_doctor_domains(world)


@pytest.fixture(scope="session")
def world_settings(mail_world: MailWorld) -> Settings:
    return mail_world.settings(doctor_mail_host=OPEN_HOST, doctor_blocklists=f"{BLOCKLIST},{CLEAN_LIST}")


@pytest.fixture(scope="session")
async def postgres_session_url() -> AsyncIterator[str]:
    """This session's own migrated database on MAILSLEUTH_TEST_POSTGRES_URL's server ("" without one)."""
    if not postgres.SERVER_URL:
        yield ""
        return
    url = await postgres.create_session_database()
    yield url
    await postgres.drop_database(url)


@pytest.fixture(scope="session")
def redis_session_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if REDIS is None:
        pytest.skip("redis-server is not installed")
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_session_url: str) -> str:
    """The session's redis-server, emptied for this test."""
    import redis

    client = redis.Redis.from_url(redis_session_url)
    try:
        client.flushall()
    finally:
        client.close()
    return redis_session_url
