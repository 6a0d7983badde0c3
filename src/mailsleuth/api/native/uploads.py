"""Bulk jobs from a file (`POST /v1/jobs`): the dashboard's upload, open to any native client.

A thin layer over the same readers and bulk engine as the dialects' uploads: the whole file is
checked first (any problem answers 400 with the field and no job), then the job runs in the
background and is managed with the `/v1/jobs` routes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import read_upload_fields
from mailsleuth.api.native.jobs import job_json
from mailsleuth.api.params import parse_id
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.service import uploads
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.uploads import Spool
from mailsleuth.store import Principal

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]

# What a file can be run as: "find" (a name and a company or domain per row) or "verify" (addresses).
KINDS: dict[str, JobKind] = {"find": JobKind.FIND_FILE, "verify": JobKind.VERIFY}


def _field(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    return str(value).strip() or None if isinstance(value, str) else None


def _list_id(fields: dict[str, Any]) -> int | None:
    value = _field(fields, "list_id")
    if value is None:
        return None
    list_id = parse_id(value)
    if list_id is None:
        raise ServiceError("must be a list id", field="list_id")
    return list_id


@router.post("/jobs", summary="Start a bulk job from a CSV file")
async def upload_job(request: Request, principal: Caller) -> dict[str, Any]:
    """Multipart: `file` (CSV, UTF-8), `kind` ("verify": the column named email, else the first
    with an '@', every column kept in the result file; "find": `col_name` ("0" or "0,1" for first and last), `col_company` and/or
    `col_domain`, counting from 0, optional `list_id`), optional `webhook`. Answers the job."""
    fields = await read_upload_fields(request, files=("file",))
    try:
        kind = KINDS.get(_field(fields, "kind") or "")
        if kind is None:
            raise ServiceError("must be find or verify", field="kind")
        spool = fields.get("file")
        if not isinstance(spool, Spool):
            raise ServiceError("Attach a CSV file.", field="file")
        rt = services(request).runtime
        webhook = _field(fields, "webhook")
        filename = _field(fields, "filename") or "upload.csv"
        if kind is JobKind.VERIFY:
            addresses = uploads.read_addresses(spool, source="file")
            try:
                job = await bulk.submit(rt, principal, kind, addresses.inputs(), webhook=webhook,
                                        filename=filename, columns=addresses.input_columns())
            finally:
                addresses.close()
        else:
            columns = uploads.parse_columns(fields.get("col_name"), fields.get("col_company"), fields.get("col_domain"))
            people = uploads.read_people(spool, columns, source="file")
            try:
                job = await bulk.submit(rt, principal, kind, people.inputs(), webhook=webhook,
                                        filename=filename, list_id=_list_id(fields), new_list=filename,
                                        columns=people.input_columns())
            finally:
                people.close()
    finally:
        for value in fields.values():  # the spooled file parts
            if isinstance(value, Spool):
                value.close()
    return job_json(job)
