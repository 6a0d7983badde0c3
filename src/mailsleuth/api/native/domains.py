"""Domain search in the native API (`POST /v1/domain-search`): who is known at a company, Hunter-style.

The same service as VoilaNorbert's domain search (the website crawled when stale, new people added
to the contacts at 1 search credit each), answered with the native contact shape plus what a user
weighs an address by: its sources (pages, first and last seen), the domain's address convention
with the evidence behind it, and whether the domain accepts every address (catch-all), from the
stored check; `POST /v1/domains/{domain}/catch-all` runs that check when none is stored.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import OptionalText, body_doc, parse_body
from mailsleuth.api.native.routes import contact_json
from mailsleuth.api.params import BodyInt
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.service import catchall, companies, crawling, intelligence
from mailsleuth.service.finding import Finding
from mailsleuth.store import DomainState, Principal, to_ms

IS_NEW_WINDOW = timedelta(hours=1)
"""`is_new` in a domain search: revealed from the website within the last hour (as VoilaNorbert's)."""

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]


class DomainSearchBody(BaseModel):
    domain: OptionalText = None
    company: OptionalText = None
    list_id: BodyInt = None
    page: BodyInt = None


@router.post("/domain-search", summary="People known at a domain", openapi_extra=body_doc(DomainSearchBody, form=False))
async def domain_search(request: Request, principal: Caller) -> dict[str, Any]:
    """`domain`, or `company` (a name, resolved to its domain). People new to the organisation become
    its contacts (1 search credit each, `is_new`), added to `list_id` when given."""
    body = await parse_body(request, DomainSearchBody)
    rt = services(request).runtime
    domain = await companies.locate(rt.db, rt.settings, rt.verifier.resolver, body.domain, body.company)
    crawl = await crawling.ensure_crawled(rt.db, rt.settings, domain, verifier=rt.verifier)
    page = await intelligence.domain_search(
        rt.db, principal.org_id, domain, body.page or 1, owner_id=principal.user_id, list_id=body.list_id
    )
    state = await catchall.known(rt, domain)
    results = []
    for contact in page.items:
        sources = await intelligence.sources_for(rt.db, contact.email) if contact.email else []
        results.append({**contact_json(contact), "is_new": page.revealed_within(contact, IS_NEW_WINDOW),
                        "sources": sources})
    return {
        "domain": domain,
        "company": intelligence.company_facts_json(await store.get_company(rt.db, domain)),
        "crawl": {"crawled": to_ms(crawl.crawled_at), "pages": crawl.pages, "addresses": crawl.addresses,
                  "error": crawl.error},
        "convention": await _convention(Finding(rt.db, rt.settings, rt.verifier, principal.org_id), domain),
        # the stored check (null: not checked yet, POST /v1/domains/{domain}/catch-all runs it)
        "catch_all": state.catch_all if state else None,
        "catch_all_checked": to_ms(state.checked_at) if state else None,
        "page": page.page,
        "total": page.total,
        "has_next": page.has_next,
        "credits_available": page.credits_available,
        "results": results,
    }


async def _convention(finding: Finding, domain: str) -> dict[str, Any]:
    """The patterns everything a find would rank by supports, and how many addresses that is."""
    gathered = await finding.evidence.gather(domain)  # cached: the patterns below read the same
    return {
        "evidence": gathered.convention.evidence,
        "patterns": await intelligence.domain_patterns_all_evidence(finding, domain),
    }


class CatchAll(BaseModel):
    """A domain's stored catch-all check."""

    domain: str
    catch_all: bool | None = Field(
        description="true: the mail server accepts every address, so no address there can be confirmed; "
        "false: it refuses unknown ones; null: no server answered clearly, or the domain takes no mail")
    checked: int = Field(description="when the check was made, in ms since the epoch")
    mx_hosts: list[str]
    route_status: str | None = Field(description="what DNS said: ok, null_mx, nxdomain, no_mail, servfail, timeout")


def catch_all_json(state: DomainState) -> CatchAll:
    return CatchAll(domain=state.domain, catch_all=state.catch_all, checked=to_ms(state.checked_at),
                    mx_hosts=[str(host) for host in state.mx_hosts], route_status=state.route_status)


@router.post("/domains/{domain}/catch-all", summary="Check whether a domain accepts every address",
             response_model=CatchAll)
async def check_catch_all(domain: str, request: Request, principal: Caller) -> CatchAll:
    """The stored check while it is fresh, else a new one (one RCPT for an address nobody has, never
    DATA), stored for every later domain search. Free: no credit is charged."""
    rt = services(request).runtime
    return catch_all_json(await catchall.check(rt, companies.domain_field(domain)))
