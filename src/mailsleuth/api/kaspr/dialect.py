"""Kaspr's wire conventions: `Authorization: Bearer KEY` or the bare key, and X-RateLimit-Reset in
milliseconds until the reset."""

from __future__ import annotations

from mailsleuth.api.dialect import Dialect, bearer_or_bare, header_key
from mailsleuth.api.ratelimit import Quota, RateDecision

# Kaspr only says "a certain number of requests per hour"; 1000/hour is ours.
DEFAULT = Quota.parse("kaspr", "1000/hour")


def reset_in_ms(decision: RateDecision, now: float) -> str:
    return str(max(0, round((decision.reset_at - now) * 1000)))


DIALECT = Dialect(
    "kaspr", prefixes=("/keys/", "/profile/", "/company/"), key=bearer_or_bare, reset=reset_in_ms,
    key_scheme=header_key("Authorization", "The bare API key, or `Bearer KEY`, in Authorization."),
)
