"""Session-wide fixtures: the scripted mail world every IO test talks to, and the PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from mailsleuth.config import Settings
from tests.mailworld.doctor import BLOCKLIST, CLEAN_LIST, OPEN_HOST, add_doctor_domains
from tests import postgres
from tests.mailworld.world import MailWorld, build_standard_world
from tests.redisworld import REDIS, redis_server


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
