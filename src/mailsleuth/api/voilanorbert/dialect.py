"""VoilaNorbert's wire conventions: the key as the HTTP Basic password, Django-style field errors,
and the published quotas."""

from __future__ import annotations

import base64
import binascii

from fastapi import Request
from fastapi.responses import JSONResponse

from mailsleuth.api.dialect import Dialect, basic_key, render_plain_json
from mailsleuth.api.ratelimit import Quota
from mailsleuth.service.errors import FieldErrors, ServiceError

PREFIX = "/2018-01-08"

DEFAULT = Quota.parse("vn", "120/minute")
SEARCH_NAME = Quota.parse("vn:search/name", "300/minute;100000/day")
SEARCH_DOMAIN = Quota.parse("vn:search/domain", "60/minute;50000/day")
MASSIVES = Quota.parse("vn:massives", "5/minute;1000/day")


def basic_password(request: Request) -> str | None:
    """The password of `Authorization: Basic` (the user name is anything)."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, sep, password = decoded.partition(":")
    return password if sep else None


def render(error: ServiceError) -> JSONResponse:
    """Field problems as `{"field": ["message", ...]}`; the rest as `{"code", "error"}`."""
    if isinstance(error, FieldErrors):
        return JSONResponse(dict(error.fields), status_code=error.status)
    if error.field and error.status == 400:
        return JSONResponse({error.field: [error.message]}, status_code=error.status)
    return render_plain_json(error)


DIALECT = Dialect(
    "voilanorbert", prefixes=(PREFIX + "/",), key=basic_password, unauthorized="Account not found.", render=render,
    key_scheme=basic_key("HTTP Basic: any user name, the API key as password."),
)
