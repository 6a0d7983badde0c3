"""`GET /v1/contacts/{id}/history` over real HTTP against the mail world: what every route that
changes a contact (or checks its address) leaves in its history, whichever dialect it belongs to."""

from __future__ import annotations

from tests.api.conftest import ApiServer, Tenant, wait_until


def _summary(events: list[dict]) -> list[tuple]:
    """Oldest first, the fields each kind uses."""
    shown = []
    for event in reversed(events):
        kind = event["kind"]
        if kind == "status":
            shown.append((kind, event["status_from"], event["status_to"]))
        elif kind in ("list_added", "list_removed"):
            shown.append((kind, event["list_name"], event["reason"]))
        else:
            shown.append((kind, event["address"], event["verdict"]))
    return shown


def test_every_route_that_changes_a_contact_leaves_its_history(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        jane = client.post("/v1/find", json={"name": "Jane Doe", "domain": "acme.test", "wait": 60}).json()["contact"]
        assert jane["email"] == "jane.doe@acme.test"
        client.post("/v1/verify", json={"email": "Jane.Doe@acme.test", "wait": 60})
        client.patch(f"/v1/contacts/{jane['id']}", json={"status": "CONTACTED"})
        client.patch(f"/v1/contacts/{jane['id']}", json={"status": "CONTACTED"})  # no change, no line
        leads = client.post("/v1/lists", json={"name": "Leads"}).json()
        client.post(f"/v1/lists/{leads['id']}/contacts", json={"ids": [jane["id"]]})
        client.patch(f"/v1/contacts/{jane['id']}", json={"status": "WON"})
    # the vendor dialects: a Hunter email check, VoilaNorbert's "add every match to a list" and list removal
    hunter = api_server.client(params={"api_key": tenant.key})
    with hunter:
        checked = wait_until(lambda: (r := hunter.get("/v2/email-verifier", params={"email": jane["email"]}))
                             .status_code == 200 and r, 60)
    assert checked.json()["data"]["status"] == "valid"
    with api_server.client(auth=("any_string", tenant.key)) as norbert:
        made = norbert.post("/2018-01-08/lists/", json={"name": "From Norbert"}).json()
        added = norbert.post(f"/2018-01-08/lists/{made['id']}", params={"name": "Jane"})
        removed = norbert.delete(f"/2018-01-08/lists/{made['id']}")
    assert added.status_code == 200 and removed.json() == {"result": "success"}

    with api_server.native(tenant) as client:
        answer = client.get(f"/v1/contacts/{jane['id']}/history")
    assert answer.status_code == 200
    body = answer.json()
    assert body["contact_id"] == jane["id"]
    assert _summary(body["results"]) == [
        ("search", "jane.doe@acme.test", "deliverable"),
        ("verification", "jane.doe@acme.test", "deliverable"),
        ("status", "LEAD", "CONTACTED"),
        ("list_added", "Leads", None),
        ("status", "CONTACTED", "WON"),
        ("verification", "jane.doe@acme.test", "deliverable"),
        ("list_added", "From Norbert", None),
        ("list_removed", "From Norbert", "list deleted"),
    ]
    events = body["results"]
    assert [event["at"] for event in events] == sorted((event["at"] for event in events), reverse=True)
    assert {event["by"]["email"] for event in events} == {tenant.email}  # every change was this user's
    assert events[-1]["job_id"] is not None and events[-1]["score"] == 100  # the find: its search and score


def test_a_bulk_verify_file_and_a_bulk_find_leave_history(api_server: ApiServer, tenant: Tenant) -> None:
    with api_server.native(tenant) as client:
        fields = {"kind": "find", "col_name": "0", "col_domain": "1", "filename": "people.csv"}
        found = client.post("/v1/jobs", data=fields, files={"file": ("people.csv", "John Smith,acme.test\n")}).json()
        wait_until(lambda: client.get(f"/v1/jobs/{found['id']}").json()["status"] == "ENDED", 60)
        john = client.get("/v1/contacts", params={"email": "john.smith@acme.test"}).json()["results"][0]
        checked = client.post("/v1/jobs", data={"kind": "verify"},
                              files={"file": ("v.csv", "email\njohn.smith@acme.test\n")}).json()
        wait_until(lambda: client.get(f"/v1/jobs/{checked['id']}").json()["status"] == "ENDED", 60)
        events = client.get(f"/v1/contacts/{john['id']}/history").json()["results"]
    assert [(e["kind"], e["job_id"], e["verdict"], e["list_name"]) for e in reversed(events)] == [
        ("list_added", None, None, "people.csv"),  # a massive files its people in a list named after the file
        ("search", found["id"], "deliverable", None),
        ("verification", checked["id"], "deliverable", None),
    ]


def test_history_of_another_organisations_contact_is_not_found(api_server: ApiServer, tenant: Tenant) -> None:
    other = api_server.tenant()
    with api_server.native(tenant) as client:
        jane = client.post("/v1/find", json={"name": "Jane Doe", "domain": "acme.test", "wait": 60}).json()["contact"]
    with api_server.native(other) as client:
        refused = client.get(f"/v1/contacts/{jane['id']}/history")
        bad = client.get("/v1/contacts/abc/history")
    assert refused.status_code == 404 and refused.json() == {"code": 404, "error": "No such contact."}
    assert bad.status_code == 400
    assert bad.json() == {"code": 400, "error": "Enter a whole number.", "field": "contact_id"}


def test_the_history_is_documented_with_its_model(api_server: ApiServer) -> None:
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/contacts/{contact_id}/history"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/History"}
    event = spec["components"]["schemas"]["HistoryEvent"]
    assert {"kind", "at", "by", "address", "status_from", "status_to", "list_name", "verdict"} <= set(
        event["properties"])
    kinds = spec["components"]["schemas"]["EventKind"]["enum"]
    assert kinds == ["status", "list_added", "list_removed", "search", "verification"]
