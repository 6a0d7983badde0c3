from datetime import timedelta

from mailsleuth import store
from mailsleuth.store import Database, utcnow


async def test_delivery_with_retries(db: Database) -> None:
    org = await store.create_org(db, "acme")
    hook = await store.enqueue_webhook(db, org.id, "http://127.0.0.1:9/hook", '{"id": 1}',
                                       idempotency_key="search:1", headers={"X-Sig": "abc"})
    assert (await store.enqueue_webhook(db, org.id, "http://127.0.0.1:9/hook", "{}", idempotency_key="search:1")).id == hook.id
    now = utcnow()
    claimed = await store.claim_webhooks(db, "worker-1", now=now)
    assert [w.id for w in claimed] == [hook.id] and claimed[0].headers == {"X-Sig": "abc"}
    assert await store.claim_webhooks(db, "worker-2", now=now) == []  # leased
    failed = await store.record_delivery(db, hook.id, status=500, retry_at=now + timedelta(seconds=30), now=now)
    assert failed.attempts == 1 and failed.delivered_at is None
    assert await store.claim_webhooks(db, "worker-1", now=now + timedelta(seconds=10)) == []  # not due yet
    assert [w.id for w in await store.claim_webhooks(db, "worker-1", now=now + timedelta(seconds=31))] == [hook.id]
    done = await store.record_delivery(db, hook.id, status=204, now=now + timedelta(seconds=31))
    assert done.delivered_at is not None and [h["status"] for h in done.history] == [500, 204]
    assert await store.claim_webhooks(db, "worker-1", now=now + timedelta(hours=1)) == []


async def test_expired_lease_makes_a_delivery_due_again(db: Database) -> None:
    org = await store.create_org(db, "acme")
    hook = await store.enqueue_webhook(db, org.id, "http://127.0.0.1:9/", "{}", idempotency_key="k")
    now = utcnow()
    await store.claim_webhooks(db, "crashed", now=now, lease_seconds=60)
    assert [w.id for w in await store.claim_webhooks(db, "other", now=now + timedelta(seconds=61))] == [hook.id]


async def test_gives_up_after_max_attempts(db: Database) -> None:
    org = await store.create_org(db, "acme")
    hook = await store.enqueue_webhook(db, org.id, "http://127.0.0.1:9/", "{}", idempotency_key="k", max_attempts=2)
    now = utcnow()
    for attempt in range(2):
        await store.claim_webhooks(db, "w", now=now)
        last = await store.record_delivery(db, hook.id, status=None, error="refused", retry_at=now, now=now)
    assert last.attempts == 2 and last.next_attempt_at is None
    assert await store.claim_webhooks(db, "w", now=now + timedelta(days=1)) == []
