"""Domain intelligence in the store: crawls, addresses seen on company websites, learning, people.

What a company's website says (its facts, the addresses on it and the pages they came from) is
global knowledge, like companies and conventions. People an organisation imports are its contacts
(`source="import"`), so every contact view (VoilaNorbert contacts, Kaspr leads) sees them.
A convention learns from each address once: `learned_addresses` is the ledger crawls and imports
check, so a page read again, or a person both imported and crawled, never counts twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mailsleuth.engine.crawl import CrawlResult, Source, learn_from_crawl, merge_sources
from mailsleuth.engine.names import PersonName
from mailsleuth.engine.patterns import Convention
from mailsleuth.store import models as m
from mailsleuth.store.accounts import ChargeResult, charge_in
from mailsleuth.store.contacts import ContactFilters, _clean, name_key, query_contacts
from mailsleuth.store.db import Database
from mailsleuth.store.events import event, list_events, outcome_detail, record
from mailsleuth.store.records import Contact, CreditKind, EventKind, utcnow

SOURCE_CRAWL = "crawl"
SOURCE_IMPORT = "import"
PERSON_FIELDS = frozenset(
    {"name", "first_name", "last_name", "domain", "company_name", "title", "linkedin_id", "phone", "location", "email"}
)


@dataclass(frozen=True)
class CrawlRecord:
    domain: str
    crawled_at: datetime
    pages: int
    addresses: int
    error: str | None  # why the homepage yielded nothing; None when the site was read

    def is_fresh(self, max_age: timedelta, *, retry_failed: timedelta, now: datetime | None = None) -> bool:
        """Whether the crawl is recent enough to answer from; a failed one is retried sooner."""
        age = (now or utcnow()) - self.crawled_at
        return age < (max_age if self.error is None else min(max_age, retry_failed))


@dataclass(frozen=True)
class WebAddress:
    address: str
    domain: str
    role: bool
    name: str | None  # as printed next to the address
    verdict: str | None
    sources: tuple[Source, ...]

    @property
    def on_web(self) -> bool:
        """Still on at least one page (the last crawl that read one of its pages saw it)."""
        return any(source.still_on_page for source in self.sources)


@dataclass(frozen=True)
class SavedCrawl:
    crawl: CrawlRecord
    new_addresses: tuple[str, ...]  # not seen before this crawl
    learned: int  # observations added to the domain's convention


def _crawl_record(row: m.DomainCrawl) -> CrawlRecord:
    return CrawlRecord(row.domain, row.crawled_at, row.pages, row.addresses, row.error)


def _source(row: m.WebSource) -> Source:
    return Source(row.uri, row.extracted_on, row.last_seen_on, row.still_on_page)


async def get_crawl(db: Database, domain: str) -> CrawlRecord | None:
    async with db.read() as session:
        row = await session.get(m.DomainCrawl, domain)
        return _crawl_record(row) if row else None


# --- saving a crawl ------------------------------------------------------------------------------


async def save_crawl(db: Database, result: CrawlResult) -> SavedCrawl:
    """Record a crawl in one transaction: when, the company facts, the merged sources, the learning.

    Sources are folded in with `crawl.merge_sources`, so history survives and addresses gone from a
    page read again are kept with `still_on_page=False`. Person addresses at the domain that no
    convention has learned from yet teach the stored convention (`crawl.learn_from_crawl`).
    """
    domain = result.domain
    home = result.home
    error = home.error if home is not None else "not_crawled"
    async with db.write() as session:
        crawl = await session.get(m.DomainCrawl, domain)
        if crawl is None:
            crawl = m.DomainCrawl(domain=domain, crawled_at=result.finished_at)
            session.add(crawl)
        crawl.crawled_at, crawl.error = result.finished_at, error
        crawl.pages, crawl.addresses = len(result.visited), len(result.sources)
        if error is None:
            await _save_facts(session, result, home.final_url if home else None)
        new = await _save_sources(session, result)
        learned = await _learn(
            session,
            domain,
            [a for a in result.people if a.rpartition("@")[2] == domain],
            SOURCE_CRAWL,
            lambda convention, fresh: learn_from_crawl(
                replace(result, sources={a: result.sources[a] for a in fresh}, roles=set()), convention
            ),
        )
        await session.flush()
        return SavedCrawl(_crawl_record(crawl), tuple(new), learned)


async def _save_facts(session: AsyncSession, result: CrawlResult, home_url: str | None) -> None:
    facts = result.facts
    row = await session.scalar(select(m.Company).where(m.Company.domain == result.domain))
    if row is None:
        row = m.Company(domain=result.domain, keywords=[])
        session.add(row)
    row.name = facts.name or row.name
    row.title, row.description, row.keywords = facts.title, facts.description, list(facts.keywords)
    row.logo, row.url = facts.logo, facts.canonical_url or home_url
    row.facts_fetched_at = result.finished_at


async def _save_sources(session: AsyncSession, result: CrawlResult) -> list[str]:
    """Merge the crawl's sources into the stored ones; returns the addresses never seen before."""
    rows = {
        row.address: row
        for row in await session.scalars(
            select(m.WebAddress).where(
                (m.WebAddress.domain == result.domain) | m.WebAddress.address.in_(list(result.sources))
            )
        )
    }
    stored: dict[int, dict[str, m.WebSource]] = {}
    if rows:
        ids = [row.id for row in rows.values()]
        for source in await session.scalars(select(m.WebSource).where(m.WebSource.address_id.in_(ids))):
            stored.setdefault(source.address_id, {})[source.uri] = source
    old = {address: [_source(s) for s in stored.get(row.id, {}).values()] for address, row in rows.items()}
    merged = merge_sources(old, result.sources, visited=result.visited)
    new: list[str] = []
    for address, sources in sorted(merged.items()):  # ids in a stable order
        row = rows.get(address)
        if row is None:
            row = m.WebAddress(address=address, domain=result.domain, role=address in result.roles)
            session.add(row)
            await session.flush()
            new.append(address)
        if address in result.names and row.name is None:
            row.name = result.names[address].full
        kept = stored.get(row.id, {})
        for source in sources:
            existing = kept.get(source.uri)
            if existing is None:
                session.add(
                    m.WebSource(
                        address_id=row.id,
                        uri=source.uri,
                        extracted_on=source.extracted_on,
                        last_seen_on=source.last_seen_on,
                        still_on_page=source.still_on_page,
                    )
                )
            else:
                existing.extracted_on, existing.last_seen_on = source.extracted_on, source.last_seen_on
                existing.still_on_page = source.still_on_page
    return sorted(new)


Teach = Callable[[Convention, list[str]], int]


async def _learn(
    session: AsyncSession,
    domain: str,
    addresses: Sequence[str],
    source: str,
    teach: Teach,
    owners: Mapping[str, str] | None = None,
) -> int:
    """Teach the domain's stored convention the addresses it has not learned from yet."""
    if not addresses:
        return 0
    known = set(
        await session.scalars(select(m.LearnedAddress.address).where(m.LearnedAddress.address.in_(list(addresses))))
    )
    fresh = sorted(set(addresses) - known)
    if not fresh:
        return 0
    row = await session.get(m.DomainConvention, domain, with_for_update=True)
    convention = Convention.from_dict(row.data) if row else Convention()
    learned = teach(convention, fresh)
    owners = owners or {}
    session.add_all(m.LearnedAddress(address=a, domain=domain, source=source, owner=owners.get(a)) for a in fresh)
    if learned:
        if row is None:
            session.add(m.DomainConvention(domain=domain, data=convention.to_dict(), evidence=convention.evidence))
        else:
            row.data, row.evidence, row.updated_at = convention.to_dict(), convention.evidence, utcnow()
    return learned


async def learn_people(db: Database, domain: str, people: Mapping[str, PersonName | None], source: str) -> int:
    """Teach the domain's convention addresses whose owners are known (verified finds); each address
    once, merged under the convention's row lock so concurrent finds each keep their observation.
    The owner's name is kept with the address (`address_owners`)."""

    def teach(convention: Convention, fresh: list[str]) -> int:
        learned = 0
        for address in fresh:
            local, name = address.rpartition("@")[0], people[address]
            if (name is not None and convention.observe(local, name)) or convention.observe(local):
                learned += 1
        return learned

    owners = {address: name.full for address, name in people.items() if name is not None}
    try:
        async with db.write() as session:
            return await _learn(session, domain, list(people), source, teach, owners)
    except IntegrityError:  # a concurrent find (PostgreSQL) created the domain's row first: merge under its lock
        async with db.write() as session:
            return await _learn(session, domain, list(people), source, teach, owners)


async def address_owners(db: Database, domain: str) -> dict[str, str]:
    """Addresses at the domain that verified finds showed belong to someone, with that someone's name."""
    async with db.read() as session:
        rows = await session.execute(
            select(m.LearnedAddress.address, m.LearnedAddress.owner).where(
                m.LearnedAddress.domain == domain, m.LearnedAddress.owner.is_not(None)
            )
        )
        return {address: owner for address, owner in rows if owner}


async def evidence_by_source(db: Database, domain: str) -> dict[str, int]:
    """How many addresses each source (crawl, import) taught the domain's convention."""
    async with db.read() as session:
        rows = await session.execute(
            select(m.LearnedAddress.source, func.count())
            .where(m.LearnedAddress.domain == domain)
            .group_by(m.LearnedAddress.source)
        )
        return {source: count for source, count in rows.all()}


# --- reading what the web said -------------------------------------------------------------------


async def _web_records(session: AsyncSession, rows: Sequence[m.WebAddress]) -> list[WebAddress]:
    sources: dict[int, list[Source]] = {}
    if rows:
        query = select(m.WebSource).where(m.WebSource.address_id.in_([row.id for row in rows]))
        for source in await session.scalars(query.order_by(m.WebSource.extracted_on, m.WebSource.uri)):
            sources.setdefault(source.address_id, []).append(_source(source))
    return [
        WebAddress(row.address, row.domain, row.role, row.name, row.verdict, tuple(sources.get(row.id, ())))
        for row in rows
    ]


async def web_addresses(db: Database, domain: str, *, people_only: bool = True) -> list[WebAddress]:
    """Addresses seen on the domain's website, oldest first (roles too unless `people_only`)."""
    query = select(m.WebAddress).where(m.WebAddress.domain == domain)
    if people_only:
        query = query.where(m.WebAddress.role.is_(False))
    async with db.read() as session:
        rows = list(await session.scalars(query.order_by(m.WebAddress.id)))
        return await _web_records(session, rows)


async def get_web_address(db: Database, address: str) -> WebAddress | None:
    async with db.read() as session:
        row = await session.scalar(select(m.WebAddress).where(m.WebAddress.address == address.strip().lower()))
        return (await _web_records(session, [row]))[0] if row else None


async def save_verdicts(db: Database, verdicts: Mapping[str, str], *, at: datetime | None = None) -> None:
    """Record what verifying web addresses said (deliverable ones score 100 in domain searches)."""
    if not verdicts:
        return
    async with db.write() as session:
        for row in await session.scalars(select(m.WebAddress).where(m.WebAddress.address.in_(list(verdicts)))):
            row.verdict, row.verified_at = verdicts[row.address], at or utcnow()


# --- people: the organisation's contacts ---------------------------------------------------------


async def _contacts(db: Database, org_id: int, ids: Sequence[int]) -> list[Contact]:
    """Contact records for ids, in the given order (through the contacts query, which loads them)."""
    if not ids:
        return []
    page = await query_contacts(db, org_id, ContactFilters(ids=list(ids), per_page=max(1, len(ids))))
    by_id = {contact.id: contact for contact in page.items}
    return [by_id[i] for i in ids if i in by_id]


def _live(org_id: int) -> list[Any]:
    return [m.Contact.org_id == org_id, m.Contact.deleted.is_(False)]


async def find_by_linkedin(db: Database, org_id: int, linkedin_id: str) -> Contact | None:
    """The newest contact with this LinkedIn id (compared case-insensitively: ids are lower-case)."""
    async with db.read() as session:
        found = await session.scalar(
            select(m.Contact.id)
            .where(*_live(org_id), func.lower(m.Contact.linkedin_id) == linkedin_id.strip().lower())
            .order_by(m.Contact.id.desc())
            .limit(1)
        )
    return (await _contacts(db, org_id, [found]))[0] if found else None


async def find_by_email(db: Database, org_id: int, email: str) -> Contact | None:
    async with db.read() as session:
        found = await session.scalar(
            select(m.Contact.id)
            .where(*_live(org_id), m.Contact.email == email.strip().lower())
            .order_by(m.Contact.id.desc())
            .limit(1)
        )
    return (await _contacts(db, org_id, [found]))[0] if found else None


async def people_at_domain(
    db: Database, org_id: int, domain: str, *, limit: int, phone_required: bool = False
) -> list[Contact]:
    """Known people at the domain: those with an address first, then the newest. A search that found
    nobody is not a person mailsleuth knows, so contacts without an address count only when imported."""
    where = [
        *_live(org_id),
        m.Contact.domain == domain,
        or_(m.Contact.email.is_not(None), m.Contact.source == SOURCE_IMPORT),
    ]
    if phone_required:
        where.append(m.Contact.phone.is_not(None))
    async with db.read() as session:
        ids = list(
            await session.scalars(
                select(m.Contact.id)
                .where(*where)
                .order_by(m.Contact.email.is_(None), m.Contact.id.desc())
                .limit(limit)
            )
        )
    return await _contacts(db, org_id, ids)


@dataclass(frozen=True)
class KnownPerson:
    email: str
    name: str
    source: str | None  # SOURCE_IMPORT for imported people


async def org_people_at(db: Database, org_id: int, domain: str) -> list[KnownPerson]:
    """The organisation's contacts at the domain that have an address: private evidence for its finds."""
    async with db.read() as session:
        rows = await session.execute(
            select(m.Contact.email, m.Contact.name, m.Contact.source)
            .where(*_live(org_id), m.Contact.domain == domain, m.Contact.email.is_not(None))
            .order_by(m.Contact.id)
        )
        return [KnownPerson(email, name, source) for email, name, source in rows if email]


async def org_emails_at(db: Database, org_id: int, domain: str) -> set[str]:
    """The addresses of the organisation's contacts at the domain."""
    async with db.read() as session:
        emails = await session.scalars(
            select(m.Contact.email).where(*_live(org_id), m.Contact.domain == domain, m.Contact.email.is_not(None))
        )
        return {email for email in emails if email}


async def add_found_contacts(
    db: Database,
    org_id: int,
    drafts: Sequence[Mapping[str, Any]],
    *,
    owner_id: int | None = None,
    list_id: int | None = None,
) -> tuple[list[int], bool]:
    """Add contacts found for the organisation (domain search), 1 search credit each.

    Each contact and its charge (`contact:<id>`, the reference searches use) commit together; the
    first one the organisation cannot pay for is not added. Returns (new ids, whether credits ran out).
    """
    created: list[int] = []
    async with db.write() as session:
        item = await session.get(m.ContactList, list_id) if list_id is not None else None
        for draft in drafts:
            fields = _clean({**draft, "owner_id": owner_id})
            row = m.Contact(org_id=org_id, **fields)
            session.add(row)
            await session.flush()
            if await charge_in(session, org_id, CreditKind.SEARCH, 1, f"contact:{row.id}") is ChargeResult.INSUFFICIENT:
                await session.delete(row)
                await session.flush()
                return created, True
            if item is not None and item.org_id == org_id:
                session.add(m.ListMember(list_id=item.id, contact_id=row.id))
                await record(session, list_events(org_id, EventKind.LIST_ADDED, [row.id], item, owner_id))
            created.append(row.id)
    return created, False


async def reveal_address(
    db: Database,
    org_id: int,
    contact_id: int,
    *,
    email: str,
    score: int | None,
    verdict: str,
    evidence: dict[str, Any],
    user_id: int | None = None,
) -> tuple[Contact | None, bool]:
    """Give a known person the address just found for them (at `user_id`'s request), charging 1
    search credit once.

    Returns (the contact, whether it was paid for); an unpaid address is not stored.
    """
    async with db.write() as session:
        row = await session.get(m.Contact, contact_id)
        if row is None or row.org_id != org_id or row.deleted:
            return None, False
        outcome = await charge_in(session, org_id, CreditKind.SEARCH, 1, f"contact:{contact_id}")
        paid = outcome is not ChargeResult.INSUFFICIENT
        if paid:
            fields = _clean({"email": email, "score": score, "verdict": verdict, "evidence": evidence})
            for key, value in fields.items():
                setattr(row, key, value)
        found = {"email": row.email, "verdict": verdict, "score": score, "insufficient_credits": not paid}
        await record(session, [event(org_id, EventKind.SEARCH, contact_id=row.id, address=row.email,
                                     user_id=user_id, detail=outcome_detail(found, None))])
    return (await _contacts(db, org_id, [contact_id]) or [None])[0], paid


@dataclass(frozen=True)
class SavedPeople:
    created: list[int]
    updated: list[int]


async def save_people(
    db: Database, org_id: int, people: Iterable[Mapping[str, Any]], *, owner_id: int | None = None
) -> SavedPeople:
    """Import people as the organisation's contacts (`source="import"`), updating known ones.

    A person is the same contact when the LinkedIn id matches, else name and domain, else the
    address; given fields overwrite stored ones (the importer knows best), empty ones do not.
    Raises ValueError/TypeError for a field the contacts table refuses (nothing is written then).
    """
    created: list[int] = []
    updated: list[int] = []
    async with db.write() as session:
        companies: dict[str, int | None] = {}
        for person in people:
            unknown = set(person) - PERSON_FIELDS
            if unknown:
                raise TypeError(f"unknown person fields: {', '.join(sorted(unknown))}")
            fields = _clean({key: value for key, value in person.items() if value not in (None, "")})
            domain = fields.get("domain")
            if domain and domain not in companies:
                companies[domain] = await session.scalar(select(m.Company.id).where(m.Company.domain == domain))
            if domain and companies[domain] is not None:
                fields["company_id"] = companies[domain]
            row = await _same_person(session, org_id, fields)
            if row is None:
                row = m.Contact(org_id=org_id, owner_id=owner_id, source=SOURCE_IMPORT, **fields)
                session.add(row)
                await session.flush()
                created.append(row.id)
                continue
            if fields.get("email") and fields["email"] != row.email:
                row.score = row.verdict = None  # a different address: what was verified is not this one
            for key, value in fields.items():
                setattr(row, key, value)
            await session.flush()
            updated.append(row.id)
    return SavedPeople(created, updated)


async def _same_person(session: AsyncSession, org_id: int, fields: Mapping[str, Any]) -> m.Contact | None:
    queries = []
    if fields.get("linkedin_id"):
        queries.append(func.lower(m.Contact.linkedin_id) == fields["linkedin_id"].lower())
    if fields.get("domain"):
        queries.append((m.Contact.name_key == name_key(fields["name"])) & (m.Contact.domain == fields["domain"]))
    if fields.get("email"):
        queries.append(m.Contact.email == fields["email"])
    for condition in queries:
        row = await session.scalar(
            select(m.Contact).where(*_live(org_id), condition).order_by(m.Contact.id.desc()).limit(1)
        )
        if row is not None:
            return row
    return None
