"""LeadGenius's webhooks for an ended bulk EmailGuess: one body per match."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from mailsleuth.api.leadgenius.dialect import DIALECT
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.jobs.notices import Notice, Rows, compact_json


def match_payload(job: Job, position: int, row_input: Mapping[str, Any], result: Mapping[str, Any]) -> dict[str, Any]:
    """One match: webhook_id "<bulk id>;<sub job id>;<email>" (the sub job id defaults to row + 1)."""
    sub = row_input.get("sub") or position + 1
    email = result.get("email")
    return {
        "status": 200,
        "webhook_id": f"{job.id};{sub};{email}",
        "result": {
            "bulk_id": job.id,
            "domain": result.get("domain") or row_input.get("domain"),
            "first": row_input.get("first", result.get("first", "")),
            "jobid": sub,
            "last": row_input.get("last", result.get("last", "")),
            "middle": row_input.get("middle", result.get("middle", "")),
            "email": email,
        },
    }


@DIALECT.notice(JobKind.FIND_BATCH)
async def match_notices(job: Job, rows: Rows) -> AsyncIterator[Notice]:
    position = 0
    async for row_input, result in rows:
        if result.get("email"):
            yield Notice(f"row:{position}", compact_json(match_payload(job, position, row_input, result)))
        position += 1
