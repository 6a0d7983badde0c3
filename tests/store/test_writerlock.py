"""The lock file between processes: a request's write goes before background writes.

Each `WriterLock` opens the files itself, and `flock` locks belong to the open file, so two of them in
one process contend as two processes would.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from mailsleuth.store.writerlock import WriterLock


async def _until(condition: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.005)


async def test_a_background_write_waits_for_the_holder(tmp_path: Path) -> None:
    holder, background = WriterLock(tmp_path / "db-writer"), WriterLock(tmp_path / "db-writer")
    await holder.acquire()
    got = threading.Event()
    thread = threading.Thread(target=lambda: (background.acquire_in_background(), got.set()))
    thread.start()
    await asyncio.sleep(0.05)
    assert not got.is_set()
    holder.release()
    await _until(got.is_set)
    background.release()
    thread.join()


async def test_a_request_waiting_goes_before_a_background_write_that_waited_longer(tmp_path: Path) -> None:
    path = tmp_path / "db-writer"
    holder, background, request = WriterLock(path), WriterLock(path), WriterLock(path)
    order: list[str] = []
    await holder.acquire()

    def bulk() -> None:
        background.acquire_in_background()
        order.append("background")
        background.release()

    thread = threading.Thread(target=bulk)
    thread.start()
    await asyncio.sleep(0.05)  # the background write is waiting first

    async def write() -> None:
        await request.acquire()
        order.append("request")
        await asyncio.sleep(0.05)  # a background write still waiting must not get in meanwhile
        order.append("request done")
        request.release()

    writing = asyncio.create_task(write())
    await asyncio.sleep(0.05)
    holder.release()
    await writing
    await asyncio.to_thread(thread.join, 5)
    assert order == ["request", "request done", "background"]
    for lock in (holder, background, request):
        lock.close()


async def test_a_background_write_of_the_announcing_process_neither_waits_nor_drops_the_announcement(
    tmp_path: Path,
) -> None:
    # This process's writes announced themselves and wait for its turn, which its background write
    # holds: that write goes on (waiting would deadlock), and the announcement still keeps another
    # process's background writes out until it is withdrawn.
    path = tmp_path / "db-writer"
    here, elsewhere = WriterLock(path), WriterLock(path)
    await here.announce()
    await asyncio.wait_for(asyncio.to_thread(here.acquire_in_background), 5)
    here.release()
    got = threading.Event()
    thread = threading.Thread(target=lambda: (elsewhere.acquire_in_background(), got.set()))
    thread.start()
    await asyncio.sleep(0.1)
    assert not got.is_set()
    here.withdraw()
    await _until(got.is_set)
    elsewhere.release()
    thread.join()
    for lock in (here, elsewhere):
        lock.close()
