"""A bulk job's result file, the same CSV whichever dialect (or `mailsleuth jobs download`) serves it.

The rows hold neutral results (a verdict and its evidence); the file's columns are the ones clients
of the bulk uploads already read: a verification's verdict as the flags `is_deliverable`, `is_risky`,
`is_bounce` and `error_msg` (VoilaNorbert's verifier columns, which the native file shares).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from fastapi import Response
from fastapi.responses import JSONResponse, StreamingResponse

from mailsleuth import store
from mailsleuth.engine.results import Verdict
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.service.csvfiles import SafeWriter
from mailsleuth.service.uploads import cell_key

_FOUND_COLUMNS = ("email", "score", "status", "verdict", "pattern", "error")
VERIFIER_COLUMNS = ("email", "is_deliverable", "is_risky", "is_bounce", "error_msg")
_VERIFIED_COLUMNS = VERIFIER_COLUMNS + ("verdict", "score")
RESULT_COLUMNS: Mapping[JobKind, tuple[str, ...]] = {
    JobKind.FIND_FILE: _FOUND_COLUMNS,
    JobKind.FIND_BATCH: _FOUND_COLUMNS,
    JobKind.VERIFY: _VERIFIED_COLUMNS + ("catch_all", "reason", "smtp_code", "enhanced_status", "mx_hosts"),
    JobKind.ENRICH: _VERIFIED_COLUMNS
    + ("first_name", "last_name", "full_name", "title", "linkedin_id", "phone", "location")
    + ("company_name", "company_domain", "company_description", "company_url"),
}
"""The result columns of each kind's file, after the input columns."""


def verifier_flags(result: Mapping[str, Any]) -> dict[str, Any]:
    """A verify row's result with its verdict as the verifier flags (a failed row: only its error;
    a row not processed yet: nothing)."""
    verdict = result.get("verdict")
    if verdict is None:
        return {**result, "error_msg": result["error"]} if "error" in result else dict(result)
    flags = {
        "is_deliverable": verdict == Verdict.DELIVERABLE,
        "is_risky": verdict == Verdict.RISKY,
        "is_bounce": verdict == Verdict.UNDELIVERABLE,
        "error_msg": result.get("reason") if verdict == Verdict.UNKNOWN else "",
    }
    return {**result, **flags}


def result_columns(job: Job) -> list[str]:
    """The CSV header: the input columns (a file's titles exactly as the caller gave them), then
    the result columns of the job's kind that no input column is named after."""
    inputs = bulk.input_columns(job)
    return inputs + [c for c in RESULT_COLUMNS[JobKind(job.kind)] if c not in inputs]


def result_cells(job: Job, row_input: Mapping[str, Any], result: Mapping[str, Any]) -> list[object]:
    """One CSV line matching `result_columns` (neutralise it with csvfiles.SafeWriter): an input
    column shows its cell (a file's by position, `cell_key`), unless the result has that column."""
    if JobKind(job.kind) not in bulk.FINDING:
        result = verifier_flags(result)
    given = len(job.columns or ())
    cells: list[object] = []
    for index, column in enumerate(result_columns(job)):
        key = cell_key(index) if index < given and cell_key(index) in row_input else column
        value = row_input.get(key) if key in row_input and column not in result else result.get(column)
        cells.append("" if value is None else ",".join(map(str, value)) if isinstance(value, list) else value)
    return cells

_GONE = "The result file is no longer available (its retention time has passed)."


async def _csv(job: Job, db: store.Database, org_id: int) -> AsyncIterator[str]:
    """The result file, streamed: input columns, then the kind's result columns; cells neutralised."""

    class Line:
        text = ""

        def write(self, value: str) -> None:
            self.text += value

    line = Line()
    writer = SafeWriter(line)  # type: ignore[arg-type]  # anything with write()
    writer.writerow(result_columns(job))
    async for row_input, result in bulk.iter_results(db, org_id, job.id):
        writer.writerow(result_cells(job, row_input, result))
        if len(line.text) > 65536:
            yield line.text
            line.text = ""
    yield line.text


def download_response(job: Job, db: store.Database, filename: str) -> Response:
    """The job's result CSV (application/csv, streamed), or 410 once its retention time has passed."""
    if not bulk.result_available(job):
        return JSONResponse({"code": 410, "error": _GONE}, status_code=410)
    return StreamingResponse(
        _csv(job, db, job.org_id),
        media_type="application/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
