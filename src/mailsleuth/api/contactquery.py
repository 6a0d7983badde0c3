"""The contacts query as VoilaNorbert's `GET /contacts/` spells it, read from query parameters.

Shared by every route that takes contact filters (the VoilaNorbert and native contacts lists, and
`POST /lists/{id}`); ids and page numbers go through the one integer reader (`api.params`), so a
number no row can have (2**63, '²', '٣', -1) is the filter's 400, never an empty page or a 500.
`list_id` is taken as one more spelling of `lists` (the name the other routes give a list's id),
rather than ignored, which would answer every contact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone

from mailsleuth.api.params import MAX_ID, ascii_int
from mailsleuth.store import ContactFilters, ContactStatus, InvalidFilter
from mailsleuth.store.contacts import filter_text

Params = Mapping[str, str] | Iterable[tuple[str, str]]

TRUE_VALUES = ("true", "1")
_ALIASES = {"list_id": "lists"}
_CREATED = re.compile(r"^\s*(>=|<=|>|<|=)?\s*(.+?)\s*$")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$", re.ASCII)


def contact_filters(params: Params) -> ContactFilters:
    """Parse VoilaNorbert query parameters (repeated keys allowed). Raises InvalidFilter.

    `found` and `history` follow the spec: "true" or "1" restrict, anything else means all.
    `created` takes ms timestamps or dates ("2016-04-01 10:00"), each optionally prefixed by an
    operator (repeat the parameter for a range); see `_created` for the precision rule.
    """
    values: dict[str, list[str]] = {}
    for key, value in params.items() if isinstance(params, Mapping) else params:
        if value is not None and str(value).strip() != "":
            name = key.removesuffix("[]")
            values.setdefault(_ALIASES.get(name, name), []).append(str(value))

    def last(key: str) -> str | None:
        return filter_text(key, values[key][-1]) if key in values else None

    status = last("status")
    if status is not None and status.upper() not in ContactStatus.__members__:
        raise InvalidFilter("status", "must be LEAD, CONTACTED, WON or LOST")
    return ContactFilters(
        ids=_ids("ids", values.get("ids")),
        query=last("query"),
        name=last("name"),
        email=last("email"),
        company=last("company"),
        domain=(last("domain") or "").lower() or None,
        status=ContactStatus(status.upper()) if status else None,
        verdict=(last("verdict") or "").lower() or None,
        found=True if (last("found") or "").lower() in TRUE_VALUES else None,
        history=True if (last("history") or "").lower() in TRUE_VALUES else None,
        lists=_ids("lists", values.get("lists")),
        created=[bound for value in values.get("created", []) for bound in _created(value)],
        order_by=last("order_by") or "-created",
        page=_integer("page", last("page") or "1"),
        per_page=_integer("per_page", last("per_page") or last("limit") or "50"),
    )


def _integer(field: str, value: str, *, low: int = 0) -> int:
    number = ascii_int(value)
    if number is None or not low <= number <= MAX_ID:
        raise InvalidFilter(field, "must be an integer")
    return number


def _ids(field: str, values: list[str] | None) -> list[int] | None:
    """Comma-separated row ids (1 ..= MAX_ID), from every repetition of the parameter."""
    if values is None:
        return None
    return [_integer(field, part, low=1) for value in values for part in value.split(",") if part.strip()]


def _created(value: str) -> list[tuple[str, datetime]]:
    """A created filter as bounds on created_at.

    The value names an interval as wide as its precision (a ms timestamp is one millisecond, a date one
    day, "10:00" one minute), so `=` and `<=` also match contacts whose stored time has finer digits
    than what the API showed.
    """
    match = _CREATED.match(value)
    if match is None:
        raise InvalidFilter("created", "must be a date or ms timestamp, optionally prefixed by = > < >= <=")
    operator, raw = match.group(1) or "=", match.group(2)
    try:
        start, width = _moment(raw)
    except (ValueError, OverflowError):
        raise InvalidFilter("created", f"not a date or ms timestamp: {raw!r}") from None
    end = start + width
    return {
        "=": [(">=", start), ("<", end)],
        ">": [(">=", end)],
        ">=": [(">=", start)],
        "<": [("<", start)],
        "<=": [("<", end)],
    }[operator]


def _moment(raw: str) -> tuple[datetime, timedelta]:
    timestamp = ascii_int(raw)
    if timestamp is not None:
        return datetime.fromtimestamp(timestamp / 1000, timezone.utc), timedelta(milliseconds=1)
    date = _DATE.match(raw)
    if date is not None:
        year, month, day, hour, minute, second = (int(part or 0) for part in date.groups())
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
        if date.group(4) is None:
            return moment, timedelta(days=1)
        return moment, timedelta(seconds=1) if date.group(6) is not None else timedelta(minutes=1)
    moment = datetime.fromisoformat(raw)
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)), timedelta(microseconds=1)
