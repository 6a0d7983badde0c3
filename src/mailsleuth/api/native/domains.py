"""Domain search in the native API (`POST /v1/domain-search`): who is known at a company, Hunter-style.

The same service as VoilaNorbert's domain search (the website crawled when stale, new people added
to the contacts at 1 search credit each), answered with the native contact shape plus what a user
weighs an address by: its sources (pages, first and last seen), the domain's address convention
with the evidence behind it, and whether the domain accepts every address (catch-all).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import OptionalText, body_doc, parse_body
from mailsleuth.api.native.routes import contact_json
from mailsleuth.api.params import BodyInt
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.service import companies, crawling, intelligence
from mailsleuth.service.finding import Finding
from mailsleuth.store import Principal, to_ms

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
    state = await store.get_domain_state(rt.db, domain)
    results = []
    for contact, new in page.items:
        sources = await intelligence.sources_for(rt.db, contact.email) if contact.email else []
        results.append({**contact_json(contact), "is_new": new, "sources": sources})
    return {
        "domain": domain,
        "company": intelligence.company_facts_json(await store.get_company(rt.db, domain)),
        "crawl": {"crawled": to_ms(crawl.crawled_at), "pages": crawl.pages, "addresses": crawl.addresses,
                  "error": crawl.error},
        "convention": await _convention(Finding(rt.db, rt.settings, rt.verifier, principal.org_id), domain),
        # the stored state when a check was saved, else what this process's verifier learned
        "catch_all": state.catch_all if state and state.catch_all is not None else rt.verifier.cached_catch_all(domain),
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
