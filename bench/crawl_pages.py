"""Crawl throughput on loopback websites, and what the crawled addresses teach the finder.

    python bench/crawl_pages.py --sites 50 --pages 10 --staff 6 --holdout 10 --concurrency 20 --seed 7

Starts a web world (in a forked process) of N sites x P pages (a homepage linking P-1 team pages of staff cards, ~10 kB
each), crawls every site (page budget P + 1: the pages plus the sitemap probe) and prints pages/s
and bytes/s. Each site's staff addresses follow one convention (drawn from bench/find_probes.py's
realistic mix). For people of the same companies who are NOT on the website, it then compares the
finder's ranking before crawling (global prior) and after ``learn_from_crawl``: how often the true
address is the first candidate, and the mean number of probes until it (its rank), the issue's
"score-80 guesses turned into correct first candidates".
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import random
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from find_probes import CONVENTIONS, FIRST, LAST

from mailsleuth.config import Settings
from mailsleuth.engine.crawl import CrawlResult, crawl_domain, learn_from_crawl
from mailsleuth.engine.names import PersonName, parse_name
from mailsleuth.engine.patterns import Convention, candidates, render
from tests.webworld import Response, WebWorld, html

FILLER = "<p>" + "We build dependable products for demanding customers. " * 30 + "</p>"


def _local(pattern: str, name: PersonName) -> str:
    local = render(pattern, name.variants()[0])
    assert local is not None, (pattern, name)
    return local


def _people(rng: random.Random, count: int) -> list[PersonName]:
    seen: set[str] = set()
    people = []
    while len(people) < count:
        name = parse_name(f"{rng.choice(FIRST)} {rng.choice(LAST)}")
        if name.full not in seen:
            seen.add(name.full)
            people.append(name)
    return people


def build_site(domain: str, pattern: str, staff: list[PersonName], pages: int) -> dict[str, Response]:
    site = {"/": html(f"<title>{domain}</title>" + "".join(f'<a href="/team/{i}">Team {i}</a>' for i in range(1, pages))
                      + FILLER)}
    for i in range(1, pages):
        cards = "".join(
            f'<li class="card"><h3>{person.full}</h3><a href="mailto:{_local(pattern, person)}@{domain}">Email</a></li>'
            for person in staff[i - 1 :: pages - 1]
        )
        site[f"/team/{i}"] = html(f"<h1>Team</h1><ul>{cards}</ul>{FILLER * 6}")
    return site


def _serve(world: WebWorld, ports: multiprocessing.Queue, stop: EventType) -> None:
    with world:
        ports.put(world.port)
        stop.wait()


@contextmanager
def served_elsewhere(world: WebWorld) -> Iterator[None]:
    """Serve the world from a forked process, so the servers do not share the crawler's GIL."""
    context = multiprocessing.get_context("fork")
    ports: multiprocessing.Queue = context.Queue()
    stop = context.Event()
    child = context.Process(target=_serve, args=(world, ports, stop), daemon=True)
    child.start()
    try:
        world.port = ports.get(timeout=10)
        yield
    finally:
        stop.set()
        child.join(timeout=10)


async def crawl_all(world: WebWorld, domains: list[str], budget: int, concurrency: int) -> list[CrawlResult]:
    settings = Settings(allow_private_networks=True, helo_name="bench.test")
    gate = asyncio.Semaphore(concurrency)

    async def one(domain: str) -> CrawlResult:
        async with gate:
            return await crawl_domain(domain, settings=settings, page_budget=budget, scheme="http",
                                      port=world.port, resolve=world.resolve)

    return await asyncio.gather(*(one(domain) for domain in domains))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=50)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--staff", type=int, default=6, help="people listed on each site")
    parser.add_argument("--holdout", type=int, default=10, help="people per site who are not on it")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    patterns, weights = zip(*CONVENTIONS.items(), strict=True)
    truth: dict[str, tuple[str, list[PersonName]]] = {}
    world = WebWorld(("127.0.0.2",))
    for k in range(args.sites):
        domain = f"site{k}.test"
        pattern = rng.choices(patterns, weights)[0]
        people = _people(rng, args.staff + args.holdout)
        world.add_site(domain, build_site(domain, pattern, people[: args.staff], args.pages))
        truth[domain] = (pattern, people[args.staff :])
    with served_elsewhere(world):
        started = time.perf_counter()
        results = asyncio.run(crawl_all(world, list(truth), args.pages + 1, args.concurrency))
        elapsed = time.perf_counter() - started
    pages = sum(1 for r in results for v in r.visits if v.error is None)
    read = sum(v.bytes_read for r in results for v in r.visits)
    found = sum(len(r.people) for r in results)
    print(f"crawled {args.sites} sites: {pages} pages, {read / 1e6:.1f} MB, {found} person addresses in {elapsed:.2f} s")
    print(f"  {pages / elapsed:.0f} pages/s, {read / elapsed / 1e6:.1f} MB/s (concurrency {args.concurrency})")

    first_before = first_after = 0
    ranks_before: list[int] = []
    ranks_after: list[int] = []
    for result in results:
        pattern, holdout = truth[result.domain]
        convention = Convention()
        learn_from_crawl(result, convention)
        learned = convention.distribution()
        for person in holdout:
            true = _local(pattern, person)
            before = [c.local for c in candidates(person)]
            after = [c.local for c in candidates(person, learned)]
            ranks_before.append(before.index(true) + 1 if true in before else len(before) + 1)
            ranks_after.append(after.index(true) + 1 if true in after else len(after) + 1)
            first_before += before[0] == true
            first_after += after[0] == true
    total = len(ranks_before)
    print(f"finds for {total} people not on their company's site:")
    print(f"  true address first: {first_before}/{total} before crawling, {first_after}/{total} after")
    print(f"  probes until the true address (mean rank): {statistics.mean(ranks_before):.2f} before, "
          f"{statistics.mean(ranks_after):.2f} after")


if __name__ == "__main__":
    main()
