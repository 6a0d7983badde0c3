"""The Hunter.io v2 dialect with Hunter's own Python client, `pyhunter` from PyPI, unchanged: only its
`base_endpoint` points at the real test server (and its requests session ignores proxy variables)."""

from __future__ import annotations

import pytest
import requests
from pyhunter import PyHunter
from pyhunter.exceptions import HunterApiError

from mailsleuth.api.hunter.routes import verifier_data
from tests.api.conftest import ApiServer, Tenant, wait_until


def hunter(api_server: ApiServer, key: str) -> PyHunter:
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever HTTP_PROXY says
    client = PyHunter(key, timeout=30, session=session)
    client.base_endpoint = f"{api_server.url}/v2/{{}}"
    return client


@pytest.fixture
def client(api_server: ApiServer, tenant: Tenant) -> PyHunter:
    return hunter(api_server, tenant.key)


def test_email_finder_finds_and_scores(client: PyHunter, api_server: ApiServer, tenant: Tenant) -> None:
    email, score = client.email_finder(domain="acme.test", first_name="Jane", last_name="Doe")
    assert email == "jane.doe@acme.test"
    assert isinstance(score, int) and 90 <= score <= 100  # verified deliverable
    raw = client.email_finder(domain="acme.test", full_name="Jane Doe", raw=True).json()
    data = raw["data"]
    assert data["email"] == "jane.doe@acme.test" and data["domain"] == "acme.test"
    assert data["verification"]["status"] == "valid" and data["accept_all"] is False
    assert data["first_name"] == "Jane" and data["last_name"] == "Doe" and data["sources"] == []
    assert raw["meta"]["params"]["full_name"] == "Jane Doe" and raw["meta"]["params"]["first_name"] is None
    # the second search of a found person is free: one search credit was used
    account = client.account_information()
    assert account["requests"]["searches"] == {"used": 1, "available": 9}


def test_email_finder_catch_all_and_not_found(client: PyHunter) -> None:
    catch_all = client.email_finder(domain="catchall.test", first_name="Jane", last_name="Doe", raw=True).json()
    assert catch_all["data"]["verification"]["status"] == "accept_all" and catch_all["data"]["accept_all"] is True
    assert catch_all["data"]["email"] is not None and catch_all["data"]["score"] < 90
    assert client.email_finder(domain="acme.test", first_name="Zed", last_name="Nobody") == (None, None)


def test_email_verifier_statuses(client: PyHunter) -> None:
    good = client.email_verifier("jane.doe@acme.test")
    assert (good["status"], good["result"], good["score"]) == ("valid", "deliverable", 100)
    assert good["email"] == "jane.doe@acme.test" and good["regexp"] is True
    assert good["mx_records"] is True and good["smtp_server"] is True and good["smtp_check"] is True
    assert good["accept_all"] is False and good["block"] is False and good["sources"] == []
    bad = client.email_verifier("nobody@acme.test")
    assert (bad["status"], bad["result"], bad["smtp_check"]) == ("invalid", "undeliverable", False)
    catch_all = client.email_verifier("anyone@catchall.test")
    assert (catch_all["status"], catch_all["result"], catch_all["accept_all"]) == ("accept_all", "risky", True)


def test_verifier_data_reports_a_blocked_check() -> None:
    """(The one blocking server of the mail world is probed over HTTP by the Reacher tests; a second
    probe in the same session would find it cooling down.)"""
    result = {"email": "jane.doe@blocked.test", "verdict": "unknown", "reason": "blocked", "mx_hosts": ["mx.blocked.test"],
              "smtp_code": 554, "catch_all": None, "disposable": False, "free": False}
    data = verifier_data(result, "jane.doe@blocked.test", [])
    assert (data.status, data.result, data.block, data.smtp_server, data.smtp_check) == (
        "unknown", "risky", True, True, False)


def test_email_verifier_answers_202_while_a_greylisting_server_is_checked(client: PyHunter) -> None:
    # greylist.test greylists each recipient once (its own address here: the mail world is shared),
    # then answers for real: this mailbox does not exist there
    address = "pat.poll@greylist.test"
    first = client.email_verifier(address, raw=True)
    assert first.status_code == 202 and first.json() == {"data": None, "meta": {"params": {"email": address}}}
    final = wait_until(lambda: client.email_verifier(address), timeout=30, interval=0.3)
    assert final["status"] == "invalid" and final["email"] == address and final["smtp_server"] is True


def test_domain_search_and_email_count(client: PyHunter) -> None:
    client.email_finder(domain="acme.test", first_name="John", last_name="Smith")
    client.email_finder(domain="acme.test", first_name="Maria", last_name="Garcia")
    found = client.domain_search(domain="acme.test", limit=1, offset=0)
    assert found["domain"] == "acme.test" and found["pattern"] == "{first}.{last}"
    assert found["webmail"] is False and found["disposable"] is False and found["accept_all"] is False
    assert len(found["emails"]) == 1
    raw = client.domain_search(domain="acme.test", raw=True).json()
    values = sorted(email["value"] for email in raw["data"]["emails"])
    assert values == ["john.smith@acme.test", "maria.garcia@acme.test"]
    assert raw["meta"]["results"] == 2 and raw["meta"]["limit"] == 10 and raw["meta"]["offset"] == 0
    email = raw["data"]["emails"][0]
    assert email["type"] == "personal" and email["verification"]["status"] == "valid" and email["confidence"] >= 90
    assert client.domain_search(domain="acme.test", seniority="executive")["emails"] == []  # nobody's seniority is known
    count = client.email_count(domain="acme.test")
    assert (count["total"], count["personal_emails"], count["generic_emails"]) == (2, 2, 0)
    assert count["department"]["it"] == 0 and set(count["seniority"]) == {"junior", "senior", "executive"}


def test_account_information(client: PyHunter, tenant: Tenant) -> None:
    account = client.account_information()
    assert account["email"] == tenant.email and account["team_id"] == tenant.org_id
    assert account["requests"]["verifications"] == {"used": 0, "available": 10}
    assert account["calls"] == {"used": 0, "available": 20, "left": 20}  # pyhunter adds `left`


def test_leads_crud_and_upsert(client: PyHunter, api_server: ApiServer) -> None:
    prospects = client.create_leads_list("Prospects")
    lead = client.create_lead("Ann", "Lee", email="ann.lee@acme.test", position="CTO", company="Acme",
                              company_industry="Software", linkedin_url="https://www.linkedin.com/in/annlee",
                              leads_list_id=prospects["id"])
    assert lead["email"] == "ann.lee@acme.test" and lead["position"] == "CTO" and lead["company"] == "Acme"
    assert lead["company_industry"] == "Software" and lead["linkedin_url"] == "https://www.linkedin.com/in/annlee"
    assert lead["leads_list"] == {"id": prospects["id"], "name": "Prospects", "leads_count": 1}
    assert lead["created_at"].endswith(" UTC")
    assert client.get_lead(lead["id"])["email"] == "ann.lee@acme.test"
    listed = client.get_leads(lead_list_id=prospects["id"])
    assert [item["id"] for item in listed["leads"]] == [lead["id"]]
    assert client.get_leads(email="nobody@")["leads"] == []

    updated = client.upsert_lead("ann.lee@acme.test", position="CEO")
    assert updated["id"] == lead["id"] and updated["position"] == "CEO" and updated["company_industry"] == "Software"
    created = client.upsert_lead("bo.chan@acme.test", first_name="Bo", last_name="Chan")
    assert created["id"] != lead["id"] and created["first_name"] == "Bo"

    # Hunter answers PUT/DELETE on one lead with 204 and no body; pyhunter then raises (as against Hunter)
    with pytest.raises(HunterApiError, match="format is invalid"):
        client.update_lead(lead["id"], notes="met at the fair", first_name="Anne")
    again = client.get_lead(lead["id"])
    assert again["notes"] == "met at the fair" and again["first_name"] == "Anne" and again["position"] == "CEO"
    with pytest.raises(HunterApiError, match="format is invalid"):
        client.delete_lead(lead["id"])
    with pytest.raises(HunterApiError) as missing:
        client.get_lead(lead["id"])
    assert missing.value.payload == {"errors": [{"id": "not_found", "code": 404, "details": "This lead does not exist."}]}


def test_leads_lists_crud(client: PyHunter) -> None:
    made = client.create_leads_list("Fair 2026")
    assert made["name"] == "Fair 2026" and made["leads_count"] == 0
    assert made["id"] in [item["id"] for item in client.get_leads_lists()["leads_lists"]]
    assert client.get_leads_list(made["id"])["leads"] == []
    with pytest.raises(HunterApiError, match="format is invalid"):
        client.update_leads_list(made["id"], "Fair 2027")
    assert client.get_leads_list(made["id"])["name"] == "Fair 2027"
    with pytest.raises(HunterApiError, match="format is invalid"):
        client.delete_leads_list(made["id"])
    assert made["id"] not in [item["id"] for item in client.get_leads_lists()["leads_lists"]]


def test_errors_in_hunter_shape(api_server: ApiServer, tenant: Tenant) -> None:
    with pytest.raises(HunterApiError) as bad_key:
        hunter(api_server, "not-a-key").account_information()
    assert bad_key.value.error == [
        {"id": "authentication_failed", "code": 401, "details": "No user found for the API key supplied"}
    ]
    with api_server.client() as http:
        missing = http.get("/v2/domain-search", params={"api_key": tenant.key})
        bad_duration = http.get("/v2/email-finder", params={"api_key": tenant.key, "domain": "acme.test",
                                                            "full_name": "Jane Doe", "max_duration": "99"})
        bad_email = http.get("/v2/email-verifier", headers={"X-API-KEY": tenant.key}, params={"email": "nope"})
        unknown = http.get("/v2/nothing-here", headers={"Authorization": f"Bearer {tenant.key}"})
        limited = http.get("/v2/account", headers={"Authorization": f"Bearer {tenant.key}"})
    assert (missing.status_code, missing.json()) == (
        400, {"errors": [{"id": "wrong_params", "code": 400, "details": "You are missing the domain parameter"}]}
    )
    assert bad_duration.status_code == 400 and bad_duration.json()["errors"][0]["id"] == "invalid_max_duration"
    assert bad_email.status_code == 400 and bad_email.json()["errors"][0]["id"] == "invalid_email"
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["id"] == "not_found"
    assert limited.status_code == 200 and limited.headers["X-RateLimit-Limit"] == "15"


def test_enrichment_from_what_is_known(client: PyHunter, api_server: ApiServer, tenant: Tenant) -> None:
    client.create_lead("Kim", "Park", email="kim.park@parkline.test", position="Engineer", company="Parkline")
    with api_server.client(headers={"X-API-KEY": tenant.key}) as http:
        person = http.get("/v2/people/find", params={"email": "kim.park@parkline.test"})
        combined = http.get("/v2/combined/find", params={"email": "kim.park@parkline.test"})
        unknown = http.get("/v2/people/find", params={"email": "who@parkline.test"})
        company = http.get("/v2/companies/find", params={"domain": "nowhere.test"})
    assert person.status_code == 200 and person.json()["meta"] == {"email": "kim.park@parkline.test"}
    data = person.json()["data"]
    assert data["name"] == {"fullName": "Kim Park", "givenName": "Kim", "familyName": "Park"}
    assert data["employment"]["title"] == "Engineer" and data["employment"]["domain"] == "parkline.test"
    assert combined.json()["data"]["person"]["email"] == "kim.park@parkline.test"
    assert combined.json()["data"]["company"] is None  # no facts were ever crawled for parkline.test (no other test uses it)
    assert unknown.status_code == 404 and unknown.json()["errors"][0]["id"] == "not_found"
    assert company.status_code == 404
