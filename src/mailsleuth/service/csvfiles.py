"""Reading users' CSV files and writing results back, row by row, whatever the file's size.

Columns are found by name and the delimiter is detected (spreadsheets in many locales export with
`;`), so users need not reshape their exports; every cell written is neutralised against
spreadsheet formula injection.
"""

from __future__ import annotations

import _csv
import csv
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ADDRESS_COLUMNS = ("email", "address", "mail", "e-mail", "email_address")
# What a spreadsheet starts a formula with, fullwidth forms included (some evaluate those too).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_FORMULA_FIRSTS = frozenset(FORMULA_PREFIXES)  # each prefix is one character
DELIMITERS = ",;\t|"
SNIFF_LINES = 20


class CsvProblem(ValueError):
    """The input file cannot be used as given; the message tells the user what to change."""


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: Iterator[list[str]]


def neutralise(value: object) -> str:
    """Prefix cells a spreadsheet would evaluate as a formula (OWASP CSV injection); spreadsheets
    skip leading blanks before the formula sign, so the test does too."""
    text = "" if value is None else str(value)
    first = text[:1]
    if first in _FORMULA_FIRSTS:
        return "'" + text
    if not first.isspace():  # nothing to skip: the first character decides (most cells)
        return text
    return "'" + text if text.lstrip().startswith(FORMULA_PREFIXES) else text


def not_utf8(line: int, byte: int) -> str:
    """The one message for an input that is not UTF-8, wherever a CSV comes in."""
    return f'The file is not UTF-8 encoded (byte 0x{byte:02x} on line {line}). Save it as "CSV UTF-8" and send it again.'


def decode_utf8(raw: bytes) -> str:
    """A CSV body as text: UTF-8 with or without a BOM, else a CsvProblem naming the first bad byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (3 if raw.startswith(b"\xef\xbb\xbf") else 0)
        raise CsvProblem(not_utf8(raw.count(b"\n", 0, start) + 1, raw[start])) from None


def find_column(header: Sequence[str], wanted: str | None, defaults: Sequence[str], what: str) -> int:
    """Index of the column named ``wanted`` (or the first of ``defaults``), case-insensitively."""
    lowered = [h.strip().lower() for h in header]
    names = [wanted.lower()] if wanted else [d.lower() for d in defaults]
    for name in names:
        if name in lowered:
            return lowered.index(name)
    shown = ", ".join(header) or "(none)"
    raise CsvProblem(f"no {what} column: looked for {' / '.join(names)}; the header has {shown}")


def optional_column(header: Sequence[str], names: Sequence[str]) -> int | None:
    try:
        return find_column(header, None, names, "")
    except CsvProblem:
        return None


def csv_rows(stream: IO[str], source: str) -> _csv._reader:
    """A csv.reader over `stream` with the delimiter its first lines use: comma, semicolon, tab or
    pipe (comma when they do not say, e.g. a single column). Reads ahead only SNIFF_LINES lines, so
    it works on pipes too."""
    try:
        head = list(itertools.islice(stream, SNIFF_LINES))
    except UnicodeDecodeError as exc:
        raise CsvProblem(f"{source}: cannot read its first {SNIFF_LINES} lines: {exc}") from None
    try:
        delimiter = csv.Sniffer().sniff("".join(head), delimiters=DELIMITERS).delimiter
    except csv.Error:
        delimiter = ","
    return csv.reader(itertools.chain(head, stream), delimiter=delimiter)


def read_header(reader: Iterator[list[str]], source: str) -> list[str]:
    """The first row, or a CsvProblem saying why the file has none."""
    try:
        return next(reader)
    except StopIteration:
        raise CsvProblem(f"{source} is empty: expected a header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CsvProblem(f"{source}: cannot read the header: {exc}") from None


def open_table(stream: IO[str], source: str) -> Table:
    """Read the header now (so column errors come before any work) and the rows lazily."""
    reader = csv_rows(stream, source)
    header = read_header(reader, source)
    width = len(header)

    def rows() -> Iterator[list[str]]:
        line = 1
        try:
            for line, row in enumerate(reader, start=2):
                if not "".join(row).strip():  # no row, or only blank cells
                    continue
                if len(row) < width:
                    row = row + [""] * (width - len(row))
                yield row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvProblem(f"{source}, near line {line + 1}: {exc}") from None

    return Table(header, rows())


def open_input(path: Path) -> IO[str]:
    if not path.exists():
        raise CsvProblem(f"{path}: no such file")
    if path.is_dir():
        raise CsvProblem(f"{path} is a directory")
    return path.open("r", encoding="utf-8-sig", newline="")


class SafeWriter:
    """csv.writer that neutralises every cell."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([neutralise(cell) for cell in row])
