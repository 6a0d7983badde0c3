"""Importing people: CSV (or JSON) rows -> clean contacts of an organisation.

Exports from CRMs and LinkedIn tools name their columns in many ways, so columns are found by
alias; LinkedIn profile URLs become ids and phones become E.164 (`phonenumbers`), with the country
taken from ``--default-region`` or the row's location. Valid rows are imported even when others are
bad; each bad row is reported with its line number. Imported addresses teach their domain's
convention (once per address).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from typing import IO, Any
from urllib.parse import unquote, urlsplit

import phonenumbers
from phonenumbers.geodata.locale import LOCALE_DATA
from anyascii import anyascii

from mailsleuth.engine import domains

from mailsleuth import store
from mailsleuth.service.csvfiles import CsvProblem, csv_rows, read_header
from mailsleuth.service.inputs import unsafe
from mailsleuth.engine.names import InvalidName, PersonName, parse_name
from mailsleuth.engine.patterns import Convention
from mailsleuth.store import Database
from mailsleuth.store import intelligence as knowledge

__all__ = ["BadRow", "ImportReport", "Parsed", "Person", "PersonError", "linkedin_id",
           "parse_people_csv", "parse_people_records", "phone_e164", "region_for", "store_people"]

# Accepted spellings of each field, compared after lower-casing and turning spaces and dashes into "_".
ALIASES: Mapping[str, tuple[str, ...]] = {
    "name": ("name", "full_name", "fullname", "person", "contact"),
    "first": ("first", "first_name", "firstname", "given_name"),
    "last": ("last", "last_name", "lastname", "surname", "family_name"),
    "company": ("company", "company_name", "organization", "organisation", "employer"),
    "domain": ("domain", "company_domain", "website", "url", "company_website"),
    "title": ("title", "job_title", "position", "job", "role"),
    "linkedin": ("linkedin", "linkedin_url", "linkedin_id", "linkedin_profile", "linkedin_profile_url", "profile_url"),
    "phone": ("phone", "phone_number", "mobile", "mobile_phone", "telephone", "tel"),
    "location": ("location", "city", "address", "country"),
    "email": ("email", "e_mail", "email_address", "mail", "work_email"),
}
_LINKEDIN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_%-]{1,99}")
_LINKEDIN_PATH = re.compile(r"^/(?:in|pub)/([^/?#]+)")
_COUNTRY_LANGUAGES = ("en", "fr", "de", "es", "it", "nl", "pt")


class PersonError(ValueError):
    """A row that cannot be imported; the message says which field and why."""


@dataclass(frozen=True)
class Person:
    line: int
    name: PersonName
    company: str | None = None
    domain: str | None = None
    title: str | None = None
    linkedin_id: str | None = None
    phone: str | None = None  # E.164
    location: str | None = None
    email: str | None = None

    def fields(self) -> dict[str, Any]:
        """The contact fields (`store.intelligence.save_people`)."""
        return {
            "name": self.name.full,
            "first_name": self.name.first or None,
            "last_name": self.name.last or None,
            "company_name": self.company,
            "domain": self.domain,
            "title": self.title,
            "linkedin_id": self.linkedin_id,
            "phone": self.phone,
            "location": self.location,
            "email": self.email,
        }


@dataclass(frozen=True)
class BadRow:
    line: int
    error: str


@dataclass
class Parsed:
    people: list[Person] = field(default_factory=list)
    bad: list[BadRow] = field(default_factory=list)


@dataclass(frozen=True)
class ImportReport:
    created: int
    updated: int
    learned: int  # addresses that fit a convention: evidence for this organisation's finds
    bad: list[BadRow]

    def to_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "updated": self.updated,
            "learned": self.learned,
            "errors": [{"line": b.line, "error": b.error} for b in self.bad],
        }


# --- single values -------------------------------------------------------------------------------


def _text(value: object, what: str, limit: int = 300) -> str | None:
    text = " ".join(str(value if value is not None else "").split()) if value is not None else ""
    if unsafe(str(value or "")):
        raise PersonError(f"{what}: contains control characters or bidirectional overrides")
    if len(text) > limit:
        raise PersonError(f"{what}: longer than {limit} characters")
    return text or None


def linkedin_id(value: str) -> str:
    """A LinkedIn public id from an id or a profile URL (linkedin.com/in/<id>, any subdomain)."""
    value = value.strip()
    if "linkedin." in value.lower() or value.startswith("/"):
        url = value if "://" in value or value.startswith("/") else f"https://{value}"
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host and not (host == "linkedin.com" or host.endswith(".linkedin.com")):
            raise PersonError(f"linkedin: not a LinkedIn profile URL: {value!r}")
        match = _LINKEDIN_PATH.match(parts.path)
        if match is None:
            raise PersonError(f"linkedin: no /in/<id> in {value!r}")
        value = unquote(match.group(1))
    if not _LINKEDIN_ID.fullmatch(value) and not (2 <= len(value) <= 100 and all(ch.isalnum() or ch in "-_" for ch in value)):
        raise PersonError(f"linkedin: not a profile id or URL: {value!r}")
    return value


@cache
def _countries() -> dict[str, str]:
    """Country names (in a few languages, accents folded) and ISO codes -> region code."""
    names: dict[str, str] = {}
    for region, by_language in LOCALE_DATA.items():
        names[region.lower()] = region
        for language in _COUNTRY_LANGUAGES:
            name = by_language.get(language)
            while name and name.startswith("*"):  # "*xx": the same as language xx
                name = by_language.get(name[1:])
            if name:
                names.setdefault(anyascii(name).lower(), region)
    names.update({"usa": "US", "uk": "GB", "england": "GB", "scotland": "GB", "wales": "GB"})
    return names


def region_for(location: str | None) -> str | None:
    """The phone region a location names: its last part ("Paris, France" -> FR, "Austin, TX, USA" -> US)."""
    if not location:
        return None
    last = anyascii(location.split(",")[-1]).strip().lower().rstrip(".")
    region = _countries().get(last)
    return region if region in phonenumbers.SUPPORTED_REGIONS else None


def phone_e164(value: str, region: str | None) -> str:
    """A phone number in E.164 ("+33142685300"); ``region`` reads numbers written without +country."""
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE:
            raise PersonError(
                f"phone: {value!r} has no country code: give --default-region or a location with a country"
            ) from None
        raise PersonError(f"phone: not a phone number: {value!r}") from None
    if not phonenumbers.is_valid_number(number):
        raise PersonError(f"phone: not a valid number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- rows ----------------------------------------------------------------------------------------


def _key(header: str) -> str:
    return re.sub(r"[\s-]+", "_", header.strip().lower())


def columns(header: Iterable[str]) -> dict[str, str]:
    """Field -> the header cell providing it. Raises CsvProblem when no column gives a name."""
    present = {_key(h): h for h in header}
    found = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in present:
                found[name] = present[alias]
                break
    if "name" not in found and not {"first", "last"} & found.keys():
        shown = ", ".join(h for h in header) or "(none)"
        raise CsvProblem(f"no name column: expected name/full_name or first/last; the header has {shown}")
    return found


def person(record: Mapping[str, str], line: int, *, default_region: str | None = None) -> Person:
    """One row (field -> value, see ALIASES) as a Person. Raises PersonError."""

    def get(key: str, what: str, limit: int = 300) -> str | None:
        return _text(record.get(key), what, limit)

    try:
        first, last = get("first", "first"), get("last", "last")
        # CRM exports often carry full_name beside first/last: the parts keep the split, so they win.
        full = None if (first or last) else get("name", "name")
        name = parse_name(full, first=first, last=last)
    except InvalidName as exc:
        raise PersonError(f"name: {exc}") from None
    email = get("email", "email", 320)
    if email:
        try:
            email = domains.parse_address(email)[0].lower()
        except domains.InvalidAddress as exc:
            raise PersonError(f"email: {exc}") from None
    domain = get("domain", "domain", 2048)
    if domain:
        try:
            domain = domains.normalise_domain(domain)
        except domains.InvalidDomain as exc:
            raise PersonError(f"domain: {exc}") from None
    elif email and not domains.is_free_provider(email.rpartition("@")[2]):
        domain = email.rpartition("@")[2]
    location = get("location", "location")
    raw_phone = get("phone", "phone", 64)
    raw_linkedin = get("linkedin", "linkedin", 2048)
    return Person(
        line=line,
        name=name,
        company=get("company", "company"),
        domain=domain,
        title=get("title", "title"),
        linkedin_id=linkedin_id(raw_linkedin) if raw_linkedin else None,
        phone=phone_e164(raw_phone, default_region or region_for(location)) if raw_phone else None,
        location=location,
        email=email,
    )


def _collect(records: Iterator[tuple[int, Mapping[str, str]]], default_region: str | None) -> Parsed:
    parsed = Parsed()
    for line, record in records:
        try:
            parsed.people.append(person(record, line, default_region=default_region))
        except PersonError as exc:
            parsed.bad.append(BadRow(line, str(exc)))
    return parsed


def parse_people_csv(stream: IO[str], *, default_region: str | None = None, source: str = "input") -> Parsed:
    """Read a people CSV; bad rows are collected with their line numbers (as an editor shows them).

    Raises CsvProblem when the file cannot be read or its header has no name column.
    """
    reader = csv_rows(stream, source)
    header = read_header(reader, source)
    index = {name: header.index(cell) for name, cell in columns(header).items()}

    def records() -> Iterator[tuple[int, Mapping[str, str]]]:
        line = reader.line_num
        try:
            for row in reader:
                if any(cell.strip() for cell in row):
                    yield line + 1, {name: row[i] for name, i in index.items() if i < len(row)}
                line = reader.line_num
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvProblem(f"{source}, line {line + 1}: {exc}") from None

    return _collect(records(), default_region)


def parse_people_records(records: Iterable[Mapping[str, Any]], *, default_region: str | None = None) -> Parsed:
    """JSON objects (keys as CSV columns); "line" numbers count the objects from 1."""

    def numbered() -> Iterator[tuple[int, Mapping[str, str]]]:
        for number, record in enumerate(records, start=1):
            if not isinstance(record, Mapping):
                yield number, {}
                continue
            try:
                found = columns(record.keys())
            except CsvProblem:
                found = {}
            yield number, {name: record[key] for name, key in found.items()}

    return _collect(numbered(), default_region)


# --- storing -------------------------------------------------------------------------------------


async def store_people(db: Database, org_id: int, parsed: Parsed, *, owner_id: int | None = None) -> ImportReport:
    """Save parsed people as the organisation's contacts; ``learned`` counts the addresses that fit a
    convention (evidence for the organisation's own finds at their domains).

    A person given only a company gets the company's domain when mailsleuth knows it.
    """
    people = list(parsed.people)
    for i, item in enumerate(people):
        if item.domain is None and item.company:
            known = await store.find_company_domain(db, item.company)
            if known:
                people[i] = replace(item, domain=known)
    saved = await knowledge.save_people(db, org_id, [item.fields() for item in people], owner_id=owner_id)
    by_domain: dict[str, dict[str, PersonName | None]] = {}
    for item in people:
        if item.email and item.domain and item.email.rpartition("@")[2] == item.domain:
            by_domain.setdefault(item.domain, {})[item.email] = item.name
    # Imported people are the organisation's own knowledge: they inform its finds at their domains
    # (service.finding) and never the conventions other organisations see.
    learned = sum(_fits_a_pattern(address, name) for addresses in by_domain.values() for address, name in addresses.items())
    return ImportReport(len(saved.created), len(saved.updated), learned, list(parsed.bad))


def _fits_a_pattern(address: str, name: PersonName | None) -> bool:
    local = address.rpartition("@")[0]
    return (name is not None and Convention().observe(local, name)) or Convention().observe(local)
