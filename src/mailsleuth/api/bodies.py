"""Request bodies the way the vendors' own clients send them.

VoilaNorbert's snippets post form fields, its docs also show JSON; LeadGenius's snippets send JSON as
raw `data=` with no content type. So bodies are read by sniffing, then validated with a pydantic model,
and the OpenAPI document is told about both encodings. Sizes are limited while reading by
`api.bodylimit` (1 MB unless a route declares more); the upload reader spools to disk as it reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Annotated, Any, TypeVar
from urllib.parse import parse_qsl, unquote_to_bytes

from fastapi import Request
from pydantic import AfterValidator, BaseModel, BeforeValidator, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from mailsleuth.api.errors import field_errors
from mailsleuth.api.jsonfields import MALFORMED, NOT_AN_OBJECT, read_json_fields
from mailsleuth.service.errors import REQUIRED, FieldErrors, ServiceError
from mailsleuth.service.inputs import UNSAFE_TEXT, unsafe
from mailsleuth.service.uploads import MAX_UPLOAD_BYTES, Spool

Model = TypeVar("Model", bound=BaseModel)
Fields = dict[str, Any]  # str values, Spool for the file fields, JSON values as sent

MAX_FORM_VALUE = 64 * 1024  # characters of a form field that is not a file
_READ = 64 * 1024


async def read_fields(request: Request) -> dict[str, Any]:
    """The body as a flat mapping, whatever its encoding (JSON object, urlencoded or multipart form)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        return {key: value for key, value in form.items() if isinstance(value, str)}
    raw = await request.body()
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
        raise ServiceError(MALFORMED) from None
    if not isinstance(data, dict):
        raise ServiceError(NOT_AN_OBJECT)
    return data


async def parse_body(request: Request, model: type[Model]) -> Model:
    """Validate the body against `model`; invalid fields raise the dialect's field errors."""
    return validate(await read_fields(request), model)


def validate(data: dict[str, Any], model: type[Model]) -> Model:
    """`data` as `model`; a string anywhere in a field holding a character no input may carry
    (`service.inputs`) is that field's error, before pydantic sees it."""
    refused = {str(key): [UNSAFE_TEXT] for key, value in data.items() if _holds_unsafe(value)}
    if refused:
        raise FieldErrors(refused)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc)) from None


def _holds_unsafe(value: Any) -> bool:
    if isinstance(value, str):
        return unsafe(value)
    if isinstance(value, dict):
        return any(_holds_unsafe(k) or _holds_unsafe(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_unsafe(item) for item in value)
    return False


def body_doc(model: type[BaseModel], *, form: bool = True) -> dict[str, Any]:
    """`openapi_extra` documenting a body read with `parse_body` (JSON, and form when accepted)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"requestBody": {"required": True, "content": content}}


def required(value: str) -> str:
    if not value.strip():
        raise ValueError(REQUIRED)
    return value


def blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Text = Annotated[str, AfterValidator(required)]
"""A required string; blank counts as missing ("This field is required.")."""
OptionalText = Annotated[str | None, BeforeValidator(blank_is_none)]
OptionalInt = Annotated[int | None, BeforeValidator(blank_is_none)]


async def read_upload_fields(request: Request, *, files: tuple[str, ...]) -> Fields:
    """The body's fields; the ones named in `files` become spools (from a text field or a file part).

    The body goes to a spool (disk past 1 MB) as it arrives, and a urlencoded form or a JSON object
    (`api.jsonfields`) is decoded from there field by field, so a 100 MB file costs no more memory
    than a small one. Text is kept
    byte-exact (invalid UTF-8 survives as surrogates) so the upload reader can report a badly
    encoded file with its line instead of silently replacing characters.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        fields = await _multipart(request)
    else:
        body = Spool(limit=2 * MAX_UPLOAD_BYTES + 1024 * 1024)
        try:
            async for chunk in request.stream():
                body.write(chunk)
            body.file.seek(0)
            if content_type == "application/json" or _first_byte(body.file) == b"{":
                fields = read_json_fields(body.file, files, max_value=MAX_FORM_VALUE)
            else:
                fields = _form(body.file, files)
        finally:
            body.close()
    for name in files:
        value = fields.get(name)
        if isinstance(value, str):
            fields[name] = Spool.of(value.encode("utf-8", errors="surrogateescape")) if value.strip() else None
    return fields


def _first_byte(file: IO[bytes]) -> bytes:
    """The first byte that is not whitespace (the file is left at its start)."""
    while chunk := file.read(_READ):
        stripped = chunk.lstrip()
        if stripped:
            file.seek(0)
            return stripped[:1]
    file.seek(0)
    return b""


async def _multipart(request: Request) -> Fields:
    parser = MultiPartParser(request.headers, request.stream(), max_part_size=MAX_UPLOAD_BYTES + 1)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise ServiceError(f"Malformed multipart body: {exc}") from None
    fields: Fields = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                fields[key] = Spool.of(iter(lambda f=value.file: f.read(_READ), b""))
            else:
                fields[key] = value
    finally:
        await form.close()
    return fields


def _form(file: IO[bytes], files: tuple[str, ...]) -> Fields:
    """A urlencoded body read from `file`: values of `files` are decoded straight into spools."""
    fields: Fields = {}
    for raw_name, value_chunks in _pairs(file):
        name = _unquote(raw_name).decode("utf-8", errors="surrogateescape")
        if name in files:
            spool = Spool()
            for piece in value_chunks:
                spool.write(piece)
            previous = fields.get(name)
            if isinstance(previous, Spool):
                previous.close()
            fields[name] = spool if not spool.is_blank() else None
            continue
        value = bytearray()
        for piece in value_chunks:
            value += piece
            if len(value) > MAX_FORM_VALUE:
                raise ServiceError("Ensure this field has no more than 65536 characters.", field=name or "body")
        fields[name] = value.decode("utf-8", errors="surrogateescape")
    return fields


def _unquote(data: bytes) -> bytes:
    return unquote_to_bytes(data.replace(b"+", b" "))


def _pairs(file: IO[bytes]) -> Iterator[tuple[bytes, Iterator[bytes]]]:
    """(raw name, decoded value pieces) per `name=value` of a urlencoded stream; each value's pieces
    must be consumed before the next pair is asked for."""
    reader = _FormReader(file)
    while (name := reader.name()) is not None:
        yield name, reader.value()


class _FormReader:
    """Splits a urlencoded stream on `&` and `=` without holding a value whole."""

    def __init__(self, file: IO[bytes]) -> None:
        self._file = file
        self._buffer = b""
        self._eof = False
        self._in_value = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        chunk = self._file.read(_READ)
        self._eof = not chunk
        self._buffer += chunk
        return bool(chunk)

    def name(self) -> bytes | None:
        """The next pair's raw name (bounded), or None at the end; skips empty pairs."""
        while True:
            cuts = [i for i in (self._buffer.find(b"="), self._buffer.find(b"&")) if i >= 0]
            if cuts:
                index = min(cuts)
                name, self._in_value = self._buffer[:index], self._buffer[index : index + 1] == b"="
                self._buffer = self._buffer[index + 1 :]
                if name or self._in_value:
                    return name
            elif len(self._buffer) > MAX_FORM_VALUE:
                raise ServiceError("A form field name is too long.")
            elif not self._fill():
                name, self._buffer, self._in_value = self._buffer, b"", False
                return name or None

    def value(self) -> Iterator[bytes]:
        """The current pair's value, percent-decoded, in pieces (an escape split across reads is kept)."""
        carry = b""
        while self._in_value:
            end = self._buffer.find(b"&")
            if end >= 0:
                data, self._buffer, self._in_value = carry + self._buffer[:end], self._buffer[end + 1 :], False
                yield _unquote(data)
                return
            data, self._buffer = carry + self._buffer, b""
            cut = data.rfind(b"%", max(0, len(data) - 2))
            data, carry = (data[:cut], data[cut:]) if cut >= 0 else (data, b"")
            if data:
                yield _unquote(data)
            if not self._fill():
                self._in_value = False
        if carry:
            yield _unquote(carry)
