"""Property tests: the engine's parsers of outside text either answer or refuse, never crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailsleuth.engine.domains import InvalidAddress, InvalidDomain, normalise_domain, parse_address
from mailsleuth.engine.egress import is_public_address
from mailsleuth.engine.names import InvalidName, name_or_none, parse_name

FAST = settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text weighted towards what breaks parsers: separators, dots, at signs, controls, bidi, odd digits.
TRICKY = st.lists(
    st.sampled_from(list("ab.-@ _'é²\x00\n\u202e\ud800ÄΩ") + ["xn--", "..", "com", "Dr.", "van"]), max_size=20
).map("".join) | st.text(max_size=40)


@FAST
@given(TRICKY)
def test_domains_are_normalised_or_refused(text: str) -> None:
    try:
        domain = normalise_domain(text)
    except InvalidDomain:
        return
    assert domain.isascii() and domain == domain.lower() and len(domain) <= 253
    assert not any(ord(ch) < 33 or ord(ch) == 127 for ch in domain)
    assert normalise_domain(domain) == domain  # idempotent


@FAST
@given(TRICKY, TRICKY)
def test_addresses_are_parsed_or_refused(local: str, domain: str) -> None:
    try:
        parsed = parse_address(f"{local}@{domain}")
    except (InvalidAddress, InvalidDomain):
        return
    assert all(isinstance(part, str) for part in parsed)
    assert not any(ord(ch) < 32 or ord(ch) == 127 for part in parsed for ch in part)  # never onto an SMTP line


@FAST
@given(TRICKY)
def test_names_are_parsed_or_refused(text: str) -> None:
    try:
        name = parse_name(text)
    except InvalidName:
        return
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in name.full)
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in name.full)


SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@FAST
@given(TRICKY, SURROGATES, TRICKY, st.sampled_from(["full", "first", "middle", "last"]))
def test_names_with_a_lone_surrogate_are_refused_before_transliteration(
    before: str, surrogate: str, after: str, where: str
) -> None:
    """A lone surrogate anywhere, in a full name or any part, is the parser's refusal (and
    `name_or_none`'s None): never a name transliterated around it."""
    text = f"Jane {before}{surrogate}{after} Doe"
    with pytest.raises(InvalidName, match="surrogate|control character|longer than"):
        if where == "full":
            parse_name(text)
        else:
            parse_name(**{"first": "Jane", "last": "Doe", where: text})
    assert name_or_none(text) is None


@FAST
@given(st.ip_addresses())
def test_an_address_judged_public_is_global(address: object) -> None:
    if is_public_address(str(address)):
        assert address.is_global and not address.is_multicast  # type: ignore[attr-defined]
