"""A bulk job's result file over HTTP, the same CSV whichever dialect serves it."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Response
from fastapi.responses import JSONResponse, StreamingResponse

from mailsleuth import store
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job
from mailsleuth.service.csvfiles import SafeWriter

_GONE = "The result file is no longer available (its retention time has passed)."


async def _csv(job: Job, db: store.Database, org_id: int) -> AsyncIterator[str]:
    """The result file, streamed: input columns, then the kind's result columns; cells neutralised."""

    class Line:
        text = ""

        def write(self, value: str) -> None:
            self.text += value

    line = Line()
    writer = SafeWriter(line)  # type: ignore[arg-type]  # anything with write()
    writer.writerow(bulk.result_columns(job))
    async for row_input, result in bulk.iter_results(db, org_id, job.id):
        writer.writerow(bulk.result_cells(job, row_input, result))
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
