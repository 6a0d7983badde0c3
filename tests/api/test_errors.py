"""Each dialect's error bodies, from one error vocabulary."""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel, ValidationError

from mailsleuth.api.errors import Dialect, dialect_for, field_errors, leadgenius_message, render
from mailsleuth.service.errors import FieldErrors, NotFound, PaymentRequired, RateLimited, ServiceError, Unauthorized


def body(dialect: Dialect, error: ServiceError) -> tuple[int, dict]:
    response = render(dialect, error)
    return response.status_code, json.loads(response.body)


@pytest.mark.parametrize(
    ("path", "dialect"),
    [
        ("/2018-01-08/contacts/", Dialect.VOILANORBERT),
        ("/emailguess/v1/submit", Dialect.LEADGENIUS),
        ("/v1/emailguess/bulk/job/status/1", Dialect.LEADGENIUS),
        ("/keys/verifyKey", Dialect.KASPR),
        ("/company/domainPattern", Dialect.KASPR),
        ("/profile/profile", Dialect.KASPR),
        ("/v1/find", Dialect.NATIVE),
        ("/", Dialect.NATIVE),
    ],
)
def test_dialect_for(path: str, dialect: Dialect) -> None:
    assert dialect_for(path) is dialect


def test_voilanorbert_shapes() -> None:
    assert body(Dialect.VOILANORBERT, RateLimited("slow down")) == (429, {"code": 429, "error": "slow down"})
    assert body(Dialect.VOILANORBERT, PaymentRequired("no credits")) == (402, {"code": 402, "error": "no credits"})
    assert body(Dialect.VOILANORBERT, ServiceError("bad", field="domain")) == (400, {"domain": ["bad"]})
    fields = {"name": ["This field is required."], "domain": ["x"]}
    assert body(Dialect.VOILANORBERT, FieldErrors(fields)) == (400, fields)


def test_leadgenius_shapes() -> None:
    assert body(Dialect.LEADGENIUS, Unauthorized("key"))[0] == 403
    assert body(Dialect.LEADGENIUS, RateLimited("slow")) == (403, {"status": 403, "error": "slow"})
    required = FieldErrors({"first": ["This field is required."]})
    assert body(Dialect.LEADGENIUS, required) == (400, {"message": "First name is required"})
    assert body(Dialect.LEADGENIUS, NotFound("gone")) == (404, {"status": 404, "error": "gone"})


def test_other_dialects_name_the_field() -> None:
    for dialect in (Dialect.KASPR, Dialect.NATIVE):
        expected = {"code": 400, "error": "bad", "field": "domain"}
        assert body(dialect, ServiceError("bad", field="domain")) == (400, expected)
        assert body(dialect, Unauthorized("who")) == (401, {"code": 401, "error": "who"})


class Model(BaseModel):
    name: str
    list_id: int | None = None


def test_field_errors_use_the_vendor_wording() -> None:
    with pytest.raises(ValidationError) as caught:
        Model.model_validate({"list_id": "x"})
    errors = field_errors(caught.value)
    assert errors["name"] == ["This field is required."]
    assert list(errors) == ["name", "list_id"] and errors["list_id"][0].endswith(".")


def test_leadgenius_message() -> None:
    assert leadgenius_message("last", "This field is required.") == "Last name is required"
    assert leadgenius_message("domain", "not a domain.") == "Domain: not a domain"
