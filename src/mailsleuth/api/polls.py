"""The routes clients poll, answered without the framework's per-request machinery.

A poll (`GET /contacts/{id}`, a job's status) asks the same small question thousands of times a
second. Through FastAPI each request walks every route's pattern, solves the route's dependencies,
opens two exit stacks and passes the middlewares below; a profile showed that to be half of each
poll. A route marked `polled` keeps its FastAPI registration (so /openapi.json documents it, and
it answers every request the fast path leaves to it), and `PollRoutes`, an ASGI middleware, answers
the common case itself: a GET whose path names exactly one polled route and whose id parses. It
runs the same guard (`Guard.check`: key, quota, X-RateLimit-* headers) and the same endpoint
function, and renders errors in the route's dialect; anything unusual (a bad id, HEAD, a trailing
slash) falls through to FastAPI unchanged, before any side effect.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mailsleuth.api.auth import Guard, reported_headers
from mailsleuth.api.dialect import HANDLED

Endpoint = Callable[..., Coroutine[Any, Any, Response]]
Convert = Callable[[str], Any]
E = TypeVar("E", bound=Endpoint)


@dataclass(frozen=True)
class Poll:
    """One polled path, `<prefix>{param}`: the guard, how the parameter parses (None: leave the
    request to FastAPI) and the endpoint, called as FastAPI calls it."""

    prefix: str
    param: str
    convert: Convert
    guard: Guard
    endpoint: Endpoint


_POLLS: dict[str, Poll] = {}  # by prefix; the dialect modules register theirs on import


def polled(guard: Guard, path: str, convert: Convert) -> Callable[[E], E]:
    """Mark `endpoint` (registered with FastAPI as usual) as polled at `path`, whose last segment is
    its one parameter, e.g. `/2018-01-08/contacts/{contact_id}`."""
    prefix, _, last = path.rpartition("/")
    if not (last.startswith("{") and last.endswith("}")) or "{" in prefix:
        raise ValueError(f"a polled path ends with its only parameter: {path!r}")

    def register(endpoint: E) -> E:
        poll = Poll(prefix + "/", last[1:-1], convert, guard, endpoint)
        if _POLLS.setdefault(poll.prefix, poll) != poll:
            raise ValueError(f"two polled routes under {poll.prefix!r}")
        return endpoint

    return register


def polls() -> Mapping[str, Poll]:
    return _POLLS


class PollRoutes:
    """ASGI middleware answering the polled routes' plain GETs (see the module's docstring)."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, Poll] | None = None) -> None:
        self.app = app
        self.routes = _POLLS if routes is None else routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        poll, value = self._match(scope) if scope["type"] == "http" and scope["method"] == "GET" else (None, None)
        if poll is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            principal = await poll.guard.check(request)
            response = await poll.endpoint(**{poll.param: value, "request": request, "principal": principal})
        except HANDLED as exc:
            response = poll.guard.dialect.handle(exc)
        response.raw_headers.extend(reported_headers(scope))
        await response(scope, receive, send)

    def _match(self, scope: Scope) -> tuple[Poll | None, Any]:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root):]
        head, _, tail = path.rpartition("/")
        poll = self.routes.get(head + "/")
        if poll is None or not tail:
            return None, None
        value = poll.convert(tail)
        return (poll, value) if value is not None else (None, None)
