"""Lists and contact status in the native API: what a user organises found people with.

Thin over the store's lists: create, rename, delete, add contacts by id, export one list as CSV
(cells neutralised against spreadsheet formulas), and set a contact's status
(LEAD, CONTACTED, WON, LOST).
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from mailsleuth import store
from mailsleuth.api.auth import guard, services
from mailsleuth.api.bodies import Text, body_doc, parse_body
from mailsleuth.api.native.routes import contact_json
from mailsleuth.api.params import MAX_ID, PathId
from mailsleuth.api.native.dialect import DEFAULT, DIALECT
from mailsleuth.service.csvfiles import neutralise
from mailsleuth.service.errors import NotFound, ServiceError
from mailsleuth.store import ContactFilters, ContactList, ContactStatus, Principal, to_ms

router = DIALECT.router(prefix="/v1", tags=["native"])

Caller = Annotated[Principal, Depends(guard(DIALECT, DEFAULT))]

EXPORT_COLUMNS = ("id", "name", "first_name", "last_name", "email", "verdict", "score", "domain", "company",
                  "status", "created")
EXPORT_PAGE = 500


def list_json(item: ContactList) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "contacts": item.contacts, "created": to_ms(item.created_at)}


class ListBody(BaseModel):
    name: Text


class MembersBody(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=1000)


class ContactChange(BaseModel):
    status: ContactStatus


@contextmanager
def _named() -> Iterator[None]:
    """The store's word on a bad list name, as the field error it is."""
    try:
        yield
    except ValueError as exc:
        raise ServiceError(str(exc), field="name") from None


async def _list(request: Request, principal: Principal, list_id: int) -> ContactList:
    item = await store.get_list(services(request).db, principal.org_id, list_id)
    if item is None:
        raise NotFound("No such list.")
    return item


@router.get("/lists", summary="The organisation's lists, newest first")
async def get_lists(request: Request, principal: Caller) -> dict[str, Any]:
    return {"results": [list_json(item) for item in await store.query_lists(services(request).db, principal.org_id)]}


@router.post("/lists", summary="Create a list", status_code=201, openapi_extra=body_doc(ListBody, form=False))
async def create_list(request: Request, principal: Caller) -> dict[str, Any]:
    body = await parse_body(request, ListBody)
    with _named():
        item = await store.create_list(services(request).db, principal.org_id, body.name)
    return list_json(item)


@router.patch("/lists/{list_id}", summary="Rename a list", openapi_extra=body_doc(ListBody, form=False))
async def rename_list(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    body = await parse_body(request, ListBody)
    await _list(request, principal, list_id)
    with _named():
        item = await store.update_list(services(request).db, principal.org_id, list_id, name=body.name)
    return list_json(item or await _list(request, principal, list_id))


@router.delete("/lists/{list_id}", summary="Delete a list (its contacts stay)", status_code=204)
async def delete_list(list_id: PathId, request: Request, principal: Caller) -> Response:
    if not await store.delete_list(services(request).db, principal.org_id, list_id, actor_id=principal.user_id):
        raise NotFound("No such list.")
    return Response(status_code=204)


@router.post("/lists/{list_id}/contacts", summary="Add contacts to a list",
             openapi_extra=body_doc(MembersBody, form=False))
async def add_contacts(list_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    """`ids`: the organisation's contact ids (others are ignored)."""
    body = await parse_body(request, MembersBody)
    item = await store.add_to_list(
        services(request).db, principal.org_id, list_id, body.ids, actor_id=principal.user_id
    )
    if item is None:
        raise NotFound("No such list.")
    return list_json(item)


@router.get("/lists/{list_id}/export", summary="A list's contacts as CSV")
async def export_list(list_id: PathId, request: Request, principal: Caller) -> StreamingResponse:
    item = await _list(request, principal, list_id)
    db = services(request).db

    async def lines() -> AsyncIterator[str]:
        yield _csv_line(EXPORT_COLUMNS)
        page = 1
        while True:
            found = await store.query_contacts(
                db, principal.org_id, ContactFilters(lists=[list_id], page=page, per_page=EXPORT_PAGE, order_by="id")
            )
            for contact in found.items:
                shown = contact_json(contact)
                yield _csv_line([shown[column] for column in EXPORT_COLUMNS])
            if not found.has_next:
                return
            page += 1

    filename = f"list-{item.id}.csv"
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _csv_line(cells: Any) -> str:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(cell) for cell in cells])
    return out.getvalue()


@router.patch("/contacts/{contact_id}", summary="Set a contact's status",
              openapi_extra=body_doc(ContactChange, form=False))
async def change_contact(contact_id: PathId, request: Request, principal: Caller) -> dict[str, Any]:
    """`status`: LEAD, CONTACTED, WON or LOST."""
    body = await parse_body(request, ContactChange)
    contact = await store.update_contact(
        services(request).db, principal.org_id, contact_id, actor_id=principal.user_id, status=body.status
    )
    if contact is None:
        raise NotFound("No such contact.")
    return contact_json(contact)
