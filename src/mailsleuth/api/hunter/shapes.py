"""Translating mailsleuth's verdicts, contacts and sources into Hunter's vocabulary."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from mailsleuth.api.hunter.models import Source, Verification, VerifierStatus
from mailsleuth.engine.results import Verdict
from mailsleuth.store import Contact

# Hunter's 0-100 score when the finder gives no confidence of its own.
_VERDICT_SCORES = {Verdict.DELIVERABLE: 95, Verdict.RISKY: 70, Verdict.UNKNOWN: 40}
_STATUS_SCORES: dict[str, int | None] = {"valid": 100, "accept_all": 70, "webmail": 50, "disposable": 50,
                                         "unknown": 30, "invalid": 0}
_RESULTS = {"valid": "deliverable", "invalid": "undeliverable"}


def score(verdict: str | None, confidence: int | None = None) -> int | None:
    """The finder's `confidence` (0-100) when it has one, else a score for its verdict."""
    if confidence is not None:
        return max(0, min(100, int(confidence)))
    return _VERDICT_SCORES.get(verdict) if verdict else None  # type: ignore[call-overload]


def finder_status(verdict: str | None, catch_all: bool | None) -> str | None:
    """Hunter's finder verification status: valid, accept_all or unknown (None: never verified)."""
    if verdict == Verdict.DELIVERABLE:
        return "valid"
    if verdict == Verdict.RISKY and catch_all:
        return "accept_all"
    return "unknown" if verdict in (Verdict.RISKY, Verdict.UNKNOWN) else None


def verifier_status(result: dict[str, Any]) -> VerifierStatus:
    """A verification (`VerifyResult.to_dict()`) as Hunter's status."""
    verdict, reason = result.get("verdict"), result.get("reason", "")
    if result.get("disposable"):
        return "disposable"
    if result.get("free") and verdict != Verdict.UNDELIVERABLE:
        return "webmail"
    if verdict == Verdict.DELIVERABLE or (verdict == Verdict.RISKY and reason == "role_address"):
        return "valid"
    if verdict == Verdict.UNDELIVERABLE:
        return "invalid"
    if verdict == Verdict.RISKY and reason == "catch_all":
        return "accept_all"
    return "unknown"


def verifier_score(status: str) -> int | None:
    return _STATUS_SCORES.get(status)


def verifier_result(status: str) -> str:
    """The deprecated `result` next to `status`."""
    return _RESULTS.get(status, "risky")


def day(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment else None


def timestamp(moment: datetime) -> str:
    """Leads' and lists' dates the way Rails prints them: "2021-01-01 12:00:00 UTC"."""
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def sources(found: list[dict[str, Any]]) -> list[Source]:
    """The service's sources (uri, dates, still_on_page) with the `domain` Hunter adds, at most 20."""
    return [Source(domain=urlsplit(item["uri"]).hostname, **item) for item in found[:20]]


def linkedin_url(contact: Contact) -> str | None:
    return f"https://www.linkedin.com/in/{contact.linkedin_id}" if contact.linkedin_id else None


def contact_verification(contact: Contact) -> Verification:
    catch_all = ((contact.evidence or {}).get("verification") or {}).get("catch_all")
    status = finder_status(contact.verdict, catch_all)
    return Verification(date=day(contact.updated_at) if status else None, status=status)
