"""VoilaNorbert bulk endpoints: massives, verifier and enrich uploads, as a translation over `jobs.bulk`.

Inputs are checked in full by `mailsleuth.service.uploads` before `bulk.submit` is called, so a refused file
never leaves a partial job. Bodies of up to 100 MB are allowed here (`BODY_ALLOWANCE`; elsewhere 1 MB),
as JSON, urlencoded or multipart, read by `api.bodies.read_upload_fields`, which spools them to disk.

The massive's `result_file` (announced by the completion webhook) is
`<this server>/2018-01-08/massives/download/<token>-result.csv`, the shape the vendor documents. It
needs no API key, so the webhook receiver can fetch it: the token is the job's random 128-bit
public token, which only the job's owner learns (through the webhook), and the file is served only
until `webhook_file_retention_time` hours have passed (410 afterwards). `<this server>` is the URL
the job was submitted to (behind a proxy, run uvicorn with `--proxy-headers`).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse

from mailsleuth import store

from mailsleuth.service import uploads
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import Fields, read_upload_fields
from mailsleuth.api.bodylimit import Allowance
from mailsleuth.api.params import Offset, PathId, parse_id
from mailsleuth.api.resultfiles import download_response
from mailsleuth.api.voilanorbert.dialect import DEFAULT, DIALECT, MASSIVES, PREFIX
from mailsleuth.api.voilanorbert.routes import tolerant_routes
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.service.errors import (
    REQUIRED,
    FieldErrors,
    NotFound,
    PaymentRequired,
    ServiceError,
)
from mailsleuth.service.search import webhook_url
from mailsleuth.store import Principal, to_ms, to_ms_or_none
from mailsleuth.service.uploads import MAX_UPLOAD_BYTES, Spool, UploadTooLarge

router = DIALECT.router(prefix=PREFIX, tags=["VoilaNorbert bulk"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]
MassiveCaller = Annotated[Principal, Depends(guard(DIALECT, MASSIVES))]

# Room for form or JSON escaping around a 100 MB file, plus the other fields.
REQUEST_LIMIT = 2 * MAX_UPLOAD_BYTES + 1024 * 1024
DOWNLOAD_PATH = PREFIX + "/massives/download/{key}-result.csv"
_NOT_FOUND = "Page not found."
# "If verify is not found or API key is not valid you will receive a 404 error" (the same for enrich).
StatusCaller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT, refuse=lambda: NotFound(_NOT_FOUND)))]

BODY_ALLOWANCE = Allowance(
    (PREFIX + "/massives", PREFIX + "/verifier", PREFIX + "/enrich"), REQUEST_LIMIT, UploadTooLarge
)


route = tolerant_routes(router)


def _text(fields: Fields, name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, Spool):
        return None
    text = str(value).strip()
    return text or None


def _hours(fields: Fields, name: str, problems: uploads.Problems) -> int | None:
    value = _text(fields, name)
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 6:
        problems.add(name, "Enter a whole number of hours.")
        return None
    return int(value)


def _close(fields: Fields) -> None:
    for value in fields.values():
        if isinstance(value, Spool):
            value.close()


def documented_errors(endpoint: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """The bulk sections document these two errors with the code as a string: `{"code": "400", ...}`."""

    @functools.wraps(endpoint)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await endpoint(*args, **kwargs)
        except (UploadTooLarge, PaymentRequired) as exc:
            return JSONResponse({"code": str(exc.status), "error": exc.message}, status_code=exc.status)

    return wrapper


# --- shapes --------------------------------------------------------------------------------------


Accounts = dict[int | None, dict[str, Any]]


async def accounts(request: Request, principal: Principal, jobs: list[Job]) -> Accounts:
    """The account block of each job's owner (the caller's when the owner is gone)."""
    blocks: Accounts = {}
    for user_id in {job.user_id for job in jobs}:
        user = await store.get_user(services(request).db, principal.org_id, user_id) if user_id else None
        email, name = (user.email, user.name) if user else (principal.user_email, principal.user_name)
        blocks[user_id] = {"email": email, "firstname": name.split()[0] if name.strip() else "", "name": name,
                           "plan": None}
    return blocks


def massive_json(job: Job, account: Accounts, *, listed: bool = False) -> dict[str, Any]:
    """The massive object as documented; the list spells the last rerun `rerun_last_time`."""
    last_run = to_ms_or_none(job.rerun_lasttime or job.created_at)
    return {
        "account": account[job.user_id],
        "created": to_ms(job.created_at),
        "enrich": False,
        "enrich_token": None,
        "filename": job.filename,
        "rerun_frequency": job.rerun_frequency,
        "rerun_last_time" if listed else "rerun_lasttime": last_run,
        "webhook": job.webhook,
        "id": job.id,
        "list_id": job.list_id,
        "quantity": job.quantity,
        "status": job.status.value,
        "success": job.success,
        "treated": job.treated,
        "updated": to_ms(job.updated_at),
    }


def _path(kind: JobKind, job: Job) -> str:
    folder = "verify" if kind is JobKind.VERIFY else "enrich"
    return f"{folder}/{job.created_at:%Y/%m}/{job.token}/{job.filename or 'upload.txt'}"


def upload_json(job: Job, account: Accounts) -> dict[str, Any]:
    """The verify or enrich object as documented (the verifier adds the per-grade counters)."""
    kind = JobKind(job.kind)
    body: dict[str, Any] = {
        "account": account[job.user_id],
        "created": to_ms(job.created_at),
        "email": None,
        "ended": to_ms_or_none(job.ended_at),
        "entries": job.quantity,
        "filename": job.filename or "upload.txt",
        "id": job.id,
        "is_loaded": True,
        "paid": to_ms_or_none(job.started_at),
        "path": _path(kind, job),
        "price": None,
        "refunded": None,
        "started": to_ms_or_none(job.started_at),
        "status": job.status.value,
        "stripe_id": None,
        "success": job.success,
        "token": job.token,
        "treated": job.treated,
        "type": "API",
    }
    if kind is JobKind.VERIFY:
        del body["success"]
        body |= {
            "bounces": job.bounces,
            "deliverables": job.deliverables,
            "risky": job.risky,
            "enrich": False,
            "enrich_token": None,
            "name": None,
        }
    return dict(sorted(body.items()))


# --- jobs of the caller --------------------------------------------------------------------------


async def _massive(request: Request, principal: Principal, massive_id: int) -> Job:
    job = await bulk.get_job(services(request).db, principal.org_id, job_id=massive_id)
    if job is None or job.kind != JobKind.FIND_FILE:
        raise ServiceError(_NOT_FOUND)  # the vendor answers an unknown massive with 400
    return job


async def _upload(request: Request, principal: Principal, kind: JobKind, token: str) -> Job:
    job = await bulk.get_job(services(request).db, principal.org_id, token=token) if len(token) <= 64 else None
    if job is None or job.kind != kind:
        raise NotFound(_NOT_FOUND)
    return job


# --- massives ------------------------------------------------------------------------------------


@route("POST", "/massives/", summary="Submit a bulk file", status_code=200)
@documented_errors
async def create_massive(request: Request, principal: MassiveCaller) -> dict[str, Any]:
    """`col_name` ("0,1": first and last name columns), `col_company` and/or `col_domain`, `content`
    or `file_url` (CSV with or without a header, UTF-8, up to 100 MB), `webhook` (required),
    `rerun_frequency` and `webhook_file_retention_time` (hours). The whole file is checked first;
    any problem is answered with field errors and no job is created."""
    rt = services(request).runtime
    fields = await read_upload_fields(request, files=("content",))
    try:
        problems = uploads.Problems()
        hook = _text(fields, "webhook")
        if hook is None:
            problems.add("webhook", REQUIRED)
        else:
            try:
                webhook_url(hook, rt)
            except ServiceError as exc:
                problems.add("webhook", exc.message)
        columns = None
        try:
            columns = uploads.parse_columns(fields.get("col_name"), fields.get("col_company"), fields.get("col_domain"))
        except FieldErrors as exc:
            for name, messages in exc.fields.items():
                for message in messages:
                    problems.add(name, message)
        rerun = _hours(fields, "rerun_frequency", problems)
        retention = _hours(fields, "webhook_file_retention_time", problems)
        content, file_url = fields.get("content"), _text(fields, "file_url")
        if content is None and file_url is None:
            problems.add("content", "Give content or file_url.")
        problems.raise_if_any()
        assert columns is not None
        if isinstance(content, Spool):
            spool, source, filename = content, "content", "upload.csv"
        else:
            spool = await uploads.fetch_upload(file_url or "", egress=rt.egress)
            source, filename = "file_url", _filename(file_url or "")
        parsed = uploads.read_people(spool, columns, source=source)
        try:
            job = await bulk.submit(
                rt,
                principal,
                JobKind.FIND_FILE,
                parsed.inputs(),
                options={"result_file": result_file_url(request, principal)},
                webhook=hook,
                filename=filename,
                new_list=filename,
                rerun_frequency=rerun,
                retention_hours=retention,
                columns=parsed.input_columns(),
            )
        finally:
            parsed.close()
    finally:
        _close(fields)
    return massive_json(job, await accounts(request, principal, [job]))


def result_file_url(request: Request, principal: Principal) -> str:
    """The absolute `result_file` template handed to the bulk engine ("{token}" filled in there)."""
    path = DOWNLOAD_PATH.replace("{key}", download_key(principal.org_id))
    return str(request.base_url).rstrip("/") + path


def _filename(url: str) -> str:
    last = url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    return last[:200] if last and all(ch.isprintable() for ch in last) else "upload.csv"


@route("GET", "/massives/", summary="List bulk files")
async def list_massives(request: Request, principal: Caller, offset: Offset = 0, limit: Offset = 100) -> dict[str, Any]:
    """Newest first; `offset` and `limit` (at most 1000) page through them."""
    if offset < 0 or not 0 < limit <= 1000:
        raise ServiceError("offset must be >= 0 and limit between 1 and 1000.", field="limit")
    jobs = await bulk.list_jobs(services(request).db, principal.org_id, JobKind.FIND_FILE, offset=offset, limit=limit)
    account = await accounts(request, principal, jobs)
    return {"result": [massive_json(job, account, listed=True) for job in jobs]}


@route("GET", "/massives/{massive_id}", summary="Retrieve a massive")
async def get_massive(massive_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    job = await _massive(request, principal, massive_id)
    return massive_json(job, await accounts(request, principal, [job]))


@route("DELETE", "/massives/{massive_id}", summary="Remove a massive")
async def delete_massive(massive_id: PathId, request: Request, principal: Caller) -> dict[str, str]:
    """`recursive=true` (form, JSON or query) also removes the massive's list and its contacts."""
    await _massive(request, principal, massive_id)
    fields = await read_upload_fields(request, files=())
    flag = str(fields.get("recursive", request.query_params.get("recursive", "false"))).strip().lower()
    if flag not in ("true", "false", "1", "0", ""):
        raise ServiceError("Must be true or false.", field="recursive")
    await bulk.delete_job(services(request).db, principal.org_id, massive_id, recursive=flag in ("true", "1"))
    return {"result": "success"}


async def _changed(request: Request, principal: Principal, job: Job | None) -> dict[str, Any]:
    if job is None:
        raise ServiceError(_NOT_FOUND)
    return massive_json(job, await accounts(request, principal, [job]))


@route("POST", "/massives/{massive_id}/pause", summary="Pause a massive")
@route("PUT", "/massives/{massive_id}/pause", summary="Pause a massive (the document's curl lines use PUT)")
async def pause_massive(massive_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _massive(request, principal, massive_id)
    return await _changed(request, principal, await bulk.pause_job(services(request).db, principal.org_id, massive_id))


@route("POST", "/massives/{massive_id}/resume", summary="Resume a paused massive")
@route("PUT", "/massives/{massive_id}/resume", summary="Resume a paused massive (the document's curl lines use PUT)")
async def resume_massive(massive_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _massive(request, principal, massive_id)
    rt = services(request).runtime
    return await _changed(request, principal, await bulk.resume_job(rt.db, principal.org_id, massive_id, runtime=rt))


@route("PUT", "/massives/{massive_id}/rerun", summary="Set the rerun frequency")
async def set_rerun(massive_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _massive(request, principal, massive_id)
    fields = await read_upload_fields(request, files=())
    problems = uploads.Problems()
    hours = _hours(fields, "rerun_frequency", problems)
    if hours is None and not problems.fields:
        problems.add("rerun_frequency", REQUIRED)
    problems.raise_if_any()
    return await _changed(request, principal, await bulk.set_rerun(services(request).db, principal.org_id, massive_id, hours))


@route("DELETE", "/massives/{massive_id}/rerun", summary="Stop re-running a massive")
async def reset_rerun(massive_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    await _massive(request, principal, massive_id)
    return await _changed(request, principal, await bulk.set_rerun(services(request).db, principal.org_id, massive_id, None))


def download_key(org_id: int) -> str:
    """The `{key}` of DOWNLOAD_PATH for a massive: "<org id>.<job token>" (bulk fills in the token)."""
    return f"{org_id}.{{token}}"


@router.get("/massives/download/{key}-result.csv", summary="Download a massive's result file")
async def download_massive(key: str, request: Request) -> Response:
    """No API key: the unguessable token in the URL is the credential (see the module docstring)."""
    db = services(request).db
    org, _, token = key.partition(".")
    org_id = parse_id(org)
    job = await bulk.get_job(db, org_id, token=token) if org_id is not None and 0 < len(token) <= 64 else None
    if job is None or job.kind != JobKind.FIND_FILE:
        raise NotFound(_NOT_FOUND)
    return download_response(job, db, f"{token}-result.csv")


# --- verifier and enrich -------------------------------------------------------------------------


def _lifecycle(kind: JobKind, prefix: str) -> None:
    """Register upload, status, pause, resume and download for `kind` under `prefix`."""

    noun = "verify" if kind is JobKind.VERIFY else "enrich"

    @documented_errors
    async def upload(request: Request, principal: Caller) -> dict[str, Any]:
        """`data` (one address per line) or `file` (a CSV), and `webhook` (required: the document
        refuses an upload without one with a 402)."""
        rt = services(request).runtime
        fields = await read_upload_fields(request, files=("data", "file"))
        try:
            if _text(fields, "webhook") is None:
                raise PaymentRequired(f"Please provide a webhook to which we will post the {noun} results")
            data, file = fields.get("data"), fields.get("file")
            if data is None and file is None:
                raise FieldErrors({"data": ["Give data (one email per line) or file (a CSV)."]})
            source, spool = ("file", file) if isinstance(file, Spool) else ("data", data)
            parsed = uploads.read_addresses(spool, source=source)
            try:
                job = await bulk.submit(
                    rt,
                    principal,
                    kind,
                    ({"email": address} for address in parsed.addresses()),
                    webhook=_text(fields, "webhook"),
                    filename="upload.csv" if source == "file" else "upload.txt",
                )
            finally:
                parsed.close()
        finally:
            _close(fields)
        return {"success": True, "status": "Processing ...", "token": job.token, "channel": f"{prefix}-{job.token}"}

    async def status(token: str, request: Request, principal: StatusCaller) -> dict[str, Any]:
        job = await _upload(request, principal, kind, token)
        return upload_json(job, await accounts(request, principal, [job]))

    def changer(change: Callable[..., Awaitable[Job | None]]) -> Callable[..., Awaitable[dict[str, Any]]]:
        async def endpoint(token: str, request: Request, principal: Caller) -> dict[str, Any]:
            job = await _upload(request, principal, kind, token)
            job = await change(request, principal, job) or job
            return upload_json(job, await accounts(request, principal, [job]))

        return endpoint

    async def pause(request: Request, principal: Principal, job: Job) -> Job | None:
        return await bulk.pause_job(services(request).db, principal.org_id, job.id)

    async def resume(request: Request, principal: Principal, job: Job) -> Job | None:
        rt = services(request).runtime
        return await bulk.resume_job(rt.db, principal.org_id, job.id, runtime=rt)

    async def download(token: str, request: Request, principal: Caller) -> Response:
        job = await _upload(request, principal, kind, token)
        return download_response(job, services(request).db, f"{prefix}-{token}.csv")

    what = "verification" if kind is JobKind.VERIFY else "enrichment"
    route("POST", f"/{prefix}/upload", summary=f"Upload emails for {what}")(upload)
    route("GET", f"/{prefix}/{{token}}", summary=f"Status of a {what} request")(status)
    route("PUT", f"/{prefix}/{{token}}/pause", summary=f"Pause a {what} request")(changer(pause))
    route("PUT", f"/{prefix}/{{token}}/resume", summary=f"Resume a {what} request")(changer(resume))
    route("GET", f"/{prefix}/{{token}}/download", summary=f"Download a {what} result file")(download)


_lifecycle(JobKind.VERIFY, "verifier")
_lifecycle(JobKind.ENRICH, "enrich")
