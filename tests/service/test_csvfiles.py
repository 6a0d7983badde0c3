"""Spreadsheet-formula neutralisation and the one decoding rule for CSV inputs."""

from __future__ import annotations

import pytest

from mailsleuth.service.csvfiles import CsvProblem, decode_utf8, neutralise


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"), (" =1+1", "' =1+1"), ("\u00a0\t@SUM(A1)", "'\u00a0\t@SUM(A1)"), ("  -2", "'  -2"),
        ("\uff1dHYPERLINK(1)", "'\uff1dHYPERLINK(1)"), ("\uff0b1", "'\uff0b1"), ("\uff0d1", "'\uff0d1"),
        ("\uff20x", "'\uff20x"), ("\tx", "'\tx"),
        ("jane.doe@acme.test", "jane.doe@acme.test"), ("Jane = Doe", "Jane = Doe"), ("", ""), (None, ""), (80, "80"),
    ],
)
def test_neutralise(cell: object, written: str) -> None:
    assert neutralise(cell) == written


def test_decode_utf8_takes_a_bom_and_names_the_first_bad_byte() -> None:
    assert decode_utf8("\ufeffname\nZoé\n".encode()) == "name\nZoé\n"
    with pytest.raises(CsvProblem) as caught:
        decode_utf8("name\nNed\nZoé\n".encode("latin-1"))
    assert str(caught.value) == 'The file is not UTF-8 encoded (byte 0xe9 on line 3). Save it as "CSV UTF-8" and send it again.'
    with pytest.raises(CsvProblem, match="line 1"):
        decode_utf8(b"\xef\xbb\xbfZo\xe9")
