"""Single address verification as a service: a job charged to the verify balance, with the evidence.

The verification runs in the background; the caller may wait for it (synchronous with a timeout) or
poll it later by its token (asynchronous). The job and its result live in the store, so a poll works
from any API process and survives a restart (`resume_verifications`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from mailsleuth import store
from mailsleuth.service.context import Context
from mailsleuth.service.errors import PaymentRequired
from mailsleuth.store import CreditKind, Principal, Search

log = logging.getLogger(__name__)

KIND = "single_verify"  # not "verify": that is the bulk verifier job kind


async def start_verification(
    rt: Context, principal: Principal, address: str, *, smtp: bool = True
) -> tuple[Search, asyncio.Task[Search]]:
    """Check the balance, record the job, verify in the background; 1 verify credit when it ends."""
    if await store.balance(rt.db, principal.org_id, CreditKind.VERIFY) <= 0:
        raise PaymentRequired("No verify credits left.")
    job = await store.create_search(
        rt.db,
        principal.org_id,
        user_id=principal.user_id,
        kind=KIND,
        options={"email": address, "smtp": smtp},
        token=secrets.token_urlsafe(12),
    )
    return job, _spawn(rt, job)


async def get_verification(rt: Context, org_id: int, token: str) -> Search | None:
    job = await store.get_search_by_token(rt.db, org_id, token)
    return job if job is not None and job.kind == KIND else None


async def resume_verifications(rt: Context) -> int:
    """Re-run verifications a previous process left unfinished."""
    jobs = await store.unfinished_searches(rt.db, kind=KIND, limit=10_000)
    for job in jobs:
        _spawn(rt, job)
    return len(jobs)


def _spawn(rt: Context, job: Search) -> asyncio.Task[Search]:
    return rt.spawn(_run(rt, job), name=f"verify-{job.id}")


async def _run(rt: Context, job: Search) -> Search:
    await store.start_search(rt.db, job.org_id, job.id)
    try:
        result = await rt.verifier.verify(job.options["email"], smtp=job.options.get("smtp", True))
    except Exception as exc:  # the job must end whatever the engine did; failures are not charged
        log.exception("verification %s failed", job.id)
        return await store.finish_job(rt.db, job.org_id, job.id, result=None, error=f"{type(exc).__name__}: {exc}",
                                      verified=job.options["email"])
    return await store.finish_job(
        rt.db, job.org_id, job.id, result=result.to_dict(), charge_kind=CreditKind.VERIFY,
        charge_reference=f"verify:{job.id}", verified=job.options["email"],
    )
