"""The VoilaNorbert dialect (`/2018-01-08/`): its request and response shapes over the shared services.

Clients send form fields (the vendor's snippets) or JSON, authenticate with HTTP Basic (the key as
password), and get contact objects exactly as documented: company block, email block with score
100/80/5, owner block, lists, status and `created` in milliseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field

from mailsleuth.service import crawling, intelligence

from mailsleuth import store
from mailsleuth.api.contactquery import contact_filters
from mailsleuth.api.auth import guard, presented_key, services
from mailsleuth.api.bodies import OptionalText, Text, blank_is_none, body_doc, parse_body, read_fields, required, validate
from mailsleuth.api.params import BodyInt, PathId, parse_id
from mailsleuth.api.polls import polled
from mailsleuth.api.voilanorbert.dialect import DEFAULT, DIALECT, PREFIX, SEARCH_DOMAIN, SEARCH_NAME
from mailsleuth.api.responses import FastJSON
from mailsleuth.service import companies, search
from mailsleuth.service.errors import NotFound
from mailsleuth.jobs.runtime import Runtime
from mailsleuth.store import Balance, Contact, ContactList, CreditKind, Principal, Search, User, to_ms

router = DIALECT.router(prefix=PREFIX, tags=["VoilaNorbert"])

CALLER = guard(DIALECT, DEFAULT)
Caller = Annotated[Principal, Depends(CALLER)]
SearchCaller = Annotated[Principal, Depends(guard(DIALECT, SEARCH_NAME))]
DomainCaller = Annotated[Principal, Depends(guard(DIALECT, SEARCH_DOMAIN))]

_PAGE_NOT_FOUND = "Page not found."
IS_NEW_WINDOW = timedelta(hours=1)
"""A domain search's `is_new`: "recently found", revealed from the website within the last hour."""


RouteDecorator = Callable[..., Callable[[Callable[..., Any]], Callable[..., Any]]]


def tolerant_routes(target: APIRouter) -> RouteDecorator:
    """A `route(method, path)` decorator for `target` that registers `path` with and without its
    trailing slash: the VoilaNorbert docs use both spellings."""

    def route(method: str, path: str, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def decorator(endpoint: Callable[..., Any]) -> Callable[..., Any]:
            target.add_api_route(path, endpoint, methods=[method], **options)
            twin = path[:-1] if path.endswith("/") else path + "/"
            target.add_api_route(twin, endpoint, methods=[method], include_in_schema=False, **options)
            return endpoint

        return decorator

    return route


route = tolerant_routes(router)


# --- shapes --------------------------------------------------------------------------------------


def avatar(email: str) -> str:
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://secure.gravatar.com/avatar/{digest}?d=mm&s=128"


def owner_json(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    firstname = user.name.split()[0] if user.name.strip() else ""
    return {
        "admin": user.admin,
        "avatar_url": avatar(user.email),
        "email": user.email,
        "firstname": firstname,
        "language": user.language,
        "name": user.name,
    }


def company_json(contact: Contact) -> dict[str, Any] | None:
    company = contact.company
    if company is None and not contact.domain and not contact.company_name:
        return None
    domain = company.domain if company else contact.domain
    return {
        "description": company.description if company else None,
        "is_done": not contact.searching,
        "keywords": list(company.keywords) if company else [],
        "logo": company.logo if company else None,
        "name": (company.name if company else None) or contact.company_name or domain,
        "raw_url": domain,
        "title": company.title if company else None,
        "url": (company.url if company else None) or (f"http://{domain}" if domain else None),
    }


def email_json(contact: Contact) -> dict[str, Any] | None:
    if contact.searching or not contact.email:
        return None
    return {"avatar_url": avatar(contact.email), "email": contact.email, "is_done": True, "score": contact.score}


def contact_json(contact: Contact) -> dict[str, Any]:
    return {
        "company": company_json(contact),
        "created": to_ms(contact.created_at),
        "email": email_json(contact),
        "id": contact.id,
        "lists": list(contact.list_ids),
        "name": contact.name,
        "owner": owner_json(contact.owner),
        "searching": contact.searching,
        "status": contact.status.value,
    }


@DIALECT.webhook
def webhook_json(contact: Contact, _search: Search) -> dict[str, Any]:
    """The search webhook POSTs the finished contact, as `GET /contacts/{id}` would show it."""
    return contact_json(contact)


def list_json(item: ContactList) -> dict[str, Any]:
    return {"contacts": item.contacts, "created": to_ms(item.created_at), "id": item.id, "name": item.name}


def credits_json(balance: Balance) -> dict[str, Any]:
    return {
        "charge_failed": 0,
        "refill_credits": 0,
        "refill_limit": 0,
        "refill_price": 0,
        "remains": balance.remaining,
        "total": balance.total,
    }


def api_balance_json(balance: Balance) -> dict[str, Any]:
    return {"processed_entries": balance.used, "refill_amount": 0, "refill_limit": 0, "remaining": balance.remaining}


# --- search --------------------------------------------------------------------------------------


class SearchName(BaseModel):
    name: Text
    domain: OptionalText = None
    company: OptionalText = None
    webhook: OptionalText = None
    list_id: BodyInt = None


class SearchDomain(BaseModel):
    domain: OptionalText = None
    company: OptionalText = None
    list_id: BodyInt = None
    page: BodyInt = None


@route("POST", "/search/name", summary="Search a person's email", openapi_extra=body_doc(SearchName))
async def search_name(request: Request, principal: SearchCaller) -> dict[str, Any]:
    """Answers the contact at once (`searching: true`); the search runs in the background and its
    `webhook`, if given, receives the finished contact (3 tries, 30 s growing intervals)."""
    body = await parse_body(request, SearchName)
    rt = services(request).runtime
    name = search.person(body.name)
    domain = await _search_domain(rt, body.domain, body.company)
    started = await search.start_search(
        rt,
        principal,
        name,
        domain,
        dialect=DIALECT.name,
        webhook=search.webhook_url(body.webhook, rt),
        list_id=body.list_id,
    )
    return contact_json(started.contact)


async def _search_domain(rt: Runtime, domain: str | None, company: str | None) -> str:
    return await companies.locate(rt.db, rt.settings, rt.verifier.resolver, domain, company)


@route("POST", "/search/domain", summary="Contacts known at a domain", openapi_extra=body_doc(SearchDomain))
async def search_domain(request: Request, principal: DomainCaller) -> dict[str, Any]:
    """The organisation's contacts at the domain plus the people on the company's website (new ones
    are added to the contacts, 1 credit each, `is_new: true`; score 5 unless verified)."""
    body = await parse_body(request, SearchDomain)
    rt = services(request).runtime
    domain = await _search_domain(rt, body.domain, body.company)
    await crawling.ensure_crawled(rt.db, rt.settings, domain, verifier=rt.verifier)
    page = await intelligence.domain_search(
        rt.db, principal.org_id, domain, body.page or 1, owner_id=principal.user_id, list_id=body.list_id
    )
    return {
        "has_next": page.has_next,
        "result": [{**contact_json(c), "is_new": page.revealed_within(c, IS_NEW_WINDOW)} for c in page.items],
        "credits_available": page.credits_available,
        "total": page.total,
    }


# --- contacts ------------------------------------------------------------------------------------


def page_json(page: store.ContactPage) -> dict[str, Any]:
    return {
        "has_next": page.has_next,
        "has_prev": page.has_prev,
        "page": page.page,
        "pages": page.pages,
        "result": [contact_json(contact) for contact in page.items],
        "total": page.total,
    }


@route("GET", "/contacts/", summary="List contacts")
async def list_contacts(request: Request, principal: Caller) -> dict[str, Any]:
    """Filters: ids, query, name, email, company, status, found, history, lists, created (with
    `> < >= <=`), order_by (`-` for descending), page."""
    filters = contact_filters(request.query_params.multi_items())
    return page_json(await store.query_contacts(services(request).db, principal.org_id, filters))


@route("GET", "/contacts/{contact_id}", summary="Get a contact")
@polled(CALLER, PREFIX + "/contacts/{contact_id}", parse_id, stored_only=True)
async def get_contact(contact_id: PathId, request: Request, principal: Caller) -> FastJSON:
    contact = await store.get_contact(services(request).db, principal.org_id, contact_id)
    if contact is None:
        raise NotFound(_PAGE_NOT_FOUND)
    return FastJSON(contact_json(contact))


# --- lists ---------------------------------------------------------------------------------------


LIST_NAME_LENGTH = 300  # the lists.name column


class ListName(BaseModel):
    name: Annotated[str, Field(max_length=LIST_NAME_LENGTH), AfterValidator(required)]


class ListUpdate(BaseModel):
    name: Annotated[Annotated[str, Field(max_length=LIST_NAME_LENGTH)] | None, BeforeValidator(blank_is_none)] = None
    removed: bool = False


@route("GET", "/lists/", summary="Get lists")
async def get_lists(
    request: Request, principal: Caller, name: str | None = None, order_by: str = "-created"
) -> dict[str, Any]:
    lists = await store.query_lists(services(request).db, principal.org_id, name=name, order_by=order_by)
    return {"result": [list_json(item) for item in lists]}


@route("POST", "/lists/", summary="Create a list", openapi_extra=body_doc(ListName))
async def create_list(request: Request, principal: Caller) -> dict[str, Any]:
    """`name` in the body (form or JSON) or in the query string, as the heading `POST /lists/{?name}` says."""
    body = validate({**request.query_params, **await read_fields(request)}, ListName)
    return list_json(await store.create_list(services(request).db, principal.org_id, body.name.strip()))


async def _list_or_404(request: Request, principal: Principal, list_id: int) -> ContactList:
    item = await store.get_list(services(request).db, principal.org_id, list_id)
    if item is None:
        raise NotFound(_PAGE_NOT_FOUND)
    return item


@route("GET", "/lists/{list_id}", summary="Get a list")
async def get_list(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    return list_json(await _list_or_404(request, principal, list_id))


@route("PUT", "/lists/{list_id}", summary="Rename or remove a list", openapi_extra=body_doc(ListUpdate))
async def update_list(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    body = await parse_body(request, ListUpdate)
    item = await _list_or_404(request, principal, list_id)
    db = services(request).db
    if body.name is not None:
        item = await store.update_list(db, principal.org_id, list_id, name=body.name.strip()) or item
    if body.removed:
        await store.delete_list(db, principal.org_id, list_id, actor_id=principal.user_id)
    return list_json(item)


@route("DELETE", "/lists/{list_id}", summary="Remove a list")
async def delete_list(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    if not await store.delete_list(services(request).db, principal.org_id, list_id, actor_id=principal.user_id):
        raise NotFound(_PAGE_NOT_FOUND)
    return {"result": "success"}


@route("POST", "/lists/{list_id}", summary="Add the contacts matched by a contacts query to a list")
async def add_to_list(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    """Takes the `GET /contacts/` filters, in the body or the query string (none: every contact)."""
    params = [*request.query_params.multi_items(), *_as_params(await read_fields(request))]
    filters = contact_filters(params)
    item = await store.add_matching_to_list(
        services(request).db, principal.org_id, list_id, filters, actor_id=principal.user_id
    )
    if item is None:
        raise NotFound(_PAGE_NOT_FOUND)
    return list_json(item)


def _as_params(fields: dict[str, Any]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    for key, value in fields.items():
        values = value if isinstance(value, list) else [value]
        params.extend((key, str(v).lower() if isinstance(v, bool) else str(v)) for v in values)
    return params


# --- account -------------------------------------------------------------------------------------


async def _balances(request: Request, principal: Principal) -> dict[CreditKind, Balance]:
    return await store.balances(services(request).db, principal.org_id)


@route("GET", "/account/", summary="The current account")
async def account(request: Request, principal: Caller) -> dict[str, Any]:
    db = services(request).db
    user = await store.get_user(db, principal.org_id, principal.user_id)
    org = await store.get_org(db, principal.org_id)
    balances = await _balances(request, principal)
    searches = balances[CreditKind.SEARCH]
    return {
        "admin": principal.admin,
        # Keys are stored hashed, so the one token that can be shown is the one this request carried:
        # the caller's own, already-known key, usable as is (see the README).
        "api_token": presented_key(DIALECT, request),
        "avatar_url": avatar(principal.user_email),
        "balance": {
            "enrich": api_balance_json(balances[CreditKind.ENRICH]),
            "verify": api_balance_json(balances[CreditKind.VERIFY]),
        },
        "created": to_ms(user.created_at) if user else None,
        "credits": credits_json(searches),
        "email": principal.user_email,
        "firstname": principal.user_name.split()[0] if principal.user_name.strip() else "",
        "has_cc": False,
        "is_account_verified": True,
        "language": user.language if user else "en",
        "name": principal.user_name,
        "optin": False,
        "phone_verified": None,
        "plan": {
            "credits": searches.total,
            "display": org.plan if org else None,
            "rollover": False,
            "workers": None,
            "yearly": False,
        },
    }


@route("GET", "/organization/", summary="The current organization")
async def organization(request: Request, principal: Caller) -> dict[str, Any]:
    org = await store.get_org(services(request).db, principal.org_id)
    searches = (await _balances(request, principal))[CreditKind.SEARCH]
    return {
        "id": principal.org_id,
        "company_name": principal.org_name,
        "company_vat": None,
        "address": "",
        "zipcode": "",
        "city": "",
        "country": "",
        "is_auto_renew": False,
        "auto_renew_at": 0,
        "auto_renew_quantity": 0,
        "cc_expires": None,
        "plan": {"credits": searches.total, "id": None, "name": org.plan if org else None, "price": 0},
        "is_yearly": False,
        "next_payment": None,
        "credits": {"remains": searches.remaining, "total": searches.total},
    }


@route("GET", "/organization/credits", summary="Remaining and total search credits")
async def organization_credits(request: Request, principal: Caller) -> dict[str, Any]:
    return credits_json((await _balances(request, principal))[CreditKind.SEARCH])
