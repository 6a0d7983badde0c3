"""Errors the store raises; the API maps them to each dialect's status codes."""

from __future__ import annotations


class StoreError(Exception):
    """Base class for store errors."""


class NotFound(StoreError, LookupError):
    """The referenced row does not exist in the caller's organisation."""


class AlreadyExists(StoreError):
    """A unique name (organisation, user e-mail) is taken."""


class InvalidFilter(StoreError, ValueError):
    """A contacts/lists query parameter is malformed; `field` names it for field-error bodies."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
