"""LeadGenius bulk EmailGuess: submit a batch of people, then poll it (or receive one webhook per match).

The vendor's limit is on objects, not requests: 5,000 people per key per hour, so a batch costs as
many units as it has people, and a batch that does not fit is refused whole with 403 (nothing is
counted for it). The status call is limited to 1 per minute and 60 per hour, as documented. The
per-match webhooks (`webhook_id` "bulk;sub;email", 3 tries in 3 minutes) are sent by `jobs.bulk`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from mailsleuth.api.auth import guard, report_rate, services
from mailsleuth.api.bodies import read_fields
from mailsleuth.api.params import parse_id
from mailsleuth.api.leadgenius.dialect import BULK_OBJECTS, BULK_STATUS, DEFAULT, DIALECT, NOT_FOUND
from mailsleuth.api.leadgenius.routes import paid_verdicts
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.search import webhook_url
from mailsleuth.store import JobStatus, Principal
from mailsleuth.api.leadgenius.batch import parse_batch

router = DIALECT.router(tags=["LeadGenius"])

Submitter = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]
StatusCaller = Annotated[Principal, Depends(guard(DIALECT, BULK_STATUS))]

async def submit_bulk(request: Request, principal: Submitter) -> JSONResponse:
    """`data` (first, middle, last, domain), `options` (use_smtp_sniff, use_catch_all), `webhook_url`.
    202 with both `job_id` and `id` (the vendor's docs use both)."""
    batch = parse_batch(await read_fields(request))
    svc = services(request)
    try:
        webhook = webhook_url(batch.webhook_url, svc.runtime)
    except ServiceError as exc:  # in the bulk error shape, not the single submit's {"message"}
        raise ServiceError(f"webhook_url: {exc.message}") from None
    decision = await svc.limiter.hit(f"key:{principal.key_id}", BULK_OBJECTS, cost=len(batch.people))
    report_rate(request, DIALECT, decision)  # the object quota's headers replace the guard's
    if not decision.allowed:
        message = (
            f"Too many objects: this batch has {len(batch.people)}, "
            f"{max(0, decision.remaining)} of {decision.limit} per hour are left."
        )
        return JSONResponse({"status": 403, "error": message}, status_code=403)
    job = await bulk.submit(
        svc.runtime,
        principal,
        JobKind.FIND_BATCH,
        (person.to_input() for person in batch.people),
        options={
            "smtp": batch.use_smtp_sniff,
            "use_catch_all": batch.use_catch_all,
            "paid_verdicts": list(paid_verdicts(batch.use_catch_all)),
        },
        webhook=webhook,
    )
    return JSONResponse({"status": 202, "job_id": job.id, "id": job.id}, status_code=202)


async def bulk_status(jobid: str, request: Request, principal: StatusCaller) -> JSONResponse:
    """The matches so far, how many people failed, the total, and whether the job is done."""
    db = services(request).db
    job_id = parse_id(jobid)
    job = await bulk.get_job(db, principal.org_id, job_id=job_id) if job_id is not None else None
    if job is None or job.kind != JobKind.FIND_BATCH:
        return JSONResponse(NOT_FOUND, status_code=404)
    matches = [
        {key: row_input.get(key, "") for key in ("first", "middle", "last")} | {"email": result["email"]}
        async for row_input, result in bulk.iter_results(db, principal.org_id, job.id)
        if result.get("email")
    ]
    body = {
        "status": 200,
        "results": {
            "results": matches,
            "failed": job.treated - len(matches),  # people done without an address
            "total": job.quantity,
            "completed": job.status in (JobStatus.ENDED, JobStatus.CANCELLED),
        },
    }
    return JSONResponse(body)


router.add_api_route(
    "/emailguess/v1/bulk/job", submit_bulk, methods=["POST"], status_code=202, summary="Submit a bulk job"
)
for _path in ("/v1/emailguess/bulk/job/status/{jobid}", "/emailguess/v1/bulk/job/status/{jobid}"):
    router.add_api_route(_path, bulk_status, methods=["GET"], summary="Status of a bulk job")

