"""VoilaNorbert massives over real HTTP against the mail world: create, follow, pause, download, delete."""

from __future__ import annotations

import time

import httpx

from mailsleuth import store
from tests.api.bulkworld import (
    VN,
    age_retention,
    company,
    rich_tenant,
    rows_of,
    vn_client,
    wait_status,
)
from tests.api.conftest import ApiServer, wait_until
from tests.api.receiver import WebhookReceiver
from tests.mailworld.world import MailWorld

MASSIVE_KEYS = {
    "account", "created", "enrich", "enrich_token", "filename", "rerun_frequency", "rerun_lasttime", "webhook",
    "id", "list_id", "quantity", "status", "success", "treated", "updated",
}
LISTED_KEYS = MASSIVE_KEYS - {"rerun_lasttime"} | {"rerun_last_time"}
WEBHOOK_KEYS = {"success", "origin_id", "result_file", "treated", "id", "quantity"}


def test_massive_of_hundreds_of_rows_completes(api_server: ApiServer, mail_world: MailWorld) -> None:
    acme = company(mail_world, 200)
    tenant = rich_tenant(api_server)
    content = "First Name,Last Name,Company Domain\n" + "\n".join(f"{f.title()},{l.title()},{acme.domain}" for f, l in acme.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        answer = client.post(
            f"{VN}/massives/",
            data={"col_name": "0,1", "col_domain": "2", "content": content, "webhook": receiver.url,
                  "webhook_file_retention_time": 3},
        )
        assert answer.status_code == 200, answer.text
        massive = answer.json()
        assert set(massive) == MASSIVE_KEYS
        assert massive["status"] == "QUEUED" and massive["quantity"] == 200 and massive["treated"] == 0
        assert massive["enrich"] is False and massive["enrich_token"] is None and massive["rerun_frequency"] is None
        assert set(massive["account"]) == {"email", "firstname", "name", "plan"}
        assert massive["account"]["email"] == tenant.email and massive["account"]["firstname"] == "User"
        assert massive["created"] > 1_600_000_000_000 and massive["webhook"] == receiver.url

        ended = wait_status(client, f"{VN}/massives/{massive['id']}")
        assert ended["treated"] == 200 and ended["success"] == len(acme.known)
        wait_until(lambda: receiver.deliveries)
        hook = receiver.deliveries[0].json()
        assert set(hook) == WEBHOOK_KEYS
        assert hook["id"] == massive["id"] and hook["quantity"] == hook["treated"] == 200
        assert hook["success"] == len(acme.known) and hook["origin_id"] is None
        assert hook["result_file"].startswith(api_server.url + f"{VN}/massives/download/")

        # The receiver downloads the file with no API key.
        with httpx.Client(trust_env=False) as anonymous:
            download = anonymous.get(hook["result_file"])
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("application/csv")
        rows = rows_of(download.text)
        assert list(rows[0])[:6] == ["First Name", "Last Name", "Company Domain", "email", "score", "status"]
        people = [(r["First Name"].lower(), r["Last Name"].lower()) for r in rows]
        assert people == acme.people  # every row, exactly once, in input order
        for row, person in zip(rows, people):
            assert row["email"] == (acme.address(*person) if person in acme.known else "")
        assert {r["score"] for r in rows if r["email"]} == {"100"}

        # Found addresses are contacts of the massive's list, charged once each.
        assert client.get(f"{VN}/lists/{massive['list_id']}").json()["contacts"] == len(acme.known)
        assert api_server.call(store.balance, tenant.org_id, "search") == 1000 - len(acme.known)

        age_retention(api_server, massive["id"])
        with httpx.Client(trust_env=False) as anonymous:
            gone = anonymous.get(hook["result_file"])
        assert gone.status_code == 410 and gone.json()["code"] == 410


def test_list_retrieve_rerun_and_json_bodies(api_server: ApiServer, mail_world: MailWorld) -> None:
    acme = company(mail_world, 4)
    tenant = rich_tenant(api_server)
    content = "\n".join(f"{f} {l},{acme.domain}" for f, l in acme.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        first = client.post(f"{VN}/massives/", json={"col_name": 0, "col_domain": 1, "content": content,
                                                      "webhook": receiver.url, "rerun_frequency": 720}).json()
        second = client.post(f"{VN}/massives", data={"col_name": "0", "col_company": "1", "content": content,
                                                      "webhook": receiver.url}).json()
        assert first["rerun_frequency"] == 720 and second["quantity"] == 4

        listed = client.get(f"{VN}/massives/", params={"offset": 0, "limit": 100}).json()["result"]
        assert [item["id"] for item in listed] == [second["id"], first["id"]]
        assert all(set(item) == LISTED_KEYS for item in listed)
        assert [i["id"] for i in client.get(f"{VN}/massives/?offset=1&limit=1").json()["result"]] == [first["id"]]

        assert client.get(f"{VN}/massives/{first['id']}").json()["id"] == first["id"]
        missing = client.put(f"{VN}/massives/{first['id']}/rerun", data={})
        assert missing.status_code == 400 and missing.json() == {"rerun_frequency": ["This field is required."]}
        changed = client.put(f"{VN}/massives/{second['id']}/rerun", data={"rerun_frequency": 24}).json()
        assert set(changed) == MASSIVE_KEYS and changed["rerun_frequency"] == 24
        reset = client.delete(f"{VN}/massives/{second['id']}/rerun").json()
        assert reset["rerun_frequency"] is None
        assert client.get(f"{VN}/massives/{second['id']}").json()["rerun_frequency"] is None


def test_pause_stops_claiming_and_resume_finishes(api_server: ApiServer, mail_world: MailWorld) -> None:
    slow = company(mail_world, 250, latency=0.01)
    tenant = rich_tenant(api_server)
    content = "\n".join(f"{f},{l},{slow.domain}" for f, l in slow.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        massive = client.post(f"{VN}/massives/", data={"col_name": "0,1", "col_domain": "2", "content": content,
                                                        "webhook": receiver.url}).json()
        paused = client.put(f"{VN}/massives/{massive['id']}/pause")
        assert paused.status_code == 200 and paused.json()["status"] == "PAUSED"

        def settled() -> tuple[int] | None:
            """Rows in flight when the pause came finish; then nothing moves."""
            before = client.get(f"{VN}/massives/{massive['id']}").json()
            time.sleep(1.0)
            after = client.get(f"{VN}/massives/{massive['id']}").json()
            return (after["treated"],) if after["treated"] == before["treated"] else None

        (treated,) = wait_until(settled, timeout=30)
        assert treated < 250
        assert client.get(f"{VN}/massives/{massive['id']}").json()["status"] == "PAUSED"
        assert not receiver.deliveries

        resumed = client.put(f"{VN}/massives/{massive['id']}/resume").json()
        assert resumed["status"] in ("PROCESSING", "ENDED")
        ended = wait_status(client, f"{VN}/massives/{massive['id']}")
        assert ended["treated"] == 250 and ended["success"] == len(slow.known)
        wait_until(lambda: receiver.deliveries)
        rows = rows_of(httpx.get(receiver.deliveries[0].json()["result_file"], trust_env=False).text)
        assert [(r["column_0"], r["column_1"]) for r in rows] == slow.people  # every row exactly once
        for row in rows:
            person = (row["column_0"], row["column_1"])
            assert row["email"] == (slow.address(*person) if person in slow.known else "")


def test_delete_recursive_removes_list_and_contacts(api_server: ApiServer, mail_world: MailWorld) -> None:
    acme = company(mail_world, 3, missing_every=100)
    tenant = rich_tenant(api_server)
    content = "\n".join(f"{f},{l},{acme.domain}" for f, l in acme.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        kept = client.post(f"{VN}/massives/", data={"col_name": "0,1", "col_domain": "2", "content": content,
                                                     "webhook": receiver.url}).json()
        wait_status(client, f"{VN}/massives/{kept['id']}")
        assert client.delete(f"{VN}/massives/{kept['id']}").json() == {"result": "success"}
        assert client.get(f"{VN}/massives/{kept['id']}").status_code == 400
        kept_list = client.get(f"{VN}/lists/{kept['list_id']}").json()
        assert kept_list["contacts"] == len(acme.known) == 2  # not recursive: the list stays

        gone = client.post(f"{VN}/massives/", data={"col_name": "0,1", "col_domain": "2", "content": content,
                                                     "webhook": receiver.url}).json()
        wait_status(client, f"{VN}/massives/{gone['id']}")
        answer = client.request("DELETE", f"{VN}/massives/{gone['id']}", data={"recursive": "true"})
        assert answer.status_code == 200 and answer.json() == {"result": "success"}
        assert client.get(f"{VN}/lists/{gone['list_id']}").status_code == 404
        contacts = client.get(f"{VN}/contacts/", params={"email": acme.domain}).json()
        assert contacts["total"] == 0


def test_a_deleted_massive_does_not_swallow_the_next_jobs_webhook(api_server: ApiServer, mail_world: MailWorld) -> None:
    """SQLite hands a deleted job's id to the next job; its webhook and charges must still happen."""
    acme = company(mail_world, 2, missing_every=100)
    tenant = rich_tenant(api_server)
    content = "\n".join(f"{f},{l},{acme.domain}" for f, l in acme.people)
    body = {"col_name": "0,1", "col_domain": "2", "content": content}
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        first = client.post(f"{VN}/massives/", data={**body, "webhook": receiver.url}).json()
        wait_status(client, f"{VN}/massives/{first['id']}")
        wait_until(lambda: receiver.deliveries)
        assert client.delete(f"{VN}/massives/{first['id']}").status_code == 200
        with WebhookReceiver() as second_receiver:
            second = client.post(f"{VN}/massives/", data={**body, "webhook": second_receiver.url}).json()
            assert wait_status(client, f"{VN}/massives/{second['id']}")["treated"] == 2
            hook = wait_until(lambda: second_receiver.deliveries)[0].json()
            assert hook["id"] == second["id"] and hook["treated"] == 2
