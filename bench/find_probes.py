"""How many RCPT commands a find costs, before and after a domain's convention is learned.

    python bench/find_probes.py --domains 40 --people 12 --seed 7

Each domain of the world uses one convention (drawn from a realistic mix) for all its people and is
strict (unknown recipients get 550 5.1.1). The finder starts knowing nothing; every confirmed address
teaches it the domain's convention. RCPTs are counted by the servers themselves, catch-all tests
included. Accuracy compares each found address with the world's truth.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailsleuth.engine.find import Finder  # noqa: E402
from mailsleuth.engine.names import parse_name  # noqa: E402
from mailsleuth.engine.patterns import render  # noqa: E402
from mailsleuth.engine.verify import Verifier  # noqa: E402
from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402

CONVENTIONS = {  # share of companies using each, roughly as format surveys report
    "{first}.{last}": 0.40, "{f}{last}": 0.20, "{first}": 0.08, "{first}{last}": 0.08, "{f}.{last}": 0.05,
    "{first}_{last}": 0.04, "{first}{l}": 0.04, "{last}.{first}": 0.03, "{last}{f}": 0.03, "{first}-{last}": 0.03,
    "{last}": 0.02,
}
FIRST = ["James", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "David", "Linda", "William", "Elizabeth",
         "Jürgen", "Zoë", "Łukasz", "José", "Søren", "Aisha", "Wei", "Priya", "Mohammed", "Olga", "Hannah",
         "Lucas", "Chloé", "Mateo", "Sofia", "Kenji", "Fatima", "Ivan", "Emma", "Noah"]
LAST = ["Smith", "Johnson", "Garcia", "Müller", "Nowak", "Rossi", "O'Neil", "van der Berg", "Dubois", "Kowalski",
        "Nguyen", "Patel", "Kim", "Silva", "Andersson", "Schmidt", "Lopez", "Martin", "Cohen", "Novak",
        "Fischer", "Moreau", "Romano", "Bauer", "Ivanova", "Tanaka", "Haddad", "Okafor", "Larsen", "Walsh"]


def build(domains: int, people: int, rng: random.Random) -> tuple[MailWorld, list[tuple[str, list[tuple[str, str]]]]]:
    world = MailWorld()
    plan = []
    names, weights = zip(*CONVENTIONS.items())
    for d in range(domains):
        domain = f"company{d}.test"
        convention = rng.choices(names, weights)[0]
        staff: list[tuple[str, str]] = []
        used: set[str] = set()
        while len(staff) < people:
            full = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            local = render(convention, parse_name(full).variants()[0])
            if local and local not in used:  # one mailbox per local part, as at a real company
                used.add(local)
                staff.append((full, f"{local}@{domain}"))
        world.add_domain(domain, behaviour=Behaviour(mailboxes={addr.split("@")[0] for _, addr in staff}))
        plan.append((domain, staff))
    return world, plan


async def run(world: MailWorld, plan: list[tuple[str, list[tuple[str, str]]]], candidates: int) -> dict[str, list]:
    figures: dict[str, list] = {"first": [], "second_third": [], "learned": [], "correct": [], "found": []}
    async with Verifier(world.settings()) as verifier:
        finder = Finder(verifier, max_candidates=candidates)
        for domain, staff in plan:
            server = world.server(f"mx.{domain}")
            for position, (full, truth) in enumerate(staff):
                before = server.stats.rcpt_count
                result = await finder.find(parse_name(full), domain)
                rcpts = server.stats.rcpt_count - before
                found = result.email is not None and result.score == 100
                figures["found"].append(found)
                figures["correct"].append(result.email == truth)
                if found:
                    key = "first" if position == 0 else "second_third" if position < 3 else "learned"
                    figures[key].append(rcpts)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=40)
    parser.add_argument("--people", type=int, default=12, help="people per domain")
    parser.add_argument("--candidates", type=int, default=8, help="finder's max candidates")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    world, plan = build(args.domains, args.people, random.Random(args.seed))
    with world:
        figures = asyncio.run(run(world, plan, args.candidates))

    def mean(values: list[int]) -> str:
        return f"{statistics.mean(values):.2f} (n={len(values)})" if values else "-"

    total = len(figures["correct"])
    print(f"world: {args.domains} strict domains x {args.people} people, seed {args.seed}, "
          f"max {args.candidates} candidates per find")
    print(f"RCPT per found address, fresh domain (1st person, incl. catch-all test): {mean(figures['first'])}")
    print(f"RCPT per found address, 2nd-3rd person:                             {mean(figures['second_third'])}")
    print(f"RCPT per found address, learned domain (4th person on):             {mean(figures['learned'])}")
    print(f"found and verified: {sum(figures['found'])}/{total} ({sum(figures['found']) / total:.1%})")
    print(f"accuracy vs truth:  {sum(figures['correct'])}/{total} ({sum(figures['correct']) / total:.1%})")


if __name__ == "__main__":
    main()
