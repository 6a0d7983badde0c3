"""Searches and jobs.

A single search is a job of kind "search" with quantity 1, usually linked to the contact it fills in.
Its completion is one write transaction: the contact gets its address, the job ends, and the credit is
charged with the reference `contact:<id>` (or `search:<id>` without a contact), so a retried
completion or a repeated search of the same contact never pays twice. The network work (DNS, SMTP)
happens before, outside any transaction.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from mailsleuth.store import models as m
from mailsleuth.store.accounts import ChargeResult, charge_in, remaining_in
from mailsleuth.store.contacts import (
    add_to_list_in,
    belongs,
    existing_contact,
    get_contact,
    mark_searching,
    new_contact,
)
from mailsleuth.store.db import Database
from mailsleuth.store.errors import NotFound
from mailsleuth.store.events import event, outcome_detail, record
from mailsleuth.store.knowledge import company_at
from mailsleuth.store.records import Contact, CreditKind, EventKind, JobStatus, Search, SearchOutcome, utcnow


def _record(row: Any) -> Search:
    """From anything with the job's columns as attributes (an ORM object or a row)."""
    return Search(
        id=row.id,
        org_id=row.org_id,
        user_id=row.user_id,
        kind=row.kind,
        status=JobStatus(row.status),
        quantity=row.quantity,
        treated=row.treated,
        success=row.success,
        options=dict(row.options or {}),
        webhook=row.webhook,
        result=row.result,
        contact_id=row.contact_id,
        list_id=row.list_id,
        token=row.token,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        ended_at=row.ended_at,
    )


async def create_search(
    db: Database,
    org_id: int,
    *,
    user_id: int | None = None,
    kind: str = "search",
    contact_id: int | None = None,
    list_id: int | None = None,
    options: dict[str, Any] | None = None,
    webhook: str | None = None,
    quantity: int = 1,
    token: str | None = None,
) -> Search:
    """Record a queued search/job with a public token (random unless given).

    Raises NotFound when the user, contact or list is not in the organisation.
    """
    async with db.write() as session:
        for model, row_id in ((m.User, user_id), (m.Contact, contact_id), (m.ContactList, list_id)):
            if row_id is not None and not await belongs(session, model, org_id, row_id):
                raise NotFound(f"{model.__tablename__} {row_id} not found")
        return await _new_job(
            session, org_id, user_id=user_id, kind=kind, contact_id=contact_id, list_id=list_id,
            options=options, webhook=webhook, quantity=quantity, token=token,
        )


async def _new_job(
    session: AsyncSession,
    org_id: int,
    *,
    user_id: int | None,
    kind: str,
    contact_id: int | None,
    list_id: int | None,
    options: dict[str, Any] | None,
    webhook: str | None,
    quantity: int,
    token: str | None,
) -> Search:
    """Insert a queued job whose references the caller has checked: one statement."""
    values = {"org_id": org_id, "user_id": user_id, "kind": kind, "status": JobStatus.QUEUED.value,
              "token": token or secrets.token_hex(16), "quantity": quantity, "options": dict(options or {}),
              "webhook": webhook, "contact_id": contact_id, "list_id": list_id}
    return _record((await session.execute(_INSERT_JOB, values)).one())


class OpenRefusal(enum.Enum):
    """Why `open_search` started nothing."""

    NO_LIST = "no_list"  # the list named is not the organisation's
    NO_CREDITS = "no_credits"  # nothing left to pay a find with


@dataclass(frozen=True)
class SearchOpening:
    """What `open_search` decided and wrote, in one transaction."""

    contact: Contact | None  # the person's contact (None only when refused for the list)
    search: Search | None  # the job started; None when the contact is answered as it is, or refused
    refused: OpenRefusal | None = None


async def open_search(
    db: Database,
    org_id: int,
    *,
    user_id: int | None,
    name: str,
    domain: str,
    first_name: str | None = None,
    last_name: str | None = None,
    list_id: int | None = None,
    webhook: str | None = None,
    source: str = "search",
    options: dict[str, Any],
    same_terms: Callable[[dict[str, Any]], bool],
) -> SearchOpening:
    """Record a search of `name` at `domain` as ONE write transaction: the contact (found again by
    name, or new, linked to the company known at the domain), the queued job, and the contact's link
    to it; on SQLite every write waits its turn behind the others, so a request makes one, not five,
    and shares it with the searches opened at the same moment (`Database.write_together`).

    The person's newest contact is answered as it is when already found or being searched and
    `same_terms(options of its latest job)` (True without a job). Otherwise the organisation needs a
    search credit (refused NO_CREDITS, after the contact was still added to `list_id`)."""
    contact_id, search, refused = await db.write_together(lambda session: _open(
        session, org_id, user_id=user_id, name=name, domain=domain, first_name=first_name, last_name=last_name,
        list_id=list_id, webhook=webhook, source=source, options=options, same_terms=same_terms,
    ))
    found = await get_contact(db, org_id, contact_id) if contact_id is not None else None  # after the commit
    return SearchOpening(found, search, refused)


async def _open(
    session: AsyncSession,
    org_id: int,
    *,
    user_id: int | None,
    name: str,
    domain: str,
    first_name: str | None,
    last_name: str | None,
    list_id: int | None,
    webhook: str | None,
    source: str,
    options: dict[str, Any],
    same_terms: Callable[[dict[str, Any]], bool],
) -> tuple[int | None, Search | None, OpenRefusal | None]:
    if list_id is not None and not await belongs(session, m.ContactList, org_id, list_id):
        return None, None, OpenRefusal.NO_LIST
    contact = await existing_contact(session, org_id, name, domain)
    if contact is not None:
        if list_id is not None:
            await add_to_list_in(session, org_id, list_id, [contact.id], actor_id=user_id)
        if contact.email or contact.searching:
            latest = await _job_of(session, org_id, contact.job_id) if contact.job_id is not None else None
            if latest is None or same_terms(latest.options):
                return contact.id, None, None  # already found (free) or already being searched
    if await remaining_in(session, org_id, CreditKind.SEARCH) <= 0:
        return contact.id if contact is not None else None, None, OpenRefusal.NO_CREDITS
    if contact is not None:
        contact_id = contact.id
    else:
        company = await company_at(session, domain)  # what is known about the company (global facts)
        fields = {"name": name, "owner_id": user_id, "first_name": first_name, "last_name": last_name,
                  "domain": domain, "company_id": company.id if company else None,
                  "company_name": company.name if company else None, "source": source}
        contact_id = await new_contact(session, org_id, fields, (list_id,) if list_id is not None else ())
    job = await _new_job(
        session, org_id, user_id=user_id, kind="search", contact_id=contact_id, list_id=list_id,
        options=options, webhook=webhook, quantity=1, token=None,
    )
    await mark_searching(session, contact_id, job_id=job.id, webhook=webhook)  # its latest job
    return contact_id, job, None


# Statements of the searches' writes (open, start, complete), built once: building one costs more than running it.
_JOBS = m.Job.__table__
_INSERT_JOB = insert(_JOBS).returning(*_JOBS.c)
_JOB_OF_ORG = select(_JOBS).where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.org_id == bindparam("org_id"))
_SET_JOB = update(_JOBS).where(_JOBS.c.id == bindparam("job_id")).returning(*_JOBS.c)  # SET: the parameters given
_START = (
    update(_JOBS)
    .where(_JOBS.c.id == bindparam("job_id"), _JOBS.c.org_id == bindparam("of_org"),
           _JOBS.c.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value]))
    .values(status=JobStatus.PROCESSING.value, attempts=_JOBS.c.attempts + 1,
            started_at=func.coalesce(_JOBS.c.started_at, bindparam("now", type_=_JOBS.c.started_at.type)))
    .returning(*_JOBS.c)
)
_CONTACTS = m.Contact.__table__
_LIVE_CONTACT = select(_CONTACTS.c.id).where(
    _CONTACTS.c.id == bindparam("contact_id"), _CONTACTS.c.org_id == bindparam("org_id"), _CONTACTS.c.deleted.is_(False)
)
_SET_CONTACT = update(_CONTACTS).where(_CONTACTS.c.id == bindparam("contact_id"))  # SET: the parameters given


# A job with its contact's address in ONE statement, built once: polling clients read it per request.
_ONE_SEARCH = (
    select(*m.Job.__table__.c, m.Contact.email.label("contact_email"))
    .outerjoin_from(
        m.Job,
        m.Contact,
        and_(m.Contact.id == m.Job.contact_id, m.Contact.org_id == m.Job.org_id, m.Contact.deleted.is_(False)),
    )
    .where(m.Job.id == bindparam("search_id"), m.Job.org_id == bindparam("org_id"))
)


async def get_search(db: Database, org_id: int, search_id: int) -> Search | None:
    found = await search_and_address(db, org_id, search_id)
    return found[0] if found else None


async def search_and_address(db: Database, org_id: int, search_id: int) -> tuple[Search, str | None] | None:
    """The search and its contact's address (None without a live contact or address) in one read."""
    row = await db.read_one(_ONE_SEARCH, {"search_id": search_id, "org_id": org_id})
    return (_record(row), row.contact_email) if row else None


async def get_search_by_token(db: Database, org_id: int, token: str) -> Search | None:
    """Look a job up by its public token (dialects that expose tokens instead of ids)."""
    async with db.read() as session:
        row = await session.scalar(select(m.Job).where(m.Job.token == token, m.Job.org_id == org_id))
        return _record(row) if row else None


async def unfinished_searches(db: Database, *, kind: str = "search", limit: int = 100) -> list[Search]:
    """Queued or processing jobs of every organisation, oldest first: re-run them after a restart."""
    active = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)
    async with db.read() as session:
        query = select(m.Job).where(m.Job.kind == kind, m.Job.status.in_(active)).order_by(m.Job.id).limit(limit)
        return [_record(row) for row in await session.scalars(query)]


async def start_search(db: Database, org_id: int, search_id: int) -> Search | None:
    """QUEUED -> PROCESSING, counting the attempt. None when not found; other states are left alone."""

    async def start(session: AsyncSession) -> Search | None:
        row = (await session.execute(_START, {"job_id": search_id, "of_org": org_id, "now": utcnow()})).first()
        return _record(row) if row is not None else await _job_of(session, org_id, search_id)

    return await db.write_together(start)


async def _end(
    session: AsyncSession, job: Search, *, result: dict[str, Any] | None, error: str | None, success: bool
) -> Search:
    ended = {"status": JobStatus.ENDED.value, "treated": max(job.treated, 1), "success": int(success),
             "result": result, "error": error, "ended_at": utcnow(), "lease_owner": None, "lease_expires_at": None}
    return _record((await session.execute(_SET_JOB, {"job_id": job.id, **ended})).one())


async def complete_search(
    db: Database,
    org_id: int,
    search_id: int,
    *,
    email: str | None,
    score: int | None = None,
    verdict: str | None = None,
    evidence: dict[str, Any] | None = None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    charge: bool = True,
) -> SearchOutcome:
    """Finish a search: fill its contact, charge 1 search credit when an address was found (and
    ``charge``: False for an answer the caller's terms do not count as found), end the job.

    When the organisation cannot pay, the address is withheld (contact email stays None, the job's result
    says so) rather than given away. Idempotent: completing an ended search changes and charges nothing.
    Raises NotFound. Statements only (each built once): completions share the writer with requests.
    """

    async def complete(session: AsyncSession) -> tuple[Search, ChargeResult, bool, int | None]:
        nonlocal email, score, verdict, result
        job = await _job_of(session, org_id, search_id)
        if job is None:
            raise NotFound(f"search {search_id} not found")
        if job.status is JobStatus.ENDED:
            return job, ChargeResult.ALREADY, False, None
        live = {"contact_id": job.contact_id, "org_id": org_id}
        contact_id = await session.scalar(_LIVE_CONTACT, live) if job.contact_id is not None else None
        outcome = ChargeResult.ALREADY
        if email is not None and charge:
            reference = f"contact:{contact_id}" if contact_id is not None else f"search:{job.id}"
            outcome = await charge_in(session, org_id, CreditKind.SEARCH, 1, reference)
        withheld = outcome is ChargeResult.INSUFFICIENT
        if withheld:
            email = score = verdict = None
            result = {**(result or {}), "insufficient_credits": True}
        if contact_id is not None:
            address = email.lower() if email else None
            filled = {"email": address, "score": score, "verdict": verdict, "searching": False}
            await session.execute(_SET_CONTACT, {"contact_id": contact_id, **filled,
                                                 **({"evidence": evidence} if evidence is not None else {})})
            found = {"email": address, "verdict": verdict, "score": score, "insufficient_credits": withheld,
                     "reason": (result or {}).get("reason")}
            await record(session, [event(org_id, EventKind.SEARCH, contact_id=contact_id, address=address,
                                         user_id=job.user_id, job_id=job.id, detail=outcome_detail(found, error))])
        ended = await _end(session, job, result=result, error=error, success=email is not None)
        return ended, outcome, withheld, contact_id

    search, outcome, withheld, contact_id = await db.write_together(complete)
    found = await get_contact(db, org_id, contact_id) if contact_id is not None else None
    return SearchOutcome(search, found, charged=outcome is ChargeResult.CHARGED, insufficient_credits=withheld)


async def _job_of(session: AsyncSession, org_id: int, job_id: int) -> Search | None:
    row = (await session.execute(_JOB_OF_ORG, {"job_id": job_id, "org_id": org_id})).first()
    return _record(row) if row is not None else None


async def finish_job(
    db: Database,
    org_id: int,
    job_id: int,
    *,
    result: dict[str, Any] | None,
    error: str | None = None,
    charge_kind: CreditKind | str | None = None,
    charge_reference: str | None = None,
    verified: str | None = None,
) -> Search:
    """End a single job that fills no contact (e.g. an asynchronous verification) with its result.

    `verified`: the address the job checked, whose contacts' histories then show the verification.

    With `charge_kind`, 1 credit of that kind is charged in the same transaction, once per
    `charge_reference` (default `job:<id>`); when the organisation cannot pay, the result is withheld
    and replaced by `{"insufficient_credits": true}`. Idempotent: an ended job is returned unchanged.
    Raises NotFound.
    """
    async with db.write() as session:
        job = await _job_of(session, org_id, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        if job.status is JobStatus.ENDED:
            return job
        if charge_kind is not None:
            reference = charge_reference or f"job:{job.id}"
            if await charge_in(session, org_id, CreditKind(charge_kind), 1, reference) is ChargeResult.INSUFFICIENT:
                result, error = {"insufficient_credits": True}, error or "insufficient credits"
        if verified:
            detail = outcome_detail(result, error)
            detail.pop("email", None)
            await record(session, [event(org_id, EventKind.VERIFICATION, address=verified, user_id=job.user_id,
                                         job_id=job.id, detail=detail)])
        return await _end(session, job, result=result, error=error, success=result is not None and error is None)
