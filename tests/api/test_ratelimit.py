"""Quotas over the `limits` library: several windows per endpoint, per identity."""

from __future__ import annotations

import time

from mailsleuth.api.ratelimit import VN_SEARCH_NAME, Quota, RateLimiter, storage_uri


async def test_windows_are_counted_per_identity() -> None:
    limiter = RateLimiter()
    quota = Quota.parse("test:a", "3/minute;5/day")
    decisions = [await limiter.hit("key:1", quota) for _ in range(4)]
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert [d.remaining for d in decisions[:3]] == [2, 1, 0]
    assert decisions[0].limit == 3  # the minute window is the tighter one
    assert time.time() < decisions[-1].reset_at <= time.time() + 61
    assert (await limiter.hit("key:2", quota)).allowed  # another key has its own counters


async def test_the_daily_window_binds_when_it_is_tighter() -> None:
    limiter = RateLimiter()
    quota = Quota.parse("test:b", "10/minute;2/day")
    decisions = [await limiter.hit("key:1", quota) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[-1].limit == 2 and decisions[-1].reset_at > time.time() + 3600


async def test_scopes_do_not_share_counters() -> None:
    limiter = RateLimiter()
    first, second = Quota.parse("test:c", "1/minute"), Quota.parse("test:d", "1/minute")
    assert (await limiter.hit("key:1", first)).allowed
    assert (await limiter.hit("key:1", second)).allowed
    assert not (await limiter.hit("key:1", first)).allowed


def test_spec_numbers_and_storage() -> None:
    assert [(w.amount, w.GRANULARITY.name) for w in VN_SEARCH_NAME.windows] == [(300, "minute"), (100000, "day")]
    assert storage_uri("") == "async+memory://"
    assert storage_uri("redis://cache:6379/0") == "async+redis://cache:6379/0"
    assert storage_uri("async+redis://cache") == "async+redis://cache"


async def test_operator_overrides_replace_a_scopes_windows() -> None:
    limiter = RateLimiter(overrides={"test:e": "2/minute"})
    quota = Quota.parse("test:e", "100/minute")
    decisions = [await limiter.hit("key:1", quota) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert decisions[0].limit == 2


async def test_a_bulk_cost_that_does_not_fit_is_refused_whole_and_not_counted() -> None:
    limiter = RateLimiter()
    quota = Quota.parse("test:f", "10/hour")
    assert not (await limiter.hit("key:1", quota, cost=11)).allowed
    fits = await limiter.hit("key:1", quota, cost=10)
    assert fits.allowed and fits.remaining == 0


async def test_api_processes_share_counters_through_redis(redis_url: str) -> None:
    """Two limiters on one real redis-server (two API processes): the quota is one, not one each."""
    first, second = RateLimiter(storage_uri(redis_url)), RateLimiter(storage_uri(redis_url))
    quota = Quota.parse("test:shared", "3/minute")
    decisions = [await limiter.hit("key:1", quota) for limiter in (first, second, first, second)]
    assert [(d.allowed, d.remaining) for d in decisions] == [(True, 2), (True, 1), (True, 0), (False, 0)]
    assert time.time() < decisions[-1].reset_at <= time.time() + 61
    assert (await second.hit("key:2", quota)).remaining == 2
    bulk = Quota.parse("test:bulk", "10/minute")
    assert not (await first.hit("key:1", bulk, cost=11)).allowed  # refused whole, not counted
    assert (await second.hit("key:1", bulk, cost=10)).remaining == 0
