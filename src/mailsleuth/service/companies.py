"""A company name -> its domain, the same way on every path (single, bulk, profile, CLI).

Known companies first; else candidate domains built from the name over the configured endings
(country endings included: "Ravenridge AG" is ravenridge.de), each confirmed by receiving mail
(MX) and by its homepage title naming the company; the facts read are kept, so the next find of
that name is a store look-up.
"""

from __future__ import annotations

import asyncio
import re
import weakref
from collections.abc import Sequence

from anyascii import anyascii

from mailsleuth import store
from mailsleuth.config import Settings
from mailsleuth.engine import domains
from mailsleuth.engine.crawl import CompanyFacts, Resolve, crawl_domain
from mailsleuth.engine.dns import Resolver, RouteStatus
from mailsleuth.service.errors import REQUIRED, ServiceError
from mailsleuth.service.crawling import crawl_options
from mailsleuth.store import Company, Database

DEFAULT_TLDS = tuple(Settings.model_fields["company_tlds"].default.split(","))
SHOWN_TRIED = 5  # candidate domains named in a not-found message

_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def domain_field(value: str | None, field: str = "domain") -> str:
    """A caller's domain (or URL) normalised, as a field error when it is unusable."""
    if not value:
        raise ServiceError(REQUIRED, field=field)
    try:
        return domains.normalise_domain(value)
    except domains.InvalidDomain as exc:
        raise ServiceError(str(exc), field=field) from None


# Words that name the legal form, not the company: "Acme Corp" is acme.com as often as acmecorp.com.
_LEGAL_FORMS = frozenset(
    {
        "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "llp", "lp", "ltd", "limited",
        "plc", "gmbh", "ag", "kg", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "oy", "ab", "as", "aps",
        "group", "holding", "holdings", "the",
    }
)
_WORD = re.compile(r"[a-z0-9]+")
_INITIALISM = re.compile(r"\b(?:[A-Za-z]\.){2,}")  # "S.A.", "U.S." read as one word


def _words(text: str) -> list[str]:
    text = _INITIALISM.sub(lambda match: match.group(0).replace(".", ""), anyascii(text))
    return _WORD.findall(text.lower().replace("&", ""))


def _core(name: str) -> list[str]:
    """The words of a company name without its legal form ("The Acme Corp." -> ["acme"])."""
    words = _words(name)
    core = [w for w in words if w not in _LEGAL_FORMS]
    return core or words


def candidate_domains(name: str, tlds: Sequence[str] = DEFAULT_TLDS) -> list[str]:
    """Domains a company called ``name`` probably uses, most likely first.

    "Acme Corp" -> acme.com, acmecorp.com, acme-corp.com, acme.io, ...: per TLD the name without its
    legal form, then the whole name joined, then hyphenated. Raises ServiceError for a name with no
    letters or digits.
    """
    words, core = _words(name), _core(name)
    if not words:
        raise CompanyNotFound(name, [])
    stems = list(dict.fromkeys(["".join(core), "".join(words), "-".join(core), "-".join(words)]))
    found: list[str] = []
    for tld in tlds:
        for stem in stems:
            try:
                found.append(domains.normalise_domain(f"{stem}.{tld.strip('.').lower()}"))
            except domains.InvalidDomain:
                continue
    return list(dict.fromkeys(found))


def name_matches_site(name: str, facts: CompanyFacts | Company) -> bool:
    """Whether a homepage's title (or site name) names the company: its core words, in order.

    "Acme Corp" matches "Welcome | Acme Corporation" and "ACME"; "Acme Widgets" does not match
    "Acme Rockets"; one-word names must be a whole word of the title (no "go" inside "google").
    """
    core = _core(name)
    if not core:
        return False
    for text in (facts.title, facts.name):
        words = _words(text or "")
        if "".join(core) in words:  # "AcmeWidgets" or "acme widgets" written as one word
            return True
        n = len(core)
        if any(words[i : i + n] == core for i in range(len(words) - n + 1)):
            return True
    return False


class CompanyNotFound(ServiceError):
    """VoilaNorbert answers 400 with a field error when it cannot locate the company."""

    def __init__(self, name: str, tried: Sequence[str]) -> None:
        more = f" and {len(tried) - SHOWN_TRIED} more" if len(tried) > SHOWN_TRIED else ""
        shown = f" (tried {', '.join(tried[:SHOWN_TRIED])}{more})" if tried else ""
        super().__init__(f"We could not locate the company {name.strip()!r}{shown}.", field="company")
        self.tried = list(tried)


async def resolve_company(
    db: Database,
    settings: Settings,
    resolver: Resolver,
    name: str,
    *,
    tlds: Sequence[str] | None = None,
    resolve: Resolve | None = None,
) -> str:
    """A company name -> its domain: a known company, a name given as a domain, else a located one.

    Candidate domains (``candidate_domains``) must receive mail (DNS/MX) and their homepage title
    must name the company (one page fetched per candidate, its facts stored for next time).
    Raises CompanyNotFound (a 400 field error on ``company``) when none qualifies.
    """
    name = " ".join(name.split())
    if not name:
        raise ServiceError(REQUIRED, field="company")
    known = await store.find_company_domain(db, name)
    if known:
        return known
    if "." in name and " " not in name:
        try:
            return domains.normalise_domain(name)
        except domains.InvalidDomain:
            pass
    candidates = candidate_domains(name, settings.company_tld_list if tlds is None else tlds)
    routes = await asyncio.gather(*(resolver.mail_route(c) for c in candidates))
    for candidate, route in zip(candidates, routes):
        if route.status is not RouteStatus.OK:
            continue
        company = await store.get_company(db, candidate)
        if company is None or company.facts_fetched_at is None:
            result = await crawl_domain(candidate, settings=settings, page_budget=1, resolve=resolve, **crawl_options(settings))
            if result.home is None or result.home.error is not None:
                continue
            facts = result.facts
            company = await store.save_company(
                db,
                candidate,
                name=facts.name,
                title=facts.title,
                description=facts.description,
                keywords=list(facts.keywords),
                logo=facts.logo,
                url=facts.canonical_url or result.home.final_url,
                facts_fetched_at=result.finished_at,
            )
        if name_matches_site(name, company):
            return candidate
    raise CompanyNotFound(name, candidates)


async def locate(
    db: Database,
    settings: Settings,
    resolver: Resolver,
    domain: str | None,
    company: str | None,
    *,
    resolve: Resolve | None = None,
) -> str:
    """What a find names: ``domain`` when given, else ``company`` resolved (``resolve_company``)."""
    if domain or not company:
        return domain_field(domain)
    lock = _locks.setdefault(" ".join(company.lower().split()), asyncio.Lock())
    async with lock:  # concurrent rows naming one company resolve it once
        return await resolve_company(db, settings, resolver, company, resolve=resolve)


