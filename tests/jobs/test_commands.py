"""`mailsleuth jobs ...` through typer's CliRunner on a real database file."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mailsleuth.cli.jobs import jobs_app
from mailsleuth.store import CreditKind, Database
from mailsleuth.store import bulk as ledger
from tests.jobs.conftest import make_principal

cli = CliRunner()


def _jobs(url: str, *args: str) -> tuple[int, str]:
    command, *rest = args
    result = cli.invoke(jobs_app, [command, *rest, "--database-url", url])
    return result.exit_code, result.output


def _half_done_verify_job(url: str) -> int:
    """A verify job of 3 rows whose first 2 rows were completed through the ledger (no network)."""

    async def build() -> int:
        db = Database(url)
        try:
            who = await make_principal(db, "cli-org")
            job = await ledger.create_job(
                db,
                who.org_id,
                user_id=who.user_id,
                kind="verify",
                token="cli-token",
                options={},
                webhook=None,
                filename="in.csv",
                columns=["email", "note"],
                list_id=None,
                rerun_frequency=None,
                retention_hours=None,
                slice_rows=10,
            )
            rows: list[tuple[dict[str, Any], str | None]] = [
                ({"email": "a@x.test", "note": "=HYPERLINK(1)"}, "x.test"),
                ({"email": "b@x.test", "note": ""}, "x.test"),
                ({"email": "c@x.test", "note": "later"}, "x.test"),
            ]
            await ledger.add_rows(db, job.id, 0, rows)
            await ledger.seal_job(db, job.id, quantity=3, list_id=None, window=1)
            assert await ledger.lease_slice(db, job.id, 0, "cli:1:x", lease_seconds=60)
            claimed = await ledger.claim_rows(
                db, job.id, 0, "cli:1:x", limit=2, lease_seconds=60, credit_kind=CreditKind.VERIFY
            )
            outcomes = [
                ledger.RowOutcome(
                    claimed[0].position,
                    ledger.RowState.DONE,
                    {"email": "a@x.test", "verdict": "deliverable"},
                    verdict="deliverable",
                    success=True,
                    charge=True,
                ),
                ledger.RowOutcome(
                    claimed[1].position,
                    ledger.RowState.DONE,
                    {"email": "b@x.test", "verdict": "undeliverable"},
                    verdict="undeliverable",
                    success=True,
                    charge=True,
                ),
            ]
            await ledger.complete_rows(db, job.id, "cli:1:x", outcomes, credit_kind=CreditKind.VERIFY)
            return job.id
        finally:
            await db.dispose()

    return asyncio.run(build())


def test_list_show_pause_resume_cancel(database_url: str) -> None:
    job_id = _half_done_verify_job(database_url)
    code, output = _jobs(database_url, "list", "--org", "cli-org", "--kind", "verify")
    assert code == 0 and f"{job_id}" in output and "2/3" in output and "in.csv" in output
    assert _jobs(database_url, "list", "--org", "nobody")[0] == 2

    code, output = _jobs(database_url, "show", str(job_id))
    assert code == 0 and "PROCESSING" in output and "2/3" in output and "deliverable" in output

    assert _jobs(database_url, "pause", str(job_id)) == (0, f"job {job_id}: PAUSED\n")
    assert _jobs(database_url, "resume", str(job_id)) == (0, f"job {job_id}: PROCESSING\n")
    assert _jobs(database_url, "cancel", str(job_id)) == (0, f"job {job_id}: CANCELLED\n")
    code, output = _jobs(database_url, "pause", str(job_id))
    assert code == 1 and "CANCELLED" in output
    assert _jobs(database_url, "show", "999")[0] == 2


def test_download_writes_input_and_result_columns_neutralised(database_url: str, tmp_path: Path) -> None:
    job_id = _half_done_verify_job(database_url)
    out = tmp_path / "out.csv"
    code, output = _jobs(database_url, "download", str(job_id), "-o", str(out))
    assert code == 0, output
    with out.open(newline="") as stream:
        header, *lines = list(csv.reader(stream))
    assert header[:4] == ["email", "note", "is_deliverable", "is_risky"]
    rows = [dict(zip(header, line)) for line in lines]
    assert [r["email"] for r in rows] == ["a@x.test", "b@x.test", "c@x.test"]
    assert rows[0]["note"].startswith("'=") and rows[0]["is_deliverable"] == "True"
    assert rows[1]["is_bounce"] == "True" and rows[2]["verdict"] == "" and rows[2]["note"] == "later"


def test_a_worker_needs_a_broker(database_url: str) -> None:
    import typer

    from mailsleuth.cli.jobs import worker

    app = typer.Typer()
    app.command()(worker)
    result = cli.invoke(app, ["--database-url", database_url], env={"MAILSLEUTH_BROKER_URL": ""})
    assert result.exit_code == 2 and "broker" in result.output
