"""`mailsleuth jobs ...` on the store (no server needed) and `mailsleuth worker` for the scale-out.

Pause, resume and cancel are status updates: a running server or worker notices them between
batches, and its reconciler announces a resumed job's slices within one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from mailsleuth import store
from mailsleuth.cli import heap
from mailsleuth.config import Settings, get_settings
from mailsleuth.service.csvfiles import SafeWriter
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import Job, JobKind
from mailsleuth.store import Database, JobStatus
from mailsleuth.store import bulk as ledger
from mailsleuth.cli.store import DatabaseUrl, UserError, run_with_store, stderr


jobs_app = typer.Typer(
    help="Bulk jobs: list, show progress, pause, resume, cancel, download results.", no_args_is_help=True
)
stdout = Console()

async def _job(db: Database, job_id: int) -> Job:
    job = await ledger.load_job(db, job_id)
    if job is None:
        raise UserError(f"no bulk job {job_id}")
    return job


@jobs_app.command("list")
def list_command(
    org: Annotated[str | None, typer.Option(help="Organisation name or id [default: all].")] = None,
    kind: Annotated[JobKind | None, typer.Option(help="Only this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """List bulk jobs, newest first."""

    async def work(db: Database) -> list[Job]:
        org_id = None
        if org is not None:
            found = await store.find_org(db, org)
            if found is None:
                raise UserError(f"unknown organisation {org!r}")
            org_id = found.id
        return await ledger.list_jobs(db, org_id, kind.value if kind else None, limit=limit)

    table = Table("id", "org", "kind", "status", "progress", "success", "file", "created")
    for job in run_with_store(database_url, work):
        table.add_row(
            str(job.id),
            str(job.org_id),
            job.kind,
            job.status.value,
            f"{job.treated}/{job.quantity}",
            str(job.success),
            job.filename or "",
            f"{job.created_at:%Y-%m-%d %H:%M}",
        )
    stdout.print(table)


@jobs_app.command("show")
def show(job_id: int, database_url: DatabaseUrl = None) -> None:
    """A job's status, progress bar and counters."""
    job = run_with_store(database_url, lambda db: _job(db, job_id))
    stdout.print(
        f"job {job.id} ({job.kind}) of organisation {job.org_id}: [bold]{job.status.value}[/bold]"
        + (f" ({job.error})" if job.error else ""),
        highlight=False,
    )
    with Progress(TextColumn("rows"), BarColumn(), MofNCompleteColumn(), console=stdout, auto_refresh=False) as bar:
        bar.add_task("rows", total=job.quantity or 1, completed=job.treated)
        bar.refresh()
    counters = Table.grid(padding=(0, 2))
    for label, value in (
        ("success", job.success),
        ("failed", job.failed),
        ("deliverable", job.deliverables),
        ("risky", job.risky),
        ("bounces", job.bounces),
        ("file", job.filename or ""),
        ("rerun every", f"{job.rerun_frequency} h" if job.rerun_frequency else "never"),
        ("last rerun", f"{job.rerun_lasttime:%Y-%m-%d %H:%M}" if job.rerun_lasttime else ""),
        ("results", "available" if bulk.result_available(job) else "expired"),
    ):
        counters.add_row(label, str(value))
    stdout.print(counters)


def _change(job_id: int, database_url: str | None, status: JobStatus) -> None:
    async def work(db: Database) -> Job:
        job = await _job(db, job_id)
        changed = await ledger.set_status(db, job.org_id, job.id, status)
        assert changed is not None
        return changed

    job = run_with_store(database_url, work)
    if job.status is not status and not (status is JobStatus.PROCESSING and job.status is JobStatus.ENDED):
        stderr.print(f"[red]Error:[/red] job {job.id} is {job.status.value}", highlight=False)
        raise typer.Exit(code=1)
    stdout.print(f"job {job.id}: {job.status.value}", highlight=False)


@jobs_app.command()
def pause(job_id: int, database_url: DatabaseUrl = None) -> None:
    """Stop claiming rows (rows in flight finish)."""
    _change(job_id, database_url, JobStatus.PAUSED)


@jobs_app.command()
def resume(job_id: int, database_url: DatabaseUrl = None) -> None:
    """Continue a paused job (a running server picks it up within one reconcile interval)."""
    _change(job_id, database_url, JobStatus.PROCESSING)


@jobs_app.command()
def cancel(job_id: int, database_url: DatabaseUrl = None) -> None:
    """Stop a job for good; rows done so far stay downloadable."""
    _change(job_id, database_url, JobStatus.CANCELLED)


@jobs_app.command()
def download(
    job_id: int,
    output: Annotated[Path, typer.Option("-o", "--output", help="CSV file to write.", dir_okay=False)],
    database_url: DatabaseUrl = None,
) -> None:
    """Write the input columns plus the result columns as CSV (cells neutralised for spreadsheets)."""
    from mailsleuth.api.resultfiles import result_cells, result_columns

    async def work(db: Database) -> int:
        job = await _job(db, job_id)
        if not bulk.result_available(job):
            raise UserError(f"the results of job {job.id} have expired")
        rows = 0
        with output.open("w", encoding="utf-8", newline="") as stream:
            writer = SafeWriter(stream)
            writer.writerow(result_columns(job))
            async for row_input, result in bulk.iter_results(db, job.org_id, job.id):
                writer.writerow(result_cells(job, row_input, result))
                rows += 1
        return rows

    rows = run_with_store(database_url, work)
    stdout.print(f"wrote {rows} rows to {output}", highlight=False)


def worker(
    broker_url: Annotated[
        str | None,
        typer.Option(
            help="Task queue broker (redis://... or amqp://...) [default: MAILSLEUTH_BROKER_URL]", show_default=False
        ),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Run bulk-job slices from the task queue (the scale-out; the embedded server needs none)."""
    overrides = {k: v for k, v in {"broker_url": broker_url, "database_url": database_url}.items() if v}
    settings = get_settings().model_copy(update=overrides)
    if not settings.broker_url:
        stderr.print("[red]Error:[/red] a worker needs a broker: set MAILSLEUTH_BROKER_URL or --broker-url")
        raise typer.Exit(code=2)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    """Run until the queue fails or SIGTERM (systemd, compose) asks for a clean stop: the runtime's
    close hands the unfinished slices back to the ledger for the other workers. The runtime gets the
    dialects' webhook shapes, since a worker ends jobs (and so announces them) as often as the server."""
    from mailsleuth.api.dialects import DIALECTS
    from mailsleuth.jobs.runtime import Runtime

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    db = Database.from_settings(settings)
    await db.migrate()
    runtime = Runtime(settings, db, notices=DIALECTS.notices())
    runtime.start()
    heap.settle()
    work = asyncio.create_task(runtime.queue.work(), name="worker", context=store.background_context())
    stopping = asyncio.create_task(stop.wait(), name="sigterm")
    try:
        await asyncio.wait((work, stopping), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (work, stopping):
            task.cancel()
        await asyncio.gather(work, stopping, return_exceptions=True)
        await runtime.close()
        await db.dispose()
    if work.done() and not work.cancelled() and work.exception() is not None:
        raise work.exception()  # type: ignore[misc]
