"""The order in which one process's writes get their turn at SQLite's writer."""

import asyncio

from mailsleuth.store import background_context
from mailsleuth.store.writerqueue import WriterQueue, in_background


async def test_requests_writes_go_before_waiting_background_writes() -> None:
    queue = WriterQueue()
    order: list[str] = []

    async def write(label: str, *, background: bool) -> None:
        await queue.acquire(background=background)
        order.append(label)
        await asyncio.sleep(0)  # hold it across a loop turn, as a write waiting for another process does
        queue.release()

    await queue.acquire(background=False)  # a write is being made
    waiting = [asyncio.create_task(write("bg1", background=True)), asyncio.create_task(write("bg2", background=True))]
    await asyncio.sleep(0)
    waiting += [asyncio.create_task(write("req1", background=False)), asyncio.create_task(write("req2", background=False))]
    await asyncio.sleep(0)
    queue.release()
    await asyncio.gather(*waiting)
    assert order == ["req1", "req2", "bg1", "bg2"]
    await queue.acquire(background=True)  # free again: taken at once
    queue.release()


async def test_a_cancelled_waiter_neither_keeps_nor_loses_the_turn() -> None:
    queue = WriterQueue()
    await queue.acquire(background=False)
    cancelled = asyncio.create_task(queue.acquire(background=False))
    later = asyncio.create_task(queue.acquire(background=True))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    queue.release()
    await asyncio.wait_for(later, 5)  # the turn went past the cancelled waiter
    queue.release()
    await asyncio.wait_for(queue.acquire(background=False), 5)


async def test_background_context_marks_the_work_started_in_it() -> None:
    async def mark() -> bool:
        return in_background()

    assert not in_background()
    assert await asyncio.create_task(mark(), context=background_context())
    assert not await asyncio.create_task(mark())
