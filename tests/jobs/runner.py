"""A bulk-job server process for the kill -9 test and the bench: runs the embedded runtime on a
database until killed, optionally submitting jobs first.

    python -m tests.jobs.runner sqlite+aiosqlite:///jobs.db --verify 300@kill.test --massive 100@kill.test

Settings come from MAILSLEUTH_* variables (the mail world's). Prints one line per submitted job:
"<kind> <job id>", then "ready".
"""

from __future__ import annotations

import argparse
import asyncio

from mailsleuth import store
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.config import Settings
from mailsleuth.jobs import bulk
from mailsleuth.jobs.bulk import JobKind, Tuning
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import CreditKind, Database, Principal

TUNING = Tuning(slice_rows=50, window=3, claim_rows=20, rows_per_write=8, lease_seconds=120.0, reconcile_interval=0.2,
                resend_after=2.0)
FIRSTS = ("anna", "brian", "carla", "david", "emma", "frank", "grace", "henry", "irene", "jacob")
LASTS = ("adams", "baker", "clark", "davis", "evans", "fisher", "green", "harris", "irwin", "jones")


def verify_rows(count: int, domain: str) -> list[dict[str, str]]:
    """Every other address exists in the world (user0, user2, ...)."""
    return [{"email": f"user{i}@{domain}"} for i in range(count)]


def massive_rows(count: int, domain: str) -> list[dict[str, str]]:
    """Up to 100 distinct people; those whose first name comes before "f" exist as first.last."""
    names = [(f, l) for f in FIRSTS for l in LASTS][:count]
    return [{"name": f"{f.title()} {l.title()}", "domain": domain} for f, l in names]


def existing(domain_rows: int) -> set[str]:
    """The world's mailboxes for these rows (what the runner's jobs should find)."""
    people = {f"{f}.{l}" for f in FIRSTS[:5] for l in LASTS}
    return people | {f"user{i}" for i in range(0, domain_rows, 2)}


async def principal(db: Database) -> Principal:
    org = await store.find_org(db, "runner")
    if org is None:
        org = await store.create_org(db, "runner", credits={kind: 10_000_000 for kind in CreditKind})
        await store.create_user(db, org.id, "runner@runner.test")
    [user] = await store.list_users(db, org.id)
    return Principal(org.id, user.id, 0, user.email, user.name, org.name, False)


async def main(args: argparse.Namespace) -> None:
    db = Database(args.database_url)
    await db.migrate()
    runtime = Runtime(Settings(), db, notices=DIALECTS.notices(), tuning=TUNING)
    runtime.start()
    who = await principal(db)
    for spec, kind, make in ((args.verify, JobKind.VERIFY, verify_rows), (args.massive, JobKind.FIND_FILE, massive_rows)):
        if spec:
            count, _, domain = spec.partition("@")
            new_list = "runner" if kind is JobKind.FIND_FILE else None  # found contacts go to a list, as uploads' do
            job = await bulk.submit(runtime, who, kind, make(int(count), domain), new_list=new_list)
            print(kind.value, job.id, flush=True)
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("database_url")
    parser.add_argument("--verify", help="ROWS@DOMAIN")
    parser.add_argument("--massive", help="ROWS@DOMAIN")
    asyncio.run(main(parser.parse_args()))
