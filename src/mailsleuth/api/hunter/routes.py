"""Hunter.io v2 (`/v2/`): finder, verifier, domain search, count, account and enrichment, translated
onto mailsleuth's searches, verifications, domain intelligence and credits.

Point a Hunter client at this server (pyhunter: `hunter.base_endpoint = "http://host:port/v2/{}"`).
The finder waits up to `max_duration` seconds (Hunter's default 10) for the search; a search still
running then answers with `email: null`, and asking again later returns the address, free, once it
is found. The verifier answers 202 while the check is still running after 20 s, or while a slow
(greylisting) server has asked to be asked again later; repeating the same call picks the same
check up and answers 200 once it is settled.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import date
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import JSONResponse

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.hunter import shapes
from mailsleuth.api.hunter.leads import contact_by_email
from mailsleuth.api.hunter.dialect import DEFAULT, DIALECT, PREFIX, VERIFIER
from mailsleuth.api.hunter.models import (
    DEPARTMENTS,
    SENIORITIES,
    AccountData,
    CountData,
    CountParams,
    DataOnly,
    DomainData,
    DomainEmail,
    DomainSearchParams,
    Envelope,
    FinderData,
    FinderParams,
    Usage,
    Requests,
    VerifierData,
    VerifierParams,
)
from mailsleuth.api.services import settle
from mailsleuth.engine import domains, patterns
from mailsleuth.engine.names import PersonName
from mailsleuth.service import companies, crawling, intelligence, search
from mailsleuth.service.errors import REQUIRED, NotFound, ServiceError
from mailsleuth.service.verification import get_verification, start_verification
from mailsleuth.store import Contact, ContactFilters, CreditKind, JobStatus, Principal, Search

router = DIALECT.router(prefix=PREFIX, tags=["Hunter"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]
VerifierCaller = Annotated[Principal, Depends(guard(DIALECT, VERIFIER))]

FINDER_WAIT = 10.0  # Hunter's default max_duration
VERIFIER_WAIT = 20.0  # Hunter's verifier answers 202 after about 20 s
DEPRECATION = "The 'result' attribute is deprecated: use 'status' instead."
MAX_DOMAIN_EMAILS = 500  # one page of the store's contacts query


# --- finder --------------------------------------------------------------------------------------


def _name(params: FinderParams) -> PersonName:
    if params.first_name and params.last_name:
        return search.person(first=params.first_name, last=params.last_name, field="first_name")
    if params.full_name:
        return search.person(params.full_name, field="full_name")
    missing = "last_name" if params.first_name else "first_name"
    raise ServiceError(REQUIRED, field=missing)


def _finder_data(contact: Contact, job: Search | None, domain: str, sources: list[dict[str, Any]]) -> FinderData:
    result = job.result if job and job.result else contact.evidence or {}
    email = None if contact.searching else contact.email
    verification = result.get("verification") or {}
    return FinderData(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=email,
        score=shapes.score(contact.verdict, result.get("confidence")) if email else None,
        domain=domain,
        accept_all=verification.get("catch_all") if email else None,
        position=contact.title,
        twitter=None,
        linkedin_url=shapes.linkedin_url(contact),
        phone_number=contact.phone,
        company=contact.company_name or (contact.company.name if contact.company else None),
        sources=shapes.sources(sources),
        verification=shapes.contact_verification(contact) if email else shapes.Verification(),
    )


@router.get("/email-finder", summary="Find a person's address", response_model=Envelope[FinderData])
async def email_finder(request: Request, principal: Caller, params: Annotated[FinderParams, Query()]) -> Any:
    """`domain` or `company`, and `first_name` + `last_name` or `full_name`. 1 search credit when an
    address is found (none when the person was already found)."""
    if not params.domain and not params.company:
        raise ServiceError(REQUIRED, field="domain")
    name = _name(params)
    rt = services(request).runtime
    domain = await companies.locate(rt.db, rt.settings, rt.verifier.resolver, params.domain, params.company)
    started = await search.start_search(rt, principal, name, domain, dialect=DIALECT.name)
    await settle(started.task, float(params.max_duration or FINDER_WAIT))
    contact = await store.get_contact(rt.db, principal.org_id, started.contact.id) or started.contact
    job = await store.get_search(rt.db, principal.org_id, started.job_id) if started.job_id else None
    found = await intelligence.sources_for(rt.db, contact.email) if contact.email else []
    meta = {"params": {"first_name": params.first_name, "last_name": params.last_name, "full_name": params.full_name,
                       "domain": params.domain, "company": params.company, "max_duration": params.max_duration}}
    return Envelope(data=_finder_data(contact, job, domain, found), meta=meta)


# --- verifier ------------------------------------------------------------------------------------


class Pending:
    """Verifications a Hunter client will ask about again (by organisation and address), so the
    repeated call after a 202 picks up the same check. Per process; at most `size` entries."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._tokens: OrderedDict[tuple[int, str], str] = OrderedDict()

    def get(self, key: tuple[int, str]) -> str | None:
        return self._tokens.get(key)

    def put(self, key: tuple[int, str], token: str) -> None:
        self._tokens[key] = token
        self._tokens.move_to_end(key)
        while len(self._tokens) > self.size:
            self._tokens.popitem(last=False)

    def drop(self, key: tuple[int, str]) -> None:
        self._tokens.pop(key, None)


PENDING = Pending()


def _asked_to_wait(job: Search) -> bool:
    """Settled for now, but the server asked us to come back later (greylisting)."""
    result = job.result or {}
    return result.get("reason") == "greylisted" and float(result.get("retry_at") or 0) > time.time()


def _retry_due(job: Search) -> bool:
    """A greylisted check whose waiting time is over: check again."""
    return job.status is JobStatus.ENDED and (job.result or {}).get("reason") == "greylisted" and not _asked_to_wait(job)


def verifier_data(result: dict[str, Any], address: str, found: list[dict[str, Any]]) -> VerifierData:
    status = shapes.verifier_status(result)
    return VerifierData(
        status=status,
        result=shapes.verifier_result(status),  # type: ignore[arg-type]
        _deprecation_notice=DEPRECATION,
        score=shapes.verifier_score(status),
        email=result.get("email") or address,
        regexp=True,
        gibberish=False,
        disposable=bool(result.get("disposable")),
        webmail=bool(result.get("free")),
        mx_records=bool(result.get("mx_hosts")),
        smtp_server=result.get("smtp_code") is not None,
        smtp_check=status in ("valid", "accept_all"),
        accept_all=bool(result.get("catch_all")),
        block=result.get("reason") == "blocked",
        sources=shapes.sources(found),
    )


@router.get(
    "/email-verifier",
    summary="Verify an address",
    response_model=Envelope[VerifierData],
    responses={202: {"description": "Still being checked: repeat the same call later"}},
)
async def email_verifier(request: Request, principal: VerifierCaller, params: Annotated[VerifierParams, Query()]) -> Any:
    """1 verify credit per check. 202 (`data: null`) while the check is still running."""
    address = params.email.strip()
    try:
        domains.parse_address(address)
    except domains.InvalidAddress as exc:
        raise ServiceError(str(exc), field="email") from None
    rt = services(request).runtime
    key = (principal.org_id, address.lower())
    token = PENDING.get(key)
    job = await get_verification(rt, principal.org_id, token) if token else None
    if job is None or _retry_due(job):
        job, task = await start_verification(rt, principal, address)
        await settle(task, VERIFIER_WAIT)
        job = await get_verification(rt, principal.org_id, job.token or "") or job
    meta = {"params": {"email": address}}
    if job.status is not JobStatus.ENDED or _asked_to_wait(job):
        PENDING.put(key, job.token or "")
        return JSONResponse({"data": None, "meta": meta}, status_code=202)
    PENDING.drop(key)
    if job.result is None:  # the engine failed: Hunter's 222, retry later
        return JSONResponse(
            {"errors": [{"id": "verification_failed", "code": 222, "details": job.error or "The check failed."}]},
            status_code=222,
        )
    found = await intelligence.sources_for(rt.db, address)
    return Envelope(data=verifier_data(job.result, address, found), meta=meta)


# --- domain search and count ---------------------------------------------------------------------


def _csv(value: str | None) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()} if value else set()


def _email_type(address: str) -> str:
    return "generic" if domains.is_role(address.partition("@")[0]) else "personal"


def domain_email(contact: Contact, found: list[dict[str, Any]]) -> DomainEmail:
    assert contact.email is not None
    return DomainEmail(
        value=contact.email,
        type=_email_type(contact.email),  # type: ignore[arg-type]
        confidence=shapes.score(contact.verdict, (contact.evidence or {}).get("confidence")) or 0,
        sources=shapes.sources(found),
        first_name=contact.first_name,
        last_name=contact.last_name,
        position=contact.title,
        position_raw=contact.title,
        seniority=None,
        department=None,
        linkedin=shapes.linkedin_url(contact),
        twitter=None,
        phone_number=contact.phone,
        verification=shapes.contact_verification(contact),
    )


def _keep(email: DomainEmail, params: DomainSearchParams) -> bool:
    """Hunter's filters; mailsleuth knows no seniority or department, so those match nobody."""
    if params.type and email.type != params.type:
        return False
    if _csv(params.seniority) and email.seniority not in _csv(params.seniority):
        return False
    if _csv(params.department) and email.department not in _csv(params.department):
        return False
    required = {"full_name": email.first_name and email.last_name, "position": email.position,
                "phone_number": email.phone_number}
    if any(not required.get(field, True) for field in _csv(params.required_field)):
        return False
    wanted = _csv(params.verification_status)
    return not wanted or (email.verification.status or "unknown") in wanted


async def _domain(request: Request, domain: str | None, company: str | None) -> str:
    if not domain and not company:
        raise ServiceError(REQUIRED, field="domain")
    rt = services(request).runtime
    return await companies.locate(rt.db, rt.settings, rt.verifier.resolver, domain, company)


async def _accept_all(db: store.Database, domain: str) -> bool:
    state = await store.get_domain_state(db, domain)
    return bool(state and state.catch_all)


@router.get("/domain-search", summary="Addresses at a domain", response_model=Envelope[DomainData])
async def domain_search(request: Request, principal: Caller, params: Annotated[DomainSearchParams, Query()]) -> Any:
    """The organisation's contacts at the domain plus the people on the company's website (each new
    one revealed costs 1 search credit), with the domain's pattern and company facts."""
    domain = await _domain(request, params.domain, params.company)
    rt = services(request).runtime
    await crawling.ensure_crawled(rt.db, rt.settings, domain, verifier=rt.verifier)
    page = await intelligence.domain_search(
        rt.db, principal.org_id, domain, 1, owner_id=principal.user_id, per_page=MAX_DOMAIN_EMAILS
    )
    emails = [
        domain_email(contact, await intelligence.sources_for(rt.db, contact.email))
        for contact in page.items
        if contact.email
    ]
    emails = [email for email in emails if _keep(email, params)]
    limit, offset = params.limit or 10, params.offset or 0
    company = await store.get_company(rt.db, domain)
    convention = await store.get_convention(rt.db, domain)
    best = patterns.domain_patterns(convention, domain, 1) if convention else []
    data = DomainData(
        domain=domain,
        disposable=domains.is_disposable(domain),
        webmail=domains.is_free_provider(domain),
        accept_all=await _accept_all(rt.db, domain),
        pattern=best[0]["pattern"].rpartition("@")[0] if best else None,
        organization=company.name if company else None,
        description=company.description if company else None,
        emails=emails[offset : offset + limit],
    )
    meta = {"results": len(emails), "limit": limit, "offset": offset,
            "params": {"domain": params.domain, "company": params.company, "type": params.type,
                       "seniority": params.seniority, "department": params.department}}
    return Envelope(data=data, meta=meta)


@router.get("/email-count", summary="How many addresses are known at a domain", response_model=Envelope[CountData])
async def email_count(request: Request, principal: Caller, params: Annotated[CountParams, Query()]) -> Any:
    """Free: counts the addresses the organisation knows at the domain (no crawl, nothing revealed)."""
    domain = await _domain(request, params.domain, params.company)
    page = await store.query_contacts(
        services(request).db, principal.org_id,
        ContactFilters(domain=domain, found=True, per_page=MAX_DOMAIN_EMAILS),
    )
    kinds = [_email_type(contact.email or "") for contact in page.items]
    personal, generic = kinds.count("personal"), kinds.count("generic")
    data = CountData(
        total={"personal": personal, "generic": generic}.get(params.type or "", personal + generic),
        personal_emails=personal,
        generic_emails=generic,
        department=dict.fromkeys(DEPARTMENTS, 0),
        seniority=dict.fromkeys(SENIORITIES, 0),
    )
    return Envelope(data=data, meta={"params": {"domain": params.domain, "company": params.company, "type": params.type}})


# --- account -------------------------------------------------------------------------------------


def _next_month(today: date) -> date:
    return date(today.year + today.month // 12, today.month % 12 + 1, 1)


@router.get("/account", summary="The account and its usage", response_model=DataOnly[AccountData])
async def account(request: Request, principal: Caller) -> Any:
    """Searches and verifications used and available (mailsleuth's search and verify credits), and
    the older `calls` block (their sum) that clients still read."""
    db = services(request).db
    balances = await store.balances(db, principal.org_id)
    org = await store.get_org(db, principal.org_id)
    searches, verifications = balances[CreditKind.SEARCH], balances[CreditKind.VERIFY]
    first, _, last = principal.user_name.strip().partition(" ")
    data = AccountData(
        first_name=first or None,
        last_name=last or None,
        email=principal.user_email,
        plan_name=org.plan if org else None,
        plan_level=0,
        reset_date=_next_month(date.today()).isoformat(),
        team_id=principal.org_id,
        requests=Requests(
            searches=Usage(used=searches.used, available=searches.remaining),
            verifications=Usage(used=verifications.used, available=verifications.remaining),
        ),
        calls=Usage(used=searches.used + verifications.used, available=searches.remaining + verifications.remaining),
    )
    return DataOnly(data=data)


# --- enrichment ----------------------------------------------------------------------------------


def person_json(contact: Contact) -> dict[str, Any]:
    """Hunter's (Clearbit-style) person from a contact; what mailsleuth does not know is null."""
    domain = contact.domain or (contact.email or "").rpartition("@")[2] or None
    company = contact.company_name or (contact.company.name if contact.company else None)
    return {
        "id": str(contact.id),
        "name": {"fullName": contact.name, "givenName": contact.first_name, "familyName": contact.last_name},
        "email": contact.email,
        "location": contact.location,
        "timeZone": None,
        "utcOffset": None,
        "geo": {"city": None, "state": None, "stateCode": None, "country": None, "countryCode": None,
                "lat": None, "lng": None},
        "employment": {"domain": domain, "name": company, "title": contact.title, "role": None, "subRole": None,
                       "seniority": None},
        "twitter": {"handle": None},
        "linkedin": {"handle": contact.linkedin_id},
        "fuzzy": False,
        "emailProvider": None,
        "indexedAt": shapes.day(contact.updated_at),
        "phone": contact.phone,
        "activeAt": shapes.day(contact.updated_at),
        "inactiveAt": None,
    }


def company_json(company: store.Company) -> dict[str, Any]:
    facts = intelligence.company_facts_json(company) or {}
    return {
        "id": str(company.id),
        "name": facts.get("name"),
        "legalName": None,
        "domain": company.domain,
        "domainAliases": [],
        "site": {"phoneNumbers": [], "emailAddresses": [], "url": facts.get("url"), "title": facts.get("title")},
        "category": {"sector": None, "industryGroup": None, "industry": None, "subIndustry": None},
        "tags": facts.get("keywords") or [],
        "description": facts.get("description"),
        "foundedYear": None,
        "location": None,
        "timeZone": None,
        "geo": {"city": None, "state": None, "stateCode": None, "country": None, "countryCode": None,
                "lat": None, "lng": None},
        "logo": facts.get("logo"),
        "facebook": {"handle": None},
        "linkedin": {"handle": None},
        "twitter": {"handle": None},
        "crunchbase": {"handle": None},
        "instagram": {"handle": None},
        "type": None,
        "company_type": None,
        "ticker": None,
        "metrics": {"employees": None, "employeesRange": None, "trafficRank": None, "marketCap": None,
                    "raised": None, "annualRevenue": None},
        "tech": [],
        "techCategories": [],
        "fundingRounds": [],
    }


async def _person(request: Request, principal: Principal, email: str | None) -> Contact:
    if not email:
        raise ServiceError(REQUIRED, field="email")
    contact = await contact_by_email(services(request).db, principal.org_id, email)
    if contact is None:
        raise NotFound("No person was found for this email address.")
    return contact


async def _company(request: Request, domain: str) -> store.Company | None:
    return await store.get_company(services(request).db, companies.domain_field(domain))


@router.get("/people/find", summary="What is known about a person", response_model=Envelope[dict[str, Any]])
async def people_find(request: Request, principal: Caller, email: str | None = None) -> Any:
    contact = await _person(request, principal, email)
    return Envelope(data=person_json(contact), meta={"email": email})


@router.get("/companies/find", summary="What is known about a company", response_model=Envelope[dict[str, Any]])
async def companies_find(request: Request, principal: Caller, domain: str | None = None) -> Any:
    company = await _company(request, domain or "")
    if company is None:
        raise NotFound("No company was found for this domain.")
    return Envelope(data=company_json(company), meta={"domain": company.domain})


@router.get("/combined/find", summary="A person and their company", response_model=Envelope[dict[str, Any]])
async def combined_find(request: Request, principal: Caller, email: str | None = None) -> Any:
    contact = await _person(request, principal, email)
    domain = contact.domain or (contact.email or "").rpartition("@")[2]
    company = await _company(request, domain) if domain else None
    data = {"person": person_json(contact), "company": company_json(company) if company else None}
    return Envelope(data=data, meta={"email": email})
