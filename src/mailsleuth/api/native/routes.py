"""The native API (`/v1/`): the same services as the vendor dialects, with the full evidence.

Finds and verifications answer synchronously when they finish within `wait` seconds (200), else
with their id to poll (202); `wait: 0` makes them asynchronous. Keys: `Authorization: Bearer KEY`
or `X-API-Key`.
"""

from __future__ import annotations

import io
import json
import secrets
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mailsleuth.service import intelligence, people

from mailsleuth.engine import patterns
from mailsleuth.engine.domains import InvalidAddress, InvalidDomain, parse_address

from mailsleuth import store
from mailsleuth.api.contactquery import contact_filters
from mailsleuth.api.auth import guard, services
from mailsleuth.api.services import settle
from mailsleuth.api.bodies import OptionalText, Text, body_doc, parse_body
from mailsleuth.api.bodylimit import Allowance
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.api.native.wire import wire_source
from mailsleuth.api.params import PathId
from mailsleuth.service.csvfiles import CsvProblem, decode_utf8
from mailsleuth.service import companies, search
from mailsleuth.service.errors import NotFound, PaymentRequired, ServiceError
from mailsleuth.service.verification import get_verification as find_verification
from mailsleuth.service.verification import start_verification
from mailsleuth.store import (
    Contact,
    CreditKind,
    JobStatus,
    Principal,
    Search,
    to_ms,
)

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]

MAX_WAIT = 120.0
MAX_IMPORT_BYTES = 20_000_000
BODY_ALLOWANCE = Allowance(("/v1/people",), MAX_IMPORT_BYTES)
Wait = Field(20.0, ge=0, le=MAX_WAIT, description="seconds to wait for the answer; 0 answers at once")


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "domain": contact.domain,
        "company": contact.company_name or (contact.company.name if contact.company else None),
        "email": contact.email,
        "score": contact.score,
        "verdict": contact.verdict,
        "status": contact.status.value,
        "searching": contact.searching,
        "source": wire_source(contact.source),
        "lists": list(contact.list_ids),
        "evidence": contact.evidence,
        "created": to_ms(contact.created_at),
        "updated": to_ms(contact.updated_at),
    }


def search_json(job: Search, contact: Contact | None) -> dict[str, Any]:
    done = job.status is JobStatus.ENDED
    return {
        "id": job.id,
        "status": job.status.value,
        "done": done,
        "contact": contact_json(contact) if contact else None,
        "result": job.result,
        "error": job.error,
    }


@DIALECT.webhook
def webhook_json(contact: Contact, job: Search) -> dict[str, Any]:
    return search_json(job, contact)


def verification_json(job: Search) -> dict[str, Any]:
    return {
        "id": job.token,
        "email": job.options.get("email"),
        "done": job.status is JobStatus.ENDED,
        "result": job.result,
        "error": job.error,
    }


class FindBody(BaseModel):
    name: OptionalText = None
    first: OptionalText = None
    middle: OptionalText = None
    last: OptionalText = None
    domain: OptionalText = None
    company: OptionalText = None
    smtp: bool = True
    webhook: OptionalText = None
    wait: float = Wait


class VerifyBody(BaseModel):
    email: Text
    smtp: bool = True
    wait: float = Wait


async def _search_answer(request: Request, principal: Principal, job_id: int) -> JSONResponse:
    db = services(request).db
    job = await store.get_search(db, principal.org_id, job_id)
    if job is None:
        raise NotFound("No such search.")
    contact = await store.get_contact(db, principal.org_id, job.contact_id) if job.contact_id else None
    body = search_json(job, contact)
    body["sources"] = await intelligence.sources_for(db, contact.email) if contact and contact.email else []
    return JSONResponse(body, status_code=200 if body["done"] else 202)


@router.post("/find", summary="Find a person's address", openapi_extra=body_doc(FindBody, form=False))
async def find(request: Request, principal: Caller) -> JSONResponse:
    """`name` or `first`/`middle`/`last`, and `domain` or `company`. 200 when done within `wait`
    seconds, else 202 with the search to poll at `GET /v1/searches/{id}`."""
    body = await parse_body(request, FindBody)
    rt = services(request).runtime
    if body.name:
        name = search.person(body.name)
    else:
        name = search.person(first=body.first, middle=body.middle, last=body.last, field="first")
    started = await search.start_search(
        rt,
        principal,
        name,
        await companies.locate(rt.db, rt.settings, rt.verifier.resolver, body.domain, body.company),
        dialect=DIALECT.name,
        webhook=search.webhook_url(body.webhook, rt),
        smtp=body.smtp,
    )
    await settle(started.task, body.wait)
    # A contact known without a running search (imported, or found by a bulk file, whose job id is
    # not a search's) is the answer itself.
    if started.job_id is None or (started.search is None and not started.contact.searching):
        return JSONResponse({"id": None, "status": "ENDED", "done": True, "contact": contact_json(started.contact),
                             "result": None, "error": None})
    return await _search_answer(request, principal, started.job_id)


@router.get("/searches/{search_id}", summary="A search and its evidence")
async def get_search(search_id: PathId, request: Request, principal: Caller) -> JSONResponse:
    return await _search_answer(request, principal, search_id)


@router.post("/verify", summary="Verify an address", openapi_extra=body_doc(VerifyBody, form=False))
async def verify(request: Request, principal: Caller) -> JSONResponse:
    """1 verify credit. 200 with the verdict and evidence when done within `wait` seconds, else 202
    with the id to poll at `GET /v1/verifications/{id}`."""
    body = await parse_body(request, VerifyBody)
    rt = services(request).runtime
    job, task = await start_verification(rt, principal, body.email.strip(), smtp=body.smtp)
    await settle(task, body.wait)
    return await _verification_answer(request, principal, job.token or "")


@router.get("/verifications/{verification_id}", summary="A verification and its evidence")
async def get_verification(verification_id: str, request: Request, principal: Caller) -> JSONResponse:
    return await _verification_answer(request, principal, verification_id)


async def _verification_answer(request: Request, principal: Principal, token: str) -> JSONResponse:
    job = await find_verification(services(request).runtime, principal.org_id, token)
    if job is None:
        raise NotFound("No such verification.")
    body = verification_json(job)
    body["sources"] = await intelligence.sources_for(services(request).db, str(job.options.get("email") or ""))
    return JSONResponse(body, status_code=200 if body["done"] else 202)


@router.get("/patterns/{domain}", summary="A domain's learned address patterns")
async def domain_patterns(domain: str, request: Request, principal: Caller) -> dict[str, Any]:
    domain = companies.domain_field(domain)
    convention = await store.get_convention(services(request).db, domain)
    return {
        "domain": domain,
        "evidence": convention.evidence if convention else 0,
        "patterns": patterns.domain_patterns(convention, domain) if convention else [],
    }


@router.get("/contacts", summary="List contacts (the VoilaNorbert filters)")
async def list_contacts(request: Request, principal: Caller) -> dict[str, Any]:
    filters = contact_filters(request.query_params.multi_items())
    page = await store.query_contacts(services(request).db, principal.org_id, filters)
    return {
        "total": page.total,
        "page": page.page,
        "pages": page.pages,
        "results": [contact_json(contact) for contact in page.items],
    }


@router.get("/contacts/{contact_id}", summary="A contact with its evidence")
async def get_contact(contact_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    contact = await store.get_contact(services(request).db, principal.org_id, contact_id)
    if contact is None:
        raise NotFound("No such contact.")
    return contact_json(contact)


@router.get("/enrich", summary="What is known about an address")
async def enrich(email: str, request: Request, principal: Caller) -> dict[str, Any]:
    """1 enrich credit: the verdict with its evidence, the person (name, title, LinkedIn, phone) when
    known or inferable, the company's facts and the pages the address was seen on."""
    try:  # an address that cannot exist is the caller's mistake: a 400, and nothing charged
        parse_address(email.strip())
    except (InvalidAddress, InvalidDomain) as exc:
        raise ServiceError(str(exc), field="email") from None
    rt = services(request).runtime
    if await store.balance(rt.db, principal.org_id, CreditKind.ENRICH) <= 0:
        raise PaymentRequired("No enrich credits left.")
    content = await intelligence.enrich(rt.db, principal.org_id, rt.verifier, email.strip())
    await store.charge(rt.db, principal.org_id, CreditKind.ENRICH, 1, f"enrich:{secrets.token_urlsafe(12)}")
    return content


@router.post("/people", summary="Import people (JSON list or CSV)")
async def import_people(request: Request, principal: Caller, default_region: str | None = None) -> dict[str, Any]:
    """A JSON list of people (or `{"people": [...]}`), or a CSV body (`Content-Type: text/csv`), with
    the columns of `mailsleuth import`. Valid rows are imported; bad ones come back with their line."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in ("text/csv", "application/csv"):
            text = decode_utf8(raw)
            parsed = people.parse_people_csv(io.StringIO(text, newline=""), default_region=default_region)
        else:
            data = json.loads(raw or b"null")
            records = data.get("people") if isinstance(data, dict) else data
            if not isinstance(records, list):
                raise ServiceError("Send a JSON list of people, {\"people\": [...]}, or text/csv.", field="people")
            parsed = people.parse_people_records(records, default_region=default_region)
    except (CsvProblem, json.JSONDecodeError) as exc:
        raise ServiceError(str(exc), field="people") from None
    report = await people.store_people(services(request).db, principal.org_id, parsed, owner_id=principal.user_id)
    return report.to_dict()
