"""Native bulk-job management (`/v1/jobs`) and webhook delivery history (`/v1/webhooks/deliveries`).

Every bulk kind (massive, lg_bulk, verify, enrich) in one shape with its progress, whatever dialect
created it; the result file is the same CSV the dialects serve. Deliveries come from the outbox, so
the history shows each try (time, HTTP status or error) and whether the receiver finally got it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.api.native.wire import WireKind, job_kind, wire_kind
from mailsleuth.api.params import Limit, Offset, PathId, QueryId, parse_id
from mailsleuth.api.polls import polled
from mailsleuth.api.resultfiles import download_response
from mailsleuth.api.responses import FastJSON
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job
from mailsleuth.service.errors import NotFound
from mailsleuth.store import Principal, Webhook, to_ms, to_ms_or_none

router = DIALECT.router(prefix="/v1", tags=["native"])

CALLER = guard(DIALECT, DEFAULT)
Caller = Annotated[Principal, Depends(CALLER)]


def job_json(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "kind": wire_kind(job.kind),
        "status": job.status.value,
        "token": job.token,
        "quantity": job.quantity,
        "treated": job.treated,
        "success": job.success,
        "failed": job.failed,
        "progress": round(job.progress, 4),
        "verdicts": {"deliverable": job.deliverables, "risky": job.risky, "undeliverable": job.bounces},
        "filename": job.filename,
        "list_id": job.list_id,
        "webhook": job.webhook,
        "rerun_frequency": job.rerun_frequency,
        "rerun_lasttime": to_ms_or_none(job.rerun_lasttime),
        "result_available": bulk.result_available(job),
        "retention_until": to_ms_or_none(job.retention_until),
        "error": job.error,
        "created": to_ms(job.created_at),
        "updated": to_ms(job.updated_at),
        "started": to_ms_or_none(job.started_at),
        "ended": to_ms_or_none(job.ended_at),
    }


def delivery_json(delivery: Webhook) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "job_id": delivery.job_id,
        "target": delivery.target,
        "idempotency_key": delivery.idempotency_key,
        "attempts": delivery.attempts,
        "max_attempts": delivery.max_attempts,
        "delivered": delivery.delivered_at is not None,
        "delivered_at": to_ms_or_none(delivery.delivered_at),
        "next_attempt_at": to_ms_or_none(delivery.next_attempt_at),
        "last_status": delivery.last_status,
        "history": delivery.history,
    }


async def _job(request: Request, principal: Principal, job_id: int) -> Job:
    job = await bulk.get_job(services(request).db, principal.org_id, job_id=job_id)
    if job is None:
        raise NotFound("No such job.")
    return job


@router.get("/jobs", summary="Bulk jobs, newest first")
async def list_jobs(
    request: Request, principal: Caller, kind: WireKind | None = None, offset: Offset = 0, limit: Limit = 100
) -> dict[str, Any]:
    jobs = await bulk.list_jobs(services(request).db, principal.org_id, kind and job_kind(kind), offset=offset, limit=limit)
    return {"results": [job_json(job) for job in jobs], "offset": offset, "limit": limit}


@router.get("/jobs/{job_id}", summary="A bulk job and its progress")
@polled(CALLER, "/v1/jobs/{job_id}", parse_id)
async def get_job(job_id: PathId, request: Request, principal: Caller) -> FastJSON:
    return FastJSON(job_json(await _job(request, principal, job_id)))


@router.post("/jobs/{job_id}/pause", summary="Stop claiming rows (rows in flight finish)")
async def pause_job(job_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _job(request, principal, job_id)
    job = await bulk.pause_job(services(request).db, principal.org_id, job_id)
    return job_json(job or await _job(request, principal, job_id))


@router.post("/jobs/{job_id}/resume", summary="Continue a paused job")
async def resume_job(job_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _job(request, principal, job_id)
    rt = services(request).runtime
    job = await bulk.resume_job(rt.db, principal.org_id, job_id, runtime=rt)
    return job_json(job or await _job(request, principal, job_id))


@router.post("/jobs/{job_id}/cancel", summary="Stop a job for good (rows done so far stay downloadable)")
async def cancel_job(job_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _job(request, principal, job_id)
    job = await bulk.cancel_job(services(request).db, principal.org_id, job_id)
    return job_json(job or await _job(request, principal, job_id))


@router.delete("/jobs/{job_id}", summary="Delete a job and its rows", status_code=204)
async def delete_job(job_id: PathId, request: Request, principal: Caller, recursive: bool = False) -> Response:
    """`recursive=true` also deletes a massive's list and the contacts in it."""
    if not await bulk.delete_job(services(request).db, principal.org_id, job_id, recursive=recursive):
        raise NotFound("No such job.")
    return Response(status_code=204)


@router.get("/jobs/{job_id}/results", summary="The result file (CSV)")
async def job_results(job_id: PathId, request: Request, principal: Caller) -> Response:
    """The input columns, then the kind's result columns; 410 once the retention time has passed."""
    job = await _job(request, principal, job_id)
    return download_response(job, services(request).db, f"job-{job.id}-results.csv")


@router.get("/webhooks/deliveries", summary="Webhook delivery history, newest first")
async def deliveries(
    request: Request, principal: Caller, job_id: QueryId = None, offset: Offset = 0, limit: Limit = 100
) -> dict[str, Any]:
    found = await store.list_webhooks(
        services(request).db, principal.org_id, job_id=job_id, offset=offset, limit=limit
    )
    return {"results": [delivery_json(item) for item in found], "offset": offset, "limit": limit}
