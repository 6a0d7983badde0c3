"""The webhook outbox: deliveries are rows, so a crash between deciding and sending loses nothing.

A sender claims due rows with a lease, POSTs them (outside any transaction), then records the
outcome; an expired lease makes the row due again. Signing and the retry schedule belong to the
sender (per dialect); the outbox only stores what to send and what happened.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from mailsleuth.store import models as m
from mailsleuth.store.db import Database
from mailsleuth.store.errors import NotFound
from mailsleuth.store.records import Webhook, utcnow


def _record(row: m.WebhookDelivery) -> Webhook:
    return Webhook(
        id=row.id,
        org_id=row.org_id,
        job_id=row.job_id,
        target=row.target,
        body=row.body,
        headers=dict(row.headers or {}),
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        last_status=row.last_status,
        history=list(row.history or []),
    )


async def enqueue_webhook(
    db: Database,
    org_id: int,
    target: str,
    body: str,
    *,
    idempotency_key: str,
    headers: dict[str, str] | None = None,
    job_id: int | None = None,
    max_attempts: int = 3,
    not_before: datetime | None = None,
) -> Webhook:
    """Queue a delivery; a repeated idempotency_key returns the existing row instead of a second one."""
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        raise ValueError("webhook target must not contain control characters")
    async with db.write() as session:
        existing = await session.scalar(
            select(m.WebhookDelivery).where(m.WebhookDelivery.idempotency_key == idempotency_key)
        )
        if existing is not None:
            return _record(existing)
        row = m.WebhookDelivery(
            org_id=org_id,
            job_id=job_id,
            target=target,
            body=body,
            headers=dict(headers or {}),
            idempotency_key=idempotency_key,
            max_attempts=max_attempts,
            next_attempt_at=not_before or utcnow(),
            attempts=0,
            history=[],
        )
        session.add(row)
        await session.flush()
        return _record(row)


async def claim_webhooks(
    db: Database, owner: str, *, limit: int = 50, lease_seconds: float = 60.0, now: datetime | None = None
) -> list[Webhook]:
    """Lease up to `limit` due, undelivered deliveries to `owner` (every organisation's: this is the sender)."""
    now = now or utcnow()
    async with db.write() as session:
        query = (
            select(m.WebhookDelivery)
            .where(
                m.WebhookDelivery.delivered_at.is_(None),
                m.WebhookDelivery.next_attempt_at.is_not(None),
                m.WebhookDelivery.next_attempt_at <= now,
                m.WebhookDelivery.attempts < m.WebhookDelivery.max_attempts,
                or_(m.WebhookDelivery.lease_expires_at.is_(None), m.WebhookDelivery.lease_expires_at <= now),
            )
            .order_by(m.WebhookDelivery.next_attempt_at, m.WebhookDelivery.id)
            .limit(limit)
        )
        if not db.is_sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(await session.scalars(query))
        for row in rows:
            row.lease_owner = owner
            row.lease_expires_at = now + timedelta(seconds=lease_seconds)
        await session.flush()
        return [_record(row) for row in rows]


async def record_delivery(
    db: Database,
    webhook_id: int,
    *,
    status: int | None,
    error: str | None = None,
    retry_at: datetime | None = None,
    now: datetime | None = None,
) -> Webhook:
    """Record one attempt: 2xx marks delivered; otherwise retry at `retry_at` while attempts remain."""
    now = now or utcnow()
    async with db.write() as session:
        row = await session.get(m.WebhookDelivery, webhook_id)
        if row is None:
            raise NotFound(f"webhook delivery {webhook_id} not found")
        row.attempts += 1
        row.last_status = status
        row.history = [*row.history, {"at": now.isoformat(), "status": status, "error": error}]
        row.lease_owner = row.lease_expires_at = None
        if status is not None and 200 <= status < 300:
            row.delivered_at, row.next_attempt_at = now, None
        else:
            row.next_attempt_at = retry_at if row.attempts < row.max_attempts else None
        await session.flush()
        return _record(row)


async def list_webhooks(
    db: Database, org_id: int, *, job_id: int | None = None, offset: int = 0, limit: int = 100
) -> list[Webhook]:
    """The organisation's webhook deliveries, newest first (the delivery history of the native API)."""
    query = select(m.WebhookDelivery).where(m.WebhookDelivery.org_id == org_id)
    if job_id is not None:
        query = query.where(m.WebhookDelivery.job_id == job_id)
    query = query.order_by(m.WebhookDelivery.id.desc()).offset(offset).limit(limit)
    async with db.read() as session:
        return [_record(row) for row in await session.scalars(query)]
