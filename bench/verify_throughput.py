"""Bulk verification throughput against the scripted mail world, compared with the politeness bound.

    python bench/verify_throughput.py --domains 20 --addresses 400 --latency 0.05

The world has one mail host per domain answering every command after ``--latency`` seconds, and it
enforces the same caps the prober promises (421 above the connection cap, 452 above the recipient
cap), so any cap violation shows up as refused connections or rate-limited replies.

The politeness bound is the best any prober can do within the caps: every host keeps ``cap``
connections busy and each RCPT costs one reply latency, i.e. hosts x cap / latency RCPT per second.
(Connection set-up — banner, EHLO, MAIL FROM — costs 3 more latencies per ``max_recipients`` RCPTs,
so even a perfect prober reaches at most M / (M + 3) of it.)
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailsleuth.verify import Verifier  # noqa: E402
from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402


def build(domains: int, per_domain: int, latency: float, cap: int, recipients: int) -> tuple[MailWorld, list[str]]:
    world = MailWorld()
    addresses: list[str] = []
    for d in range(domains):
        domain = f"bench{d}.test"
        existing = {f"user{i}" for i in range(0, per_domain, 2)}  # half the addresses exist
        world.add_domain(
            domain,
            behaviour=Behaviour(mailboxes=existing, latency=latency, max_connections=cap, max_recipients=recipients),
        )
        addresses.extend(f"user{i}@{domain}" for i in range(per_domain))
    # interleave domains the way a real upload mixes them
    addresses.sort(key=lambda a: int(a.split("@")[0][4:]))
    return world, addresses


async def run(world: MailWorld, addresses: list[str], cap: int, recipients: int) -> dict[str, float]:
    settings = world.settings(max_connections_per_host=cap, max_recipients_per_connection=recipients)
    verdicts: dict[str, int] = {}
    async with Verifier(settings) as verifier:
        await verifier.resolver.mail_route("warmup.invalid")
        started = time.perf_counter()
        async for result in verifier.verify_many(addresses, concurrency=len(addresses)):
            verdicts[result.reason] = verdicts.get(result.reason, 0) + 1
        elapsed = time.perf_counter() - started
        rcpts = verifier.rcpt_commands
    return {"elapsed": elapsed, "rcpts": rcpts, **{f"reason:{k}": v for k, v in verdicts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domains", type=int, default=20)
    parser.add_argument("--addresses", type=int, default=400, help="addresses per domain")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds before every server reply")
    parser.add_argument("--cap", type=int, default=2, help="connections per host")
    parser.add_argument("--recipients", type=int, default=20, help="recipients per connection")
    args = parser.parse_args()

    world, addresses = build(args.domains, args.addresses, args.latency, args.cap, args.recipients)
    with world:
        figures = asyncio.run(run(world, addresses, args.cap, args.recipients))
        stats = [world.stats(f"mx.bench{d}.test") for d in range(args.domains)]
    total = len(addresses)
    rate = total / figures["elapsed"]
    rcpt_rate = figures["rcpts"] / figures["elapsed"]
    bound = args.domains * args.cap / args.latency
    ceiling = args.recipients / (args.recipients + 3)
    violations = sum(s.refused for s in stats) + figures.get("reason:rate_limited", 0)
    print(f"world: {args.domains} domains x {args.addresses} addresses, reply latency {args.latency * 1000:.0f} ms, "
          f"cap {args.cap} connections x {args.recipients} recipients per host")
    print(f"addresses verified:          {total}")
    print(f"elapsed:                     {figures['elapsed']:.2f} s")
    print(f"addresses/s:                 {rate:.1f}")
    print(f"RCPT/s (incl. catch-all):    {rcpt_rate:.1f}")
    print(f"politeness bound:            {bound:.1f} RCPT/s  (hosts x cap / latency)")
    print(f"ratio to bound:              {rcpt_rate / bound:.1%}  (set-up ceiling {ceiling:.1%})")
    print(f"connections opened:          {sum(s.connections for s in stats)}")
    print(f"max concurrent per host:     {max(s.max_concurrent for s in stats)}")
    print(f"cap violations:              {violations}")
    print(f"DATA commands seen:          {sum(s.data_count for s in stats)}")
    print(f"results by reason:           " + ", ".join(
        f"{k[7:]} {v}" for k, v in sorted(figures.items()) if k.startswith("reason:")))
    print(f"peak RSS:                    {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
