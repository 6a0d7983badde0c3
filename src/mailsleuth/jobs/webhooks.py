"""Webhook delivery from the store's outbox: 3 tries, the interval growing by 30 seconds each time.

The outbox row is written in the same breath as the result, so a crash between finishing a search and
POSTing its webhook loses nothing: the next claim picks the row up. Each attempt re-checks where the
URL resolves to (the client is an egress client: it connects only to the public address it checked) and
never follows redirects; only the receiver's status is read, never its body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import os
from datetime import timedelta
from typing import Any

import httpx

from mailsleuth import store
from mailsleuth.store import Database, Webhook, utcnow

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Mailsleuth-Signature"
IDEMPOTENCY_HEADER = "X-Mailsleuth-Idempotency-Key"


def sign(secret: str, body: str) -> str:
    """HMAC-SHA256 of the body with the organisation's webhook secret, so receivers can trust it."""
    return "sha256=" + hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def delivery_headers(secret: str, body: str, key: str) -> dict[str, str]:
    """JSON, the body's signature, and the idempotency id a receiver dedupes retried deliveries on."""
    headers = {"Content-Type": "application/json", IDEMPOTENCY_HEADER: key}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    return headers


def retry_delay(attempts: int, interval: float) -> float:
    """Delay after the `attempts`-th failed try: interval, 2*interval, ... (VoilaNorbert's 30 s steps)."""
    return interval * attempts


class WebhookDispatcher:
    """Claims due deliveries and POSTs them; `kick()` after enqueueing to deliver without waiting."""

    def __init__(
        self,
        db: Database,
        *,
        client: httpx.AsyncClient,
        interval: float = 30.0,
        poll: float = 5.0,
    ) -> None:
        self.db = db
        self.client = client  # an egress client (mailsleuth.engine.egress.Egress.client)
        self.interval = interval
        self.poll = poll
        self.owner = f"api-{os.getpid()}-{id(self):x}"
        self._wake = asyncio.Event()

    async def enqueue(self, org_id: int, target: str, payload: dict[str, Any], *, key: str, job_id: int | None) -> None:
        org = await store.get_org(self.db, org_id)
        body = json.dumps(payload, separators=(",", ":"))
        headers = delivery_headers(org.webhook_secret if org is not None else "", body, key)
        await store.enqueue_webhook(self.db, org_id, target, body, idempotency_key=key, headers=headers, job_id=job_id)
        self.kick()

    def kick(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Deliver forever; meant to run as one background task per process."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # a broken database must not kill the loop silently
                log.exception("webhook delivery round failed")
            try:
                # asyncio.timeout, not wait_for: on 3.11 a cancel that meets wait_for's timeout can
                # leave wait_for waiting on its inner task for ever, and Runtime.close() with it
                async with asyncio.timeout(min(self.poll, self.interval)):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def deliver_due(self) -> int:
        claimed = await store.claim_webhooks(self.db, self.owner, lease_seconds=max(60.0, self.interval))
        await asyncio.gather(*(self._deliver(webhook) for webhook in claimed))
        return len(claimed)

    async def _deliver(self, webhook: Webhook) -> None:
        status, error = await self._post(webhook)
        attempts = webhook.attempts + 1
        retry_at = utcnow() + timedelta(seconds=retry_delay(attempts, self.interval))
        await store.record_delivery(self.db, webhook.id, status=status, error=error, retry_at=retry_at)
        if status is None or not 200 <= status < 300:
            log.info("webhook %s attempt %d failed: %s", webhook.id, attempts, error or status)

    async def _post(self, webhook: Webhook) -> tuple[int | None, str | None]:
        try:
            async with self.client.stream(
                "POST", webhook.target, content=webhook.body.encode(), headers=webhook.headers, follow_redirects=False
            ) as response:
                return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"
