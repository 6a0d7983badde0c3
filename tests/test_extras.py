"""The optional backends the README names are installable as extras, and each imports and builds."""

from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from mailsleuth.api.ratelimit import RateLimiter, storage_uri
from mailsleuth.jobs.queue import make_broker

ROOT = Path(__file__).resolve().parents[1]
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
README = (ROOT / "README.md").read_text()
# extra -> the modules it must make importable
MODULES = {
    "postgres": ["asyncpg"],
    "redis": ["taskiq_redis", "redis.asyncio"],
    "rabbitmq": ["taskiq_aio_pika", "aio_pika"],
}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=\[ ;]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_every_extra_the_readme_names_exists() -> None:
    named = set(re.findall(r"\.\[([a-z,]+)\]", README))
    extras = {extra for group in named for extra in group.split(",")}
    assert {"postgres", "redis", "rabbitmq", "cluster"} <= extras
    assert extras <= set(EXTRAS)


def test_cluster_is_postgres_plus_redis_and_test_installs_every_backend() -> None:
    assert EXTRAS["cluster"] == ["mailsleuth[postgres,redis]"]
    assert "mailsleuth[postgres,redis,rabbitmq]" in EXTRAS["test"]
    assert _names(EXTRAS["postgres"]) == {"asyncpg"}
    assert _names(EXTRAS["redis"]) == {"taskiq-redis", "redis"}
    assert _names(EXTRAS["rabbitmq"]) == {"taskiq-aio-pika"}


@pytest.mark.parametrize("extra", sorted(MODULES))
def test_the_extras_modules_import(extra: str) -> None:
    for module in MODULES[extra]:
        importlib.import_module(module)


async def test_each_backend_builds_from_its_url() -> None:
    """Building touches no server: the driver, broker and storage classes are only constructed."""
    engine = create_async_engine("postgresql+asyncpg://user@127.0.0.1:1/db")
    assert engine.dialect.driver == "asyncpg"
    await engine.dispose()
    assert type(make_broker("redis://127.0.0.1:1/0")).__name__ == "RedisStreamBroker"
    assert type(make_broker("amqp://guest:guest@127.0.0.1:1/")).__name__ == "AioPikaBroker"
    storage = RateLimiter(storage_uri("redis://127.0.0.1:1/0"))._storage
    assert type(storage).__name__ == "RedisStorage" and type(storage.bridge).__name__ == "RedispyBridge"
