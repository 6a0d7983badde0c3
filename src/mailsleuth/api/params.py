"""Ids and paging numbers as they arrive in paths, queries and bodies: bounded ASCII integers.

`str.isdigit` accepts '²' (which `int` refuses) and databases refuse integers past 2**63 - 1, so
every id or paging parameter of every dialect is read through these types: ASCII digits only,
within the range a row id can have; anything else is the dialect's 400 (or a 404 for ids that
cannot name a row), never a 500.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator, Field

MAX_ID = 2**63 - 1  # the largest row id SQLite and PostgreSQL BIGINT hold
_ASCII_INT = re.compile(r"\s*\+?0*([0-9]{1,19})\s*", re.ASCII)


def ascii_int(text: str) -> int | None:
    """`text` as a natural number written in ASCII digits (at most 19 of them, leading zeros aside),
    or None: the one reading of a number from a path, query or form, whose bounds the caller checks."""
    match = _ASCII_INT.fullmatch(text)
    return int(match.group(1)) if match is not None else None


def parse_id(text: str) -> int | None:
    """`text` as a row id (ASCII digits, 1 ..= MAX_ID), or None when it cannot be one."""
    value = ascii_int(text)
    return value if value is not None and 0 < value <= MAX_ID else None


def _ascii_int(value: Any) -> Any:
    """Strings must be ASCII digits (what `int()` and pydantic agree on); numbers pass to the bounds."""
    if isinstance(value, str):
        number = ascii_int(value)
        if number is None:
            raise ValueError("Enter a whole number.")
        return number
    return value


def _blank_or_ascii_int(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return _ascii_int(value)


PathId = Annotated[int, BeforeValidator(_ascii_int), Path(ge=0, le=MAX_ID)]
_Bounded = Annotated[int, Field(ge=0, le=MAX_ID)]
QueryId = Annotated[_Bounded | None, BeforeValidator(_blank_or_ascii_int), Query()]
Offset = Annotated[int, BeforeValidator(_ascii_int), Query(ge=0, le=MAX_ID)]
Limit = Annotated[int, BeforeValidator(_ascii_int), Query(ge=1, le=1000)]
BodyInt = Annotated[_Bounded | None, BeforeValidator(_blank_or_ascii_int)]
"""An optional id or page number in a form or JSON body; blank counts as missing."""
BodyIds = list[Annotated[_Bounded, BeforeValidator(_ascii_int)]] | None
"""An optional list of ids in a JSON body."""
