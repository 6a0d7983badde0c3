"""A contact's history: status and list changes, finds, and verifications of its address.

Events are written by the store functions that make the change, in the same transaction, so every
route of every dialect (and the bulk engine) records them without knowing about them. A
verification belongs to the address, not to one contact: every contact of the organisation with
that address shows it, including a contact made after the check.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mailsleuth.store import models as m
from mailsleuth.store.db import Database
from mailsleuth.store.records import ContactEvent, EventKind, utcnow

MAX_HISTORY = 500


def event(
    org_id: int,
    kind: EventKind,
    *,
    contact_id: int | None = None,
    address: str | None = None,
    user_id: int | None = None,
    job_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One event row, every column given (bulk inserts of rows with the same keys batch together)."""
    return {
        "org_id": org_id,
        "contact_id": contact_id,
        "address": address.strip().lower() if address else None,
        "kind": EventKind(kind).value,
        "user_id": user_id,
        "job_id": job_id,
        "detail": dict(detail or {}),
        "created_at": at or utcnow(),
    }


async def record(session: AsyncSession, events: Iterable[Mapping[str, Any]]) -> None:
    """Write events in the caller's transaction (one statement for any number)."""
    await session.run_sync(record_now, events)


def record_now(session: Session, events: Iterable[Mapping[str, Any]]) -> None:
    """`record` in a synchronous transaction (`Database.write_at_once`)."""
    rows = list(events)
    if rows:
        session.execute(_INSERT_EVENT, rows)


_INSERT_EVENT = insert(m.ContactEvent.__table__)  # rows with every column given (`event`): no ORM work


def list_events(
    org_id: int, kind: EventKind, contact_ids: Iterable[int], item: m.ContactList, user_id: int | None, **extra: Any
) -> list[dict[str, Any]]:
    """A list-membership event for each contact: the list's id and its name at the time."""
    detail = {"list_id": item.id, "list": item.name, **extra}
    return [event(org_id, kind, contact_id=cid, user_id=user_id, detail=detail) for cid in contact_ids]


def outcome_detail(result: Mapping[str, Any] | None, error: str | None) -> dict[str, Any]:
    """What a find or a verification concluded, in the few words a history line shows."""
    if error:
        return {"error": error}
    if result is None:
        return {}
    if result.get("insufficient_credits"):
        return {"error": "insufficient credits"}
    keys = ("email", "verdict", "score", "reason")
    return {key: result[key] for key in keys if result.get(key) is not None}


def _record(row: Any) -> ContactEvent:
    return ContactEvent(
        id=row.id,
        kind=EventKind(row.kind),
        contact_id=row.contact_id,
        address=row.address,
        user_id=row.user_id,
        user_email=row.user_email,
        user_name=row.user_name,
        job_id=row.job_id,
        detail=dict(row.detail or {}),
        created_at=row.created_at,
    )


async def contact_history(
    db: Database, org_id: int, contact_id: int, *, limit: int = MAX_HISTORY
) -> list[ContactEvent] | None:
    """The contact's events, newest first: its own and its address's verifications. None when the
    contact is missing, deleted or another organisation's."""
    async with db.read() as session:
        contact = await session.get(m.Contact, contact_id)
        if contact is None or contact.org_id != org_id or contact.deleted:
            return None
        mine = m.ContactEvent.contact_id == contact_id
        if contact.email:
            mine = or_(mine, and_(m.ContactEvent.contact_id.is_(None), m.ContactEvent.address == contact.email))
        query = (
            select(*m.ContactEvent.__table__.c, m.User.email.label("user_email"), m.User.name.label("user_name"))
            .outerjoin(m.User, m.User.id == m.ContactEvent.user_id)
            .where(m.ContactEvent.org_id == org_id, mine)
            .order_by(m.ContactEvent.created_at.desc(), m.ContactEvent.id.desc())
            .limit(limit)
        )
        return [_record(row) for row in await session.execute(query)]
