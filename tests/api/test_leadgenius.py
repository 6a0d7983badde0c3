"""The LeadGenius dialect over real HTTP, with the vendor's own snippets (base URL swapped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from mailsleuth import store
from mailsleuth.api.leadgenius.routes import answer
from mailsleuth.store import JobStatus, Search
from tests.api.conftest import ApiServer, Tenant, wait_until


def lg(api_server: ApiServer, tenant: Tenant) -> httpx.Client:
    return api_server.client(headers={"X-LG-API-KEY": tenant.key})


def submit(client: httpx.Client, path: str = "/emailguess/v1/job/submit", **fields: object) -> httpx.Response:
    """As in the docs: requests.post(url, headers=..., data=json.dumps(dict(...))) -- no content type."""
    return client.post(path, content=json.dumps(fields))


def result(client: httpx.Client, job_id: str, path: str = "/emailguess/v1/job/status/") -> httpx.Response:
    return wait_until(lambda: (r := client.get(path + job_id)).status_code != 202 and r)


def test_vendor_submit_snippet_then_status(api_server: ApiServer, tenant: Tenant) -> None:
    with lg(api_server, tenant) as client:
        r = submit(client, first="jane", last="doe", middle="", domain="acme.test", use_smtp_sniff=True)
        assert r.status_code == 202
        assert r.headers.get("content-type") == "application/json"
        body = r.json()
        assert body["status"] == 202 and isinstance(body["id"], str)
        jobid = r.json().get("id")
        done = result(client, jobid)
        assert done.status_code == 200
        assert done.json() == {"status": 200, "result": "jane.doe@acme.test"}
        # the other documented spelling of the status path answers the same
        assert client.get(f"/emailguess/v1/status/{jobid}").json() == done.json()
        again = submit(client, first="Jane", last="Doe", middle="", domain="acme.test", use_smtp_sniff=True)
        assert again.status_code == 202 and again.json()["id"] == jobid  # the same contact: its job, no charge
    assert api_server.call(store.balance, tenant.org_id, "search") == 9


def test_other_submit_path_and_not_found(api_server: ApiServer, tenant: Tenant) -> None:
    with lg(api_server, tenant) as client:
        r = submit(client, "/emailguess/v1/submit", first="nobody", middle="", last="here", domain="acme.test",
                   use_smtp_sniff=True)
        assert r.status_code == 202
        done = result(client, r.json()["id"], "/emailguess/v1/status/")
        assert done.status_code == 404 and done.json() == {"status": 404, "result": "Not Found"}
        for missing in ("999999", "abc", "9" * 40):
            gone = client.get(f"/emailguess/v1/job/status/{missing}")
            assert gone.status_code == 404 and gone.json() == {"status": 404, "result": "Not Found"}


def test_without_smtp_sniff_nothing_is_probed(api_server: ApiServer, tenant: Tenant, mail_world) -> None:
    rcpts_before = mail_world.stats("mx.acme.test").rcpt_count
    with lg(api_server, tenant) as client:
        r = submit(client, first="maria", middle="", last="garcia", domain="acme.test")  # sniff defaults to False
        done = result(client, r.json()["id"])
    assert done.status_code == 200
    assert done.json()["result"].endswith("@acme.test")  # the convention's best guess
    assert mail_world.stats("mx.acme.test").rcpt_count == rcpts_before


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"middle": "", "last": "doe", "domain": "acme.test"}, "First name is required"),
        ({"first": "", "middle": "", "last": "doe", "domain": "acme.test"}, "First name is required"),
        ({"first": "jane", "last": "doe", "domain": "acme.test"}, "Middle name is required"),
        ({"first": "jane", "middle": "", "domain": "acme.test"}, "Last name is required"),
        ({"first": "jane", "middle": "", "last": "doe"}, "Domain is required"),
    ],
)
def test_missing_fields(api_server: ApiServer, tenant: Tenant, fields: dict, message: str) -> None:
    with lg(api_server, tenant) as client:
        r = submit(client, **fields)
    assert r.status_code == 400
    assert r.json() == {"message": message}


def test_malformed_bodies(api_server: ApiServer, tenant: Tenant) -> None:
    with lg(api_server, tenant) as client:
        broken = client.post("/emailguess/v1/submit", content=b"{not json")
        array = client.post("/emailguess/v1/submit", content=b"[1, 2]")
        bad_domain = submit(client, first="jane", middle="", last="doe", domain="acme .test")
        bad_flag = submit(client, first="jane", middle="", last="doe", domain="acme.test", use_smtp_sniff="maybe")
    for r in (broken, array):
        assert r.status_code == 400 and r.json()["status"] == 400 and r.json()["error"]
    assert bad_domain.status_code == 400 and bad_domain.json()["message"].startswith("Domain")
    assert bad_flag.status_code == 400 and "message" in bad_flag.json()


def test_bad_key_and_rate_limit_are_403(api_server: ApiServer, tenant: Tenant) -> None:
    routes = [
        ("POST", "/emailguess/v1/submit"),
        ("POST", "/emailguess/v1/job/submit"),
        ("GET", "/emailguess/v1/job/status/1"),
        ("GET", "/emailguess/v1/status/1"),
    ]
    with api_server.client() as client:
        for method, path in routes:
            for headers in ({}, {"X-LG-API-KEY": "mykey"}, {"Authorization": f"Bearer {tenant.key}"}):
                r = client.request(method, path, headers=headers, content=b"{}")
                assert r.status_code == 403, (method, path, headers)
                assert r.json()["status"] == 403 and "X-RateLimit-Remaining" in r.headers
                assert "Retry-After" not in r.headers  # a bad key is no rate limit
    with lg(api_server, api_server.tenant()) as client:
        answers = [client.get("/emailguess/v1/status/1") for _ in range(301)]
    assert [a.status_code for a in answers[:300]] == [404] * 300 and answers[300].status_code == 403
    assert "Retry-After" not in answers[299].headers and 1 <= int(answers[300].headers["Retry-After"]) <= 60


def _job(status: JobStatus, **result: object) -> Search:
    now = datetime.now(UTC)
    options = {"smtp": result.pop("smtp", True), "use_catch_all": result.pop("use_catch_all", False)}
    return Search(1, 1, 1, "search", status, 1, 1, 1, options, None, dict(result), 1, None, None, None, now, now, now)


@pytest.mark.parametrize(
    ("job", "email", "expected"),
    [
        (_job(JobStatus.PROCESSING), None, 202),
        (_job(JobStatus.ENDED, verdict="deliverable", reason="accepted"), "a@b.test", 200),
        (_job(JobStatus.ENDED, verdict="risky", reason="catch_all"), "a@b.test", 404),
        (_job(JobStatus.ENDED, verdict="risky", reason="catch_all", use_catch_all=True), "a@b.test", 200),
        (_job(JobStatus.ENDED, verdict="unknown", reason="greylisted"), "a@b.test", 404),
        (_job(JobStatus.ENDED, verdict="unknown", reason="smtp_skipped", smtp=False), "a@b.test", 200),
        (_job(JobStatus.ENDED, verdict="undeliverable"), None, 404),
    ],
)
def test_grades_map_to_statuses(job: Search, email: str | None, expected: int) -> None:
    status, body = answer(job, email)
    assert status == expected and body["status"] == expected
    assert body.get("result") == (email if expected == 200 else body.get("result"))


def test_use_catch_all_decides_whether_a_catch_all_guess_is_a_match(api_server: ApiServer, tenant: Tenant) -> None:
    """catchall.test accepts everyone: its best guess is a match only for a caller who asks for those,
    and asking again under the other flag searches again instead of returning the first job."""
    with lg(api_server, tenant) as client:
        plain = submit(client, first="Jane", middle="", last="Doe", domain="catchall.test", use_smtp_sniff=True)
        refused = result(client, plain.json()["id"])
        assert refused.status_code == 404 and refused.json() == {"status": 404, "result": "Not Found"}
        assert api_server.call(store.balance, tenant.org_id, "search") == 10  # no match, no charge
        asked = submit(client, first="Jane", middle="", last="Doe", domain="catchall.test", use_smtp_sniff=True,
                       use_catch_all=True)
        assert asked.json()["id"] != plain.json()["id"]
        accepted = result(client, asked.json()["id"])
    assert accepted.status_code == 200 and accepted.json() == {"status": 200, "result": "jane.doe@catchall.test"}
    assert api_server.call(store.balance, tenant.org_id, "search") == 9


def test_a_guess_without_smtp_sniff_is_answered_but_not_charged(api_server: ApiServer, tenant: Tenant) -> None:
    with lg(api_server, tenant) as client:
        done = result(client, submit(client, first="Gwen", middle="", last="Unseen", domain="acme.test").json()["id"])
    assert done.status_code == 200 and done.json()["result"] == "gwen.unseen@acme.test"  # the convention's guess
    assert api_server.call(store.balance, tenant.org_id, "search") == 10  # a guess is not a found address
