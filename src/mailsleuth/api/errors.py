"""The services' errors rendered in each vendor's documented shape.

Services raise `ServiceError` subclasses without knowing who called them; the app's exception handlers
pick the dialect from the request path and render the body (and, for LeadGenius, the status) the
vendor documents.
"""

from __future__ import annotations

import enum
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError
from mailsleuth.store import InvalidFilter


class Dialect(enum.StrEnum):
    VOILANORBERT = "voilanorbert"
    LEADGENIUS = "leadgenius"
    KASPR = "kaspr"
    NATIVE = "native"


def dialect_for(path: str) -> Dialect:
    if path.startswith("/2018-01-08/"):
        return Dialect.VOILANORBERT
    if path.startswith(("/emailguess/", "/v1/emailguess/")):
        return Dialect.LEADGENIUS
    if path.startswith(("/keys/", "/profile/", "/company/")):
        return Dialect.KASPR
    return Dialect.NATIVE


def field_errors(exc: ValidationError | RequestValidationError) -> dict[str, list[str]]:
    """Pydantic errors as {"field": ["message", ...]}, with Django's wording for a missing field."""
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part not in ("body", "query", "path")]
        name = loc[0] if loc else "non_field_errors"
        message = REQUIRED if error.get("type") == "missing" else _clean(error.get("msg", "Invalid value."))
        fields.setdefault(name, []).append(message)
    return fields or {"non_field_errors": ["Invalid request."]}


def _clean(message: str) -> str:
    message = message.removeprefix("Value error, ")
    return message if message.endswith(".") else message + "."


_LEADGENIUS_LABELS = {"first": "First name", "middle": "Middle name", "last": "Last name", "domain": "Domain"}


def render(dialect: Dialect, error: ServiceError) -> JSONResponse:
    """The vendor's body for this error (see DESIGN.md, dialect notes)."""
    status = error.status
    body: dict[str, Any]
    if dialect is Dialect.LEADGENIUS:
        if status in (401, 429):
            status = 403  # the spec answers bad keys and rate limits with 403
        if error.field and status == 400:
            body = {"message": leadgenius_message(error.field, error.message)}
        else:
            body = {"status": status, "error": error.message}
    elif dialect is Dialect.VOILANORBERT and isinstance(error, FieldErrors):
        body = dict(error.fields)
    elif dialect is Dialect.VOILANORBERT and error.field and status == 400:
        body = {error.field: [error.message]}
    else:
        body = {"code": status, "error": error.message}
        if error.field:
            body["field"] = error.field
    return JSONResponse(body, status_code=status)


def leadgenius_message(field: str, message: str) -> str:
    """LeadGenius says "First name is required" rather than naming the JSON key."""
    label = _LEADGENIUS_LABELS.get(field, field.capitalize())
    return f"{label} is required" if message == REQUIRED else f"{label}: {message.rstrip('.')}"


async def api_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    return render(dialect_for(request.url.path), exc)


async def invalid_filter_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidFilter)
    return render(dialect_for(request.url.path), ServiceError(exc.message, field=exc.field))


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return render(dialect_for(request.url.path), FieldErrors(field_errors(exc)))


_HTTP_MESSAGES = {404: "Page not found.", 405: "Method not allowed."}


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Routing errors (404 for unknown paths, 405) in the dialect's shape too."""
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    if exc.status_code == 404 and dialect_for(request.url.path) is Dialect.LEADGENIUS:
        return JSONResponse({"status": 404, "result": "Not Found"}, status_code=404)
    response = render(dialect_for(request.url.path), ServiceError(message, status=exc.status_code))
    response.headers.update(exc.headers or {})
    return response
