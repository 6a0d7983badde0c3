"""Property tests for the API's readers of raw input: form bodies, ids, CSV cells."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qsl

from hypothesis import given, settings
from hypothesis import strategies as st

from mailsleuth.api import bodies
from mailsleuth.api.params import MAX_ID, parse_id
from mailsleuth.service.csvfiles import FORMULA_PREFIXES, SafeWriter, neutralise

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
