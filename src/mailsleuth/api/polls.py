"""The routes clients poll, answered without the framework's per-request machinery.

A poll (`GET /contacts/{id}`, a job's status) asks the same small question thousands of times a
second. Through FastAPI each request walks every route's pattern, solves the route's dependencies,
opens two exit stacks and passes the middlewares below; a profile showed that to be half of each
poll. A route marked `polled` keeps its FastAPI registration (so /openapi.json documents it, and
it answers every request the fast path leaves to it), and `PollRoutes`, an ASGI middleware, answers
the common case itself: a GET whose path names exactly one polled route and whose id parses. It
runs the same guard (`Guard.check`: key, quota, X-RateLimit-* headers) and the same endpoint
function, and renders errors in the route's dialect; anything unusual (a bad id, HEAD, a trailing
slash) falls through to FastAPI unchanged, before any side effect. It sits in front of FastAPI
itself (`api.app.Api`), so a poll also skips Starlette's error middleware and FastAPI's telemetry
and body-limit layers; an unexpected error still gets the dialect's 500, as `Failsafe` gives it.

A route whose answer depends on nothing but the stored rows and the caller's organisation is marked
`stored_only`: its rendered answer is remembered until the database changes (`Database.version`,
SQLite's `PRAGMA data_version`, moves on every commit of any connection of any process), so a
client polling an unchanged contact costs its key check, its quota and a dictionary look-up. The
guard still runs on every request: a refused key or an exhausted quota is never answered from memory.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from mailsleuth.api.auth import Guard, reported_headers
from mailsleuth.api.dialect import HANDLED, INTERNAL_ERROR
from mailsleuth.service.errors import ServiceError
from mailsleuth.store.lookups import UntilChange

log = logging.getLogger(__name__)

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
    stored_only: bool = False  # the answer is a function of the stored rows and the organisation alone


_POLLS: dict[str, Poll] = {}  # by prefix; the dialect modules register theirs on import


def polled(guard: Guard, path: str, convert: Convert, *, stored_only: bool = False) -> Callable[[E], E]:
    """Mark `endpoint` (registered with FastAPI as usual) as polled at `path`, whose last segment is
    its one parameter, e.g. `/2018-01-08/contacts/{contact_id}`. `stored_only`: its answer may be
    remembered until the database changes (nothing in it depends on the clock or the request)."""
    prefix, _, last = path.rpartition("/")
    if not (last.startswith("{") and last.endswith("}")) or "{" in prefix:
        raise ValueError(f"a polled path ends with its only parameter: {path!r}")

    def register(endpoint: E) -> E:
        poll = Poll(prefix + "/", last[1:-1], convert, guard, endpoint, stored_only)
        if _POLLS.setdefault(poll.prefix, poll) != poll:
            raise ValueError(f"two polled routes under {poll.prefix!r}")
        return endpoint

    return register


def polls() -> Mapping[str, Poll]:
    return _POLLS


Version = Callable[[], "int | None"]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
REMEMBERED_ANSWERS = 4096  # between two changes of the database (then all are forgotten)


class PollRoutes:
    """ASGI middleware answering the polled routes' plain GETs (see the module's docstring).

    `version` gives the database's change counter (None: nothing is remembered)."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, Poll] | None = None, version: Version | None = None) -> None:
        self.app = app
        self.routes = _POLLS if routes is None else routes
        self.version = version
        self._answers: UntilChange[tuple[str, Any, int], Answer] = UntilChange(REMEMBERED_ANSWERS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        poll, value = self._match(scope) if scope["type"] == "http" and scope["method"] == "GET" else (None, None)
        if poll is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive, send)
        try:
            principal = await poll.guard.check(request)
        except HANDLED as exc:
            answer = _rendered(poll.guard.dialect.handle(exc))
        else:
            answer = await self._answer(poll, value, request, principal)
        status, headers, body = answer
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *reported_headers(scope)]})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, poll: Poll, value: Any, request: Request, principal: Any) -> Answer:
        version = self.version() if poll.stored_only and self.version is not None else None
        answers = self._answers.at(version) if version is not None else None
        key = (poll.prefix, value, principal.org_id)
        if answers is not None and key in answers:
            return answers[key]
        try:
            response = await poll.endpoint(**{poll.param: value, "request": request, "principal": principal})
        except HANDLED as exc:
            response = poll.guard.dialect.handle(exc)
        except Exception:  # what `Failsafe` does for the framework's routes
            log.exception("unhandled error on GET %s", request.scope["path"])
            return _rendered(poll.guard.dialect.render(ServiceError(INTERNAL_ERROR, status=500)))
        answer = _rendered(response)
        if answers is not None:
            answers[key] = answer
        return answer

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


def _rendered(response: Response) -> Answer:
    """A fully rendered response (every polled endpoint returns one with its body in memory)."""
    return response.status_code, list(response.raw_headers), response.body
