"""Person + domain -> ranked candidates -> probes -> the address, a score and the reason.

Candidates are ranked by the domain's learned convention (else the global prior) and probed in order
on one transaction, stopping at the first one the server accepts. Every confirmed address teaches the
domain's convention, so the next find at that domain usually needs a single RCPT.
"""

from __future__ import annotations

from collections.abc import MutableMapping

from mailsleuth.engine import domains, patterns
from mailsleuth.engine.names import PersonName
from mailsleuth.engine.patterns import Candidate, Convention
from mailsleuth.engine.results import FindResult, ReplyKind, Verdict, VerifyResult
from mailsleuth.engine.verify import DomainProbe, Outcome, Verifier, grade, grade_route

_REJECTED = (ReplyKind.NO_SUCH_USER, ReplyKind.DISABLED)


class Finder:
    """Finds addresses with a shared Verifier; ``conventions`` is what it has learned per domain."""

    def __init__(
        self,
        verifier: Verifier,
        conventions: MutableMapping[str, Convention] | None = None,
        *,
        max_candidates: int = 8,
    ) -> None:
        self.verifier = verifier
        self.conventions: MutableMapping[str, Convention] = conventions if conventions is not None else {}
        self.max_candidates = max_candidates

    async def find(
        self, name: PersonName, domain: str, *, smtp: bool = True, convention: Convention | None = None
    ) -> FindResult:
        """Find ``name``'s address at ``domain``; raises InvalidDomain for a malformed domain.

        ``convention`` overrides the in-memory one (the service passes what its store holds); the
        updated convention is kept in ``self.conventions[domain]`` either way.
        """
        domain = domains.normalise_domain(domain)
        if convention is None:
            convention = self.conventions.get(domain)
        if convention is None:
            convention = Convention()
        self.conventions[domain] = convention
        distribution = convention.distribution() if convention.evidence else None
        ranked = patterns.candidates(name, distribution, limit=self.max_candidates)
        if not ranked:
            return FindResult(domain, None, None, Verdict.UNKNOWN, None, reason="no_candidates")

        route = await self.verifier.resolver.mail_route(domain)
        evidence = VerifyResult(
            email="", verdict=Verdict.UNKNOWN, reason="", domain=domain, mx_hosts=[mx.host for mx in route.hosts]
        )
        settled = grade_route(route)
        if settled is not None and settled[0] is Verdict.UNDELIVERABLE:
            return FindResult(domain, None, None, settled[0], None, reason=settled[1])
        if settled is not None or not smtp:
            reason = settled[1] if settled else "smtp_skipped"
            return _best_guess(domain, ranked[0], Verdict.UNKNOWN, reason, evidence, [])

        addresses = [f"{c.local}@{domain}" for c in ranked]
        probe = await self.verifier.probe(domain, addresses, stop_at_accept=True, route=route)
        tried = addresses[: len(probe.outcomes)]
        evidence.catch_all = probe.catch_all
        if probe.catch_all:
            return _best_guess(domain, ranked[0], Verdict.RISKY, "catch_all", evidence, tried, probe)

        for candidate, outcome in zip(ranked, probe.outcomes):
            if outcome.reply is not None and outcome.reply.kind is ReplyKind.ACCEPTED:
                convention.observe(candidate.local, name)
                return _result(domain, candidate, Verdict.DELIVERABLE, 100, "accepted", evidence, tried, probe, outcome)

        if probe.outcomes and all(o.reply is not None and o.reply.kind in _REJECTED for o in probe.outcomes):
            return FindResult(
                domain, None, None, Verdict.UNDELIVERABLE, None, tried, probe.rcpt_commands,
                reason="no_candidate_accepted",
            )
        # Some answers were not definitive (greylisted, blocked, timed out): guess the best candidate
        # that was not refused, and say why we could not be sure.
        for candidate, outcome in zip(ranked, probe.outcomes or [Outcome(failure="no_answer")]):
            if outcome.reply is None or outcome.reply.kind not in _REJECTED:
                _, reason = grade(outcome, catch_all=None)
                return _result(domain, candidate, Verdict.UNKNOWN, 80, reason, evidence, tried, probe, outcome)
        return _best_guess(domain, ranked[0], Verdict.UNKNOWN, "no_answer", evidence, tried, probe)


def _result(
    domain: str,
    candidate: Candidate,
    verdict: Verdict,
    score: int,
    reason: str,
    evidence: VerifyResult,
    tried: list[str],
    probe: DomainProbe | None = None,
    outcome: Outcome | None = None,
) -> FindResult:
    evidence.email = f"{candidate.local}@{domain}"
    evidence.verdict, evidence.reason = verdict, reason
    if outcome is not None and outcome.reply is not None:
        evidence.smtp_code = outcome.reply.code
        evidence.enhanced_status = outcome.reply.enhanced
        evidence.smtp_text = outcome.reply.text
    rcpts = probe.rcpt_commands if probe else 0
    return FindResult(domain, evidence.email, score, verdict, candidate.pattern, tried, rcpts, evidence, reason)


def _best_guess(
    domain: str,
    candidate: Candidate,
    verdict: Verdict,
    reason: str,
    evidence: VerifyResult,
    tried: list[str],
    probe: DomainProbe | None = None,
) -> FindResult:
    """The top-ranked candidate, unverified: VoilaNorbert's score 80."""
    return _result(domain, candidate, verdict, 80, reason, evidence, tried, probe)
