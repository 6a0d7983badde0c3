"""Who is calling, and may they call now: API key extraction per dialect, then the rate limit.

Each vendor carries the key differently (its folder's `Dialect.key`); the check behind it is the same:
the store authenticates the key's hash, and the rate limiter counts the request against the key and
the endpoint's quota. Failed authentications are counted against the client address so key guessing
is throttled too. The resulting X-RateLimit-* headers are attached by `RateLimitHeaders`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from fastapi import Request, Security
from fastapi.openapi.models import SecurityBase as SchemeModel
from fastapi.security.base import SecurityBase
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailsleuth.api.dialect import Dialect
from mailsleuth.api.ratelimit import Quota, RateDecision
from mailsleuth.api.services import Services
from mailsleuth.service.errors import RateLimited, ServiceError, Unauthorized
from mailsleuth.store import Principal

_STATE_KEY = "ratelimit_headers"


def presented_key(dialect: Dialect, request: Request) -> str | None:
    """The key exactly where this dialect's clients put it (None when absent)."""
    return dialect.key(request)


class KeyCarrier(SecurityBase):
    """Reads the key where one dialect's clients put it, and declares that place in /openapi.json
    (so Swagger UI offers an *Authorize* button for each dialect)."""

    def __init__(self, dialect: Dialect, model: SchemeModel) -> None:
        self.dialect = dialect
        self.model = model
        self.scheme_name = f"{dialect.name}_key"

    async def __call__(self, request: Request) -> str | None:
        return presented_key(self.dialect, request)


_CARRIERS: dict[str, KeyCarrier] = {}


def carrier(dialect: Dialect) -> KeyCarrier:
    """The one KeyCarrier of a dialect (FastAPI names the scheme after it in /openapi.json)."""
    if dialect.name not in _CARRIERS:
        _CARRIERS[dialect.name] = KeyCarrier(dialect, dialect.key_scheme)
    return _CARRIERS[dialect.name]


def rate_headers(dialect: Dialect, decision: RateDecision, now: float) -> dict[str, str]:
    """X-RateLimit-*, with the reset written the way the dialect's vendor writes it. A refused request
    (429, or LeadGenius's 403) also gets Retry-After: whole seconds until the window resets."""
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(max(0, decision.remaining)),
        "X-RateLimit-Reset": dialect.reset(decision, now),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, math.ceil(decision.reset_at - now)))
    return headers


def services(request: Request) -> Services:
    return request.app.state.services


def report_rate(request: Request, dialect: Dialect, decision: RateDecision) -> None:
    """Set the X-RateLimit-* headers of this response (a later, stricter quota replaces earlier ones)."""
    request.scope.setdefault("state", {})[_STATE_KEY] = rate_headers(dialect, decision, time.time())


async def admit(
    request: Request,
    dialect: Dialect,
    quota: Quota,
    key: str | None,
    *,
    refuse: Callable[[], ServiceError] | None = None,
) -> Principal:
    """Authenticate the caller's `key` for `dialect`, then count the request in `quota`; raises the
    dialect's refusal. What every guarded route runs, whether FastAPI or `api.polls` calls it."""
    svc = services(request)
    principal = await svc.keys.authenticate(svc.db, key) if key else None
    identity = f"key:{principal.key_id}" if principal else f"ip:{request.client.host if request.client else '?'}"
    decision = await svc.limiter.hit(identity, quota)
    report_rate(request, dialect, decision)
    if not decision.allowed:
        raise RateLimited(decision.describe())
    if principal is None:
        raise refuse() if refuse else Unauthorized(
            dialect.missing_key if key is None and dialect.missing_key else dialect.unauthorized
        )
    return principal


class Guard(Protocol):
    """A route's dependency that authenticates and counts; `api.polls` calls `check` without FastAPI."""

    dialect: Dialect

    def __call__(self, request: Request, key: str | None = ...) -> Awaitable[Principal]: ...

    def check(self, request: Request) -> Awaitable[Principal]: ...


def guard(dialect: Dialect, quota: Quota, *, refuse: Callable[[], ServiceError] | None = None) -> Guard:
    """A dependency: `admit` the caller for `dialect` and `quota`.

    `refuse` builds the answer to a missing or wrong key where a document says other than 401.
    """
    carried = carrier(dialect)

    # a default, not Annotated: this module's annotations are strings, and `carried` is a local
    async def dependency(request: Request, key: str | None = Security(carried)) -> Principal:
        return await admit(request, dialect, quota, key, refuse=refuse)

    async def check(request: Request) -> Principal:
        return await admit(request, dialect, quota, presented_key(dialect, request), refuse=refuse)

    dependency.dialect = dialect  # type: ignore[attr-defined]
    dependency.check = check  # type: ignore[attr-defined]
    return dependency  # type: ignore[return-value]


def reported_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    """The X-RateLimit-* headers `report_rate` left in the request's scope, as raw header pairs."""
    extra = scope.get("state", {}).get(_STATE_KEY)
    return [(k.lower().encode(), v.encode()) for k, v in extra.items()] if extra else []


class RateLimitHeaders:
    """ASGI middleware copying the guard's X-RateLimit-* headers onto whatever response goes out.

    Pure ASGI rather than BaseHTTPMiddleware: it sits on every request of the hot read paths.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = reported_headers(scope)
                if extra:
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
