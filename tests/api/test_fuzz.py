"""Schemathesis over `/openapi.json` of a real server: no request may get a 5xx, in any dialect.

Every operation is fuzzed with a valid key placed where its dialect carries it (HTTP Basic for
VoilaNorbert, X-LG-API-KEY for LeadGenius, Authorization for Kaspr, X-API-KEY for the native API),
with a fixed seed (derandomised) and a bounded number of examples so CI stays within minutes. The
server gets generous rate limits, so the fuzzer reaches the handlers instead of the 429s.
"""

from __future__ import annotations

import base64
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from mailsleuth.config import Settings
from tests.api.conftest import ApiServer, Tenant, serving

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))  # per operation; CI's default keeps the run near 30 s
SCOPES = ("vn", "vn:search/name", "vn:search/domain", "vn:massives", "lg", "lg:submit", "lg:bulk/objects", "lg:bulk/status",
          "kaspr", "native", "hunter", "hunter:email-verifier", "reacher")  # every dialect's quota scope
TALLY: Counter[str] = Counter()


@pytest.fixture(scope="module")
def fuzz_server(world_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    path = Path(tmp_path_factory.mktemp("fuzz")) / "fuzz.db"
    settings = world_settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{path}",
        "rate_limits": {scope: "100000/minute" for scope in SCOPES},
    })
    with serving(settings) as server:
        yield server
    print(f"\nfuzzed {TALLY['requests']} requests, {TALLY['5xx']} answered 5xx")


@pytest.fixture(scope="module")
def fuzz_tenant(fuzz_server: ApiServer) -> Tenant:
    return fuzz_server.tenant(search=1000, verify=1000)


@pytest.fixture(scope="module")
def api_schema(fuzz_server: ApiServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


def auth_headers(path: str, key: str) -> dict[str, str]:
    """The key where the path's dialect carries it (api/auth.py: presented_key)."""
    if path.startswith("/2018-01-08/"):
        return {"Authorization": "Basic " + base64.b64encode(f"fuzz:{key}".encode()).decode()}
    if path.startswith(("/emailguess/", "/v1/emailguess/")):
        return {"X-LG-API-KEY": key}
    if path.startswith("/v1/"):
        return {"X-API-KEY": key}
    return {"Authorization": key}


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, fuzz_server: ApiServer, fuzz_tenant: Tenant) -> None:
    headers = {**(case.headers or {}), **auth_headers(case.path, fuzz_tenant.key)}
    response = case.call(base_url=fuzz_server.url, headers=headers, timeout=30)
    TALLY["requests"] += 1
    if response.status_code >= 500:
        TALLY["5xx"] += 1
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
