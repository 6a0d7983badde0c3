"""Reacher (`/v0/check_email`, `/v1/check_email`, `/v1/bulk`): single checks on mailsleuth's
verifications, bulk checks on the bulk verifier's ledger, answered in Reacher's output shape.

The secret (`x-reacher-secret`) is a mailsleuth API key, so each check is charged to that key's
organisation (1 verify credit) and a bulk job is only visible to it, also on the progress and
results routes that upstream Reacher leaves open. `from_email`, `hello_name` and `smtp_port` are
validated and then not used, as upstream Reacher does without a proxy: probes always go out with
the server's own identity and to its configured SMTP port (`MAILSLEUTH_SMTP_PORT`), so no caller can
aim them elsewhere; `debug` reports what was used. Proxies and per-email webhooks are refused.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from pydantic import BaseModel

from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import json_object, validate
from mailsleuth.api.params import PathId
from mailsleuth.api.reacher.dialect import DEFAULT, DIALECT
from mailsleuth.api.reacher.models import (
    BulkJob,
    BulkProgress,
    BulkRequest,
    BulkResults,
    CheckEmailOutput,
    CheckEmailRequest,
    ErrorBlock,
    Misc,
    Mx,
    Smtp,
    Summary,
)
from mailsleuth.api.reacher.output import check_output, syntax
from mailsleuth.api.services import settle
from mailsleuth.engine import domains
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.service.csvfiles import SafeWriter
from mailsleuth.service.errors import FieldErrors, ServiceError
from mailsleuth.service.verification import get_verification, start_verification
from mailsleuth.store import JobStatus, Principal, utcnow

router = DIALECT.router(tags=["Reacher"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]
Model = TypeVar("Model", bound=BaseModel)

VERSION = "0.11.7"  # the Reacher release whose shapes this dialect follows
CHECK_BODY_LIMIT = 16 * 1024  # Reacher's limit for one check
BULK_BODY_LIMIT = 20 * 1024 * 1024
CHECK_WAIT = 300.0  # the engine's own timeouts end a check long before this
CSV_COLUMNS = ("input", "is_reachable", "misc.is_disposable", "misc.is_role_account", "misc.gravatar_url",
               "mx.accepts_mail", "smtp.can_connect", "smtp.has_full_inbox", "smtp.is_catch_all",
               "smtp.is_deliverable", "smtp.is_disabled", "syntax.is_valid_syntax", "syntax.domain",
               "syntax.username", "error")
_NO_JOB = "no rows returned by a query that expected to return at least one row"  # upstream's words


async def _body(request: Request, model: type[Model], limit: int) -> Model:
    """A JSON body (Reacher accepts nothing else), at most `limit` bytes."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise ServiceError("Unsupported Media Type", status=415)
    raw = await request.body()
    if len(raw) > limit:
        raise ServiceError("Payload Too Large", status=413)
    try:
        data = json_object(raw.decode("utf-8", errors="replace"))
    except ServiceError as exc:
        raise FieldErrors({"body": [exc.message]}) from None
    return validate(data, model)


def _check_identity(body: CheckEmailRequest) -> None:
    """The caller's SMTP options must be well-formed even though the server's own are used."""
    if body.proxy is not None:
        raise ServiceError("proxy: this server does not send checks through proxies.")
    if body.from_email is not None:
        try:
            domains.parse_address(body.from_email)
        except domains.InvalidAddress as exc:
            raise ServiceError(f"from_email: {exc}") from None
    if body.hello_name is not None:
        try:
            domains.normalise_domain(body.hello_name)
        except domains.InvalidDomain as exc:
            raise ServiceError(f"hello_name: {exc}") from None


async def check_email(request: Request, principal: Caller) -> Any:
    """`to_email`, optional `from_email`, `hello_name`, `smtp_port` (see the module docstring).
    1 verify credit per valid address checked."""
    body = await _body(request, CheckEmailRequest, CHECK_BODY_LIMIT)
    address = body.to_email.strip()
    if not address:
        raise ServiceError("to_email field is required.")
    _check_identity(body)
    rt = services(request).runtime
    started = utcnow()
    if not syntax(address).is_valid_syntax:  # nothing to check, nothing charged
        return check_output(body.to_email, None, rt.settings, started, utcnow())
    job, task = await start_verification(rt, principal, address)
    await settle(task, CHECK_WAIT)
    job = await get_verification(rt, principal.org_id, job.token or "") or job
    if job.status is not JobStatus.ENDED:
        raise ServiceError("The check is still running.", status=504)
    if job.result is None:
        raise ServiceError(job.error or "The check failed.", status=500)
    return check_output(body.to_email, job.result, rt.settings, started, job.ended_at or utcnow())


for _version in ("v0", "v1"):
    router.add_api_route(f"/{_version}/check_email", check_email, methods=["POST"], response_model=CheckEmailOutput,
                         summary="Check an address", openapi_extra={"requestBody": {"required": True, "content": {
                             "application/json": {"schema": CheckEmailRequest.model_json_schema()}}}})


@router.get("/version", summary="The Reacher version this server's shapes follow")
async def version() -> dict[str, str]:
    return {"version": VERSION}


# --- bulk ----------------------------------------------------------------------------------------


@router.post("/v1/bulk", summary="Check many addresses", response_model=BulkJob)
async def submit_bulk(request: Request, principal: Caller) -> Any:
    """`input`: the addresses. 1 verify credit per address; poll `GET /v1/bulk/{job_id}`."""
    body = await _body(request, BulkRequest, BULK_BODY_LIMIT)
    if not body.input:
        raise ServiceError("Empty input")
    if body.webhook is not None and body.webhook.on_each_email is not None:
        raise ServiceError("webhook.on_each_email: this server sends no per-email webhooks; poll the job instead.")
    job = await bulk.submit(services(request).runtime, principal, JobKind.VERIFY,
                            ({"email": address.strip()} for address in body.input))
    return BulkJob(job_id=job.id)


async def _job(request: Request, principal: Principal, job_id: int) -> Job:
    job = await bulk.get_job(services(request).db, principal.org_id, job_id=job_id)
    if job is None or job.kind != JobKind.VERIFY:
        raise ServiceError(_NO_JOB)
    return job


def _completed(job: Job) -> bool:
    return job.status in (JobStatus.ENDED, JobStatus.CANCELLED)


@router.get("/v1/bulk/{job_id}", summary="A bulk check's progress", response_model=BulkProgress)
async def bulk_progress(job_id: PathId, request: Request, principal: Caller) -> Any:
    job = await _job(request, principal, job_id)
    known = job.deliverables + job.risky + job.bounces
    return BulkProgress(
        job_id=job.id,
        created_at=job.created_at,
        finished_at=job.ended_at if _completed(job) else None,
        total_records=job.quantity,
        total_processed=job.treated,
        summary=Summary(total_safe=job.deliverables, total_risky=job.risky, total_invalid=job.bounces,
                        total_unknown=max(0, job.treated - known)),
        job_status="Completed" if _completed(job) else "Running",
    )


async def _outputs(request: Request, job: Job) -> AsyncIterator[CheckEmailOutput | None]:
    """Each row's output in input order (None for a row never checked, e.g. in a cancelled job)."""
    settings = services(request).settings
    started = job.started_at or job.created_at
    async for row_input, result in bulk.iter_results(services(request).db, job.org_id, job.id):
        address = str(row_input.get("email", ""))
        yield check_output(address, result, settings, started, job.ended_at or started) if result else None


def csv_row(output: CheckEmailOutput) -> list[object]:
    """One line of `CSV_COLUMNS`; a failed step writes false in its columns and its error as JSON."""
    misc = output.misc if isinstance(output.misc, Misc) else Misc()
    mx = output.mx if isinstance(output.mx, Mx) else Mx()
    smtp = output.smtp if isinstance(output.smtp, Smtp) else Smtp()
    failed = next((step for step in (output.smtp, output.mx) if isinstance(step, ErrorBlock)), None)
    return [output.input, output.is_reachable, misc.is_disposable, misc.is_role_account, misc.gravatar_url,
            mx.accepts_mail, smtp.can_connect_smtp, smtp.has_full_inbox, smtp.is_catch_all, smtp.is_deliverable,
            smtp.is_disabled, output.syntax.is_valid_syntax, output.syntax.domain, output.syntax.username,
            failed.model_dump_json() if failed else ""]


def _cell(value: object) -> object:
    return "" if value is None else str(value).lower() if isinstance(value, bool) else value


async def _csv(outputs: AsyncIterator[CheckEmailOutput | None]) -> AsyncIterator[str]:
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(CSV_COLUMNS)
    async for output in outputs:
        if output is not None:
            writer.writerow([_cell(value) for value in csv_row(output)])
        if buffer.tell() > 65536:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


@router.get("/v1/bulk/{job_id}/results", summary="A finished bulk check's results", response_model=BulkResults)
async def bulk_results(
    job_id: PathId,
    request: Request,
    principal: Caller,
    format: Annotated[str, Query()] = "json",
    limit: Annotated[int | None, Query(ge=1)] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    """`format` json (`limit` default 50) or csv (everything); rows in input order."""
    if format not in ("json", "csv"):
        return PlainTextResponse("Invalid query string", status_code=400)
    job = await _job(request, principal, job_id)
    if not _completed(job):
        raise ServiceError(f"Job {job.id} is still running, please try again later")
    end = offset + (limit if limit is not None else 50 if format == "json" else 1 << 62)

    async def window() -> AsyncIterator[CheckEmailOutput | None]:
        position = 0
        async for output in _outputs(request, job):
            if offset <= position < end:
                yield output
            position += 1

    if format == "csv":
        return StreamingResponse(_csv(window()), media_type="text/csv")
    results: list[dict[str, Any] | None] = [
        output.model_dump(mode="json") if output else None async for output in window()
    ]
    return JSONResponse({"results": results})

