"""Candidates for a person at a domain, ranked by the probability that each is the address.

The catalogue's candidates (`patterns.candidates`) are scored with the domain's predictive
convention, so P(address) = P(the domain writes that pattern | its evidence) x P(the directory
spells the name that way). A person's own published address comes first; an address known to
belong to someone else (a namesake, a colleague whose initials collide) hands its mass to the
digit-suffixed forms directories give the second person. Pure: the finder probes what this ranks.
"""

from __future__ import annotations

from mailsleuth.engine.evidence import DomainEvidence, KnownAddress
from mailsleuth.engine.names import PersonName, same_person
from mailsleuth.engine.patterns import Candidate, candidates, pattern_of, rank_of

PUBLISHED = "published"
# A person's own address printed on the company's website is almost always live; the rest of the
# mass stays with the convention (the page may be stale).
P_PUBLISHED = 0.95
# Where a candidate belongs to someone else, the second person usually gets "2", sometimes "1".
SUFFIXES = (("2", 0.6), ("1", 0.2))


def rank(name: PersonName, evidence: DomainEvidence) -> list[Candidate]:
    """Every local part worth probing for ``name``, most probable first (scores sum to at most 1)."""
    ranked = candidates(name, evidence.convention.predictive())
    mass = {c.local: c.score for c in ranked}
    label = {c.local: c.pattern for c in ranked}
    own = [k for k in evidence.known if k.answer and k.name is not None and same_person(k.name, name)]
    taken = {
        k.address.rpartition("@")[0].lower()
        for k in evidence.known
        if k.name is not None and not same_person(k.name, name)
    }
    for local in sorted(taken & mass.keys()):
        moved = mass.pop(local)
        for suffix, share in SUFFIXES:
            if f"{local}{suffix}" not in taken:
                mass[f"{local}{suffix}"] = mass.get(f"{local}{suffix}", 0.0) + moved * share
                label.setdefault(f"{local}{suffix}", label[local])

    direct = _direct(own, name)
    scale = 1.0 - P_PUBLISHED if direct else 1.0
    ranked = [
        Candidate(local, label[local], score * scale)
        for local, score in mass.items()
        if local not in {c.local for c in direct}
    ]
    ranked.sort(key=lambda c: (-c.score, rank_of(c.pattern), c.local))
    return direct + ranked


def _direct(own: list[KnownAddress], name: PersonName) -> list[Candidate]:
    """The person's own published addresses, first seen first, sharing the published mass."""
    locals_ = list(dict.fromkeys(k.address.rpartition("@")[0].lower() for k in own))
    sources = {local: tuple(s for k in own if k.address.rpartition("@")[0].lower() == local for s in k.sources)
               for local in locals_}
    return [
        Candidate(local, pattern_of(local, name) or PUBLISHED, P_PUBLISHED / len(locals_), sources[local])
        for local in locals_
    ]
