"""Bounded, order-keeping concurrency for streams of any length.

Bulk work must keep many checks in flight (so per-domain queues can batch them onto shared
connections) while holding only a window of rows in memory and writing results in input order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

BACKLOG_FACTOR = 4  # finished results that may wait for a slower row before them, per slot


async def ordered_map(
    items: Iterable[T] | AsyncIterable[T],
    work: Callable[[T], Awaitable[R]],
    concurrency: int,
    *,
    backlog: int | None = None,
) -> AsyncIterator[tuple[T, R]]:
    """Yield ``(item, await work(item))`` in input order with at most ``concurrency`` in flight.

    A slot freed by any row admits the next one, so one slow row does not starve the others of
    work (the domain queues then always have a batch to send); finished rows wait for the slower
    rows before them, at most ``backlog`` rows held in all (default BACKLOG_FACTOR x concurrency).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    held = max(concurrency, backlog if backlog is not None else BACKLOG_FACTOR * concurrency)
    slots = asyncio.Semaphore(concurrency)
    window: deque[tuple[T, asyncio.Future[R]]] = deque()

    async def run(item: T) -> R:
        try:
            return await work(item)
        finally:
            slots.release()

    try:
        async for item in _aiter(items):
            while window and (window[0][1].done() or len(window) >= held):
                head, future = window.popleft()
                yield head, await future
            await slots.acquire()  # suspends (letting in-flight work run) only when every slot is busy
            window.append((item, asyncio.ensure_future(run(item))))
        while window:
            head, future = window.popleft()
            yield head, await future
    finally:
        for _, future in window:
            future.cancel()


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
