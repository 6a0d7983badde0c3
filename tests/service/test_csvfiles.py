"""Spreadsheet-formula neutralisation, the one decoding rule and the detected delimiter of CSV inputs."""

from __future__ import annotations

import io

import pytest

from mailsleuth.service.csvfiles import CsvProblem, decode_utf8, neutralise, open_table


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


@pytest.mark.parametrize(
    ("text", "header", "rows"),
    [
        ("name;domain\nJane Doe;acme.test\n", ["name", "domain"], [["Jane Doe", "acme.test"]]),
        ('name,title\nJane Doe,"CFO; Finance"\n', ["name", "title"], [["Jane Doe", "CFO; Finance"]]),
        ('name;company\n"Doe, Jane";"Acme, Inc"\n', ["name", "company"], [["Doe, Jane", "Acme, Inc"]]),
        ("email\tname\njane@acme.test\tJane\n", ["email", "name"], [["jane@acme.test", "Jane"]]),
        ("email|name\njane@acme.test|Jane\n", ["email", "name"], [["jane@acme.test", "Jane"]]),
        ("email\njane;doe@acme.test\n", ["email"], [["jane;doe@acme.test"]]),  # one column: comma, unsplit
        ("first;last;domain\n", ["first", "last", "domain"], []),
    ],
)
def test_delimiter_is_detected(text: str, header: list[str], rows: list[list[str]]) -> None:
    table = open_table(io.StringIO(text), "in.csv")
    assert table.header == header and list(table.rows) == rows


def test_detection_reads_ahead_only_a_few_lines_and_keeps_every_row() -> None:
    lines = ["email;n"] + [f"p{i}@acme.test;{i}" for i in range(1000)]

    class Pipe(io.StringIO):
        def seek(self, *args: object) -> int:
            raise io.UnsupportedOperation("a pipe")

    table = open_table(Pipe("\n".join(lines) + "\n"), "stdin")
    assert [row[1] for row in table.rows] == [str(i) for i in range(1000)]


def test_undecodable_first_lines_are_a_clear_problem() -> None:
    stream = io.TextIOWrapper(io.BytesIO(b"email\n\xff\xfe@acme.test\n"), encoding="utf-8")
    with pytest.raises(CsvProblem, match="in.csv: cannot read its first 20 lines: 'utf-8' codec can't decode"):
        open_table(stream, "in.csv")
