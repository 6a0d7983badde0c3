"""The signed-in account in the native API: who, the credit balances and their use over time, and
the organisation's API keys (listing shows prefixes only; creating and revoking need an admin)."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from typing import Annotated, Any

from fastapi import Depends, Query, Request, Response

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.service.errors import NotFound, ServiceError
from mailsleuth.store import CreditKind, Principal, to_ms

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]


def _admin(principal: Principal) -> None:
    if not principal.admin:
        raise ServiceError("Only an administrator of the organisation can manage its API keys.", status=403)


@router.get("/account", summary="The signed-in user, the organisation and its credit balances")
async def account(request: Request, principal: Caller) -> dict[str, Any]:
    balances = await store.balances(services(request).db, principal.org_id)
    return {
        "user": {"id": principal.user_id, "name": principal.user_name, "email": principal.user_email,
                 "admin": principal.admin},
        "organisation": {"id": principal.org_id, "name": principal.org_name},
        "credits": {kind.value: {"remaining": b.remaining, "total": b.total, "used": b.used}
                    for kind, b in balances.items()},
    }


Days = Annotated[int, Query(ge=1, le=366)]


@router.get("/credits/usage", summary="Credits used per day")
async def credit_usage(request: Request, principal: Caller, days: Days = 30) -> dict[str, Any]:
    """One entry per day (UTC, oldest first, days without use included) with the credits of each kind charged."""
    today = store.utcnow().date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=timezone.utc)
    used = await store.credit_usage(services(request).db, principal.org_id, since)
    dates = [(first + timedelta(days=n)).isoformat() for n in range(days)]
    return {"days": [{"date": date, **{kind.value: used.get(date, {}).get(kind.value, 0) for kind in CreditKind}}
                     for date in dates]}


@router.get("/keys", summary="The organisation's API keys (prefixes only)")
async def list_keys(request: Request, principal: Caller) -> dict[str, Any]:
    _admin(principal)
    keys = await store.list_keys(services(request).db, principal.org_id)
    return {"results": [{"prefix": key.prefix, "user_id": key.user_id, "revoked": key.revoked,
                         "current": key.id == principal.key_id, "created": to_ms(key.created_at)} for key in keys]}


@router.post("/keys", summary="Create an API key for yourself", status_code=201)
async def create_key(request: Request, principal: Caller) -> dict[str, Any]:
    """The key is shown in this answer only: it is stored hashed."""
    _admin(principal)
    key = await store.create_key(services(request).db, principal.org_id, principal.user_id)
    return {"key": key, "prefix": store.key_prefix(key)}


@router.delete("/keys/{prefix}", summary="Revoke an API key", status_code=204)
async def revoke_key(prefix: str, request: Request, principal: Caller) -> Response:
    _admin(principal)
    db = services(request).db
    current = next((key for key in await store.list_keys(db, principal.org_id) if key.id == principal.key_id), None)
    if current is not None and current.prefix == prefix:
        raise ServiceError("This is the key you are signed in with; sign in with another key to revoke it.")
    if not await store.revoke_key(db, prefix, org_id=principal.org_id):
        raise NotFound("No such active key.")
    return Response(status_code=204)
