"""The native /v1 API over real HTTP: finds and verifications with their evidence."""

from __future__ import annotations

import httpx
import pytest

from mailsleuth import store
from tests.api.conftest import ApiServer, Tenant, wait_until


def native(api_server: ApiServer, tenant: Tenant, *, header: str = "bearer") -> httpx.Client:
    headers = {"X-API-Key": tenant.key} if header == "x-api-key" else {"Authorization": f"Bearer {tenant.key}"}
    return api_server.client(headers=headers)


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_find_synchronously_with_evidence(api_server: ApiServer, tenant: Tenant, header: str) -> None:
    with native(api_server, tenant, header=header) as client:
        r = client.post("/v1/find", json={"first": "Jane", "last": "Doe", "domain": "https://www.acme.test/about"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["done"] is True and body["contact"]["email"] == "jane.doe@acme.test"
    result = body["result"]
    assert result["verdict"] == "deliverable" and result["score"] == 100
    assert result["pattern"] == "{first}.{last}"
    assert "jane.doe@acme.test" in result["candidates_tried"]
    evidence = result["verification"]
    assert evidence["smtp_code"] == 250 and evidence["mx_hosts"] == ["mx.acme.test"]
    assert evidence["catch_all"] is False
    assert body["contact"]["evidence"] == result


def test_find_asynchronously_then_poll(api_server: ApiServer, tenant: Tenant) -> None:
    with native(api_server, tenant) as client:
        r = client.post("/v1/find", json={"name": "John Smith", "company": "acme.test", "wait": 0})
        assert r.status_code in (200, 202)
        search_id = r.json()["id"]
        done = wait_until(lambda: (x := client.get(f"/v1/searches/{search_id}")).status_code == 200 and x)
        assert done.json()["contact"]["email"] == "john.smith@acme.test"
        contact_id = done.json()["contact"]["id"]
        assert client.get(f"/v1/contacts/{contact_id}").json()["email"] == "john.smith@acme.test"
        listed = client.get("/v1/contacts", params={"found": 1}).json()
        assert [c["id"] for c in listed["results"]] == [contact_id]
        assert client.get("/v1/searches/999999").status_code == 404


def test_catch_all_is_risky(api_server: ApiServer, tenant: Tenant) -> None:
    with native(api_server, tenant) as client:
        r = client.post("/v1/find", json={"name": "Jane Doe", "domain": "catchall.test"})
    result = r.json()["result"]
    assert result["verdict"] == "risky" and result["score"] == 80 and result["verification"]["catch_all"] is True


def test_verify_sync_and_async(api_server: ApiServer, tenant: Tenant) -> None:
    with native(api_server, tenant) as client:
        good = client.post("/v1/verify", json={"email": "jane.doe@acme.test"})
        bad = client.post("/v1/verify", json={"email": "nobody@acme.test"})
        later = client.post("/v1/verify", json={"email": "john.smith@acme.test", "wait": 0})
        assert later.status_code in (200, 202)
        path = f"/v1/verifications/{later.json()['id']}"
        polled = wait_until(lambda: (x := client.get(path)).status_code == 200 and x)
        missing = client.post("/v1/verify", json={})
        unknown = client.get("/v1/verifications/nope")
        bulk_jobs = client.get("/v1/jobs")
    assert good.status_code == 200 and good.json()["result"]["verdict"] == "deliverable"
    assert good.json()["result"]["smtp_code"] == 250
    assert bad.json()["result"]["verdict"] == "undeliverable" and bad.json()["result"]["smtp_code"] == 550
    assert polled.json()["result"]["verdict"] == "deliverable"
    assert missing.status_code == 400 and missing.json()["field"] == "email"
    assert unknown.status_code == 404 and unknown.json() == {"code": 404, "error": "No such verification."}
    assert api_server.call(store.balance, tenant.org_id, "verify") == 7
    assert bulk_jobs.json()["results"] == []  # single verifications are not bulk verifier jobs


def test_verify_needs_verify_credits(api_server: ApiServer) -> None:
    broke = api_server.tenant(verify=0)
    with native(api_server, broke) as client:
        r = client.post("/v1/verify", json={"email": "jane.doe@acme.test"})
    assert r.status_code == 402 and r.json()["code"] == 402


def test_patterns(api_server: ApiServer, tenant: Tenant) -> None:
    with native(api_server, tenant) as client:
        client.post("/v1/find", json={"name": "Maria Garcia", "domain": "acme.test"})
        known = client.get("/v1/patterns/acme.test").json()
        unknown = client.get("/v1/patterns/never-seen.test").json()
        bad = client.get("/v1/patterns/not a domain")
    assert known["evidence"] >= 1 and known["patterns"][0]["pattern"] == "{first}.{last}@acme.test"
    assert unknown == {"domain": "never-seen.test", "evidence": 0, "patterns": []}
    assert bad.status_code == 400 and bad.json()["field"] == "domain"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"domain": "acme.test"}, "first"), ({"name": "Jane Doe"}, "domain"), ({"name": "Jane Doe", "domain": "acme.test",
      "wait": 1000}, "wait"), ({"name": "Jane Doe", "domain": "acme.test", "webhook": "http://a b"}, "webhook")],
)
def test_find_bad_bodies(api_server: ApiServer, tenant: Tenant, body: dict, field: str) -> None:
    with native(api_server, tenant) as client:
        r = client.post("/v1/find", json=body)
    assert r.status_code == 400 and r.json()["field"] == field


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/find"), ("GET", "/v1/searches/1"), ("POST", "/v1/verify"), ("GET", "/v1/verifications/x"),
     ("GET", "/v1/patterns/acme.test"), ("GET", "/v1/contacts"), ("GET", "/v1/contacts/1")],
)
def test_bad_auth(api_server: ApiServer, tenant: Tenant, method: str, path: str) -> None:
    with api_server.client() as client:
        for headers in ({}, {"X-API-Key": "nope"}, {"Authorization": "Basic " + tenant.key}):
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == 401


def test_openapi_documents_every_route(api_server: ApiServer) -> None:
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/2018-01-08/search/name", "/2018-01-08/contacts/{contact_id}", "/emailguess/v1/job/submit",
                 "/emailguess/v1/status/{jobid}", "/company/domainPattern", "/v1/find", "/v1/verify"):
        assert path in paths
    body = paths["/2018-01-08/search/name"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-www-form-urlencoded"} <= set(body)
