"""Bulk inputs checked in full before a job exists: a CSV of people to find, a list of addresses to verify or enrich.

A bulk job either starts with every row valid or does not start at all (no partial job), so each
reader scans its whole input first and reports every problem it can (a few per field, with line
numbers) in the VoilaNorbert field-error shape. Inputs of up to 100 MB are spooled to a temporary
file while they arrive (bounded memory) and re-read lazily when the job is submitted.

Encoding: inputs must be UTF-8 (a BOM is allowed). A file that is not is refused with a message that
says how to fix it, rather than decoded as Latin-1: a wrong guess would silently turn names into
mojibake and search for addresses that cannot exist.

The only network access is `fetch_upload` (an upload's `file_url`), through the egress transport given
(`engine.egress`): every hop is resolved once, checked and connected to at the checked address.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin

import httpx

from mailsleuth.service.csvfiles import ADDRESS_COLUMNS, not_utf8
from mailsleuth.service.inputs import unsafe
from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError
from mailsleuth.engine.egress import Egress, EgressRefused, ResponseTooLarge, UnsafeTarget, check_url

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
TOO_LARGE = "Please provide a file size lower than 100Mb. If you need more, please contact us."
MAX_CELL = 1000  # characters in a name, company or domain cell
MAX_ADDRESS = 320  # RFC 3696 (with its erratum): 64 + 1 + 255
MAX_REPORTED = 5  # problems listed per field; the rest are counted
SPOOL_IN_MEMORY = 1024 * 1024  # bytes kept in memory before the spool moves to disk
FETCH_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
FETCH_DEADLINE = 300.0  # seconds for a whole file_url download
MAX_REDIRECTS = 5

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ADDRESS_SEPARATORS = re.compile(r"[\s,;]+")


class UploadTooLarge(ServiceError):
    """The input is over 100 MB; VoilaNorbert documents this one as `{"code": "400", "error": ...}`."""

    def __init__(self) -> None:
        super().__init__(TOO_LARGE)


# --- spooling ------------------------------------------------------------------------------------


class Spool:
    """A size-limited temporary file: raw input bytes kept off the heap once they grow."""

    def __init__(self, limit: int = MAX_UPLOAD_BYTES) -> None:
        self.limit = limit
        self.size = 0
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 -- owned

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.close()
            raise UploadTooLarge()
        self.file.write(chunk)

    def text(self) -> io.TextIOWrapper:
        """The bytes from the start, decoded strictly as UTF-8 (BOM dropped), newlines left to csv."""
        self.file.seek(0)
        raw = io.BufferedReader(Unclosable(self.file))
        return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline="")

    def first_invalid_utf8(self) -> tuple[int, int]:
        """(line, byte) of the first byte that is not UTF-8: decoding reads ahead, so find it exactly."""
        self.file.seek(0)
        line, carry = 1, b""
        while chunk := self.file.read(65536):
            data = carry + chunk
            try:
                _, consumed = codecs.utf_8_decode(data, "strict", False)
            except UnicodeDecodeError as exc:
                return line + data.count(b"\n", 0, exc.start), data[exc.start]
            line += data.count(b"\n", 0, consumed)
            carry = data[consumed:]
        return line, carry[0] if carry else 0

    def is_blank(self) -> bool:
        """Nothing but whitespace (a blank file field counts as not given); the file is left at 0."""
        if self.size > 65536:
            return False
        self.file.seek(0)
        blank = not self.file.read().strip()
        self.file.seek(0)
        return blank

    def close(self) -> None:
        self.file.close()

    @classmethod
    def of(cls, data: str | bytes | Iterable[bytes], limit: int = MAX_UPLOAD_BYTES) -> Spool:
        spool = cls(limit)
        chunks = [data.encode()] if isinstance(data, str) else [data] if isinstance(data, bytes) else data
        for chunk in chunks:
            spool.write(chunk)
        return spool


class Unclosable(io.RawIOBase):
    """Lets a TextIOWrapper read the spool without closing it when the wrapper goes away."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


async def spool_stream(chunks: AsyncIterable[bytes], limit: int = MAX_UPLOAD_BYTES) -> Spool:
    spool = Spool(limit)
    try:
        async for chunk in chunks:
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool


# --- problems ------------------------------------------------------------------------------------


@dataclass
class Problems:
    """Field errors gathered during a scan: the first few per field, then a count of the rest."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    _extra: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        messages = self.fields.setdefault(name, [])
        if len(messages) < MAX_REPORTED:
            messages.append(message)
        else:
            self._extra[name] = self._extra.get(name, 0) + 1

    def raise_if_any(self) -> None:
        if not self.fields:
            return
        for name, extra in self._extra.items():
            self.fields[name].append(f"... and {extra} more problem{'s' if extra > 1 else ''} like these.")
        raise FieldErrors(self.fields)


def _clean_cell(value: str) -> str:
    return value.strip()


def _bad_cell(value: str, what: str, line: int) -> str | None:
    if unsafe(value):
        return f"Line {line}: the {what} contains a control character or a bidirectional override."
    if len(value) > MAX_CELL:
        return f"Line {line}: the {what} is longer than {MAX_CELL} characters."
    return None


def _decode_problem(spool: Spool) -> str:
    return not_utf8(*spool.first_invalid_utf8())


# --- people to find ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeopleColumns:
    """Which CSV columns hold the name (joined with spaces when several), the company and the domain."""

    name: tuple[int, ...]
    company: int | None = None
    domain: int | None = None

    def used(self) -> dict[str, tuple[int, ...]]:
        """Each request field with the indexes it names (for "no such column" errors)."""
        named = {"col_name": self.name, "col_company": (self.company,), "col_domain": (self.domain,)}
        return {key: tuple(i for i in value if i is not None) for key, value in named.items()}


def _index(value: str) -> int:
    value = value.strip()
    if not value.isdigit() or len(value) > 6:
        raise ValueError
    return int(value)


def parse_columns(col_name: Any, col_company: Any = None, col_domain: Any = None) -> PeopleColumns:
    """`col_name` is "2" or "0,1" (first and last name columns); one of the others is required."""
    problems = Problems()

    def indexes(key: str, raw: Any, *, several: bool) -> tuple[int, ...]:
        text = "" if raw is None else str(raw).strip()
        if not text:
            return ()
        parts = text.split(",") if several else [text]
        try:
            found = tuple(_index(part) for part in parts)
        except ValueError:
            what = "Column indexes separated by commas, e.g. \"0,1\"" if several else "A column index, e.g. \"3\""
            problems.add(key, f"{what} (counting from 0).")
            return ()
        if len(set(found)) != len(found):
            problems.add(key, "A column is given twice.")
        return found

    name = indexes("col_name", col_name, several=True)
    company = indexes("col_company", col_company, several=False)
    domain = indexes("col_domain", col_domain, several=False)
    if not name and "col_name" not in problems.fields:
        problems.add("col_name", REQUIRED)
    if not company and not domain and not {"col_company", "col_domain"} & problems.fields.keys():
        problems.add("col_domain", "Give col_domain or col_company.")
    problems.raise_if_any()
    return PeopleColumns(name, company[0] if company else None, domain[0] if domain else None)


_HEADER_WORDS = frozenset(
    {
        "name", "names", "full name", "fullname", "person", "contact", "contact name",
        "first", "first name", "firstname", "given name", "prenom", "prénom",
        "middle", "middle name", "last", "last name", "lastname", "surname", "family name", "nom",
        "company", "company name", "companyname", "organization", "organisation", "account", "employer",
        "domain", "company domain", "website", "web site", "url", "site", "email", "e mail",
    }
)


def _header_word(cell: str) -> str:
    return " ".join(cell.strip().lower().replace("_", " ").replace("-", " ").split())


def looks_like_header(row: list[str], columns: PeopleColumns) -> bool:
    """A first row is a header when a chosen cell is a column title, or its "domain" has no dot."""
    cells = [row[i] for indexes in columns.used().values() for i in indexes if i < len(row)]
    if any(_header_word(cell) in _HEADER_WORDS for cell in cells):
        return True
    return columns.domain is not None and columns.domain < len(row) and "." not in row[columns.domain]


@dataclass(frozen=True)
class PersonRow:
    position: int  # 0-based among data rows
    line: int  # the row's first line in the file, for messages
    cells: tuple[str, ...]
    name: str
    company: str | None
    domain: str | None

    def to_input(self) -> dict[str, str]:
        """The row as the bulk engine stores it: its cells under `cell_key(i)`, then name, company,
        domain (the keys the engine reads, which no caller's column title can shadow)."""
        found = {"name": self.name, "company": self.company, "domain": self.domain}
        cells = {cell_key(index): cell for index, cell in enumerate(self.cells)}
        return {**cells, **{key: value for key, value in found.items() if value}}


def cell_key(index: int) -> str:
    """Where a bulk row keeps its input cell `index` (the title is the job's `columns[index]`)."""
    return f"cell:{index}"


def column_titles(header: list[str] | None, width: int) -> list[str]:
    """A CSV's column titles: the caller's header as given, else "column_0", "column_1", ... (also
    for a blank title or a header shorter than the rows)."""
    return [(header[index] if header and index < len(header) and header[index].strip() else f"column_{index}")
            for index in range(width)]


@dataclass
class PeopleFile:
    """A fully validated file of people to find; rows are re-read from the spool on demand."""

    spool: Spool
    columns: PeopleColumns
    header: list[str] | None
    width: int
    count: int

    def input_columns(self) -> list[str]:
        """The titles of the input columns (the result file's first columns), see `column_titles`."""
        return column_titles(self.header, self.width)

    def inputs(self) -> Iterator[dict[str, str]]:
        """Every row as `PersonRow.to_input`, ready for `jobs.bulk.submit`."""
        for row in self.rows():
            yield row.to_input()

    def rows(self) -> Iterator[PersonRow]:
        reader = csv.reader(self.spool.text())
        skip_header = self.header is not None
        position = 0
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if skip_header:
                skip_header = False
                continue
            yield _person_row(row, self.columns, position, reader.line_num)
            position += 1

    def close(self) -> None:
        self.spool.close()


def _person_row(row: list[str], columns: PeopleColumns, position: int, line: int) -> PersonRow:
    name = " ".join(part for part in (_clean_cell(row[i]) for i in columns.name) if part)
    company = _clean_cell(row[columns.company]) if columns.company is not None else ""
    domain = _clean_cell(row[columns.domain]) if columns.domain is not None else ""
    return PersonRow(position, line, tuple(row), name, company or None, domain or None)


def read_people(spool: Spool, columns: PeopleColumns, *, source: str = "content") -> PeopleFile:
    """Scan the whole CSV (with or without a header row) and raise every problem, or return the file.

    `source` is the request field the bytes came from (`content` or `file_url`), used in messages.
    """
    problems = Problems()
    reader = csv.reader(spool.text())
    header: list[str] | None = None
    width = count = 0
    line = 1
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if not width:
                width = len(row)
                for key, indexes in columns.used().items():
                    for index in indexes:
                        if index >= width:
                            problems.add(key, f"Column {index} does not exist: the rows have {width} column"
                                         f"{'s' if width > 1 else ''} (counting from 0).")
                if problems.fields:
                    break
                if looks_like_header(row, columns):
                    header = row
                    continue
            if len(row) != width:
                problems.add(source, f"Line {line} has {len(row)} columns; the first row has {width}.")
                continue
            _check_person_row(_person_row(row, columns, count, line), columns, problems, source)
            count += 1
    except UnicodeDecodeError:
        problems.add(source, _decode_problem(spool))
    except csv.Error as exc:
        problems.add(source, f"Line {reader.line_num}: the CSV cannot be read ({exc}).")
    if not problems.fields and not count:
        problems.add(source, "The file has no rows." if header is None else "The file has a header but no rows.")
    try:
        problems.raise_if_any()
    except FieldErrors:
        spool.close()
        raise
    return PeopleFile(spool, columns, header, width, count)


def _check_person_row(row: PersonRow, columns: PeopleColumns, problems: Problems, source: str) -> None:
    if not row.name:
        problems.add(source, f"Line {row.line}: the name is empty.")
    if not row.company and not row.domain:
        what = " and ".join(w for w, i in (("domain", columns.domain), ("company", columns.company)) if i is not None)
        problems.add(source, f"Line {row.line}: the {what} is empty.")
    for what, value in (("name", row.name), ("company", row.company), ("domain", row.domain)):
        problem = _bad_cell(value or "", what, row.line)
        if problem:
            problems.add(source, problem)


# --- verify and enrich uploads -------------------------------------------------------------------


@dataclass
class AddressFile:
    """A validated list of addresses to verify or enrich, re-read from the spool on demand."""

    spool: Spool
    column: int | None  # None: `data`, addresses separated by lines, commas or semicolons
    skip_header: bool
    count: int
    header: list[str] | None = None  # a CSV's first row when it names the columns
    width: int = 0  # a CSV's number of columns (its first row's)

    def addresses(self) -> Iterator[str]:
        for _line, address, _cells in _address_entries(self.spool.text(), self.column, self.skip_header):
            yield address

    def input_columns(self) -> list[str] | None:
        """A CSV's column titles (the result file's first columns, so every column is kept), see
        `column_titles`; None for a plain list of addresses."""
        return None if self.column is None else column_titles(self.header, self.width)

    def inputs(self) -> Iterator[dict[str, str]]:
        """Every entry as `jobs.bulk.submit` takes it: "email", and a CSV row's cells under `cell_key`."""
        for _line, address, cells in _address_entries(self.spool.text(), self.column, self.skip_header):
            yield {**{cell_key(index): cell for index, cell in enumerate(cells[: self.width])}, "email": address}

    def close(self) -> None:
        self.spool.close()


def _address_entries(
    stream: IO[str], column: int | None, skip_header: bool
) -> Iterator[tuple[int, str, list[str]]]:
    """(line, address, the CSV row's cells: none for a plain list) for every entry."""
    if column is None:
        for line, text in enumerate(stream, start=1):
            for entry in _ADDRESS_SEPARATORS.split(text):
                if entry:
                    yield line, entry, []
        return
    reader = csv.reader(stream)
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if skip_header:
            skip_header = False
            continue
        yield reader.line_num, row[column].strip() if column < len(row) else "", row


def find_address_column(first: list[str], second: list[str] | None) -> tuple[int, bool]:
    """(column, has_header): a column named email/address/mail, else the first holding an '@'."""
    titles = [_header_word(cell) for cell in first]
    for name in ADDRESS_COLUMNS:
        if _header_word(name) in titles:
            return titles.index(_header_word(name)), True
    for row, has_header in ((first, False), (second or [], True)):
        for index, cell in enumerate(row):
            if "@" in cell:
                return index, has_header
    raise FieldErrors({"file": ["No email column: name it \"email\", or put the addresses in a column."]})


def _first_rows(spool: Spool) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in csv.reader(spool.text()):
        if any(cell.strip() for cell in row):
            rows.append(row)
            if len(rows) == 2:
                break
    return rows


def read_addresses(spool: Spool, *, source: str) -> AddressFile:
    """`source` "data": one address per line (commas and semicolons also separate); "file": a CSV.

    Every entry must look like an address (an '@', no control characters, at most 320 characters);
    their syntax and mailboxes are the verifier's job.
    """
    problems = Problems()
    column: int | None = None
    skip_header = False
    header: list[str] | None = None
    width = line = count = 0
    try:
        if source == "file":
            rows = _first_rows(spool)
            if not rows:
                problems.add(source, "The file has no rows.")
                problems.raise_if_any()
            column, skip_header = find_address_column(rows[0], rows[1] if len(rows) > 1 else None)
            header, width = (rows[0] if skip_header else None), len(rows[0])
        for line, address, _cells in _address_entries(spool.text(), column, skip_header):
            if not address:
                problems.add(source, f"Line {line}: the email is empty.")
            elif _CONTROL.search(address):
                problems.add(source, f"Line {line}: the email contains a control character.")
            elif len(address) > MAX_ADDRESS:
                problems.add(source, f"Line {line}: the email is longer than {MAX_ADDRESS} characters.")
            elif "@" not in address:
                problems.add(source, f"Line {line}: {address[:80]!r} is not an email address.")
            count += 1
    except UnicodeDecodeError:
        problems.add(source, _decode_problem(spool))
    except csv.Error as exc:
        problems.add(source, f"Near line {line + 1}: the CSV cannot be read ({exc}).")
    except FieldErrors:
        spool.close()
        raise
    if not problems.fields and not count:
        problems.add(source, "No email addresses given.")
    try:
        problems.raise_if_any()
    except FieldErrors:
        spool.close()
        raise
    return AddressFile(spool, column, skip_header, count, header, width)


# --- file_url ------------------------------------------------------------------------------------


async def fetch_upload(
    url: str,
    *,
    egress: Egress,
    limit: int = MAX_UPLOAD_BYTES,
    deadline: float = FETCH_DEADLINE,
) -> Spool:
    """Download an upload's `file_url` into a spool, at most `limit` bytes, within `deadline` seconds.

    Redirects are followed by hand (each hop goes through the egress transport, which checks it).
    Problems are field errors on `file_url`; a file over the limit is `UploadTooLarge`.
    """
    # The raw cap sits above `limit` so the spool's own count (of decoded bytes) reports the size.
    client = egress.client(max_response_bytes=limit + 65536, deadline=deadline, timeout=FETCH_TIMEOUT)
    try:
        async with client, asyncio.timeout(deadline):
            return await _fetch(url, client, limit)
    except TimeoutError:
        raise ServiceError("The file could not be downloaded in time.", field="file_url") from None


async def _fetch(url: str, client: httpx.AsyncClient, limit: int) -> Spool:
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            check_url(url, allow_private=True)  # syntax here; where it resolves, in the transport
        except UnsafeTarget as exc:
            raise ServiceError(str(exc), field="file_url") from None
        try:
            response = await client.send(client.build_request("GET", url), stream=True, follow_redirects=False)
        except EgressRefused as exc:
            raise ServiceError(str(exc), field="file_url") from None
        except httpx.HTTPError as exc:
            raise ServiceError(f"The file could not be downloaded ({type(exc).__name__}).", field="file_url") from None
        try:
            if response.is_redirect:
                location = response.headers.get("location", "")
                url = urljoin(url, location)
                continue
            if response.status_code != 200:
                raise ServiceError(f"The file could not be downloaded (HTTP {response.status_code}).", field="file_url")
            declared = response.headers.get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > limit:
                raise UploadTooLarge()
            try:
                return await spool_stream(response.aiter_bytes(), limit)
            except ResponseTooLarge:
                raise UploadTooLarge() from None
            except httpx.HTTPError as exc:
                raise ServiceError(
                    f"The file could not be downloaded ({type(exc).__name__}).", field="file_url"
                ) from None
        finally:
            await response.aclose()
    raise ServiceError("Too many redirects.", field="file_url")
