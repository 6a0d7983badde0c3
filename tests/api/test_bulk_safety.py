"""Bulk inputs that must not start a job, targets we must not reach, callers who must not get in."""

from __future__ import annotations

import json

import httpx
import pytest

from mailsleuth.service.uploads import MAX_UPLOAD_BYTES, TOO_LARGE
from tests.api.bulkworld import (
    VN,
    FileServer,
    file_server,
    job_count,
    rich_tenant,
    strict_server,
    vn_client,
    wait_status,
)
from tests.api.conftest import ApiServer, wait_until
from tests.api.receiver import WebhookReceiver

__all__ = ["file_server", "strict_server"]  # fixtures used below

HOOK = "http://hooks.example.test/massive"  # never called: every request here is refused
GOOD = {"col_name": "0,1", "col_domain": "2", "webhook": HOOK}


@pytest.mark.parametrize(
    ("fields", "content", "expected"),
    [
        ({"col_domain": "2", "webhook": HOOK}, "a,b,acme.test", {"col_name": ["This field is required."]}),
        ({"col_name": "0,1", "col_domain": "2"}, "a,b,acme.test", {"webhook": ["This field is required."]}),
        (GOOD, None, {"content": ["Give content or file_url."]}),
        ({**GOOD, "col_domain": "x"}, "a,b,acme.test", {"col_domain": ['A column index, e.g. "3" (counting from 0).']}),
        (GOOD, "a,b\n", {"col_domain": ["Column 2 does not exist: the rows have 2 columns (counting from 0)."]}),
        (GOOD, "Ned,Stark,stark.test\nArya,Stark\n", {"content": ["Line 2 has 2 columns; the first row has 3."]}),
        (GOOD, "", {"content": ["Give content or file_url."]}),
        (GOOD, "\n\n", {"content": ["Give content or file_url."]}),
        (GOOD, ",,\n , ,\n", {"content": ["The file has no rows."]}),
        (GOOD, "first,last,domain\n", {"content": ["The file has a header but no rows."]}),
    ],
)
def test_massive_field_errors_create_nothing(
    api_server: ApiServer, fields: dict, content: str | None, expected: dict
) -> None:
    tenant = rich_tenant(api_server)
    body = {**fields, **({"content": content} if content is not None else {})}
    with vn_client(api_server, tenant) as client:
        answer = client.post(f"{VN}/massives/", data=body)
    assert answer.status_code == 400 and answer.json() == expected
    assert job_count(api_server, tenant.org_id) == 0


def test_badly_encoded_file_creates_nothing(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    latin1 = "Ned,Stark,stark.test\nZoé,Ménard,acme.test\n".encode("latin-1")
    with vn_client(api_server, tenant) as client:
        as_file = client.post(f"{VN}/massives/", data=GOOD, files={"content": ("list.csv", latin1, "text/csv")})
        as_form = client.post(
            f"{VN}/massives/", content=b"col_name=0%2C1&col_domain=2&webhook=http%3A%2F%2Fh.test%2F&content=Zo%E9%2Cx%2Cy.test",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    message = 'The file is not UTF-8 encoded (byte 0xe9 on line {}). Save it as "CSV UTF-8" and send it again.'
    assert as_file.status_code == 400 and as_file.json() == {"content": [message.format(2)]}
    assert as_form.status_code == 400 and as_form.json() == {"content": [message.format(1)]}
    assert job_count(api_server, tenant.org_id) == 0


def test_file_over_100_mb_creates_nothing(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    row = b"Ned,Stark,stark.test\n"
    big = row * (MAX_UPLOAD_BYTES // len(row) + 1)
    with vn_client(api_server, tenant) as client:
        answer = client.post(f"{VN}/massives/", data=GOOD, files={"content": ("big.csv", big, "text/csv")})
        verify = client.post(f"{VN}/verifier/upload", files={"file": ("big.csv", big, "text/csv")})
    assert answer.status_code == 400 and answer.json() == {"code": "400", "error": TOO_LARGE}
    assert verify.status_code == 400 and verify.json() == {"code": "400", "error": TOO_LARGE}
    assert job_count(api_server, tenant.org_id) == 0


def test_upload_problems_create_nothing(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    hook = {"webhook": "http://127.0.0.1:9/never-called"}
    with vn_client(api_server, tenant) as client:
        nothing = client.post(f"{VN}/verifier/upload", data=hook)
        not_addresses = client.post(f"{VN}/enrich/upload", data={**hook, "data": "jane.doe@acme.test\nhello"})
        no_column = client.post(f"{VN}/verifier/upload", data=hook, files={"file": ("x.csv", b"a,b\nc,d\n", "text/csv")})
    assert nothing.status_code == 400 and nothing.json() == {"data": ["Give data (one email per line) or file (a CSV)."]}
    assert not_addresses.json() == {"data": ["Line 2: 'hello' is not an email address."]}
    assert list(no_column.json()) == ["file"]
    assert job_count(api_server, tenant.org_id) == 0


def test_file_url_is_downloaded(api_server: ApiServer, file_server: FileServer) -> None:
    tenant = rich_tenant(api_server)
    file_server.files["/people.csv"] = b"first,last,domain\nJane,Doe,acme.test\nJohn,Smith,acme.test\n"
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        answer = client.post(f"{VN}/massives/", data={**GOOD, "webhook": receiver.url,
                                                       "file_url": file_server.url("/people.csv")})
        assert answer.status_code == 200, answer.text
        assert answer.json()["quantity"] == 2 and answer.json()["filename"] == "people.csv"
        assert wait_status(client, f"{VN}/massives/{answer.json()['id']}")["success"] == 2


def test_private_targets_refused_by_default(strict_server: ApiServer, file_server: FileServer) -> None:
    tenant = strict_server.tenant(search=100, verify=100)
    file_server.files["/private.csv"] = b"Jane,Doe,acme.test\n"
    refused = ["Private, loopback and link-local addresses are not accepted."]
    with WebhookReceiver() as receiver, vn_client(strict_server, tenant) as client:
        from_url = client.post(f"{VN}/massives/", data={**GOOD, "file_url": file_server.url("/private.csv")})
        hook = client.post(f"{VN}/massives/", data={**GOOD, "webhook": receiver.url, "content": "Jane,Doe,acme.test"})
        verify = client.post(f"{VN}/verifier/upload", data={"data": "jane.doe@acme.test", "webhook": receiver.url})
        link_local = client.post(f"{VN}/massives/", data={**GOOD, "file_url": "http://169.254.169.254/latest/x.csv"})
    with strict_server.client(headers={"X-LG-API-KEY": tenant.key}) as lg:
        lg_hook = lg.post("/emailguess/v1/bulk/job", content=json.dumps(
            {"data": [{"first": "Jane", "middle": "", "last": "Doe", "domain": "acme.test"}],
             "webhook_url": receiver.url}))
    assert from_url.status_code == 400 and from_url.json() == {"file_url": refused}
    assert link_local.json() == {"file_url": refused}
    assert hook.status_code == 400 and hook.json() == {"webhook": refused}
    assert verify.status_code == 400 and verify.json() == {"webhook": refused}
    assert lg_hook.status_code == 400 and lg_hook.json() == {"status": 400, "error": f"webhook_url: {refused[0]}"}
    assert "/private.csv" not in file_server.hits and not receiver.deliveries
    assert job_count(strict_server, tenant.org_id) == 0


# --- authentication and tenant isolation on every new route --------------------------------------

VN_ROUTES = [
    ("POST", "/massives/"), ("GET", "/massives/"), ("GET", "/massives/{id}"), ("DELETE", "/massives/{id}"),
    ("PUT", "/massives/{id}/pause"), ("PUT", "/massives/{id}/resume"), ("PUT", "/massives/{id}/rerun"),
    ("DELETE", "/massives/{id}/rerun"),
    ("POST", "/verifier/upload"), ("GET", "/verifier/{token}"), ("PUT", "/verifier/{token}/pause"),
    ("PUT", "/verifier/{token}/resume"), ("GET", "/verifier/{token}/download"),
    ("POST", "/enrich/upload"), ("GET", "/enrich/{token}"), ("PUT", "/enrich/{token}/pause"),
    ("PUT", "/enrich/{token}/resume"), ("GET", "/enrich/{token}/download"),
]
NATIVE_ROUTES = [
    ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{id}"), ("POST", "/v1/jobs/{id}/pause"), ("POST", "/v1/jobs/{id}/resume"),
    ("POST", "/v1/jobs/{id}/cancel"), ("DELETE", "/v1/jobs/{id}"), ("GET", "/v1/jobs/{id}/results"),
    ("GET", "/v1/webhooks/deliveries"),
]


# "If verify is not found or API key is not valid you will receive a 404 error" (and for enrich)
STATUS_ROUTES = {("GET", "/verifier/{token}"), ("GET", "/enrich/{token}")}


@pytest.mark.parametrize(("method", "path"), VN_ROUTES)
def test_voilanorbert_bad_auth(api_server: ApiServer, method: str, path: str) -> None:
    url = VN + path.format(id=1, token="abc")
    with api_server.client() as anonymous, api_server.client(auth=("any_string", "not-a-key")) as wrong:
        for client in (anonymous, wrong):
            answer = client.request(method, url)
            if (method, path) in STATUS_ROUTES:
                assert answer.status_code == 404 and answer.json() == {"code": 404, "error": "Page not found."}
            else:
                assert answer.status_code == 401
                assert answer.json() == {"code": 401, "error": "Account not found."}


@pytest.mark.parametrize(("method", "path"), NATIVE_ROUTES)
def test_native_bad_auth(api_server: ApiServer, method: str, path: str) -> None:
    with api_server.client(headers={"Authorization": "Bearer nope"}) as wrong:
        answer = wrong.request(method, path.format(id=1))
    assert answer.status_code == 401 and answer.json()["code"] == 401


def test_tenant_isolation_on_every_route(api_server: ApiServer) -> None:
    owner, intruder = rich_tenant(api_server), rich_tenant(api_server)
    content = "Jane,Doe,acme.test\nJohn,Smith,acme.test"
    with WebhookReceiver() as receiver, vn_client(api_server, owner) as client:
        massive = client.post(f"{VN}/massives/", data={**GOOD, "webhook": receiver.url, "content": content}).json()
        verify = client.post(f"{VN}/verifier/upload", data={"data": "jane.doe@acme.test", "webhook": receiver.url}).json()["token"]
        enrich = client.post(f"{VN}/enrich/upload", data={"data": "jane.doe@acme.test", "webhook": receiver.url}).json()["token"]
        wait_status(client, f"{VN}/massives/{massive['id']}")
        # the uploads post their results to the same receiver: the massive's delivery has the file
        result_file = wait_until(lambda: next((d.json()["result_file"] for d in receiver.deliveries
                                               if "result_file" in d.json()), None))
    with vn_client(api_server, intruder) as other:
        for method, path in VN_ROUTES:
            if path.endswith(("upload", "/massives/")):
                continue
            token = verify if path.startswith("/verifier") else enrich
            answer = other.request(method, VN + path.format(id=massive["id"], token=token), data={"rerun_frequency": 1})
            assert answer.status_code == (400 if path.startswith("/massives") else 404), (method, path)
        assert other.get(f"{VN}/massives/").json() == {"result": []}
    with api_server.client(headers={"Authorization": f"Bearer {intruder.key}"}) as other:
        for method, path in NATIVE_ROUTES:
            answer = other.request(method, path.format(id=massive["id"]))
            if path in ("/v1/jobs", "/v1/webhooks/deliveries"):
                assert answer.json()["results"] == []
            else:
                assert answer.status_code == 404, (method, path)
    with api_server.client(headers={"X-LG-API-KEY": intruder.key}) as other:
        assert other.get(f"/v1/emailguess/bulk/job/status/{massive['id']}").status_code == 404
    # The owner's job is intact, and its result file cannot be fetched under another organisation.
    with vn_client(api_server, owner) as client:
        assert client.get(f"{VN}/massives/{massive['id']}").json()["status"] == "ENDED"
    org, _, rest = result_file.rsplit("/", 1)[1].partition(".")
    forged = result_file.replace(f"/{org}.{rest}", f"/{intruder.org_id}.{rest}")
    assert httpx.get(forged, trust_env=False).status_code == 404
    assert httpx.get(result_file, trust_env=False).status_code == 200
