"""Webhook delivery from the outbox to a real HTTP receiver: retries, spacing, signing, refusal."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine.egress import Egress
from mailsleuth.jobs.webhooks import SIGNATURE_HEADER, WebhookDispatcher, retry_delay, sign
from tests.api.receiver import WebhookReceiver

INTERVAL = 0.2


async def _no_dns(host: str) -> tuple[str, ...]:
    raise AssertionError(f"no name should be resolved here, got {host}")


def _client(*, allow_private: bool) -> httpx.AsyncClient:
    egress = Egress.from_settings(Settings(allow_private_networks=allow_private), _no_dns)
    return egress.client(max_response_bytes=65536, deadline=5.0)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[store.Database]:
    database = store.Database(f"sqlite+aiosqlite:///{tmp_path / 'hooks.db'}")
    await database.migrate()
    yield database
    await database.dispose()


async def _wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def _running(db: store.Database) -> tuple[WebhookDispatcher, asyncio.Task, httpx.AsyncClient]:
    client = _client(allow_private=True)
    dispatcher = WebhookDispatcher(db, client=client, interval=INTERVAL, poll=0.02)
    return dispatcher, asyncio.create_task(dispatcher.run()), client


async def _stop(task: asyncio.Task, client: httpx.AsyncClient) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.aclose()


def test_retry_delay_grows_by_the_interval() -> None:
    assert [retry_delay(n, 30.0) for n in (1, 2)] == [30.0, 60.0]


async def test_three_tries_at_growing_intervals_then_stop(db: store.Database) -> None:
    org = await store.create_org(db, "hooks")
    dispatcher, task, client = await _running(db)
    try:
        with WebhookReceiver(fail_first=10) as receiver:
            await dispatcher.enqueue(org.id, receiver.url, {"id": 1}, key="k-fail", job_id=None)
            await _wait_for(lambda: receiver.attempts >= 3)
            await asyncio.sleep(INTERVAL * 4)  # a fourth try would have come by now
            assert receiver.attempts == 3
            at = [d.at for d in receiver.deliveries]
            assert at[1] - at[0] >= INTERVAL * 0.9 and at[2] - at[1] >= 2 * INTERVAL * 0.9
    finally:
        await _stop(task, client)


async def test_delivered_on_a_retry_is_not_sent_again_and_is_signed(db: store.Database) -> None:
    org = await store.create_org(db, "hooks2")
    dispatcher, task, client = await _running(db)
    try:
        with WebhookReceiver(fail_first=1) as receiver:
            await dispatcher.enqueue(org.id, receiver.url, {"id": 2}, key="k-ok", job_id=None)
            await dispatcher.enqueue(org.id, receiver.url, {"id": 2}, key="k-ok", job_id=None)  # idempotent
            await _wait_for(lambda: receiver.attempts >= 2)
            await asyncio.sleep(INTERVAL * 3)
            assert receiver.attempts == 2
            last = receiver.deliveries[-1]
            assert last.json() == {"id": 2}
            assert last.headers["Content-Type"] == "application/json"
            expected = "sha256=" + hmac.new(org.webhook_secret.encode(), last.body, hashlib.sha256).hexdigest()
            assert last.headers[SIGNATURE_HEADER] == expected == sign(org.webhook_secret, last.body.decode())
    finally:
        await _stop(task, client)


async def test_private_target_is_refused_at_delivery(db: store.Database) -> None:
    org = await store.create_org(db, "hooks3")
    client = _client(allow_private=False)
    dispatcher = WebhookDispatcher(db, client=client, interval=INTERVAL)
    try:
        with WebhookReceiver() as receiver:
            await dispatcher.enqueue(org.id, receiver.url, {"id": 3}, key="k-private", job_id=None)
            assert await dispatcher.deliver_due() == 1
            assert receiver.attempts == 0  # no connection was made
    finally:
        await client.aclose()
