"""The VoilaNorbert dialect over real HTTP, with the vendor's own request examples (base URL swapped)."""

from __future__ import annotations

import hashlib
import hmac
import time

import httpx
import pytest

from mailsleuth import store
from tests.api.conftest import ApiServer, Tenant, wait_until
from tests.api.receiver import WebhookReceiver

BASE = "/2018-01-08"

# Key sets of the objects in the vendor's documentation.
CONTACT_KEYS = {"company", "created", "email", "id", "lists", "name", "owner", "searching", "status"}
COMPANY_KEYS = {"description", "is_done", "keywords", "logo", "name", "raw_url", "title", "url"}
EMAIL_KEYS = {"avatar_url", "email", "is_done", "score"}
OWNER_KEYS = {"admin", "avatar_url", "email", "firstname", "language", "name"}
LIST_KEYS = {"contacts", "created", "id", "name"}
CREDITS_KEYS = {"charge_failed", "refill_credits", "refill_limit", "refill_price", "remains", "total"}
ACCOUNT_KEYS = {
    "admin", "api_token", "avatar_url", "balance", "created", "credits", "email", "firstname", "has_cc",
    "is_account_verified", "language", "name", "optin", "phone_verified", "plan",
}
ORGANIZATION_KEYS = {
    "id", "company_name", "company_vat", "address", "zipcode", "city", "country", "is_auto_renew",
    "auto_renew_at", "auto_renew_quantity", "cc_expires", "plan", "is_yearly", "next_payment", "credits",
}


def vn(api_server: ApiServer, tenant: Tenant) -> httpx.Client:
    return api_server.client(auth=("any_string", tenant.key))


def finished(client: httpx.Client, contact_id: int) -> dict:
    """The vendor's documented algorithm: poll GET /contacts/{id} until `searching` is false."""

    def check() -> dict | None:
        response = client.get(f"{BASE}/contacts/{contact_id}")
        assert response.status_code == 200
        contact = response.json()
        return None if contact["searching"] else contact

    return wait_until(check)


def assert_contact_shape(contact: dict) -> None:
    assert set(contact) == CONTACT_KEYS
    assert set(contact["company"]) == COMPANY_KEYS
    assert set(contact["owner"]) == OWNER_KEYS
    assert contact["email"] is None or set(contact["email"]) == EMAIL_KEYS
    assert contact["status"] in {"LEAD", "CONTACTED", "WON", "LOST"}
    assert contact["created"] > 1_600_000_000_000  # milliseconds


def search_credits(api_server: ApiServer, tenant: Tenant) -> int:
    return api_server.call(store.balance, tenant.org_id, "search")


def test_vendor_python_snippet_form_body_not_found(api_server: ApiServer, tenant: Tenant) -> None:
    # requests.post(.../search/name, auth=('any_string', API_TOKEN), data={...}) as in the docs
    with vn(api_server, tenant) as client:
        req = client.post(f"{BASE}/search/name", data={"name": "Cyril Nicodeme", "domain": "reflectiv.net"})
        assert req.status_code == 200
        result = req.json()
        assert_contact_shape(result)
        assert result["searching"] is True and result["email"] is None
        contact = finished(client, result["id"])
    assert contact["email"] is None  # "Email not found!": the domain does not exist in this world
    assert search_credits(api_server, tenant) == 10  # nothing found, nothing charged


def test_search_finds_address_charges_once_and_posts_webhook(api_server: ApiServer, tenant: Tenant) -> None:
    with WebhookReceiver() as receiver, vn(api_server, tenant) as client:
        answer = client.post(
            f"{BASE}/search/name", json={"name": "John Smith", "domain": "acme.test", "webhook": receiver.url}
        )
        assert answer.status_code == 200, answer.text
        contact = finished(client, answer.json()["id"])
        assert_contact_shape(contact)
        assert contact["email"]["email"] == "john.smith@acme.test"
        assert contact["email"]["score"] == 100
        assert search_credits(api_server, tenant) == 9

        delivery = wait_until(lambda: receiver.deliveries and receiver.deliveries[0])
        assert delivery.json() == contact  # the webhook carries the finished contact
        org = api_server.call(store.get_org, tenant.org_id)
        expected = "sha256=" + hmac.new(org.webhook_secret.encode(), delivery.body, hashlib.sha256).hexdigest()
        assert delivery.headers["X-Mailsleuth-Signature"] == expected

        again = client.post(f"{BASE}/search/name", data={"name": "John Smith", "domain": "acme.test"}).json()
        assert again["id"] == contact["id"] and again["searching"] is False
        assert again["email"]["email"] == "john.smith@acme.test"
        assert search_credits(api_server, tenant) == 9  # the same contact again is free

        assert api_server.call(store.delete_contact, tenant.org_id, contact["id"])
        renewed = client.post(f"{BASE}/search/name", data={"name": "John Smith", "domain": "acme.test"}).json()
        assert renewed["id"] != contact["id"]
        assert finished(client, renewed["id"])["email"]["email"] == "john.smith@acme.test"
        assert search_credits(api_server, tenant) == 8  # ... unless it was deleted


def test_curl_example_and_list_id(api_server: ApiServer, tenant: Tenant) -> None:
    with vn(api_server, tenant) as client:
        created = client.post(f"{BASE}/lists/", data={"name": "Awesome leads"}).json()
        answer = client.post(
            f"{BASE}/search/name", data={"domain": "acme.test", "name": "Maria Garcia", "list_id": created["id"]}
        )
        assert answer.status_code == 200
        assert answer.json()["lists"] == [created["id"]]
        assert finished(client, answer.json()["id"])["email"]["email"] == "maria.garcia@acme.test"
        assert client.get(f"{BASE}/lists/{created['id']}").json()["contacts"] == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"domain": "acme.test"}, {"name": ["This field is required."]}),
        ({"name": "   ", "domain": "acme.test"}, {"name": ["This field is required."]}),
        ({"name": "Jane Doe"}, {"domain": ["This field is required."]}),
        ({"name": "Jane Doe", "list_id": "x", "domain": "acme.test"}, None),
    ],
)
def test_search_field_errors(api_server: ApiServer, tenant: Tenant, body: dict, expected: dict | None) -> None:
    with vn(api_server, tenant) as client:
        response = client.post(f"{BASE}/search/name", data=body)
    assert response.status_code == 400
    if expected is not None:
        assert response.json() == expected
    else:
        assert list(response.json()) == ["list_id"]


def test_search_rejects_bad_domain_webhook_and_foreign_list(api_server: ApiServer, tenant: Tenant) -> None:
    other = api_server.tenant()
    with vn(api_server, other) as client:
        foreign_list = client.post(f"{BASE}/lists/", data={"name": "theirs"}).json()["id"]
    with vn(api_server, tenant) as client:
        bad_domain = client.post(f"{BASE}/search/name", data={"name": "Jane Doe", "domain": "acme\r\n.test"})
        bad_hook = client.post(
            f"{BASE}/search/name", data={"name": "Jane Doe", "domain": "acme.test", "webhook": "gopher://x"}
        )
        bad_list = client.post(
            f"{BASE}/search/name", data={"name": "Jane Doe", "domain": "acme.test", "list_id": foreign_list}
        )
        bad_name = client.post(f"{BASE}/search/name", data={"name": "Jane\nDoe", "domain": "acme.test"})
    assert (bad_domain.status_code, list(bad_domain.json())) == (400, ["domain"])
    assert (bad_hook.status_code, list(bad_hook.json())) == (400, ["webhook"])
    assert (bad_list.status_code, list(bad_list.json())) == (400, ["list_id"])
    assert (bad_name.status_code, list(bad_name.json())) == (400, ["name"])
    assert search_credits(api_server, tenant) == 10


def test_no_credits_is_402(api_server: ApiServer) -> None:
    broke = api_server.tenant(search=0)
    with vn(api_server, broke) as client:
        response = client.post(f"{BASE}/search/name", data={"name": "Jane Doe", "domain": "acme.test"})
    assert response.status_code == 402
    assert response.json()["code"] == 402 and response.json()["error"]


def _contact(api_server: ApiServer, tenant: Tenant, name: str, **fields: object) -> store.Contact:
    return api_server.call(store.create_contact, tenant.org_id, name=name, owner_id=tenant.user_id, **fields)


def test_contacts_filters_and_paging(api_server: ApiServer, tenant: Tenant) -> None:
    larry = _contact(api_server, tenant, "Larry Page", domain="google.test", company_name="Google",
                     email="larry@google.test", score=100, status="WON")
    _contact(api_server, tenant, "Larry Ellison", domain="oracle.test", company_name="Oracle")
    sergey = _contact(api_server, tenant, "Sergey Brin", domain="google.test", company_name="Google",
                      email="sergey@google.test", score=80)
    with vn(api_server, tenant) as client:
        # the documented example: curl .../contacts/?order_by=-name&name=larry
        page = client.get(f"{BASE}/contacts/", params={"order_by": "-name", "name": "larry"}).json()
        assert set(page) == {"has_next", "has_prev", "page", "pages", "result", "total"}
        assert [c["name"] for c in page["result"]] == ["Larry Page", "Larry Ellison"]
        assert all(set(c) == CONTACT_KEYS for c in page["result"])

        def names(**params: object) -> list[str]:
            response = client.get(f"{BASE}/contacts/", params=params)
            assert response.status_code == 200, response.text
            return sorted(c["name"] for c in response.json()["result"])

        assert names(ids=f"{larry.id},{sergey.id}") == ["Larry Page", "Sergey Brin"]
        assert names(query="oracle") == ["Larry Ellison"]
        assert names(email="@google.test") == ["Larry Page", "Sergey Brin"]
        assert names(company="goog") == ["Larry Page", "Sergey Brin"]
        assert names(status="WON") == ["Larry Page"]
        assert names(found=1) == ["Larry Page", "Sergey Brin"]
        assert names(created=">=2000-01-01 00:00") == ["Larry Ellison", "Larry Page", "Sergey Brin"]
        assert names(created="<2000-01-01 00:00") == []
        first = client.get(f"{BASE}/contacts/", params={"per_page": 2, "order_by": "name"}).json()
        second = client.get(f"{BASE}/contacts/", params={"per_page": 2, "order_by": "name", "page": 2}).json()
        assert (first["total"], first["pages"], first["has_next"], first["has_prev"]) == (3, 2, True, False)
        assert (second["has_next"], second["has_prev"]) == (False, True)
        assert [c["name"] for c in first["result"] + second["result"]] == ["Larry Ellison", "Larry Page", "Sergey Brin"]

        bad = client.get(f"{BASE}/contacts/", params={"status": "MAYBE"})
        assert bad.status_code == 400 and list(bad.json()) == ["status"]
        missing = client.get(f"{BASE}/contacts/999999")
        assert missing.status_code == 404 and missing.json() == {"code": 404, "error": "Page not found."}


def test_lists_vendor_examples(api_server: ApiServer, tenant: Tenant) -> None:
    _contact(api_server, tenant, "Larry Page", domain="google.test", company_name="Google")
    _contact(api_server, tenant, "Sergey Brin", domain="google.test", company_name="Google")
    _contact(api_server, tenant, "Larry Ellison", domain="oracle.test", company_name="Oracle")
    with vn(api_server, tenant) as client:
        created = client.post(f"{BASE}/lists/", data={"name": "Awesome leads"})  # curl -d "name=Awesome leads"
        assert created.status_code == 200
        item = created.json()
        assert set(item) == LIST_KEYS and item["contacts"] == 0 and item["name"] == "Awesome leads"
        list_id = item["id"]
        assert client.post(f"{BASE}/lists/", data={}).json() == {"name": ["This field is required."]}

        assert [x["id"] for x in client.get(f"{BASE}/lists/").json()["result"]] == [list_id]
        assert client.get(f"{BASE}/lists/", params={"name": "nope"}).json() == {"result": []}
        assert client.get(f"{BASE}/lists/{list_id}").json() == item

        renamed = client.put(f"{BASE}/lists/{list_id}", data={"name": "My New Name"}).json()
        assert renamed["name"] == "My New Name"

        filled = client.post(f"{BASE}/lists/{list_id}", data={"company": "Google"})  # curl -d "company=Google"
        assert filled.status_code == 200 and filled.json()["contacts"] == 2
        in_list = client.get(f"{BASE}/contacts/", params={"lists": list_id}).json()["result"]
        assert sorted(c["name"] for c in in_list) == ["Larry Page", "Sergey Brin"]
        assert all(c["lists"] == [list_id] for c in in_list)

        assert client.put(f"{BASE}/lists/{list_id}", data={"removed": "1"}).status_code == 200
        assert client.get(f"{BASE}/lists/{list_id}").status_code == 404

        other = client.post(f"{BASE}/lists/", json={"name": "Second"}).json()["id"]
        assert client.delete(f"{BASE}/lists/{other}").json() == {"result": "success"}
        gone = client.delete(f"{BASE}/lists/{other}")
        assert gone.status_code == 404 and gone.json() == {"code": 404, "error": "Page not found."}


def test_account_organization_and_credits(api_server: ApiServer, tenant: Tenant) -> None:
    with vn(api_server, tenant) as client:
        account = client.get(f"{BASE}/account/").json()
        organization = client.get(f"{BASE}/organization/").json()
        credits = client.get(f"{BASE}/organization/credits").json()
    assert set(account) == ACCOUNT_KEYS
    assert account["email"] == tenant.email
    assert account["api_token"] == tenant.key  # the caller's own key (stored hashed, never another one)
    assert account["credits"]["remains"] == 10 and account["balance"]["verify"]["remaining"] == 10
    assert set(organization) == ORGANIZATION_KEYS and organization["id"] == tenant.org_id
    assert organization["credits"] == {"remains": 10, "total": 10}
    assert set(credits) == CREDITS_KEYS and (credits["remains"], credits["total"]) == (10, 10)


def test_rate_limit_headers(api_server: ApiServer, tenant: Tenant) -> None:
    with vn(api_server, tenant) as client:
        first = client.get(f"{BASE}/contacts/")
        second = client.get(f"{BASE}/organization/credits")
        search = client.post(f"{BASE}/search/name", data={"name": "Jane Doe", "domain": "acme.test"})
    assert first.headers["X-RateLimit-Limit"] == "120"
    assert int(first.headers["X-RateLimit-Remaining"]) == 119
    assert int(second.headers["X-RateLimit-Remaining"]) == 118
    reset = int(first.headers["X-RateLimit-Reset"])
    assert time.time() - 1 <= reset <= time.time() + 61  # epoch seconds
    assert search.headers["X-RateLimit-Limit"] == "300"  # search/name has its own quota


def test_too_many_requests_is_429(api_server: ApiServer, tenant: Tenant) -> None:
    with vn(api_server, tenant) as client:
        statuses = [client.get(f"{BASE}/organization/credits").status_code for _ in range(121)]
        blocked = client.get(f"{BASE}/organization/credits")
    assert statuses[:120] == [200] * 120 and statuses[120] == 429
    assert blocked.json() == {
        "code": 429, "error": "Too many requests in the allowed time frame (120 requests per minute)"
    }
    assert blocked.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    other = api_server.tenant()  # limits are per key
    with vn(api_server, other) as client:
        assert client.get(f"{BASE}/organization/credits").status_code == 200


ROUTES = [
    ("POST", "/search/name"),
    ("POST", "/search/domain"),
    ("GET", "/contacts/"),
    ("GET", "/contacts/1"),
    ("GET", "/lists/"),
    ("POST", "/lists/"),
    ("GET", "/lists/1"),
    ("PUT", "/lists/1"),
    ("DELETE", "/lists/1"),
    ("POST", "/lists/1"),
    ("GET", "/account/"),
    ("GET", "/organization/"),
    ("GET", "/organization/credits"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_bad_auth_on_every_route(api_server: ApiServer, tenant: Tenant, method: str, path: str) -> None:
    with api_server.client() as client:
        missing = client.request(method, BASE + path)
        wrong = client.request(method, BASE + path, auth=("any_string", tenant.key + "x"))
        bearer = client.request(method, BASE + path, headers={"Authorization": f"Bearer {tenant.key}"})
    for response in (missing, wrong, bearer):
        assert response.status_code == 401
        assert response.json()["code"] == 401 and response.json()["error"]
        assert "X-RateLimit-Limit" in response.headers


def test_search_domain_lists_known_contacts(api_server: ApiServer, tenant: Tenant) -> None:
    _contact(api_server, tenant, "Larry Page", domain="google.test", email="larry@google.test", score=100)
    with vn(api_server, tenant) as client:
        body = client.post(f"{BASE}/search/domain", data={"domain": "google.test"})  # the vendor's snippet
        empty = client.post(f"{BASE}/search/domain", data={})
    assert body.status_code == 200 and body.headers["X-RateLimit-Limit"] == "60"
    payload = body.json()
    assert set(payload) == {"has_next", "result", "credits_available", "total"}
    assert [c["email"]["email"] for c in payload["result"]] == ["larry@google.test"]
    assert set(payload["result"][0]) == CONTACT_KEYS | {"is_new"}
    assert empty.status_code == 400 and empty.json() == {"domain": ["This field is required."]}


def test_search_by_company_name(api_server: ApiServer, tenant: Tenant) -> None:
    api_server.call(store.save_company, "acme.test", name="Acme Corporation")
    with vn(api_server, tenant) as client:
        known = client.post(f"{BASE}/search/name", data={"name": "Jane Doe", "company": "acme corporation"})
        as_domain = client.post(f"{BASE}/search/name", data={"name": "John Smith", "company": "Acme.test"})
        unknown = client.post(f"{BASE}/search/name", data={"name": "Jane Doe", "company": "Nobody Knows Inc"})
        assert known.status_code == 200 and known.json()["company"]["raw_url"] == "acme.test"
        assert known.json()["company"]["name"] == "Acme Corporation"
        assert finished(client, known.json()["id"])["email"]["email"] == "jane.doe@acme.test"
        assert as_domain.json()["company"]["raw_url"] == "acme.test"
    assert unknown.status_code == 400 and list(unknown.json()) == ["company"]


def test_list_filled_from_body_json_and_query_string(api_server: ApiServer, tenant: Tenant) -> None:
    one = _contact(api_server, tenant, "Ada Lovelace", domain="engine.test")
    _contact(api_server, tenant, "Charles Babbage", domain="engine.test")
    with vn(api_server, tenant) as client:
        list_id = client.post(f"{BASE}/lists/", json={"name": "engines"}).json()["id"]
        by_json = client.post(f"{BASE}/lists/{list_id}", json={"ids": [one.id]}).json()
        assert by_json["contacts"] == 1
        everyone = client.post(f"{BASE}/lists/{list_id}").json()  # no filter: the whole contacts query
        assert everyone["contacts"] == 2
        bad = client.post(f"{BASE}/lists/{list_id}", params={"created": ">=yesterday"})
    assert bad.status_code == 400 and list(bad.json()) == ["created"]
