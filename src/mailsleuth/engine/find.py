"""Person + domain -> evidence -> ranked candidates -> probes -> the address, how sure, and why.

The domain's evidence (its convention, the addresses already seen there and their owners) ranks
every candidate the catalogue and the name's spellings allow (`ranking.rank`); they are probed in
that order on shared connections until the server accepts one, so a published address or a
learned convention costs one RCPT and an uncommon convention is still found on an honest server.
Only a server that refused every candidate gives `not_found`; greylisting, blocking or silence
give `unknown` with the best candidate not refused. On a catch-all domain nothing can be
verified, so the answer is the top candidate with its probability as the confidence.
"""

from __future__ import annotations

from collections.abc import Collection

from mailsleuth.config import Settings
from mailsleuth.engine import domains
from mailsleuth.engine.dns import MailRoute
from mailsleuth.engine.evidence import EvidenceSource, MemoryEvidence
from mailsleuth.engine.names import PersonName
from mailsleuth.engine.patterns import Candidate
from mailsleuth.engine.ranking import rank
from mailsleuth.engine.results import FindResult, ReplyKind, Verdict, VerifyResult
from mailsleuth.engine.verify import Outcome, Verifier, grade, grade_route

_REJECTED = (ReplyKind.NO_SUCH_USER, ReplyKind.DISABLED)
MAX_PROBES: int = Settings.model_fields["find_max_probes"].default  # MAILSLEUTH_FIND_MAX_PROBES
COVERAGE = 0.99  # on a domain whose convention is known, stop once the untried candidates hold < 1%
SCORE_VERIFIED, SCORE_GUESS = 100, 80  # the score scale every dialect starts from


class Finder:
    """Finds addresses with a shared Verifier, ranking by what ``evidence`` knows of each domain."""

    def __init__(
        self, verifier: Verifier, evidence: EvidenceSource | None = None, *, max_probes: int = MAX_PROBES
    ) -> None:
        self.verifier = verifier
        self.evidence: EvidenceSource = evidence if evidence is not None else MemoryEvidence()
        self.max_probes = max_probes

    async def find(self, name: PersonName, domain: str, *, smtp: bool = True) -> FindResult:
        """Find ``name``'s address at ``domain``; raises InvalidDomain for a malformed domain."""
        domain = domains.normalise_domain(domain)
        known = await self.evidence.gather(domain)
        ranked = rank(name, known)
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
            return _answer(domain, ranked, 0, Verdict.UNKNOWN, reason, evidence, [])

        tried: list[str] = []  # addresses probed, in order
        outcomes: dict[str, Outcome] = {}
        refused: set[str] = set()  # refused by the server, or accepted but another person's
        rcpts = 0
        budget = worth_probing(ranked, bool(known.convention.evidence), self.max_probes)
        addresses = [f"{c.local}@{domain}" for c in ranked]  # in rank order, as ranked is
        while len(tried) < budget:
            batch = [a for a in addresses if a not in outcomes][: budget - len(tried)]
            if not batch:
                break
            probe = await self.verifier.probe(domain, batch, stop_at_accept=True, route=route)
            rcpts += probe.rcpt_commands
            evidence.catch_all = probe.catch_all
            if probe.catch_all:
                return _answer(domain, ranked, 0, Verdict.RISKY, "catch_all", evidence, tried, rcpts)
            tried += batch[: len(probe.outcomes)]
            outcomes.update(zip(batch, probe.outcomes))
            refused.update(a for a, o in zip(batch, probe.outcomes) if o.reply is not None and o.reply.kind in _REJECTED)
            accepted = next((a for a, o in zip(batch, probe.outcomes) if _accepted(o)), None)
            if accepted is None:
                break
            index = addresses.index(accepted)
            ambiguous, sent = await self._namesake_sibling(domain, ranked[index], route, outcomes)
            rcpts += sent
            if ambiguous:
                return _answer(domain, ranked, index, Verdict.RISKY, "namesake_ambiguous", evidence, tried, rcpts,
                               outcomes[accepted], confidence=50)
            if await self.evidence.confirm(domain, accepted, name):
                return _answer(
                    domain, ranked, index, Verdict.DELIVERABLE, "accepted", evidence, tried, rcpts, outcomes[accepted]
                )
            # A concurrent find showed this mailbox is another person's: rank again, it is taken now.
            refused.add(accepted)
            ranked = rank(name, await self.evidence.gather(domain))
            addresses = [f"{c.local}@{domain}" for c in ranked]

        if tried and refused.issuperset(tried):
            return FindResult(
                domain, None, None, Verdict.NOT_FOUND, None, tried, rcpts, reason="no_candidate_accepted"
            )
        # Some answers were not definitive (greylisted, blocked, timed out): guess the best candidate
        # that was not refused, and say why we could not be sure.
        index = next((i for i, a in enumerate(addresses) if a not in refused), 0)
        outcome = outcomes.get(addresses[index]) or Outcome(failure="no_answer")
        _, reason = grade(outcome, catch_all=None)
        excluded = {i for i, a in enumerate(addresses) if a in refused}
        return _answer(domain, ranked, index, Verdict.UNKNOWN, reason, evidence, tried, rcpts, outcome, excluded)

    async def _namesake_sibling(
        self, domain: str, candidate: Candidate, route: MailRoute, outcomes: dict[str, Outcome]
    ) -> tuple[bool, int]:
        """Whether the accepted address may be a namesake's: its pattern writes several people alike
        ({first}, {f}{last}, ...) and the digit-suffixed sibling mailbox exists too (one more RCPT).
        A person's own published address needs no such check. Returns (ambiguous, RCPTs sent)."""
        if candidate.sources or candidate.local[-1].isdigit() or not _shared_by_namesakes(candidate.pattern):
            return False, 0
        sibling = f"{candidate.local}2@{domain}"
        if sibling in outcomes:
            return _accepted(outcomes[sibling]), 0
        probe = await self.verifier.probe(domain, [sibling], route=route)
        if not probe.outcomes:
            return False, 0
        outcomes[sibling] = probe.outcomes[0]
        return _accepted(probe.outcomes[0]), probe.rcpt_commands


def worth_probing(ranked: list[Candidate], learned: bool, limit: int) -> int:
    """How many candidates to try: with nothing learned about the domain, the whole catalogue (up to
    ``limit``); once its convention is known, only until the untried ones hold less than 1% of the
    probability, so someone who has no mailbox there costs a few RCPTs, not the catalogue."""
    if not learned:
        return limit
    total, covered = sum(c.score for c in ranked), 0.0
    for count, candidate in enumerate(ranked[:limit], 1):
        covered += candidate.score
        if covered >= COVERAGE * total:
            return count
    return limit


def _shared_by_namesakes(pattern: str) -> bool:
    return "{first}" not in pattern or "{last}" not in pattern


def _accepted(outcome: Outcome) -> bool:
    return outcome.reply is not None and outcome.reply.kind is ReplyKind.ACCEPTED


def _answer(
    domain: str,
    ranked: list[Candidate],
    index: int,
    verdict: Verdict,
    reason: str,
    evidence: VerifyResult,
    tried: list[str],
    rcpts: int = 0,
    outcome: Outcome | None = None,
    refused: Collection[int] = (),
    *,
    confidence: int | None = None,
) -> FindResult:
    """``ranked[index]`` as the answer: verified (score 100) or a best guess (80) whose confidence is
    its probability among the candidates the server did not refuse."""
    candidate = ranked[index]
    evidence.email = f"{candidate.local}@{domain}"
    evidence.verdict, evidence.reason = verdict, reason
    if outcome is not None and outcome.reply is not None:
        evidence.smtp_code = outcome.reply.code
        evidence.enhanced_status = outcome.reply.enhanced
        evidence.smtp_text = outcome.reply.text
    if verdict is Verdict.DELIVERABLE:
        score, confidence = SCORE_VERIFIED, 100
    elif confidence is not None:
        score = SCORE_GUESS
    else:
        remaining = sum(c.score for i, c in enumerate(ranked) if i not in refused)
        score, confidence = SCORE_GUESS, round(100 * candidate.score / remaining) if remaining else 0
    return FindResult(
        domain,
        evidence.email,
        score,
        verdict,
        candidate.pattern,
        tried,
        rcpts,
        evidence,
        reason,
        confidence=min(confidence, 100 if verdict is Verdict.DELIVERABLE else 99),
        sources=list(candidate.sources),
    )
