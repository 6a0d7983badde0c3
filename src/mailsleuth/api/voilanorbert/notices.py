"""VoilaNorbert's webhooks for ended bulk jobs: a massive's completion body, and the verifier and
enrich uploads' one body with every address's flags."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from mailsleuth.api.resultfiles import VERIFIER_COLUMNS, verifier_flags
from mailsleuth.api.voilanorbert.dialect import DIALECT
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.jobs.notices import Notice, Rows, compact_json


def massive_payload(job: Job) -> dict[str, Any]:
    """The massive completion webhook; `result_file` is the job's download URL template, filled in."""
    template = str(job.options.get("result_file") or "")
    result_file = template.replace("{id}", str(job.id)).replace("{token}", job.token or "") or None
    return {
        "success": job.success,
        "origin_id": job.options.get("origin_id"),
        "result_file": result_file,
        "treated": job.treated,
        "id": job.id,
        "quantity": job.quantity,
    }


@DIALECT.notice(JobKind.FIND_FILE)
async def massive_notice(job: Job, rows: Rows) -> AsyncIterator[Notice]:
    yield Notice("end", compact_json(massive_payload(job)))


def verifier_item(result: dict[str, Any]) -> dict[str, Any]:
    """One address of the upload's webhook body."""
    flags = verifier_flags(result)
    return {key: flags.get(key) for key in VERIFIER_COLUMNS}


@DIALECT.notice(JobKind.VERIFY)
@DIALECT.notice(JobKind.ENRICH)
async def upload_notice(job: Job, rows: Rows) -> AsyncIterator[Notice]:
    """One body with every row, built from JSON pieces, so a big upload is not held as dicts."""
    items = [compact_json(verifier_item(result)) async for _, result in rows]
    yield Notice("end", '{"results":[' + ",".join(items) + "]}")
