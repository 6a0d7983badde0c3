"""PLACEHOLDER — being written by the names helper. Interface only."""

from __future__ import annotations

from dataclasses import dataclass


class InvalidName(ValueError):
    pass


@dataclass(frozen=True)
class NameVariant:
    first: str
    middle: str
    last: str
    weight: float
    why: str


@dataclass(frozen=True)
class PersonName:
    first: str
    middle: str
    last: str

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.first, self.middle, self.last) if p)

    def variants(self) -> list[NameVariant]:
        return [NameVariant(self.first.lower(), self.middle.lower(), self.last.lower(), 1.0, "as given")]


def parse_name(full: str | None = None, *, first: str | None = None, middle: str | None = None,
               last: str | None = None) -> PersonName:
    if full:
        parts = full.split()
        return PersonName(parts[0], " ".join(parts[1:-1]), parts[-1] if len(parts) > 1 else "")
    return PersonName(first or "", middle or "", last or "")


def is_first_name(token: str) -> bool:
    return token in {"john", "jane", "mary", "robert", "bob"}


def nicknames(first: str) -> set[str]:
    return set()
