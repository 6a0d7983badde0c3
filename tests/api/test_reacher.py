"""The Reacher dialect with Reacher's documented requests and responses, against the real server and
the scripted mail world (its README's curl call, upstream's `foo@bar` fixture and error strings,
the bulk API's progress and result shapes)."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tests.api.conftest import ApiServer, Tenant, wait_until

FOO_AT_BAR_START = (
    '{"input":"foo@bar","is_reachable":"invalid","misc":{"is_disposable":false,"is_role_account":false,'
    '"is_b2c":false,"gravatar_url":null,"haveibeenpwned":null},"mx":{"accepts_mail":false,"records":[]},'
    '"smtp":{"can_connect_smtp":false,"has_full_inbox":false,"is_catch_all":false,"is_deliverable":false,'
    '"is_disabled":false},"syntax":{"address":null,"domain":"","is_valid_syntax":false,"username":"",'
    '"normalized_email":null,"suggestion":null},"debug":{'
)


def reacher(api_server: ApiServer, tenant: Tenant) -> httpx.Client:
    return api_server.client(headers={"x-reacher-secret": tenant.key})


def check(client: httpx.Client, to_email: str, version: str = "v0", **extra: Any) -> httpx.Response:
    return client.post(f"/{version}/check_email", json={"to_email": to_email, **extra})


def test_invalid_syntax_matches_upstreams_fixture_byte_for_byte(api_server: ApiServer, tenant: Tenant) -> None:
    with reacher(api_server, tenant) as client:
        response = check(client, "foo@bar")
    assert response.status_code == 200
    assert response.text.startswith(FOO_AT_BAR_START)
    assert response.json()["debug"]["smtp"] == {"verif_method": {"type": "Skipped"}}


@pytest.mark.parametrize("version", ["v0", "v1"])
def test_safe_address_in_reachers_shape(api_server: ApiServer, tenant: Tenant, version: str) -> None:
    with reacher(api_server, tenant) as client:
        body = check(client, "jane.doe@acme.test", version).json()
    assert list(body) == ["input", "is_reachable", "misc", "mx", "smtp", "syntax", "debug"]
    assert body["input"] == "jane.doe@acme.test" and body["is_reachable"] == "safe"
    assert body["misc"] == {"is_disposable": False, "is_role_account": False, "is_b2c": False,
                            "gravatar_url": None, "haveibeenpwned": None}
    assert body["mx"] == {"accepts_mail": True, "records": ["mx.acme.test."]}
    assert body["smtp"] == {"can_connect_smtp": True, "has_full_inbox": False, "is_catch_all": False,
                            "is_deliverable": True, "is_disabled": False}
    assert body["syntax"] == {"address": "jane.doe@acme.test", "domain": "acme.test", "is_valid_syntax": True,
                              "username": "jane.doe", "normalized_email": "jane.doe@acme.test", "suggestion": None}
    debug = body["debug"]
    assert debug["backend_name"] == debug["server_name"] == "mailsleuth"
    assert set(debug["duration"]) == {"secs", "nanos"} and debug["start_time"].endswith("Z")
    assert debug["smtp"]["verif_method"]["type"] == "Smtp" and debug["smtp"]["verif_method"]["host"] == "mx.acme.test."


def test_every_verdict_path(api_server: ApiServer, tenant: Tenant, world_settings: Any) -> None:
    with reacher(api_server, tenant) as client:
        bounce = check(client, "zed.smith@acme.test").json()
        catch_all = check(client, "jane.doe@catchall.test").json()
        role = check(client, "info@acme.test").json()
        full = check(client, "jane.doe@full.test").json()
        disabled = check(client, "jane.doe@disabled.test").json()
        blocked = check(client, "jane.doe@blocked.test").json()
        no_domain = check(client, "jane.doe@nxdomain.test").json()
        servfail = check(client, "jane.doe@servfail.test").json()
    assert bounce["is_reachable"] == "invalid" and bounce["smtp"]["is_deliverable"] is False
    assert catch_all["is_reachable"] == "risky"
    assert catch_all["smtp"] == {"can_connect_smtp": True, "has_full_inbox": False, "is_catch_all": True,
                                 "is_deliverable": True, "is_disabled": False}
    assert role["is_reachable"] == "risky" and role["misc"]["is_role_account"] is True
    assert full["is_reachable"] == "risky" and full["smtp"]["has_full_inbox"] is True
    assert disabled["is_reachable"] == "invalid" and disabled["smtp"]["is_disabled"] is True
    assert blocked["is_reachable"] == "unknown" and blocked["smtp"]["description"] == "IpBlacklisted"
    assert blocked["smtp"]["error"]["type"] == "AsyncSmtpError" and "5.7.1" in blocked["smtp"]["error"]["message"]
    assert no_domain["is_reachable"] == "invalid" and no_domain["mx"] == {"accepts_mail": False, "records": []}
    assert servfail["is_reachable"] == "unknown" and servfail["mx"]["error"]["type"] == "ResolveError"
    assert "description" not in servfail["mx"]


def test_secret_and_request_errors_as_upstream(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.client() as client:
        missing = check(client, "jane.doe@acme.test")
        wrong = client.post("/v0/check_email", headers={"x-reacher-secret": "nope"}, json={"to_email": "a@b.test"})
        hosted = client.post("/v0/check_email", headers={"Authorization": tenant.key}, json={"to_email": "foo@bar"})
    assert (missing.status_code, missing.text) == (400, 'Missing request header "x-reacher-secret"')
    assert (wrong.status_code, wrong.text) == (400, 'Invalid request header "x-reacher-secret"')
    assert hosted.status_code == 200 and hosted.json()["is_reachable"] == "invalid"
    with reacher(api_server, tenant) as client:
        empty = check(client, "")
        no_field = client.post("/v0/check_email", json={"from_email": "me@x.test"})
        not_json = client.post("/v0/check_email", content="to_email=a@b.test",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert (empty.status_code, empty.json()) == (400, {"error": "to_email field is required."})
    assert no_field.status_code == 400 and no_field.text.startswith("Request body deserialize error: to_email")
    assert not_json.status_code == 415


def test_caller_smtp_options_are_checked_and_never_aim_the_probe(
    api_server: ApiServer, tenant: Tenant, world_settings: Any
) -> None:
    with reacher(api_server, tenant) as client:
        bad_port = check(client, "jane.doe@acme.test", smtp_port=70000)
        bad_hello = check(client, "jane.doe@acme.test", hello_name="not a name!")
        bad_from = check(client, "jane.doe@acme.test", from_email="nobody")
        proxied = check(client, "jane.doe@acme.test", proxy={"host": "127.0.0.1", "port": 1080})
        other_port = check(client, "jane.doe@acme.test", smtp_port=2, hello_name="me.example", from_email="me@me.example")
    assert bad_port.status_code == 400 and "smtp_port" in bad_port.text
    assert bad_hello.status_code == 400 and bad_hello.json()["error"].startswith("hello_name:")
    assert bad_from.status_code == 400 and bad_from.json()["error"].startswith("from_email:")
    assert proxied.status_code == 400 and proxied.json()["error"].startswith("proxy:")
    assert other_port.status_code == 200 and other_port.json()["is_reachable"] == "safe"
    used = other_port.json()["debug"]["smtp"]["verif_method"]["verif_method"]
    assert used["smtp_port"] == world_settings.smtp_port and used["hello_name"] == world_settings.helo_name


def test_bulk_progress_and_results(api_server: ApiServer, tenant: Tenant) -> None:
    addresses = ["jane.doe@acme.test", "zed.smith@acme.test", "jane.doe@catchall.test", "foo@bar"]
    with reacher(api_server, tenant) as client:
        assert client.post("/v1/bulk", json={"input": []}).json() == {"error": "Empty input"}
        submitted = client.post("/v1/bulk", json={"input": addresses})
        assert submitted.status_code == 200 and set(submitted.json()) == {"job_id"}
        job_id = submitted.json()["job_id"]
        done = wait_until(lambda: (p := client.get(f"/v1/bulk/{job_id}").json())["job_status"] == "Completed" and p)
        results = client.get(f"/v1/bulk/{job_id}/results").json()["results"]
        page = client.get(f"/v1/bulk/{job_id}/results", params={"limit": 1, "offset": 1}).json()["results"]
        table = client.get(f"/v1/bulk/{job_id}/results", params={"format": "csv"})
        bad_format = client.get(f"/v1/bulk/{job_id}/results", params={"format": "xml"})
        unknown = client.get("/v1/bulk/999999")
    with api_server.client(headers={"x-reacher-secret": api_server.tenant().key}) as other:
        foreign = other.get(f"/v1/bulk/{job_id}")
    assert done["total_records"] == 4 and done["total_processed"] == 4 and done["finished_at"] is not None
    assert done["summary"] == {"total_safe": 1, "total_risky": 1, "total_invalid": 2, "total_unknown": 0}
    assert [(r["input"], r["is_reachable"]) for r in results] == [
        ("jane.doe@acme.test", "safe"), ("zed.smith@acme.test", "invalid"), ("jane.doe@catchall.test", "risky"),
        ("foo@bar", "invalid"),
    ]
    assert [r["input"] for r in page] == ["zed.smith@acme.test"]
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows[0] == ["input", "is_reachable", "misc.is_disposable", "misc.is_role_account", "misc.gravatar_url",
                       "mx.accepts_mail", "smtp.can_connect", "smtp.has_full_inbox", "smtp.is_catch_all",
                       "smtp.is_deliverable", "smtp.is_disabled", "syntax.is_valid_syntax", "syntax.domain",
                       "syntax.username", "error"]
    assert rows[1] == ["jane.doe@acme.test", "safe", "false", "false", "", "true", "true", "false", "false", "true",
                       "false", "true", "acme.test", "jane.doe", ""]
    assert len(rows) == 5
    assert (bad_format.status_code, bad_format.text) == (400, "Invalid query string")
    no_rows = {"error": "no rows returned by a query that expected to return at least one row"}
    assert (unknown.status_code, unknown.json()) == (400, no_rows)
    assert (foreign.status_code, foreign.json()) == (400, no_rows)  # another organisation's job does not exist


def test_version(api_server: ApiServer) -> None:
    with api_server.client() as client:
        assert client.get("/version").json() == {"version": "0.11.7"}
