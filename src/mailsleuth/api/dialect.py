"""What makes a vendor's API a dialect, in one object: its paths, where its key travels, how its
errors look, its rate-limit headers, its webhook payloads (single searches and ended bulk jobs) and
its routers.

Each folder under `mailsleuth.api` (one per dialect) builds one `Dialect` and creates its routers
with `Dialect.router()`; `mailsleuth.api.dialects` lists the dialects once and the app mounts them.
Routes created that way handle their own errors: whatever a route, its dependencies or its input
validation raises is rendered by the route's dialect, the way a Starlette sub-app has its own
exception handlers. Paths no route matches fall back to the dialect owning the path's prefix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBase
from fastapi.openapi.models import SecurityBase as KeyScheme
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailsleuth.api.errors import field_errors
from mailsleuth.api.ratelimit import RateDecision
from mailsleuth.jobs.notices import NoticeBuilder
from mailsleuth.service.errors import FieldErrors, ServiceError
from mailsleuth.store import Contact, InvalidFilter, Search

KeyReader = Callable[[Request], "str | None"]
Renderer = Callable[[ServiceError], Response]
ResetFormat = Callable[[RateDecision, float], str]
SearchWebhook = Callable[[Contact, Search], dict[str, Any]]
Handler = Callable[[Request], Coroutine[Any, Any, Response]]

INTERNAL_ERROR = "Internal server error."  # the message of every dialect's 500
HANDLED = (ServiceError, InvalidFilter, RequestValidationError, StarletteHTTPException)
"""The exceptions a dialect renders in its own shape (anything else is a real 500)."""

_HTTP_MESSAGES = {404: "Page not found.", 405: "Method not allowed."}


def render_plain_json(error: ServiceError) -> JSONResponse:
    """`{"code", "error"[, "field"]}`: the shape of dialects whose vendor documents no other."""
    body: dict[str, Any] = {"code": error.status, "error": error.message}
    if error.field:
        body["field"] = error.field
    return JSONResponse(body, status_code=error.status)


def reset_epoch_seconds(decision: RateDecision, now: float) -> str:
    """X-RateLimit-Reset as the epoch second the window resets (most vendors)."""
    return str(math.ceil(decision.reset_at))


def bearer_or_bare(request: Request) -> str | None:
    """`Authorization: Bearer KEY`, or the bare key in `Authorization`."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, sep, value = header.strip().partition(" ")
    return value.strip() if sep and scheme.lower() == "bearer" else header.strip()


def header_key(name: str, description: str) -> APIKey:
    """An API key carried in the header `name` (for `Dialect.key_scheme`)."""
    return APIKey(**{"in": APIKeyIn.header}, name=name, description=description)


def query_key(name: str, description: str) -> APIKey:
    """An API key carried in the query parameter `name` (for `Dialect.key_scheme`)."""
    return APIKey(**{"in": APIKeyIn.query}, name=name, description=description)


def basic_key(description: str) -> HTTPBase:
    """HTTP Basic (for `Dialect.key_scheme`)."""
    return HTTPBase(scheme="basic", description=description)


@dataclass(eq=False)
class Dialect:
    """One vendor's wire conventions. `name` is stored with searches (their webhook is sent in the
    caller's shape after a restart too), so it never changes once released."""

    name: str
    prefixes: tuple[str, ...]
    key: KeyReader
    unauthorized: str = "Invalid or missing API key."
    missing_key: str | None = None
    """The message when no key was presented at all, where the vendor words it apart from a bad key."""
    render: Renderer = render_plain_json
    not_found: Callable[[], Response] | None = None
    """The answer to a path no route matches, when the vendor documents one other than `render`'s."""
    reset: ResetFormat = reset_epoch_seconds
    search_webhook: SearchWebhook | None = None
    """How a finished single search is POSTed to the caller's webhook (None: this dialect sends none)."""
    notices: dict[str, NoticeBuilder] = field(default_factory=dict)
    """How an ended bulk job of a kind is POSTed to its webhook, for the kinds whose shape is this dialect's."""
    routers: list[APIRouter] = field(default_factory=list)
    key_scheme: KeyScheme = field(default_factory=lambda: header_key("Authorization", "`Bearer KEY`"))
    """Where the key travels, as /openapi.json declares it (Swagger UI's *Authorize* button)."""

    def router(self, **options: Any) -> APIRouter:
        """A router whose routes belong to this dialect (and answer errors in its shape)."""
        router = APIRouter(route_class=_route_class(self), **options)
        self.routers.append(router)
        return router

    def webhook(self, payload: SearchWebhook) -> SearchWebhook:
        """Decorator naming this dialect's search webhook payload."""
        self.search_webhook = payload
        return payload

    def notice(self, kind: str) -> Callable[[NoticeBuilder], NoticeBuilder]:
        """Decorator naming this dialect's webhook bodies for ended bulk jobs of `kind`."""

        def register(build: NoticeBuilder) -> NoticeBuilder:
            self.notices[kind] = build
            return build

        return register

    def handle(self, exc: Exception) -> Response:
        """This dialect's answer to one of the `HANDLED` exceptions."""
        if isinstance(exc, ServiceError):
            return self.render(exc)
        if isinstance(exc, InvalidFilter):
            return self.render(ServiceError(exc.message, field=exc.field))
        if isinstance(exc, RequestValidationError):
            return self.render(FieldErrors(field_errors(exc)))
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 404 and self.not_found is not None:
            return self.not_found()
        response = self.render(ServiceError(_HTTP_MESSAGES.get(exc.status_code, str(exc.detail)), status=exc.status_code))
        response.headers.update(exc.headers or {})
        return response

    def owns(self, path: str) -> int:
        """How specifically this dialect claims `path`: the length of its longest matching prefix (0: not)."""
        return max((len(prefix) for prefix in self.prefixes if path.startswith(prefix)), default=0)


def _route_class(dialect: Dialect) -> type[APIRoute]:
    class DialectRoute(APIRoute):
        """A route answering its errors in `dialect`'s shape (also found by the app's fallback
        handlers through `scope["route"]`, e.g. for 405)."""

        def get_route_handler(self) -> Handler:
            handler = super().get_route_handler()

            async def handle(request: Request) -> Response:
                try:
                    return await handler(request)
                except HANDLED as exc:
                    return dialect.handle(exc)

            return handle

    DialectRoute.dialect = dialect  # type: ignore[attr-defined]
    DialectRoute.__name__ = DialectRoute.__qualname__ = f"{dialect.name.capitalize()}Route"
    return DialectRoute


def route_dialect(request: Request) -> Dialect | None:
    """The dialect of the route the request matched (fully, or all but the method), if any."""
    return getattr(request.scope.get("route"), "dialect", None)
