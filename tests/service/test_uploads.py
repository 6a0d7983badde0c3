"""Bulk inputs: every problem found before a job exists, in the VoilaNorbert field-error shape."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from mailsleuth.config import Settings
from mailsleuth.engine.egress import Egress
from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError
from mailsleuth.service.uploads import (
    PeopleColumns,
    PeopleFile,
    Spool,
    UploadTooLarge,
    fetch_upload,
    find_address_column,
    looks_like_header,
    parse_columns,
    read_addresses,
    read_people,
)

# --- columns -------------------------------------------------------------------------------------


def test_columns_one_or_several_name_indexes() -> None:
    assert parse_columns("0,1", "3") == PeopleColumns((0, 1), company=3)
    assert parse_columns(" 2 ", None, "1") == PeopleColumns((2,), domain=1)
    assert parse_columns(0, 2, 1) == PeopleColumns((0,), company=2, domain=1)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((None, "3", None), {"col_name": [REQUIRED]}),
        (("", "", ""), {"col_name": [REQUIRED], "col_domain": ["Give col_domain or col_company."]}),
        (("0,x", "2", None), {"col_name": ['Column indexes separated by commas, e.g. "0,1" (counting from 0).']}),
        (("-1", "2", None), {"col_name": ['Column indexes separated by commas, e.g. "0,1" (counting from 0).']}),
        (("0", "a", None), {"col_company": ['A column index, e.g. "3" (counting from 0).']}),
        (("1,1", "2", None), {"col_name": ["A column is given twice."]}),
    ],
)
def test_columns_errors(args: tuple[Any, ...], expected: dict[str, list[str]]) -> None:
    with pytest.raises(FieldErrors) as caught:
        parse_columns(*args)
    assert caught.value.fields == expected


# --- massives ------------------------------------------------------------------------------------

SPEC_CONTENT = "Ned,Stark,voilanorbert.com,VoilaNorbert\nArya,Stark,voilanorbert.com,VoilaNorbert"


SPEC_COLUMNS = PeopleColumns((0, 1), company=3, domain=2)


def massive(content: str | bytes, columns: PeopleColumns = SPEC_COLUMNS) -> PeopleFile:
    return read_people(Spool.of(content), columns)


def problems(content: str | bytes, columns: PeopleColumns = SPEC_COLUMNS) -> dict[str, list[str]]:
    with pytest.raises(FieldErrors) as caught:
        massive(content, columns)
    return caught.value.fields


def test_spec_example_without_header() -> None:
    parsed = massive(SPEC_CONTENT)
    assert parsed.header is None and parsed.count == 2 and parsed.width == 4
    rows = list(parsed.rows())
    assert [r.name for r in rows] == ["Ned Stark", "Arya Stark"]
    assert rows[0].domain == "voilanorbert.com" and rows[0].company == "VoilaNorbert"
    assert parsed.input_columns() == ["column_0", "column_1", "column_2", "column_3"]
    assert list(parsed.inputs())[1] == {
        "cell:0": "Arya",
        "cell:1": "Stark",
        "cell:2": "voilanorbert.com",
        "cell:3": "VoilaNorbert",
        "name": "Arya Stark",
        "company": "VoilaNorbert",
        "domain": "voilanorbert.com",
    }
    assert [r.position for r in rows] == [0, 1]
    assert list(parsed.rows()) == rows  # re-readable: the spool is read again


def test_header_is_detected_and_skipped() -> None:
    content = "\ufeffFirst Name,last_name,Website,Company\r\nNed,Stark,voilanorbert.com,VN\r\n\r\n"
    parsed = massive(content)
    assert parsed.header == ["First Name", "last_name", "Website", "Company"]
    assert [r.name for r in parsed.rows()] == ["Ned Stark"]
    assert parsed.input_columns() == ["First Name", "last_name", "Website", "Company"]


def test_input_columns_keep_the_callers_titles_without_shadowing_the_engine_fields() -> None:
    content = "name,surname,domain,email,name\nNed,Stark,stark.test,old@x.test,N\n"
    parsed = massive(content, PeopleColumns((0, 1), domain=2))
    assert parsed.input_columns() == ["name", "surname", "domain", "email", "name"]
    assert list(parsed.inputs()) == [
        {"cell:0": "Ned", "cell:1": "Stark", "cell:2": "stark.test", "cell:3": "old@x.test", "cell:4": "N",
         "name": "Ned Stark", "domain": "stark.test"}
    ]


def test_header_detected_by_a_domain_without_dot() -> None:
    assert looks_like_header(["who", "where"], PeopleColumns((0,), domain=1))
    assert not looks_like_header(["Ned Stark", "stark.test"], PeopleColumns((0,), domain=1))
    assert not looks_like_header(["Ned Stark", "Stark Inc"], PeopleColumns((0,), company=1))


def test_quoted_cells_and_company_only() -> None:
    parsed = massive('"Stark, Ned",Winterfell\n"O\'Brien, Pat","Acme, Inc."\n', PeopleColumns((0,), company=1))
    assert [(r.name, r.company, r.domain) for r in parsed.rows()] == [
        ("Stark, Ned", "Winterfell", None),
        ("O'Brien, Pat", "Acme, Inc.", None),
    ]


def test_ragged_rows_are_refused_with_line_numbers() -> None:
    fields = problems("a,b,c.test,d\na,b,c.test\na,b,c.test,d\na,b,c.test,d,e\n")
    assert fields == {
        "content": ["Line 2 has 3 columns; the first row has 4.", "Line 4 has 5 columns; the first row has 4."]
    }


def test_index_out_of_range_names_the_field() -> None:
    fields = problems(SPEC_CONTENT, PeopleColumns((0, 7), domain=9))
    assert fields == {
        "col_name": ["Column 7 does not exist: the rows have 4 columns (counting from 0)."],
        "col_domain": ["Column 9 does not exist: the rows have 4 columns (counting from 0)."],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "The file has no rows."),
        ("\n \n,,,\n", "The file has no rows."),
        ("first,last,domain,company\n", "The file has a header but no rows."),
    ],
)
def test_empty_inputs(content: str, message: str) -> None:
    assert problems(content) == {"content": [message]}


def test_bad_encoding_is_refused_with_the_line() -> None:
    content = b"Ned,Stark,stark.test,S\n" * 3 + "Zoé,Ménard,acme.test,A\n".encode("latin-1")
    fields = problems(content)
    assert fields == {
        "content": ['The file is not UTF-8 encoded (byte 0xe9 on line 4). Save it as "CSV UTF-8" and send it again.']
    }


def test_bad_encoding_far_into_a_large_file() -> None:
    content = b"Ned,Stark,stark.test,S\n" * 20000 + b"Bad\xff,Row,x.test,X\n"
    assert "line 20001" in problems(content)["content"][0]


def test_empty_cells_and_control_characters() -> None:
    content = "Ned,Stark,stark.test,S\n,,stark.test,S\nArya,Stark,,\nJon,Sn\x07ow,stark.test,S\nSansa,\u202ekratS,stark.test,S\n"
    assert problems(content) == {
        "content": [
            "Line 2: the name is empty.",
            "Line 3: the domain and company is empty.",
            "Line 4: the name contains a control character or a bidirectional override.",
            "Line 5: the name contains a control character or a bidirectional override.",
        ]
    }


def test_many_problems_are_summarised() -> None:
    content = "a,b,c.test,d\n" + "a,b\n" * 12
    messages = problems(content)["content"]
    assert len(messages) == 6
    assert messages[-1] == "... and 7 more problems like these."


def test_too_large_while_spooling() -> None:
    with pytest.raises(UploadTooLarge) as caught:
        Spool.of([b"x" * 600, b"y" * 600], limit=1000)
    assert caught.value.message.startswith("Please provide a file size lower than 100Mb")
    assert caught.value.status == 400


# --- verify / enrich uploads ---------------------------------------------------------------------


def addresses(content: str | bytes, source: str) -> list[str]:
    return list(read_addresses(Spool.of(content), source=source).addresses())


def test_data_lines_and_commas() -> None:
    data = "nedstark@voilanorbert.com,aryastark@voilanorbert.com\r\n\njon@stark.test ; sansa@stark.test\n"
    parsed = read_addresses(Spool.of(data), source="data")
    assert parsed.count == 4
    assert list(parsed.addresses()) == [
        "nedstark@voilanorbert.com", "aryastark@voilanorbert.com", "jon@stark.test", "sansa@stark.test",
    ]


def test_file_column_by_name() -> None:
    content = "Name,E-Mail,Company\nNed,ned@stark.test,Stark\nArya,arya@stark.test,Stark\n"
    assert addresses(content, "file") == ["ned@stark.test", "arya@stark.test"]


def test_file_column_by_at_sign_with_and_without_header() -> None:
    assert addresses("Ned,ned@stark.test\nArya,arya@stark.test\n", "file") == ["ned@stark.test", "arya@stark.test"]
    assert addresses("who,contact\nNed,ned@stark.test\n", "file") == ["ned@stark.test"]
    assert find_address_column(["x", "y@z.test"], None) == (1, False)


def test_file_without_any_address_column() -> None:
    with pytest.raises(FieldErrors) as caught:
        addresses("a,b\nc,d\n", "file")
    assert list(caught.value.fields) == ["file"]


@pytest.mark.parametrize(
    ("content", "source", "message"),
    [
        ("", "data", "No email addresses given."),
        ("\n\n", "data", "No email addresses given."),
        ("", "file", "The file has no rows."),
        ("email\n", "file", "No email addresses given."),
        ("ned@stark.test\nnot-an-address\n", "data", "Line 2: 'not-an-address' is not an email address."),
        ("email\nned@stark.test\n\x00x@y.test\n", "file", "Line 3: the email contains a control character."),
        ("email,name\nned@stark.test,Ned\n,Nobody\n", "file", "Line 3: the email is empty."),
    ],
)
def test_address_problems(content: str, source: str, message: str) -> None:
    with pytest.raises(FieldErrors) as caught:
        addresses(content, source)
    assert caught.value.fields == {source: [message]}


def test_address_file_bad_encoding() -> None:
    with pytest.raises(FieldErrors) as caught:
        addresses(b"email\nned@stark.test\nzo\xe9@acme.test\n", "file")
    assert "byte 0xe9 on line 3" in caught.value.fields["file"][0]


# --- file_url against a real loopback server -----------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[int, dict[str, str], bytes]]] = {}

    def do_GET(self) -> None:
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    base = f"http://{host}:{port}"
    _Files.routes = {
        "/list.csv": (200, {"content-type": "text/csv"}, SPEC_CONTENT.encode()),
        "/moved": (302, {"location": "/list.csv"}, b""),
        "/loop": (302, {"location": "/loop"}, b""),
        "/big": (200, {}, b"x" * 5000),
        "/gone": (410, {}, b""),
    }
    yield base
    server.shutdown()
    server.server_close()


async def _resolve(host: str) -> tuple[str, ...]:
    return {"files.test": ("127.0.0.1",)}.get(host, ())


async def fetch(url: str, *, allow_private: bool = True, limit: int = 100_000) -> bytes:
    egress = Egress.from_settings(Settings(allow_private_networks=allow_private), _resolve)
    spool = await fetch_upload(url, egress=egress, limit=limit)
    spool.file.seek(0)
    return spool.file.read()


async def test_fetch_follows_redirects(file_server: str) -> None:
    assert await fetch(f"{file_server}/moved") == SPEC_CONTENT.encode()


async def test_fetch_refuses_private_targets_by_default(file_server: str) -> None:
    with pytest.raises(ServiceError) as caught:
        await fetch(f"{file_server}/list.csv", allow_private=False)
    assert caught.value.field == "file_url" and "Private" in caught.value.message
    port = file_server.rsplit(":", 1)[1]
    with pytest.raises(ServiceError) as caught:  # a name resolving to loopback, checked after resolution
        await fetch(f"http://files.test:{port}/list.csv", allow_private=False)
    assert "resolves to a private" in caught.value.message


async def test_fetch_redirect_loop_ends(file_server: str) -> None:
    with pytest.raises(ServiceError, match="Too many redirects"):
        await fetch(f"{file_server}/loop")


async def test_fetch_size_limit_and_errors(file_server: str) -> None:
    with pytest.raises(UploadTooLarge):
        await fetch(f"{file_server}/big", limit=4000)
    with pytest.raises(ServiceError, match=r"HTTP 410"):
        await fetch(f"{file_server}/gone")
    with pytest.raises(ServiceError, match="valid http"):
        await fetch("ftp://files.test/x.csv")


def test_spool_reads_back_across_chunks() -> None:
    spool = Spool.of([b"a" * 70000, "é\n".encode()])
    assert spool.size == 70003
    assert spool.first_invalid_utf8() == (2, 0)
