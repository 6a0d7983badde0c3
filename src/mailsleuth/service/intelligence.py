"""Domain intelligence as services: what company websites, searches and imports taught mailsleuth.

The engine crawls (`engine.crawl`, driven by `service.crawling`), finds and verifies; the store
keeps what was learned (`store.intelligence`); the functions here join them for every dialect:
domain search, sources, all-evidence patterns, person profiles and employees, enrichment. Pure
helpers (reading a name back from a local part, scores) come first and need no IO.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from mailsleuth.engine import domains, patterns

from mailsleuth import store
from mailsleuth.engine.crawl import Source
from mailsleuth.service.finding import Finding
from mailsleuth.service.errors import NotFound, PaymentRequired, ServiceError
from mailsleuth.engine.names import InvalidName, PersonName, is_first_name, name_or_none, parse_name
from mailsleuth.engine.patterns import Convention, match_patterns
from mailsleuth.engine.results import Verdict, VerifyResult
from mailsleuth.store import Company, Contact, ContactFilters, CreditKind, Database
from mailsleuth.store import intelligence as knowledge
from mailsleuth.store.intelligence import WebAddress
from mailsleuth.engine.verify import Verifier

__all__ = [
    "DomainPage",
    "domain_employees",
    "domain_patterns_all_evidence",
    "domain_search",
    "enrich",
    "enrich_fields",
    "infer_name",
    "person_profile",
    "sources_for",
    "web_score",
]

DOMAIN_PAGE_SIZE = 20
SCORE_VERIFIED, SCORE_OUTSIDE = 100, 5
MAX_EMPLOYEES = 100

# --- pure helpers --------------------------------------------------------------------------------

def _split_candidates(local: str, pattern: str) -> list[tuple[str, str]]:
    """(first, last) pairs that render ``local`` with a pattern using {first} and {last} only."""
    match = re.fullmatch(r"\{(first|last)\}([._-]?)\{(first|last)\}", pattern)
    if match is None or match.group(1) == match.group(3):
        return []
    order, separator = (match.group(1), match.group(3)), match.group(2)
    if separator:
        parts = local.split(separator)
        splits = [tuple(parts)] if len(parts) == 2 else []
    else:
        splits = [(local[:i], local[i:]) for i in range(2, len(local) - 1)]
    pairs = []
    for a, b in splits:
        if len(a) >= 2 and len(b) >= 2 and a.isalpha() and b.isalpha():
            values = dict(zip(order, (a, b)))
            pairs.append((values["first"], values["last"]))
    return pairs


def infer_name(local: str, convention: Convention | None = None) -> PersonName | None:
    """The name an address spells out ("jane.doe" -> Jane Doe), read with the domain's convention.

    Only full first and last names can be read back; the first one must be a known given name unless
    the convention is known to be that pattern. None when the local part does not spell a name.
    """
    local = local.lower().split("+", 1)[0]
    distribution = convention.distribution() if convention is not None and convention.evidence else patterns.PRIOR
    best: tuple[float, PersonName] | None = None
    for pattern, probability in distribution.items():
        for first, last in _split_candidates(local, pattern):
            trusted = is_first_name(first) or (convention is not None and convention.evidence and probability >= 0.5)
            if not trusted:
                continue
            try:
                name = parse_name(first=first.title(), last=last.title())
            except InvalidName:
                continue
            if pattern in match_patterns(local, name) and (best is None or probability > best[0]):
                best = (probability, name)
    return best[1] if best else None


def web_score(verdict: str | None) -> int:
    """VoilaNorbert's score for an address seen on the web: 100 once verified, else 5 (outside sources)."""
    return SCORE_VERIFIED if verdict == Verdict.DELIVERABLE else SCORE_OUTSIDE


def source_json(source: Source) -> dict[str, Any]:
    """Hunter's source object (dates as YYYY-MM-DD, as Hunter shows them)."""
    return {
        "uri": source.uri,
        "extracted_on": source.extracted_on.date().isoformat(),
        "last_seen_on": source.last_seen_on.date().isoformat(),
        "still_on_page": source.still_on_page,
    }


def company_facts_json(company: Company | None) -> dict[str, Any] | None:
    if company is None:
        return None
    return {
        "domain": company.domain,
        "name": company.name,
        "title": company.title,
        "description": company.description,
        "keywords": list(company.keywords),
        "logo": company.logo,
        "url": company.url,
    }


# --- domain search -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DomainPage:
    """One page of a domain search: contacts (with their company filled in), and which of them the
    search revealed from the website (each dialect words "new" its own way, `revealed_within`)."""

    items: list[Contact]
    page: int
    total: int
    has_next: bool
    credits_available: bool
    revealed: frozenset[int]  # ids of the contacts this search added from the website
    searched_at: datetime

    def revealed_within(self, contact: Contact, window: timedelta) -> bool:
        """Whether this search revealed the contact, or the website did at most `window` before it
        (so a client paging through one search sees its reveals on every page)."""
        if contact.id in self.revealed:
            return True
        return contact.source == knowledge.SOURCE_CRAWL and contact.created_at >= self.searched_at - window


def _web_draft(web: WebAddress, convention: Convention | None, company: Company | None) -> dict[str, Any]:
    """A contact for an address found on the web: the name printed next to it, else the one it spells."""
    local = web.address.partition("@")[0]
    name = name_or_none(web.name) or infer_name(local, convention)
    return {
        "name": name.full if name else local,
        "first_name": name.first if name else None,
        "last_name": name.last if name else None,
        "domain": web.domain,
        "company_id": company.id if company else None,
        "company_name": company.name if company else None,
        "email": web.address,
        "score": web_score(web.verdict),
        "verdict": web.verdict,
        "source": knowledge.SOURCE_CRAWL,
        "evidence": {"sources": [source_json(s) for s in web.sources]},
    }


async def domain_search(
    db: Database,
    org_id: int,
    domain: str,
    page: int = 1,
    *,
    owner_id: int | None = None,
    list_id: int | None = None,
    per_page: int = DOMAIN_PAGE_SIZE,
) -> DomainPage:
    """The organisation's contacts at the domain plus the people found on its website, newest first
    (the domain search of VoilaNorbert, Hunter and the native API).

    People on the website the organisation does not know yet become its contacts (1 search credit
    each, `DomainPage.revealed`), scored 5 unless verification said deliverable (100); role addresses and
    addresses verified undeliverable are never added. Raises PaymentRequired when there is
    something new to reveal and no credit left.
    """
    domain = domains.normalise_domain(domain)
    if page < 1:
        raise ServiceError("must be 1 or more", field="page")
    if list_id is not None and await store.get_list(db, org_id, list_id) is None:
        raise ServiceError("Invalid list.", field="list_id")
    started = store.utcnow()
    known = await knowledge.org_emails_at(db, org_id, domain)
    missing = [
        w
        for w in await knowledge.web_addresses(db, domain)
        if w.address not in known and w.on_web and w.verdict != Verdict.UNDELIVERABLE
    ]
    company = await store.get_company(db, domain)
    created: list[int] = []
    if missing:
        if await store.balance(db, org_id, CreditKind.SEARCH) <= 0:
            raise PaymentRequired("No credits left.")
        convention = await store.get_convention(db, domain)
        drafts = [_web_draft(w, convention, company) for w in missing]
        created, _ = await knowledge.add_found_contacts(db, org_id, drafts, owner_id=owner_id, list_id=list_id)
    result = await store.query_contacts(
        db, org_id, ContactFilters(domain=domain, page=page, per_page=per_page, order_by="-created")
    )
    items = [replace(contact, company=contact.company or company) for contact in result.items]
    remaining = await store.balance(db, org_id, CreditKind.SEARCH)
    return DomainPage(items, page, result.total, result.has_next, remaining > 0, frozenset(created), started)


# --- sources and patterns ------------------------------------------------------------------------


async def sources_for(db: Database, address: str) -> list[dict[str, Any]]:
    """Where an address was seen on the web, Hunter's shape: uri, extracted_on, last_seen_on, still_on_page."""
    web = await knowledge.get_web_address(db, address)
    return [source_json(s) for s in web.sources] if web else []


async def domain_patterns_all_evidence(finding: Finding, domain: str, limit: int = 10) -> list[dict[str, Any]]:
    """Kaspr's domainPattern from everything a find at the domain would rank by: its website (crawled
    on first contact), verified finds and the caller's imported people; best first, scores summing to
    at most 1, and nothing certain on one address (`patterns.domain_patterns`' minimum-evidence rule)."""
    domain = domains.normalise_domain(domain)
    evidence = await finding.evidence.gather(domain)
    return patterns.domain_patterns(evidence.convention, domain, limit)


# --- people: profiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    contact: Contact
    charged: bool  # an address was found on the spot and paid for


def _same_name(contact: Contact, name: str) -> bool:
    return " ".join(contact.name.lower().split()) == " ".join(name.lower().split())


async def person_profile(
    db: Database,
    org_id: int,
    linkedin_id: str,
    name: str,
    finding: Finding,
    *,
    phone_required: bool = False,
    user_id: int | None = None,
) -> Profile:
    """The known person with this LinkedIn id (else this exact name), their address found on the spot
    when they have none yet (1 search credit when found).

    Raises NotFound when the person is unknown (or has no phone and ``phone_required``) and
    PaymentRequired when an address would have to be searched without credits.
    """
    contact = await knowledge.find_by_linkedin(db, org_id, linkedin_id) if linkedin_id.strip() else None
    if contact is None and name.strip():
        page = await store.query_contacts(db, org_id, ContactFilters(name=" ".join(name.split()), per_page=100))
        contact = next((c for c in page.items if _same_name(c, name)), None)
    if contact is None or (phone_required and not contact.phone):
        raise NotFound("Profile not found.")
    if contact.email or not contact.domain or contact.searching:
        return Profile(contact, False)
    return await _find_for(db, org_id, contact, finding, user_id)


async def _find_for(db: Database, org_id: int, contact: Contact, finding: Finding, user_id: int | None) -> Profile:
    assert contact.domain is not None
    name = name_or_none(contact.name)
    if name is None:
        return Profile(contact, False)
    if await store.balance(db, org_id, CreditKind.SEARCH) <= 0:
        raise PaymentRequired("No credits left.")
    result = await finding.for_org(org_id).find(name, contact.domain)
    if not result.email:
        return Profile(contact, False)
    found, paid = await knowledge.reveal_address(
        db, org_id, contact.id, email=result.email, score=result.score, verdict=result.verdict.value,
        evidence=result.to_dict(), user_id=user_id,
    )
    return Profile(found or contact, paid)


async def domain_employees(
    db: Database, org_id: int, domain: str, limit: int = 5, phone_required: bool = False
) -> list[Contact]:
    """Kaspr's domainEmployees: known people at the domain, those with an address first."""
    if not 1 <= limit <= MAX_EMPLOYEES:
        raise ServiceError(f"must be between 1 and {MAX_EMPLOYEES}", field="contactsNumberLimit")
    domain = domains.normalise_domain(domain)
    return await knowledge.people_at_domain(db, org_id, domain, limit=limit, phone_required=phone_required)


# --- enrichment ----------------------------------------------------------------------------------


async def _person(
    db: Database, org_id: int, address: str, local: str, domain: str, *, infer: bool
) -> dict[str, Any] | None:
    """Who owns the address: the organisation's contact, else the name printed next to it on the
    web, else (``infer``: not for a bounce) the name its local part spells under the convention."""
    contact = await knowledge.find_by_email(db, org_id, address)
    if contact is not None:
        return {
            "name": contact.name, "first_name": contact.first_name, "last_name": contact.last_name,
            "title": contact.title, "linkedin_id": contact.linkedin_id, "phone": contact.phone,
            "location": contact.location, "source": "contact",
        }
    web = await knowledge.get_web_address(db, address)
    source = "web"
    if web is not None and web.role:
        return None
    name = name_or_none(web.name) if web is not None else None
    if name is None and infer and not domains.is_role(local):
        name, source = infer_name(local, await store.get_convention(db, domain) if domain else None), "inferred"
    if name is None:
        return None
    return {
        "name": name.full, "first_name": name.first or None, "last_name": name.last or None, "title": None,
        "linkedin_id": None, "phone": None, "location": None, "source": source,
    }


async def enrich(db: Database, org_id: int, verifier: Verifier, address: str) -> dict[str, Any]:
    """The native enrichment of an address: verdict and evidence, person, company facts, sources."""
    return await enrichment(db, org_id, await verifier.verify(address))


async def enrichment(db: Database, org_id: int, verification: VerifyResult) -> dict[str, Any]:
    """Enrichment content for an address already verified (the bulk enrich rows share it)."""
    address = verification.email.strip().lower()
    local, _, domain = address.rpartition("@")
    web = await knowledge.get_web_address(db, address) if address else None
    score = verification.score
    if web is not None and web.on_web and verification.verdict in (Verdict.RISKY, Verdict.UNKNOWN):
        score = SCORE_OUTSIDE  # seen on the web, not verifiable
    company = await store.get_company(db, verification.domain or domain) if (verification.domain or domain) else None
    return {
        "email": verification.email,
        "verdict": verification.verdict.value,
        "score": score,
        "verification": verification.to_dict(),
        "person": await _person(db, org_id, address, local, domain, infer=verification.verdict is not Verdict.UNDELIVERABLE)
        if local
        else None,
        "company": company_facts_json(company),
        "sources": [source_json(s) for s in web.sources] if web else [],
    }


async def enrich_fields(db: Database, org_id: int, verification: VerifyResult) -> dict[str, Any]:
    """The enrichment as flat columns for bulk enrich rows (empty columns when nothing is known)."""
    content = await enrichment(db, org_id, verification)
    person = content["person"] or {}
    company = content["company"] or {}
    fields = {
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "full_name": person.get("name"),
        "title": person.get("title"),
        "linkedin_id": person.get("linkedin_id"),
        "phone": person.get("phone"),
        "location": person.get("location"),
        "company_name": company.get("name"),
        "company_domain": company.get("domain"),
        "company_description": company.get("description"),
        "company_url": company.get("url"),
    }
    return {key: value for key, value in fields.items() if value is not None}
