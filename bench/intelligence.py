"""What crawling company websites buys the finder, end to end through the service and the store.

    python bench/intelligence.py --companies 30 --staff 6 --holdout 5 --pages 4 --seed 7

A world of N companies: each has a website (web world: a homepage and team pages of staff cards
whose addresses follow one convention drawn from bench/find_probes.py's realistic mix) and a strict
mail server (mail world) knowing every employee, staff on the website and `holdout` people who are
not on it. The site's host name resolves through the mail world's DNS, as in production.

Before: each holdout person is found knowing nothing about the domain (the global prior). Then
every site is crawled with `intelligence.ensure_crawled` (facts, sources, learning stored in a
SQLite store; pages/s measured). After: each holdout person is found again with the convention the
store learned. Each find starts from the stored knowledge (finds do not teach each other), so the
difference is what the crawl taught. Reported: correct score-80 guesses (no SMTP: the first
candidate, as VoilaNorbert's best guess), correct first candidates and RCPT probes per find.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crawl_pages import _local, _people, build_site  # noqa: E402
from find_probes import CONVENTIONS  # noqa: E402

from mailsleuth import intelligence, store  # noqa: E402
from mailsleuth.engine.find import Finder  # noqa: E402
from mailsleuth.engine.names import PersonName  # noqa: E402
from mailsleuth.engine.patterns import Convention  # noqa: E402
from mailsleuth.store import Database  # noqa: E402
from mailsleuth.engine.verify import Verifier  # noqa: E402
from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402
from tests.webworld import WebWorld  # noqa: E402

WEB_ADDRESS = "127.0.0.2"


@dataclass
class Company:
    domain: str
    pattern: str
    staff: list[PersonName]
    holdout: list[PersonName]


@dataclass
class Tally:
    guesses_right: int = 0  # smtp=False: the score-80 best guess is the real address
    first_right: int = 0  # smtp=True: the real address was the first candidate probed
    found: int = 0
    probes: list[int] | None = None


def build(rng: random.Random, companies: int, staff: int, holdout: int) -> list[Company]:
    mix = list(CONVENTIONS)
    weights = list(CONVENTIONS.values())
    world = []
    for i in range(companies):
        people = _people(rng, staff + holdout)
        world.append(Company(f"co{i}.test", rng.choices(mix, weights)[0], people[:staff], people[staff:]))
    return world


async def finds(db: Database, verifier: Verifier, world: list[Company], *, learned: bool) -> Tally:
    tally = Tally(probes=[])
    for company in world:
        for person in company.holdout:
            truth = f"{_local(company.pattern, person)}@{company.domain}"

            async def convention(domain: str = company.domain) -> Convention | None:
                return await store.get_convention(db, domain) if learned else None

            guess = await Finder(verifier).find(person, company.domain, smtp=False, convention=await convention())
            tally.guesses_right += guess.email == truth
            result = await Finder(verifier).find(person, company.domain, convention=await convention())
            tally.found += result.email == truth
            tally.first_right += bool(result.candidates_tried) and result.candidates_tried[0] == truth
            assert tally.probes is not None
            tally.probes.append(result.rcpt_commands)
    return tally


async def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    world = build(rng, args.companies, args.staff, args.holdout)
    mail = MailWorld(first_ip="127.0.9.1")
    with WebWorld((WEB_ADDRESS, "127.0.0.1")) as web:
        for company in world:
            web.add_site(company.domain, build_site(company.domain, company.pattern, company.staff, args.pages))
            locals_ = {_local(company.pattern, p) for p in company.staff + company.holdout}
            mail.add_domain(company.domain, behaviour=Behaviour(mailboxes=locals_))
            mail.dns.add(company.domain, "A", WEB_ADDRESS)
        with mail, tempfile.TemporaryDirectory() as tmp:
            settings = mail.settings(
                database_url=f"sqlite+aiosqlite:///{tmp}/bench.db", crawl_scheme="http", crawl_port=web.port,
                crawl_page_budget=args.pages + 1,
            )
            db = Database(settings.database_url)
            await db.migrate()
            verifier = Verifier(settings)
            try:
                before = await finds(db, verifier, world, learned=False)
                gate = asyncio.Semaphore(args.concurrency)

                async def crawl(company: Company) -> int:
                    async with gate:
                        return (await intelligence.ensure_crawled(db, settings, company.domain)).pages

                started = time.perf_counter()
                pages = sum(await asyncio.gather(*(crawl(c) for c in world)))
                elapsed = time.perf_counter() - started
                after = await finds(db, verifier, world, learned=True)
            finally:
                await verifier.close()
                await db.dispose()
    total = sum(len(c.holdout) for c in world)
    assert before.probes is not None and after.probes is not None
    print(f"world: {args.companies} companies, {args.staff} staff on each website, {total} people to find off it")
    print(f"crawl (ensure_crawled, store included): {pages} pages in {elapsed:.2f} s = {pages / elapsed:.0f} pages/s")
    print(f"{'':32}{'before crawl':>14}{'after crawl':>14}")
    print(f"{'score-80 guess is right':32}{before.guesses_right:>14}{after.guesses_right:>14}")
    print(f"{'right address is 1st candidate':32}{before.first_right:>14}{after.first_right:>14}")
    print(f"{'found (verified)':32}{before.found:>14}{after.found:>14}")
    print(f"{'RCPT probes per find (mean)':32}{statistics.mean(before.probes):>14.2f}{statistics.mean(after.probes):>14.2f}")
    print(f"learned conventions turned {after.guesses_right - before.guesses_right} of {total} score-80 guesses "
          f"into correct first candidates")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--companies", type=int, default=30)
    parser.add_argument("--staff", type=int, default=6)
    parser.add_argument("--holdout", type=int, default=5)
    parser.add_argument("--pages", type=int, default=4, help="pages per website (homepage included)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
