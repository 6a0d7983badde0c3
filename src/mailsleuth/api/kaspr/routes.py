"""The Kaspr dialect: key check, a domain's address patterns, and leads/employees from stored contacts.

Keys come as `Authorization: Bearer KEY` or as the bare key (the vendor's snippets send the bare
key). Patterns come from every address the conventions learned from: found, imported, crawled (an
empty list when nothing is known yet). Leads and employees are the organisation's own contacts
(searched, imported, found on company websites), already paid for, so `Decreased-Credits` is 0 —
except 1 when a known lead's address is found on the spot; `Remaining-Credits` reports the search
balance.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from mailsleuth.engine import domains

from mailsleuth.service import intelligence

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import Text, body_doc, parse_body
from mailsleuth.api.kaspr.dialect import DEFAULT, DIALECT
from mailsleuth.service.finding import Finding
from mailsleuth.service import companies
from mailsleuth.engine.results import Verdict
from mailsleuth.service.errors import NotFound, ServiceError
from mailsleuth.service.people import PersonError, linkedin_id
from mailsleuth.store import Contact, CreditKind, Principal, to_ms

router = DIALECT.router(tags=["Kaspr"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]

MAX_EMPLOYEES = intelligence.MAX_EMPLOYEES


def kaspr_domain(value: str) -> str:
    """The vendor's own examples send "company@domain": keep what follows the @-sign."""
    return companies.domain_field(value.rpartition("@")[2])


async def _credits(response: Response, request: Request, principal: Principal, used: int = 0) -> None:
    remaining = await store.balance(services(request).db, principal.org_id, CreditKind.SEARCH)
    response.headers["Decreased-Credits"] = str(used)
    response.headers["Remaining-Credits"] = str(remaining)


def _emails(contact: Contact) -> list[dict[str, Any]]:
    if not contact.email:
        return []
    valid = True if contact.verdict == Verdict.DELIVERABLE else None
    return [{"email": contact.email, "valid": valid}]


def _is_personal(email: str) -> bool:
    return domains.is_free_provider(email.rpartition("@")[2])


def profile_json(contact: Contact, requested_id: str, started: float) -> dict[str, Any]:
    email = contact.email
    return {
        "id": contact.linkedin_id or requested_id,
        "name": contact.name,
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "emails": _emails(contact),
        "currentProEmails": [email] if email and not _is_personal(email) else [],
        "currentPersonalEmails": [email] if email and _is_personal(email) else [],
        "phones": [contact.phone] if contact.phone else [],
        "location": contact.location,
        "title": contact.title,
        "companyName": contact.company_name or (contact.company.name if contact.company else None),
        "fetchedAt": to_ms(contact.updated_at),
        "currentProEmail": email if email and not _is_personal(email) else None,
        "processingTime": round(time.monotonic() - started, 3),
        "currentEmail": email,
    }


def employee_json(contact: Contact) -> dict[str, Any]:
    phones = [contact.phone] if contact.phone else []
    return {
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "name": contact.name,
        "company": contact.company_name or (contact.company.name if contact.company else contact.domain),
        "job": contact.title,
        "email": contact.email,
        "emails": _emails(contact),
        "phones": phones,
        "phone": phones[0] if phones else None,
        "location": contact.location,
    }


@router.get("/keys/verifyKey", summary="Verify the API key")
async def verify_key(request: Request, response: Response, principal: Caller) -> dict[str, str]:
    await _credits(response, request, principal)
    return {"user": principal.user_email}


class DomainBody(BaseModel):
    domain: Text


class ProfileBody(BaseModel):
    id: Text
    name: Text
    isPhoneRequired: bool = False


class EmployeesBody(BaseModel):
    domain: Text
    contactsNumberLimit: int = Field(5, ge=1, le=MAX_EMPLOYEES)
    isPhoneRequired: bool = False


@router.post("/company/domainPattern", summary="Address patterns of a company", openapi_extra=body_doc(DomainBody))
async def domain_pattern(request: Request, response: Response, principal: Caller) -> dict[str, Any]:
    body = await parse_body(request, DomainBody)
    domain = kaspr_domain(body.domain)
    rt = services(request).runtime
    finding = Finding(rt.db, rt.settings, rt.verifier, principal.org_id)
    found = await intelligence.domain_patterns_all_evidence(finding, domain)
    await _credits(response, request, principal)
    return {"patterns": found}


def lead_id(value: str) -> str:
    """The document describes `id` as the lead's LinkedIn id "https://www.linkedin.com/in/id-here/":
    the id itself, or the profile URL (with or without trailing slash or query) reduced to it."""
    try:
        return linkedin_id(value)
    except PersonError as exc:
        raise ServiceError(str(exc).removeprefix("linkedin: "), field="id") from None


@router.post("/profile/profile", summary="A lead's emails and phones", openapi_extra=body_doc(ProfileBody))
async def profile(request: Request, response: Response, principal: Caller) -> Any:
    """The organisation's lead with this LinkedIn id (else this name); a lead known without an
    address gets it searched on the spot (1 credit when found). An unknown lead (or one without a
    phone when `isPhoneRequired`) is a 404 whose body keeps the documented `profile` key, null:
    "no data will be returned"."""
    started = time.monotonic()
    body = await parse_body(request, ProfileBody)
    requested = lead_id(body.id)
    rt = services(request).runtime
    try:
        found = await intelligence.person_profile(
            rt.db, principal.org_id, requested, body.name, Finding(rt.db, rt.settings, rt.verifier),
            phone_required=body.isPhoneRequired, user_id=principal.user_id,
        )
    except NotFound as exc:
        missing = JSONResponse({"profile": None, "code": exc.status, "error": exc.message}, status_code=exc.status)
        await _credits(missing, request, principal)
        return missing
    await _credits(response, request, principal, used=1 if found.charged else 0)
    return {"profile": profile_json(found.contact, requested, started)}


@router.post("/company/domainEmployees", summary="Employees of a company", openapi_extra=body_doc(EmployeesBody))
async def domain_employees(request: Request, response: Response, principal: Caller) -> dict[str, Any]:
    body = await parse_body(request, EmployeesBody)
    employees = await intelligence.domain_employees(
        services(request).db,
        principal.org_id,
        kaspr_domain(body.domain),
        limit=body.contactsNumberLimit,
        phone_required=body.isPhoneRequired,
    )
    await _credits(response, request, principal)
    return {"employees": [employee_json(c) for c in employees]}
