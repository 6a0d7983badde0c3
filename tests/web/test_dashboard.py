"""The dashboard as a browser gets it: pages and assets over real HTTP, and its script checked against
the app it talks to (the routes it calls exist, the ids it looks up are on the page)."""

from __future__ import annotations

import base64
import re
from importlib import resources

import httpx
import pytest
from fastapi import FastAPI
from selectolax.lexbor import LexborHTMLParser as HTMLParser
from starlette.routing import Match

from mailsleuth.config import Settings
from tests.api.conftest import ApiServer
from tests.web.conftest import dashboard_app

STATIC = resources.files("mailsleuth.web") / "static"
INDEX = (STATIC / "index.html").read_text()
SCRIPT = (STATIC / "app.js").read_text()

# `api("GET", "/v1/jobs/{id}", ...)`: the script's one way of calling the server.
API_CALL = re.compile(r'(?<![\w.])api\(\s*"([A-Z]+)",\s*"([^"]+)"')
ANY_API_CALL = re.compile(r"(?<![\w.])(?<!function )api\(")


def test_script_calls_go_through_one_fetch() -> None:
    """Every request is `api(METHOD, "literal template")`, so the route test below sees them all."""
    assert len(re.findall(r"\bfetch\(", SCRIPT)) == 1
    calls = API_CALL.findall(SCRIPT)
    assert calls and len(calls) == len(ANY_API_CALL.findall(SCRIPT))


def _routed(app: FastAPI, method: str, template: str) -> bool:
    """Whether the app routes this call (method included) to an endpoint; `{id}` stands for `1`."""
    path = re.sub(r"\{[^}]*\}", "1", template)
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
    return any(route.matches(scope)[0] is Match.FULL for route in app.router.routes)


def test_script_calls_only_routes_that_exist(dashboard_settings: Settings) -> None:
    app = dashboard_app(dashboard_settings)
    called = set(API_CALL.findall(SCRIPT))
    assert [call for call in sorted(called) if not _routed(app, *call)] == []
    assert not _routed(app, "GET", "/v1/jobs/{id}/pause")  # the check can fail
    # the dashboard's sections, so a rewrite that drops one does not pass unnoticed
    assert {("POST", "/v1/find"), ("POST", "/v1/verify"), ("GET", "/v1/contacts"), ("GET", "/v1/jobs"),
            ("POST", "/v1/jobs/{id}/cancel"), ("GET", "/v1/webhooks/deliveries"), ("POST", "/v1/jobs"),
            ("POST", "/v1/domain-search"), ("POST", "/v1/lists"), ("PATCH", "/v1/lists/{id}"),
            ("DELETE", "/v1/lists/{id}"), ("GET", "/v1/lists/{id}/export"), ("PATCH", "/v1/contacts/{id}"),
            ("GET", "/v1/credits/usage"), ("POST", "/v1/keys"), ("DELETE", "/v1/keys/{prefix}")} <= called


def test_script_looks_up_only_ids_on_the_page() -> None:
    page_ids = {node.attributes["id"] for node in HTMLParser(INDEX).css("[id]")}
    wanted = set(re.findall(r'\b(?:byId|showError|attempt)\("([^"]+)"', SCRIPT))
    assert wanted and wanted - page_ids == set()


def test_page_needs_no_inline_code_and_labels_every_field() -> None:
    """The CSP forbids inline script and style: anything inline would silently not work."""
    tree = HTMLParser(INDEX)
    assert all(node.attributes.get("src") for node in tree.css("script"))
    assert not tree.css("style, [style]")
    assert not [name for node in tree.css("*") for name in node.attributes if name.lower().startswith("on")]
    labelled = {node.attributes["for"] for node in tree.css("label[for]")}
    fields = tree.css("input, textarea, select")
    assert fields and all(node.attributes["id"] in labelled or "aria-label" in node.attributes for node in fields)


def _assert_security_headers(headers: httpx.Headers) -> None:
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/", "/dashboard"])
def test_page_is_served_with_security_headers(dashboard_server: ApiServer, path: str) -> None:
    with dashboard_server.client() as client:
        r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    _assert_security_headers(r.headers)
    assert r.text == INDEX


def test_assets_the_page_loads_are_served_with_their_types(dashboard_server: ApiServer) -> None:
    tree = HTMLParser(INDEX)
    links = [node.attributes["src"] or "" for node in tree.css("script[src]")]
    links += [node.attributes["href"] or "" for node in tree.css("link[href]:not([href^='data:'])")]
    expected = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    assert sorted(link[link.rfind("."):] for link in links) == [".css", ".js"]
    with dashboard_server.client() as client:
        for link in links:
            r = client.get(link)
            assert r.status_code == 200 and r.headers["content-type"] == expected[link[link.rfind("."):]]
            _assert_security_headers(r.headers)
            assert r.text == (STATIC / link.rsplit("/", 1)[1]).read_text()
        assert client.get("/dashboard/index.html").status_code == 404  # only the fixed table is served


def _auth(path: str, key: str) -> dict[str, str]:
    """The header app.js sends: HTTP Basic for the VoilaNorbert routes, a Bearer token for the rest."""
    if path.startswith("/2018-01-08/"):
        return {"Authorization": "Basic " + base64.b64encode(f":{key}".encode()).decode()}
    return {"Authorization": f"Bearer {key}"}


def test_script_authenticates_the_way_each_route_expects(dashboard_server: ApiServer) -> None:
    """The calls the page makes on load answer 200 with a good key and 401 with an `error` text."""
    tenant = dashboard_server.tenant(search=7, verify=3)
    loads = [path for method, path in API_CALL.findall(SCRIPT) if method == "GET" and "{" not in path]
    assert "/v1/account" in loads
    with dashboard_server.client() as client:
        for path in loads:
            good = client.get(path, headers=_auth(path, tenant.key))
            bad = client.get(path, headers=_auth(path, tenant.key + "x"))
            assert good.status_code == 200, (path, good.text)
            assert bad.status_code == 401 and bad.json()["error"]
        account = client.get("/v1/account", headers=_auth("/v1/", tenant.key)).json()
    # the fields the credits panel reads
    assert account["user"] == {"id": tenant.user_id, "name": account["user"]["name"], "email": tenant.email,
                               "admin": True}
    assert account["credits"]["search"] == {"remaining": 7, "total": 7, "used": 0}
    assert account["credits"]["verify"] == {"remaining": 3, "total": 3, "used": 0}
