"""The native API's wire conventions: `Authorization: Bearer KEY` or `X-API-Key`, and
`{"code", "error", "field"}` errors. It also answers paths no other dialect claims."""

from __future__ import annotations

from fastapi import Request

from mailsleuth.api.dialect import Dialect, bearer_or_bare, header_key
from mailsleuth.api.ratelimit import Quota

DEFAULT = Quota.parse("native", "600/minute")


def native_key(request: Request) -> str | None:
    return request.headers.get("x-api-key") if "x-api-key" in request.headers else bearer_or_bare(request)


DIALECT = Dialect(
    "native", prefixes=("/v1/",), key=native_key,
    key_scheme=header_key("X-API-Key", "The API key in X-API-Key (or `Authorization: Bearer KEY`)."),
)
