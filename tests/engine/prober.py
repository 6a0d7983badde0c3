"""One prober process for the shared-politeness tests: verifies addresses with settings from
MAILSLEUTH_* variables and prints one verdict per line.

    python -m tests.engine.prober user0@example.test user1@example.test ...
    python -m tests.engine.prober --hold HOST   # take every connection slot of HOST, then sleep
"""

from __future__ import annotations

import asyncio
import sys

from mailsleuth.config import Settings
from mailsleuth.engine.politeness import Politeness
from mailsleuth.engine.verify import Verifier


async def verify(addresses: list[str]) -> None:
    async with Verifier(Settings()) as verifier:
        async for result in verifier.verify_many(addresses):
            print(result.email, result.verdict.value, flush=True)


async def hold(host: str) -> None:
    pool = Politeness.from_settings(Settings())
    for _ in range(pool.max_connections):
        await pool.gate.acquire(host)
    print("holding", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if sys.argv[1] == "--hold":
        asyncio.run(hold(sys.argv[2]))
    else:
        asyncio.run(verify(sys.argv[1:]))
