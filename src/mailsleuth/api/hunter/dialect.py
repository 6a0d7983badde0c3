"""Hunter.io v2's wire conventions: the key in `api_key`, `X-API-KEY` or Bearer; the `{data, meta}`
envelope; errors as `{"errors": [{"id", "code", "details"}]}` with Hunter's status codes (401 bad
key, 403 rate limit, 429 usage limit, 400 bad parameters, 404 unknown); and its rate limits."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from mailsleuth.api.dialect import Dialect, bearer_or_bare, query_key
from mailsleuth.api.ratelimit import Quota
from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError

PREFIX = "/v2"

DEFAULT = Quota.parse("hunter", "15/second;500/minute")
VERIFIER = Quota.parse("hunter:email-verifier", "10/second;300/minute")

# Our status -> (Hunter's status, error id when the error names no field)
_STATUS = {
    401: (401, "authentication_failed"),
    402: (429, "too_many_requests"),  # out of credits is Hunter's "usage limit"
    429: (403, "too_many_requests"),  # a rate limit is Hunter's 403
    404: (404, "not_found"),
    405: (405, "method_not_allowed"),
    413: (400, "wrong_params"),
}


def hunter_key(request: Request) -> str | None:
    """`?api_key=` (what pyhunter sends), else `X-API-KEY`, else `Authorization: Bearer`."""
    return request.query_params.get("api_key") or request.headers.get("x-api-key") or bearer_or_bare(request)


def error_id(field: str, message: str) -> str:
    """`wrong_params` for a missing parameter, `invalid_<field>` for a bad one (Hunter's ids)."""
    return "wrong_params" if message == REQUIRED else f"invalid_{field}"


def details(field: str, message: str) -> str:
    return f"You are missing the {field} parameter" if message == REQUIRED else f"{field}: {message}"


def errors_body(status: int, entries: list[tuple[str, str]]) -> JSONResponse:
    body: dict[str, Any] = {"errors": [{"id": id_, "code": status, "details": text} for id_, text in entries]}
    return JSONResponse(body, status_code=status)


def render(error: ServiceError) -> JSONResponse:
    if isinstance(error, FieldErrors):
        entries = [(error_id(f, m), details(f, m)) for f, messages in error.fields.items() for m in messages]
        return errors_body(400, entries)
    if error.field and error.status == 400:
        return errors_body(400, [(error_id(error.field, error.message), details(error.field, error.message))])
    status, id_ = _STATUS.get(error.status, (error.status, "wrong_params" if error.status == 400 else "server_error"))
    return errors_body(status, [(id_, error.message)])


DIALECT = Dialect(
    "hunter",
    prefixes=(PREFIX + "/",),
    key=hunter_key,
    unauthorized="No user found for the API key supplied",
    render=render,
    key_scheme=query_key("api_key", "The API key as `api_key` (also accepted: X-API-KEY header, `Bearer KEY`)."),
)
