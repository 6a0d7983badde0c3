"""Reacher's (check-if-email-exists) wire conventions: the key in `x-reacher-secret` (or, as the
hosted Reacher documents, bare in `Authorization`); JSON errors `{"error": "..."}`, except the
transport errors Reacher's web framework answers in plain text (a missing or wrong secret, a body
that does not deserialize, an unknown path)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from mailsleuth.api.dialect import Dialect, header_key
from mailsleuth.api.ratelimit import Quota
from mailsleuth.service.errors import FieldErrors, ServiceError

# Reacher has no throttle unless its operator sets one; this is ours (MAILSLEUTH_RATE_LIMITS: "reacher").
DEFAULT = Quota.parse("reacher", "600/minute")

_PLAIN = {404: "Not Found", 405: "HTTP method not allowed", 413: "Payload Too Large", 415: "Unsupported Media Type"}


def reacher_key(request: Request) -> str | None:
    return request.headers.get("x-reacher-secret") or request.headers.get("authorization")


def render(error: ServiceError) -> Response:
    if error.status == 401:
        return PlainTextResponse(error.message, status_code=400)
    if isinstance(error, FieldErrors):
        problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in error.fields.items())
        return PlainTextResponse(f"Request body deserialize error: {problems}", status_code=400)
    if error.status in _PLAIN:
        return PlainTextResponse(_PLAIN[error.status], status_code=error.status)
    return JSONResponse({"error": error.message}, status_code=error.status)


DIALECT = Dialect(
    "reacher",
    prefixes=("/v0/check_email", "/v1/check_email", "/v1/bulk", "/version"),
    key=reacher_key,
    unauthorized='Invalid request header "x-reacher-secret"',
    missing_key='Missing request header "x-reacher-secret"',
    render=render,
    key_scheme=header_key("x-reacher-secret", "The API key in x-reacher-secret."),
)
