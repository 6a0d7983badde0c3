"""The native API's released names for stored values that are neutral below the API layer.

Bulk job kinds and the source of contacts a bulk find filed were first stored under VoilaNorbert's
and LeadGenius's words; the native API (and the dashboard reading it) still shows those names, so
its clients see no change.
"""

from __future__ import annotations

from enum import StrEnum

from mailsleuth.jobs.bulk import JobKind
from mailsleuth.store.bulk import CONTACT_SOURCE


class WireKind(StrEnum):
    """A bulk job's kind as `/v1/jobs` names it."""

    MASSIVE = "massive"  # JobKind.FIND_FILE
    LG_BULK = "lg_bulk"  # JobKind.FIND_BATCH
    VERIFY = "verify"
    ENRICH = "enrich"


_KINDS = {
    JobKind.FIND_FILE: WireKind.MASSIVE,
    JobKind.FIND_BATCH: WireKind.LG_BULK,
    JobKind.VERIFY: WireKind.VERIFY,
    JobKind.ENRICH: WireKind.ENRICH,
}
_JOB_KINDS = {wire: kind for kind, wire in _KINDS.items()}
_SOURCES = {CONTACT_SOURCE: "massive"}


def wire_kind(kind: str) -> str:
    """The native name of a stored job kind."""
    return _KINDS[JobKind(kind)].value


def job_kind(wire: WireKind) -> JobKind:
    """The job kind a native name stands for."""
    return _JOB_KINDS[wire]


def wire_source(source: str | None) -> str | None:
    """The native name of a contact's stored source."""
    return _SOURCES.get(source or "", source)
