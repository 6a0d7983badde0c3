"""Hunter.io v2 leads and leads lists: the organisation's contacts and contact lists.

Leads are contacts (name, address, position, company, LinkedIn, phone, confidence as the score);
the lead fields contacts have no column for (industry, size, country, notes, twitter, source,
custom attributes, ...) are kept with the contact and shown back. `PUT /leads` upserts by address
(201 created, 200 updated); `PUT` and `DELETE` on one lead or list answer 204 without a body, as
Hunter does. Lists answer on both `leads_lists` and `leads-lists`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from mailsleuth import store
from mailsleuth.api.params import PathId, parse_id
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import read_fields, validate
from mailsleuth.api.hunter import shapes
from mailsleuth.api.hunter.dialect import DEFAULT, DIALECT, PREFIX
from mailsleuth.api.hunter.models import (
    DataOnly,
    Envelope,
    Lead,
    LeadFields,
    LeadsList,
    LeadsListRef,
    LeadsLists,
    LeadsListWithLeads,
    LeadsPage,
    ListFields,
    PageParams,
)
from mailsleuth.engine import domains
from mailsleuth.service.errors import NotFound, ServiceError
from mailsleuth.service.people import PersonError, linkedin_id
from mailsleuth.store import Contact, ContactFilters, ContactList, Principal
from mailsleuth.store.contacts import MAX_PER_PAGE

router = DIALECT.router(prefix=PREFIX, tags=["Hunter leads"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]
T = TypeVar("T")

SOURCE = "lead"  # how contacts created as leads are marked
EXTRA = "fields"  # the key, in a contact's evidence, of the lead fields without a contact column
_EXTRA_FIELDS = ("company_industry", "company_size", "country_code", "postal_code", "source", "twitter", "notes",
                 "website")
_LEAD_NOT_FOUND = "This lead does not exist."
_LIST_NOT_FOUND = "This leads list does not exist."


async def _stored(write: Awaitable[T]) -> T:
    """A store write whose field checks (length, control characters) answer 400, not 500."""
    try:
        return await write
    except ValueError as exc:
        raise ServiceError(str(exc)) from None


# --- shapes --------------------------------------------------------------------------------------


def _extra(contact: Contact) -> dict[str, Any]:
    return dict((contact.evidence or {}).get(EXTRA) or {})


def lead_json(contact: Contact, lists: dict[int, ContactList]) -> Lead:
    extra = _extra(contact)
    first_list = next((lists[i] for i in contact.list_ids if i in lists), None)
    custom = extra.get("custom_attributes") or {}
    return Lead(
        id=contact.id,
        email=contact.email,
        first_name=contact.first_name,
        last_name=contact.last_name,
        position=contact.title,
        company=contact.company_name or (contact.company.name if contact.company else None),
        company_industry=extra.get("company_industry"),
        company_size=extra.get("company_size"),
        confidence_score=contact.score,
        website=extra.get("website") or contact.domain,
        country_code=extra.get("country_code"),
        source=extra.get("source"),
        linkedin_url=shapes.linkedin_url(contact),
        phone_number=contact.phone,
        twitter=extra.get("twitter"),
        sync_status=None,
        notes=extra.get("notes"),
        sending_status=None,
        last_activity_at=None,
        last_contacted_at=None,
        verification=shapes.contact_verification(contact),
        leads_list=LeadsListRef(
            id=first_list.id if first_list else None,
            name=first_list.name if first_list else None,
            leads_count=first_list.contacts if first_list else None,
        ),
        created_at=shapes.timestamp(contact.created_at),
        updated_at=shapes.timestamp(contact.updated_at),
        **{key: value for key, value in custom.items() if key not in Lead.model_fields},
    )


def list_json(item: ContactList, principal: Principal) -> LeadsList:
    return LeadsList(id=item.id, name=item.name, leads_count=item.contacts, team_id=principal.org_id,
                     created_at=shapes.timestamp(item.created_at))


async def _lists_of(db: store.Database, org_id: int, contacts: list[Contact]) -> dict[int, ContactList]:
    ids = {contact.list_ids[0] for contact in contacts if contact.list_ids}
    found = {list_id: await store.get_list(db, org_id, list_id) for list_id in ids}
    return {list_id: item for list_id, item in found.items() if item is not None}


async def _leads(db: store.Database, org_id: int, contacts: list[Contact]) -> list[Lead]:
    lists = await _lists_of(db, org_id, contacts)
    return [lead_json(contact, lists) for contact in contacts]


# --- reading -------------------------------------------------------------------------------------


async def contacts_window(
    db: store.Database, org_id: int, offset: int, limit: int, **filters: Any
) -> tuple[list[Contact], int]:
    """`limit` contacts from `offset` (Hunter pages by offset, the store by page), and the total."""
    per_page = min(limit, MAX_PER_PAGE)
    first, last = offset // per_page + 1, (offset + limit - 1) // per_page + 1
    items: list[Contact] = []
    total = 0
    for page in range(first, last + 1):
        result = await store.query_contacts(db, org_id, ContactFilters(page=page, per_page=per_page, **filters))
        items.extend(result.items)
        total = result.total
        if not result.has_next:
            break
    start = offset - (first - 1) * per_page
    return items[start : start + limit], total


def _filters(request: Request) -> dict[str, Any]:
    """Hunter's lead filters the contacts query can answer (`lead_list_id` is pyhunter's spelling)."""
    params = request.query_params
    filters: dict[str, Any] = {}
    list_id = params.get("leads_list_id") or params.get("lead_list_id")
    if list_id:
        number = parse_id(list_id)
        if number is None:
            raise ServiceError("must be a number", field="leads_list_id")
        filters["lists"] = [number]
    name = " ".join(part for part in (params.get("first_name"), params.get("last_name")) if part)
    for key, value in (("email", params.get("email")), ("company", params.get("company")),
                       ("query", params.get("query")), ("name", name)):
        if value:
            filters[key] = value
    return filters


@router.get("/leads", summary="List leads", response_model=Envelope[LeadsPage])
async def list_leads(request: Request, principal: Caller, page: Annotated[PageParams, Query()]) -> Any:
    """Filters: `leads_list_id`, `email`, `first_name`, `last_name`, `company`, `query` (contains)."""
    db = services(request).db
    limit, offset = page.limit or 20, page.offset or 0
    contacts, total = await contacts_window(db, principal.org_id, offset, limit, **_filters(request))
    meta = {"count": len(contacts), "total": total, "params": {"limit": limit, "offset": offset}}
    return Envelope(data=LeadsPage(leads=await _leads(db, principal.org_id, contacts)), meta=meta)


async def _contact(request: Request, principal: Principal, lead_id: int) -> Contact:
    contact = await store.get_contact(services(request).db, principal.org_id, lead_id)
    if contact is None or contact.deleted:
        raise NotFound(_LEAD_NOT_FOUND)
    return contact


@router.get("/leads/{lead_id}", summary="A lead", response_model=DataOnly[Lead])
async def get_lead(lead_id: PathId, request: Request, principal: Caller) -> Any:
    contact = await _contact(request, principal, lead_id)
    return DataOnly(data=(await _leads(services(request).db, principal.org_id, [contact]))[0])


# --- writing -------------------------------------------------------------------------------------


async def _lead_body(request: Request) -> LeadFields:
    """The lead from the query string, a JSON body or a form (merged; the body wins)."""
    fields: dict[str, Any] = {k: v for k, v in request.query_params.items() if k != "api_key"}
    fields.update(await read_fields(request))
    return validate(fields, LeadFields)


async def _changes(request: Request, principal: Principal, body: LeadFields, contact: Contact | None) -> dict[str, Any]:
    """The contact fields a lead body sets (only those it gives, for updates)."""
    given = body.model_dump(exclude_none=True)
    changes: dict[str, Any] = {}
    if "email" in given:
        try:
            changes["email"], _, domain = domains.parse_address(given["email"])
        except domains.InvalidAddress as exc:
            raise ServiceError(str(exc), field="email") from None
        changes["domain"] = domain
    for ours, theirs in (("first_name", "first_name"), ("last_name", "last_name"), ("title", "position"),
                         ("company_name", "company"), ("phone", "phone_number"), ("score", "confidence_score")):
        if theirs in given:
            changes[ours] = given[theirs]
    if "linkedin_url" in given:
        try:
            changes["linkedin_id"] = linkedin_id(given["linkedin_url"])
        except PersonError as exc:
            raise ServiceError(str(exc), field="linkedin_url") from None
    first = changes.get("first_name", contact.first_name if contact else None)
    last = changes.get("last_name", contact.last_name if contact else None)
    if contact is None or {"first_name", "last_name"} & set(changes):
        changes["name"] = " ".join(part for part in (first, last) if part) or changes.get("email") or (
            contact.name if contact else "")
        if not changes["name"]:
            raise ServiceError("Give an email, a first_name or a last_name.", field="email")
    extra = _extra(contact) if contact else {}
    extra.update({key: given[key] for key in _EXTRA_FIELDS if key in given})
    if "custom_attributes" in given:
        merged = {**(extra.get("custom_attributes") or {}), **given["custom_attributes"]}
        extra["custom_attributes"] = {key: value for key, value in merged.items() if value not in (None, "")}
    if extra != (_extra(contact) if contact else {}):
        changes["evidence"] = {**((contact.evidence or {}) if contact else {}), EXTRA: extra}
    return changes


async def _list_ids(request: Request, principal: Principal, body: LeadFields) -> list[int]:
    ids = list(body.leads_list_ids or ([body.leads_list_id] if body.leads_list_id is not None else []))
    for list_id in ids:
        if await store.get_list(services(request).db, principal.org_id, list_id) is None:
            raise ServiceError(_LIST_NOT_FOUND, field="leads_list_id")
    return ids


async def _create(request: Request, principal: Principal, body: LeadFields) -> Contact:
    changes = await _changes(request, principal, body, None)
    list_ids = await _list_ids(request, principal, body)
    return await _stored(store.create_contact(
        services(request).db, principal.org_id, owner_id=principal.user_id, source=SOURCE, list_ids=list_ids,
        **changes,
    ))


async def _update(request: Request, principal: Principal, contact: Contact, body: LeadFields) -> Contact:
    db = services(request).db
    changes = await _changes(request, principal, body, contact)
    list_ids = await _list_ids(request, principal, body)
    if changes:
        changed = store.update_contact(db, principal.org_id, contact.id, actor_id=principal.user_id, **changes)
        contact = await _stored(changed) or contact
    for list_id in list_ids:
        await store.add_to_list(db, principal.org_id, list_id, [contact.id], actor_id=principal.user_id)
    return await store.get_contact(db, principal.org_id, contact.id) or contact


async def _lead_response(request: Request, principal: Principal, contact: Contact, status: int) -> JSONResponse:
    lead = (await _leads(services(request).db, principal.org_id, [contact]))[0]
    return JSONResponse({"data": lead.model_dump()}, status_code=status)


@router.post("/leads", summary="Create a lead", status_code=201, response_model=DataOnly[Lead])
async def create_lead(request: Request, principal: Caller) -> Any:
    body = await _lead_body(request)
    return await _lead_response(request, principal, await _create(request, principal, body), 201)


async def contact_by_email(db: store.Database, org_id: int, address: str) -> Contact | None:
    """The organisation's contact with exactly this address (leads are unique by address)."""
    address = address.strip().lower()
    page = await store.query_contacts(db, org_id, ContactFilters(email=address, per_page=50))
    return next((c for c in page.items if (c.email or "").lower() == address), None)


@router.put("/leads", summary="Create or update a lead by email", response_model=DataOnly[Lead])
async def upsert_lead(request: Request, principal: Caller) -> Any:
    """201 when the lead was created, 200 when the lead with this address was updated."""
    body = await _lead_body(request)
    if not body.email:
        raise ServiceError("This field is required.", field="email")
    existing = await contact_by_email(services(request).db, principal.org_id, body.email)
    if existing is None:
        return await _lead_response(request, principal, await _create(request, principal, body), 201)
    return await _lead_response(request, principal, await _update(request, principal, existing, body), 200)


@router.put("/leads/{lead_id}", summary="Update a lead", status_code=204)
async def update_lead(lead_id: PathId, request: Request, principal: Caller) -> Response:
    contact = await _contact(request, principal, lead_id)
    await _update(request, principal, contact, await _lead_body(request))
    return Response(status_code=204)


@router.delete("/leads/{lead_id}", summary="Delete a lead", status_code=204)
async def delete_lead(lead_id: PathId, request: Request, principal: Caller) -> Response:
    await _contact(request, principal, lead_id)
    await store.delete_contact(services(request).db, principal.org_id, lead_id)
    return Response(status_code=204)


# --- leads lists ---------------------------------------------------------------------------------


async def _list(request: Request, principal: Principal, list_id: int) -> ContactList:
    item = await store.get_list(services(request).db, principal.org_id, list_id)
    if item is None:
        raise NotFound(_LIST_NOT_FOUND)
    return item


async def list_lists(request: Request, principal: Caller, page: Annotated[PageParams, Query()]) -> Any:
    limit, offset = min(page.limit or 20, 100), page.offset or 0
    lists = await store.query_lists(services(request).db, principal.org_id, order_by="id")
    shown = [list_json(item, principal) for item in lists[offset : offset + limit]]
    return Envelope(data=LeadsLists(leads_lists=shown),
                    meta={"total": len(lists), "params": {"limit": limit, "offset": offset}})


async def get_list(list_id: PathId, request: Request, principal: Caller, page: Annotated[PageParams, Query()]) -> Any:
    """The list and its leads (`limit`, `offset` page through them)."""
    item = await _list(request, principal, list_id)
    db = services(request).db
    limit, offset = page.limit or 20, page.offset or 0
    contacts, total = await contacts_window(db, principal.org_id, offset, limit, lists=[list_id])
    data = LeadsListWithLeads(**list_json(item, principal).model_dump(), leads=await _leads(db, principal.org_id, contacts))
    return Envelope(data=data, meta={"total": total, "params": {"limit": limit, "offset": offset}})


async def create_list(request: Request, principal: Caller) -> Any:
    body = validate(await read_fields(request), ListFields)
    item = await _stored(store.create_list(services(request).db, principal.org_id, body.name))
    return JSONResponse({"data": list_json(item, principal).model_dump()}, status_code=201)


async def update_list(list_id: PathId, request: Request, principal: Caller) -> Response:
    await _list(request, principal, list_id)
    body = validate(await read_fields(request), ListFields)
    await _stored(store.update_list(services(request).db, principal.org_id, list_id, name=body.name))
    return Response(status_code=204)


async def delete_list(list_id: PathId, request: Request, principal: Caller) -> Response:
    await _list(request, principal, list_id)
    await store.delete_list(services(request).db, principal.org_id, list_id, actor_id=principal.user_id)
    return Response(status_code=204)


for _path, _shown in (("/leads_lists", True), ("/leads-lists", False)):
    router.add_api_route(_path, list_lists, methods=["GET"], summary="Leads lists",
                         response_model=Envelope[LeadsLists], include_in_schema=_shown)
    router.add_api_route(_path, create_list, methods=["POST"], summary="Create a leads list", status_code=201,
                         response_model=DataOnly[LeadsList], include_in_schema=_shown)
    router.add_api_route(_path + "/{list_id}", get_list, methods=["GET"], summary="A leads list and its leads",
                         response_model=Envelope[LeadsListWithLeads], include_in_schema=_shown)
    router.add_api_route(_path + "/{list_id}", update_list, methods=["PUT"], summary="Rename a leads list",
                         status_code=204, include_in_schema=_shown)
    router.add_api_route(_path + "/{list_id}", delete_list, methods=["DELETE"], summary="Delete a leads list",
                         status_code=204, include_in_schema=_shown)
