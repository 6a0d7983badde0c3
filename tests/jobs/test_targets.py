"""Webhook and file_url syntax checks at request time (where names resolve: tests/engine/test_egress.py)."""

from __future__ import annotations

import pytest

from mailsleuth.engine.egress import UnsafeTarget, check_url


@pytest.mark.parametrize(
    "url",
    [
        "", "ftp://example.com/x", "http://", "http://exa mple.com/", "http://example.com/\r\nX: y",
        "http://user:pw@example.com/", "http://example.com:0/", "http://example.com:99999/", "x" * 3000,
        "http://127.0.0.1/hook", "http://10.1.2.3/", "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/", "http://[::ffff:127.0.0.1]/", "http://192.168.0.10/", "http://[::127.0.0.1]/",
        "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/",
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        check_url(url, allow_private=False)


def test_accepted() -> None:
    assert check_url("https://hooks.example.com/x?y=1", allow_private=False) == "hooks.example.com"
    assert check_url("http://93.184.216.34:8080/", allow_private=False) == "93.184.216.34"
    assert check_url("http://127.0.0.1:9/hook", allow_private=True) == "127.0.0.1"
