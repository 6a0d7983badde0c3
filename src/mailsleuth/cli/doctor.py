"""`mailsleuth doctor`: can this host verify addresses? Each check with what to fix."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Optional

import typer
from rich.console import Console

from mailsleuth.config import Settings
from mailsleuth.engine.dns import Resolver
from mailsleuth.engine.doctor import DoctorConfig, Report, Status, diagnose

_MARKS = {Status.OK: "[green]ok[/green]  ", Status.WARN: "[yellow]warn[/yellow]", Status.FAIL: "[red]FAIL[/red]",
          Status.SKIPPED: "[dim]skip[/dim]"}


async def run_doctor(settings: Settings) -> Report:
    """The checks for these settings, through the configured resolvers."""
    return await diagnose(Resolver.from_settings(settings), DoctorConfig.from_settings(settings))


def doctor(
    ctx: typer.Context,
    mail_host: Annotated[Optional[str], typer.Option(help="Mail host (or domain) whose port 25 is tried.")] = None,
    blocklists: Annotated[Optional[str], typer.Option(help="Comma-separated DNS blocklist zones.")] = None,
    outgoing_address: Annotated[
        Optional[str], typer.Option(help="The public address mail hosts see (behind NAT).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check port 25, the outgoing address, its reverse DNS and blocklist listings, and the MAIL FROM
    domain. Exit code 0 when nothing failed (warnings allowed), 1 otherwise."""
    base = ctx.obj["settings"] if isinstance(ctx.obj, dict) and "settings" in ctx.obj else Settings()
    overrides = {"doctor_mail_host": mail_host, "doctor_blocklists": blocklists,
                 "doctor_outgoing_address": outgoing_address}
    settings = base.model_copy(update={key: value for key, value in overrides.items() if value is not None})
    report = asyncio.run(run_doctor(settings))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        console = Console(soft_wrap=True, highlight=False)
        for check in report.checks:
            console.print(f"{_MARKS[check.status]}  {check.name:<17} {check.summary}")
            if check.fix:
                console.print(f"        fix: {check.fix}")
        console.print("healthy: nothing failed" if report.healthy else "not healthy: fix the FAIL lines first")
    raise typer.Exit(0 if report.healthy else 1)
