"""The `mailsleuth` command: the engine from a terminal, no server needed.

Exit codes (the worst result among the inputs wins): 0 deliverable / found and verified,
1 risky / best guess, 3 undeliverable / not found, 4 unknown, 2 bad input or usage.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import IO, Annotated, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table as RichTable

from mailsleuth.service import csvfiles
from mailsleuth.cli.admin import admin_app
from mailsleuth.cli.serve import serve
from mailsleuth.cli.doctor import doctor
from mailsleuth.cli.jobs import jobs_app, worker
from mailsleuth.cli.people import import_people
from mailsleuth.config import Settings
from mailsleuth.engine.domains import InvalidAddress, InvalidDomain, parse_address
from mailsleuth.engine.names import InvalidName, PersonName, parse_name
from mailsleuth.engine.patterns import Convention, domain_patterns
from mailsleuth.engine.pipeline import ordered_map
from mailsleuth.engine.results import FindResult, Verdict, VerifyResult
from mailsleuth.engine.verify import Verifier
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.finding import Finding
from mailsleuth.store import Database

app = typer.Typer(help="Find and verify professional email addresses.", no_args_is_help=True)
app.command()(serve)
app.add_typer(admin_app, name="admin")
app.command("import")(import_people)
app.add_typer(jobs_app, name="jobs")
app.command()(worker)
app.command()(doctor)
console = Console()
errors = Console(stderr=True)

EXIT_BAD_INPUT = 2
_VERDICT_EXIT = {
    Verdict.DELIVERABLE: 0, Verdict.RISKY: 1, Verdict.UNDELIVERABLE: 3, Verdict.NOT_FOUND: 3, Verdict.UNKNOWN: 4,
}
_SEVERITY = [0, 1, 4, 3]  # exit codes from best to worst

VERIFY_COLUMNS = ["verdict", "score", "is_deliverable", "is_risky", "is_bounce", "catch_all", "reason", "smtp_code"]
FIND_COLUMNS = ["email", "score", "verdict", "pattern", "confidence", "reason"]

StoreUrl = Annotated[
    Optional[str],
    typer.Option("--db", "--database-url", help="Where finds keep what they learn [default: MAILSLEUTH_DATABASE_URL].",
                 show_default=False),
]
NoWeb = Annotated[bool, typer.Option("--no-web", help="Do not read company websites before probing.")]


def _settings(ctx: typer.Context) -> Settings:
    return ctx.ensure_object(dict)["settings"]


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(EXIT_BAD_INPUT)


def _worst(codes: list[int]) -> int:
    return max(codes, key=_SEVERITY.index, default=0)


@app.callback()
def main(
    ctx: typer.Context,
    dns_servers: Annotated[Optional[str], typer.Option(help="Comma-separated host[:port] resolvers.")] = None,
    smtp_port: Annotated[Optional[int], typer.Option(help="Port of mail servers.")] = None,
    helo_name: Annotated[Optional[str], typer.Option(help="Name sent in EHLO/HELO.")] = None,
    mail_from: Annotated[Optional[str], typer.Option(help="Envelope sender for probes.")] = None,
    allow_private_networks: Annotated[
        Optional[bool], typer.Option(help="Allow probing mail hosts on private/loopback addresses.")
    ] = None,
) -> None:
    """Options here override MAILSLEUTH_* environment variables."""
    overrides = {
        key: value
        for key, value in {
            "dns_servers": dns_servers,
            "smtp_port": smtp_port,
            "helo_name": helo_name,
            "mail_from": mail_from,
            "allow_private_networks": allow_private_networks,
        }.items()
        if value is not None
    }
    try:
        ctx.ensure_object(dict)["settings"] = Settings(**overrides)
    except ValueError as exc:
        raise _fail(f"bad setting: {exc}") from None


def _verify_row(result: VerifyResult) -> list[object]:
    return [
        result.verdict.value,
        result.score if result.score is not None else "",
        result.verdict is Verdict.DELIVERABLE,
        result.verdict is Verdict.RISKY,
        result.verdict is Verdict.UNDELIVERABLE,
        "" if result.catch_all is None else result.catch_all,
        result.reason,
        result.smtp_code or "",
    ]


@app.command()
def verify(
    ctx: typer.Context,
    addresses: Annotated[list[str], typer.Argument(help="Addresses to verify.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines with the full evidence.")] = False,
    smtp: Annotated[bool, typer.Option(help="Probe the mail servers (off: syntax and DNS only).")] = True,
    wait_greylisted: Annotated[bool, typer.Option(help="Wait out greylisting and retry once.")] = False,
) -> None:
    """Verify addresses: deliverable, risky, undeliverable or unknown, with the evidence."""
    bad = []
    for address in addresses:
        try:
            parse_address(address)
        except InvalidAddress as exc:
            bad.append(f"bad address {address!r}: {exc}")
    if bad:
        raise _fail("; ".join(bad))

    async def run() -> list[VerifyResult]:
        async with Verifier(_settings(ctx)) as verifier:
            return [
                r async for r in verifier.verify_many(addresses, smtp=smtp, wait_greylisted=wait_greylisted)
            ]

    results = asyncio.run(run())
    if as_json:
        for result in results:
            console.print_json(json.dumps(result.to_dict()))
    else:
        table = RichTable("address", "verdict", "score", "reason", "catch-all", "smtp reply")
        for r in results:
            reply = f"{r.smtp_code or ''} {r.enhanced_status or ''} {r.smtp_text or ''}".strip()
            catch_all = "" if r.catch_all is None else ("yes" if r.catch_all else "no")
            table.add_row(r.email, r.verdict.value, str(r.score or ""), r.reason, catch_all, reply[:60])
        console.print(table)
    raise typer.Exit(_worst([_VERDICT_EXIT[r.verdict] for r in results]))


def _find_exit(result: FindResult) -> int:
    if result.email is None:
        return _VERDICT_EXIT[result.verdict] if result.verdict is not Verdict.UNKNOWN else 4
    return 0 if result.verdict is Verdict.DELIVERABLE else 1


@contextlib.asynccontextmanager
async def _finding(settings: Settings, verifier: Verifier, database_url: str | None, web: bool) -> AsyncIterator[Finding]:
    """The find service on the local store, so the CLI learns across runs exactly as the server does."""
    db = Database(database_url or settings.database_url)
    try:
        await db.migrate()
        yield Finding(db, settings, verifier, web=web)
    finally:
        await db.dispose()


def _company_or_domain(value: str) -> tuple[str | None, str | None]:
    """"acme.com" (or a URL) is a domain; "Ravenridge AG" is a company name to locate."""
    return (value, None) if "." in value and " " not in value.strip() else (None, value)


@app.command()
def find(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help='Full name, e.g. "Jane Doe".')] = None,
    domain: Annotated[Optional[str], typer.Argument(help="Company domain (acme.com) or name (\"Acme GmbH\").")] = None,
    first: Annotated[Optional[str], typer.Option(help="First name (instead of NAME).")] = None,
    middle: Annotated[Optional[str], typer.Option(help="Middle name.")] = None,
    last: Annotated[Optional[str], typer.Option(help="Last name.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON with the full evidence.")] = False,
    smtp: Annotated[bool, typer.Option(help="Probe the mail servers (off: best guess only).")] = True,
    database_url: StoreUrl = None,
    no_web: NoWeb = False,
) -> None:
    """Find a person's address at a company (domain or name)."""
    if first or last:
        if domain is None:  # `find --first Jane --last Doe acme.com`: the lone argument is the domain
            name, domain = None, name
        if name is not None:
            raise _fail("give either NAME or --first/--last, not both")
    if not domain:
        raise _fail("missing DOMAIN")
    try:
        person = parse_name(name, first=first, middle=middle, last=last) if name else parse_name(
            first=first, middle=middle, last=last
        )
    except InvalidName as exc:
        raise _fail(f"bad name: {exc}") from None

    async def run() -> FindResult:
        settings = _settings(ctx)
        async with Verifier(settings) as verifier, _finding(settings, verifier, database_url, not no_web) as finding:
            return await finding.find(person, *_company_or_domain(domain), smtp=smtp)

    try:
        result = asyncio.run(run())
    except (InvalidDomain, ServiceError) as exc:
        raise _fail(f"bad company or domain: {exc}") from None
    if as_json:
        console.print_json(json.dumps(result.to_dict()))
    elif result.email:
        console.print(f"{result.email}  score {result.score}  confidence {result.confidence}  "
                      f"{result.verdict.value}  ({result.reason})")
        console.print(f"pattern {result.pattern}; tried {', '.join(result.candidates_tried) or 'nothing'}")
        for source in result.sources:
            console.print(f"published on {source}")
    else:
        console.print(f"not found: {result.verdict.value} ({result.reason})")
    raise typer.Exit(_find_exit(result))


@app.command()
def patterns(
    domain: Annotated[str, typer.Argument(help="The company domain.")],
    known: Annotated[Path, typer.Option(help="CSV of known addresses (email, and name or first/last).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Learn a domain's address convention from known addresses (Kaspr's domainPattern shape)."""
    convention = Convention()
    try:
        with csvfiles.open_input(known) as stream:
            table = csvfiles.open_table(stream, str(known))
            email_col = csvfiles.find_column(table.header, None, csvfiles.ADDRESS_COLUMNS, "address")
            name_cols = _name_columns(table.header, None, required=False)
            for row in table.rows:
                local, _, at = row[email_col].strip().lower().rpartition("@")
                if not local or at != domain.lower():
                    continue
                person = _row_name(row, name_cols) if name_cols else None
                convention.observe(local, person)
    except csvfiles.CsvProblem as exc:
        raise _fail(str(exc)) from None
    scored = domain_patterns(convention, domain)
    if as_json:
        console.print_json(json.dumps({"patterns": scored, "evidence": convention.evidence}))
    else:
        for entry in scored:
            console.print(f"{entry['score']:.3f}  {entry['pattern']}")
        console.print(f"({convention.evidence} addresses matched a known pattern)")


def _name_columns(header: list[str], wanted: Optional[str], *, required: bool = True) -> dict[str, int] | None:
    """Where the person's name is: one full-name column, or first/middle/last columns."""
    if wanted:
        return {"full": csvfiles.find_column(header, wanted, (), "name")}
    full = csvfiles.optional_column(header, ("full_name", "name", "fullname"))
    if full is not None:
        return {"full": full}
    first = csvfiles.optional_column(header, ("first", "first_name", "firstname"))
    last = csvfiles.optional_column(header, ("last", "last_name", "lastname"))
    if first is not None and last is not None:
        columns = {"first": first, "last": last}
        middle = csvfiles.optional_column(header, ("middle", "middle_name"))
        if middle is not None:
            columns["middle"] = middle
        return columns
    if required:
        raise csvfiles.CsvProblem(f"no name columns: need full_name, or first and last; header has {', '.join(header)}")
    return None


def _row_name(row: list[str], columns: dict[str, int]) -> PersonName:
    if "full" in columns:
        return parse_name(row[columns["full"]])
    return parse_name(
        first=row[columns["first"]], middle=row[columns["middle"]] if "middle" in columns else None,
        last=row[columns["last"]],
    )


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"), TimeElapsedColumn(), console=errors, transient=False,
        disable=not errors.is_terminal,
    )


RowWork = Callable[[list[str]], Awaitable[tuple[list[object], str]]]
OpenWork = Callable[[Verifier], AbstractAsyncContextManager[RowWork]]


def _process_file(
    ctx: typer.Context,
    table: csvfiles.Table,
    stream: IO[str],
    output: Path,
    columns: list[str],
    open_work: OpenWork,
    concurrency: int,
) -> None:
    """Stream rows through ``work`` into ``output`` (input columns + ``columns``), in input order.

    Only ``concurrency`` rows are held at once, so a file of any size runs in bounded memory.
    """

    async def run() -> dict[str, int]:
        counts: dict[str, int] = {}
        with output.open("w", encoding="utf-8", newline="") as out, _progress() as progress:
            writer = csvfiles.SafeWriter(out)
            writer.writerow(table.header + columns)
            task = progress.add_task(ctx.info_name or "", total=None, rate="-")
            async with Verifier(_settings(ctx)) as verifier, open_work(verifier) as work:
                async for row, (cells, key) in ordered_map(table.rows, work, concurrency):
                    writer.writerow(row + cells)
                    counts[key] = counts.get(key, 0) + 1
                    _advance(progress, task, sum(counts.values()))
        return counts

    try:
        with stream:
            counts = asyncio.run(run())
    except csvfiles.CsvProblem as exc:
        raise _fail(f"{exc} (the rows before it are in {output})") from None
    errors.print(_summary(counts), highlight=False)


@app.command("verify-file")
def verify_file(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Input CSV with an address column.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output CSV.")],
    column: Annotated[Optional[str], typer.Option(help="Address column name (default: email/address/mail).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=100_000, help="Checks in flight.")] = 1000,
    smtp: Annotated[bool, typer.Option(help="Probe the mail servers.")] = True,
    wait_greylisted: Annotated[bool, typer.Option(help="Wait out greylisting and retry those rows once.")] = False,
) -> None:
    """Verify every address of a CSV file, streaming rows of any size, input columns kept."""
    try:
        stream = csvfiles.open_input(source)
        table = csvfiles.open_table(stream, str(source))
        address_col = csvfiles.find_column(table.header, column, csvfiles.ADDRESS_COLUMNS, "address")
    except csvfiles.CsvProblem as exc:
        raise _fail(str(exc)) from None

    @contextlib.asynccontextmanager
    async def open_work(verifier: Verifier) -> AsyncIterator[RowWork]:
        async def work(row: list[str]) -> tuple[list[object], str]:
            result = await verifier.verify(row[address_col], smtp=smtp, wait_greylisted=wait_greylisted)
            return _verify_row(result), result.verdict.value

        yield work

    _process_file(ctx, table, stream, output, VERIFY_COLUMNS, open_work, concurrency)


@app.command("find-file")
def find_file(
    ctx: typer.Context,
    source: Annotated[Path, typer.Argument(help="Input CSV with names and domains.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output CSV.")],
    name_column: Annotated[Optional[str], typer.Option(help="Full-name column (default: full_name, or first/last).")] = None,
    domain_column: Annotated[Optional[str], typer.Option(help="Domain column (default: domain, website).")] = None,
    company_column: Annotated[Optional[str], typer.Option(help="Company-name column (default: company).")] = None,
    concurrency: Annotated[int, typer.Option(min=1, max=100_000, help="Finds in flight.")] = 200,
    smtp: Annotated[bool, typer.Option(help="Probe the mail servers.")] = True,
    database_url: StoreUrl = None,
    no_web: NoWeb = False,
) -> None:
    """Find addresses for every person of a CSV file (by domain, else company name); an empty
    email when nothing is found. What each find learns serves the next rows and later runs."""
    try:
        stream = csvfiles.open_input(source)
        table = csvfiles.open_table(stream, str(source))
        name_cols = _name_columns(table.header, name_column)
        domain_col = _optional(table.header, domain_column, ("domain", "website", "company_domain"), "domain")
        company_col = _optional(table.header, company_column, ("company", "company_name", "organization"), "company")
        if domain_col is None and company_col is None:
            raise csvfiles.CsvProblem(f"no domain or company column; header has {', '.join(table.header)}")
    except csvfiles.CsvProblem as exc:
        raise _fail(str(exc)) from None

    @contextlib.asynccontextmanager
    async def open_work(verifier: Verifier) -> AsyncIterator[RowWork]:
        async with _finding(_settings(ctx), verifier, database_url, not no_web) as finding:

            async def work(row: list[str]) -> tuple[list[object], str]:
                domain = row[domain_col].strip() if domain_col is not None else ""
                company = row[company_col].strip() if company_col is not None else ""
                try:
                    result = await finding.find(_row_name(row, name_cols), domain or None, company or None, smtp=smtp)
                except (InvalidName, InvalidDomain, ServiceError) as exc:
                    return ["", "", Verdict.UNKNOWN.value, "", "", f"bad input: {exc}"], "bad input"
                cells: list[object] = [result.email or "", result.score or "", result.verdict.value]
                cells += [result.pattern or "", "" if result.confidence is None else result.confidence, result.reason]
                return cells, "found" if result.email else "not found"

            yield work

    _process_file(ctx, table, stream, output, FIND_COLUMNS, open_work, concurrency)


def _optional(header: list[str], wanted: Optional[str], defaults: tuple[str, ...], what: str) -> int | None:
    """A named column (an error when absent), else the first default present, else None."""
    if wanted:
        return csvfiles.find_column(header, wanted, (), what)
    return csvfiles.optional_column(header, defaults)


def _advance(progress: Progress, task: TaskID, done: int) -> None:
    if done % 100 == 0:
        elapsed = progress.tasks[task].elapsed or 1e-9
        progress.update(task, completed=done, rate=f"{done / elapsed:.0f}")


def _summary(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    parts = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"{total} rows: {parts}" if total else "0 rows"
