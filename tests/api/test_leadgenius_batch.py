"""LeadGenius bulk submissions checked in full before a job exists."""

from __future__ import annotations

from typing import Any

import pytest

from mailsleuth.api.leadgenius.batch import parse_batch
from mailsleuth.service.errors import ServiceError


def test_lg_bulk_spec_example() -> None:
    body = {
        "data": [{"first": "chris", "last": "george", "middle": "", "domain": "foo.com"}],
        "options": {"use_smtp_sniff": True},
        "webhook_url": "http://myawesomewebhook/callback",
    }
    parsed = parse_batch(body)
    assert parsed.people[0].to_input() == {"first": "chris", "middle": "", "last": "george", "domain": "foo.com"}
    assert parsed.use_smtp_sniff is True and parsed.use_catch_all is False
    assert parsed.webhook_url == "http://myawesomewebhook/callback"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The body must be a JSON object"),
        ({}, "data is required: a list of {first, middle, last, domain} objects"),
        ({"data": []}, "data is required: a list of {first, middle, last, domain} objects"),
        ({"data": ["x"]}, "data[0] must be an object with first, middle, last and domain"),
        ({"data": [{"first": "a", "last": "b", "domain": "c.test"}, {"last": "b", "domain": "c.test"}]},
         "data[1]: First name is required"),
        ({"data": [{"first": "a", "last": " ", "domain": "c.test"}]}, "data[0]: Last name is required"),
        ({"data": [{"first": "a\r\n", "last": "b", "domain": "c.test"}]},
         "data[0]: First name contains a control character or is too long"),
        ({"data": [{"first": "a", "last": "b", "domain": "c.test"}], "options": {"use_catch_all": "maybe"}},
         "options.use_catch_all must be true or false"),
    ],
)
def test_lg_bulk_errors(body: Any, message: str) -> None:
    with pytest.raises(ServiceError) as caught:
        parse_batch(body)
    assert caught.value.message == message and caught.value.field is None
