"""How well `mailsleuth find-file` finds people, measured as a user would see it.

    python bench/find_quality.py --companies 60 --seeds 1,2,3 [--keep] [--timeout 900]
    python bench/find_quality.py --cli-arg=--no-web           # options appended to `find-file`
    PYTHONPATH=/other/checkout/src python bench/find_quality.py   # measure another version of the CLI

For each seed a company world (tests/webworld/companies.py: DNS, mail servers and websites on
loopback, with the truth about every person) is served, a people CSV is written (full_name plus
either domain or, for about one row in five, only the company name), and the real CLI runs in a
subprocess twice on one SQLite database:

  pass 1, first contact:  every published person and half of the ordinary employees of each company;
  pass 2, after learning: the other half of the ordinary employees. They are different people at the
                          same companies, so pass 2 gains only from what pass 1 taught (conventions,
                          crawled websites, resolved company names), never from remembered answers.

The output CSV (email, score, verdict, pattern) is scored against the truth. The mail servers count
RCPT and DATA commands and concurrent connections, the web world counts requests. Figures only: no
assertion, and each CLI run is killed after --timeout seconds (what it wrote by then is scored).
Nothing from mailsleuth is imported here (only the CLI is measured); tests.mailworld itself imports
mailsleuth.config for its settings() helper.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.webworld.companies import (  # noqa: E402
    PROVIDER_MX,
    Company,
    CompanyWorld,
    Person,
    RunningWorld,
    ServerKind,
    WireCounters,
    build_company_world,
    serve_company_world,
)

COMPANY_ROW_SHARE = 0.2  # rows that name the company instead of its domain
SCORE_BANDS = ((0, 49), (50, 69), (70, 89), (90, 99), (100, 100))
DEFAULT_CONNECTION_LIMIT = "2"  # MAILSLEUTH_MAX_CONNECTIONS_PER_HOST's documented default
PASS_NAMES = ("first contact", "after learning")
CELL = 20  # printed column width
LISTED = ("verdicts", "CLI")  # figures printed one line per pass

# Accuracy figures, in print order: key -> label.
ACCURACY = {
    "honest": "ordinary people (no namesake), honest servers: correct (recall)",
    "catch_all": "ordinary people, catch-all servers: top guess correct",
    "blocking": "ordinary people, blocking servers: correct",
    "published": "published people: correct",
    "namesake": "namesakes (address with a digit): correct",
    "company_domain": "company-name rows: answer at the right domain",
    "score100": "score-100 answers: correct (precision)",
}


@dataclass(frozen=True)
class Row:
    person: Person
    company: Company
    by_company: bool  # the CSV gives the company name, not the domain


@dataclass
class Tally:
    """Everything one or more CLI runs scored; tallies of several seeds merge by addition."""

    n: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    verdicts: Counter[str] = field(default_factory=Counter)
    band_n: Counter[str] = field(default_factory=Counter)
    band_ok: Counter[str] = field(default_factory=Counter)
    wire: Counter[str] = field(default_factory=Counter)
    peak: int = 0
    peak_shared: int = 0
    seconds: float = 0.0
    exits: list[str] = field(default_factory=list)

    def merge(self, other: Tally) -> Tally:
        return Tally(
            self.n + other.n, self.ok + other.ok, self.verdicts + other.verdicts, self.band_n + other.band_n,
            self.band_ok + other.band_ok, self.wire + other.wire, max(self.peak, other.peak),
            max(self.peak_shared, other.peak_shared), self.seconds + other.seconds, self.exits + other.exits,
        )

    def count(self, key: str, correct: bool) -> None:
        self.n[key] += 1
        self.ok[key] += correct


# --- the input ---------------------------------------------------------------------------------------


def plan_passes(world: CompanyWorld) -> tuple[list[Row], list[Row]]:
    """Pass 1: published people plus half of the ordinary ones; pass 2: the other half. Rows are
    shuffled (a user's file mixes companies) and about one in five names only the company."""
    rng = random.Random(f"rows-{world.seed}")
    first: list[Row] = []
    second: list[Row] = []
    for company in world.companies:
        ordinary = company.ordinary
        rng.shuffle(ordinary)
        rows = [Row(p, company, rng.random() < COMPANY_ROW_SHARE) for p in company.published + ordinary]
        first += rows[: len(company.published) + len(ordinary) // 2]
        second += rows[len(company.published) + len(ordinary) // 2 :]
    rng.shuffle(first)
    rng.shuffle(second)
    return first, second


def write_people(rows: Sequence[Row], path: Path, rng: random.Random) -> None:
    """ref, full_name, company, domain: each row fills one of company and domain, as CRM exports do."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ref", "full_name", "company", "domain"])
        for row in rows:
            company = rng.choice((row.company.name, row.company.short_name)) if row.by_company else ""
            writer.writerow([row.person.ref, row.person.full_name, company, "" if row.by_company else row.company.domain])


def write_truth(world: CompanyWorld, path: Path) -> None:
    """The answer key next to the outputs, for reading a kept run by eye."""
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ref", "full_name", "address", "published", "namesake", "company", "server", "convention"])
        for company in world.companies:
            for p in company.people:
                writer.writerow([p.ref, p.full_name, p.address, p.published, p.namesake, company.name,
                                 company.server.value, company.convention])


# --- running the CLI ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CliRun:
    exit_code: int | None  # None: killed at the timeout
    seconds: float
    stderr_tail: str


def run_find_file(
    cli: Sequence[str], people: Path, found: Path, env: Mapping[str, str], timeout: float, extra: Sequence[str]
) -> CliRun:
    """`<cli> find-file people -o found`, in its own process group so a timeout kills all of it."""
    started = time.monotonic()
    with subprocess.Popen(
        [*cli, "find-file", str(people), "-o", str(found), *extra], env=dict(env), stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    ) as process:
        try:
            _, stderr = process.communicate(timeout=timeout)
            code: int | None = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            _, stderr = process.communicate()
            code = None
    return CliRun(code, time.monotonic() - started, "\n".join(stderr.strip().splitlines()[-3:]))


def read_found(path: Path) -> dict[str, dict[str, str]]:
    """Output rows by ref; a run killed early leaves a partial file, a crashed one none."""
    if not path.exists():
        return {}
    with path.open(encoding="utf-8", newline="") as stream:
        return {row.get("ref", ""): row for row in csv.DictReader(stream)}


# --- scoring -----------------------------------------------------------------------------------------


def _group(row: Row) -> str:
    if row.person.published:
        return "published"
    if row.person.namesake:  # counted on their own row: SMTP cannot tell two namesakes' mailboxes apart
        return "namesake_only"
    return {ServerKind.STRICT: "honest", ServerKind.CATCH_ALL: "catch_all", ServerKind.BLOCKING: "blocking"}[
        row.company.server
    ]


def _score(text: str) -> int | None:
    try:
        return round(float(text))
    except ValueError:
        return None


def _band(score: int | None) -> str:
    if score is None:
        return "no score"
    return next((f"{lo}-{hi}" if lo != hi else str(lo) for lo, hi in SCORE_BANDS if lo <= score <= hi), "other")


def score_rows(rows: Sequence[Row], found: Mapping[str, Mapping[str, str]], tally: Tally) -> None:
    """Compare each answer with the person's true address (every person has a live mailbox)."""
    for row in rows:
        answer = found.get(row.person.ref)
        email = (answer.get("email") or "").strip().lower() if answer else ""
        correct = email == row.person.address
        tally.count(_group(row), correct)
        if row.person.namesake:
            tally.count("namesake", correct)
        if row.by_company:
            tally.count("company_domain", email.endswith("@" + row.company.domain))
        score = _score(answer.get("score") or "") if answer else None
        if email and score == 100:
            tally.count("score100", correct)
        verdict = (answer.get("verdict") or "?") if answer else "missing row"
        tally.verdicts[verdict] += 1
        if verdict == "undeliverable":
            tally.n[f"undeliverable:{_group(row)}"] += 1
        if email:  # calibration: the stated confidence where the CLI gives one, else the score
            stated = _score(answer.get("confidence") or "") if answer and "confidence" in answer else score
            tally.band_n[_band(stated)] += 1
            tally.band_ok[_band(stated)] += correct
        tally.n["rows"] += 1
        tally.n["by_company"] += row.by_company
        tally.n["correct"] += correct


def run_pass(
    running: RunningWorld, rows: Sequence[Row], workdir: Path, label: str, env: Mapping[str, str], args: argparse.Namespace
) -> Tally:
    people, found = workdir / f"people-{label}.csv", workdir / f"found-{label}.csv"
    write_people(rows, people, random.Random(f"{running.world.seed}-{label}"))
    running.reset_peaks()
    before = running.snapshot()
    run = run_find_file(shlex.split(args.cli), people, found, env, args.timeout, args.cli_arg)
    wire = running.snapshot().since(before)
    tally = Tally()
    score_rows(rows, read_found(found), tally)
    _count_wire(tally, wire)
    tally.seconds = run.seconds
    exit_text = "killed at timeout" if run.exit_code is None else f"exit {run.exit_code}"
    tally.exits.append(exit_text)
    if run.exit_code not in (0, 1, 3, 4):  # 2 or a crash: show why
        print(f"  [{label}] {exit_text}: {run.stderr_tail}")
    return tally


def _count_wire(tally: Tally, wire: WireCounters) -> None:
    tally.wire.update(rcpt=wire.rcpt, data=wire.data, connections=wire.connections, pages=wire.pages,
                      dns=wire.dns_queries, blocked_replies=wire.blocked_replies, blocked_hosts=wire.blocked_hosts)
    tally.peak = max(wire.peak_connections.values(), default=0)
    tally.peak_shared = wire.peak_connections.get(PROVIDER_MX, 0)


# --- printing ----------------------------------------------------------------------------------------


def _ratio(ok: int, n: int) -> str:
    return f"{ok}/{n} {ok / n:6.1%}" if n else "-"


def _per(value: int, n: int) -> str:
    return f"{value / n:.2f} ({value}/{n})" if n else f"- ({value}/0)"


def figures(tally: Tally, limit: str) -> list[tuple[str, str]]:
    rows = [("rows (of them given a company name only)", f"{tally.n['rows']} ({tally.n['by_company']})")]
    rows += [(label, _ratio(tally.ok[key], tally.n[key])) for key, label in ACCURACY.items()]
    correct = tally.n["correct"]
    rows += [
        ("live mailboxes reported undeliverable (must be 0)", str(tally.verdicts["undeliverable"])),
        ("  of them at honest / catch-all / blocking / published",
         " / ".join(str(tally.n[f"undeliverable:{group}"]) for group in ("honest", "catch_all", "blocking", "published"))),
        ("RCPT commands per correct address", _per(tally.wire["rcpt"], correct)),
        ("RCPT commands per row", _per(tally.wire["rcpt"], tally.n["rows"])),
        ("pages fetched per correct address", _per(tally.wire["pages"], correct)),
        ("DATA commands (must be 0)", str(tally.wire["data"])),
        (f"max concurrent connections on a mail host (limit {limit})", f"{tally.peak} (shared host {tally.peak_shared})"),
        ("SMTP connections, DNS queries", f"{tally.wire['connections']}, {tally.wire['dns']}"),
        ("blocklist replies received (blocking hosts tripped)",
         f"{tally.wire['blocked_replies']} ({tally.wire['blocked_hosts']})"),
        ("verdicts", ", ".join(f"{v} {n}" for v, n in sorted(tally.verdicts.items())) or "-"),
        ("CLI", f"{', '.join(tally.exits)}; {tally.seconds:.1f} s"),
    ]
    return rows


def print_report(title: str, passes: Sequence[Tally], limit: str) -> None:
    """One column per pass plus both together; then the calibration table."""
    columns = [*passes, passes[0].merge(passes[1])]
    names = [*PASS_NAMES, "both"]
    tables = [figures(t, limit) for t in columns]
    width = max(len(label) for label, _ in tables[0]) + 2
    print(f"\n{title}")
    print(f"{'':{width}}" + "".join(f"{name:>{CELL}}" for name in names))
    for i, (label, _) in enumerate(tables[0]):
        values = [table[i][1] for table in tables]
        if label in LISTED:  # too wide for a column: one line per pass
            for name, value in zip(names, values):
                print(f"{f'{label}, {name}':{width}}  {value}")
        else:
            print(f"{label:{width}}" + "".join(f"{value:>{CELL}}" for value in values))
    print("calibration: answers with an email, by confidence (else score) band: count and share correct")
    for band in [_band(lo) for lo, _ in SCORE_BANDS] + [_band(None)]:
        print(f"{f'  score {band}':{width}}" + "".join(f"{_ratio(t.band_ok[band], t.band_n[band]):>{CELL}}" for t in columns))


# --- main --------------------------------------------------------------------------------------------


def run_seed(seed: int, args: argparse.Namespace, workroot: Path) -> list[Tally]:
    world = build_company_world(seed, args.companies)
    print(f"\nseed {seed}: {world.summary()}")
    workdir = workroot / f"seed-{seed}"
    workdir.mkdir()
    write_truth(world, workdir / "truth.csv")
    first, second = plan_passes(world)
    with serve_company_world(world) as running:
        env = {
            **os.environ,
            **running.env(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}"),
            **dict(item.split("=", 1) for item in args.env),
        }
        return [run_pass(running, rows, workdir, f"pass{i}", env, args) for i, rows in enumerate((first, second), 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=60)
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated world seeds")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds before a CLI run is killed")
    parser.add_argument("--cli", default=f"{shlex.quote(sys.executable)} -m mailsleuth", help="the command to measure")
    parser.add_argument("--cli-arg", action="append", default=[], help="extra find-file option (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="extra CLI environment")
    parser.add_argument("--keep", action="store_true", help="keep the CSVs and databases, print where")
    args = parser.parse_args()
    if any("=" not in item for item in args.env):
        parser.error("--env takes KEY=VALUE")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    limit = dict(item.split("=", 1) for item in args.env).get(
        "MAILSLEUTH_MAX_CONNECTIONS_PER_HOST", os.environ.get("MAILSLEUTH_MAX_CONNECTIONS_PER_HOST", DEFAULT_CONNECTION_LIMIT)
    )
    workroot = Path(tempfile.mkdtemp(prefix="find-quality-"))
    try:
        results = {seed: run_seed(seed, args, workroot) for seed in seeds}
        for seed, passes in results.items():
            print_report(f"seed {seed}, {args.companies} companies", passes, limit)
        if len(results) > 1:
            overall = [Tally(), Tally()]
            for passes in results.values():
                overall = [total.merge(one) for total, one in zip(overall, passes)]
            print_report(f"overall, seeds {args.seeds}", overall, limit)
    finally:
        if args.keep:
            print(f"\nkept {workroot} (per seed: truth.csv, people-*.csv, found-*.csv and the CLI's bench.db if it wrote one)")
        else:
            shutil.rmtree(workroot, ignore_errors=True)


if __name__ == "__main__":
    main()
