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


async def ordered_map(
    items: Iterable[T] | AsyncIterable[T], work: Callable[[T], Awaitable[R]], concurrency: int
) -> AsyncIterator[tuple[T, R]]:
    """Yield ``(item, await work(item))`` in input order with at most ``concurrency`` in flight."""
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    window: deque[tuple[T, asyncio.Future[R]]] = deque()
    try:
        async for item in _aiter(items):
            window.append((item, asyncio.ensure_future(work(item))))
            if len(window) >= concurrency:
                head, future = window.popleft()
                yield head, await future
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
            await asyncio.sleep(0)  # let in-flight work progress while a long file is read
