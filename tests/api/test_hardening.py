"""The fuzzer's findings as named regressions: each was a 500 (or a charge for a failed request)."""

from __future__ import annotations

import json

import httpx
import pytest

from mailsleuth import store
from mailsleuth.api.failsafe import Failsafe
from mailsleuth.service.inputs import UNSAFE_TEXT
from mailsleuth.store import CreditKind
from tests.api.conftest import ApiServer

BIG = "9223372036854775808"  # 2**63: one past what a row id can be
RANGE = "Input should be less than or equal to 9223372036854775807."


def _vn(api_server: ApiServer, key: str) -> httpx.Client:
    return api_server.client(auth=("any", key))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", f"/2018-01-08/contacts/{BIG}", {"contact_id": [RANGE]}),
        ("GET", f"/2018-01-08/lists/{BIG}", {"list_id": [RANGE]}),
        ("PUT", f"/2018-01-08/massives/{BIG}/pause", {"massive_id": [RANGE]}),
        ("GET", "/2018-01-08/contacts/²", {"contact_id": ["Enter a whole number."]}),
        ("GET", "/2018-01-08/massives/?offset=²", {"offset": ["Enter a whole number."]}),
        ("GET", f"/2018-01-08/contacts/?ids=1,{BIG}", {"ids": ["must be an integer"]}),
    ],
)
def test_voilanorbert_ids_are_bounded(api_server: ApiServer, method: str, path: str, expected: dict) -> None:
    tenant = api_server.tenant()
    with _vn(api_server, tenant.key) as client:
        answer = client.request(method, path)
    assert answer.status_code == 400
    assert answer.json() == expected


INTEGER = "must be an integer"
PAST_THE_END = "is past the last row there can be"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"list_id": BIG}, "lists", INTEGER),  # the fuzzer's case: it used to be ignored (200, every contact)
        ({"lists": BIG}, "lists", INTEGER),
        ({"lists": "٣"}, "lists", INTEGER),  # an Arabic-Indic 3: `int()` reads it, a row id is ASCII
        ({"lists": "0"}, "lists", INTEGER),
        ({"ids": "-1"}, "ids", INTEGER),
        ({"ids": "1,1e3"}, "ids", INTEGER),
        ({"page": "9223372036854775807"}, "page", PAST_THE_END),  # was a 500: OFFSET past a BIGINT
        ({"page": "99999999999999999999999"}, "page", INTEGER),
        ({"per_page": "²"}, "per_page", INTEGER),
        ({"created": "٣"}, "created", "not a date or ms timestamp: '٣'"),
    ],
    ids=["list_id-2**63", "lists-2**63", "lists-arabic-digit", "lists-0", "ids-negative", "ids-exponent",
         "page-offset-overflow", "page-huge", "per_page-superscript", "created-arabic-digit"],
)
def test_contact_filters_refuse_numbers_no_row_can_have(
    api_server: ApiServer, query: dict[str, str], field: str, message: str
) -> None:
    """The contacts filters in both dialects that have them, read by the one integer parser."""
    tenant = api_server.tenant()
    with _vn(api_server, tenant.key) as client:
        vn = client.get("/2018-01-08/contacts/", params=query)
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        native = client.get("/v1/contacts", params=query)
    assert (vn.status_code, vn.json()) == (400, {field: [message]})
    assert (native.status_code, native.json()) == (400, {"code": 400, "error": message, "field": field})


@pytest.mark.parametrize("value", [BIG, "²", "٣", "-1", "0x10"])
def test_hunter_lead_list_filters_are_row_ids(api_server: ApiServer, value: str) -> None:
    """`leads_list_id=²` was a 500 (`str.isdigit` accepts it, `int` does not); '٣' was read as 3."""
    tenant = api_server.tenant()
    with api_server.client() as client:
        answer = client.get("/v2/leads", params={"api_key": tenant.key, "leads_list_id": value})
    assert answer.status_code == 400
    assert answer.json() == {
        "errors": [{"id": "invalid_leads_list_id", "code": 400, "details": "leads_list_id: must be a number"}]
    }


def test_native_and_leadgenius_ids_are_bounded(api_server: ApiServer) -> None:
    tenant = api_server.tenant()
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        job = client.get(f"/v1/jobs/{BIG}")
        deliveries = client.get(f"/v1/webhooks/deliveries?job_id={BIG}")
    with api_server.client(headers={"X-LG-API-KEY": tenant.key}) as client:
        status = client.get("/emailguess/v1/job/status/²")
        bulk = client.get(f"/v1/emailguess/bulk/job/status/{BIG}")
    expected = {"code": 400, "error": RANGE, "field": "job_id"}
    assert (job.status_code, job.json()) == (deliveries.status_code, deliveries.json()) == (400, expected)
    assert (status.status_code, status.json()) == (404, {"status": 404, "result": "Not Found"})
    assert (bulk.status_code, bulk.json()) == (404, {"status": 404, "result": "Not Found"})


def test_the_unauthenticated_download_route_takes_unicode_digits(api_server: ApiServer) -> None:
    with api_server.client() as client:
        answer = client.get("/2018-01-08/massives/download/²3.abc-result.csv")
    assert (answer.status_code, answer.json()) == (404, {"code": 404, "error": "Page not found."})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"name": "team\x00a"}, {"name": [UNSAFE_TEXT]}),
        ({"name": "x" * 301}, {"name": ["String should have at most 300 characters."]}),
        ({"name": "\u202eevil"}, {"name": [UNSAFE_TEXT]}),
    ],
)
def test_list_names_are_checked(api_server: ApiServer, body: dict, expected: dict) -> None:
    tenant = api_server.tenant()
    with _vn(api_server, tenant.key) as client:
        answer = client.post("/2018-01-08/lists/", json=body)
    assert (answer.status_code, answer.json()) == (400, expected)


def test_bidi_overrides_and_surrogates_are_refused_in_names(api_server: ApiServer) -> None:
    tenant = api_server.tenant()
    with _vn(api_server, tenant.key) as client:
        override = client.post("/2018-01-08/search/name", data={"name": "Jane \u202eeoD", "domain": "acme.test"})
        surrogate = client.post("/2018-01-08/search/name", content=b'{"name": "Jane \\ud800", "domain": "acme.test"}',
                                headers={"content-type": "application/json"})
    assert (override.status_code, override.json()) == (400, {"name": [UNSAFE_TEXT]})
    assert (surrogate.status_code, surrogate.json()) == (400, {"name": [UNSAFE_TEXT]})


def test_a_failed_verify_is_not_charged(api_server: ApiServer) -> None:
    tenant = api_server.tenant(verify=5)
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        answer = client.post("/v1/verify", content=b'{"email": "jane\\udc00@acme.test", "wait": 1}',
                             headers={"content-type": "application/json"})
    assert (answer.status_code, answer.json()) == (400, {"code": 400, "error": UNSAFE_TEXT, "field": "email"})
    assert api_server.call(store.balance, tenant.org_id, CreditKind.VERIFY) == 5


async def _boom(scope: object, receive: object, send: object) -> None:
    raise RuntimeError("unexpected")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/2018-01-08/x", {"code": 500, "error": "Internal server error."}),
        ("/emailguess/v1/x", {"status": 500, "error": "Internal server error."}),
        ("/v1/x", {"code": 500, "error": "Internal server error."}),
    ],
)
async def test_unexpected_errors_get_the_dialect_500(path: str, expected: dict) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=Failsafe(_boom)), base_url="http://t") as client:
        answer = await client.get(path)
    assert (answer.status_code, json.loads(answer.content)) == (500, expected)


def test_people_csv_is_utf8_or_refused_and_names_refuse_bidi_overrides(api_server: ApiServer) -> None:
    tenant = api_server.tenant()
    latin1 = "full_name,company\nZoé Ménard,acme.test\n".encode("latin-1")
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        refused = client.post("/v1/people", content=latin1, headers={"content-type": "text/csv"})
        bidi = client.post("/v1/people", json=[{"full_name": "Jane \u202eeoD", "company": "acme.test"}])
    message = 'The file is not UTF-8 encoded (byte 0xe9 on line 2). Save it as "CSV UTF-8" and send it again.'
    assert (refused.status_code, refused.json()) == (400, {"code": 400, "error": message, "field": "people"})
    assert bidi.status_code == 200
    assert bidi.json()["errors"] == [{"line": 1, "error": "name: contains control characters or bidirectional overrides"}]


@pytest.mark.parametrize("email", ["jane@-bad-.test", "jane@acme..test", "jane@" + "a" * 300 + ".test", "jane@acme.test\x00", "@", "jane@[127.0.0.1]"])
def test_enrich_with_a_bad_address_is_a_400(api_server: ApiServer, email: str) -> None:
    tenant = api_server.tenant()
    api_server.call(store.add_credits, tenant.org_id, "enrich", 3)
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        answer = client.get("/v1/enrich", params={"email": email})
    assert answer.status_code == 400 and answer.json()["code"] == 400 and answer.json()["field"] == "email"
    assert api_server.call(store.balance, tenant.org_id, CreditKind.ENRICH) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"col_name": "0", "content": "name,domain\\nJane Doe,acme.test', "Malformed JSON body."),  # cut short
        (b'{"col_name": "0", "content": "Jane\x01"}', "Malformed JSON body."),  # a raw control character
        (b'{"content": "x"} {"content": "y"}', "Malformed JSON body."),
        (b'["col_name", "content"]', "The body must be a JSON object."),
    ],
    ids=["unterminated-file-string", "control-in-file-string", "two-objects", "array"],
)
def test_upload_routes_refuse_bad_json_in_their_dialect(api_server: ApiServer, body: bytes, message: str) -> None:
    """The streamed JSON reader of uploads refuses what json.loads refuses, in each dialect's shape."""
    tenant = api_server.tenant()
    json_type = {"content-type": "application/json"}
    with _vn(api_server, tenant.key) as client:
        massive = client.post("/2018-01-08/massives/", content=body, headers=json_type)
        verifier = client.post("/2018-01-08/verifier/upload", content=body, headers=json_type)
    with api_server.client(headers={"X-API-KEY": tenant.key}) as client:
        native = client.post("/v1/jobs", content=body, headers=json_type)
    assert (massive.status_code, massive.json()) == (verifier.status_code, verifier.json()) == (
        400, {"code": 400, "error": message})
    assert (native.status_code, native.json()) == (400, {"code": 400, "error": message})
