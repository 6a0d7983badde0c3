"""Bulk jobs: finds over a file or a batch of names, verify and enrich uploads, with the database as the ledger.

A job's rows are stored first (in batches), then its slices (~500 rows each) are announced on the
queue (`mailsleuth.jobs.queue`), a few at a time. A slice run claims rows with a lease, does the
network work outside any transaction, and completes each batch in ONE write: row results, counters,
credits (idempotent references) and contacts. A row already done is never counted or charged twice,
so a re-sent slice, a killed worker or a duplicate message changes nothing. Greylisted rows go back
to the ledger with `next_attempt_at`; nothing sleeps on them. When the last slice ends, the job ends
and its webhooks, in the shapes the API layer gives the runtime (`mailsleuth.jobs.notices`), are
written to the outbox (`notify_job`), which the reconciler re-checks after a crash.

Rows arrive validated by the HTTP layer, as mappings with these fields (other keys are kept as is and
returned by `iter_results`, e.g. the original CSV cells named in `columns`):
    find_file, find_batch: "name" (full name) or "first"/"middle"/"last"; "domain" and/or "company"
    verify, enrich:        "email"
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mailsleuth.engine import domains

from mailsleuth.service import intelligence

from mailsleuth import store
from mailsleuth.jobs import webhooks
from mailsleuth.jobs.notices import Notice
from mailsleuth.service.errors import PaymentRequired, ServiceError
from mailsleuth.service.finding import Finding
from mailsleuth.service.search import person, webhook_url
from mailsleuth.engine.results import Verdict, VerifyResult
from mailsleuth.store import CreditKind, Database, JobStatus, Principal
from mailsleuth.store import bulk as ledger
from mailsleuth.store.bulk import ClaimedRow, Job, RowOutcome, RowState

if TYPE_CHECKING:
    from mailsleuth.jobs.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = [
    "Job",
    "JobKind",
    "Tuning",
    "cancel_job",
    "delete_job",
    "enrich_row",
    "get_job",
    "iter_results",
    "list_jobs",
    "pause_job",
    "result_available",
    "resume_job",
    "set_rerun",
    "submit",
]


class JobKind(StrEnum):
    """What a bulk job does; the values are stored (`mailsleuth.store.bulk.BULK_KINDS`)."""

    FIND_FILE = "find_file"  # finds over an uploaded file of people; found contacts filed in a list
    FIND_BATCH = "find_batch"  # finds over a submitted batch of names; announced one match at a time
    VERIFY = "verify"  # verify a list of addresses
    ENRICH = "enrich"  # verify a list of addresses and add what is known about each


FINDING = frozenset({JobKind.FIND_FILE, JobKind.FIND_BATCH})
CREDITS: Mapping[JobKind, CreditKind] = {
    JobKind.FIND_FILE: CreditKind.SEARCH,
    JobKind.FIND_BATCH: CreditKind.SEARCH,
    JobKind.VERIFY: CreditKind.VERIFY,
    JobKind.ENRICH: CreditKind.ENRICH,
}
INSERT_BATCH = 1000
INSERT_BATCH_CHARS = 2_000_000  # and at most this much row text per insert: a wide file's rows are large
COMPLETION_WAIT = 0.5  # seconds a slice run gathers finished rows for one transaction (few, short commits)


@dataclass(frozen=True)
class Tuning:
    """How bulk work is cut and paced; tests shrink the numbers, production keeps the defaults."""

    slice_rows: int = 500  # rows per work unit on the queue
    window: int = 8  # slices of one job announced at a time; the next go out as these end
    claim_rows: int = 200  # rows of a slice in flight at once (more are claimed as half finish)
    rows_per_write: int = 100  # finished rows completed per transaction: short turns at the one SQLite writer
    lease_seconds: float = 300.0  # a row or slice lease not renewed by then is re-sent
    max_attempts: int = 5  # greylisted/erroring rows are retried up to this many claims
    error_retry_seconds: float = 60.0  # retry delay after an unexpected error on a row
    reconcile_interval: float = 30.0
    resend_after: float = 120.0  # an announced slice nobody leased by then is announced again


# --- submitting and managing jobs (the HTTP and CLI halves call these) ------------------------


async def submit(
    runtime: Runtime,
    principal: Principal,
    kind: JobKind | str,
    rows: Iterable[Mapping[str, str]] | AsyncIterable[Mapping[str, str]],
    *,
    options: Mapping[str, Any] | None = None,
    webhook: str | None = None,
    filename: str | None = None,
    list_id: int | None = None,
    new_list: str | None = None,
    rerun_frequency: int | None = None,
    retention_hours: int | None = None,
    columns: Sequence[str] | None = None,
) -> Job:
    """Store every row, then announce the first slices; returns the queued job.

    `options`: "smtp" (bool, default True: probe mail servers), "paid_verdicts" (the verdicts a find
    counts as found, default any address) and whatever the caller's webhook shape reads back (e.g. the
    result file's URL). Without `list_id`, `new_list` names a new list the found contacts are filed in
    (None: no list). Nothing is kept when storing fails half-way
    (no partial job). Raises PaymentRequired (the kind's balance is empty), ServiceError (no rows,
    unsafe webhook with field "webhook", unknown list with field "list_id", bad rerun/retention).
    """
    kind = JobKind(kind)
    db, org_id = runtime.db, principal.org_id
    tuning = runtime.queue.tuning
    options = dict(options or {})
    webhook = webhook_url(webhook, runtime)
    _check_hours("rerun_frequency", rerun_frequency)
    _check_hours("webhook_file_retention_time", retention_hours)
    if await store.balance(db, org_id, CREDITS[kind]) <= 0:
        raise PaymentRequired("No credits left." if kind in FINDING else f"No {CREDITS[kind]} credits left.")
    if list_id is not None and await store.get_list(db, org_id, list_id) is None:
        raise ServiceError("Invalid list.", field="list_id")
    job = await ledger.create_job(
        db,
        org_id,
        user_id=principal.user_id,
        kind=kind.value,
        token=secrets.token_hex(16),
        options=options,
        webhook=webhook,
        filename=filename,
        columns=list(columns) if columns is not None else None,
        list_id=list_id,
        rerun_frequency=rerun_frequency or None,
        retention_hours=retention_hours,
        slice_rows=tuning.slice_rows,
    )
    try:
        quantity = await _store_rows(db, job.id, kind, rows)
        if quantity == 0:
            raise ServiceError("The file has no rows.", field="content")
        if new_list is not None and list_id is None:
            made = await store.create_list(db, org_id, new_list[:300])
            list_id = made.id
        job, first = await ledger.seal_job(db, job.id, quantity=quantity, list_id=list_id, window=tuning.window)
    except BaseException:
        await ledger.delete_job(db, org_id, job.id)
        raise
    await runtime.queue.send([(job.id, number) for number in first])
    return job


async def get_job(db: Database, org_id: int, *, job_id: int | None = None, token: str | None = None) -> Job | None:
    """A bulk job of the organisation by id or by public token (verifier/enrich), else None."""
    return await ledger.get_job(db, org_id, job_id=job_id, token=token)


async def list_jobs(
    db: Database, org_id: int, kind: JobKind | str | None = None, offset: int = 0, limit: int = 100
) -> list[Job]:
    """The organisation's bulk jobs, newest first (kind None: every bulk kind)."""
    return await ledger.list_jobs(db, org_id, JobKind(kind).value if kind else None, offset=offset, limit=limit)


async def pause_job(db: Database, org_id: int, job_id: int) -> Job | None:
    """Stop claiming rows (rows in flight finish). None when not found; ended jobs are left alone."""
    return await ledger.set_status(db, org_id, job_id, JobStatus.PAUSED)


async def resume_job(db: Database, org_id: int, job_id: int, *, runtime: Runtime | None = None) -> Job | None:
    """Continue a paused job. With `runtime` its slices are announced now, else by the next reconcile."""
    job = await ledger.set_status(db, org_id, job_id, JobStatus.PROCESSING)
    if job is not None and runtime is not None and job.status is JobStatus.PROCESSING:
        tuning = runtime.queue.tuning
        await runtime.queue.send(await ledger.resend_slices(db, job_id=job.id, resend_after=0, window=tuning.window))
    return job


async def cancel_job(db: Database, org_id: int, job_id: int) -> Job | None:
    """Stop for good; rows done so far stay downloadable. None when not found."""
    return await ledger.set_status(db, org_id, job_id, JobStatus.CANCELLED)


async def delete_job(db: Database, org_id: int, job_id: int, *, recursive: bool = False) -> bool:
    """Delete a job and its rows; `recursive` also deletes its list and the contacts in it."""
    return await ledger.delete_job(db, org_id, job_id, recursive=recursive)


async def set_rerun(db: Database, org_id: int, job_id: int, hours: int | None) -> Job | None:
    """Re-run the job every `hours` (None or 0: never again). Raises ServiceError for a bad value."""
    _check_hours("rerun_frequency", hours)
    return await ledger.set_rerun(db, org_id, job_id, hours or None)


async def iter_results(db: Database, org_id: int, job_id: int) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(input, result) for every row in input order; result is {} for a row not processed yet.

    Reads in pages, so a million-row download holds one page in memory. Raises store.NotFound.
    """
    async for row_input, result in ledger.iter_rows(db, org_id, job_id):
        yield row_input, result


def result_available(job: Job, now: datetime | None = None) -> bool:
    """Whether the result file may still be downloaded (False once the retention time has passed)."""
    if job.purged_at is not None:
        return False
    return job.retention_until is None or (now or store.utcnow()) < job.retention_until


def input_columns(job: Job) -> list[str]:
    """The job's input columns: the titles the caller gave (a file's, exactly), else the default fields."""
    if job.columns:
        return list(job.columns)
    return ["name", "domain", "company"] if JobKind(job.kind) in FINDING else ["email"]


def _check_hours(field: str, hours: int | None) -> None:
    if hours is not None and (isinstance(hours, bool) or not isinstance(hours, int) or not 0 <= hours <= 24 * 3650):
        raise ServiceError("Enter a whole number of hours.", field=field)


async def _store_rows(
    db: Database, job_id: int, kind: JobKind, rows: Iterable[Mapping[str, str]] | AsyncIterable[Mapping[str, str]]
) -> int:
    """Insert the rows INSERT_BATCH (or INSERT_BATCH_CHARS of text) at a time, so memory stays
    bounded however wide the rows are; returns how many there were."""
    batch: list[tuple[dict[str, Any], str | None]] = []
    stored = chars = 0

    async def flush() -> None:
        nonlocal stored, batch, chars
        await ledger.add_rows(db, job_id, stored, batch)
        stored += len(batch)
        batch, chars = [], 0

    async for row in _aiter(rows):
        batch.append((dict(row), _row_domain(kind, row)))
        chars += sum(len(key) + len(value) for key, value in row.items())
        if len(batch) >= INSERT_BATCH or chars >= INSERT_BATCH_CHARS:
            await flush()
    await flush()
    return stored


async def _aiter(
    rows: Iterable[Mapping[str, str]] | AsyncIterable[Mapping[str, str]],
) -> AsyncIterator[Mapping[str, str]]:
    if isinstance(rows, AsyncIterable):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row


def _row_domain(kind: JobKind, row: Mapping[str, str]) -> str | None:
    """The domain a row will talk to, stored so rows of one mail host can be found together."""
    raw = (row.get("email") or "").rpartition("@")[2] if kind not in FINDING else row.get("domain") or ""
    try:
        return domains.normalise_domain(raw) if raw else None
    except domains.InvalidDomain:
        return None


# --- running slices (called by the queue's task with nothing but ids) --------------------------


async def run_slice(runtime: Runtime, job_id: int, number: int) -> None:
    """Process one slice: lease it, then keep up to `claim_rows` rows in flight, claiming more as
    half of them finish and completing finished rows a batch per transaction, until no row is due or
    the job is paused or cancelled (rows in flight still finish). A slow row holds up only itself.
    Idempotent: a duplicate or stale delivery of the same slice finds nothing to do."""
    db, queue = runtime.db, runtime.queue
    tuning, owner = queue.tuning, queue.owner
    if not await ledger.lease_slice(db, job_id, number, owner, lease_seconds=tuning.lease_seconds):
        return
    job = await ledger.load_job(db, job_id)
    if job is None:
        return
    credit_kind = CREDITS[JobKind(job.kind)]
    rows = RowProcessor(runtime, job)
    in_flight: set[asyncio.Task[RowOutcome]] = set()
    claiming = True
    try:
        while True:
            if claiming and len(in_flight) <= tuning.claim_rows // 2:
                claimed = await ledger.claim_rows(
                    db,
                    job_id,
                    number,
                    owner,
                    limit=tuning.claim_rows - len(in_flight),
                    lease_seconds=tuning.lease_seconds,
                    credit_kind=credit_kind,
                )
                claiming = bool(claimed)
                in_flight.update(asyncio.ensure_future(rows.process(row)) for row in claimed)
            if not in_flight:
                break
            finished, in_flight = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            if in_flight and len(finished) < tuning.claim_rows // 4:  # gather a few more per transaction
                more, in_flight = await asyncio.wait(in_flight, timeout=COMPLETION_WAIT)
                finished |= more
            outcomes = [task.result() for task in finished]
            for first in range(0, len(outcomes), tuning.rows_per_write):
                batch = outcomes[first : first + tuning.rows_per_write]
                await ledger.complete_rows(db, job_id, owner, batch, credit_kind=credit_kind)
    finally:
        for task in in_flight:  # cancelled (shutdown): their leases expire or are released on restart
            task.cancel()
    ended, more_slices = await ledger.finish_slice(db, job_id, number, owner, window=tuning.window)
    await queue.send([(job_id, n) for n in more_slices])
    if ended:
        await notify_job(runtime, job_id)


class RowProcessor:
    """Turns a job's rows into outcomes with the shared engine (the Verifier's per-domain queues put
    concurrent rows of one mail host on shared connections)."""

    def __init__(self, runtime: Runtime, job: Job) -> None:
        self.runtime = runtime
        self.job = job
        self.kind = JobKind(job.kind)
        self.smtp = bool(job.options.get("smtp", True))
        self.finding = Finding(runtime.db, runtime.settings, runtime.verifier, job.org_id)

    async def process(self, row: ClaimedRow) -> RowOutcome:
        tuning = self.runtime.queue.tuning
        try:
            if self.kind in FINDING:
                return await self._find(row)
            return await self._verify(row)
        except ServiceError as exc:  # the row itself is unusable: say why, charge nothing
            return RowOutcome(
                row.position,
                RowState.FAILED,
                {"email": None, "status": "error", "error": exc.message},
            )
        except Exception as exc:
            log.exception("job %s row %s failed", self.job.id, row.position)
            message = f"{type(exc).__name__}: {exc}"
            if row.attempts < tuning.max_attempts:
                retry_at = store.utcnow() + timedelta(seconds=tuning.error_retry_seconds)
                return RowOutcome(row.position, RowState.RETRY, {"error": message}, retry_at=retry_at)
            return RowOutcome(
                row.position,
                RowState.FAILED,
                {"email": None, "status": "error", "error": message},
            )

    def _retry(self, row: ClaimedRow, at: datetime) -> bool:
        return row.attempts < self.runtime.queue.tuning.max_attempts and at > store.utcnow()

    async def _find(self, row: ClaimedRow) -> RowOutcome:
        data = row.input
        name = person(
            data.get("name") or None,
            first=data.get("first") or None,
            middle=data.get("middle") or None,
            last=data.get("last") or None,
        )
        found = await self.finding.find(name, data.get("domain") or None, data.get("company") or None, smtp=self.smtp)
        if found.reason == "greylisted":
            retry_at = store.utcnow() + timedelta(seconds=self.runtime.settings.greylist_delay)
            if self._retry(row, retry_at):
                return RowOutcome(row.position, RowState.RETRY, {"reason": found.reason}, retry_at=retry_at)
        # Which answers count as found (matched, charged, notified) is the caller's term: any address,
        # or only some verdicts; an unverified guess asked for without SMTP is shown, never charged.
        paid = self.job.options.get("paid_verdicts")
        counted = found.email is not None and (paid is None or found.verdict.value in paid)
        shown = found.email if counted or not self.smtp else None
        result = {
            "email": shown,
            "score": found.score if shown else None,
            "status": "found" if shown else "not_found",
            "verdict": found.verdict.value,
            "pattern": found.pattern,
            "domain": found.domain,
            "reason": found.reason,
            "first": name.first,
            "middle": name.middle,
            "last": name.last,
            "guess": found.email if found.email and not shown else None,
            "confidence": found.confidence,
        }
        contact = None
        if counted:
            contact = ledger.FoundContact(
                name=name.full,
                first_name=name.first or None,
                last_name=name.last or None,
                domain=found.domain,
                company_name=data.get("company") or None,
                score=found.score,
                verdict=found.verdict.value,
                evidence=found.to_dict(),
            )
        return RowOutcome(
            row.position,
            RowState.DONE,
            result,
            verdict=found.verdict.value,
            success=counted,
            contact=contact,
        )

    async def _verify(self, row: ClaimedRow) -> RowOutcome:
        address = str(row.input.get("email") or "").strip()
        if not address:
            raise ServiceError("This field is required.", field="email")
        verification = await self.runtime.verifier.verify(address, smtp=self.smtp)
        if verification.reason == "greylisted" and verification.retry_at is not None:
            retry_at = datetime.fromtimestamp(verification.retry_at, tz=store.utcnow().tzinfo)
            if self._retry(row, retry_at):
                return RowOutcome(row.position, RowState.RETRY, {"reason": "greylisted"}, retry_at=retry_at)
        result = verification_fields(verification)
        if self.kind is JobKind.ENRICH:
            result.update(await enrich_row(self.runtime.db, self.job.org_id, verification))
        definitive = verification.verdict is not Verdict.UNKNOWN
        return RowOutcome(
            row.position, RowState.DONE, result, verdict=verification.verdict.value, success=definitive, charge=True
        )


def verification_fields(result: VerifyResult) -> dict[str, Any]:
    """A verification as a row result: the verdict and its evidence (each dialect words it its own way)."""
    return {
        "email": result.email,
        "verdict": result.verdict.value,
        "score": result.score,
        "catch_all": result.catch_all,
        "reason": result.reason,
        "smtp_code": result.smtp_code,
        "enhanced_status": result.enhanced_status,
        "mx_hosts": list(result.mx_hosts),
    }


async def enrich_row(db: Database, org_id: int, verification: VerifyResult) -> dict[str, Any]:
    """What is known about the address's person and company (`mailsleuth.service.intelligence.enrich_fields`)."""
    return await intelligence.enrich_fields(db, org_id, verification)


# --- completion webhooks -------------------------------------------------------------------------


async def notify_job(runtime: Runtime, job_id: int) -> bool:
    """Write an ended job's webhooks to the outbox (once: idempotency keys), then wake the sender.

    The bodies come from the runtime's builder for the job's kind. Without one, the job is left
    un-notified (and logged), so a process built with the builders sends it at its next reconcile."""
    db = runtime.db
    job = await ledger.load_job(db, job_id)
    if job is None or job.status is not JobStatus.ENDED or job.notified_at is not None or not job.webhook:
        return False
    build = runtime.notices.get(job.kind)
    if build is None:
        log.error("job %s ended, but this process knows no webhook shape for %s jobs", job.id, job.kind)
        return False
    org = await store.get_org(db, job.org_id)
    secret = org.webhook_secret if org is not None else ""
    run = int(job.rerun_lasttime.timestamp()) if job.rerun_lasttime else 0
    notices: list[Notice] = [notice async for notice in build(job, ledger.iter_rows(db, job.org_id, job.id))]
    deliveries = []
    for notice in notices:
        key = f"job:{job.id}:{notice.part}:{run}"
        deliveries.append(
            ledger.Delivery(job.webhook, notice.body, webhooks.delivery_headers(secret, notice.body, key), key)
        )
    written = await ledger.notify(db, job.id, deliveries)
    runtime.webhooks.kick()
    return written
