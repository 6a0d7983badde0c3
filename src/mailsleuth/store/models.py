"""Tables. Types stay portable between SQLite and PostgreSQL: JSON, 64-bit ids, UTC timestamps.

Tenant tables carry `org_id`; knowledge tables (companies, conventions, domain state) describe the
outside world and are shared by every organisation.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from mailsleuth.store.records import utcnow

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware in Python, UTC in the database (SQLite has no time zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a timezone-aware value")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


def _fk(target: str, ondelete: str = "CASCADE") -> ForeignKey:
    return ForeignKey(target, ondelete=ondelete)


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    plan: Mapped[str] = mapped_column(String(64), default="free")
    webhook_secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "email"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), index=True)
    user_id: Mapped[int] = mapped_column(Id, _fk("users.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the whole key
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditEntry(Base):
    """The credit ledger: every grant (+) and charge (-), never updated or deleted."""

    __tablename__ = "credit_ledger"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "reference"),
        CheckConstraint("kind IN ('search', 'verify', 'enrich')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    delta: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), default="")
    reference: Mapped[str | None] = mapped_column(String(200))  # idempotency: one charge per reference
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CreditBalance(Base):
    """Running totals of the ledger, updated in the same transaction, so a charge is O(1)."""

    __tablename__ = "credit_balances"
    __table_args__ = (
        CheckConstraint("remaining >= 0", name="not_negative"),
        CheckConstraint("kind IN ('search', 'verify', 'enrich')", name="kind"),
    )

    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    used: Mapped[int] = mapped_column(BigInteger, default=0)


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    name: Mapped[str | None] = mapped_column(String(300))
    title: Mapped[str | None] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    logo: Mapped[str | None] = mapped_column(String(2048))
    url: Mapped[str | None] = mapped_column(String(2048))
    facts_fetched_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_org_lookup", "org_id", "domain", "name_key"),
        Index("ix_contacts_org_created", "org_id", "created_at"),
        Index("ix_contacts_org_linkedin", "org_id", "linkedin_id"),  # Kaspr profile look-ups (migration 0003)
        CheckConstraint("status IN ('LEAD', 'CONTACTED', 'WON', 'LOST')", name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"))
    owner_id: Mapped[int | None] = mapped_column(Id, _fk("users.id", "SET NULL"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    name_key: Mapped[str] = mapped_column(String(300))  # casefolded, whitespace-collapsed name
    first_name: Mapped[str | None] = mapped_column(String(150))
    last_name: Mapped[str | None] = mapped_column(String(150))
    domain: Mapped[str | None] = mapped_column(String(253))
    company_name: Mapped[str | None] = mapped_column(String(300))  # as the user gave it
    company_id: Mapped[int | None] = mapped_column(Id, _fk("companies.id", "SET NULL"), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    score: Mapped[int | None] = mapped_column(Integer)
    verdict: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="LEAD")
    searching: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(String(32), default="search")  # search, bulk, import, crawl
    title: Mapped[str | None] = mapped_column(String(300))
    linkedin_id: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(64))
    location: Mapped[str | None] = mapped_column(String(300))
    webhook: Mapped[str | None] = mapped_column(String(2048))
    evidence: Mapped[dict[str, Any] | None]
    # The bulk job that produced the contact; no foreign key because jobs.contact_id points back here.
    job_id: Mapped[int | None] = mapped_column(Id, index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User | None] = relationship(lazy="raise")
    company: Mapped[Company | None] = relationship(lazy="raise")
    # the facts known for the contact's domain, also when learned after the contact was made
    domain_company: Mapped[Company | None] = relationship(
        primaryjoin="foreign(Contact.domain) == Company.domain", viewonly=True, uselist=False, lazy="raise"
    )
    memberships: Mapped[list[ListMember]] = relationship(lazy="raise", viewonly=True)


class ContactList(Base):
    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ListMember(Base):
    __tablename__ = "list_members"

    list_id: Mapped[int] = mapped_column(Id, _fk("lists.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(Id, _fk("contacts.id"), primary_key=True, index=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactEvent(Base):
    """One line of a contact's history (migration 0005): a status or list change, a find, or a
    verification of an address. Verifications belong to the address (`contact_id` NULL), so every
    contact with that address shows them, also one made after the check."""

    __tablename__ = "contact_events"
    __table_args__ = (
        Index("ix_contact_events_contact", "contact_id", "created_at"),
        Index("ix_contact_events_address", "org_id", "address", "created_at"),
        CheckConstraint(
            "kind IN ('status', 'list_added', 'list_removed', 'search', 'verification')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"))
    contact_id: Mapped[int | None] = mapped_column(Id, _fk("contacts.id"))
    address: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(Id, _fk("users.id", "SET NULL"))  # who did it
    job_id: Mapped[int | None] = mapped_column(Id)  # the search or bulk job; jobs stay as tombstones
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Job(Base):
    """A unit the user asked for: a single search, or a bulk job with its job_rows (finds, uploads)."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_org_kind_created", "org_id", "kind", "created_at"),
        Index("ix_jobs_due", "status", "next_attempt_at"),
        CheckConstraint(
            "status IN ('QUEUED', 'PROCESSING', 'PAUSED', 'CANCELLED', 'ENDED')", name="status"
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"))
    user_id: Mapped[int | None] = mapped_column(Id, _fk("users.id", "SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # search, find_file, find_batch, verify, enrich
    status: Mapped[str] = mapped_column(String(16), default="QUEUED")
    token: Mapped[str | None] = mapped_column(String(64), unique=True)  # public id where a dialect wants one
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    treated: Mapped[int] = mapped_column(Integer, default=0)
    success: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    webhook: Mapped[str | None] = mapped_column(String(2048))
    result: Mapped[dict[str, Any] | None]
    error: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(Id, _fk("contacts.id", "SET NULL"), index=True)
    list_id: Mapped[int | None] = mapped_column(Id, _fk("lists.id", "SET NULL"))
    rerun_frequency_hours: Mapped[int | None] = mapped_column(Integer)
    next_run_at: Mapped[datetime | None]
    retention_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # Bulk jobs (migration 0002): verdict counters, rerun and retention bookkeeping, upload facts.
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deliverables: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    risky: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    bounces: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rerun_lasttime: Mapped[datetime | None]
    retention_hours: Mapped[int | None] = mapped_column(Integer)
    filename: Mapped[str | None] = mapped_column(String(500))
    columns: Mapped[list[Any] | None]
    slice_rows: Mapped[int | None] = mapped_column(Integer)
    notified_at: Mapped[datetime | None]  # completion webhooks written to the outbox
    purged_at: Mapped[datetime | None]  # rows deleted after the retention time: downloads answer 410
    deleted_at: Mapped[datetime | None]  # a deleted bulk job stays as a tombstone: ids are never reused


class JobSlice(Base):
    """A work unit on the queue: `slice_rows` consecutive rows of a bulk job (migration 0002).

    PENDING: not announced yet; SENT: announced (a run may hold its lease); DONE: every row final.
    `due_at` is when a slice whose rows wait (greylisting) must be announced again.
    """

    __tablename__ = "job_slices"
    __table_args__ = (
        Index("ix_job_slices_due", "status", "due_at"),
        CheckConstraint("status IN ('PENDING', 'SENT', 'DONE')", name="status"),
    )

    job_id: Mapped[int] = mapped_column(Id, _fk("jobs.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="PENDING")
    sent_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]


class Lease(Base):
    """A named lease (the reconciler's leadership): whoever holds an unexpired row leads (migration 0002)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[datetime]


class JobRow(Base):
    """One input row of a bulk job, claimed with a lease so a crashed worker's rows are re-sent."""

    __tablename__ = "job_rows"
    __table_args__ = (
        UniqueConstraint("job_id", "position"),
        Index("ix_job_rows_claim", "job_id", "status", "next_attempt_at"),
        Index("ix_job_rows_domain", "job_id", "domain"),
        CheckConstraint("status IN ('QUEUED', 'PROCESSING', 'ENDED', 'FAILED')", name="status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    job_id: Mapped[int] = mapped_column(Id, _fk("jobs.id"))
    position: Mapped[int] = mapped_column(Integer)  # the row's index in the input
    input: Mapped[dict[str, Any]]
    domain: Mapped[str | None] = mapped_column(String(253))  # groups rows that share a mail host
    status: Mapped[str] = mapped_column(String(16), default="QUEUED")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """The webhook outbox: written in the transaction that decides to notify, delivered later."""

    __tablename__ = "webhook_outbox"
    __table_args__ = (Index("ix_webhook_outbox_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    org_id: Mapped[int] = mapped_column(Id, _fk("organizations.id"), index=True)
    job_id: Mapped[int | None] = mapped_column(Id, _fk("jobs.id", "SET NULL"), index=True)
    target: Mapped[str] = mapped_column(String(2048))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    next_attempt_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_status: Mapped[int | None] = mapped_column(Integer)
    history: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DomainConvention(Base):
    __tablename__ = "domain_conventions"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    data: Mapped[dict[str, Any]]  # mailsleuth.engine.patterns.Convention.to_dict()
    evidence: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DomainStateRow(Base):
    __tablename__ = "domain_states"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    mx_hosts: Mapped[list[Any]] = mapped_column(default=list)
    route_status: Mapped[str | None] = mapped_column(String(16))
    catch_all: Mapped[bool | None] = mapped_column(Boolean)
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    ttl_seconds: Mapped[int] = mapped_column(Integer, default=3600)


# --- domain intelligence (migration 0003): what company websites say, global like companies -------


class DomainCrawl(Base):
    """When a domain's website was last crawled, so crawls are cached with a TTL."""

    __tablename__ = "domain_crawls"

    domain: Mapped[str] = mapped_column(String(253), primary_key=True)
    crawled_at: Mapped[datetime]
    pages: Mapped[int] = mapped_column(Integer, default=0)  # pages read (in full or in part)
    addresses: Mapped[int] = mapped_column(Integer, default=0)  # addresses on them (people and roles)
    error: Mapped[str | None] = mapped_column(String(64))  # why the homepage yielded nothing (crawl.Skip)


class WebAddress(Base):
    """An address seen on its company's own website, with the name printed next to it."""

    __tablename__ = "web_addresses"
    __table_args__ = (Index("ix_web_addresses_domain", "domain", "role"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    address: Mapped[str] = mapped_column(String(320), unique=True)
    domain: Mapped[str] = mapped_column(String(253))  # the crawled domain (the address may be at a subdomain)
    role: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str | None] = mapped_column(String(300))
    verdict: Mapped[str | None] = mapped_column(String(16))  # what verifying it said, when it was verified
    verified_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSource(Base):
    """A page an address was seen on (Hunter's source object), kept after it disappears."""

    __tablename__ = "web_sources"
    __table_args__ = (UniqueConstraint("address_id", "uri"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    address_id: Mapped[int] = mapped_column(Id, _fk("web_addresses.id"))
    uri: Mapped[str] = mapped_column(String(2048))
    extracted_on: Mapped[datetime]
    last_seen_on: Mapped[datetime]
    still_on_page: Mapped[bool] = mapped_column(Boolean, default=True)


class LearnedAddress(Base):
    """Addresses a domain's stored convention has learned from, so none is counted twice."""

    __tablename__ = "learned_addresses"
    __table_args__ = (Index("ix_learned_addresses_domain", "domain", "source"),)

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    domain: Mapped[str] = mapped_column(String(253))
    source: Mapped[str] = mapped_column(String(16))  # crawl, search
    owner: Mapped[str | None] = mapped_column(String(256))  # whose address a verified find showed it is
    learned_at: Mapped[datetime] = mapped_column(default=utcnow)
