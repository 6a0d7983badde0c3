"""Per-key, per-endpoint rate limits; each dialect names its vendor's published quotas in its folder.

Counting lives in the `limits` library (memory storage embedded, Redis when several API processes must
share counters); this module only turns a hit into the numbers the
X-RateLimit-* headers report. On Redis, `limits` is told to use redis-py (installed by the `redis`
extra with the broker), not its default client coredis.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, parse_many
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True)
class Quota:
    """A named set of windows that must all have room (e.g. 300/minute and 100000/day)."""

    scope: str
    windows: tuple[RateLimitItem, ...]

    @classmethod
    def parse(cls, scope: str, spec: str) -> Quota:
        return cls(scope, tuple(parse_many(spec)))


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one hit, reported on the most constrained window."""

    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when that window resets
    per: str = "minute"

    def describe(self) -> str:
        return f"Too many requests in the allowed time frame ({self.limit} requests per {self.per})"


def storage_uri(redis_url: str) -> str:
    """Map the settings' redis URL onto the `limits` async storage scheme (memory when empty)."""
    if not redis_url:
        return "async+memory://"
    return redis_url if redis_url.startswith("async+") else f"async+{redis_url}"


class RateLimiter:
    """Counts hits per identity and quota; ``overrides`` replace a quota's windows by scope name.

    Overrides come from MAILSLEUTH_RATE_LIMITS, e.g. ``{"vn": "1000/minute", "kaspr": "50/hour"}``, so
    an operator can give their own deployment other numbers than the vendors' without a code change.
    """

    def __init__(self, uri: str = "async+memory://", overrides: Mapping[str, str] | None = None) -> None:
        options = {"implementation": "redispy"} if uri.startswith("async+redis") else {}
        self._storage = storage_from_string(uri, **options)
        self._strategy = FixedWindowRateLimiter(self._storage)
        self._overrides = {scope: tuple(parse_many(spec)) for scope, spec in (overrides or {}).items()}

    def windows(self, quota: Quota) -> tuple[RateLimitItem, ...]:
        return self._overrides.get(quota.scope, quota.windows)

    async def hit(self, identity: str, quota: Quota, cost: int = 1) -> RateDecision:
        """Count ``cost`` units (requests, or objects of a bulk job) of `identity` in every window.

        A bulk request that does not fit is refused whole without being counted, so one oversized
        batch does not use up the key's quota.
        """
        if cost > 1:
            for window in self.windows(quota):
                if not await self._strategy.test(window, quota.scope, identity, cost=cost):
                    return await self._refusal(window, quota, identity)
        decisions = []
        for window in self.windows(quota):
            # the fixed-window strategy's own hit (`incr` <= amount), with the count it returns kept:
            # the strategy's window stats would read the counter back a second time
            key = window.key_for(quota.scope, identity)
            count = await self._storage.incr(key, window.get_expiry(), amount=cost)
            reset_at = await self._storage.get_expiry(key)
            decisions.append(_decision(window, count <= window.amount, window.amount - count, reset_at))
        blocked = [d for d in decisions if not d.allowed]
        if blocked:
            return max(blocked, key=lambda d: d.reset_at)
        return min(decisions, key=lambda d: (d.remaining, d.reset_at))

    async def _refusal(self, window: RateLimitItem, quota: Quota, identity: str) -> RateDecision:
        stats = await self._strategy.get_window_stats(window, quota.scope, identity)
        return _decision(window, False, stats.remaining, stats.reset_time)


def _decision(window: RateLimitItem, allowed: bool, remaining: int, reset_at: float) -> RateDecision:
    per = window.GRANULARITY.name if window.multiples == 1 else f"{window.multiples} {window.GRANULARITY.name}s"
    return RateDecision(allowed, window.amount, max(0, remaining), reset_at or time.time() + window.get_expiry(), per)


def __getattr__(name: str) -> Any:
    """`VN_SEARCH_NAME`, the one quota older callers imported from here; quotas now live in their
    dialect's folder (`api/<dialect>/dialect.py`)."""
    if name != "VN_SEARCH_NAME":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from mailsleuth.api.voilanorbert.dialect import SEARCH_NAME

    return SEARCH_NAME
