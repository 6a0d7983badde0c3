"""The vocabulary every layer shares: verdicts, classified SMTP replies and results with evidence.

Kept free of IO so dialect translators, the store and the CLI can all depend on it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class Verdict(enum.StrEnum):
    DELIVERABLE = "deliverable"
    RISKY = "risky"
    UNDELIVERABLE = "undeliverable"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"  # finds only: an honest server refused every candidate; the person may exist


class ReplyKind(enum.StrEnum):
    """What an SMTP reply means for the mailbox (or for us, the prober)."""

    ACCEPTED = "accepted"
    NO_SUCH_USER = "no_such_user"
    DISABLED = "disabled"
    FULL = "full"
    GREYLISTED = "greylisted"
    SLOW_DOWN = "slow_down"  # 421, 452 4.5.3 "too many": reconnect later, not a mailbox fact
    BLOCKED = "blocked"  # we are on a blocklist: the host is cooled down
    TEMPORARY = "temporary"  # unclassifiable 4xx
    PERMANENT = "permanent"  # unclassifiable 5xx: unknown, never undeliverable


@dataclass(frozen=True, slots=True)
class SmtpReply:
    code: int
    enhanced: str | None
    text: str
    kind: ReplyKind


@dataclass(slots=True)
class VerifyResult:
    """An address's verdict plus the evidence it rests on (what the native API shows)."""

    email: str
    verdict: Verdict
    reason: str
    domain: str = ""
    mx_hosts: list[str] = field(default_factory=list)
    smtp_code: int | None = None
    enhanced_status: str | None = None
    smtp_text: str | None = None
    catch_all: bool | None = None
    disposable: bool = False
    role: bool = False
    free: bool = False
    suggestion: str | None = None
    retry_at: float | None = None  # epoch seconds; set when greylisted

    @property
    def score(self) -> int | None:
        """VoilaNorbert's score for this verdict (100 verified, 80 best guess)."""
        if self.verdict is Verdict.DELIVERABLE:
            return 100
        if self.verdict in (Verdict.RISKY, Verdict.UNKNOWN):
            return 80
        return None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["score"] = self.score
        return data


@dataclass(slots=True)
class FindResult:
    """A person's address at a domain, how sure we are and how we got there."""

    domain: str
    email: str | None
    score: int | None  # 100 verified, 80 best guess, None when nothing found
    verdict: Verdict
    pattern: str | None
    candidates_tried: list[str] = field(default_factory=list)
    rcpt_commands: int = 0
    verification: VerifyResult | None = None
    reason: str = ""
    confidence: int | None = None  # 0-100: P(the address is right), calibrated on outcomes
    sources: list[str] = field(default_factory=list)  # pages where the address was published

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["verdict"] = self.verdict.value
        data["verification"] = self.verification.to_dict() if self.verification else None
        return data
