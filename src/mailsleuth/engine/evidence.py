"""What is known about a domain before its mail server is asked: the evidence a find ranks by.

A find is only as good as what it knows: the domain's convention learned from verified finds,
imports and its website, and the addresses already seen there with their owners (a person whose
own address is published is a direct answer; an address owned by a namesake is an exception).
The finder reads and teaches it through `EvidenceSource`, so the engine stays free of the store:
the service layer supplies a store-backed source, `MemoryEvidence` serves library use and tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from mailsleuth.engine.names import PersonName, same_person
from mailsleuth.engine.patterns import Convention


@dataclass(frozen=True, slots=True)
class KnownAddress:
    """An address seen at the domain, with its owner's name when known and where it was seen."""

    address: str
    name: PersonName | None = None
    sources: tuple[str, ...] = ()  # page URLs for addresses published on the web
    answer: bool = True  # False: known only to be taken (another organisation's find), never an answer


@dataclass(slots=True)
class DomainEvidence:
    convention: Convention = field(default_factory=Convention)
    known: list[KnownAddress] = field(default_factory=list)


class EvidenceSource(Protocol):
    async def gather(self, domain: str) -> DomainEvidence:
        """Everything known about ``domain`` (normalised) for ranking, fetched on first contact."""
        ...

    async def confirm(self, domain: str, address: str, name: PersonName) -> bool:
        """Teach the domain an address its mail server accepted for ``name``; False (nothing taught)
        when the address is known to be another person's: a namesake then tries the next variant."""
        ...


def claim(evidence: DomainEvidence, address: str, name: PersonName) -> bool:
    """Record ``name`` as the owner of ``address`` unless someone else already is (in this process
    first come, first served: of two namesakes probed at once, the second gets the next variant)."""
    owners = [k.name for k in evidence.known if k.address == address and k.name is not None]
    if any(not same_person(owner, name) for owner in owners):
        return False
    if not owners:
        evidence.convention.observe(address.rpartition("@")[0], name)
        evidence.known.append(KnownAddress(address, name))
    return True


class MemoryEvidence:
    """Evidence kept in this process only: what a Finder confirms serves its next finds."""

    def __init__(self) -> None:
        self.domains: dict[str, DomainEvidence] = {}

    async def gather(self, domain: str) -> DomainEvidence:
        return self.domains.setdefault(domain, DomainEvidence())

    async def confirm(self, domain: str, address: str, name: PersonName) -> bool:
        return claim(await self.gather(domain), address, name)
