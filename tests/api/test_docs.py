"""The API documentation works offline and offers an Authorize button for every dialect."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ApiServer

# every URL an HTML page can make the browser fetch: src/href attributes, CSS url(), and bare
# absolute or protocol-relative URLs anywhere (inline scripts)
_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)|((?:https?:)?//[\w.-]+)""")


def references(html: str) -> list[str]:
    return [next(group for group in match if group) for match in _REFERENCES.findall(html)]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_reference_no_other_host_and_their_assets_load(api_server: ApiServer, page: str) -> None:
    with api_server.client() as client:
        html = client.get(page)
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        found = references(html.text)
        assert found, "the page loads its assets from somewhere"
        assert [ref for ref in found if "//" in ref] == []  # no CDN, no fonts host, no remote favicon
        for ref in found:
            asset = client.get(ref)
            assert asset.status_code == 200, ref
            assert len(asset.content) > 1000, ref  # the real bundle or stylesheet, not an empty stub
        assert "/openapi.json" in html.text


def test_openapi_declares_each_dialects_key_on_its_routes(api_server: ApiServer) -> None:
    with api_server.client() as client:
        spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"] == {
        "voilanorbert_key": {"type": "http", "scheme": "basic",
                             "description": "HTTP Basic: any user name, the API key as password."},
        "leadgenius_key": {"type": "apiKey", "in": "header", "name": "X-LG-API-KEY",
                           "description": "The API key in X-LG-API-KEY."},
        "kaspr_key": {"type": "apiKey", "in": "header", "name": "Authorization",
                      "description": "The bare API key, or `Bearer KEY`, in Authorization."},
        "native_key": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                       "description": "The API key in X-API-Key (or `Authorization: Bearer KEY`)."},
        "hunter_key": {"type": "apiKey", "in": "query", "name": "api_key",
                       "description": "The API key as `api_key` (also accepted: X-API-KEY header, `Bearer KEY`)."},
        "reacher_key": {"type": "apiKey", "in": "header", "name": "x-reacher-secret",
                        "description": "The API key in x-reacher-secret."},
    }
    security = {(method, path): op.get("security") for path, ops in spec["paths"].items() for method, op in ops.items()}
    assert security[("post", "/2018-01-08/search/name")] == [{"voilanorbert_key": []}]
    assert security[("post", "/2018-01-08/massives/{massive_id}/pause")] == [{"voilanorbert_key": []}]
    assert security[("post", "/emailguess/v1/submit")] == [{"leadgenius_key": []}]
    assert security[("post", "/profile/profile")] == [{"kaspr_key": []}]
    assert security[("post", "/v1/find")] == [{"native_key": []}]
    # only the massive's result file (the webhook receiver fetches it) and Reacher's version go without a key
    assert [route for route, declared in security.items() if declared is None] == [
        ("get", "/2018-01-08/massives/download/{key}-result.csv"), ("get", "/version")
    ]
    prefixes = {"/2018-01-08/": "voilanorbert_key", "/emailguess/": "leadgenius_key", "/v1/emailguess/": "leadgenius_key",
                "/keys/": "kaspr_key", "/profile/": "kaspr_key", "/company/": "kaspr_key", "/v2/": "hunter_key",
                "/v0/check_email": "reacher_key", "/v1/check_email": "reacher_key", "/v1/bulk": "reacher_key",
                "/version": "reacher_key", "/v1/": "native_key"}
    for (method, path), declared in security.items():
        if declared is None:
            continue
        expected = next(scheme for prefix, scheme in prefixes.items() if path.startswith(prefix))
        assert declared == [{expected: []}], (method, path)
