"""VoilaNorbert verifier and enrich uploads over real HTTP against the mail world."""

from __future__ import annotations

from mailsleuth import store
from tests.api.bulkworld import (
    VN,
    company,
    rich_tenant,
    rows_of,
    vn_client,
    wait_status,
)
from tests.api.conftest import ApiServer, wait_until
from tests.api.receiver import WebhookReceiver
from tests.mailworld.world import MailWorld

UPLOAD_ANSWER_KEYS = {"success", "status", "token", "channel"}
VERIFY_KEYS = {
    "account", "bounces", "created", "deliverables", "email", "ended", "enrich", "enrich_token", "entries",
    "filename", "id", "is_loaded", "name", "paid", "path", "price", "refunded", "risky", "started", "status",
    "stripe_id", "token", "treated", "type",
}
ENRICH_KEYS = {
    "account", "created", "email", "ended", "entries", "filename", "id", "is_loaded", "paid", "path", "price",
    "refunded", "started", "status", "stripe_id", "success", "token", "treated", "type",
}
VERIFY_COLUMNS = ["email", "is_deliverable", "is_risky", "is_bounce", "error_msg", "verdict", "score", "catch_all",
                  "reason", "smtp_code"]


def truthy(cell: str) -> bool:
    return cell.strip().lower() in ("true", "1", "yes")


def test_verifier_upload_status_and_download(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server, verify=10)
    data = "jane.doe@acme.test\njohn.smith@acme.test,nobody@acme.test\n=cmd@acme.test\njane.doe@catchall.test"
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        answer = client.post(f"{VN}/verifier/upload", data={"data": data, "webhook": receiver.url})
        assert answer.status_code == 200, answer.text
        started = answer.json()
        assert set(started) == UPLOAD_ANSWER_KEYS
        assert started["success"] is True and started["status"] == "Processing ..."

        job = wait_status(client, f"{VN}/verifier/{started['token']}")
        assert set(job) == VERIFY_KEYS
        assert job["token"] == started["token"] and job["type"] == "API" and job["entries"] == job["treated"] == 5
        assert (job["deliverables"], job["bounces"], job["risky"]) == (2, 2, 1)
        assert job["path"].startswith("verify/") and job["path"].endswith(f"/{started['token']}/upload.txt")

        download = client.get(f"{VN}/verifier/{started['token']}/download")
        assert download.status_code == 200
        assert download.headers["content-type"].startswith("application/csv")
        rows = {row["email"]: row for row in rows_of(download.text)}
        assert VERIFY_COLUMNS == [c for c in rows_of(download.text)[0] if c in VERIFY_COLUMNS]
        assert set(rows) == {"jane.doe@acme.test", "john.smith@acme.test", "nobody@acme.test", "'=cmd@acme.test",
                             "jane.doe@catchall.test"}  # the formula cell is neutralised
        assert truthy(rows["jane.doe@acme.test"]["is_deliverable"]) and rows["jane.doe@acme.test"]["verdict"] == "deliverable"
        assert truthy(rows["nobody@acme.test"]["is_bounce"]) and rows["nobody@acme.test"]["smtp_code"] == "550"
        catch_all = rows["jane.doe@catchall.test"]
        assert truthy(catch_all["is_risky"]) and truthy(catch_all["catch_all"]) and catch_all["verdict"] == "risky"
        assert api_server.call(store.balance, tenant.org_id, "verify") == 5
        wait_until(lambda: receiver.deliveries)


def test_verifier_file_upload_finds_the_address_column(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    csv_file = b"Name,Work E-mail,Notes\nJane,jane.doe@acme.test,x\nJohn,john.smith@acme.test,y\n"
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        hook = {"webhook": receiver.url}
        started = client.post(f"{VN}/verifier/upload", data=hook,
                              files={"file": ("leads.csv", csv_file, "text/csv")}).json()
        job = wait_status(client, f"{VN}/verifier/{started['token']}")
        assert job["entries"] == 2 and job["deliverables"] == 2 and job["filename"] == "upload.csv"
        as_text = client.post(f"{VN}/verifier/upload",
                              data={**hook, "file": "who,contact\nJane,jane.doe@acme.test\n"}).json()
        assert wait_status(client, f"{VN}/verifier/{as_text['token']}")["entries"] == 1


def test_verifier_pause_and_resume(api_server: ApiServer, mail_world: MailWorld) -> None:
    slow = company(mail_world, 150, latency=0.01)
    tenant = rich_tenant(api_server)
    data = "\n".join(slow.address(f, l) for f, l in slow.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        token = client.post(f"{VN}/verifier/upload", data={"data": data, "webhook": receiver.url}).json()["token"]
        paused = client.put(f"{VN}/verifier/{token}/pause").json()
        assert set(paused) == VERIFY_KEYS and paused["status"] == "PAUSED"
        resumed = client.put(f"{VN}/verifier/{token}/resume").json()
        assert resumed["status"] in ("PROCESSING", "ENDED")
        job = wait_status(client, f"{VN}/verifier/{token}")
        assert job["treated"] == 150 and job["deliverables"] == len(slow.known) and job["bounces"] == 150 - len(slow.known)
        assert len(rows_of(client.get(f"{VN}/verifier/{token}/download").text)) == 150


def test_verifier_and_enrich_need_their_balance(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server, verify=0, enrich=0)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        for prefix in ("verifier", "enrich"):
            answer = client.post(f"{VN}/{prefix}/upload", data={"data": "jane.doe@acme.test", "webhook": receiver.url})
            assert answer.status_code == 402
            assert answer.json()["code"] == "402" and "credits left" in answer.json()["error"]
            assert client.get(f"{VN}/{prefix}/nothing").status_code == 404


def test_enrich_lifecycle(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server, enrich=5)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as client:
        started = client.post(f"{VN}/enrich/upload",
                              data={"data": "jane.doe@acme.test\nnobody@acme.test", "webhook": receiver.url})
        assert started.status_code == 200 and set(started.json()) == UPLOAD_ANSWER_KEYS
        token = started.json()["token"]
        job = wait_status(client, f"{VN}/enrich/{token}")
        assert set(job) == ENRICH_KEYS and job["entries"] == job["treated"] == 2
        assert job["path"].startswith("enrich/")
        for action in ("pause", "resume"):  # an ended request stays ended
            assert client.put(f"{VN}/enrich/{token}/{action}").json()["status"] == "ENDED"
        download = client.get(f"{VN}/enrich/{token}/download")
        assert download.headers["content-type"].startswith("application/csv")
        rows = {row["email"]: row for row in rows_of(download.text)}
        assert set(rows) == {"jane.doe@acme.test", "nobody@acme.test"}
        assert {"first_name", "last_name", "company_domain", "verdict"} <= set(rows["jane.doe@acme.test"])
        assert rows["jane.doe@acme.test"]["verdict"] == "deliverable"
    assert api_server.call(store.balance, tenant.org_id, "enrich") == 3
