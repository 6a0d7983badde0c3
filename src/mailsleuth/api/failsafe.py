"""The last line: an unexpected exception in any handler becomes the dialect's 500, connection kept.

Starlette's own server-error middleware answers 500 and then re-raises, and uvicorn closes a
connection whose application raised. This pure ASGI middleware sits inside it, logs the exception
with its traceback, answers in the dialect's shape and returns normally, so a keep-alive client
keeps its connection. An exception after the response started can only be logged (the status line
is gone); the stream is then ended so the client is not left waiting.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mailsleuth.api.dialect import INTERNAL_ERROR
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.service.errors import ServiceError

log = logging.getLogger(__name__)

class Failsafe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            response = DIALECTS.for_path(Request(scope).url.path).render(ServiceError(INTERNAL_ERROR, status=500))
            await response(scope, receive, send)
