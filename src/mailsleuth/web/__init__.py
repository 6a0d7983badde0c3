"""The dashboard: one static page, its script and its style sheet, served by the API app.

No build step and nothing from a CDN, so it works on a machine without internet. The page keeps the
API key in the browser's localStorage and calls the same `/v1/` API any client does; the strict
Content-Security-Policy (no inline script or style, same origin only) is what makes rendering
API data with `textContent` the whole XSS story.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

__all__ = ["SECURITY_HEADERS", "router"]

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

# The only files served: a fixed table, so no request path ever reaches the file system.
_MEDIA_TYPES: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
}

router = APIRouter(include_in_schema=False)


def _static(name: str) -> Response:
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return Response(body, media_type=_MEDIA_TYPES[name], headers=SECURITY_HEADERS)


@router.get("/")
@router.get("/dashboard")
async def dashboard() -> Response:
    return _static("index.html")


@router.get("/dashboard/app.js")
async def script() -> Response:
    return _static("app.js")


@router.get("/dashboard/style.css")
async def style() -> Response:
    return _static("style.css")
