"""The one list of dialects the app speaks, and what the app does with it.

Adding a dialect is adding its folder and one line to `DIALECTS`. Each folder's `DIALECT` brings its
routers, its error rendering, where its key travels and its webhook shapes (see
`mailsleuth.api.dialect`). Every process that runs bulk jobs (the app's and `mailsleuth worker`)
builds its runtime with `DIALECTS.notices()`.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI, Request, Response

from mailsleuth.api import hunter, kaspr, leadgenius, native, reacher, voilanorbert
from mailsleuth.api.dialect import HANDLED, Dialect, route_dialect
from mailsleuth.jobs.notices import NoticeBuilder, Notices
from mailsleuth.service import search


class Dialects:
    """The registered dialects; `default` answers paths no dialect claims."""

    def __init__(self, *dialects: Dialect, default: Dialect) -> None:
        self._all = dialects
        self._by_name = {dialect.name: dialect for dialect in dialects}
        self.default = default

    def __iter__(self) -> Iterator[Dialect]:
        return iter(self._all)

    def __getattr__(self, name: str) -> Dialect:
        """`DIALECTS.VOILANORBERT`: a dialect by its upper-case name (the old enum's spelling)."""
        try:
            return self.__dict__["_by_name"][name.lower()]
        except KeyError:
            raise AttributeError(name) from None

    def for_path(self, path: str) -> Dialect:
        """The dialect with the most specific prefix of `path` (e.g. `/v1/emailguess/` over `/v1/`)."""
        best = max(self._all, key=lambda dialect: dialect.owns(path))
        return best if best.owns(path) else self.default

    def for_request(self, request: Request) -> Dialect:
        return route_dialect(request) or self.for_path(request.url.path)

    async def handle(self, request: Request, exc: Exception) -> Response:
        """The app-level fallback: errors outside any dialect's route (unknown paths, 405)."""
        return self.for_request(request).handle(exc)

    def notices(self) -> Notices:
        """The webhook builders of ended bulk jobs, by job kind, from every dialect (one per kind)."""
        builders: dict[str, NoticeBuilder] = {}
        for dialect in self._all:
            for kind, build in dialect.notices.items():
                if kind in builders:
                    raise ValueError(f"two dialects shape the webhooks of {kind} jobs")
                builders[kind] = build
        return builders

    def mount(self, app: FastAPI) -> None:
        """Include every dialect's routers (in registration order), its webhook shape, and the
        fallback error handlers."""
        for dialect in self._all:
            for router in dialect.routers:
                app.include_router(router)
            if dialect.search_webhook is not None:
                search.webhook_payload(dialect.name)(dialect.search_webhook)
        for exc_type in HANDLED:
            app.add_exception_handler(exc_type, self.handle)


DIALECTS = Dialects(
    voilanorbert.DIALECT,
    leadgenius.DIALECT,
    kaspr.DIALECT,
    hunter.DIALECT,
    reacher.DIALECT,
    native.DIALECT,
    default=native.DIALECT,
)
