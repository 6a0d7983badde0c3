"""The error vocabulary every dialect renders: pydantic field errors in the vendors' wording.

How an error looks on the wire is each dialect's own business (`Dialect.render`, in the dialect's
folder); this module only holds what they share.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import ValidationError

from mailsleuth.service.errors import REQUIRED, ServiceError

if TYPE_CHECKING:
    from mailsleuth.api.dialect import Dialect


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


def render(dialect: Dialect, error: ServiceError) -> Response:
    """`error` in `dialect`'s documented shape."""
    return dialect.render(error)


def __getattr__(name: str) -> Any:
    """Names that lived here before each dialect became a folder, resolved on first use (the
    registry imports every dialect, which import this module)."""
    if name in ("Dialect", "dialect_for"):
        from mailsleuth.api import dialects

        return dialects.DIALECTS if name == "Dialect" else dialects.DIALECTS.for_path
    if name == "leadgenius_message":
        from mailsleuth.api.leadgenius.dialect import leadgenius_message

        return leadgenius_message
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
