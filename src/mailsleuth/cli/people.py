"""`mailsleuth import`: people from a CSV export into an organisation's contacts, on the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import phonenumbers
import typer

from mailsleuth import store
from mailsleuth.cli.store import DatabaseUrl, UserError, run_with_store
from mailsleuth.service.csvfiles import open_input
from mailsleuth.store import Database


async def _org_id(db: Database, org: str | None) -> int:
    if org is not None:
        found = await store.find_org(db, org)
        if found is None:
            raise UserError(f"unknown organisation {org!r}")
        return found.id
    orgs = await store.list_orgs(db)
    if len(orgs) != 1:
        raise UserError(f"{len(orgs)} organisations in the database: choose one with --org")
    return orgs[0].id


def import_people(
    path: Annotated[Path, typer.Argument(help="CSV with name (or first/last) and any of company, domain, "
                                              "title, linkedin, phone, location, email.")],
    org: Annotated[str | None, typer.Option("--org", help="Organisation name or id [default: the only one].")] = None,
    default_region: Annotated[
        str | None, typer.Option("--default-region", help="Country (ISO code, e.g. FR) of phones written without +.")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Import people as contacts. Bad rows are reported with their line numbers (exit code 1)."""
    if default_region is not None and default_region.upper() not in phonenumbers.SUPPORTED_REGIONS:
        typer.echo(f"error: --default-region {default_region!r} is not a country code such as FR or US", err=True)
        raise typer.Exit(2)

    # imported here: the phone-number locale data it loads weighs ~100 MB, which every other command
    # (verify-file on a million rows included) would otherwise carry
    from mailsleuth.service.people import ImportReport, parse_people_csv, store_people

    async def work(db: Database) -> ImportReport:
        org_id = await _org_id(db, org)
        with open_input(path) as stream:
            parsed = parse_people_csv(stream, default_region=default_region, source=str(path))
        return await store_people(db, org_id, parsed)

    report = run_with_store(database_url, work)  # a bad file or org: one line, exit code 2
    typer.echo(f"imported {report.created + report.updated} people ({report.created} new, {report.updated} updated)")
    for bad in report.bad:
        typer.echo(f"{path}:{bad.line}: {bad.error}", err=True)
    if report.bad:
        typer.echo(f"{len(report.bad)} bad row(s) skipped", err=True)
        raise typer.Exit(1)
