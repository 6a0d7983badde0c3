"""A contact's history in the native API (`GET /v1/contacts/{id}/history`).

What the store recorded as it happened, newest first: status changes, list additions and removals,
finds for the contact and verifications of its address, each with when and by whom. Events are
written by whichever dialect or job made the change, so the history is the same whatever the route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from pydantic import BaseModel, Field

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.api.params import PathId
from mailsleuth.service.errors import NotFound
from mailsleuth.store import ContactEvent, ContactStatus, EventKind, Principal, to_ms

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]


class Actor(BaseModel):
    """The user who made the change."""

    id: int
    email: str
    name: str


class HistoryEvent(BaseModel):
    """One event; the fields that do not apply to its kind are null."""

    id: int
    kind: EventKind = Field(description="status, list_added, list_removed, search or verification")
    at: int = Field(description="when, in ms since the epoch")
    by: Actor | None = Field(description="who; null for the system (a scheduled re-run) or a deleted user")
    address: str | None = Field(description="the address a search found or a verification checked")
    job_id: int | None = Field(description="the search, verification or bulk job")
    status_from: ContactStatus | None = None
    status_to: ContactStatus | None = None
    list_id: int | None = None
    list_name: str | None = Field(None, description="the list's name at the time")
    reason: str | None = Field(None, description="why (e.g. the list was deleted, or the verifier's reason)")
    verdict: str | None = None
    score: int | None = None
    error: str | None = Field(None, description="why a search or verification has no verdict")


class History(BaseModel):
    contact_id: int
    results: list[HistoryEvent] = Field(description="newest first")


def event_json(event: ContactEvent) -> HistoryEvent:
    detail = event.detail
    by = None
    if event.user_id is not None and event.user_email is not None:
        by = Actor(id=event.user_id, email=event.user_email, name=event.user_name or "")
    return HistoryEvent(
        id=event.id,
        kind=event.kind,
        at=to_ms(event.created_at),
        by=by,
        address=event.address,
        job_id=event.job_id,
        status_from=detail.get("from"),
        status_to=detail.get("to"),
        list_id=detail.get("list_id"),
        list_name=detail.get("list"),
        reason=detail.get("reason"),
        verdict=detail.get("verdict"),
        score=detail.get("score"),
        error=detail.get("error"),
    )


@router.get("/contacts/{contact_id}/history", summary="A contact's history, newest first", response_model=History)
async def contact_history(contact_id: PathId, request: Request, principal: Caller) -> History:
    """Status changes, list changes, finds for the contact and verifications of its address (also
    those made before the contact existed), each with when and by whom; at most 500 events."""
    events = await store.contact_history(services(request).db, principal.org_id, contact_id)
    if events is None:
        raise NotFound("No such contact.")
    return History(contact_id=contact_id, results=[event_json(event) for event in events])
