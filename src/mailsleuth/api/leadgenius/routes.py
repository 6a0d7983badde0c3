"""The LeadGenius EmailGuess dialect: submit a person, poll the job by id.

Its clients send JSON as raw `data=` without a content type, authenticate with `X-LG-API-KEY`, and
expect 403 for both a bad key and a rate limit. Both documented spellings of every path are served.
Grades map so: deliverable and risky answer 200 with the address, anything else 404;
with `use_smtp_sniff` false nothing is probed and the convention's best guess is the answer. A
catch-all guess is only returned when `use_catch_all` asks for it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from mailsleuth import store
from mailsleuth.api.params import parse_id
from mailsleuth.api.polls import polled
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import Text, body_doc, parse_body
from mailsleuth.api.leadgenius.dialect import DEFAULT, DIALECT, NOT_FOUND, SUBMIT
from mailsleuth.api.responses import FastJSON
from mailsleuth.service import companies, search
from mailsleuth.engine.results import Verdict
from mailsleuth.store import JobStatus, Principal, Search

router = DIALECT.router(tags=["LeadGenius"])

Submitter = Annotated[Principal, Depends(guard(DIALECT, SUBMIT))]
CALLER = guard(DIALECT, DEFAULT)
Caller = Annotated[Principal, Depends(CALLER)]

class Submission(BaseModel):
    first: Text
    middle: str  # required, but may be the empty string (the vendor's own example sends "")
    last: Text
    domain: Text
    use_smtp_sniff: bool = False
    use_catch_all: bool = False


async def submit(request: Request, principal: Submitter) -> JSONResponse:
    """Queue a search; answers 202 with the job id to poll."""
    body = await parse_body(request, Submission)
    name = search.person(first=body.first, middle=body.middle, last=body.last, field="first")
    started = await search.start_search(
        services(request).runtime,
        principal,
        name,
        companies.domain_field(body.domain),
        dialect=DIALECT.name,
        smtp=body.use_smtp_sniff,
        paid_verdicts=paid_verdicts(body.use_catch_all),
        options={"use_catch_all": body.use_catch_all},
        source="emailguess",
    )
    return JSONResponse({"status": 202, "id": str(started.job_id)}, status_code=202)


def paid_verdicts(use_catch_all: bool) -> tuple[str, ...]:
    """What LeadGenius counts (and charges) as a match: a verified address, and a catch-all domain's
    guess only when the caller accepts those. An unverified pattern guess (use_smtp_sniff false) is
    answered, but it is a guess, not a found address: it is not charged."""
    return (Verdict.DELIVERABLE.value, Verdict.RISKY.value) if use_catch_all else (Verdict.DELIVERABLE.value,)


def answer(job: Search, email: str | None) -> tuple[int, dict[str, Any]]:
    """The status call's answer for a job and its contact's address (pure, so it is easy to test)."""
    if job.status is not JobStatus.ENDED:
        return 202, {"status": 202}
    result = job.result or {}
    verdict = result.get("verdict")
    guessed = not job.options.get("smtp", True)
    catch_all = result.get("reason") == "catch_all"
    if not email or (catch_all and not job.options.get("use_catch_all", False)):
        return 404, NOT_FOUND
    if verdict in (Verdict.DELIVERABLE, Verdict.RISKY) or guessed:
        return 200, {"status": 200, "result": email}
    return 404, NOT_FOUND


STATUS_PATHS = ("/emailguess/v1/job/status/{jobid}", "/emailguess/v1/status/{jobid}")


@polled(CALLER, STATUS_PATHS[0], str, stored_only=True)
@polled(CALLER, STATUS_PATHS[1], str, stored_only=True)
async def status(jobid: str, request: Request, principal: Caller) -> FastJSON:
    """200 with the address, 202 while the job runs, 404 when nothing was found."""
    db = services(request).db
    job_id = parse_id(jobid)
    found = await store.search_and_address(db, principal.org_id, job_id) if job_id is not None else None
    if found is None or found[0].kind != "search":
        return FastJSON(NOT_FOUND, status_code=404)
    code, body = answer(*found)
    return FastJSON(body, status_code=code)


_SUBMIT_DOC = {"summary": "Submit a job for search", "status_code": 202, "openapi_extra": body_doc(Submission)}
router.add_api_route("/emailguess/v1/submit", submit, methods=["POST"], **_SUBMIT_DOC)
router.add_api_route("/emailguess/v1/job/submit", submit, methods=["POST"], **_SUBMIT_DOC)
for _path in STATUS_PATHS:
    router.add_api_route(_path, status, methods=["GET"], summary="Status of a job")
