"""The native endpoints behind the dashboard's screens, over real HTTP against the mail world:
uploading a file as a job, lists and contact status, the account, credit usage and API keys."""

from __future__ import annotations

import csv
import io

import httpx

from mailsleuth import store
from tests.api.conftest import ApiServer, Tenant, wait_until


def _finished(client: httpx.Client, job_id: int) -> dict:
    return wait_until(lambda: (job := client.get(f"/v1/jobs/{job_id}").json())["status"] == "ENDED" and job, 60)


def test_a_csv_file_becomes_a_verify_job_with_its_result_file(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        body = "name,email\nJane,jane.doe@acme.test\nNo one,nobody@acme.test\n"
        job = client.post("/v1/jobs", data={"kind": "verify", "filename": "mine.csv"},
                          files={"file": ("mine.csv", body, "text/csv")}).json()
        assert (job["kind"], job["quantity"], job["filename"]) == ("verify", 2, "mine.csv")
        done = _finished(client, job["id"])
        result = client.get(f"/v1/jobs/{job['id']}/results").text
    assert done["verdicts"] == {"deliverable": 1, "risky": 0, "undeliverable": 1}
    rows = list(csv.DictReader(io.StringIO(result)))
    assert [(row["name"], row["email"], row["verdict"]) for row in rows] == [
        ("Jane", "jane.doe@acme.test", "deliverable"), ("No one", "nobody@acme.test", "undeliverable")]


def test_a_verify_files_result_keeps_every_column_of_the_file(api_server: ApiServer, tenant: Tenant) -> None:
    """The caller's columns come first, as given (titles, order, quoted cells, even a short row),
    then the verdict columns; a cell that would run as a spreadsheet formula is neutralised."""
    with api_server.native(tenant) as client:
        body = ('Company,Mail,Notes,Owner\n"Acme, Inc.",Jane.Doe@acme.test,"met at ""Expo""",=HYPERLINK("x")\n'
                "Acme,info@acme.test\n")
        job = client.post("/v1/jobs", data={"kind": "verify"}, files={"file": ("crm.csv", body, "text/csv")}).json()
        _finished(client, job["id"])
        result = client.get(f"/v1/jobs/{job['id']}/results").text
        bare = client.post("/v1/jobs", data={"kind": "verify"},
                           files={"file": ("bare.csv", "42,john.smith@acme.test\n", "text/csv")}).json()
        _finished(client, bare["id"])
        bare_result = client.get(f"/v1/jobs/{bare['id']}/results").text
    lines = list(csv.reader(io.StringIO(result)))
    assert lines[0][:6] == ["Company", "Mail", "Notes", "Owner", "email", "is_deliverable"]
    assert [line[:5] for line in lines[1:]] == [
        ["Acme, Inc.", "Jane.Doe@acme.test", 'met at "Expo"', "'=HYPERLINK(\"x\")", "Jane.Doe@acme.test"],
        ["Acme", "info@acme.test", "", "", "info@acme.test"],
    ]
    verdict = lines[0].index("verdict")
    assert [line[verdict] for line in lines[1:]] == ["deliverable", "risky"]
    bare_lines = list(csv.DictReader(io.StringIO(bare_result)))
    assert [(row["column_0"], row["column_1"], row["email"], row["verdict"]) for row in bare_lines] == [
        ("42", "john.smith@acme.test", "john.smith@acme.test", "deliverable")]


def test_a_csv_file_becomes_a_find_job_with_the_chosen_columns(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        fields = {"kind": "find", "col_name": "1,0", "col_domain": "2"}
        body = "Last,First,Site\nDoe,Jane,acme.test\n"
        job = client.post("/v1/jobs", data=fields, files={"file": ("f.csv", body, "text/csv")}).json()
        _finished(client, job["id"])
        rows = list(csv.DictReader(io.StringIO(client.get(f"/v1/jobs/{job['id']}/results").text)))
    assert [(row["First"], row["email"]) for row in rows] == [("Jane", "jane.doe@acme.test")]


def test_find_answers_a_person_a_bulk_file_found_with_the_contact(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        client.post("/v1/verify", json={"email": "info@acme.test", "wait": 60})  # a search row with a low id
        fields = {"kind": "find", "col_name": "0", "col_domain": "1"}
        job = client.post("/v1/jobs", data=fields, files={"file": ("f.csv", "Maria Garcia,acme.test\n")}).json()
        _finished(client, job["id"])
        answer = client.post("/v1/find", json={"name": "Maria Garcia", "domain": "acme.test"}).json()
    assert (answer["done"], answer["contact"]["email"]) == (True, "maria.garcia@acme.test")


def test_a_bad_upload_is_refused_with_the_field_and_no_job(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        kind = client.post("/v1/jobs", data={"kind": "enrich"}, files={"file": ("f.csv", "email\na@b.c\n")})
        missing = client.post("/v1/jobs", data={"kind": "verify"})
        columns = client.post("/v1/jobs", data={"kind": "find", "col_name": "0"}, files={"file": ("f.csv", "a\nb\n")})
        jobs = client.get("/v1/jobs").json()["results"]
    assert kind.status_code == 400 and kind.json() == {"code": 400, "error": "must be find or verify", "field": "kind"}
    assert missing.json() == {"code": 400, "error": "Attach a CSV file.", "field": "file"}
    assert columns.json() == {"code": 400, "error": "Give col_domain or col_company.", "field": "col_domain"}
    assert jobs == []


def test_lists_round_trip_with_contact_status_filters_and_export(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        found = client.post("/v1/find", json={"name": "Jane Doe", "domain": "acme.test", "wait": 60}).json()
        jane = found["contact"]
        made = client.post("/v1/lists", json={"name": "  Leads "})
        assert made.status_code == 201 and made.json()["name"] == "Leads" and made.json()["contacts"] == 0
        list_id = made.json()["id"]
        renamed = client.patch(f"/v1/lists/{list_id}", json={"name": "Hot leads"}).json()
        added = client.post(f"/v1/lists/{list_id}/contacts", json={"ids": [jane["id"], 999999]}).json()
        won = client.patch(f"/v1/contacts/{jane['id']}", json={"status": "WON"}).json()
        bad = client.patch(f"/v1/contacts/{jane['id']}", json={"status": "MAYBE"})
        by_filters = client.get("/v1/contacts", params={"lists": list_id, "status": "WON", "verdict": "deliverable"})
        other_verdict = client.get("/v1/contacts", params={"lists": list_id, "verdict": "risky"}).json()
        exported = client.get(f"/v1/lists/{list_id}/export")
        bad_name = client.post("/v1/lists", json={"name": "a\u0007b"})
        deleted = client.delete(f"/v1/lists/{list_id}")
        gone = client.delete(f"/v1/lists/{list_id}")
        lists = client.get("/v1/lists").json()["results"]
    assert renamed["name"] == "Hot leads" and added["contacts"] == 1 and won["status"] == "WON"
    assert bad.status_code == 400 and bad.json()["field"] == "status"
    assert [c["email"] for c in by_filters.json()["results"]] == ["jane.doe@acme.test"]
    assert other_verdict["results"] == []
    assert exported.headers["content-disposition"] == f'attachment; filename="list-{list_id}.csv"'
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["id"], r["email"], r["status"], r["verdict"]) for r in rows] == [
        (str(jane["id"]), "jane.doe@acme.test", "WON", "deliverable")]
    assert bad_name.status_code == 400 and bad_name.json()["field"] == "name"
    assert deleted.status_code == 204 and gone.json() == {"code": 404, "error": "No such list."}
    assert lists == []


def test_account_and_credit_usage_count_what_was_charged_today(api_server: ApiServer) -> None:
    tenant = api_server.tenant(search=5, verify=5)
    with api_server.native(tenant) as client:
        client.post("/v1/verify", json={"email": "jane.doe@acme.test", "wait": 60})
        account = client.get("/v1/account").json()
        usage = client.get("/v1/credits/usage", params={"days": 7}).json()["days"]
        too_long = client.get("/v1/credits/usage", params={"days": 400})
    assert account["credits"]["verify"] == {"remaining": 4, "total": 5, "used": 1}
    assert account["user"]["email"] == tenant.email and account["user"]["admin"] is True
    assert len(usage) == 7 and usage[-1]["verify"] == 1 and usage[-1]["search"] == 0
    assert sum(day["verify"] for day in usage[:-1]) == 0  # the opening grant is not use
    assert too_long.status_code == 400 and too_long.json()["field"] == "days"


def test_an_admin_manages_keys_and_a_member_may_not(api_server: ApiServer, tenant: Tenant) -> None:
    async def member(db: store.Database) -> str:
        user = await store.create_user(db, tenant.org_id, "member@org.test", name="Member", admin=False)
        return await store.create_key(db, tenant.org_id, user.id)

    member_key = api_server.call(member)
    with api_server.native(tenant) as client:
        made = client.post("/v1/keys")
        listed = client.get("/v1/keys").json()["results"]
        own = client.delete(f"/v1/keys/{store.key_prefix(tenant.key)}")
        revoked = client.delete(f"/v1/keys/{made.json()['prefix']}")
        again = client.delete(f"/v1/keys/{made.json()['prefix']}")
    assert made.status_code == 201 and made.json()["key"].startswith(made.json()["prefix"])
    assert [(k["prefix"], k["current"]) for k in listed if not k["revoked"]] == [
        (store.key_prefix(tenant.key), True), (store.key_prefix(member_key), False), (made.json()["prefix"], False)]
    assert own.status_code == 400 and "signed in with" in own.json()["error"]
    assert revoked.status_code == 204 and again.status_code == 404
    with api_server.client(headers={"Authorization": f"Bearer {made.json()['key']}"}) as client:
        assert client.get("/v1/account").status_code == 401
    with api_server.client(headers={"Authorization": f"Bearer {member_key}"}) as client:
        refused = client.post("/v1/keys")
    assert refused.status_code == 403
    message = "Only an administrator of the organisation can manage its API keys."
    assert refused.json() == {"code": 403, "error": message}
