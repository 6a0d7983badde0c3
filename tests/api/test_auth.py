"""Where each dialect's clients put the key, and how the rate-limit headers are reported."""

from __future__ import annotations

import base64

import pytest
from starlette.requests import Request

from mailsleuth.api.auth import presented_key, rate_headers
from mailsleuth.api.errors import Dialect
from mailsleuth.api.ratelimit import RateDecision


def request(**headers: str) -> Request:
    raw = [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]
    return Request({"type": "http", "method": "GET", "path": "/", "headers": raw})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("dialect", "headers", "key"),
    [
        (Dialect.VOILANORBERT, {"authorization": basic("any_string", "k1")}, "k1"),
        (Dialect.VOILANORBERT, {"authorization": basic("", "k:with:colons")}, "k:with:colons"),
        (Dialect.VOILANORBERT, {"authorization": "Basic !!!"}, None),
        (Dialect.VOILANORBERT, {"authorization": "Bearer k1"}, None),
        (Dialect.VOILANORBERT, {}, None),
        (Dialect.LEADGENIUS, {"x_lg_api_key": "k2"}, "k2"),
        (Dialect.LEADGENIUS, {"authorization": "Bearer k2"}, None),
        (Dialect.KASPR, {"authorization": "Bearer k3"}, "k3"),
        (Dialect.KASPR, {"authorization": "k3"}, "k3"),
        (Dialect.KASPR, {"x_api_key": "k3"}, None),
        (Dialect.NATIVE, {"x_api_key": "k4"}, "k4"),
        (Dialect.NATIVE, {"authorization": "bearer k4"}, "k4"),
    ],
)
def test_presented_key(dialect: Dialect, headers: dict[str, str], key: str | None) -> None:
    assert presented_key(dialect, request(**headers)) == key


def test_rate_headers() -> None:
    decision = RateDecision(True, 120, 7, reset_at=1_000_030.2)
    vn = rate_headers(Dialect.VOILANORBERT, decision, now=1_000_000.0)
    kaspr = rate_headers(Dialect.KASPR, decision, now=1_000_000.0)
    assert vn == {"X-RateLimit-Limit": "120", "X-RateLimit-Remaining": "7", "X-RateLimit-Reset": "1000031"}
    assert kaspr["X-RateLimit-Reset"] == "30200"  # milliseconds until reset
