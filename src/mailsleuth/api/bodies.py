"""Request bodies the way the vendors' own clients send them.

VoilaNorbert's snippets post form fields, its docs also show JSON; LeadGenius's snippets send JSON as
raw `data=` with no content type. So bodies are read by sniffing, then validated with a pydantic model,
and the OpenAPI document is told about both encodings.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError

from mailsleuth.api.errors import field_errors
from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError

Model = TypeVar("Model", bound=BaseModel)

MAX_BODY = 1_000_000


async def read_fields(request: Request) -> dict[str, Any]:
    """The body as a flat mapping, whatever its encoding (JSON object, urlencoded or multipart form)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ServiceError("Request body too large.", status=413)
    text = raw.decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    if content_type == "application/json" or text.startswith(("{", "[")):
        return json_object(text)
    return dict(parse_qsl(text, keep_blank_values=True))


def json_object(text: str) -> dict[str, Any]:
    """Parse a body that must be one JSON object, with the errors every dialect shares."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ServiceError("Malformed JSON body.") from None
    if not isinstance(data, dict):
        raise ServiceError("The body must be a JSON object.")
    return data


async def parse_body(request: Request, model: type[Model]) -> Model:
    """Validate the body against `model`; invalid fields raise the dialect's field errors."""
    return validate(await read_fields(request), model)


def validate(data: dict[str, Any], model: type[Model]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc)) from None


def body_doc(model: type[BaseModel], *, form: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a body read with `parse_body` (JSON, and form when accepted)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"requestBody": {"required": True, "content": content}}


def _required(value: str) -> str:
    if not value.strip():
        raise ValueError(REQUIRED)
    return value


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Text = Annotated[str, AfterValidator(_required)]
"""A required string; blank counts as missing ("This field is required.")."""
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]
OptionalInt = Annotated[int | None, BeforeValidator(_blank_is_none)]
