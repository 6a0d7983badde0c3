"""Errors a caller can act on, raised by the services without knowing which dialect called them.

The API renders them in each vendor's documented shape (`mailsleuth.api.errors`).
"""

from __future__ import annotations

REQUIRED = "This field is required."


class ServiceError(Exception):
    """`field` marks a problem with one input field (VoilaNorbert's `{"field": ["message"]}`)."""

    status: int = 400

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status


class Unauthorized(ServiceError):
    status = 401


class PaymentRequired(ServiceError):
    status = 402


class NotFound(ServiceError):
    status = 404


class RateLimited(ServiceError):
    status = 429


class FieldErrors(ServiceError):
    """Several invalid fields at once (VoilaNorbert reports them all)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        first_field, messages = next(iter(fields.items()))
        super().__init__(messages[0], field=first_field)
        self.fields = fields
