"""Company websites as evidence: crawl a domain's site on first contact, again once it is stale.

The crawl (`mailsleuth.engine.crawl`) is bounded (page budget, size and time caps), respects
robots.txt and goes only to checked public addresses; what it finds is merged into the store
(`store.intelligence.save_crawl`): company facts, addresses with their sources, and the domain's
convention. Concurrent calls for one domain in this process crawl once.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import timedelta
from typing import Any

from mailsleuth.config import Settings
from mailsleuth.engine import domains
from mailsleuth.engine.crawl import Resolve, crawl_domain
from mailsleuth.engine.verify import Verifier
from mailsleuth.store import Database
from mailsleuth.store import intelligence as knowledge
from mailsleuth.store.intelligence import CrawlRecord

FAILED_CRAWL_RETRY = timedelta(hours=1)  # a site that did not answer is tried again sooner

_crawl_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()


def crawl_options(settings: Settings) -> dict[str, Any]:
    return {
        "scheme": settings.crawl_scheme,
        "port": settings.crawl_port,
        "timeout": settings.crawl_timeout,
        "max_page_bytes": settings.crawl_max_page_bytes,
        "user_agent": settings.crawl_user_agent,
    }


async def ensure_crawled(
    db: Database,
    settings: Settings,
    domain: str,
    *,
    max_age: timedelta | None = None,
    verifier: Verifier | None = None,
    resolve: Resolve | None = None,
) -> CrawlRecord:
    """Crawl the domain's website unless a crawl younger than ``max_age`` is stored.

    Stores the company facts and the merged sources, and teaches the domain's convention the person
    addresses it never learned from. With a ``verifier``, person addresses never verified are
    verified (deliverable ones then score 100 instead of 5). Concurrent calls for one domain in this
    process crawl once. Raises InvalidDomain.
    """
    domain = domains.normalise_domain(domain)
    if max_age is None:
        max_age = timedelta(hours=settings.crawl_max_age_hours)
    record = await knowledge.get_crawl(db, domain)
    if record is not None and record.is_fresh(max_age, retry_failed=FAILED_CRAWL_RETRY):
        return record
    lock = _crawl_locks.setdefault(domain, asyncio.Lock())
    async with lock:
        record = await knowledge.get_crawl(db, domain)
        if record is not None and record.is_fresh(max_age, retry_failed=FAILED_CRAWL_RETRY):
            return record
        result = await crawl_domain(
            domain, settings=settings, page_budget=settings.crawl_page_budget, resolve=resolve, **crawl_options(settings)
        )
        saved = await knowledge.save_crawl(db, result)
        if verifier is not None:
            await _verify_web_people(db, verifier, domain)
        return saved.crawl


async def _verify_web_people(db: Database, verifier: Verifier, domain: str) -> None:
    pending = [w.address for w in await knowledge.web_addresses(db, domain) if w.verdict is None and w.on_web]
    verdicts = {result.email: result.verdict.value async for result in verifier.verify_many(pending)}
    await knowledge.save_verdicts(db, {a: v for a, v in verdicts.items() if a in pending})
