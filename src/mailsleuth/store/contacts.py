"""Contacts and lists, always scoped to one organisation.

Contacts are soft-deleted: a deleted contact disappears from every query but stays in the table, so
"searching the same contact again is free unless it was deleted" can be decided (`find_existing_contact`
ignores deleted rows, hence a new contact, hence a new charge reference).
`ContactFilters` implements every VoilaNorbert `GET /contacts/` filter (`api.contactquery` reads them
from query parameters).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from mailsleuth.store import models as m
from mailsleuth.store.accounts import user_record
from mailsleuth.store.db import Database
from mailsleuth.store.errors import InvalidFilter, NotFound
from mailsleuth.store.events import event, list_events, record
from mailsleuth.store.knowledge import company_record
from mailsleuth.store.records import (
    Company,
    Contact,
    ContactList,
    ContactPage,
    ContactStatus,
    EventKind,
    User,
    utcnow,
)

MAX_PER_PAGE = 500
MAX_OFFSET = 2**63 - 1  # what SQL's OFFSET (a BIGINT) can take
OPERATORS = ("=", ">", "<", ">=", "<=")
ORDER_FIELDS: Mapping[str, Any] = {
    "id": m.Contact.id,
    "name": m.Contact.name,
    "email": m.Contact.email,
    "domain": m.Contact.domain,
    "company": m.Contact.company_name,
    "score": m.Contact.score,
    "status": m.Contact.status,
    "searching": m.Contact.searching,
    "title": m.Contact.title,
    "created": m.Contact.created_at,
    "updated": m.Contact.updated_at,
}
LIST_ORDER_FIELDS = ("id", "name", "created", "contacts")
TEXT_FIELDS: Mapping[str, int] = {
    "name": 300,
    "first_name": 150,
    "last_name": 150,
    "domain": 253,
    "company_name": 300,
    "email": 320,
    "verdict": 16,
    "source": 32,
    "title": 300,
    "linkedin_id": 200,
    "phone": 64,
    "location": 300,
    "webhook": 2048,
}
UPDATABLE = frozenset(TEXT_FIELDS) | {"owner_id", "company_id", "score", "status", "searching", "evidence", "job_id"}


@dataclass(frozen=True)
class ContactFilters:
    """A contacts query. Every given filter must match (AND); lists match any of the given ids."""

    ids: Sequence[int] | None = None
    query: str | None = None  # substring of name, email, domain or company name
    name: str | None = None  # substring of the name
    email: str | None = None  # substring of the address
    company: str | None = None  # substring of the company name
    domain: str | None = None  # exact domain
    status: ContactStatus | None = None
    verdict: str | None = None  # exact verdict (deliverable, risky, undeliverable, unknown)
    found: bool | None = None  # True: has an address; False: has none; None: all
    history: bool | None = None  # True: only contacts created by a search (the search history)
    lists: Sequence[int] | None = None
    created: Sequence[tuple[str, datetime]] = ()  # (operator, moment), operator in "=", ">", "<", ">=", "<="
    order_by: str = "-created"  # any contact field, "-" prefix for descending
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.order_by.removeprefix("-") not in ORDER_FIELDS:
            raise InvalidFilter("order_by", f"must be one of {', '.join(ORDER_FIELDS)}, optionally prefixed by -")
        if self.page < 1:
            raise InvalidFilter("page", "must be 1 or more")
        if (self.page - 1) * self.per_page > MAX_OFFSET:
            raise InvalidFilter("page", "is past the last row there can be")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidFilter("per_page", f"must be between 1 and {MAX_PER_PAGE}")
        for operator, moment in self.created:
            if operator not in OPERATORS or moment.tzinfo is None:
                raise InvalidFilter("created", "needs an operator (= > < >= <=) and a timezone-aware moment")


def filter_text(field: str, value: str) -> str:
    """A text filter, stripped; control characters and more than 1000 characters are refused."""
    value = value.strip()
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidFilter(field, "must not contain control characters")
    if len(value) > 1000:
        raise InvalidFilter(field, "is too long")
    return value


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(column: Any, value: str) -> ColumnElement[bool]:
    return column.ilike(_like(value), escape="\\")


def _company_named(value: str) -> ColumnElement[bool]:
    """The company name given with the contact, or the facts of its company: linked at creation, or,
    for a contact known only by its domain, learned later for that domain (a crawl after the search)."""
    named = _contains(m.Company.name, value)
    return or_(
        _contains(m.Contact.company_name, value),
        m.Contact.company_id.in_(select(m.Company.id).where(named)),
        and_(
            m.Contact.company_id.is_(None),
            m.Contact.company_name.is_(None),
            m.Contact.domain.in_(select(m.Company.domain).where(named)),
        ),
    )


def _conditions(org_id: int, filters: ContactFilters) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [m.Contact.org_id == org_id, m.Contact.deleted.is_(False)]
    if filters.ids is not None:
        where.append(m.Contact.id.in_(list(filters.ids)))
    if filters.query:
        where.append(
            or_(
                _contains(m.Contact.name, filters.query),
                _contains(m.Contact.email, filters.query),
                _contains(m.Contact.domain, filters.query),
                _company_named(filters.query),
            )
        )
    if filters.name:
        where.append(_contains(m.Contact.name, filters.name))
    if filters.email:
        where.append(_contains(m.Contact.email, filters.email))
    if filters.company:
        where.append(_company_named(filters.company))
    if filters.domain:
        where.append(m.Contact.domain == filters.domain.lower())
    if filters.status is not None:
        where.append(m.Contact.status == ContactStatus(filters.status).value)
    if filters.verdict is not None:
        where.append(m.Contact.verdict == filters.verdict)
    if filters.found is not None:
        where.append(m.Contact.email.is_not(None) if filters.found else m.Contact.email.is_(None))
    if filters.history is not None:
        where.append((m.Contact.source == "search") if filters.history else (m.Contact.source != "search"))
    if filters.lists is not None:
        in_lists = (
            select(m.ListMember.contact_id)
            .join(m.ContactList, m.ContactList.id == m.ListMember.list_id)
            .where(m.ContactList.org_id == org_id, m.ListMember.list_id.in_(list(filters.lists)))
        )
        where.append(m.Contact.id.in_(in_lists))
    for operator, moment in filters.created:
        column = m.Contact.created_at
        where.append(
            {
                "=": column == moment,
                ">": column > moment,
                "<": column < moment,
                ">=": column >= moment,
                "<=": column <= moment,
            }[operator]
        )
    return where


def _loaded() -> Select[tuple[m.Contact]]:
    return select(m.Contact).options(
        joinedload(m.Contact.owner),
        joinedload(m.Contact.company),
        joinedload(m.Contact.domain_company),
        selectinload(m.Contact.memberships),
    )


def _company(row: m.Contact) -> m.Company | None:
    """The company linked at creation; for a contact known only by its domain, that domain's facts
    (the same rule as the `company` filter)."""
    if row.company is not None or row.company_name is not None:
        return row.company
    return row.domain_company


def _record(row: m.Contact) -> Contact:
    return _contact(
        row,
        user_record(row.owner) if row.owner else None,
        company_record(company) if (company := _company(row)) else None,
        (member.list_id for member in row.memberships),
    )


def _contact(row: Any, owner: User | None, company: Company | None, list_ids: Iterable[int]) -> Contact:
    """The record from anything with the contact's columns as attributes (an ORM object or a row)."""
    return Contact(
        id=row.id,
        org_id=row.org_id,
        owner=owner,
        name=row.name,
        first_name=row.first_name,
        last_name=row.last_name,
        domain=row.domain,
        company_name=row.company_name,
        company=company,
        email=row.email,
        score=row.score,
        verdict=row.verdict,
        status=ContactStatus(row.status),
        searching=row.searching,
        deleted=row.deleted,
        source=row.source,
        title=row.title,
        linkedin_id=row.linkedin_id,
        phone=row.phone,
        location=row.location,
        webhook=row.webhook,
        evidence=row.evidence,
        job_id=row.job_id,
        list_ids=tuple(sorted(list_ids)),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _labelled(table: Any, prefix: str) -> list[Any]:
    return [column.label(prefix + column.name) for column in table.c]


def _unprefixed(row: Any, table: Any, prefix: str) -> SimpleNamespace | None:
    if getattr(row, prefix + "id") is None:
        return None
    return SimpleNamespace(**{column.name: getattr(row, prefix + column.name) for column in table.c})


# A contact with its owner, company and list ids in ONE statement, built once: polling clients
# (`GET /contacts/{id}`, job status) read a contact per request.
_ONE_CONTACT = (
    select(
        *m.Contact.__table__.c,
        *_labelled(m.User.__table__, "owner__"),
        *_labelled(m.Company.__table__, "company__"),
        select(func.aggregate_strings(cast(m.ListMember.list_id, String), ","))
        .where(m.ListMember.contact_id == m.Contact.id)
        .scalar_subquery()
        .label("list_ids"),
    )
    .outerjoin_from(m.Contact, m.User, m.User.id == m.Contact.owner_id)
    .outerjoin(m.Company, m.Company.id == m.Contact.company_id)
    .where(
        m.Contact.id == bindparam("contact_id"),
        m.Contact.org_id == bindparam("org_id"),
        m.Contact.deleted.is_(False),
    )
)


def _one_contact_record(row: Any) -> Contact:
    owner = _unprefixed(row, m.User.__table__, "owner__")
    company = _unprefixed(row, m.Company.__table__, "company__")
    return _contact(
        row,
        user_record(owner) if owner else None,  # type: ignore[arg-type]
        company_record(company) if company else None,  # type: ignore[arg-type]
        (int(part) for part in (row.list_ids or "").split(",") if part),
    )


def name_key(name: str) -> str:
    """The form names are compared in: case- and whitespace-insensitive."""
    return " ".join(name.split()).casefold()


def _clean(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Validate contact fields: known names, bounded text without control characters, valid status."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise TypeError(f"unknown contact fields: {', '.join(sorted(unknown))}")
    clean: dict[str, Any] = {}
    for key, value in changes.items():
        if key in TEXT_FIELDS and value is not None:
            value = str(value).strip()
            if len(value) > TEXT_FIELDS[key]:
                raise ValueError(f"{key} is longer than {TEXT_FIELDS[key]} characters")
            if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise ValueError(f"{key} must not contain control characters")
            if key in ("domain", "email"):
                value = value.lower()
        if key == "status":
            value = ContactStatus(str(value).upper()).value
        clean[key] = value
    if "name" in clean:
        if not clean["name"]:
            raise ValueError("name must not be empty")
        clean["name_key"] = name_key(clean["name"])
    return clean


@functools.cache
def _org_of(table: Table) -> Select[tuple[int]]:
    return select(table.c.org_id).where(table.c.id == bindparam("row_id"))


async def belongs(session: AsyncSession, model: Any, org_id: int, row_id: int) -> bool:
    """Whether row `row_id` of `model` (a tenant table) is the organisation's: one indexed read with a
    statement built once, no ORM object loaded. Writes inside the transaction every other writer
    waits for (opening searches) keep to such statements: building one costs more than running it."""
    return await session.scalar(_org_of(model.__table__), {"row_id": row_id}) == org_id


async def _check_refs(session: AsyncSession, org_id: int, fields: Mapping[str, Any]) -> None:
    """Foreign keys that must stay inside the organisation (companies are global knowledge)."""
    for key, model, what in (("owner_id", m.User, "user"), ("job_id", m.Job, "job")):
        row_id = fields.get(key)
        if row_id is not None and not await belongs(session, model, org_id, row_id):
            raise NotFound(f"{what} {row_id} not found")


async def _owned_list(session: AsyncSession, org_id: int, list_id: int) -> m.ContactList | None:
    row = await session.get(m.ContactList, list_id)
    return row if row is not None and row.org_id == org_id else None


async def _get(session: AsyncSession, org_id: int, contact_id: int) -> m.Contact | None:
    query = _loaded().where(m.Contact.id == contact_id, m.Contact.org_id == org_id, m.Contact.deleted.is_(False))
    return await session.scalar(query.execution_options(populate_existing=True))


# --- contacts ----------------------------------------------------------------------------------


async def create_contact(
    db: Database,
    org_id: int,
    *,
    name: str,
    owner_id: int | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    domain: str | None = None,
    company_name: str | None = None,
    company_id: int | None = None,
    email: str | None = None,
    score: int | None = None,
    verdict: str | None = None,
    status: ContactStatus | str = ContactStatus.LEAD,
    searching: bool = False,
    source: str = "search",
    title: str | None = None,
    linkedin_id: str | None = None,
    phone: str | None = None,
    location: str | None = None,
    webhook: str | None = None,
    evidence: dict[str, Any] | None = None,
    job_id: int | None = None,
    list_ids: Sequence[int] = (),
) -> Contact:
    """Create a contact (optionally in lists of the same organisation). Raises NotFound for a foreign list."""
    given = dict(locals())
    fields = {key: value for key, value in given.items() if key in UPDATABLE}
    async with db.write() as session:
        contact_id = await new_contact(session, org_id, fields, list_ids)
    return await _committed(db, org_id, contact_id)


async def new_contact(
    session: AsyncSession, org_id: int, fields: Mapping[str, Any], list_ids: Sequence[int] = ()
) -> int:
    """Add a contact with `fields` (create_contact's keywords) inside the caller's write transaction
    and return its id; its additions to `list_ids` are recorded in its history as done by its owner.
    Raises NotFound for a foreign list, user or job. Statements only, no ORM flush: searches open
    contacts inside the transaction every writer waits for."""
    fields = _clean(fields)
    await _check_refs(session, org_id, fields)
    lists = []
    for list_id in dict.fromkeys(list_ids):
        item = await _owned_list(session, org_id, list_id)
        if item is None:
            raise NotFound(f"list {list_id} not found")
        lists.append(item)
    contact_id: int = await session.scalar(_INSERT_CONTACT, {"org_id": org_id, **fields})
    if lists:
        now = utcnow()
        members = [{"list_id": item.id, "contact_id": contact_id, "added_at": now} for item in lists]
        await session.execute(insert(m.ListMember.__table__), members)
        owner_id = fields.get("owner_id")
        added = (list_events(org_id, EventKind.LIST_ADDED, [contact_id], item, owner_id) for item in lists)
        await record(session, [line for lines in added for line in lines])
    return contact_id


async def _committed(db: Database, org_id: int, contact_id: int) -> Contact:
    """The record of a contact just written, read after the commit with one statement: outside the
    write transaction, which every other writer waits for."""
    found = await get_contact(db, org_id, contact_id)
    if found is None:
        raise NotFound(f"contact {contact_id} was deleted meanwhile")
    return found


async def get_contact(db: Database, org_id: int, contact_id: int) -> Contact | None:
    """The contact, or None when missing, deleted or owned by another organisation."""
    row = await db.read_one(_ONE_CONTACT, {"contact_id": contact_id, "org_id": org_id})
    return _one_contact_record(row) if row else None


async def update_contact(
    db: Database, org_id: int, contact_id: int, *, actor_id: int | None = None, **changes: Any
) -> Contact | None:
    """Change fields (any create_contact keyword except list_ids). None when not found in the org.

    A status change is recorded in the contact's history as done by the user `actor_id`.
    """
    fields = _clean(changes)
    async with db.write() as session:
        live = m.Contact.id == contact_id, m.Contact.org_id == org_id, m.Contact.deleted.is_(False)
        row = await session.scalar(select(m.Contact).where(*live))  # its relations are read after the commit
        if row is None:
            return None
        await _check_refs(session, org_id, fields)
        if "status" in fields and fields["status"] != row.status:
            change = {"from": row.status, "to": fields["status"]}
            await record(session, [event(org_id, EventKind.STATUS, contact_id=row.id, user_id=actor_id, detail=change)])
        for key, value in fields.items():
            setattr(row, key, value)
    return await _committed(db, org_id, contact_id)


async def mark_searching(session: AsyncSession, contact_id: int, *, job_id: int, webhook: str | None) -> None:
    """The contact is being searched by `job_id` (now its latest job) for a caller with `webhook`:
    one statement in the caller's transaction (a change that leaves no history line)."""
    fields = _clean({"webhook": webhook})
    await session.execute(_MARK_SEARCHING, {"contact_id": contact_id, "job_id": job_id, **fields})


async def delete_contact(db: Database, org_id: int, contact_id: int) -> bool:
    """Soft delete; a later search for the same person is charged again."""
    async with db.write() as session:
        row = await _get(session, org_id, contact_id)
        if row is None:
            return False
        row.deleted = True
        row.deleted_at = utcnow()
        return True


async def find_existing_contact(db: Database, org_id: int, name: str, domain: str) -> Contact | None:
    """The newest non-deleted contact with this name (case/space-insensitive) at this domain."""
    async with db.read() as session:
        row = await session.scalar(_NEWEST_NAMED_LOADED, _named(org_id, name, domain))
        return _record(row) if row else None


async def existing_contact(session: AsyncSession, org_id: int, name: str, domain: str) -> Any | None:
    """`find_existing_contact` inside the caller's transaction: its `id`, `email`, `searching` and
    `job_id` only, as a row (what deciding whether to search again needs)."""
    return (await session.execute(_NEWEST_NAMED, _named(org_id, name, domain))).first()


def _named(org_id: int, name: str, domain: str) -> dict[str, Any]:
    """The parameters of `_NEWEST_NAMED` and `_NEWEST_NAMED_LOADED`."""
    return {"org_id": org_id, "domain": domain.strip().lower(), "name_key": name_key(name)}


# Statements built once: the search-opening write (`store.jobs.open_search`) runs them inside the
# transaction every other writer waits for, and building one costs more than running it.
_CONTACTS = m.Contact.__table__
_NAMED_HERE = (  # the organisation's live contacts with the name at the domain, newest first
    _CONTACTS.c.org_id == bindparam("org_id"),
    _CONTACTS.c.deleted.is_(False),
    _CONTACTS.c.domain == bindparam("domain"),
    _CONTACTS.c.name_key == bindparam("name_key"),
)
_NEWEST_NAMED = (
    select(_CONTACTS.c.id, _CONTACTS.c.email, _CONTACTS.c.searching, _CONTACTS.c.job_id)
    .where(*_NAMED_HERE)
    .order_by(_CONTACTS.c.id.desc())
    .limit(1)
)
_NEWEST_NAMED_LOADED = _loaded().where(*_NAMED_HERE).order_by(_CONTACTS.c.id.desc()).limit(1)
_INSERT_CONTACT = insert(_CONTACTS).returning(_CONTACTS.c.id)
_MARK_SEARCHING = (
    update(_CONTACTS)
    .where(_CONTACTS.c.id == bindparam("contact_id"))
    .values(searching=True, job_id=bindparam("job_id"), webhook=bindparam("webhook"))
)


async def query_contacts(db: Database, org_id: int, filters: ContactFilters | None = None) -> ContactPage:
    """One page of the organisation's contacts matching the filters."""
    filters = filters or ContactFilters()
    where = _conditions(org_id, filters)
    descending = filters.order_by.startswith("-")
    column = ORDER_FIELDS[filters.order_by.removeprefix("-")]
    order = [column.desc().nulls_last(), m.Contact.id.desc()] if descending else [column.asc().nulls_last(), m.Contact.id]
    async with db.read() as session:
        total = int(await session.scalar(select(func.count()).select_from(m.Contact).where(*where)) or 0)
        query = _loaded().where(*where).order_by(*order)
        rows = await session.scalars(query.offset((filters.page - 1) * filters.per_page).limit(filters.per_page))
        return ContactPage([_record(row) for row in rows], total, filters.page, filters.per_page)


# --- lists -------------------------------------------------------------------------------------


def _list_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise ValueError("name must not be empty")
    if len(name) > 300 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ValueError("name must be at most 300 characters without control characters")
    return name


def _member_count() -> Any:
    return (
        select(func.count())
        .select_from(m.ListMember)
        .join(m.Contact, m.Contact.id == m.ListMember.contact_id)
        .where(m.ListMember.list_id == m.ContactList.id, m.Contact.deleted.is_(False))
        .correlate(m.ContactList)
        .scalar_subquery()
    )


async def _list_records(session: AsyncSession, *where: ColumnElement[bool], order: Sequence[Any] = ()) -> list[ContactList]:
    count = _member_count().label("contacts")
    rows = await session.execute(select(m.ContactList, count).where(*where).order_by(*order, m.ContactList.id))
    return [ContactList(row.id, row.org_id, row.name, int(contacts), row.created_at) for row, contacts in rows]


async def _list_record(session: AsyncSession, org_id: int, list_id: int) -> ContactList | None:
    found = await _list_records(session, m.ContactList.id == list_id, m.ContactList.org_id == org_id)
    return found[0] if found else None


async def create_list(db: Database, org_id: int, name: str) -> ContactList:
    name = _list_name(name)
    async with db.write() as session:
        if await session.get(m.Organization, org_id) is None:
            raise NotFound(f"organisation {org_id} not found")
        row = m.ContactList(org_id=org_id, name=name)
        session.add(row)
        await session.flush()
        return ContactList(row.id, org_id, row.name, 0, row.created_at)


async def get_list(db: Database, org_id: int, list_id: int) -> ContactList | None:
    async with db.read() as session:
        return await _list_record(session, org_id, list_id)


async def query_lists(
    db: Database, org_id: int, *, name: str | None = None, order_by: str = "-created"
) -> list[ContactList]:
    """Lists whose name contains `name`, ordered by id, name, created or contacts ("-" for DESC)."""
    field = order_by.removeprefix("-")
    if field not in LIST_ORDER_FIELDS:
        raise InvalidFilter("order_by", f"must be one of {', '.join(LIST_ORDER_FIELDS)}, optionally prefixed by -")
    column = {"id": m.ContactList.id, "name": m.ContactList.name, "created": m.ContactList.created_at}.get(
        field, _member_count()
    )
    where = [m.ContactList.org_id == org_id]
    if name:
        where.append(_contains(m.ContactList.name, filter_text("name", name)))
    async with db.read() as session:
        return await _list_records(session, *where, order=[column.desc() if order_by.startswith("-") else column])


async def update_list(db: Database, org_id: int, list_id: int, *, name: str) -> ContactList | None:
    name = _list_name(name)
    async with db.write() as session:
        row = await _owned_list(session, org_id, list_id)
        if row is None:
            return None
        row.name = name
        await session.flush()
        return await _list_record(session, org_id, list_id)


async def delete_list(db: Database, org_id: int, list_id: int, *, actor_id: int | None = None) -> bool:
    """Delete a list (its contacts stay, their history says the list was deleted)."""
    async with db.write() as session:
        item = await _owned_list(session, org_id, list_id)
        if item is None:
            return False
        members = await session.scalars(select(m.ListMember.contact_id).where(m.ListMember.list_id == list_id))
        await record(
            session, list_events(org_id, EventKind.LIST_REMOVED, members, item, actor_id, reason="list deleted")
        )
        await session.execute(delete(m.ListMember).where(m.ListMember.list_id == list_id))
        await session.execute(delete(m.ContactList).where(m.ContactList.id == list_id))
        return True


async def _add_members(
    session: AsyncSession, item: m.ContactList, candidates: Select[Any], actor_id: int | None
) -> None:
    already = select(m.ListMember.contact_id).where(m.ListMember.list_id == item.id)
    new_ids = list(await session.scalars(candidates.where(m.Contact.id.not_in(already))))
    if new_ids:
        now = utcnow()
        await session.execute(
            insert(m.ListMember), [{"list_id": item.id, "contact_id": cid, "added_at": now} for cid in new_ids]
        )
        await record(session, list_events(item.org_id, EventKind.LIST_ADDED, new_ids, item, actor_id))


async def add_to_list(
    db: Database, org_id: int, list_id: int, contact_ids: Iterable[int], *, actor_id: int | None = None
) -> ContactList | None:
    """Add contacts (other organisations' ids are ignored); idempotent. None when the list is not found.
    Each contact's history records the addition by the user `actor_id`."""
    async with db.write() as session:
        if not await add_to_list_in(session, org_id, list_id, contact_ids, actor_id=actor_id):
            return None
        return await _list_record(session, org_id, list_id)


async def add_to_list_in(
    session: AsyncSession, org_id: int, list_id: int, contact_ids: Iterable[int], *, actor_id: int | None = None
) -> bool:
    """`add_to_list` inside the caller's write transaction; False when the list is not found."""
    item = await _owned_list(session, org_id, list_id)
    if item is None:
        return False
    ids = list(dict.fromkeys(contact_ids))
    owned = select(m.Contact.id).where(m.Contact.org_id == org_id, m.Contact.deleted.is_(False), m.Contact.id.in_(ids))
    await _add_members(session, item, owned, actor_id)
    return True


async def add_matching_to_list(
    db: Database, org_id: int, list_id: int, filters: ContactFilters, *, actor_id: int | None = None
) -> ContactList | None:
    """VoilaNorbert `POST /lists/{id}`: add every contact matched by a contacts query (all pages)."""
    async with db.write() as session:
        item = await _owned_list(session, org_id, list_id)
        if item is None:
            return None
        await _add_members(session, item, select(m.Contact.id).where(*_conditions(org_id, filters)), actor_id)
        return await _list_record(session, org_id, list_id)


async def remove_from_list(
    db: Database, org_id: int, list_id: int, contact_ids: Iterable[int], *, actor_id: int | None = None
) -> ContactList | None:
    async with db.write() as session:
        item = await _owned_list(session, org_id, list_id)
        if item is None:
            return None
        wanted = m.ListMember.contact_id.in_(list(contact_ids))
        members = await session.scalars(select(m.ListMember.contact_id).where(m.ListMember.list_id == list_id, wanted))
        await record(session, list_events(org_id, EventKind.LIST_REMOVED, members, item, actor_id))
        await session.execute(delete(m.ListMember).where(m.ListMember.list_id == list_id, wanted))
        return await _list_record(session, org_id, list_id)
