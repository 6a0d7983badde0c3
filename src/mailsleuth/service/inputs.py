"""Text every dialect accepts: no lone surrogates, control characters or bidi overrides.

A lone surrogate cannot be encoded (it would fail deep inside a handler, or in the JSON answer);
control characters have no place in a name, domain or list name and must never reach an SMTP
command line; bidirectional overrides and isolates (U+202A-U+202E, U+2066-U+2069) make a name read
differently from what it is (the "Trojan Source" trick), in the dashboard and in exported CSVs.
"""

from __future__ import annotations

import re

_CONTROL = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"  # tab, LF and CR are judged by each field's own rule
_BIDI = "\u202a-\u202e\u2066-\u2069"
_SURROGATE = "\ud800-\udfff"
_UNSAFE = re.compile(f"[{_CONTROL}{_BIDI}{_SURROGATE}]")
_LINE_BREAKS = re.compile(r"[\r\n\t]")

UNSAFE_TEXT = "Enter text without control characters, bidirectional overrides or invalid characters."


def unsafe(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` holds a character no input may carry (line breaks only when `multiline`)."""
    return bool(_UNSAFE.search(value)) or (not multiline and bool(_LINE_BREAKS.search(value)))
