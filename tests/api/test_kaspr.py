"""The Kaspr dialect over real HTTP, with the vendor's own snippets (base URL swapped)."""

from __future__ import annotations

import httpx
import pytest

from mailsleuth import store
from tests.api.conftest import ApiServer, Tenant, wait_until


def kaspr(api_server: ApiServer, tenant: Tenant, *, bearer: bool = False) -> httpx.Client:
    """The snippets send the bare key; the prose says `Bearer KEY`: both must work."""
    value = f"Bearer {tenant.key}" if bearer else tenant.key
    return api_server.client(headers={"Authorization": value, "Content-Type": "application/json"})


@pytest.mark.parametrize("bearer", [False, True])
def test_verify_key(api_server: ApiServer, tenant: Tenant, bearer: bool) -> None:
    with kaspr(api_server, tenant, bearer=bearer) as client:
        response = client.get("/keys/verifyKey")
    assert response.status_code == 200
    assert response.json() == {"user": tenant.email}
    assert response.headers["Decreased-Credits"] == "0"
    assert response.headers["Remaining-Credits"] == "10"
    assert response.headers["X-RateLimit-Limit"] == "1000"
    assert 0 < int(response.headers["X-RateLimit-Reset"]) <= 3_600_000  # ms until reset, not a date


def test_domain_pattern_from_learned_conventions(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.client(auth=("x", tenant.key)) as vn:
        for name in ("Jane Doe", "John Smith"):
            contact_id = vn.post("/2018-01-08/search/name", data={"name": name, "domain": "acme.test"}).json()["id"]
            wait_until(lambda cid=contact_id: not vn.get(f"/2018-01-08/contacts/{cid}").json()["searching"])
    with kaspr(api_server, tenant) as client:
        known = client.post("/company/domainPattern", content='{"domain":"company@acme.test"}')
        unknown = client.post("/company/domainPattern", content='{"domain":"nothing-known.test"}')
    assert known.status_code == 200
    patterns = known.json()["patterns"]
    assert patterns[0]["pattern"] == "{first}.{last}@acme.test"
    assert all(set(p) == {"pattern", "score"} for p in patterns)
    assert 0 < sum(p["score"] for p in patterns) <= 1
    assert unknown.status_code == 200 and unknown.json() == {"patterns": []}


def _contact(api_server: ApiServer, tenant: Tenant, name: str, **fields: object) -> store.Contact:
    return api_server.call(store.create_contact, tenant.org_id, name=name, owner_id=tenant.user_id, **fields)


def test_profile(api_server: ApiServer, tenant: Tenant) -> None:
    _contact(api_server, tenant, "Linkedin Name", first_name="Linkedin", last_name="Name", domain="example.test",
             email="linkedin.name@example.test", verdict="deliverable", score=100, linkedin_id="linkedinId",
             title="Ghost", location="Home", company_name="Home")
    _contact(api_server, tenant, "Linkedin Name", domain="other.test", email="namesake@other.test",
             linkedin_id="someone-else")
    _contact(api_server, tenant, "Kathleen Harvey", domain="example.test", email="kathleen@gmail.com")
    with kaspr(api_server, tenant) as client:
        snippet = client.post("/profile/profile", content='{"id":"linkedinId","name":"Linkedin Name"}')
        by_name = client.post("/profile/profile", json={"id": "other", "name": "kathleen  harvey"})
        phone_needed = client.post("/profile/profile", json={"id": "other", "name": "Kathleen Harvey",
                                                             "isPhoneRequired": True})
        unknown = client.post("/profile/profile", json={"id": "nobody", "name": "No Body"})
        missing = client.post("/profile/profile", json={"id": "x"})
    assert snippet.status_code == 200, snippet.text
    profile = snippet.json()["profile"]
    assert set(profile) == {
        "id", "name", "firstName", "lastName", "emails", "currentProEmails", "currentPersonalEmails", "phones",
        "location", "title", "companyName", "fetchedAt", "currentProEmail", "processingTime", "currentEmail",
    }
    # of the two namesakes, the one with the requested LinkedIn id
    assert profile["id"] == "linkedinId"
    assert profile["emails"] == [{"email": "linkedin.name@example.test", "valid": True}]
    assert profile["currentProEmail"] == "linkedin.name@example.test" and profile["currentPersonalEmails"] == []
    assert by_name.json()["profile"]["currentPersonalEmails"] == ["kathleen@gmail.com"]
    assert by_name.json()["profile"]["emails"] == [{"email": "kathleen@gmail.com", "valid": None}]
    assert phone_needed.status_code == 404 and unknown.status_code == 404
    assert missing.status_code == 400 and missing.json()["code"] == 400


def test_domain_employees(api_server: ApiServer, tenant: Tenant) -> None:
    for n in range(7):
        _contact(api_server, tenant, f"Person {n}", domain="staff.test", email=f"p{n}@staff.test")
    _contact(api_server, tenant, "Phone Person", domain="staff.test", email="pp@staff.test", phone="+33 1 00 00 00 00")
    with kaspr(api_server, tenant) as client:
        default = client.post("/company/domainEmployees", content='{"domain":"company@staff.test"}')
        snippet = client.post(
            "/company/domainEmployees",
            content='{"domain":"company@staff.test","contactsNumberLimit":10,"isPhoneRequired":true}',
        )
        bad_limit = client.post("/company/domainEmployees", json={"domain": "staff.test", "contactsNumberLimit": 0})
    assert len(default.json()["employees"]) == 5  # contactsNumberLimit defaults to 5
    assert set(default.json()["employees"][0]) == {
        "firstName", "lastName", "name", "company", "job", "email", "emails", "phones", "phone", "location",
    }
    assert [e["name"] for e in snippet.json()["employees"]] == ["Phone Person"]
    assert snippet.json()["employees"][0]["phones"] == ["+33 1 00 00 00 00"]
    assert bad_limit.status_code == 400


ROUTES = [("GET", "/keys/verifyKey"), ("POST", "/company/domainPattern"), ("POST", "/profile/profile"),
          ("POST", "/company/domainEmployees")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_bad_auth_and_bad_bodies(api_server: ApiServer, tenant: Tenant, method: str, path: str) -> None:
    with api_server.client() as client:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"X-LG-API-KEY": tenant.key}):
            r = client.request(method, path, headers=headers)
            assert r.status_code == 401 and r.json()["code"] == 401
    if method == "POST":
        with kaspr(api_server, tenant) as client:
            r = client.post(path, content="{broken")
            assert r.status_code == 400 and r.json()["code"] == 400
