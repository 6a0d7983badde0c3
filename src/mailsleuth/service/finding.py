"""The one find service: every path that finds a person's address (single searches of every
dialect, bulk rows, profiles, the CLI) runs `Finding.find`.

It turns a company into a domain (`companies.locate`), gathers the domain's evidence from the
store before touching its mail server — the website crawled on first contact (bounded, cached,
robots.txt respected), the convention learned from verified finds and web pages, and what the
caller's organisation knows — and records what a verified find teaches by merging it into the
domain's convention under a row lock (`store.intelligence.learn_people`), so concurrent finds at
one domain each keep their observation.

Tenancy: conventions learned from SMTP-verified finds and public web pages are shared by every
organisation; the people an organisation imported and its contacts inform only its own finds.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace

from mailsleuth.config import Settings
from mailsleuth.engine.crawl import Resolve
from mailsleuth.engine.evidence import DomainEvidence, KnownAddress, claim
from mailsleuth.engine.find import Finder
from mailsleuth.engine.names import PersonName, name_or_none
from mailsleuth.engine.patterns import Convention
from mailsleuth.engine.results import FindResult
from mailsleuth.engine.verify import Verifier
from mailsleuth.service import companies, crawling
from mailsleuth import store
from mailsleuth.store import Database
from mailsleuth.store import intelligence as knowledge

log = logging.getLogger(__name__)

SOURCE_SEARCH = "search"  # the learned-address ledger's name for SMTP-verified finds


@dataclass
class StoreEvidence:
    """A domain's evidence from the store for one organisation (or none: the CLI), cached for the
    object's life so a bulk slice or a file reads each domain once; confirmations update the cache."""

    db: Database
    settings: Settings
    org_id: int | None = None
    web: bool = True
    resolve: Resolve | None = None
    _cache: dict[str, asyncio.Future[DomainEvidence]] = field(default_factory=dict)

    async def gather(self, domain: str) -> DomainEvidence:
        if domain not in self._cache:
            self._cache[domain] = asyncio.ensure_future(self._load(domain))
        try:
            return await asyncio.shield(self._cache[domain])
        except Exception:
            self._cache.pop(domain, None)  # let the next find try again
            raise

    async def _load(self, domain: str) -> DomainEvidence:
        if self.web:
            try:
                await crawling.ensure_crawled(self.db, self.settings, domain, resolve=self.resolve)
            except Exception:  # a website that breaks the crawler must not break the find
                log.warning("crawling %s failed", domain, exc_info=True)
        convention = await store.get_convention(self.db, domain) or Convention()
        known = [
            KnownAddress(w.address, name_or_none(w.name), tuple(s.uri for s in w.sources))
            for w in await knowledge.web_addresses(self.db, domain)
            if w.on_web
        ]
        known += [  # owners other finds verified: they mark an address taken, never answer with it
            KnownAddress(address, name_or_none(owner), answer=False)
            for address, owner in (await knowledge.address_owners(self.db, domain)).items()
        ]
        if self.org_id is not None:
            for person in await knowledge.org_people_at(self.db, self.org_id, domain):
                name = name_or_none(person.name)
                known.append(KnownAddress(person.email, name))
                if person.source == knowledge.SOURCE_IMPORT:  # private evidence: this org's finds only
                    local = person.email.rpartition("@")[0]
                    if not (name is not None and convention.observe(local, name)):
                        convention.observe(local)
        return DomainEvidence(convention, known)

    async def confirm(self, domain: str, address: str, name: PersonName) -> bool:
        if not claim(await self.gather(domain), address, name):
            return False
        await knowledge.learn_people(self.db, domain, {address: name}, SOURCE_SEARCH)
        return True


@dataclass
class Finding:
    """Finds for one caller: the shared Verifier, the store, and what the caller's org may see."""

    db: Database
    settings: Settings
    verifier: Verifier
    org_id: int | None = None
    web: bool = True
    resolve: Resolve | None = None

    def __post_init__(self) -> None:
        self.evidence = StoreEvidence(self.db, self.settings, self.org_id, self.web, self.resolve)
        self.finder = Finder(self.verifier, self.evidence, max_probes=self.settings.find_max_probes)

    async def domain(self, domain: str | None, company: str | None) -> str:
        """The domain a find names: ``domain`` when given, else ``company`` located."""
        return await companies.locate(
            self.db, self.settings, self.verifier.resolver, domain, company, resolve=self.resolve
        )

    async def find(
        self, name: PersonName, domain: str | None, company: str | None = None, *, smtp: bool = True
    ) -> FindResult:
        """Find ``name`` at ``domain`` (or the located ``company``); ServiceError for bad input."""
        return await self.finder.find(name, await self.domain(domain, company), smtp=smtp)

    def for_org(self, org_id: int | None) -> Finding:
        return replace(self, org_id=org_id)
