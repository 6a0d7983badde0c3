"""Property tests: the engine's parsers of outside text either answer or refuse, never crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from mailsleuth.engine import domains
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


def _outcome(parse: Callable[[str], tuple[str, str, str]], value: str) -> tuple[str, str, str] | str:
    try:
        return parse(value)
    except InvalidAddress as exc:
        return f"refused: {exc}"


# Addresses shaped like bulk rows (what parse_address's short path takes), with the edges that
# email-validator and the host rules refuse: leading, trailing and doubled dots and hyphens, long
# local parts and labels, IDNA prefixes, numeric and reserved top-level names, RFC 2142 names.
_ATEXT = "abcXYZ019!#$%&'*+/=?^_`{|}~-"
_ATOMS = st.text(st.sampled_from(_ATEXT), min_size=1, max_size=20)
_LOCALS = st.one_of(
    st.lists(_ATOMS, min_size=1, max_size=4).map(".".join),  # valid dot-atoms, up to and past 64
    st.text(st.sampled_from(_ATEXT + "."), min_size=0, max_size=70),
    st.integers(50, 70).map(lambda n: "l" * n),
    st.sampled_from(["Info", "POSTMASTER", "sales", "www", "jane.doe", "a" * 64, "a" * 65, ".a", "a..b"]),
)
_LABELS = st.one_of(
    st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?", fullmatch=True),  # valid labels
    st.text(st.sampled_from("abzAZ09-"), min_size=0, max_size=12),
    st.sampled_from(["xn--mnchen-3ya", "xn--", "xn--zz", "a" * 63, "a" * 64, "localhost", "123", "com"]),
)
_DOMAINS = st.one_of(
    st.tuples(st.lists(_LABELS, min_size=1, max_size=5), st.sampled_from(["test", "com", "de", "museum", ""])).map(
        lambda parts: ".".join([*parts[0], parts[1]] if parts[1] else parts[0])
    ),
    st.integers(0, 100).map(lambda k: ("b" * 62 + ".") * 2 + "c" * k + ".test"),  # near 254 in all
    st.sampled_from(["a." * 126 + "test", "mem1.test.", "MEM1.Test", "x" * 250 + ".test", ".test", "a.b-.test"]),
)


@settings(max_examples=1500, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_LOCALS, _DOMAINS, st.sampled_from(["", " ", "  "]))
@example("l" * 64, ("b" * 62 + ".") * 2 + "c" * 58 + ".test", "")  # 254 characters: the longest allowed
@example("l" * 64, ("b" * 62 + ".") * 2 + "c" * 59 + ".test", " ")  # 255
@example("l" * 63, ("xn--mnchen-3ya" + ".") * 12 + "c" * 5 + ".test", "")  # 254 in A-labels
@example("l" * 64, ("xn--mnchen-3ya" + ".") * 12 + "c" * 5 + ".test", "")  # 255
def test_the_short_path_answers_as_email_validator_does(local: str, domain: str, pad: str) -> None:
    value = f"{pad}{local}@{domain}{pad}"
    assert _outcome(parse_address, value) == _outcome(domains._parse_address_fully, value)


@FAST
@given(TRICKY, TRICKY)
def test_any_value_is_answered_as_email_validator_does(local: str, domain: str) -> None:
    value = f"{local}@{domain}"
    assert _outcome(parse_address, value) == _outcome(domains._parse_address_fully, value)
