"""Native job management (`/v1/jobs`) and webhook delivery history over real HTTP."""

from __future__ import annotations

import httpx

from tests.api.bulkworld import (
    VN,
    age_retention,
    company,
    rich_tenant,
    rows_of,
    vn_client,
)
from tests.api.conftest import ApiServer, Tenant, wait_until
from tests.api.receiver import WebhookReceiver
from tests.mailworld.world import MailWorld


def native(api_server: ApiServer, tenant: Tenant) -> httpx.Client:
    return api_server.client(headers={"Authorization": f"Bearer {tenant.key}"})


def wait_job(client: httpx.Client, job_id: int, status: str = "ENDED") -> dict:
    return wait_until(lambda: (job := client.get(f"/v1/jobs/{job_id}").json())["status"] == status and job)


def test_jobs_list_show_download_and_delivery_history(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    with WebhookReceiver(fail_first=1) as receiver:
        with vn_client(api_server, tenant) as vn:
            token = vn.post(f"{VN}/verifier/upload",
                            data={"data": "jane.doe@acme.test\nnobody@acme.test", "webhook": receiver.url}).json()["token"]
        with native(api_server, tenant) as client:
            listed = client.get("/v1/jobs").json()["results"]
            assert [job["token"] for job in listed] == [token] and listed[0]["kind"] == "verify"
            job = wait_job(client, listed[0]["id"])
            assert job["quantity"] == job["treated"] == 2 and job["progress"] == 1.0
            assert job["verdicts"] == {"deliverable": 1, "risky": 0, "undeliverable": 1}
            assert client.get("/v1/jobs", params={"kind": "massive"}).json()["results"] == []

            results = client.get(f"/v1/jobs/{job['id']}/results")
            assert results.status_code == 200 and results.headers["content-type"].startswith("application/csv")
            assert sorted(r["email"] for r in rows_of(results.text)) == ["jane.doe@acme.test", "nobody@acme.test"]

            # The receiver refused the first try; the history shows both.
            wait_until(lambda: len(receiver.deliveries) == 2)
            history = wait_until(lambda: (d := client.get("/v1/webhooks/deliveries").json()["results"])
                                 and d[0]["delivered"] and d)
            assert len(history) == 1 and history[0]["job_id"] == job["id"] and history[0]["target"] == receiver.url
            assert history[0]["attempts"] == 2 and [h["status"] for h in history[0]["history"]] == [500, 200]
            assert client.get("/v1/webhooks/deliveries", params={"job_id": job["id"] + 10_000}).json()["results"] == []

            age_retention(api_server, job["id"])
            assert client.get(f"/v1/jobs/{job['id']}/results").status_code == 410
            assert client.get(f"/v1/jobs/{job['id']}").json()["result_available"] is False
            assert client.delete(f"/v1/jobs/{job['id']}").status_code == 204
            assert client.get(f"/v1/jobs/{job['id']}").status_code == 404


def test_pause_resume_and_cancel(api_server: ApiServer, mail_world: MailWorld) -> None:
    slow = company(mail_world, 120, latency=0.01)
    tenant = rich_tenant(api_server)
    data = "\n".join(slow.address(f, l) for f, l in slow.people)
    with WebhookReceiver() as receiver, vn_client(api_server, tenant) as vn:
        first = vn.post(f"{VN}/verifier/upload", data={"data": data, "webhook": receiver.url}).json()["token"]
        second = vn.post(f"{VN}/verifier/upload", data={"data": data, "webhook": receiver.url}).json()["token"]
    with native(api_server, tenant) as client:
        ids = {job["token"]: job["id"] for job in client.get("/v1/jobs").json()["results"]}
        assert client.post(f"/v1/jobs/{ids[first]}/pause").json()["status"] == "PAUSED"
        cancelled = client.post(f"/v1/jobs/{ids[second]}/cancel").json()
        assert cancelled["status"] == "CANCELLED"
        assert client.post(f"/v1/jobs/{ids[second]}/resume").json()["status"] == "CANCELLED"  # for good
        assert client.post(f"/v1/jobs/{ids[first]}/resume").json()["status"] in ("PROCESSING", "ENDED")
        assert wait_job(client, ids[first])["treated"] == 120
        assert client.get(f"/v1/jobs/{ids[second]}").json()["treated"] < 120
