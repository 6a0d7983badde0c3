"""Single searches as a service: every dialect's "find this person's address" ends up here.

`start_search` validates, applies the credit rules, records the contact and the job (one write
transaction, `store.open_search`), and schedules `run_search` in the background; `run_search` does
the network work outside any transaction, then completes the job in one write (address, credit,
end) and queues the webhook. The vendor rules: one credit per found address, none for searching
the same (non-deleted) contact again, 402 when the organisation has nothing left.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mailsleuth import store
from mailsleuth.engine import names
from mailsleuth.engine.egress import UnsafeTarget, check_url
from mailsleuth.engine.names import PersonName
from mailsleuth.service.context import Context
from mailsleuth.service.errors import PaymentRequired, ServiceError
from mailsleuth.service.finding import Finding
from mailsleuth.store import Contact, CreditKind, Principal, Search

log = logging.getLogger(__name__)

WebhookPayload = Callable[[Contact, Search], dict[str, Any]]

_PAYLOADS: dict[str, WebhookPayload] = {}


def webhook_payload(dialect: str) -> Callable[[WebhookPayload], WebhookPayload]:
    """Register how `dialect` shapes its search webhook; the job stores only the dialect's name, so a
    search resumed after a restart still notifies in its caller's shape."""

    def register(payload: WebhookPayload) -> WebhookPayload:
        _PAYLOADS[dialect] = payload
        return payload

    return register


@dataclass(frozen=True)
class Started:
    """What a dialect answers right away: the contact (searching or already known) and its job."""

    contact: Contact
    search: Search | None  # None when an already found contact was returned as is
    task: asyncio.Task[store.SearchOutcome] | None = None  # the background run, to await with a timeout

    @property
    def job_id(self) -> int | None:
        return self.search.id if self.search else self.contact.job_id


def person(
    full: str | None = None,
    *,
    first: str | None = None,
    middle: str | None = None,
    last: str | None = None,
    field: str = "name",
) -> PersonName:
    """Parse a name from the caller, as a field error when it is unusable."""
    try:
        return names.parse_name(full, first=first, middle=middle, last=last)
    except names.InvalidName as exc:
        raise ServiceError(str(exc), field=field) from None


def webhook_url(url: str | None, rt: Context) -> str | None:
    if not url:
        return None
    try:
        check_url(url, allow_private=rt.settings.allow_private_networks)
    except UnsafeTarget as exc:
        raise ServiceError(str(exc), field="webhook") from None
    return url


async def start_search(
    rt: Context,
    principal: Principal,
    name: PersonName,
    domain: str,
    *,
    dialect: str,
    webhook: str | None = None,
    list_id: int | None = None,
    smtp: bool = True,
    paid_verdicts: tuple[str, ...] | None = None,
    options: dict[str, Any] | None = None,
    source: str = "search",
) -> Started:
    """Record and schedule a search of `name` at `domain` (already normalised) for the caller's org.

    ``paid_verdicts`` says which answers count as a found address (charged): any address when None,
    else only those verdicts (a dialect for which a guess is not a find). A contact already found or
    being searched is answered as it is, unless this request asks under other terms (``smtp`` or
    ``paid_verdicts``): then it is searched again under the new ones (never charged twice)."""
    terms = {"smtp": smtp, "paid_verdicts": list(paid_verdicts) if paid_verdicts is not None else None}
    opening = await store.open_search(
        rt.db,
        principal.org_id,
        user_id=principal.user_id,
        name=name.full,
        first_name=name.first or None,
        last_name=name.last or None,
        domain=domain,
        list_id=list_id,
        webhook=webhook,
        source=source,
        options={"name": name.full, "domain": domain, "dialect": dialect, **terms, **(options or {})},
        same_terms=lambda job_options: _same_terms(job_options, terms),
    )
    if opening.refused is store.OpenRefusal.NO_LIST:
        raise ServiceError("Invalid list.", field="list_id")
    if opening.refused is store.OpenRefusal.NO_CREDITS:
        raise PaymentRequired("No credits left.")
    assert opening.contact is not None
    if opening.search is None:
        return Started(opening.contact, None)  # already found (free) or already being searched
    return Started(opening.contact, opening.search, _spawn(rt, opening.search, name))


def _same_terms(job_options: dict[str, Any], terms: dict[str, Any]) -> bool:
    """Whether a contact's latest job searched under the terms asked for now."""
    defaults = (("smtp", True), ("paid_verdicts", None))
    return all(job_options.get(key, default) == terms[key] for key, default in defaults)


def _spawn(rt: Context, search: Search, name: PersonName) -> asyncio.Task[store.SearchOutcome]:
    options = search.options
    work = run_search(rt, search.org_id, search.id, name, options["domain"], smtp=options["smtp"])
    return rt.spawn(work, name=f"search-{search.id}")


async def resume_searches(rt: Context) -> int:
    """Re-run searches a previous process left queued or running (each completion is idempotent)."""
    resumed = 0
    for search in await store.unfinished_searches(rt.db, limit=10_000):
        try:
            _spawn(rt, search, names.parse_name(search.options["name"]))
        except (KeyError, names.InvalidName) as exc:
            await store.complete_search(rt.db, search.org_id, search.id, email=None, error=f"cannot resume: {exc!r}")
            continue
        resumed += 1
    return resumed


async def run_search(
    rt: Context,
    org_id: int,
    search_id: int,
    name: PersonName,
    domain: str,
    *,
    smtp: bool = True,
) -> store.SearchOutcome:
    """The background half: find, learn, complete (charging), then queue the webhook. The search
    stays queued until one of the process's find slots is free (`Settings.concurrent_finds`)."""
    db = rt.db
    async with rt.finds:
        started = await store.start_search(db, org_id, search_id)
        try:
            result = await Finding(db, rt.settings, rt.verifier, org_id).finder.find(name, domain, smtp=smtp)
        except Exception as exc:  # the job must end whatever the engine did
            log.exception("search %s failed", search_id)
            error = f"{type(exc).__name__}: {exc}"
            outcome = await store.complete_search(db, org_id, search_id, email=None, error=error)
        else:
            details = result.to_dict()
            paid = started.options.get("paid_verdicts") if started is not None else None
            outcome = await store.complete_search(
                db,
                org_id,
                search_id,
                email=result.email,
                score=result.score,
                verdict=result.verdict.value,
                evidence=details,
                result=details,
                charge=paid is None or result.verdict.value in paid,
            )
    search = outcome.search
    payload = _PAYLOADS.get(search.options.get("dialect", ""))
    if search.webhook and payload is not None and outcome.contact is not None:
        await rt.webhooks.enqueue(
            org_id, search.webhook, payload(outcome.contact, search), key=f"search:{search.id}", job_id=search.id
        )
    return outcome
