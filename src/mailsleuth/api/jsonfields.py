"""A JSON object body read field by field from a spooled file, its file fields decoded into spools.

An upload's JSON body can be 200 MB (a 100 MB CSV with its newlines and quotes escaped). Parsing it
whole would hold the text and the decoded string in memory at once, so the object is read here in
small pieces instead: a string value of a file field is decoded escape by escape straight into a
`Spool` (disk past 1 MB), every other value is bounded and handed to the standard `json` decoder.
The result is what `json.loads` would give (the file fields as spools), with the same two errors
every dialect shares for a body that is not JSON or not an object.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from typing import IO, Any

from mailsleuth.service.errors import ServiceError
from mailsleuth.service.uploads import Spool, Unclosable

MALFORMED = "Malformed JSON body."
NOT_AN_OBJECT = "The body must be a JSON object."
JSON_WHITESPACE = " \t\n\r"
_READ = 64 * 1024  # characters read from the file at a time
_ESCAPE_WIDTH = 6  # `\uXXXX`: the most characters one decoded character costs in JSON
# A run of a JSON string's content holding only whole escapes, and a high surrogate's escape at its
# end (kept for the next run, so that a pair split by a read is still decoded as one character).
_STRING_RUN = re.compile(r'(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*')
_HIGH_SURROGATE_TAIL = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}\Z")
_DELIMITERS = frozenset(JSON_WHITESPACE + ",:]}")  # what may follow a value (not "": the buffer's end)
_DECODER = json.JSONDecoder()


def read_json_fields(file: IO[bytes], files: tuple[str, ...], *, max_value: int) -> dict[str, Any]:
    """The JSON object in `file`; string values of the keys in `files` become spools (None if blank).

    Text is decoded with `surrogateescape`, so bytes that are not UTF-8 reach the spool unchanged and
    the upload reader reports them with their line. Other values may take at most `max_value`
    characters; a longer one is that field's error, as in a form body.
    """
    reader = _Reader(file)
    fields: dict[str, Any] = {}
    try:
        reader.skip_whitespace()
        if reader.peek() != "{":
            try:
                reader.value(max_value)  # malformed, or valid but not an object
                reader.skip_whitespace()
            except _TooLong:
                raise ServiceError(NOT_AN_OBJECT) from None
            raise ServiceError(MALFORMED if reader.peek() else NOT_AN_OBJECT)
        reader.expect("{")
        reader.skip_whitespace()
        if reader.peek() == "}":
            reader.expect("}")
        else:
            _members(reader, fields, files, max_value)
        reader.skip_whitespace()
        if reader.peek():
            raise ServiceError(MALFORMED)
    except BaseException:
        _close_spools(fields)
        raise
    return fields


def _members(reader: _Reader, fields: dict[str, Any], files: tuple[str, ...], max_value: int) -> None:
    while True:
        reader.skip_whitespace()
        key = reader.value(max_value)
        if not isinstance(key, str):
            raise ServiceError(MALFORMED)
        reader.skip_whitespace()
        reader.expect(":")
        reader.skip_whitespace()
        previous = fields.pop(key, None)
        if isinstance(previous, Spool):
            previous.close()
        if key in files and reader.peek() == '"':
            fields[key] = _string_to_spool(reader)
        else:
            fields[key] = reader.value(max_value, field=key or "body")
        reader.skip_whitespace()
        if reader.peek() == "}":
            reader.expect("}")
            return
        reader.expect(",")


def _string_to_spool(reader: _Reader) -> Spool | None:
    spool = Spool()
    try:
        for piece in reader.string_pieces():
            spool.write(_encode(piece))
    except BaseException:
        spool.close()
        raise
    if spool.is_blank():
        spool.close()
        return None
    return spool


def _encode(text: str) -> bytes:
    """Bytes of decoded text: undecodable input bytes back as they were; a lone surrogate sent as an
    escape becomes bytes that are not UTF-8, which the upload reader reports like any other."""
    try:
        return text.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="surrogatepass")


def _close_spools(fields: dict[str, Any]) -> None:
    for value in fields.values():
        if isinstance(value, Spool):
            value.close()


class _TooLong(ServiceError):
    """A value over the bound: a field's error (for a body that is no object, just not an object)."""


class _Reader:
    """The body's characters with a cursor, read from the file a bounded piece at a time."""

    def __init__(self, file: IO[bytes]) -> None:
        self._text = io.TextIOWrapper(io.BufferedReader(Unclosable(file)), encoding="utf-8", errors="surrogateescape")
        self._buffer = ""
        self._pos = 0
        self._eof = False

    def _fill(self) -> bool:
        """Read more (keeping what is not consumed); False at the end of the file."""
        if self._eof:
            return False
        chunk = self._text.read(_READ)
        self._eof = not chunk
        self._buffer = self._buffer[self._pos :] + chunk
        self._pos = 0
        return bool(chunk)

    def peek(self) -> str:
        """The next character, or "" at the end."""
        while self._pos >= len(self._buffer):
            if not self._fill():
                return ""
        return self._buffer[self._pos]

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise ServiceError(MALFORMED)
        self._pos += 1

    def skip_whitespace(self) -> None:
        while (char := self.peek()) and char in JSON_WHITESPACE:
            self._pos += 1

    def value(self, max_chars: int, field: str = "body") -> Any:
        """One JSON value decoded by the standard decoder; a string of more than `max_chars`
        characters (or a value of more than that many escapes' worth) is `field`'s error."""
        too_long = _TooLong(f"Ensure this field has no more than {max_chars} characters.", field=field)
        while True:
            self.peek()
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError:
                end = None
            # A value the buffer cuts short may decode as less (a number's first digits): only one
            # followed by a delimiter, or by the end of the body, is whole.
            if end is not None and (self._buffer[end : end + 1] in _DELIMITERS or self._eof):
                if isinstance(value, str) and len(value) > max_chars:
                    raise too_long
                self._pos = end
                return value
            if len(self._buffer) - self._pos > max_chars * _ESCAPE_WIDTH + 2:
                raise too_long
            if not self._fill():
                if end is None:
                    raise ServiceError(MALFORMED)

    def string_pieces(self) -> Iterator[str]:
        """A string value's content, decoded, in pieces; the cursor ends after its closing quote."""
        self.expect('"')
        while True:
            end = _STRING_RUN.match(self._buffer, self._pos).end()  # type: ignore[union-attr] # matches ""
            stopped = self._buffer[end : end + 1]
            split = stopped == "\\" and len(self._buffer) - end < _ESCAPE_WIDTH and not self._eof
            if stopped not in ('"', "") and not split:
                raise ServiceError(MALFORMED)  # a control character or a bad escape
            if stopped != '"' and not self._eof:
                tail = _HIGH_SURROGATE_TAIL.search(self._buffer, self._pos, end)
                end = tail.start() if tail else end
            if end > self._pos:
                yield json.loads(f'"{self._buffer[self._pos : end]}"')
                self._pos = end
            if stopped == '"':
                self._pos = end + 1
                return
            if not self._fill():
                raise ServiceError(MALFORMED)  # the body ended inside the string
