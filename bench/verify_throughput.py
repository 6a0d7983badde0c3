"""Bulk verification throughput against the scripted mail world, compared with the politeness bound.

    python bench/verify_throughput.py --domains 20 --addresses 400 --latency 0.05

The world has one mail host per domain answering every command after ``--latency`` seconds, and it
enforces the same caps the prober promises (421 above the connection cap, 452 above the recipient
cap), so any cap violation shows up as refused connections or rate-limited replies.

The world runs in a child process (its own core), so the figures are the prober's, not the GIL's.

Two bounds are printed. The raw politeness bound has every host keep ``cap`` connections busy with
one RCPT per reply latency: hosts x cap / latency. But each connection also waits for a banner, EHLO,
MAIL FROM and QUIT reply, and may carry at most M recipients, so the best any prober can do within
the caps is hosts x cap x M / ((M + 4) x latency) — the set-up-aware bound.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailsleuth.config import Settings  # noqa: E402
from mailsleuth.engine.verify import Verifier  # noqa: E402
from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402


def build(domains: int, per_domain: int, latency: float, cap: int, recipients: int) -> MailWorld:
    world = MailWorld()
    for d in range(domains):
        existing = {f"user{i}" for i in range(0, per_domain, 2)}  # half the addresses exist
        world.add_domain(
            f"bench{d}.test",
            behaviour=Behaviour(mailboxes=existing, latency=latency, max_connections=cap, max_recipients=recipients),
        )
    return world


def addresses(domains: int, per_domain: int) -> list[str]:
    """Domains interleaved, the way a real upload mixes them."""
    return [f"user{i}@bench{d}.test" for i in range(per_domain) for d in range(domains)]


def serve_world(args: argparse.Namespace, pipe: multiprocessing.connection.Connection) -> None:
    """Child process: run the world until told to stop, then report what its servers saw."""
    world = build(args.domains, args.addresses, args.latency, args.cap, args.recipients)
    with world:
        pipe.send(world.env())
        pipe.recv()
        stats = [world.stats(f"mx.bench{d}.test") for d in range(args.domains)]
        pipe.send([(s.connections, s.max_concurrent, s.refused, s.data_count) for s in stats])


async def run(env: dict[str, str], addresses: list[str], cap: int, recipients: int) -> dict[str, float]:
    values = {key.removeprefix("MAILSLEUTH_").lower(): value for key, value in env.items()}
    settings = Settings(**values, max_connections_per_host=cap, max_recipients_per_connection=recipients)
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

    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.Process(target=serve_world, args=(args, theirs), daemon=True)
    child.start()
    env = ours.recv()
    checks = addresses(args.domains, args.addresses)
    figures = asyncio.run(run(env, checks, args.cap, args.recipients))
    ours.send("stop")
    stats = ours.recv()
    child.join()
    connections, max_concurrent, refused, data = (list(column) for column in zip(*stats))
    total = len(checks)
    rate = total / figures["elapsed"]
    rcpt_rate = figures["rcpts"] / figures["elapsed"]
    bound = args.domains * args.cap / args.latency
    setup_bound = bound * args.recipients / (args.recipients + 4)
    violations = sum(refused) + figures.get("reason:rate_limited", 0)
    print(f"world: {args.domains} domains x {args.addresses} addresses, reply latency {args.latency * 1000:.0f} ms, "
          f"cap {args.cap} connections x {args.recipients} recipients per host")
    print(f"addresses verified:          {total}")
    print(f"elapsed:                     {figures['elapsed']:.2f} s")
    print(f"addresses/s:                 {rate:.1f}")
    print(f"RCPT/s (incl. catch-all):    {rcpt_rate:.1f}")
    print(f"raw politeness bound:        {bound:.1f} RCPT/s  (hosts x cap / latency)  ratio {rcpt_rate / bound:.1%}")
    print(f"set-up-aware bound:          {setup_bound:.1f} RCPT/s  (x M/(M+4))  ratio {rcpt_rate / setup_bound:.1%}")
    print(f"connections opened:          {sum(connections)}")
    print(f"max concurrent per host:     {max(max_concurrent)}")
    print(f"cap violations:              {violations}")
    print(f"DATA commands seen:          {sum(data)}")
    print("results by reason:           " + ", ".join(
        f"{k[7:]} {v}" for k, v in sorted(figures.items()) if k.startswith("reason:")))
    print(f"peak RSS of the prober:      {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
