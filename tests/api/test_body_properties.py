"""Property tests for the API's readers of raw input: form bodies, ids, CSV cells."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from mailsleuth.api import bodies, jsonfields
from mailsleuth.api.params import MAX_ID, parse_id
from mailsleuth.service.csvfiles import FORMULA_PREFIXES, SafeWriter, neutralise
from mailsleuth.service.errors import ServiceError
from mailsleuth.service.uploads import Spool

FAST = settings(max_examples=300, derandomize=True, deadline=None)
# Raw bytes of a urlencoded body are ASCII (anything else is escaped); the escapes decode to anything.
FORM_BYTES = st.text(st.characters(max_codepoint=127), max_size=120).map(str.encode) | st.lists(
    st.sampled_from([b"a", b"=", b"&", b"%", b"%4", b"%41", b"+", b"content", b"%E9", b"%C3%A9", b"%zz", b"%00"]), max_size=60
).map(b"".join)


@FAST
@given(FORM_BYTES, st.integers(1, 9))
def test_streamed_form_reading_matches_the_standard_parser(body: bytes, read_size: int) -> None:
    """The spool-backed urlencoded reader gives what parse_qsl gives, however the reads split it."""
    expected = dict(parse_qsl(body.decode(), keep_blank_values=True, encoding="utf-8", errors="surrogateescape"))
    default, bodies._READ = bodies._READ, read_size
    try:
        got = bodies._form(io.BytesIO(body), ())
    finally:
        bodies._READ = default
    assert got == expected


@FAST
@given(st.text(max_size=25) | st.integers(-5, 2**70).map(str))
def test_ids_are_ascii_integers_in_range_or_nothing(text: str) -> None:
    value = parse_id(text)
    if value is not None:
        assert 0 < value <= MAX_ID and text.strip().lstrip("+").isascii()
        assert int(text) == value
    elif text.strip().isascii() and text.strip().isdigit():
        assert not 0 < int(text) <= MAX_ID


@FAST
@given(st.lists(st.text(max_size=15) | st.none() | st.integers(), min_size=1, max_size=6))
def test_written_cells_never_start_a_formula_and_read_back(row: list[object]) -> None:
    out = io.StringIO()
    SafeWriter(out).writerow(row)
    (read,) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert read == [neutralise(cell) for cell in row]
    assert not any(cell.lstrip().startswith(FORMULA_PREFIXES) for cell in read)


def _read_json(body: bytes, read_size: int) -> dict[str, object]:
    """`jsonfields.read_json_fields` with `content` as the file field, reading `read_size` characters
    at a time; the spool comes back as its bytes."""
    default, jsonfields._READ = jsonfields._READ, read_size
    try:
        fields = jsonfields.read_json_fields(io.BytesIO(body), ("content",), max_value=10_000)
    finally:
        jsonfields._READ = default
    return {key: value.file.read() if isinstance(value, Spool) else value for key, value in fields.items()}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FAST
@given(
    st.dictionaries(st.sampled_from(["content", "col_name", "webhook", "", "é"]) | st.text(max_size=8), JSON_VALUES, max_size=5),
    st.text(max_size=200) | st.none(),
    st.booleans(),
    st.sampled_from([None, 0, 2]),
    st.integers(1, 9),
)
def test_streamed_json_reading_matches_the_standard_parser(
    data: dict[str, object], content: str | None, ascii_only: bool, indent: int | None, read_size: int
) -> None:
    """The spool-backed JSON reader gives what json.loads gives (the file field as its UTF-8 bytes,
    a blank one as None), however the reads split strings, escapes and surrogate pairs."""
    if content is not None:
        data = {**data, "content": content}
    body = json.dumps(data, ensure_ascii=ascii_only, indent=indent).encode()
    expected = dict(data)
    if isinstance(expected.get("content"), str):
        text = expected["content"]
        assert isinstance(text, str)
        expected["content"] = text.encode() if text.strip(" \t\n\r\x0b\x0c") else None
    assert _read_json(body, read_size) == expected


JSON_BYTES = st.lists(
    st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b" ", b"\\", b"u", b"d83d", b"\\ude00", b"1", b"-",
                     b"e", b"content", b"null", b"\x01", b"\xff", b"\xc3\xa9", b"\\n"]),
    max_size=30,
).map(b"".join)


@FAST
@given(JSON_BYTES, st.integers(1, 9))
def test_streamed_json_reading_refuses_what_the_standard_parser_refuses(body: bytes, read_size: int) -> None:
    """Any body: the reader's answer is json.loads's (an object) or one of the two shared errors."""
    try:
        parsed = json.loads(body.decode("utf-8", errors="surrogateescape"))
    except json.JSONDecodeError:
        expected: object = jsonfields.MALFORMED
    else:
        expected = parsed if isinstance(parsed, dict) else jsonfields.NOT_AN_OBJECT
    try:
        got: object = _read_json(body, read_size)
    except ServiceError as exc:
        got = exc.message
    if isinstance(expected, dict) and isinstance(expected.get("content"), str):
        text = expected["content"]
        assert isinstance(text, str)
        expected["content"] = jsonfields._encode(text) if text.strip(" \t\n\r\x0b\x0c") else None
    assert got == expected
