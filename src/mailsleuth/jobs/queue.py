"""The doorbell: a taskiq broker carrying (job id, slice number) to whoever runs slices.

The database is the ledger, so a message carries only ids and losing one costs a delay, never a row
(the reconciler announces the slice again). The broker comes from `settings.broker_url`:
    ""           taskiq.InMemoryBroker: slices run as tasks of this process (the embedded default)
    redis://...  taskiq-redis Redis Streams (acknowledged after the task ran)
    amqp://...   taskiq-aio-pika RabbitMQ (acknowledged after the task ran)
    ledger://    no broker: workers poll the ledger (`mailsleuth.jobs.doorbell`, what `serve` embeds)
Each process that leases work has an owner identity "host:pid:nonce", so a restarted process can
tell the leases of its dead predecessor from those of live workers elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.acks import AcknowledgeType
from taskiq.api import run_receiver_task

from mailsleuth.jobs import bulk, doorbell
from mailsleuth.jobs.bulk import Tuning
from mailsleuth.store import Database

if TYPE_CHECKING:
    from mailsleuth.jobs.runtime import Runtime

log = logging.getLogger(__name__)

SLICE_TASK = "mailsleuth.bulk.run_slice"
QUEUE_NAME = "mailsleuth"
IN_PROCESS_TASKS = 32  # slices run at once by the in-memory broker
STREAM_MAXLEN = 100_000  # Redis Streams keeps acknowledged messages: trim the oldest (approximately)

_live_owners: set[str] = set()  # owners of queues open in this process


def make_broker(url: str, db: Database | None = None) -> AsyncBroker:
    """The broker for a URL (`ledger://` listens to `db`); the optional brokers are imported only
    when their URL is used."""
    if not url:
        return InMemoryBroker(max_async_tasks=IN_PROCESS_TASKS, max_stored_results=1)
    scheme = urlsplit(url).scheme.lower()
    if scheme == doorbell.SCHEME:
        if db is None:
            raise ValueError("the ledger:// doorbell needs the database it listens to")
        return doorbell.LedgerBroker(db, SLICE_TASK)
    if scheme in ("redis", "rediss", "unix"):
        from taskiq_redis import RedisStreamBroker

        # The group starts at the stream's beginning ("0", not "$"), so slices announced before the
        # first worker created it are still delivered; a replayed old message finds its slice done.
        return RedisStreamBroker(
            url, queue_name=QUEUE_NAME, consumer_group_name=QUEUE_NAME, consumer_id="0", maxlen=STREAM_MAXLEN
        )
    if scheme in ("amqp", "amqps"):
        from taskiq_aio_pika import AioPikaBroker

        return AioPikaBroker(url, queue_name=QUEUE_NAME)
    raise ValueError(
        f"unsupported broker URL scheme {scheme!r}: use redis://, rediss://, amqp://, ledger:// or leave it empty"
    )


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def is_dead_local(owner: str) -> bool:
    """Whether a lease owner is a process of this machine that no longer runs (or a closed queue of
    this process): its leases can be taken back now instead of after they expire."""
    host, _, rest = owner.partition(":")
    pid_text, _, _ = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return owner not in _live_owners
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class JobQueue:
    """Sends slices and runs them when this process is a worker (always, with the in-memory broker)."""

    def __init__(self, runtime: Runtime, *, tuning: Tuning | None = None) -> None:
        self.runtime = runtime
        self.tuning = tuning or Tuning()
        self.broker = make_broker(runtime.settings.broker_url, runtime.db)
        self.owner = new_owner()
        self.in_process = isinstance(self.broker, InMemoryBroker)
        self._startup: asyncio.Future[None] | None = None

        async def run_slice(job_id: int, number: int) -> None:
            # Tracked by the runtime, so shutdown cancels it and `idle()` waits for it.
            run = runtime.spawn(bulk.run_slice(runtime, job_id, number), name=f"slice-{job_id}-{number}")
            try:
                await run
            except asyncio.CancelledError:
                if run.cancelled() and not asyncio.current_task().cancelling():  # type: ignore[union-attr]
                    return  # shutdown stopped the run; the ledger has it, a restart re-sends it
                raise

        self._slice_task = self.broker.register_task(run_slice, task_name=SLICE_TASK)
        _live_owners.add(self.owner)

    async def start(self) -> None:
        """Start the broker once (the runtime starts it in the background; a worker awaits it)."""
        if self._startup is None:
            self._startup = asyncio.ensure_future(self.broker.startup())
        await asyncio.shield(self._startup)

    async def close(self) -> None:
        _live_owners.discard(self.owner)
        await self.broker.shutdown()

    async def send(self, slices: Iterable[tuple[int, int]]) -> None:
        """Announce slices. A failed send is logged, not raised: the ledger says the slices are due and
        the reconciler announces them again."""
        for job_id, number in slices:
            try:
                await self._slice_task.kiq(job_id, number)
            except Exception:
                log.exception("could not announce slice %s of job %s; the reconciler will", number, job_id)

    async def work(self) -> None:
        """Listen to the broker and run slices until cancelled (`mailsleuth worker`)."""
        if self.in_process:
            raise RuntimeError("the in-process broker has nothing to listen to; set MAILSLEUTH_BROKER_URL")
        await self.start()
        await run_receiver_task(self.broker, ack_time=AcknowledgeType.WHEN_EXECUTED, max_async_tasks=IN_PROCESS_TASKS)
