"""Pause, resume, cancel, delete, leases, greylisting, reruns and retention of bulk jobs."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

from sqlalchemy import select, update

from mailsleuth import store
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, JobStatus, Principal, utcnow
from mailsleuth.store import bulk as ledger
from mailsleuth.store import models as m
from tests.api.receiver import WebhookReceiver
from tests.jobs.conftest import (
    TUNING,
    ended,
    eventually,
    fresh_domain,
    make_principal,
    make_runtime,
)
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld


async def _rows(db: Database, job_id: int) -> list[m.JobRow]:
    async with db.read() as session:
        return list(
            await session.scalars(select(m.JobRow).where(m.JobRow.job_id == job_id).order_by(m.JobRow.position))
        )


async def _charges(db: Database, org_id: int) -> int:
    async with db.read() as session:
        rows = await session.scalars(
            select(m.CreditEntry).where(m.CreditEntry.org_id == org_id, m.CreditEntry.delta < 0)
        )
        return len(list(rows))


async def test_slices_are_completed_once_and_duplicate_deliveries_change_nothing(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("once.test", behaviour=Behaviour(mailboxes={"a", "b"}))
    rows = [{"email": f"{'ab'[i % 2]}{'' if i < 2 else i}@once.test"} for i in range(100)]
    job = await bulk.submit(runtime, principal, JobKind.VERIFY, rows)
    done = await ended(runtime.db, principal.org_id, job.id)
    stored = await _rows(runtime.db, job.id)
    assert all(row.status == "ENDED" and row.attempts == 1 and row.lease_owner is None for row in stored)
    async with runtime.db.read() as session:
        slices = list(await session.scalars(select(m.JobSlice).where(m.JobSlice.job_id == job.id)))
    assert sorted(s.number for s in slices) == [0, 1, 2] and all(s.status == "DONE" for s in slices)

    await runtime.queue.send([(job.id, n) for n in range(3)] * 2)  # a redelivering broker
    await runtime.idle()
    stale = [ledger.RowOutcome(r.position, ledger.RowState.DONE, {"email": "x"}, charge=True) for r in stored]
    replay = await ledger.complete_rows(runtime.db, job.id, runtime.queue.owner, stale, credit_kind=CreditKind.VERIFY)
    assert (replay.done, replay.skipped, replay.charged) == (0, 100, 0)
    again = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
    assert again is not None and (again.treated, again.deliverables, again.bounces) == (
        done.treated,
        done.deliverables,
        done.bounces,
    )
    assert await _charges(runtime.db, principal.org_id) == 100
    assert [r.result for r in await _rows(runtime.db, job.id)] == [r.result for r in stored]


async def test_pause_stops_claiming_rows_and_resume_finishes(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("pause.test", behaviour=Behaviour(mailboxes={"u1", "u2"}, latency=0.02))
    rows = [{"email": f"u{i}@pause.test"} for i in range(120)]
    job = await bulk.submit(runtime, principal, JobKind.VERIFY, rows)

    async def started() -> bool:
        current = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
        return current is not None and current.treated > 0

    await eventually(started)
    paused = await bulk.pause_job(runtime.db, principal.org_id, job.id)
    assert paused is not None and paused.status is JobStatus.PAUSED
    await runtime.idle()  # rows in flight finish; no new batch is claimed
    at_pause = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
    assert at_pause is not None and 0 < at_pause.treated < at_pause.quantity
    await asyncio.sleep(5 * TUNING.reconcile_interval)  # reconcile rounds pass: a paused job stays put
    still = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
    assert still is not None and still.treated == at_pause.treated and still.status is JobStatus.PAUSED
    assert not any(row.status == "PROCESSING" for row in await _rows(runtime.db, job.id))

    resumed = await bulk.resume_job(runtime.db, principal.org_id, job.id, runtime=runtime)
    assert resumed is not None and resumed.status is JobStatus.PROCESSING
    done = await ended(runtime.db, principal.org_id, job.id)
    assert done.treated == done.quantity == 120 and done.deliverables == 2
    assert await _charges(runtime.db, principal.org_id) == 120


async def test_cancel_stops_for_good_and_delete_recursive_removes_list_and_contacts(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("cancel.test", behaviour=Behaviour(mailboxes={"amy.ross"}, latency=0.02))
    slow = await bulk.submit(runtime, principal, JobKind.VERIFY, [{"email": f"n{i}@cancel.test"} for i in range(120)])
    cancelled = await bulk.cancel_job(runtime.db, principal.org_id, slow.id)
    assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
    await runtime.idle()
    after = await bulk.get_job(runtime.db, principal.org_id, job_id=slow.id)
    assert after is not None and after.status is JobStatus.CANCELLED and after.treated < 120
    assert await bulk.resume_job(runtime.db, principal.org_id, slow.id) == after  # cancelled is final

    massive = await bulk.submit(
        runtime, principal, JobKind.FIND_FILE, [{"name": "Amy Ross", "domain": "cancel.test"}], new_list="Amy"
    )
    done = await ended(runtime.db, principal.org_id, massive.id)
    assert done.list_id is not None and (await store.get_list(runtime.db, principal.org_id, done.list_id)).contacts == 1
    assert await bulk.delete_job(runtime.db, principal.org_id, massive.id, recursive=True)
    assert await bulk.get_job(runtime.db, principal.org_id, job_id=massive.id) is None
    assert await store.get_list(runtime.db, principal.org_id, done.list_id) is None
    assert (await store.query_contacts(runtime.db, principal.org_id)).total == 0
    assert not await bulk.delete_job(runtime.db, principal.org_id, massive.id)


async def test_expired_leases_of_a_crashed_worker_are_sent_again_by_the_reconciler(
    world_settings, db: Database, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("lease.test", behaviour=Behaviour(mailboxes={"kept"}))
    # The ledger as a crashed worker on another machine left it: slice 0 leased, 10 rows claimed.
    job = await ledger.create_job(
        db,
        principal.org_id,
        user_id=principal.user_id,
        kind="verify",
        token="lease-token",
        options={},
        webhook=None,
        filename=None,
        columns=None,
        list_id=None,
        rerun_frequency=None,
        retention_hours=None,
        slice_rows=TUNING.slice_rows,
    )
    await ledger.add_rows(db, job.id, 0, [({"email": f"r{i}@lease.test"}, "lease.test") for i in range(60)])
    await ledger.seal_job(db, job.id, quantity=60, list_id=None, window=TUNING.window)
    crashed = "elsewhere.example:4242:dead"
    assert await ledger.lease_slice(db, job.id, 0, crashed, lease_seconds=0.5)
    claimed = await ledger.claim_rows(
        db, job.id, 0, crashed, limit=10, lease_seconds=0.5, credit_kind=CreditKind.VERIFY
    )
    assert [row.position for row in claimed] == list(range(10))

    rt = make_runtime(world_settings, db)
    rt.start()
    try:
        done = await ended(db, principal.org_id, job.id)
    finally:
        await rt.close()
    rows = await _rows(db, job.id)
    assert [row.attempts for row in rows[:10]] == [2] * 10 and all(row.attempts == 1 for row in rows[10:])
    assert done.treated == 60 and await _charges(db, principal.org_id) == 60
    late = await ledger.complete_rows(
        db,
        job.id,
        crashed,
        [ledger.RowOutcome(0, ledger.RowState.DONE, {}, charge=True)],
        credit_kind=CreditKind.VERIFY,
    )
    assert late.skipped == 1 and late.charged == 0  # the crashed worker waking up changes nothing


async def test_greylisted_rows_are_rescheduled_not_slept_on(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    from tests.mailworld.world import GREYLIST_SECONDS

    domain = fresh_domain("grey-bulk")  # greylisting remembers earlier tries: a new server per run
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={"jane", "joe"}, greylist_seconds=GREYLIST_SECONDS))
    job = await bulk.submit(
        runtime, principal, JobKind.VERIFY, [{"email": f"jane@{domain}"}, {"email": f"joe@{domain}"}]
    )

    async def released() -> m.JobSlice | None:
        async with runtime.db.read() as session:
            part = await session.get(m.JobSlice, (job.id, 0))
        return part if part is not None and part.due_at is not None else None

    part = await eventually(released, interval=0.01)  # the run ended, leaving the slice due later
    assert part.lease_owner is None and part.status == "SENT"
    rows = await _rows(runtime.db, job.id)
    for row in rows:  # back in the ledger with a retry time, leased by nobody
        assert row.status == "QUEUED" and row.attempts == 1 and row.lease_owner is None
        assert row.next_attempt_at is not None and row.next_attempt_at > row.updated_at
        assert row.result == {"reason": "greylisted"} and part.due_at == min(r.next_attempt_at for r in rows)

    done = await ended(runtime.db, principal.org_id, job.id)
    assert done.deliverables == 2
    assert [r.attempts for r in await _rows(runtime.db, job.id)] == [2, 2]


async def test_reruns_run_again_on_schedule_without_charging_again(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    mail_world.add_domain("rerun.test", behaviour=Behaviour(mailboxes={"lena.park", "omar.diaz"}))
    rows = [
        {"name": "Lena Park", "domain": "rerun.test"},
        {"name": "Omar Diaz", "domain": "rerun.test"},
        {"name": "Zed Nobody", "domain": "rerun.test"},
    ]
    with WebhookReceiver() as receiver:
        job = await bulk.submit(runtime, principal, JobKind.FIND_FILE, rows, webhook=receiver.url, rerun_frequency=24)
        first = await ended(runtime.db, principal.org_id, job.id)
        assert first.rerun_lasttime is None and first.success == 2
        used = await _charges(runtime.db, principal.org_id)
        assert used == 2
        async with runtime.db.write() as session:  # pretend a day has passed since it ended
            await session.execute(
                update(m.Job).where(m.Job.id == job.id).values(ended_at=utcnow() - timedelta(hours=25))
            )

        async def rerun_ended() -> bulk.Job | None:
            current = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
            ok = current is not None and current.rerun_lasttime is not None and current.status is JobStatus.ENDED
            return current if ok else None

        second = await eventually(rerun_ended)
        await eventually(lambda: _value(len(receiver.deliveries) == 2))
    assert second.success == 2 and second.treated == 3
    assert await _charges(runtime.db, principal.org_id) == used  # the contacts were paid for already
    assert (await store.query_contacts(runtime.db, principal.org_id)).total == 2
    assert all(r.attempts == 1 for r in await _rows(runtime.db, job.id))
    keys = sorted(d.headers["X-Mailsleuth-Idempotency-Key"] for d in receiver.deliveries)
    assert keys[0] == f"job:{job.id}:end:0" and keys[1] != keys[0]
    assert await bulk.set_rerun(runtime.db, principal.org_id, job.id, None) is not None
    assert (await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)).rerun_frequency is None


async def _value(value: object) -> object:
    return value


async def test_results_past_retention_are_purged_and_unavailable(
    runtime: Runtime, principal: Principal, mail_world: MailWorld
) -> None:
    job = await bulk.submit(runtime, principal, JobKind.VERIFY, [{"email": "jane.doe@acme.test"}], retention_hours=0)
    done = await ended(runtime.db, principal.org_id, job.id)
    assert done.retention_until is not None and not bulk.result_available(done)

    async def purged() -> bulk.Job | None:
        current = await bulk.get_job(runtime.db, principal.org_id, job_id=job.id)
        return current if current is not None and current.purged_at is not None else None

    await eventually(purged)
    assert [pair async for pair in bulk.iter_results(runtime.db, principal.org_id, job.id)] == []
    kept = await bulk.submit(runtime, principal, JobKind.VERIFY, [{"email": "jane.doe@acme.test"}], retention_hours=5)
    assert bulk.result_available(await ended(runtime.db, principal.org_id, kept.id))


async def test_an_empty_balance_pauses_the_job_until_credits_arrive(runtime: Runtime, mail_world: MailWorld) -> None:
    poor = await make_principal(runtime.db, "poor-org", credits={CreditKind.VERIFY: 5})
    job = await bulk.submit(runtime, poor, JobKind.VERIFY, [{"email": f"x{i}@acme.test"} for i in range(12)])

    async def paused() -> bulk.Job | None:
        current = await bulk.get_job(runtime.db, poor.org_id, job_id=job.id)
        return current if current is not None and current.status is JobStatus.PAUSED else None

    stopped = await eventually(paused)
    assert stopped.error == "insufficient credits" and stopped.treated == 5 and stopped.failed == 0
    await store.add_credits(runtime.db, poor.org_id, CreditKind.VERIFY, 10)
    await bulk.resume_job(runtime.db, poor.org_id, job.id, runtime=runtime)
    done = await ended(runtime.db, poor.org_id, job.id)
    assert done.treated == 12 and done.bounces == 12
    assert await store.balance(runtime.db, poor.org_id, CreditKind.VERIFY) == 3


async def test_a_duplicate_delivery_while_the_slice_runs_neither_stalls_nor_repeats_it(
    world_settings, db: Database, principal: Principal, mail_world: MailWorld
) -> None:
    domain = fresh_domain("dup")
    mail_world.add_domain(domain, behaviour=Behaviour(mailboxes={"u0"}, latency=0.02))
    rt = make_runtime(world_settings, db, dataclasses.replace(TUNING, lease_seconds=600.0))
    rt.start()
    try:
        job = await bulk.submit(rt, principal, JobKind.VERIFY, [{"email": f"u{i}@{domain}"} for i in range(60)])
        await rt.queue.send([(job.id, 0), (job.id, 1), (job.id, 0)])  # e.g. a startup re-send racing the first
        done = await ended(db, principal.org_id, job.id, timeout=20)  # a stalled slice would wait 600 s
    finally:
        await rt.close()
    assert done.treated == 60 and all(row.attempts == 1 for row in await _rows(db, job.id))


async def test_a_deleted_jobs_id_is_never_reused_so_references_and_webhooks_stay_unique(
    runtime: Runtime, principal: Principal
) -> None:
    rows = [{"email": "jane.doe@acme.test"}]
    with WebhookReceiver() as receiver:
        first = await bulk.submit(runtime, principal, JobKind.VERIFY, rows, webhook=receiver.url)
        await ended(runtime.db, principal.org_id, first.id)
        await eventually(lambda: _value(receiver.deliveries))
        assert await bulk.delete_job(runtime.db, principal.org_id, first.id)
        second = await bulk.submit(runtime, principal, JobKind.VERIFY, rows, webhook=receiver.url)
        await ended(runtime.db, principal.org_id, second.id)
        await eventually(lambda: _value(len(receiver.deliveries) == 2))
    assert second.id != first.id and await bulk.get_job(runtime.db, principal.org_id, job_id=first.id) is None
    assert [job.id for job in await bulk.list_jobs(runtime.db, principal.org_id)] == [second.id]
    assert await _charges(runtime.db, principal.org_id) == 2  # the second upload paid for its row
