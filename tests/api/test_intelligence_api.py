"""Domain intelligence through the API: VoilaNorbert domain search and company names, Kaspr leads,
employees and patterns, native enrichment, people import and sources, on a real server whose
outside world has company websites (web world) behind the mail world's DNS."""

from __future__ import annotations

import csv
import io
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mailsleuth import store
from mailsleuth.api.app import create_app
from mailsleuth.store import CreditKind
from tests.api.conftest import ApiServer, Tenant, _serve, wait_until
from tests.api.receiver import WebhookReceiver
from tests.mailworld.smtp_server import Behaviour
from tests.mailworld.world import MailWorld
from tests.service.test_intelligence import STAFF, WEB_ADDRESS, _widgets_site
from tests.api.bulkworld import wait_status
from tests.webworld import WebWorld, html


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with WebWorld((WEB_ADDRESS, "127.0.0.1")) as web:
        web.add_site("widgets.test", _widgets_site())
        web.add_site("ravenridge.de", {"/": html("<title>Ravenridge AG</title>")})
        mail = MailWorld(first_ip="127.0.8.1")
        mail.add_domain("widgets.test", behaviour=Behaviour(mailboxes={*STAFF, "cwhite", "info"}))
        mail.add_domain("ravenridge.de", behaviour=Behaviour(mailboxes={"petra.klein", "ole.berg"}))
        for domain in ("widgets.test", "ravenridge.de"):
            mail.dns.add(domain, "A", WEB_ADDRESS)
        with mail:
            path = Path(tmp_path_factory.mktemp("intel-api")) / "mailsleuth.db"
            settings = mail.settings(
                database_url=f"sqlite+aiosqlite:///{path}", crawl_scheme="http", crawl_port=web.port, crawl_timeout=5.0,
                company_tlds="com,de",
            )
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.bind(("127.0.0.1", 0))
            uvicorn_server, thread = _serve(create_app(settings, webhook_poll=0.05), sock)
            host, port = sock.getsockname()
            yield ApiServer(f"http://{host}:{port}", settings)
            uvicorn_server.should_exit = True
            thread.join(timeout=20)
            sock.close()


@pytest.fixture
def tenant(server: ApiServer) -> Tenant:
    return server.tenant()


def _vn(server: ApiServer, tenant: Tenant) -> httpx.Client:
    return server.client(auth=("any_string", tenant.key))


def test_voilanorbert_domain_search_then_search_by_company_name(server: ApiServer, tenant: Tenant) -> None:
    with _vn(server, tenant) as client:
        first = client.post("/2018-01-08/search/domain", data={"domain": "widgets.test"})
        again = client.post("/2018-01-08/search/domain", json={"company": "Widgets Inc", "page": 1})
        by_company = client.post("/2018-01-08/search/name", data={"name": "Carol White", "company": "Widgets Inc"})
        lost = client.post("/2018-01-08/search/name", data={"name": "Carol White", "company": "Nowhere Corp"})
        carol = f"/2018-01-08/contacts/{by_company.json()['id']}"
        wait_until(lambda: not client.get(carol).json()["searching"])  # her search charges when it ends
        balance = client.get("/2018-01-08/organization/credits").json()
    assert first.status_code == 200, first.text
    body = first.json()
    assert set(body) == {"has_next", "result", "credits_available", "total"}
    assert body["total"] == 4 and body["has_next"] is False and body["credits_available"] is True
    contacts = {c["email"]["email"]: c for c in body["result"]}
    assert set(contacts) == {f"{local}@widgets.test" for local in STAFF}
    jane = contacts["jdoe@widgets.test"]
    assert jane["is_new"] is True and jane["name"] == "Jane Doe" and jane["email"]["score"] == 100
    assert jane["company"]["name"] == "Widgets Inc" and jane["company"]["raw_url"] == "widgets.test"
    assert jane["owner"]["email"] == tenant.email
    # the company name is known now (its facts came with the crawl); nothing is charged twice
    assert again.status_code == 200 and again.json()["total"] == 4
    assert by_company.status_code == 200 and by_company.json()["company"]["raw_url"] == "widgets.test"
    assert lost.status_code == 400 and list(lost.json()) == ["company"]
    assert balance["remains"] == 5  # 4 people revealed by the domain search, then Carol found by company name


def test_kaspr_profile_employees_and_patterns_over_imported_people(server: ApiServer, tenant: Tenant) -> None:
    people = [
        {"name": "Carol White", "domain": "widgets.test", "linkedin": "https://linkedin.com/in/carol-white",
         "phone": "+1 (650) 253-0000", "title": "CFO", "location": "Austin, TX, USA"},
        {"name": "Jane Doe", "domain": "widgets.test", "email": "jdoe@widgets.test", "linkedin": "jane-d"},
        {"name": "No Phone", "phone": "12"},
    ]
    with server.client(headers={"Authorization": f"Bearer {tenant.key}"}) as native:
        imported = native.post("/v1/people", json=people)
    assert imported.status_code == 200, imported.text
    assert imported.json()["created"] == 2 and [e["line"] for e in imported.json()["errors"]] == [3]
    with server.client(headers={"Authorization": tenant.key}) as kaspr:
        profile = kaspr.post("/profile/profile", json={"id": "carol-white", "name": "Carol White"})
        cached = kaspr.post("/profile/profile", json={"id": "carol-white", "name": "Carol White"})
        unknown = kaspr.post("/profile/profile", json={"id": "nobody-here", "name": "Nobody Here"})
        employees = kaspr.post("/company/domainEmployees", json={"domain": "widgets.test", "isPhoneRequired": True})
        limited = kaspr.post("/company/domainEmployees", json={"domain": "widgets.test", "contactsNumberLimit": 1})
        patterns = kaspr.post("/company/domainPattern", json={"domain": "widgets.test"})
    assert profile.status_code == 200, profile.text
    lead = profile.json()["profile"]
    assert lead["currentProEmail"] == "cwhite@widgets.test" and lead["emails"] == [
        {"email": "cwhite@widgets.test", "valid": True}
    ]
    assert lead["phones"] == ["+16502530000"] and lead["title"] == "CFO" and lead["location"] == "Austin, TX, USA"
    assert isinstance(lead["fetchedAt"], int) and lead["processingTime"] >= 0
    assert profile.headers["Decreased-Credits"] == "1" and cached.headers["Decreased-Credits"] == "0"
    assert unknown.status_code == 404
    assert [e["name"] for e in employees.json()["employees"]] == ["Carol White"]
    assert len(limited.json()["employees"]) == 1
    found = patterns.json()["patterns"]
    assert found[0]["pattern"] == "{f}{last}@widgets.test" and 0 < sum(p["score"] for p in found) <= 1
    with server.client(headers={"Authorization": f"Bearer {tenant.key}"}) as native:
        carol = native.get("/v1/contacts", params={"email": "cwhite@widgets.test"}).json()["results"]
        history = native.get(f"/v1/contacts/{carol[0]['id']}/history").json()["results"]
    # the reveal is a find in Carol's history, made by the user whose key asked
    assert [(e["kind"], e["address"], e["by"]["email"]) for e in history if e["kind"] == "search"] == [
        ("search", "cwhite@widgets.test", tenant.email)
    ]


def test_native_enrich_people_csv_and_sources(server: ApiServer, tenant: Tenant) -> None:
    csv_body = "name,domain,phone,location\nAda Lovelace,widgets.test,020 7946 0018,\"London, United Kingdom\"\n,widgets.test,,\n"
    server.call(store.add_credits, tenant.org_id, CreditKind.ENRICH, 5)
    with _vn(server, tenant) as client:
        client.post("/2018-01-08/search/domain", data={"domain": "widgets.test"})  # crawled (or cached)
    with server.client(headers={"Authorization": f"Bearer {tenant.key}"}) as native:
        imported = native.post("/v1/people", content=csv_body, headers={"Content-Type": "text/csv"})
        enriched = native.get("/v1/enrich", params={"email": "bjones@widgets.test"})
        verified = native.post("/v1/verify", json={"email": "jdoe@widgets.test"})
    assert imported.json()["created"] == 1 and imported.json()["errors"][0]["line"] == 3
    assert enriched.status_code == 200, enriched.text
    body = enriched.json()
    assert body["verdict"] == "deliverable" and body["person"]["name"] == "Bob Jones"
    assert body["company"]["name"] == "Widgets Inc"
    assert body["sources"][0]["uri"].endswith("/contact") and body["sources"][0]["still_on_page"] is True
    assert server.call(store.balance, tenant.org_id, CreditKind.ENRICH) == 4
    assert verified.status_code == 200 and verified.json()["sources"][0]["uri"].endswith("/team")


def test_voilanorbert_search_answers_a_published_address_at_once(server: ApiServer, tenant: Tenant) -> None:
    """Bob Jones's own address is on widgets.test's contact page: one RCPT confirms it."""
    with _vn(server, tenant) as client:
        started = client.post("/2018-01-08/search/name", data={"name": "Bob Jones", "domain": "widgets.test"}).json()
        contact = _finished(client, started["id"])
    assert contact["email"]["email"] == "bjones@widgets.test" and contact["email"]["score"] == 100


def _finished(client: httpx.Client, contact_id: int) -> dict:
    for _ in range(400):
        contact = client.get(f"/2018-01-08/contacts/{contact_id}").json()
        if not contact["searching"]:
            return contact
        time.sleep(0.05)
    raise AssertionError("the search did not finish")


def test_a_massive_of_company_names_finds_people_at_country_endings(server: ApiServer, tenant: Tenant) -> None:
    content = "name,company\nPetra Klein,Ravenridge AG\nOle Berg,Ravenridge AG\nNo Body,Nowhere Widgets GmbH\n"
    with WebhookReceiver() as receiver, _vn(server, tenant) as client:
        created = client.post("/2018-01-08/massives/", data={"col_name": "0", "col_company": "1", "content": content,
                                                             "webhook": receiver.url})
        assert created.status_code == 200, created.text
        ended = wait_status(client, f"/2018-01-08/massives/{created.json()['id']}")
        wait_until(lambda: receiver.deliveries)
        result = client.get(receiver.deliveries[0].json()["result_file"]).text
    rows = list(csv.DictReader(io.StringIO(result)))
    emails = {row["name"]: row.get("email") for row in rows}
    assert emails["Petra Klein"] == "petra.klein@ravenridge.de" and emails["Ole Berg"] == "ole.berg@ravenridge.de"
    assert not emails["No Body"]
    assert ended["success"] == 2


def test_voilanorbert_company_names_resolve_at_country_endings(server: ApiServer, tenant: Tenant) -> None:
    with _vn(server, tenant) as client:
        started = client.post("/2018-01-08/search/name", data={"name": "Ole Berg", "company": "Ravenridge AG"})
        assert started.status_code == 200, started.text
        contact = _finished(client, started.json()["id"])
        listed = client.post("/2018-01-08/search/domain", data={"company": "Ravenridge AG"})
    assert contact["email"]["email"] == "ole.berg@ravenridge.de" and contact["company"]["raw_url"] == "ravenridge.de"
    assert listed.status_code == 200 and "ole.berg@ravenridge.de" in {c["email"]["email"] for c in listed.json()["result"]}
