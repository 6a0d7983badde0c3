"""A LeadGenius bulk submission, checked in full before a job exists (any problem is one error
naming the object at fault, the shape the bulk endpoints document)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mailsleuth.api.leadgenius.dialect import LABELS
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.inputs import unsafe
from mailsleuth.service.uploads import MAX_CELL


@dataclass(frozen=True)
class Person:
    first: str
    middle: str
    last: str
    domain: str

    def to_input(self) -> dict[str, str]:
        return {"first": self.first, "middle": self.middle, "last": self.last, "domain": self.domain}


@dataclass(frozen=True)
class Batch:
    people: list[Person]
    use_smtp_sniff: bool
    use_catch_all: bool
    webhook_url: str | None


def _flag(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ServiceError(f"options.{name} must be true or false")


def parse_batch(body: Any) -> Batch:
    """The LeadGenius bulk submission; any problem is one `ServiceError` naming the object at fault."""
    if not isinstance(body, Mapping):
        raise ServiceError("The body must be a JSON object")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        raise ServiceError("data is required: a list of {first, middle, last, domain} objects")
    people = [_person(index, item) for index, item in enumerate(data)]
    options = body.get("options") or {}
    if not isinstance(options, Mapping):
        raise ServiceError("options must be an object")
    webhook = body.get("webhook_url")
    if webhook is not None and not isinstance(webhook, str):
        raise ServiceError("webhook_url must be a string")
    return Batch(
        people,
        _flag(options.get("use_smtp_sniff", False), "use_smtp_sniff"),
        _flag(options.get("use_catch_all", False), "use_catch_all"),
        webhook.strip() or None if webhook else None,
    )


def _person(index: int, item: Any) -> Person:
    if not isinstance(item, Mapping):
        raise ServiceError(f"data[{index}] must be an object with first, middle, last and domain")
    values: dict[str, str] = {}
    for key, label in LABELS.items():
        value = item.get(key)
        if value is None and key == "middle":
            value = ""  # required by the schema, but the vendor's own example sends ""
        if not isinstance(value, str) or (key != "middle" and not value.strip()):
            raise ServiceError(f"data[{index}]: {label} is required")
        if unsafe(value) or len(value) > MAX_CELL:
            raise ServiceError(f"data[{index}]: {label} contains a control character or is too long")
        values[key] = value.strip()
    return Person(**values)
