"""The one FastAPI app: every dialect (`api.dialects`) over the same services, store and background runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from mailsleuth import web
from mailsleuth.api.auth import RateLimitHeaders
from mailsleuth.api.bodylimit import BodyLimit
from mailsleuth.api.dialects import DIALECTS
from mailsleuth.api.failsafe import Failsafe
from mailsleuth.api.polls import PollRoutes
from mailsleuth.api.native.routes import BODY_ALLOWANCE as PEOPLE_IMPORT_BODY
from mailsleuth.api.voilanorbert.bulk import BODY_ALLOWANCE as UPLOAD_BODY
from mailsleuth.api.docs import mount_docs
from mailsleuth.api.ratelimit import RateLimiter, storage_uri
from mailsleuth.api.services import Services
from mailsleuth.config import Settings, get_settings
from mailsleuth.service import search, verification
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Database
from mailsleuth.engine.verify import Verifier

DESCRIPTION = """Find and verify professional email addresses.

Speaks the VoilaNorbert (`/2018-01-08/`), LeadGenius (`/emailguess/v1/`) and Kaspr dialects so
existing clients work unchanged, plus the native `/v1/` API that shows the full evidence.
"""


class Api(FastAPI):
    """FastAPI with `PollRoutes` in front of its whole stack: a poll never enters the framework."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._front = PollRoutes(super().__call__, version=self._database_version)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self  # what Starlette sets, for `request.app` in the polled endpoints
        await self._front(scope, receive, send)

    def _database_version(self) -> int | None:
        services = getattr(self.state, "services", None)  # set in the lifespan
        return services.db.version() if services is not None else None


def create_app(
    settings: Settings | None = None,
    *,
    verifier: Verifier | None = None,
    webhook_interval: float = 30.0,
    webhook_poll: float = 5.0,
    migrate: bool = True,
) -> Api:
    """Build the app; the database is migrated and background work started in the lifespan.

    `webhook_interval` is the retry step between webhook tries (VoilaNorbert: 30 s); tests shorten it.
    """
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.from_settings(settings)
        if migrate:
            await db.migrate()
        runtime = Runtime(
            settings,
            db,
            notices=DIALECTS.notices(),
            verifier=verifier,
            webhook_interval=webhook_interval,
            webhook_poll=webhook_poll,
        )
        app.state.services = Services(runtime, RateLimiter(storage_uri(settings.redis_url), settings.rate_limits))
        runtime.start()
        await search.resume_searches(runtime)
        await verification.resume_verifications(runtime)
        try:
            yield
        finally:
            await runtime.close()
            await db.dispose()

    app = Api(
        title="mailsleuth", version="0.1.0", description=DESCRIPTION, lifespan=lifespan, docs_url=None, redoc_url=None
    )
    mount_docs(app)
    app.add_middleware(RateLimitHeaders)
    app.add_middleware(BodyLimit, allowances=(UPLOAD_BODY, PEOPLE_IMPORT_BODY))
    app.add_middleware(Failsafe)  # added last: the outermost of ours, inside Starlette's server-error one
    DIALECTS.mount(app)
    app.include_router(web.router)
    return app
