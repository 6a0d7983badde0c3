"""Person names: parsing, cleaning and the spellings mail systems derive from them.

A company builds local parts from the name in its directory, after its own clean-up: titles and
suffixes dropped, accents transliterated (sometimes the German way, ``ü`` -> ``ue``), particles and
hyphens kept or dropped. We cannot know which clean-up a domain uses, so a name yields a short,
weighted list of spellings (:meth:`PersonName.variants`) for the pattern layer to render.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from nameparser import HumanName
from nameparser.config import CONSTANTS
from anyascii import anyascii

__all__ = ["InvalidName", "NameVariant", "PersonName", "is_first_name", "nicknames", "name_or_none", "parse_name", "same_person"]

MAX_NAME_LENGTH = 256
MAX_VARIANTS = 12

# Words inside a surname that mail systems keep when joining ("vanderberg") but that people also
# drop ("berg"). Never applied to the final word: "Linh Le" keeps "le" as the surname.
PARTICLES = frozenset(
    "van von vom zu zum der den ter ten te de del della delle degli dei di da das dos do du des "
    "la le las los lo y e bin ibn bint binti ben al el abu af av".split()
)

# Titles that, alone, are not a name. nameparser also treats "King" or "Major" as titles, but a
# single word like that is far more likely a given name than a bare honorific.
HONORIFICS = frozenset(
    "mr mrs ms miss mx dr prof sir dame madam mme mlle herr frau sr sra srta rev hon".split()
)

# The alternate transliteration German, Danish and Norwegian directories use; anyascii gives the
# plain one (ü -> u, ø -> o, å -> a).
EXPANDED = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ø": "oe", "å": "aa", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue",
     "Ø": "Oe", "Å": "Aa"}
)

# anyascii reads letter by letter; Greek writes "ou" as one digraph (Παπαδόπουλος -> papadopoulos).
_GREEK_OU = re.compile("[ΟοΌό][Υυ]", re.IGNORECASE)

_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2212", "-"))
_NOT_TOKEN = re.compile(r"[^a-z0-9]+")
_NICKNAME_OF_CANONICAL = 0.3
_CANONICAL_OF_NICKNAME = 0.4
_NICKNAMES_PER_NAME = 3


class InvalidName(ValueError):
    """The input cannot be a person's name (empty, control characters, nothing but digits...)."""


@dataclass(frozen=True)
class NameVariant:
    """One spelling of a name as a mail system may have written it: lowercase ASCII tokens."""

    first: str
    middle: str
    last: str
    weight: float
    why: str


@dataclass(frozen=True)
class PersonName:
    """A cleaned name in display form; titles and suffixes are already gone."""

    first: str
    middle: str
    last: str

    @property
    def full(self) -> str:
        return " ".join(p for p in (self.first, self.middle, self.last) if p)

    def variants(self) -> list[NameVariant]:
        """Spellings to try, primary (weight 1.0) first, best first, at most ``MAX_VARIANTS``."""
        found = _variants(self, expanded=False)
        if found and self.full.translate(EXPANDED) != self.full:
            found += _variants(self, expanded=True)
        found.sort(key=lambda v: v.weight, reverse=True)
        unique: dict[tuple[str, str, str], NameVariant] = {}
        for variant in found:
            unique.setdefault((variant.first, variant.middle, variant.last), variant)
        return list(unique.values())[:MAX_VARIANTS]


def parse_name(full: str | None = None, *, first: str | None = None, middle: str | None = None,
               last: str | None = None) -> PersonName:
    """Parse "Dr. Jürgen Müller Jr.", "Müller, Jürgen" or separate parts into a :class:`PersonName`.

    Blank values count as absent, so a CSV row or form may carry both a full-name and part fields.
    """
    parts = (first, middle, last)
    parts_given = any(p and p.strip() for p in parts)
    if full and full.strip() and parts_given:
        raise InvalidName("give either a full name or first/middle/last, not both")
    if full is not None and not parts_given:
        name = _parse_full(_clean(full))
    else:
        first_c, middle_c, last_c = ("" if p is None else _clean(p, allow_empty=True) for p in parts)
        if not (first_c or middle_c or last_c):
            raise InvalidName("name is empty")
        first_c, last_c = _strip_affixes(first_c, leading=True), _strip_affixes(last_c, leading=False)
        name = PersonName(first_c, middle_c, last_c)
    if not name.variants():
        raise InvalidName(f"no usable first or last name in {name.full or full!r}")
    return name


def name_or_none(text: str | None) -> PersonName | None:
    """A name printed somewhere (a web page, a stored contact): parsed, or None when it is no name."""
    if not text:
        return None
    try:
        return parse_name(text)
    except InvalidName:
        return None


def same_person(a: PersonName, b: PersonName) -> bool:
    """Whether two names are one person's as a directory writes them: first and last as spelled, and
    the same middle name (or its initial). "Chloé Paul Moreau" is not "Chloé Moreau": namesakes at
    one company are told apart by exactly such details."""
    va, vb = a.variants(), b.variants()
    if not (va and vb) or (va[0].first, va[0].last) != (vb[0].first, vb[0].last):
        return False
    ma, mb = va[0].middle, vb[0].middle
    return ma == mb or (bool(ma and mb) and (ma.startswith(mb) or mb.startswith(ma)) and min(len(ma), len(mb)) == 1)


def is_first_name(token: str) -> bool:
    """Whether ``token`` is a common given name, to read conventions off bare local parts."""
    return token.lower() in _first_names()


def nicknames(first: str) -> set[str]:
    """Nicknames of a formal first name and formal names of a nickname: robert <-> bob."""
    token = _token(first)
    return set(_nickname_table().get(token, ())) | set(_formal_names(token))


def _clean(text: str, *, allow_empty: bool = False) -> str:
    """Validate raw input and normalise it: NFC, no format characters, single spaces."""
    if not isinstance(text, str):
        raise InvalidName(f"name must be a string, not {type(text).__name__}")
    if len(text) > MAX_NAME_LENGTH:
        raise InvalidName(f"name is longer than {MAX_NAME_LENGTH} characters")
    bad = next((ch for ch in text if unicodedata.category(ch) in ("Cc", "Zl", "Zp")), None)
    if bad is not None:
        raise InvalidName(f"name contains a control character {bad!r}")
    # Half of a UTF-16 pair (from a JSON escape, or undecodable bytes kept as surrogates) is no
    # character at all: refused here, before transliteration reads it as nothing, or as mojibake.
    lone = next((ch for ch in text if unicodedata.category(ch) == "Cs"), None)
    if lone is not None:
        raise InvalidName(f"name contains a lone surrogate {lone!r}: it is not valid text")
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    text = " ".join(text.split())
    if not text:
        if allow_empty:
            return ""
        raise InvalidName("name is empty")
    if not any(ch.isalpha() for ch in text):
        raise InvalidName(f"name has no letters: {text!r}")
    return text


def _parse_full(text: str) -> PersonName:
    if 2 <= len(text) <= 4 and all(unicodedata.name(ch, "").startswith("CJK UNIFIED") for ch in text):
        split = 2 if len(text) == 4 else 1  # Han names are written family name first, without spaces
        return PersonName(text[split:], "", text[:split])
    parsed = HumanName(text)
    first, middle, last = parsed.first, parsed.middle, parsed.last
    if not (first or middle or last) and " " not in text and _bare(text) not in HONORIFICS:
        first = text  # "King", "Major": a one-word name nameparser mistook for a title
    return PersonName(first, middle, last)


def _strip_affixes(text: str, *, leading: bool) -> str:
    """Drop titles before a first name or suffixes after a last name given as separate fields."""
    words = text.replace(",", " ").split()
    affixes = CONSTANTS.titles if leading else CONSTANTS.suffix_acronyms | CONSTANTS.suffix_not_acronyms
    while len(words) > 1 and _bare(words[0 if leading else -1]) in affixes:
        words.pop(0 if leading else -1)
    return " ".join(words)


def _bare(word: str) -> str:
    return word.lower().replace(".", "")


def _token(text: str, expanded: bool = False) -> str:
    """One ASCII token: "O'Neil" -> "oneil", "Müller" -> "muller" (or "mueller" when expanded)."""
    if expanded:
        text = text.translate(EXPANDED)
    text = _GREEK_OU.sub("ou", text)
    return _NOT_TOKEN.sub("", anyascii(text).lower())


def _words(text: str, expanded: bool) -> list[list[str]]:
    """Words of a name part, each a list of its hyphen-separated tokens, empty ones dropped."""
    words = [[_token(p, expanded) for p in w.split("-")] for w in text.translate(_DASHES).split()]
    return [tokens for tokens in ([t for t in w if t] for w in words) if tokens]


def _spellings(text: str, expanded: bool, label: str, *, particles: bool) -> list[tuple[str, float, str]]:
    """Spellings of one name part with weights: as written, without hyphen, without particles, parts."""
    words = _words(text, expanded)
    if not words:
        return []
    flat = [t for w in words for t in w]
    out = [(_written(words), 1.0, "")]
    if any(len(w) > 1 for w in words):
        out.append(("".join(flat), 0.8, f"{label} without hyphen"))
    is_particle = [particles and t in PARTICLES and k < len(flat) - 1 for k, t in enumerate(flat)]
    if any(is_particle):
        keep = iter(not p for p in is_particle)
        without = _written([[t for t in w if next(keep)] for w in words])
        out.append((without, 0.6, f"{label} without particle"))
    cores = [k for k, p in enumerate(is_particle) if not p]
    if len(cores) > 1:
        out.append(("".join(flat[: cores[0] + 1]), 0.5, f"first part of {label}"))
        if particles:
            out.append((flat[cores[-1]], 0.4, f"last part of {label}"))
    return out


def _written(words: list[list[str]]) -> str:
    """Words run together, hyphens inside a word kept: "Smith-Jones" -> "smith-jones"."""
    return "".join("-".join(w) for w in words if w)


def _variants(name: PersonName, *, expanded: bool) -> list[NameVariant]:
    """One transliteration of a name: the primary form, then one part changed at a time."""
    firsts = _spellings(name.first, expanded, "first name", particles=False) or [("", 1.0, "")]
    lasts = _spellings(name.last, expanded, "last name", particles=True) or [("", 1.0, "")]
    if not (firsts[0][0] or lasts[0][0]):
        return []
    middle = "".join(next(iter(_words(name.middle, expanded)), []))
    combos = [(f, lasts[0], middle) for f in firsts] + [(firsts[0], last, middle) for last in lasts[1:]]
    combos += [(f, last, middle) for f in firsts[1:] for last in lasts[1:]]  # "Jean-Pierre Le Roux": jeanpierre.roux
    if not expanded:
        combos += [(f, lasts[0], middle) for f in _nickname_spellings(firsts[0][0])]
    combos += [(f, lasts[0], m) for f, m in _compound_firsts(name.first, middle, expanded)]
    mode_weight, mode_why = (0.9, "ae/oe/ue transliteration") if expanded else (1.0, "")
    return [
        NameVariant(first, middle, last, round(mode_weight * f_weight * l_weight, 4),
                    "; ".join(w for w in (mode_why, f_why, l_why) if w) or "as given")
        for (first, f_weight, f_why), (last, l_weight, l_why), middle in combos
    ]


def _compound_firsts(first: str, middle: str, expanded: bool) -> list[tuple[tuple[str, float, str], str]]:
    """Compound given names written as one ("José Luis" -> joseluis) or split into first + middle
    ("Jan-Willem" -> jan, w): (first spelling, middle) pairs beyond the ones `_spellings` gives."""
    words = [t for w in _words(first, expanded) for t in w]
    if middle and len(words) == 1:
        return [((words[0] + middle, 0.5, "compound first name"), ""),
                ((f"{words[0]}-{middle}", 0.3, "hyphenated compound first name"), "")]
    if len(words) == 2 and not middle:
        return [((words[0], 0.4, "second given name as middle"), words[1])]
    return []


def _nickname_spellings(first: str) -> list[tuple[str, float, str]]:
    """Formal names of a nickname first, then the most common nicknames of a formal name."""
    informal = _nickname_table().get(first, ())[:_NICKNAMES_PER_NAME]
    return [(c, _CANONICAL_OF_NICKNAME, f"formal name for {first}") for c in _formal_names(first)] + [
        (n, _NICKNAME_OF_CANONICAL, f"nickname of {first}") for n in informal
    ]


def _data_lines(filename: str) -> Iterable[str]:
    text = resources.files("mailsleuth").joinpath("data", filename).read_text(encoding="utf-8")
    return (line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def _first_names() -> frozenset[str]:
    return frozenset(_data_lines("first_names.txt"))


@cache
def _nickname_table() -> dict[str, tuple[str, ...]]:
    """canonical -> nicknames, most common first (the order of nicknames.csv)."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _data_lines("nicknames.csv"):
        canonical, _, nicks = line.partition(",")
        known = table.get(canonical, ())
        table[canonical] = known + tuple(n for n in nicks.split() if n not in known)
    return table


@cache
def _formal_names(nickname: str) -> tuple[str, ...]:
    """nickname -> the formal names it shortens, alphabetical (alex: alexander, alexandra, alexis)."""
    return tuple(sorted(c for c, nicks in _nickname_table().items() if nickname in nicks))
