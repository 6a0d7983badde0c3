"""Plain, immutable views of stored rows.

Public store functions return these instead of ORM objects so nothing outside the store can trigger
lazy loads on a closed session or hold a transaction open by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any


class CreditKind(StrEnum):
    SEARCH = "search"
    VERIFY = "verify"
    ENRICH = "enrich"


class ContactStatus(StrEnum):
    LEAD = "LEAD"
    CONTACTED = "CONTACTED"
    WON = "WON"
    LOST = "LOST"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    ENDED = "ENDED"


class RowStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    ENDED = "ENDED"
    FAILED = "FAILED"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch, the VoilaNorbert timestamp format."""
    return int(moment.timestamp() * 1000)


def to_ms_or_none(moment: datetime | None) -> int | None:
    """`to_ms` for timestamps that may not have happened yet (ended, paid, last rerun)."""
    return None if moment is None else to_ms(moment)


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    plan: str
    webhook_secret: str
    created_at: datetime


@dataclass(frozen=True)
class User:
    id: int
    org_id: int
    email: str
    name: str
    admin: bool
    language: str
    created_at: datetime


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key as it can be shown again: the identifying prefix, never the secret."""

    id: int
    org_id: int
    user_id: int
    prefix: str
    revoked: bool
    created_at: datetime


@dataclass(frozen=True)
class Principal:
    """Who is calling: the result of authenticating an API key."""

    org_id: int
    user_id: int
    key_id: int
    user_email: str
    user_name: str
    org_name: str
    admin: bool


@dataclass(frozen=True)
class Balance:
    kind: CreditKind
    remaining: int
    total: int  # everything ever added
    used: int  # everything ever charged


@dataclass(frozen=True)
class Company:
    id: int
    domain: str
    name: str | None
    title: str | None
    description: str | None
    keywords: list[str]
    logo: str | None
    url: str | None
    facts_fetched_at: datetime | None


@dataclass(frozen=True)
class Contact:
    id: int
    org_id: int
    owner: User | None
    name: str
    first_name: str | None
    last_name: str | None
    domain: str | None
    company_name: str | None
    company: Company | None
    email: str | None
    score: int | None
    verdict: str | None
    status: ContactStatus
    searching: bool
    deleted: bool
    source: str
    title: str | None
    linkedin_id: str | None
    phone: str | None
    location: str | None
    webhook: str | None
    evidence: dict[str, Any] | None
    job_id: int | None
    list_ids: tuple[int, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ContactPage:
    """One page of a contacts query, with the paging fields VoilaNorbert reports."""

    items: list[Contact]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class ContactList:
    id: int
    org_id: int
    name: str
    contacts: int  # number of (non-deleted) members
    created_at: datetime


class EventKind(StrEnum):
    """What a line of a contact's history says happened."""

    STATUS = "status"  # detail: from, to
    LIST_ADDED = "list_added"  # detail: list_id, list (its name then)
    LIST_REMOVED = "list_removed"  # detail: list_id, list, and reason "list deleted" when it was
    SEARCH = "search"  # a find for the contact; detail: email, verdict, score, or error
    VERIFICATION = "verification"  # a check of the contact's address; detail: verdict, score, reason, or error


@dataclass(frozen=True)
class ContactEvent:
    """One line of a contact's history, with who did it (None: the system, or a deleted user)."""

    id: int
    kind: EventKind
    contact_id: int | None
    address: str | None
    user_id: int | None
    user_email: str | None
    user_name: str | None
    job_id: int | None
    detail: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Search:
    """A job: one single search, or a bulk job (a find over a file or a batch, an upload)."""

    id: int
    org_id: int
    user_id: int | None
    kind: str
    status: JobStatus
    quantity: int
    treated: int
    success: int
    options: dict[str, Any]
    webhook: str | None
    result: dict[str, Any] | None
    contact_id: int | None
    list_id: int | None
    token: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class SearchOutcome:
    """What complete_search did, so the caller can answer and notify without re-reading."""

    search: Search
    contact: Contact | None
    charged: bool  # a credit was taken by this call
    insufficient_credits: bool  # an address was found but the organisation could not pay for it


@dataclass(frozen=True)
class DomainState:
    domain: str
    mx_hosts: list[Any]
    route_status: str | None
    catch_all: bool | None
    checked_at: datetime
    ttl_seconds: int

    @property
    def expires_at(self) -> datetime:
        return self.checked_at + timedelta(seconds=self.ttl_seconds)


@dataclass(frozen=True)
class Webhook:
    id: int
    org_id: int
    job_id: int | None
    target: str
    body: str
    headers: dict[str, str]
    idempotency_key: str
    attempts: int
    max_attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status: int | None
    history: list[dict[str, Any]] = field(default_factory=list)
