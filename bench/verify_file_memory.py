"""Peak memory and time of `mailsleuth verify-file` on a large CSV against the scripted mail world.

    python bench/verify_file_memory.py --rows 1000000 --domains 50

The mail world runs in this process; the CLI runs as a child process exactly as a user would start
it, so its peak RSS (ru_maxrss of the child) is the figure that matters. The CPU time per row of the
CLI and of the world are printed too: on a shared machine the wall-clock rate follows the CPU the
processes get, the CPU per row is what the code costs.

Figures (1 M rows, 50 domains, zero latency, 2 shared cores; main and this code back to back):

    main (e2883a6):          3,525-5,247 rows/s, CPU per row CLI 171-234 us, world 59-76 us, 99 MB
    with pipelining:         7,108-11,836 rows/s, CPU per row CLI 75-107 us, world 24-31 us, 100-102 MB

Where the CLI's time went before (py-spy, 50,000 rows): every RCPT was its own round trip through
aiosmtplib (a quarter of the CPU in its per-command work and one socket send per command), and
email-validator's full syntax check ran on every row (another quarter). Now a domain's queued checks
go out as one pipelined RCPT group per session (RFC 2920) with QUIT at its end, so a connection of
20 recipients costs connect, banner, EHLO, MAIL FROM and one group; email-validator judges each
distinct domain part once. What is left (py-spy, share of the CLI's samples): the ordered window's
task, semaphore and future per row ~20 %, the per-row verify path (result object, DNS cache read,
domain queue) ~20 %, opening sessions through aiosmtplib ~11 %, reading and classifying the reply
groups ~11 %, CSV writing ~4 %, the syntax check ~2 %, socket sends ~2 % (8 % before); interpreter
start and imports are a fixed ~1.5 s. Next steps would be batching rows per domain instead of one
task each, and MAIL FROM riding in the first group.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.mailworld.smtp_server import Behaviour  # noqa: E402
from tests.mailworld.world import MailWorld  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--domains", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--concurrency", type=int, default=1000)
    args = parser.parse_args()

    world = MailWorld()
    for d in range(args.domains):
        world.add_domain(f"mem{d}.test", behaviour=Behaviour(mailboxes={f"user{i}" for i in range(0, 5000, 3)},
                                                             latency=args.latency))
    with tempfile.TemporaryDirectory() as tmp, world:
        source, output = Path(tmp) / "in.csv", Path(tmp) / "out.csv"
        with source.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["id", "email", "company"])
            for i in range(args.rows):
                writer.writerow([i, f"user{i % 5000}@mem{i % args.domains}.test", f"Company {i % args.domains}"])
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "mailsleuth", "verify-file", str(source), "-o", str(output),
             "--concurrency", str(args.concurrency)],
            env={**os.environ, **world.env()}, capture_output=True, text=True,
        )
        elapsed = time.perf_counter() - started
        with output.open(newline="") as handle:
            written = sum(1 for _ in handle) - 1
    child, world_usage = resource.getrusage(resource.RUSAGE_CHILDREN), resource.getrusage(resource.RUSAGE_SELF)
    peak = child.ru_maxrss / 1024
    cli_cpu, world_cpu = child.ru_utime + child.ru_stime, world_usage.ru_utime + world_usage.ru_stime
    print(f"rows in / out:        {args.rows} / {written}  (exit code {done.returncode})")
    print(f"world:                {args.domains} domains, reply latency {args.latency * 1000:.0f} ms")
    print(f"elapsed:              {elapsed:.1f} s  ({args.rows / elapsed:.0f} rows/s)")
    print(f"peak RSS of the CLI:  {peak:.0f} MB")
    print(f"CPU per row:          CLI {cli_cpu / args.rows * 1e6:.0f} us, mail world (and file set-up) "
          f"{world_cpu / args.rows * 1e6:.0f} us")
    print(f"CLI summary:          {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else '-'}")


if __name__ == "__main__":
    main()
