"""Polled routes answered by `api.polls` in front of FastAPI: the same answers, headers and errors as
their FastAPI routes, and everything unusual left to FastAPI."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from mailsleuth import store
from mailsleuth.api.auth import report_rate
from mailsleuth.api.native.dialect import DIALECT as NATIVE
from mailsleuth.api.params import parse_id
from mailsleuth.api.polls import Poll, PollRoutes
from mailsleuth.api.ratelimit import RateDecision
from mailsleuth.api.responses import FastJSON
from mailsleuth.service.errors import NotFound
from tests.api.conftest import ApiServer, Tenant

BASE = "/2018-01-08"


class FakeGuard:
    """Admits everyone as org 7 and reports a quota, as the real guard does."""

    dialect = NATIVE

    async def check(self, request: Request) -> Any:
        report_rate(request, NATIVE, RateDecision(True, 10, 9, 2_000_000_000.0))
        return store.Principal(7, 1, 1, "a@b.test", "A", "org", True)

    def __call__(self, request: Request, key: str | None = None) -> Any:
        return self.check(request)


async def item(item_id: int, request: Request, principal: store.Principal) -> Response:
    if item_id == 404:
        raise NotFound("No such item.")
    return FastJSON({"id": item_id, "org": principal.org_id})


async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
    """Stands for FastAPI: says which request reached it."""
    await PlainTextResponse(f"fastapi {scope['method']} {scope['path']}")(scope, receive, send)


@pytest.fixture
def client() -> httpx.AsyncClient:
    routes = {"/items/": Poll("/items/", "item_id", parse_id, FakeGuard(), item)}  # type: ignore[arg-type]
    app = PollRoutes(downstream, routes)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_plain_get_of_a_polled_path_is_answered_in_front(client: httpx.AsyncClient) -> None:
    async with client:
        answer = await client.get("/items/12")
        missing = await client.get("/items/404")
    assert (answer.status_code, answer.json()) == (200, {"id": 12, "org": 7})
    assert (answer.headers["x-ratelimit-limit"], answer.headers["x-ratelimit-remaining"]) == ("10", "9")
    assert answer.headers["x-ratelimit-reset"] == "2000000000"
    # the endpoint's errors are the dialect's, with the quota's headers too
    assert (missing.status_code, missing.json()) == (404, {"code": 404, "error": "No such item."})
    assert missing.headers["x-ratelimit-remaining"] == "9"


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/items/abc"), ("GET", "/items/0"), ("GET", "/items/12/"), ("GET", "/items/"), ("HEAD", "/items/12"),
     ("POST", "/items/12"), ("GET", "/items/12/results"), ("GET", "/other/12")],
)
async def test_anything_else_goes_on_to_fastapi(client: httpx.AsyncClient, method: str, path: str) -> None:
    async with client:
        answer = await client.request(method, path)
    assert answer.status_code == 200
    if method != "HEAD":
        assert answer.text == f"fastapi {method} {path}"
    assert "x-ratelimit-limit" not in answer.headers


def test_the_fast_answer_is_the_fastapi_routes_answer(api_server: ApiServer, tenant: Tenant) -> None:
    contact = api_server.call(store.create_contact, tenant.org_id, name="Ada Lovelace", owner_id=tenant.user_id,
                              domain="analytical.test", email="ada@analytical.test", score=100)
    with api_server.client(auth=("any", tenant.key)) as client:
        fast = client.get(f"{BASE}/contacts/{contact.id}")
        routed = client.get(f"{BASE}/contacts/{contact.id}/")  # the twin spelling is FastAPI's
        wrong = client.get(f"{BASE}/contacts/{contact.id}", auth=("any", tenant.key + "x"))
        absent = client.get(f"{BASE}/contacts/{contact.id + 1000}")
    assert fast.status_code == routed.status_code == 200
    assert fast.json() == routed.json()
    assert (fast.json()["id"], fast.json()["email"]["email"], fast.json()["searching"]) == (
        contact.id, "ada@analytical.test", False)
    assert int(fast.headers["X-RateLimit-Remaining"]) == int(routed.headers["X-RateLimit-Remaining"]) + 1
    assert (wrong.status_code, wrong.json()) == (401, {"code": 401, "error": "Account not found."})
    assert (absent.status_code, absent.json()) == (404, {"code": 404, "error": "Page not found."})


def test_a_poll_sees_a_change_written_elsewhere_at_once(api_server: ApiServer, tenant: Tenant) -> None:
    contact = api_server.call(store.create_contact, tenant.org_id, name="Grace Hopper", owner_id=tenant.user_id,
                              domain="navy.test", searching=True)
    with api_server.client(auth=("any", tenant.key)) as client:
        before = [client.get(f"{BASE}/contacts/{contact.id}").json()["searching"] for _ in range(3)]
        # another connection (here: another Database, as a worker process would) writes
        api_server.call(store.update_contact, tenant.org_id, contact.id, searching=False, email="grace@navy.test",
                        score=100)
        after = client.get(f"{BASE}/contacts/{contact.id}").json()
    assert before == [True, True, True]
    assert (after["searching"], after["email"]["email"]) == (False, "grace@navy.test")


def test_openapi_still_documents_the_polled_routes(api_server: ApiServer) -> None:
    with api_server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    for path, scheme in (
        (f"{BASE}/contacts/{{contact_id}}", "voilanorbert_key"),
        ("/emailguess/v1/job/status/{jobid}", "leadgenius_key"),
        ("/emailguess/v1/status/{jobid}", "leadgenius_key"),
        ("/v1/jobs/{job_id}", "native_key"),
    ):
        operation = paths[path]["get"]
        assert operation["security"] == [{scheme: []}], path
        assert [p["name"] for p in operation["parameters"] if p["in"] == "path"] == [path.rsplit("{")[1][:-1]]
