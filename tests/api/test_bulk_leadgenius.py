"""LeadGenius bulk EmailGuess over real HTTP: 202 with both ids, one webhook per match, both status paths,
and the 5,000-objects-per-hour limit counted on objects."""

from __future__ import annotations

import json

import httpx

from mailsleuth import store
from mailsleuth.jobs import bulk
from tests.api.bulkworld import rich_tenant
from tests.api.conftest import ApiServer, Tenant, wait_until
from tests.api.receiver import WebhookReceiver

SUBMIT = "/emailguess/v1/bulk/job"
PEOPLE = [
    {"first": "jane", "middle": "", "last": "doe", "domain": "acme.test"},
    {"first": "John", "middle": "", "last": "Smith", "domain": "acme.test"},
    {"first": "Nobody", "middle": "", "last": "Here", "domain": "acme.test"},
]


def lg(api_server: ApiServer, key: str) -> httpx.Client:
    return api_server.client(headers={"X-LG-API-KEY": key})


def submit(client: httpx.Client, body: dict) -> httpx.Response:
    # The vendor's example: requests.post(..., data=json.dumps(...)) with no content type.
    return client.post(SUBMIT, content=json.dumps(body))


def test_bulk_job_webhooks_and_both_status_paths(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    with WebhookReceiver() as receiver, lg(api_server, tenant.key) as client:
        answer = submit(client, {"data": PEOPLE, "options": {"use_smtp_sniff": True}, "webhook_url": receiver.url})
        assert answer.status_code == 202
        body = answer.json()
        assert body["status"] == 202 and body["job_id"] == body["id"] and isinstance(body["id"], int)
        assert answer.headers["X-RateLimit-Remaining"] == str(5000 - 3)

        wait_until(lambda: len(receiver.deliveries) >= 2)
        hooks = sorted((d.json() for d in receiver.deliveries), key=lambda h: h["result"]["email"])
        assert [h["result"]["email"] for h in hooks] == ["jane.doe@acme.test", "john.smith@acme.test"]
        for hook in hooks:
            bulk_id, sub, email = hook["webhook_id"].split(";")
            assert hook["status"] == 200 and int(bulk_id) == body["id"] and email == hook["result"]["email"]
            assert set(hook["result"]) == {"bulk_id", "domain", "first", "jobid", "last", "middle", "email"}
            assert int(sub) == hook["result"]["jobid"]

        def status(path: str, key: str) -> httpx.Response:
            with lg(api_server, key) as other:
                return other.get(f"{path}/{body['id']}")

        wait_until(lambda: api_server.call(_ended, tenant, body["id"]))
        first = status("/v1/emailguess/bulk/job/status", tenant.key)
        assert first.status_code == 200
        assert first.json() == {
            "status": 200,
            "results": {
                "results": [
                    {"first": "jane", "middle": "", "last": "doe", "email": "jane.doe@acme.test"},
                    {"first": "John", "middle": "", "last": "Smith", "email": "john.smith@acme.test"},
                ],
                "failed": 1,
                "total": 3,
                "completed": True,
            },
        }
        # 1 status call per minute per key: the second spelling is asked with a second key.
        second_key = api_server.call(store.create_key, tenant.org_id, tenant.user_id)
        assert status("/emailguess/v1/bulk/job/status", second_key).json() == first.json()
        limited = status("/emailguess/v1/bulk/job/status", tenant.key)
        assert limited.status_code == 403 and limited.json()["status"] == 403 and limited.json()["error"]


async def _ended(db: store.Database, tenant: Tenant, job_id: int) -> bool:
    job = await bulk.get_job(db, tenant.org_id, job_id=job_id)
    return job is not None and job.status.value == "ENDED"


def test_objects_limit_counts_objects_and_refuses_whole_batches(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    person = {"first": "Jane", "middle": "", "last": "Doe", "domain": "acme.test"}
    with lg(api_server, tenant.key) as client:
        too_many = submit(client, {"data": [person] * 6000})
        assert too_many.status_code == 403
        assert too_many.json()["status"] == 403 and "6000" in too_many.json()["error"]
        assert 1 <= int(too_many.headers["Retry-After"]) <= 3600
        small = submit(client, {"data": [person] * 3})
        assert small.status_code == 202 and small.headers["X-RateLimit-Remaining"] == "4997"
        over = submit(client, {"data": [person] * 4998})
        assert over.status_code == 403 and over.headers["X-RateLimit-Remaining"] == "4997"
        assert submit(client, {"data": [person] * 2}).headers["X-RateLimit-Remaining"] == "4995"


def test_bulk_errors_in_the_vendor_shape(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    with lg(api_server, tenant.key) as client:
        missing = submit(client, {"data": [{"first": "Jane", "last": "Doe"}]})
        assert missing.status_code == 400 and missing.json() == {"status": 400, "error": "data[0]: Domain is required"}
        empty = submit(client, {"data": []})
        assert empty.status_code == 400 and empty.json()["status"] == 400
    with lg(api_server, "wrong") as client:
        denied = submit(client, {"data": PEOPLE})
        assert denied.status_code == 403 and denied.json()["status"] == 403
        assert client.get("/v1/emailguess/bulk/job/status/1").status_code == 403


def test_a_catch_all_guess_is_no_bulk_match_unless_asked_for(api_server: ApiServer) -> None:
    tenant = rich_tenant(api_server)
    people = [{"first": "jane", "middle": "", "last": "doe", "domain": "catchall.test"},
              {"first": "John", "middle": "", "last": "Smith", "domain": "acme.test"}]
    with WebhookReceiver() as receiver, lg(api_server, tenant.key) as client:
        plain = submit(client, {"data": people, "options": {"use_smtp_sniff": True}, "webhook_url": receiver.url})
        wait_until(lambda: api_server.call(_ended, tenant, plain.json()["id"]))
        asked = submit(client, {"data": people, "options": {"use_smtp_sniff": True, "use_catch_all": True},
                                "webhook_url": receiver.url})
        wait_until(lambda: api_server.call(_ended, tenant, asked.json()["id"]))
        wait_until(lambda: len(receiver.deliveries) >= 3)
    by_job: dict[int, list[str]] = {}
    for delivery in receiver.deliveries:
        hook = delivery.json()["result"]
        by_job.setdefault(hook["bulk_id"], []).append(hook["email"])
    assert by_job[plain.json()["id"]] == ["john.smith@acme.test"]  # no webhook for the catch-all guess
    assert sorted(by_job[asked.json()["id"]]) == ["jane.doe@catchall.test", "john.smith@acme.test"]
