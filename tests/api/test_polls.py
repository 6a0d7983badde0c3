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
from mailsleuth.service.errors import NotFound, Unauthorized
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


class CountingGuard:
    """Admits the organisation named in the `org` header, refuses a missing one, counts the checks."""

    dialect = NATIVE

    def __init__(self) -> None:
        self.checks = 0

    async def check(self, request: Request) -> Any:
        self.checks += 1
        report_rate(request, NATIVE, RateDecision(True, 100, 100 - self.checks, 2_000_000_000.0))
        if "org" not in request.headers:
            raise Unauthorized("Who are you?")
        return store.Principal(int(request.headers["org"]), 1, 1, "a@b.test", "A", "org", True)

    def __call__(self, request: Request, key: str | None = None) -> Any:
        return self.check(request)


class Remembering:
    """A polled endpoint whose answer is the call count, behind a database counter set by hand."""

    def __init__(self, stored_only: bool) -> None:
        self.calls = 0
        self.version: int | None = 1
        self.guard = CountingGuard()
        routes = {"/items/": Poll("/items/", "item_id", parse_id, self.guard, self.item, stored_only)}  # type: ignore[arg-type]
        app = PollRoutes(downstream, routes, version=lambda: self.version)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    async def item(self, item_id: int, request: Request, principal: store.Principal) -> Response:
        self.calls += 1
        if item_id == 404:
            raise NotFound("No such item.")
        return FastJSON({"id": item_id, "org": principal.org_id, "call": self.calls})


async def test_a_stored_only_answer_is_remembered_until_the_database_changes() -> None:
    poll = Remembering(stored_only=True)
    async with poll.client as client:
        first = await client.get("/items/12", headers={"org": "7"})
        second = await client.get("/items/12", headers={"org": "7"})
        other_org = await client.get("/items/12", headers={"org": "8"})
        missing = [await client.get("/items/404", headers={"org": "7"}) for _ in range(2)]
        poll.version = 2  # something was committed
        after = await client.get("/items/12", headers={"org": "7"})
        poll.version = None  # a database without a change counter: every poll asks the endpoint
        uncounted = [(await client.get("/items/12", headers={"org": "7"})).json()["call"] for _ in range(2)]
    assert first.json() == second.json() == {"id": 12, "org": 7, "call": 1}
    assert other_org.json() == {"id": 12, "org": 8, "call": 2}  # answers are per organisation
    assert [m.status_code for m in missing] == [404, 404] and missing[1].json() == {"code": 404, "error": "No such item."}
    assert after.json() == {"id": 12, "org": 7, "call": 4}
    assert uncounted == [5, 6]
    assert poll.calls == 6
    # the guard ran on every request, and each answer carries its own quota headers
    assert poll.guard.checks == 8
    assert [first.headers["x-ratelimit-remaining"], second.headers["x-ratelimit-remaining"]] == ["99", "98"]
    assert first.headers["content-length"] == str(len(first.content))


async def test_a_remembered_answer_never_skips_the_guard() -> None:
    poll = Remembering(stored_only=True)
    async with poll.client as client:
        admitted = await client.get("/items/12", headers={"org": "7"})
        refused = await client.get("/items/12")
    assert admitted.status_code == 200
    assert (refused.status_code, refused.json()) == (401, {"code": 401, "error": "Who are you?"})
    assert refused.headers["x-ratelimit-remaining"] == "98"
    assert poll.calls == 1


async def test_an_answer_that_is_not_stored_only_is_asked_every_time() -> None:
    poll = Remembering(stored_only=False)
    async with poll.client as client:
        calls = [(await client.get("/items/12", headers={"org": "7"})).json()["call"] for _ in range(3)]
    assert calls == [1, 2, 3]


def test_a_leadgenius_status_poll_sees_the_job_end(api_server: ApiServer, tenant: Tenant) -> None:
    contact = api_server.call(store.create_contact, tenant.org_id, name="Alan Turing", owner_id=tenant.user_id,
                              domain="bletchley.test", searching=True)
    job = api_server.call(store.create_search, tenant.org_id, contact_id=contact.id, kind="search")
    with api_server.client(headers={"X-LG-API-KEY": tenant.key}) as client:
        running = [client.get(f"/emailguess/v1/job/status/{job.id}") for _ in range(3)]
        # another connection (as the worker process would) ends the search
        api_server.call(store.complete_search, tenant.org_id, job.id, email="alan@bletchley.test", score=100,
                        verdict="deliverable", result={"verdict": "deliverable", "reason": "accepted"})
        ended = client.get(f"/emailguess/v1/job/status/{job.id}")
    assert [(r.status_code, r.json()) for r in running] == [(202, {"status": 202})] * 3
    assert (ended.status_code, ended.json()) == (200, {"status": 200, "result": "alan@bletchley.test"})


async def test_an_unexpected_error_gets_the_dialects_500_and_is_not_remembered() -> None:
    failures = [RuntimeError("boom")]

    async def flaky(item_id: int, request: Request, principal: store.Principal) -> Response:
        if failures:
            raise failures.pop()
        return FastJSON({"id": item_id})

    routes = {"/items/": Poll("/items/", "item_id", parse_id, FakeGuard(), flaky, stored_only=True)}  # type: ignore[arg-type]
    app = PollRoutes(downstream, routes, version=lambda: 1)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        failed = await client.get("/items/3")
        then = await client.get("/items/3")
    assert (failed.status_code, failed.json()) == (500, {"code": 500, "error": "Internal server error."})
    assert (then.status_code, then.json()) == (200, {"id": 3})
