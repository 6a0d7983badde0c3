"""The bulk-job ledger: jobs, their rows and slices, leases, and row completion.

Rows are inserted in batches (executemany) in short write transactions. A slice run leases rows
(PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the single `BEGIN IMMEDIATE` writer), does its network
work outside any transaction, then completes a batch in ONE transaction: results, counters, credits
and contacts. Only rows still leased to the caller are completed, so a row is counted and charged at
most once whatever the queue delivers twice. Slices are announced a few at a time (a window), and
the reconciler (`resend_slices`) re-announces slices whose lease expired or whose rows became due.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from mailsleuth.store import models as m
from mailsleuth.store.accounts import ChargeResult
from mailsleuth.store.contacts import name_key
from mailsleuth.store.db import Database
from mailsleuth.store.errors import NotFound
from mailsleuth.store.events import event, list_events, outcome_detail, record_now
from mailsleuth.store.records import CreditKind, EventKind, JobStatus, RowStatus, utcnow

BULK_KINDS = ("find_file", "find_batch", "verify", "enrich")
"""The stored kinds of bulk jobs (`mailsleuth.jobs.bulk.JobKind`; renamed neutral by migration 0006)."""
CONTACT_SOURCE = "bulk"
"""The stored source of contacts a bulk find filed."""
ACTIVE = (JobStatus.QUEUED.value, JobStatus.PROCESSING.value)
PAGE = 1000
NO_SYNC = {"synchronize_session": False}  # bulk statements: no ORM objects of these rows are loaded


class RowState(StrEnum):
    """What a slice run decided about a row it processed."""

    DONE = "done"  # final result (counted, charged)
    FAILED = "failed"  # final error (counted as failed, not charged)
    RETRY = "retry"  # back to the ledger until `retry_at` (greylisted, transient error)


@dataclass(frozen=True)
class Job:
    id: int
    org_id: int
    user_id: int | None
    kind: str
    status: JobStatus
    token: str | None
    quantity: int
    treated: int  # rows with a final result or error
    success: int  # rows with an address found (find_file, find_batch) or a definitive verdict (verify, enrich)
    failed: int
    deliverables: int
    risky: int
    bounces: int
    options: dict[str, Any]
    webhook: str | None
    filename: str | None
    columns: list[str] | None
    list_id: int | None
    rerun_frequency: int | None  # hours
    rerun_lasttime: datetime | None
    retention_hours: int | None
    retention_until: datetime | None
    error: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    notified_at: datetime | None
    purged_at: datetime | None

    @property
    def progress(self) -> float:
        return self.treated / self.quantity if self.quantity else 0.0


@dataclass(frozen=True)
class ClaimedRow:
    position: int
    input: dict[str, Any]
    attempts: int  # including this claim


@dataclass(frozen=True)
class FoundContact:
    """A found address to file as a contact of the job's organisation (find jobs)."""

    name: str
    first_name: str | None
    last_name: str | None
    domain: str
    company_name: str | None
    score: int | None
    verdict: str
    evidence: dict[str, Any] | None


@dataclass(frozen=True)
class RowOutcome:
    position: int
    state: RowState
    result: dict[str, Any] = field(default_factory=dict)
    verdict: str | None = None  # deliverable / risky / undeliverable / unknown
    success: bool = False
    retry_at: datetime | None = None
    charge: bool = False  # take one credit of the job's kind (reference job:<id>:row:<position>)
    contact: FoundContact | None = None  # charged as contact:<id> instead


@dataclass(frozen=True)
class Completed:
    """What one completion transaction did."""

    done: int  # rows made final now
    retried: int
    skipped: int  # rows no longer leased to the caller (already done, re-leased, reset): untouched
    charged: int


def _record(row: Any) -> Job:
    """From anything with the job's columns as attributes (an ORM object or a row)."""
    return Job(
        id=row.id,
        org_id=row.org_id,
        user_id=row.user_id,
        kind=row.kind,
        status=JobStatus(row.status),
        token=row.token,
        quantity=row.quantity,
        treated=row.treated,
        success=row.success,
        failed=row.failed,
        deliverables=row.deliverables,
        risky=row.risky,
        bounces=row.bounces,
        options=dict(row.options or {}),
        webhook=row.webhook,
        filename=row.filename,
        columns=list(row.columns) if row.columns is not None else None,
        list_id=row.list_id,
        rerun_frequency=row.rerun_frequency_hours,
        rerun_lasttime=row.rerun_lasttime,
        retention_hours=row.retention_hours,
        retention_until=row.retention_until,
        error=row.error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        ended_at=row.ended_at,
        notified_at=row.notified_at,
        purged_at=row.purged_at,
    )


LIVE = and_(m.Job.kind.in_(BULK_KINDS), m.Job.deleted_at.is_(None))  # bulk jobs that were not deleted


def _is_live(row: m.Job) -> bool:
    return row.kind in BULK_KINDS and row.deleted_at is None


async def _owned_job(session: AsyncSession, org_id: int, job_id: int, *, lock: bool = False) -> m.Job | None:
    row = await session.get(m.Job, job_id, with_for_update=lock)
    return row if row is not None and row.org_id == org_id and _is_live(row) else None


async def _locked(session: AsyncSession, db: Database, model: Any, key: Any) -> Any:
    """Get a row for update: PostgreSQL locks it (concurrent finishers of one job queue up behind each
    other); SQLite needs nothing, its single writer already serialises every write transaction."""
    return await session.get(model, key, with_for_update=not db.is_sqlite)


async def _end_if_finished(session: AsyncSession, job: m.Job, now: datetime) -> bool:
    """End an active job none of whose slices is open; True when it ended now."""
    if job.status not in (*ACTIVE, JobStatus.PAUSED.value):
        return False
    open_slices = await session.scalar(
        select(func.count()).where(m.JobSlice.job_id == job.id, m.JobSlice.status != "DONE")
    )
    if open_slices:
        return False
    job.status, job.ended_at = JobStatus.ENDED.value, now
    if job.retention_hours is not None:
        job.retention_until = now + timedelta(hours=job.retention_hours)
    return True


def _slice_of(job: m.Job, number: int) -> tuple[int, int]:
    size = job.slice_rows or 500
    return number * size, (number + 1) * size


# --- creating jobs -----------------------------------------------------------------------------


async def create_job(
    db: Database,
    org_id: int,
    *,
    user_id: int | None,
    kind: str,
    token: str,
    options: dict[str, Any],
    webhook: str | None,
    filename: str | None,
    columns: list[str] | None,
    list_id: int | None,
    rerun_frequency: int | None,
    retention_hours: int | None,
    slice_rows: int,
) -> Job:
    """Record a job that is still being uploaded: CANCELLED until `seal_job`, so a crash mid-upload
    leaves no job that runs half its rows."""
    if kind not in BULK_KINDS:
        raise ValueError(f"not a bulk job kind: {kind!r}")
    async with db.write() as session:
        row = m.Job(
            org_id=org_id,
            user_id=user_id,
            kind=kind,
            status=JobStatus.CANCELLED.value,
            error="upload incomplete",
            token=token,
            options=options,
            webhook=webhook,
            filename=filename,
            columns=columns,
            list_id=list_id,
            rerun_frequency_hours=rerun_frequency,
            retention_hours=retention_hours,
            slice_rows=slice_rows,
        )
        session.add(row)
        await session.flush()
        return _record(row)


async def add_rows(
    db: Database, job_id: int, first_position: int, rows: Sequence[tuple[dict[str, Any], str | None]]
) -> None:
    """Insert (input, domain) rows at consecutive positions, in one short transaction (run whole in a
    thread on SQLite: a thousand rows would hold up the event loop that answers requests)."""
    if not rows:
        return
    now = utcnow()
    values = [
        {
            "job_id": job_id,
            "position": first_position + offset,
            "input": row_input,
            "domain": domain,
            "status": RowStatus.QUEUED.value,
            "attempts": 0,
            "updated_at": now,
        }
        for offset, (row_input, domain) in enumerate(rows)
    ]
    await db.write_at_once(lambda session: session.execute(insert(m.JobRow), values))


async def seal_job(
    db: Database, job_id: int, *, quantity: int, list_id: int | None, window: int
) -> tuple[Job, list[int]]:
    """The upload is complete: create the slices, queue the job, and mark the first `window` slices
    sent. Returns the job and the slice numbers to announce."""
    now = utcnow()
    async with db.write() as session:
        job = await session.get(m.Job, job_id)
        if job is None:
            raise NotFound(f"job {job_id} not found")
        size = job.slice_rows or 500
        count = -(-quantity // size)
        await session.execute(
            insert(m.JobSlice),
            [
                {
                    "job_id": job_id,
                    "number": n,
                    "status": "SENT" if n < window else "PENDING",
                    "sent_at": now if n < window else None,
                }
                for n in range(count)
            ],
        )
        job.quantity, job.list_id, job.status, job.error = quantity, list_id, JobStatus.QUEUED.value, None
        await session.flush()
        return _record(job), list(range(min(window, count)))


# --- reading -----------------------------------------------------------------------------------


async def load_job(db: Database, job_id: int) -> Job | None:
    """Any organisation's bulk job: for workers, which receive nothing but ids."""
    async with db.read() as session:
        row = await session.get(m.Job, job_id)
        return _record(row) if row is not None and _is_live(row) else None


# Polling clients read a job per request: one statement each, built once.
_ONE_JOB = select(*m.Job.__table__.c).where(m.Job.org_id == bindparam("org_id"), LIVE)
_ONE_JOB_BY_ID = _ONE_JOB.where(m.Job.id == bindparam("job_id"))
_ONE_JOB_BY_TOKEN = _ONE_JOB.where(m.Job.token == bindparam("token"))


async def get_job(db: Database, org_id: int, *, job_id: int | None = None, token: str | None = None) -> Job | None:
    if (job_id is None) == (token is None):
        raise ValueError("give exactly one of job_id and token")
    key = {"job_id": job_id} if job_id is not None else {"token": token}
    row = await db.read_one(_ONE_JOB_BY_ID if job_id is not None else _ONE_JOB_BY_TOKEN, {**key, "org_id": org_id})
    return _record(row) if row is not None else None


async def list_jobs(
    db: Database, org_id: int | None, kind: str | None, *, offset: int = 0, limit: int = 100
) -> list[Job]:
    """Newest first; org_id None lists every organisation's (the admin CLI)."""
    query = select(m.Job).where(m.Job.kind.in_([kind] if kind else BULK_KINDS), m.Job.deleted_at.is_(None))
    if org_id is not None:
        query = query.where(m.Job.org_id == org_id)
    query = query.order_by(m.Job.id.desc()).offset(max(0, offset)).limit(max(0, limit))
    async with db.read() as session:
        return [_record(row) for row in await session.scalars(query)]


async def iter_rows(db: Database, org_id: int, job_id: int) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(input, result or {}) in position order, one page per short read. Raises NotFound."""
    async with db.read() as session:
        if await _owned_job(session, org_id, job_id) is None:
            raise NotFound(f"job {job_id} not found")
    after = -1
    while True:
        query = (
            select(m.JobRow.position, m.JobRow.input, m.JobRow.result)
            .where(m.JobRow.job_id == job_id, m.JobRow.position > after)
            .order_by(m.JobRow.position)
            .limit(PAGE)
        )
        async with db.read() as session:
            page = (await session.execute(query)).all()
        for _, row_input, result in page:
            yield dict(row_input or {}), dict(result or {})
        if len(page) < PAGE:
            return
        after = page[-1][0]


# --- status changes ------------------------------------------------------------------------------


async def set_status(db: Database, org_id: int, job_id: int, status: JobStatus) -> Job | None:
    """Pause (active -> PAUSED), resume (PAUSED -> PROCESSING) or cancel (not ENDED -> CANCELLED).

    Other transitions leave the job as it is (an ended job cannot be paused). None when not found.
    """
    allowed = {
        JobStatus.PAUSED: ACTIVE,
        JobStatus.PROCESSING: (JobStatus.PAUSED.value,),
        JobStatus.CANCELLED: (*ACTIVE, JobStatus.PAUSED.value),
    }[status]
    async with db.write() as session:
        job = await _owned_job(session, org_id, job_id, lock=not db.is_sqlite)
        if job is None:
            return None
        if job.status in allowed:
            job.status = status.value
            if status is JobStatus.PROCESSING:
                job.error = None
                await _end_if_finished(session, job, utcnow())  # every row finished while it was paused
            if status is JobStatus.CANCELLED:
                job.ended_at = utcnow()
            await session.flush()
        return _record(job)


async def set_rerun(db: Database, org_id: int, job_id: int, hours: int | None) -> Job | None:
    async with db.write() as session:
        job = await _owned_job(session, org_id, job_id)
        if job is None:
            return None
        job.rerun_frequency_hours = hours
        await session.flush()
        return _record(job)


async def delete_job(db: Database, org_id: int, job_id: int, *, recursive: bool = False) -> bool:
    """Delete the job's rows and slices (in batches); `recursive` also its list and that list's
    contacts (soft-deleted, like every contact deletion). The job itself stays as a tombstone that
    no query returns: SQLite would otherwise hand its id to the next job, and ids appear in credit
    references, webhook idempotency keys and clients' records."""
    async with db.write() as session:
        job = await _owned_job(session, org_id, job_id)
        if job is None:
            return False
        list_id = job.list_id
        job.status, job.deleted_at = JobStatus.CANCELLED.value, utcnow()  # no run claims anything now
    await _delete_rows(db, job_id)
    async with db.write() as session:
        if recursive and list_id is not None:
            members = select(m.ListMember.contact_id).where(m.ListMember.list_id == list_id)
            await session.execute(
                update(m.Contact)
                .where(m.Contact.org_id == org_id, m.Contact.id.in_(members))
                .values(deleted=True, deleted_at=utcnow())
            )
            await session.execute(delete(m.ListMember).where(m.ListMember.list_id == list_id))
            await session.execute(
                delete(m.ContactList).where(m.ContactList.id == list_id, m.ContactList.org_id == org_id)
            )
        await session.execute(delete(m.JobSlice).where(m.JobSlice.job_id == job_id))
    return True


async def _delete_rows(db: Database, job_id: int, batch: int = 5000) -> None:
    """Delete a job's rows a batch per transaction, so other writers get a turn."""
    while True:
        async with db.write() as session:
            ids = select(m.JobRow.id).where(m.JobRow.job_id == job_id).limit(batch)
            result = await session.execute(delete(m.JobRow).where(m.JobRow.id.in_(ids)))
        if result.rowcount < batch:
            return


# --- slice runs ------------------------------------------------------------------------------------


async def lease_slice(db: Database, job_id: int, number: int, owner: str, *, lease_seconds: float) -> bool:
    """Take the slice for one run; False when another run holds it, it is done, or the job is not
    active (so a duplicate message does nothing)."""
    now = utcnow()
    async with db.write() as session:
        job = await session.get(m.Job, job_id)
        part = await _locked(session, db, m.JobSlice, (job_id, number))
        if job is None or part is None or job.status not in ACTIVE or part.status == "DONE":
            return False
        if part.lease_owner is not None and part.lease_expires_at is not None and part.lease_expires_at > now:
            return False  # a run holds it, possibly of this very process: a duplicate delivery does nothing
        part.status, part.lease_owner = "SENT", owner
        part.lease_expires_at = now + timedelta(seconds=lease_seconds)
        await session.execute(  # conditional, so a concurrent pause or cancel is never overwritten
            update(m.Job)
            .where(m.Job.id == job_id, m.Job.status == JobStatus.QUEUED.value)
            .values(status=JobStatus.PROCESSING.value, started_at=func.coalesce(m.Job.started_at, now))
        )
        return True


async def claim_rows(
    db: Database,
    job_id: int,
    number: int,
    owner: str,
    *,
    limit: int,
    lease_seconds: float,
    credit_kind: CreditKind,
    now: datetime | None = None,
) -> list[ClaimedRow]:
    """Lease up to `limit` due rows of the slice to `owner`, renewing the slice lease.

    Returns [] when the job is no longer active (paused, cancelled) or the slice is not the caller's,
    and pauses the job (error "insufficient credits") when its credit balance is empty.
    """
    now = now or utcnow()
    expires = now + timedelta(seconds=lease_seconds)
    for_update = not db.is_sqlite

    def claim(session: Session) -> list[ClaimedRow]:
        job = session.get(m.Job, job_id)
        part = session.get(m.JobSlice, (job_id, number))
        if job is None or part is None or job.status not in ACTIVE or part.lease_owner != owner:
            return []
        remaining = session.scalar(
            select(m.CreditBalance.remaining).where(
                m.CreditBalance.org_id == job.org_id, m.CreditBalance.kind == credit_kind.value
            )
        )
        if not remaining:
            session.execute(
                update(m.Job)
                .where(m.Job.id == job_id, m.Job.status.in_(ACTIVE))
                .values(status=JobStatus.PAUSED.value, error="insufficient credits")
            )
            return []
        payable = min(limit, int(remaining))  # never start more rows than can be paid for
        first, end = _slice_of(job, number)
        query = (
            select(m.JobRow.id, m.JobRow.position, m.JobRow.input, m.JobRow.attempts)
            .where(
                m.JobRow.job_id == job_id,
                m.JobRow.position >= first,
                m.JobRow.position < end,
                or_(
                    and_(
                        m.JobRow.status == RowStatus.QUEUED.value,
                        or_(m.JobRow.next_attempt_at.is_(None), m.JobRow.next_attempt_at <= now),
                    ),
                    and_(m.JobRow.status == RowStatus.PROCESSING.value, m.JobRow.lease_expires_at <= now),
                ),
            )
            .order_by(m.JobRow.position)
            .limit(payable)
        )
        if for_update:
            query = query.with_for_update(skip_locked=True)
        rows = session.execute(query).all()
        if rows:
            session.execute(
                update(m.JobRow),
                [
                    {
                        "id": row.id,
                        "status": RowStatus.PROCESSING.value,
                        "lease_owner": owner,
                        "lease_expires_at": expires,
                        "attempts": row.attempts + 1,
                        "updated_at": now,
                    }
                    for row in rows
                ],
                execution_options=NO_SYNC,
            )
        part.lease_expires_at = expires
        return [ClaimedRow(row.position, dict(row.input or {}), row.attempts + 1) for row in rows]

    return await db.write_at_once(claim)


async def complete_rows(
    db: Database, job_id: int, owner: str, outcomes: Sequence[RowOutcome], *, credit_kind: CreditKind
) -> Completed:
    """Write a batch of outcomes, counters, charges and contacts in one transaction.

    Rows not leased to `owner` any more are skipped whole: that is what makes a re-sent slice, a
    stale run or a replayed batch harmless. A row whose credit cannot be paid keeps no result: it
    fails with "insufficient credits" (the address is withheld, as for single searches).
    """
    now = utcnow()

    def complete(session: Session) -> Completed:
        job = session.get(m.Job, job_id)
        if job is None:
            return Completed(0, 0, len(outcomes), 0)
        by_position = {o.position: o for o in outcomes}
        leased = (
            session.execute(
                select(m.JobRow.id, m.JobRow.position)
                .where(
                    m.JobRow.job_id == job_id,
                    m.JobRow.position.in_(list(by_position)),
                    m.JobRow.status == RowStatus.PROCESSING.value,
                    m.JobRow.lease_owner == owner,
                )
                .order_by(m.JobRow.position)
            )
        ).all()
        finals = [
            (row, by_position[row.position]) for row in leased if by_position[row.position].state is not RowState.RETRY
        ]
        found = {
            row.position: outcome.contact
            for row, outcome in finals
            if outcome.state is RowState.DONE and outcome.contact is not None
        }
        contacts = _contacts_for(session, job, found)
        references = {
            row.position: f"contact:{contacts[row.position]}"
            if row.position in contacts
            else f"job:{job.id}:row:{row.position}"
            for row, outcome in finals
            if outcome.state is RowState.DONE and (outcome.charge or row.position in contacts)
        }
        paid = _charge_batch(session, job.org_id, credit_kind, list(references.values()))

        updates: list[dict[str, Any]] = []
        filled: dict[int, dict[str, Any]] = {}  # contact id -> its new address and grade
        history: list[dict[str, Any]] = []  # a find for each contact, a verification for each address
        counts = dict.fromkeys(("treated", "success", "failed", "deliverables", "risky", "bounces"), 0)
        retried = charged = 0
        for row in leased:
            outcome = by_position[row.position]
            change: dict[str, Any] = {"id": row.id, "lease_owner": None, "lease_expires_at": None, "updated_at": now}
            if outcome.state is RowState.RETRY:
                change.update(
                    status=RowStatus.QUEUED.value,
                    next_attempt_at=outcome.retry_at or now,
                    result=outcome.result or None,
                )
                updates.append(change)
                retried += 1
                continue
            result, state, success = dict(outcome.result), outcome.state, outcome.success
            reference = references.get(row.position)
            verdict = outcome.verdict
            if reference is not None and paid[reference] is ChargeResult.INSUFFICIENT:
                state, success, verdict = RowState.FAILED, False, None
                result = {"email": None, "error": "insufficient credits"}
            elif row.position in contacts and outcome.contact is not None:
                result["contact_id"] = contact_id = contacts[row.position]
                if result.get("email"):
                    filled[contact_id] = {
                        "id": contact_id,
                        "email": str(result["email"]).lower(),
                        "score": outcome.contact.score,
                        "verdict": outcome.contact.verdict,
                        "evidence": outcome.contact.evidence,
                        "searching": False,
                    }
            change.update(
                status=RowStatus.ENDED.value if state is RowState.DONE else RowStatus.FAILED.value,
                next_attempt_at=None,
                result=result,
            )
            updates.append(change)
            history.extend(_row_events(job, credit_kind, contacts.get(row.position), result))
            counts["treated"] += 1
            counts["success"] += success
            counts["failed"] += state is RowState.FAILED
            counts["deliverables"] += verdict == "deliverable"
            counts["risky"] += verdict == "risky"
            counts["bounces"] += verdict == "undeliverable"
        charged = sum(result is ChargeResult.CHARGED for result in paid.values())
        if updates:
            session.execute(update(m.JobRow), updates, execution_options=NO_SYNC)
        if filled:
            session.execute(update(m.Contact), list(filled.values()), execution_options=NO_SYNC)
        record_now(session, history)
        if counts["treated"]:
            session.execute(
                update(m.Job)
                .where(m.Job.id == job_id)
                .values(**{name: getattr(m.Job, name) + value for name, value in counts.items()}, updated_at=now),
                execution_options=NO_SYNC,
            )
        return Completed(counts["treated"], retried, len(by_position) - len(leased), charged)

    return await db.write_at_once(complete)


def _row_events(
    job: m.Job, credit_kind: CreditKind, contact_id: int | None, result: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The history a finished row leaves: a find for its contact, or a verification of its address."""
    detail = outcome_detail(result, result.get("error"))
    address = str(result.get("email") or "") or None
    if contact_id is not None:
        kind = EventKind.SEARCH
    elif credit_kind is not CreditKind.SEARCH and address:
        kind = EventKind.VERIFICATION
        detail.pop("email", None)
    else:
        return []
    return [event(job.org_id, kind, contact_id=contact_id, address=address, user_id=job.user_id,
                  job_id=job.id, detail=detail)]


def _charge_batch(
    session: Session, org_id: int, kind: CreditKind, references: Sequence[str]
) -> dict[str, ChargeResult]:
    """`accounts.charge_in` for a whole batch in four statements instead of four per row: references
    already in the ledger are free, the others are paid in order while the balance lasts."""
    wanted = list(dict.fromkeys(references))
    if not wanted:
        return {}
    known = set(
        session.scalars(
            select(m.CreditEntry.reference).where(
                m.CreditEntry.org_id == org_id, m.CreditEntry.kind == kind.value, m.CreditEntry.reference.in_(wanted)
            )
        )
    )
    new = [reference for reference in wanted if reference not in known]
    balance = session.scalar(
        select(m.CreditBalance.remaining).where(m.CreditBalance.org_id == org_id, m.CreditBalance.kind == kind.value)
    )
    payable = new[: max(0, min(len(new), int(balance or 0)))]
    if payable:
        taken = session.execute(
            update(m.CreditBalance)
            .where(
                m.CreditBalance.org_id == org_id,
                m.CreditBalance.kind == kind.value,
                m.CreditBalance.remaining >= len(payable),
            )
            .values(remaining=m.CreditBalance.remaining - len(payable), used=m.CreditBalance.used + len(payable))
        )
        if taken.rowcount != 1:  # a concurrent charge (PostgreSQL) got there first: pay nothing now
            payable = []
    if payable:
        now = utcnow()
        session.execute(
            insert(m.CreditEntry),
            [
                {
                    "org_id": org_id,
                    "kind": kind.value,
                    "delta": -1,
                    "reason": "charge",
                    "reference": reference,
                    "created_at": now,
                }
                for reference in payable
            ],
        )
    paid = set(payable)
    return {
        reference: ChargeResult.ALREADY
        if reference in known
        else ChargeResult.CHARGED
        if reference in paid
        else ChargeResult.INSUFFICIENT
        for reference in wanted
    }


def _contacts_for(session: Session, job: m.Job, found: Mapping[int, FoundContact]) -> dict[int, int]:
    """Contact ids by row position: the organisation's (non-deleted) contact for each person at
    each domain, created when new, all members of the job's list. A re-found contact keeps its id,
    hence its paid reference. A few statements per batch, whatever its size."""
    if not found:
        return {}
    keys = {position: (person.domain, name_key(person.name)) for position, person in found.items()}
    known: dict[tuple[str, str], int] = {}
    rows = session.execute(
        select(m.Contact.id, m.Contact.domain, m.Contact.name_key)
        .where(
            m.Contact.org_id == job.org_id,
            m.Contact.deleted.is_(False),
            m.Contact.domain.in_({domain for domain, _ in keys.values()}),
            m.Contact.name_key.in_({key for _, key in keys.values()}),
        )
        .order_by(m.Contact.id)
    )
    for contact_id, domain, stored_key in rows:
        known.setdefault((domain or "", stored_key), contact_id)
    new: dict[tuple[str, str], FoundContact] = {}
    for position, person_key in keys.items():
        if person_key not in known:
            new.setdefault(person_key, found[position])
    if new:
        created = session.execute(
            insert(m.Contact).returning(m.Contact.id, m.Contact.domain, m.Contact.name_key),
            [
                {
                    "org_id": job.org_id,
                    "owner_id": job.user_id,
                    "name": person.name,
                    "name_key": key,
                    "first_name": person.first_name,
                    "last_name": person.last_name,
                    "domain": domain,
                    "company_name": person.company_name,
                    "source": CONTACT_SOURCE,
                    "job_id": job.id,
                    "searching": False,
                }
                for (domain, key), person in new.items()
            ],
        )
        for contact_id, domain, key in created:
            known[(domain or "", key)] = contact_id
    ids = {position: known[key] for position, key in keys.items()}
    if job.list_id is not None:
        wanted = set(ids.values())
        present = set(
            session.scalars(
                select(m.ListMember.contact_id).where(
                    m.ListMember.list_id == job.list_id, m.ListMember.contact_id.in_(wanted)
                )
            )
        )
        if wanted - present:
            now = utcnow()
            added = sorted(wanted - present)
            session.execute(
                insert(m.ListMember), [{"list_id": job.list_id, "contact_id": cid, "added_at": now} for cid in added]
            )
            item = session.get(m.ContactList, job.list_id)
            if item is not None:
                record_now(session, list_events(job.org_id, EventKind.LIST_ADDED, added, item, job.user_id))
    return ids


async def finish_slice(db: Database, job_id: int, number: int, owner: str, *, window: int) -> tuple[bool, list[int]]:
    """A run found nothing more to claim: release the slice; DONE when every row is final, else due
    again when its earliest waiting row is. Announces further slices (returned) and ends the job
    when its last slice is done. Returns (job ended now, slice numbers to announce)."""
    now = utcnow()
    async with db.write() as session:
        job = await _locked(session, db, m.Job, job_id)
        part = await session.get(m.JobSlice, (job_id, number))
        if job is None or part is None or part.lease_owner != owner:
            return False, []
        part.lease_owner = part.lease_expires_at = None
        first, end = _slice_of(job, number)
        in_slice = (m.JobRow.job_id == job_id, m.JobRow.position >= first, m.JobRow.position < end)
        waiting = await session.execute(
            select(
                func.count(),
                func.min(m.JobRow.next_attempt_at),
                func.min(m.JobRow.lease_expires_at),
            ).where(*in_slice, m.JobRow.status.in_((RowStatus.QUEUED.value, RowStatus.PROCESSING.value)))
        )
        count, next_attempt, next_expiry = waiting.one()
        if count:
            due = [t for t in (next_attempt, next_expiry) if t is not None]
            part.due_at = min(due) if due else now
            return False, []
        part.status, part.due_at = "DONE", None
        await session.flush()
        send = await _fill_window(session, job, window, now)
        ended = not send and job.status in ACTIVE and await _end_if_finished(session, job, now)
        return ended, send


async def _fill_window(session: AsyncSession, job: m.Job, window: int, now: datetime) -> list[int]:
    if job.status not in ACTIVE:
        return []
    sent = await session.scalar(select(func.count()).where(m.JobSlice.job_id == job.id, m.JobSlice.status == "SENT"))
    room = max(0, window - int(sent or 0))
    if not room:
        return []
    numbers = list(
        await session.scalars(
            select(m.JobSlice.number)
            .where(m.JobSlice.job_id == job.id, m.JobSlice.status == "PENDING")
            .order_by(m.JobSlice.number)
            .limit(room)
        )
    )
    if numbers:
        await session.execute(
            update(m.JobSlice)
            .where(m.JobSlice.job_id == job.id, m.JobSlice.number.in_(numbers))
            .values(status="SENT", sent_at=now, due_at=None)
        )
    return numbers


# --- the reconciler's queries --------------------------------------------------------------------


async def resend_slices(
    db: Database, *, job_id: int | None = None, resend_after: float, window: int = 8, limit: int = 1000
) -> list[tuple[int, int]]:
    """Slices of active jobs to announce again: lease expired, rows due again, or announced more than
    `resend_after` seconds ago and never leased; plus PENDING slices that fit the window. Marks them
    sent now and returns them as (job id, number) pairs (of one job when `job_id` is given)."""
    now = utcnow()
    stale = now - timedelta(seconds=resend_after)
    async with db.write() as session:
        query = (
            select(m.JobSlice)
            .join(m.Job, m.Job.id == m.JobSlice.job_id)
            .where(
                m.Job.status.in_(ACTIVE),
                m.JobSlice.status == "SENT",
                or_(m.JobSlice.lease_expires_at.is_(None), m.JobSlice.lease_expires_at <= now),
                or_(
                    m.JobSlice.lease_expires_at.is_not(None),
                    m.JobSlice.due_at <= now,
                    and_(m.JobSlice.due_at.is_(None), or_(m.JobSlice.sent_at.is_(None), m.JobSlice.sent_at <= stale)),
                ),
            )
            .order_by(m.JobSlice.job_id, m.JobSlice.number)
            .limit(limit)
        )
        if job_id is not None:
            query = query.where(m.JobSlice.job_id == job_id)
        found: list[tuple[int, int]] = []
        for part in await session.scalars(query):
            part.sent_at, part.due_at, part.lease_owner, part.lease_expires_at = now, None, None, None
            found.append((part.job_id, part.number))
        jobs = (
            [job_id]
            if job_id is not None
            else list(await session.scalars(select(m.Job.id).where(m.Job.status.in_(ACTIVE), LIVE)))
        )
        for active in jobs:
            job = await _locked(session, db, m.Job, active)
            if job is not None:
                found.extend((active, n) for n in await _fill_window(session, job, window, now))
                await _end_if_finished(session, job, now)  # e.g. after a crash between its last two writes
    return found


async def release_leases(db: Database, owners: Sequence[str]) -> int:
    """Hand back everything `owners` (dead processes) leased, so restart resumes at once instead of
    waiting for the leases to expire. Returns the number of rows released."""
    if not owners:
        return 0
    async with db.write() as session:
        result = await session.execute(
            update(m.JobRow)
            .where(m.JobRow.lease_owner.in_(owners), m.JobRow.status == RowStatus.PROCESSING.value)
            .values(status=RowStatus.QUEUED.value, lease_owner=None, lease_expires_at=None)
        )
        await session.execute(
            update(m.JobSlice)
            .where(m.JobSlice.lease_owner.in_(owners))
            .values(lease_owner=None, lease_expires_at=None, due_at=utcnow())
        )
        return result.rowcount


async def lease_owners(db: Database) -> list[str]:
    """Distinct owners of live row and slice leases (to find those of dead local processes)."""
    async with db.read() as session:
        rows = await session.scalars(select(m.JobRow.lease_owner).where(m.JobRow.lease_owner.is_not(None)).distinct())
        slices = await session.scalars(
            select(m.JobSlice.lease_owner).where(m.JobSlice.lease_owner.is_not(None)).distinct()
        )
        return sorted({owner for owner in (*rows, *slices) if owner is not None})


async def due_reruns(db: Database, *, window: int, now: datetime | None = None) -> list[tuple[int, list[int]]]:
    """Restart every ended job whose rerun is due: rows back to QUEUED, counters to zero,
    `rerun_lasttime` now. Returns (job id, slice numbers to announce) per restarted job."""
    now = now or utcnow()
    async with db.read() as session:
        candidates = list(
            await session.scalars(
                select(m.Job).where(
                    LIVE,
                    m.Job.status == JobStatus.ENDED.value,
                    m.Job.rerun_frequency_hours.is_not(None),
                    m.Job.rerun_frequency_hours > 0,
                )
            )
        )
    due = [
        job.id
        for job in candidates
        if (job.rerun_lasttime or job.ended_at or job.created_at) + timedelta(hours=job.rerun_frequency_hours or 0)
        <= now
    ]
    restarted = []
    for job_id in due:
        async with db.write() as session:
            job = await _locked(session, db, m.Job, job_id)
            if job is None or job.status != JobStatus.ENDED.value:
                continue
            await session.execute(
                update(m.JobRow)
                .where(m.JobRow.job_id == job_id)
                .values(
                    status=RowStatus.QUEUED.value,
                    attempts=0,
                    next_attempt_at=None,
                    lease_owner=None,
                    lease_expires_at=None,
                )
            )
            await session.execute(
                update(m.JobSlice)
                .where(m.JobSlice.job_id == job_id)
                .values(status="PENDING", sent_at=None, due_at=None, lease_owner=None, lease_expires_at=None)
            )
            job.status, job.rerun_lasttime, job.ended_at, job.notified_at = JobStatus.QUEUED.value, now, None, None
            job.treated = job.success = job.failed = job.deliverables = job.risky = job.bounces = 0
            job.retention_until = None
            await session.flush()
            restarted.append((job_id, await _fill_window(session, job, window, now)))
    return restarted


async def unnotified_jobs(db: Database) -> list[Job]:
    """Ended jobs with a webhook whose completion webhooks are not in the outbox yet."""
    async with db.read() as session:
        rows = await session.scalars(
            select(m.Job).where(
                LIVE,
                m.Job.status == JobStatus.ENDED.value,
                m.Job.webhook.is_not(None),
                m.Job.notified_at.is_(None),
            )
        )
        return [_record(row) for row in rows]


@dataclass(frozen=True)
class Delivery:
    """One webhook for the outbox, built (and signed) by the caller."""

    target: str
    body: str
    headers: dict[str, str]
    key: str  # idempotency: a key already in the outbox is not added again
    max_attempts: int = 3


async def notify(db: Database, job_id: int, deliveries: Sequence[Delivery], *, batch: int = 500) -> bool:
    """Write the job's completion webhooks to the outbox and mark it notified (the last batch's
    transaction). Keys already present are skipped, so a crash half-way and a retry add each once."""
    now = utcnow()
    chunks = [deliveries[i : i + batch] for i in range(0, len(deliveries), batch)] or [[]]
    for index, chunk in enumerate(chunks):
        async with db.write() as session:
            job = await session.get(m.Job, job_id)
            if job is None or job.notified_at is not None:
                return False
            keys = [d.key for d in chunk]
            present = (
                set(
                    await session.scalars(
                        select(m.WebhookDelivery.idempotency_key).where(m.WebhookDelivery.idempotency_key.in_(keys))
                    )
                )
                if keys
                else set()
            )
            fresh = [
                {
                    "org_id": job.org_id,
                    "job_id": job_id,
                    "target": d.target,
                    "body": d.body,
                    "headers": d.headers,
                    "idempotency_key": d.key,
                    "attempts": 0,
                    "max_attempts": d.max_attempts,
                    "next_attempt_at": now,
                    "history": [],
                    "created_at": now,
                }
                for d in chunk
                if d.key not in present
            ]
            if fresh:
                await session.execute(insert(m.WebhookDelivery), fresh)
            if index == len(chunks) - 1:
                job.notified_at = now
    return True


async def expired_jobs(db: Database, now: datetime | None = None) -> list[int]:
    """Ended or cancelled jobs whose retention time passed and whose rows are still stored."""
    now = now or utcnow()
    async with db.read() as session:
        return list(
            await session.scalars(
                select(m.Job.id).where(
                    LIVE,
                    m.Job.retention_until.is_not(None),
                    m.Job.retention_until <= now,
                    m.Job.purged_at.is_(None),
                    m.Job.status.in_((JobStatus.ENDED.value, JobStatus.CANCELLED.value)),
                    or_(m.Job.rerun_frequency_hours.is_(None), m.Job.rerun_frequency_hours == 0),
                )
            )
        )


async def purge_job(db: Database, job_id: int) -> None:
    """Mark the result file gone (downloads answer 410), then delete its rows in batches."""
    async with db.write() as session:
        job = await session.get(m.Job, job_id)
        if job is None or job.purged_at is not None:
            return
        job.purged_at = utcnow()
    await _delete_rows(db, job_id)


# --- the leader lease ---------------------------------------------------------------------------


async def take_lease(db: Database, name: str, owner: str, *, seconds: float, steal_from: Sequence[str] = ()) -> bool:
    """Hold (or renew) the named lease; True when `owner` holds it now. A lease held by one of
    `steal_from` (dead processes) is taken over at once.

    One atomic statement (INSERT ... ON CONFLICT DO UPDATE ... WHERE, on both databases), so any
    number of processes racing for a free or expired lease get exactly one winner and no error."""
    now = utcnow()
    dialect_insert = sqlite_insert if db.is_sqlite else postgresql_insert
    table = m.Lease.__table__
    claim = dialect_insert(table).values(name=name, owner=owner, expires_at=now + timedelta(seconds=seconds))
    claim = claim.on_conflict_do_update(
        index_elements=[table.c.name],
        set_={"owner": claim.excluded.owner, "expires_at": claim.excluded.expires_at},
        where=or_(table.c.owner == owner, table.c.expires_at <= now, table.c.owner.in_(list(steal_from))),
    ).returning(table.c.owner)
    async with db.write() as session:
        return await session.scalar(claim) == owner


async def lease_holder(db: Database, name: str) -> str | None:
    async with db.read() as session:
        row = await session.get(m.Lease, name)
        return row.owner if row is not None and row.expires_at > utcnow() else None


async def waiting_slices(db: Database, *, limit: int = 100) -> list[tuple[int, int]]:
    """Announced slices of active jobs that no live lease holds and whose rows are due: what a worker
    listening to the ledger itself (the embedded doorbell) runs next, oldest job first. Read only."""
    now = utcnow()
    query = (
        select(m.JobSlice.job_id, m.JobSlice.number)
        .join(m.Job, m.Job.id == m.JobSlice.job_id)
        .where(
            m.Job.status.in_(ACTIVE),
            m.JobSlice.status == "SENT",
            or_(m.JobSlice.lease_expires_at.is_(None), m.JobSlice.lease_expires_at <= now),
            or_(m.JobSlice.due_at.is_(None), m.JobSlice.due_at <= now),
        )
        .order_by(m.JobSlice.job_id, m.JobSlice.number)
        .limit(limit)
    )
    async with db.read() as session:
        return [(job_id, number) for job_id, number in await session.execute(query)]
