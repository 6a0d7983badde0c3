"""Request bodies are limited while they are read, on every route, whatever their encoding.

A pure ASGI middleware in front of the app: a declared Content-Length over the route's limit is
refused before one byte of the body is read, and a chunked body (or one longer than it said) is
counted message by message as it arrives, the route's read failing as soon as the count passes the
limit. The error is raised inside the route's own read, so each route answers it in its dialect's
shape (JSON, urlencoded and multipart readers alike). Routes that take files declare a larger limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_LIMIT = 1_000_000  # bytes of any body not declared larger below


class BodyTooLarge(HTTPException):
    """413, rendered by the dialect's HTTP error handler (and passed through FastAPI's body reading)."""

    def __init__(self) -> None:
        super().__init__(413, "Request body too large.")


@dataclass(frozen=True)
class Allowance:
    """Bodies under one of ``prefixes`` may be up to ``limit`` bytes; ``error`` is what exceeding raises."""

    prefixes: tuple[str, ...]
    limit: int
    error: Callable[[], Exception] = BodyTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, *, allowances: Sequence[Allowance] = (), default: int = DEFAULT_LIMIT) -> None:
        self.app = app
        self.allowances = tuple(allowances)
        self.default = Allowance((), default)

    def allowance(self, path: str) -> Allowance:
        return next((a for a in self.allowances if path.startswith(a.prefixes)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowance = self.allowance(scope["path"])
        declared = _declared_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > allowance.limit:
                raise allowance.error()  # checked before reading anything
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > allowance.limit:
                    raise allowance.error()
            return message

        await self.app(scope, limited_receive, send)


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number (the server already refused malformed ones)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
