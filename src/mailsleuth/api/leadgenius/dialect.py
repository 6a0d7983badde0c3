"""LeadGenius's wire conventions: `X-LG-API-KEY`, 403 for both a bad key and a rate limit, and its
own bodies for field errors and unknown paths."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from mailsleuth.api.dialect import Dialect, header_key
from mailsleuth.api.ratelimit import Quota
from mailsleuth.service.errors import REQUIRED, ServiceError

DEFAULT = Quota.parse("lg", "300/minute")
SUBMIT = Quota.parse("lg:submit", "300/minute")
BULK_OBJECTS = Quota.parse("lg:bulk/objects", "5000/hour")
BULK_STATUS = Quota.parse("lg:bulk/status", "1/minute;60/hour")

NOT_FOUND = {"status": 404, "result": "Not Found"}

LABELS = {"first": "First name", "middle": "Middle name", "last": "Last name", "domain": "Domain"}


def leadgenius_message(field: str, message: str) -> str:
    """LeadGenius says "First name is required" rather than naming the JSON key."""
    label = LABELS.get(field, field.capitalize())
    return f"{label} is required" if message == REQUIRED else f"{label}: {message.rstrip('.')}"


def render(error: ServiceError) -> JSONResponse:
    status = 403 if error.status in (401, 429) else error.status  # the spec answers both with 403
    body: dict[str, Any]
    if error.field and status == 400:
        body = {"message": leadgenius_message(error.field, error.message)}
    else:
        body = {"status": status, "error": error.message}
    return JSONResponse(body, status_code=status)


def not_found() -> JSONResponse:
    return JSONResponse(NOT_FOUND, status_code=404)


def lg_key(request: Request) -> str | None:
    return request.headers.get("x-lg-api-key")


DIALECT = Dialect(
    "leadgenius",
    prefixes=("/emailguess/", "/v1/emailguess/"),
    key=lg_key,
    unauthorized="Unauthorized request, check your API Key",
    render=render,
    not_found=not_found,
    key_scheme=header_key("X-LG-API-KEY", "The API key in X-LG-API-KEY."),
)
