"""The reconciler: one leader among all processes repairs what crashes and lost messages leave behind.

Every `interval` seconds the process holding the "reconciler" lease row
  - announces again the slices whose lease expired, whose waiting rows became due, or that were
    announced but never picked up, and the next slices of each job's window;
  - restarts jobs whose rerun is due;
  - writes completion webhooks that a crash kept out of the outbox, and wakes the webhook sender;
  - deletes result rows past their retention time (downloads then answer 410).
On start, every process first hands back the leases of its dead predecessors on this machine and
then announces everything unfinished at once, so a `kill -9` costs a restart, not the lease time;
the leader also hands back, every round, the leases of its machine's processes that died since.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailsleuth.jobs.bulk import notify_job
from mailsleuth.jobs.queue import is_dead_local
from mailsleuth.store import bulk as ledger

if TYPE_CHECKING:
    from mailsleuth.jobs.runtime import Runtime

log = logging.getLogger(__name__)

LEADER_LEASE = "reconciler"


@dataclass(frozen=True)
class Round:
    """What one round did (tests and logs)."""

    leader: bool
    resent: int = 0
    reruns: int = 0
    notified: int = 0
    purged: int = 0


class Reconciler:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    @property
    def interval(self) -> float:
        return self.runtime.queue.tuning.reconcile_interval

    async def run(self) -> None:
        """Recover, then reconcile forever; meant to run as one background task per process."""
        try:
            await self.recover()
        except Exception:
            log.exception("recovery after start failed")
        first = True
        while True:
            try:
                await self.round(resend_after=0.0 if first else None)
                first = False
            except Exception:  # a broken database must not kill the loop silently
                log.exception("reconcile round failed")
            await asyncio.sleep(self.interval)

    async def recover(self) -> int:
        """Hand back the row and slice leases of dead processes of this machine."""
        dead = [owner for owner in await ledger.lease_owners(self.runtime.db) if is_dead_local(owner)]
        released = await ledger.release_leases(self.runtime.db, dead)
        if released:
            log.info("released %d rows leased by dead processes %s", released, ", ".join(dead))
        return released

    async def round(self, *, resend_after: float | None = None) -> Round:
        db, queue = self.runtime.db, self.runtime.queue
        tuning = queue.tuning
        holder = await ledger.lease_holder(db, LEADER_LEASE)
        steal = [holder] if holder is not None and is_dead_local(holder) else []
        if not await ledger.take_lease(db, LEADER_LEASE, queue.owner, seconds=3 * self.interval, steal_from=steal):
            return Round(leader=False)
        await self.recover()  # a worker of this machine killed since: its rows go back now, not at expiry
        resent = await ledger.resend_slices(
            db, resend_after=tuning.resend_after if resend_after is None else resend_after, window=tuning.window
        )
        await queue.send(resent)
        reruns = await ledger.due_reruns(db, window=tuning.window)
        for job_id, numbers in reruns:
            await queue.send([(job_id, n) for n in numbers])
        notified = 0
        for job in await ledger.unnotified_jobs(db):
            notified += await notify_job(self.runtime, job.id)
        self.runtime.webhooks.kick()
        expired = await ledger.expired_jobs(db)
        for job_id in expired:
            await ledger.purge_job(db, job_id)
        return Round(True, len(resent), len(reruns), notified, len(expired))
