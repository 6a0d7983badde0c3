"""Organisations, users, API keys and credits.

API keys are `ms_` + 40 random URL-safe characters. Only their SHA-256 is stored, plus an identifying
prefix (`ms_` + 8 characters) so people can tell keys apart and revoke one; the plaintext is shown once.
Credits are a ledger (every grant and charge, with a reference that makes a charge idempotent) plus
running totals updated in the same transaction, so checking and charging stay O(1) during bulk jobs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mailsleuth.store import models as m
from mailsleuth.store.db import Database
from mailsleuth.store.errors import AlreadyExists, NotFound
from mailsleuth.store.records import (
    ApiKeyInfo,
    Balance,
    CreditKind,
    Organization,
    Principal,
    User,
    utcnow,
)

KEY_PREFIX = "ms_"
PREFIX_LENGTH = len(KEY_PREFIX) + 8
MAX_KEY_LENGTH = 256
BOOTSTRAP_ORG = "default"
BOOTSTRAP_CREDITS: Mapping[CreditKind, int] = {CreditKind.SEARCH: 100, CreditKind.VERIFY: 100, CreditKind.ENRICH: 100}


def key_prefix(key: str) -> str:
    """The part of a key that identifies it in listings and `revoke-key`."""
    return key[:PREFIX_LENGTH]


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_text(field: str, value: str, *, max_length: int, allow_empty: bool = False) -> str:
    value = value.strip()
    if not value and not allow_empty:
        raise ValueError(f"{field} must not be empty")
    if len(value) > max_length:
        raise ValueError(f"{field} is longer than {max_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(f"{field} must not contain control characters")
    return value


def _org_record(row: m.Organization) -> Organization:
    return Organization(row.id, row.name, row.plan, row.webhook_secret, row.created_at)


def user_record(row: m.User) -> User:
    return User(row.id, row.org_id, row.email, row.name, row.admin, row.language, row.created_at)


def _key_record(row: m.ApiKey) -> ApiKeyInfo:
    return ApiKeyInfo(row.id, row.org_id, row.user_id, row.prefix, row.revoked, row.created_at)


# --- organisations and users -------------------------------------------------------------------


async def bootstrap(db: Database, *, email: str = "admin@localhost", name: str = "Admin") -> str | None:
    """First start on an empty database: create org "default", an admin user and a key.

    Returns the key's plaintext (to print once), or None when any organisation already exists.
    """
    async with db.write() as session:
        if await session.scalar(select(m.Organization.id).limit(1)) is not None:
            return None
        org = await _create_org(session, BOOTSTRAP_ORG, plan="free", credits=BOOTSTRAP_CREDITS)
        user = await _create_user(session, org.id, email, name=name, admin=True, language="en")
        return await _create_key(session, org.id, user.id)


async def create_org(
    db: Database,
    name: str,
    *,
    plan: str = "free",
    credits: Mapping[CreditKind | str, int] | None = None,
    admin_email: str | None = None,
    admin_name: str = "",
) -> Organization:
    """Create an organisation with optional opening credits per kind and, given `admin_email`, its
    first (admin) user in the same transaction, so it can get keys at once. Raises AlreadyExists."""
    async with db.write() as session:
        org = await _create_org(session, name, plan=plan, credits=credits or {})
        if admin_email is not None:
            await _create_user(session, org.id, admin_email, name=admin_name, admin=True, language="en")
        return _org_record(org)


async def _create_org(
    session: AsyncSession, name: str, *, plan: str, credits: Mapping[CreditKind | str, int]
) -> m.Organization:
    name = _check_text("organisation name", name, max_length=200)
    plan = _check_text("plan", plan, max_length=64)
    if await session.scalar(select(m.Organization.id).where(m.Organization.name == name)) is not None:
        raise AlreadyExists(f"organisation {name!r} already exists")
    org = m.Organization(name=name, plan=plan, webhook_secret=secrets.token_hex(32))
    session.add(org)
    await session.flush()
    for kind in CreditKind:
        session.add(m.CreditBalance(org_id=org.id, kind=kind.value, remaining=0, total=0, used=0))
    await session.flush()
    for kind, amount in credits.items():
        if amount:
            await _add_credits(session, org.id, CreditKind(kind), amount, reason="opening balance", reference=None)
    return org


async def get_org(db: Database, org_id: int) -> Organization | None:
    async with db.read() as session:
        row = await session.get(m.Organization, org_id)
        return _org_record(row) if row else None


async def find_org(db: Database, name_or_id: str) -> Organization | None:
    """Look an organisation up by exact name, or by id when given digits (admin CLI convenience)."""
    async with db.read() as session:
        row = await session.scalar(select(m.Organization).where(m.Organization.name == name_or_id))
        if row is None and name_or_id.isdigit():
            row = await session.get(m.Organization, int(name_or_id))
        return _org_record(row) if row else None


async def list_orgs(db: Database) -> list[Organization]:
    async with db.read() as session:
        rows = await session.scalars(select(m.Organization).order_by(m.Organization.id))
        return [_org_record(row) for row in rows]


async def set_plan(db: Database, org_id: int, plan: str) -> Organization:
    plan = _check_text("plan", plan, max_length=64)
    async with db.write() as session:
        org = await session.get(m.Organization, org_id)
        if org is None:
            raise NotFound(f"organisation {org_id} not found")
        org.plan = plan
        return _org_record(org)


async def create_user(
    db: Database, org_id: int, email: str, *, name: str = "", admin: bool = False, language: str = "en"
) -> User:
    """Add a user to an organisation. Raises NotFound (org), AlreadyExists (e-mail taken in that org)."""
    async with db.write() as session:
        return user_record(await _create_user(session, org_id, email, name=name, admin=admin, language=language))


async def _create_user(
    session: AsyncSession, org_id: int, email: str, *, name: str, admin: bool, language: str
) -> m.User:
    email = _check_text("email", email, max_length=320).lower()
    if "@" not in email or any(ch.isspace() for ch in email):
        raise ValueError(f"not an e-mail address: {email!r}")
    name = _check_text("name", name, max_length=200, allow_empty=True)
    language = _check_text("language", language, max_length=16)
    if await session.get(m.Organization, org_id) is None:
        raise NotFound(f"organisation {org_id} not found")
    taken = select(m.User.id).where(m.User.org_id == org_id, m.User.email == email)
    if await session.scalar(taken) is not None:
        raise AlreadyExists(f"user {email} already exists in organisation {org_id}")
    user = m.User(org_id=org_id, email=email, name=name, admin=admin, language=language)
    session.add(user)
    await session.flush()
    return user


async def get_user(db: Database, org_id: int, user_id: int) -> User | None:
    async with db.read() as session:
        row = await session.get(m.User, user_id)
        return user_record(row) if row and row.org_id == org_id else None


async def find_user(db: Database, org_id: int, email: str) -> User | None:
    async with db.read() as session:
        query = select(m.User).where(m.User.org_id == org_id, m.User.email == email.strip().lower())
        row = await session.scalar(query)
        return user_record(row) if row else None


async def list_users(db: Database, org_id: int) -> list[User]:
    async with db.read() as session:
        rows = await session.scalars(select(m.User).where(m.User.org_id == org_id).order_by(m.User.id))
        return [user_record(row) for row in rows]


# --- API keys ----------------------------------------------------------------------------------


async def create_key(db: Database, org_id: int, user_id: int | None = None) -> str:
    """Create a key for a user (default: the organisation's first admin, else first user).

    Returns the plaintext; it cannot be recovered later. Raises NotFound when there is no such user.
    """
    async with db.write() as session:
        if user_id is None:
            query = select(m.User.id).where(m.User.org_id == org_id).order_by(m.User.admin.desc(), m.User.id)
            user_id = await session.scalar(query.limit(1))
        user = await session.get(m.User, user_id) if user_id is not None else None
        if user is None or user.org_id != org_id:
            raise NotFound(f"organisation {org_id} has no user to own the key")
        return await _create_key(session, org_id, user.id)


async def _create_key(session: AsyncSession, org_id: int, user_id: int) -> str:
    while True:
        key = KEY_PREFIX + secrets.token_urlsafe(30)
        prefix = key_prefix(key)
        if await session.scalar(select(m.ApiKey.id).where(m.ApiKey.prefix == prefix)) is None:
            break
    session.add(m.ApiKey(org_id=org_id, user_id=user_id, prefix=prefix, key_hash=_hash_key(key)))
    await session.flush()
    return key


async def revoke_key(db: Database, prefix: str, *, org_id: int | None = None) -> bool:
    """Revoke the key with this prefix (limited to one organisation when org_id is given).

    Returns False when no such active key exists.
    """
    async with db.write() as session:
        query = select(m.ApiKey).where(m.ApiKey.prefix == prefix, m.ApiKey.revoked.is_(False))
        if org_id is not None:
            query = query.where(m.ApiKey.org_id == org_id)
        key = await session.scalar(query)
        if key is None:
            return False
        key.revoked = True
        key.revoked_at = utcnow()
        return True


async def list_keys(db: Database, org_id: int) -> list[ApiKeyInfo]:
    async with db.read() as session:
        rows = await session.scalars(select(m.ApiKey).where(m.ApiKey.org_id == org_id).order_by(m.ApiKey.id))
        return [_key_record(row) for row in rows]


_KEY_OWNER = (
    select(
        m.ApiKey.id.label("key_id"), m.ApiKey.key_hash, m.User.id.label("user_id"), m.User.email, m.User.name,
        m.User.admin, m.Organization.id.label("org_id"), m.Organization.name.label("org_name"),
    )
    .join(m.User, m.User.id == m.ApiKey.user_id)
    .join(m.Organization, m.Organization.id == m.ApiKey.org_id)
    .where(m.ApiKey.key_hash == bindparam("digest"), m.ApiKey.revoked.is_(False))
)


async def authenticate(db: Database, key: str) -> Principal | None:
    """The caller behind a presented key, or None (unknown, revoked, or malformed key).

    The lookup is by the key's SHA-256, so response time says nothing about how much of a guess matched.
    """
    if not key or len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        return None
    digest = _hash_key(key)
    found = await db.read_one(_KEY_OWNER, {"digest": digest})
    if found is None or not hmac.compare_digest(found.key_hash, digest):
        return None
    return Principal(found.org_id, found.user_id, found.key_id, found.email, found.name, found.org_name, found.admin)


# --- credits -----------------------------------------------------------------------------------


async def balance(db: Database, org_id: int, kind: CreditKind | str) -> int:
    """Remaining credits of one kind (0 for an unknown organisation)."""
    async with db.read() as session:
        return await remaining_in(session, org_id, CreditKind(kind))


async def balances(db: Database, org_id: int) -> dict[CreditKind, Balance]:
    """Remaining, total granted and used credits per kind (the account/organisation endpoints)."""
    async with db.read() as session:
        rows = await session.scalars(select(m.CreditBalance).where(m.CreditBalance.org_id == org_id))
        found = {row.kind: row for row in rows}
    return {
        kind: Balance(kind, found[kind].remaining, found[kind].total, found[kind].used)
        if kind in found
        else Balance(kind, 0, 0, 0)
        for kind in CreditKind
    }


async def add_credits(
    db: Database,
    org_id: int,
    kind: CreditKind | str,
    amount: int,
    *,
    reason: str = "admin",
    reference: str | None = None,
) -> int:
    """Grant (or, negative, withdraw) credits; returns the new balance.

    A repeated non-None reference is a no-op. Raises NotFound, or ValueError when a withdrawal would go
    below zero.
    """
    async with db.write() as session:
        if await session.get(m.Organization, org_id) is None:
            raise NotFound(f"organisation {org_id} not found")
        return await _add_credits(session, org_id, CreditKind(kind), amount, reason=reason, reference=reference)


async def _add_credits(
    session: AsyncSession, org_id: int, kind: CreditKind, amount: int, *, reason: str, reference: str | None
) -> int:
    if reference is not None and await _entry_exists(session, org_id, kind, reference):
        return await remaining_in(session, org_id, kind)
    if amount < 0 and not await _take(session, org_id, kind, -amount, count_as_used=False):
        raise ValueError(f"cannot withdraw {-amount} {kind} credits: not enough left")
    if amount >= 0:
        await session.execute(
            update(m.CreditBalance)
            .where(m.CreditBalance.org_id == org_id, m.CreditBalance.kind == kind.value)
            .values(remaining=m.CreditBalance.remaining + amount, total=m.CreditBalance.total + amount)
        )
    session.add(m.CreditEntry(org_id=org_id, kind=kind.value, delta=amount, reason=reason, reference=reference))
    await session.flush()
    return await remaining_in(session, org_id, kind)


class ChargeResult(StrEnum):
    CHARGED = "charged"  # taken now
    ALREADY = "already"  # this reference was paid for earlier: nothing taken
    INSUFFICIENT = "insufficient"  # not enough credits: nothing taken


async def charge(db: Database, org_id: int, kind: CreditKind | str, amount: int, reference: str) -> bool:
    """Take `amount` credits, once per (org, kind, reference).

    Returns False (and takes nothing) when the balance is too low; True when charged now or already
    charged earlier for the same reference, so retried work never pays twice.
    """
    try:
        async with db.write() as session:
            result = await charge_in(session, org_id, CreditKind(kind), amount, reference)
    except IntegrityError:  # a concurrent writer (PostgreSQL) recorded the same reference first
        return True
    return result is not ChargeResult.INSUFFICIENT


async def charge_in(
    session: AsyncSession, org_id: int, kind: CreditKind, amount: int, reference: str
) -> ChargeResult:
    """`charge` inside a caller's write transaction, so a charge commits together with its result."""
    if amount < 0:
        raise ValueError("amount must not be negative")
    if await _entry_exists(session, org_id, kind, reference):
        return ChargeResult.ALREADY
    if not await _take(session, org_id, kind, amount, count_as_used=True):
        return ChargeResult.INSUFFICIENT
    entry = {"org_id": org_id, "kind": kind.value, "delta": -amount, "reason": "charge", "reference": reference}
    await session.execute(_ADD_ENTRY, entry)
    return ChargeResult.CHARGED


async def _take(session: AsyncSession, org_id: int, kind: CreditKind, amount: int, *, count_as_used: bool) -> bool:
    """Conditional decrement: atomic on PostgreSQL too, so concurrent charges cannot overdraw."""
    statement = _TAKE_USED if count_as_used else _TAKE_TOTAL
    result = await session.execute(statement, {"of_org": org_id, "of_kind": kind.value, "amount": amount})
    return result.rowcount == 1


async def credit_usage(db: Database, org_id: int, since: datetime) -> dict[str, dict[str, int]]:
    """Credits charged per day (YYYY-MM-DD, UTC) and kind since `since`, from the ledger's charges."""
    day = func.date(m.CreditEntry.created_at)
    query = (
        select(day, m.CreditEntry.kind, func.sum(m.CreditEntry.delta))
        .where(m.CreditEntry.org_id == org_id, m.CreditEntry.created_at >= since, m.CreditEntry.reason == "charge")
        .group_by(day, m.CreditEntry.kind)
    )
    usage: dict[str, dict[str, int]] = {}
    async with db.read() as session:
        for date, kind, delta in await session.execute(query):
            usage.setdefault(str(date), {})[kind] = -int(delta)
    return usage


async def _entry_exists(session: AsyncSession, org_id: int, kind: CreditKind, reference: str) -> bool:
    return bool(await session.scalar(_ENTRY_EXISTS, {"org_id": org_id, "kind": kind.value, "reference": reference}))


async def remaining_in(session: AsyncSession, org_id: int, kind: CreditKind) -> int:
    """Remaining credits of one kind, inside the caller's transaction."""
    return int(await session.scalar(_REMAINING, {"of_org": org_id, "of_kind": kind.value}) or 0)


# Statements of the charges and balance reads made inside searches' and completions' writes, which
# every other writer waits for: built once (building one costs more than running it).
_BALANCES = m.CreditBalance.__table__
_LEDGER = m.CreditEntry.__table__
_ONE_BALANCE = _BALANCES.c.org_id == bindparam("of_org"), _BALANCES.c.kind == bindparam("of_kind")  # not column names
_REMAINING = select(_BALANCES.c.remaining).where(*_ONE_BALANCE)
_AFFORDABLE = _BALANCES.c.remaining >= bindparam("amount")
_TAKE_USED = update(_BALANCES).where(*_ONE_BALANCE, _AFFORDABLE).values(
    remaining=_BALANCES.c.remaining - bindparam("amount"), used=_BALANCES.c.used + bindparam("amount")
)
_TAKE_TOTAL = update(_BALANCES).where(*_ONE_BALANCE, _AFFORDABLE).values(
    remaining=_BALANCES.c.remaining - bindparam("amount"), total=_BALANCES.c.total - bindparam("amount")
)
_ENTRY_EXISTS = select(func.count()).where(
    _LEDGER.c.org_id == bindparam("org_id"), _LEDGER.c.kind == bindparam("kind"),
    _LEDGER.c.reference == bindparam("reference"),
)
_ADD_ENTRY = insert(_LEDGER)
