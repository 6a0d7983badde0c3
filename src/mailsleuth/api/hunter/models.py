"""Hunter.io v2's request parameters and response bodies, as pydantic models (the `/openapi.json`
contract). Hunter is a Rails app that emits `null` rather than leaving a key out, so every field is
always present."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from mailsleuth.api.bodies import OptionalInt, OptionalText, Text
from mailsleuth.api.params import BodyIds, BodyInt

T = TypeVar("T")

VerifierStatus = Literal["valid", "invalid", "accept_all", "webmail", "disposable", "unknown"]


class Envelope(BaseModel, Generic[T]):
    data: T
    meta: dict[str, Any] = Field(default_factory=dict)


class DataOnly(BaseModel, Generic[T]):
    """Account and single leads come without `meta`."""

    data: T


# --- parameters ---------------------------------------------------------------------------------


class Params(BaseModel):
    """Query parameters; unknown ones are ignored (pyhunter 1.x leaks earlier calls' parameters)."""

    model_config = ConfigDict(extra="ignore")


class FinderParams(Params):
    domain: OptionalText = None
    company: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    full_name: OptionalText = None
    max_duration: OptionalInt = Field(None, ge=3, le=20)


class VerifierParams(Params):
    email: Text


class DomainSearchParams(Params):
    domain: OptionalText = None
    company: OptionalText = None
    limit: OptionalInt = Field(None, ge=1, le=100)
    offset: OptionalInt = Field(None, ge=0, le=10_000)
    type: Literal["personal", "generic"] | None = None
    seniority: OptionalText = None
    department: OptionalText = None
    required_field: OptionalText = None
    verification_status: OptionalText = None


class CountParams(Params):
    domain: OptionalText = None
    company: OptionalText = None
    type: Literal["personal", "generic"] | None = None


class PageParams(Params):
    limit: OptionalInt = Field(None, ge=1, le=1000)
    offset: OptionalInt = Field(None, ge=0, le=100_000)


# --- shared pieces ------------------------------------------------------------------------------


class Source(BaseModel):
    domain: str | None
    uri: str
    extracted_on: str
    last_seen_on: str
    still_on_page: bool


class Verification(BaseModel):
    date: str | None = None
    status: str | None = None


# --- responses ----------------------------------------------------------------------------------


class FinderData(BaseModel):
    first_name: str | None
    last_name: str | None
    email: str | None
    score: int | None
    domain: str
    accept_all: bool | None
    position: str | None
    twitter: str | None
    linkedin_url: str | None
    phone_number: str | None
    company: str | None
    sources: list[Source]
    verification: Verification


class VerifierData(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    status: VerifierStatus
    result: Literal["deliverable", "undeliverable", "risky"]
    deprecation_notice: str = Field(alias="_deprecation_notice", serialization_alias="_deprecation_notice")
    score: int | None
    email: str
    regexp: bool
    gibberish: bool
    disposable: bool
    webmail: bool
    mx_records: bool
    smtp_server: bool
    smtp_check: bool
    accept_all: bool
    block: bool
    sources: list[Source]


class DomainEmail(BaseModel):
    value: str
    type: Literal["personal", "generic"]
    confidence: int
    sources: list[Source]
    first_name: str | None
    last_name: str | None
    position: str | None
    position_raw: str | None
    seniority: str | None
    department: str | None
    linkedin: str | None
    twitter: str | None
    phone_number: str | None
    verification: Verification


class DomainData(BaseModel):
    domain: str
    disposable: bool
    webmail: bool
    accept_all: bool
    pattern: str | None
    organization: str | None
    description: str | None
    industry: str | None = None
    twitter: str | None = None
    facebook: str | None = None
    linkedin: str | None = None
    instagram: str | None = None
    youtube: str | None = None
    country: str | None = None
    state: str | None = None
    city: str | None = None
    postal_code: str | None = None
    street: str | None = None
    headcount: str | None = None
    company_type: str | None = None
    technologies: list[str] = Field(default_factory=list)
    linked_domains: list[str] = Field(default_factory=list)
    emails: list[DomainEmail]


DEPARTMENTS = ("executive", "it", "finance", "management", "sales", "legal", "support", "hr", "marketing",
               "communication", "education", "design", "health", "operations")
SENIORITIES = ("junior", "senior", "executive")


class CountData(BaseModel):
    total: int
    personal_emails: int
    generic_emails: int
    department: dict[str, int]
    seniority: dict[str, int]


class Usage(BaseModel):
    used: int
    available: int


class Requests(BaseModel):
    searches: Usage
    verifications: Usage


class AccountData(BaseModel):
    first_name: str | None
    last_name: str | None
    email: str
    plan_name: str | None
    plan_level: int
    reset_date: str
    team_id: int
    requests: Requests
    calls: Usage
    """Deprecated by Hunter, still read by clients (pyhunter's `account_information`)."""


class LeadsListRef(BaseModel):
    id: int | None
    name: str | None
    leads_count: int | None


class Lead(BaseModel):
    model_config = ConfigDict(extra="allow")  # custom attributes are flat sibling keys

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    position: str | None
    company: str | None
    company_industry: str | None
    company_size: str | None
    confidence_score: int | None
    website: str | None
    country_code: str | None
    source: str | None
    linkedin_url: str | None
    phone_number: str | None
    twitter: str | None
    sync_status: str | None
    notes: str | None
    sending_status: str | None
    last_activity_at: str | None
    last_contacted_at: str | None
    verification: Verification
    leads_list: LeadsListRef
    created_at: str
    updated_at: str


class LeadsPage(BaseModel):
    leads: list[Lead]


class LeadsList(BaseModel):
    id: int
    name: str
    leads_count: int
    team_id: int
    created_at: str


class LeadsListWithLeads(LeadsList):
    leads: list[Lead]


class LeadsLists(BaseModel):
    leads_lists: list[LeadsList]


class LeadFields(BaseModel):
    """A lead as clients send it (JSON body, form or query); unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")

    email: OptionalText = None
    first_name: OptionalText = None
    last_name: OptionalText = None
    position: OptionalText = None
    company: OptionalText = None
    company_industry: OptionalText = None
    company_size: OptionalText = None
    confidence_score: OptionalInt = Field(None, ge=0, le=100)
    website: OptionalText = None
    country_code: OptionalText = None
    postal_code: OptionalText = None
    source: OptionalText = None
    linkedin_url: OptionalText = None
    phone_number: OptionalText = None
    twitter: OptionalText = None
    notes: OptionalText = None
    leads_list_id: BodyInt = None
    leads_list_ids: BodyIds = None
    custom_attributes: dict[str, str | None] | None = None


class ListFields(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: Text
    team_id: BodyInt = None
