"""What mailsleuth has learned about the outside world: conventions, domain state, company facts.

This knowledge is global, not per organisation: a domain's address convention, its MX hosts and
catch-all behaviour, and a company's public facts are the same whoever asks, and sharing them means
fewer SMTP probes against other people's mail servers (being a good citizen). Nothing
here reveals which organisation searched what: contacts and searches stay tenant-scoped.
Domains are stored as given; callers pass them normalised (mailsleuth.engine.domains.normalise_domain).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from mailsleuth.store import models as m
from mailsleuth.store.db import Database
from mailsleuth.store.records import Company, DomainState, utcnow

if TYPE_CHECKING:
    from mailsleuth.engine.patterns import Convention

COMPANY_FIELDS = frozenset({"name", "title", "description", "keywords", "logo", "url", "facts_fetched_at"})


def _domain(domain: str) -> str:
    domain = domain.strip().lower()
    if not domain or len(domain) > 253 or any(ord(ch) <= 32 or ord(ch) == 127 for ch in domain):
        raise ValueError(f"not a domain: {domain!r}")
    return domain


def company_record(row: Any) -> Company:
    return Company(
        row.id,
        row.domain,
        row.name,
        row.title,
        row.description,
        list(row.keywords or []),
        row.logo,
        row.url,
        row.facts_fetched_at,
    )


async def get_convention(db: Database, domain: str) -> Convention | None:
    from mailsleuth.engine.patterns import Convention

    async with db.read() as session:
        row = await session.get(m.DomainConvention, _domain(domain))
        return Convention.from_dict(row.data) if row else None


async def save_convention(db: Database, domain: str, convention: Convention) -> None:
    """Store the domain's convention, replacing what was there (the caller merged observations)."""
    data = convention.to_dict()
    async with db.write() as session:
        row = await session.get(m.DomainConvention, _domain(domain))
        if row is None:
            session.add(m.DomainConvention(domain=_domain(domain), data=data, evidence=convention.evidence))
        else:
            row.data, row.evidence, row.updated_at = data, convention.evidence, utcnow()


def _state_record(row: m.DomainStateRow) -> DomainState:
    return DomainState(row.domain, list(row.mx_hosts or []), row.route_status, row.catch_all, row.checked_at, row.ttl_seconds)


async def get_domain_state(db: Database, domain: str, *, now: datetime | None = None) -> DomainState | None:
    """The cached MX/catch-all state, or None when unknown or older than its TTL."""
    async with db.read() as session:
        row = await session.get(m.DomainStateRow, _domain(domain))
    if row is None:
        return None
    state = _state_record(row)
    return state if state.expires_at > (now or utcnow()) else None


async def save_domain_state(
    db: Database,
    domain: str,
    *,
    mx_hosts: Sequence[Any],
    catch_all: bool | None,
    route_status: str | None = None,
    ttl_seconds: int = 3600,
    checked_at: datetime | None = None,
) -> DomainState:
    if ttl_seconds < 0:
        raise ValueError("ttl_seconds must not be negative")
    values = {
        "mx_hosts": list(mx_hosts),
        "catch_all": catch_all,
        "route_status": route_status,
        "ttl_seconds": ttl_seconds,
        "checked_at": checked_at or utcnow(),
    }
    async with db.write() as session:
        row = await session.get(m.DomainStateRow, _domain(domain))
        if row is None:
            row = m.DomainStateRow(domain=_domain(domain), **values)
            session.add(row)
        else:
            for name, value in values.items():
                setattr(row, name, value)
        await session.flush()
        return _state_record(row)


async def get_company(db: Database, domain: str) -> Company | None:
    async with db.read() as session:
        row = await company_at(session, domain)
        return company_record(row) if row else None


async def company_at(session: AsyncSession, domain: str) -> Any | None:
    """The company known at `domain` as a row of its columns, inside the caller's transaction (also
    the search-opening write's: a statement built once, no ORM object)."""
    return (await session.execute(_COMPANY_AT, {"domain": _domain(domain)})).first()


_COMPANIES = m.Company.__table__
_COMPANY_AT = select(_COMPANIES).where(_COMPANIES.c.domain == bindparam("domain"))


async def find_company_domain(db: Database, name: str) -> str | None:
    """The domain of the company with this name (case-insensitive, exact), oldest first; None if unknown."""
    name = " ".join(name.split())
    if not name:
        return None
    async with db.read() as session:
        query = select(m.Company.domain).where(func.lower(m.Company.name) == name.lower()).order_by(m.Company.id)
        return await session.scalar(query.limit(1))


async def save_company(db: Database, domain: str, **facts: Any) -> Company:
    """Create or update a company's facts (name, title, description, keywords, logo, url, facts_fetched_at)."""
    unknown = set(facts) - COMPANY_FIELDS
    if unknown:
        raise TypeError(f"unknown company fields: {', '.join(sorted(unknown))}")
    async with db.write() as session:
        row = await session.scalar(select(m.Company).where(m.Company.domain == _domain(domain)))
        if row is None:
            row = m.Company(domain=_domain(domain), keywords=[])
            session.add(row)
        for key, value in facts.items():
            setattr(row, key, list(value) if key == "keywords" else value)
        await session.flush()
        return company_record(row)
