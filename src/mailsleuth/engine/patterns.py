"""Address conventions: the catalogue, its global prior, and learning a domain's convention.

A company builds every local part from one convention, so knowing it turns ~20 guesses into one
SMTP probe. Everything here is pure (no IO) so the finder, the store and the CLI share it.
"""

from __future__ import annotations

import math
import re
import string
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from mailsleuth.engine.domains import is_role
from mailsleuth.engine.names import NameVariant, PersonName, is_first_name

# Share of companies using each convention, rounded from public analyses of corporate address formats
# (first.last dominates, then flast and the bare first name; reversed and middle-name forms are rare).
PRIOR: Mapping[str, float] = MappingProxyType(
    {
        "{first}.{last}": 0.360,
        "{f}{last}": 0.170,
        "{first}": 0.095,
        "{first}{last}": 0.074,
        "{f}.{last}": 0.045,
        "{first}_{last}": 0.030,
        "{first}{l}": 0.030,
        "{last}{f}": 0.025,
        "{last}.{first}": 0.020,
        "{first}-{last}": 0.018,
        "{last}": 0.015,
        "{first}.{l}": 0.015,
        "{f}{m}{last}": 0.015,
        "{last}{first}": 0.012,
        "{first}.{m}.{last}": 0.012,
        "{f}{l}": 0.008,
        "{last}_{first}": 0.008,
        "{f}_{last}": 0.008,
        "{last}.{f}": 0.008,
        "{first}{m}{last}": 0.006,
        "{f}-{last}": 0.005,
        "{first}.{middle}.{last}": 0.004,
        "{f}{m}{l}": 0.004,
        "{last}-{first}": 0.003,
        "{first}_{l}": 0.003,
        "{last}{f}{m}": 0.003,
        "{f}.{m}.{last}": 0.002,
        "{first}{middle}{last}": 0.002,
    }
)
PATTERNS: tuple[str, ...] = tuple(PRIOR)

# Pseudo-observations of the prior in a domain's posterior: (count + ALPHA * prior) / (n + ALPHA).
# With 2, one address makes its pattern the best guess (~0.45) without claiming certainty.
ALPHA = 2.0
_SHARPNESS = 3

_PART = {"first": "first", "middle": "middle", "last": "last", "f": "first", "m": "middle", "l": "last"}
_INITIALS = frozenset({"f", "m", "l"})
_RANK = {pattern: index for index, pattern in enumerate(PATTERNS)}
_MIDDLE_PIECE = re.compile(r"\{m(?:iddle)?\}[._-]?")
_TRAILING_NUMBER = re.compile(r"[._-]?\d+$")


@dataclass(frozen=True, slots=True)
class Candidate:
    local: str
    pattern: str
    score: float  # P(this is the address)
    sources: tuple[str, ...] = ()  # pages where it was published, for a direct answer


@lru_cache(maxsize=256)
def _pieces(pattern: str) -> tuple[tuple[str, str | None], ...]:
    """Split a template into (literal, placeholder) pairs, refusing anything but our placeholders."""
    pieces = []
    for literal, field, spec, conversion in string.Formatter().parse(pattern):
        if field is not None and (field not in _PART or spec or conversion):
            raise ValueError(f"unknown placeholder {{{field}}} in pattern {pattern!r}")
        pieces.append((literal, field))
    if not any(field for _, field in pieces):
        raise ValueError(f"pattern {pattern!r} has no placeholder")
    return tuple(pieces)


def render(pattern: str, name: NameVariant) -> str | None:
    """The local part `pattern` gives for `name`; None when the pattern needs a part the name lacks."""
    parts = {"first": name.first, "middle": name.middle, "last": name.last}
    out = []
    for literal, field in _pieces(pattern):
        out.append(literal)
        if field is not None:
            value = parts[_PART[field]]
            if not value:
                return None
            out.append(value[0] if field in _INITIALS else value)
    return "".join(out)


def rank_of(pattern: str) -> int:
    """The pattern's place in the catalogue (ties between equal scores go to the commoner pattern)."""
    return _RANK.get(pattern, len(_RANK))


def _without_middle(pattern: str) -> str:
    """`{f}{m}{last}` -> `{f}{last}`: how a middle-name convention treats people without one."""
    return _MIDDLE_PIECE.sub("", pattern)


def renderable(distribution: Mapping[str, float], variant: NameVariant) -> dict[str, float]:
    """The distribution conditioned on the parts this variant has.

    Middle-name patterns hand their mass to their middle-less form (a jqsmith company writes jsmith
    for John Smith); other patterns needing a missing part drop out; the rest is renormalised.
    """
    mass: dict[str, float] = defaultdict(float)
    for pattern, probability in distribution.items():
        if probability <= 0:
            continue
        if render(pattern, variant) is None:
            pattern = _without_middle(pattern)
            if not pattern or render(pattern, variant) is None:
                continue
        mass[pattern] += probability
    total = sum(mass.values())
    return {pattern: value / total for pattern, value in mass.items()} if total else {}


def _shares(variants: list[NameVariant]) -> list[float]:
    """P(a directory spells the name this way): the variants' weights cubed, so a plain name's
    as-written spelling stays near certain while a compound name spreads its mass."""
    weights = [v.weight**_SHARPNESS for v in variants]
    total = sum(weights)
    return [w / total for w in weights] if total else []


def candidates(
    name: PersonName, distribution: Mapping[str, float] | None = None, limit: int | None = None
) -> list[Candidate]:
    """Local parts to probe, best first, each scored P(pattern) x P(spelling) summed over the
    (pattern, spelling) pairs that produce it; each local part appears once, labelled with the
    pattern that contributes most, so the finder never probes twice."""
    source = PRIOR if distribution is None else distribution
    mass: dict[str, float] = defaultdict(float)
    label: dict[str, tuple[float, str]] = {}
    variants = name.variants()
    for variant, share in zip(variants, _shares(variants)):
        for pattern, probability in renderable(source, variant).items():
            local = render(pattern, variant)
            assert local is not None  # renderable keeps only patterns this variant can fill
            score = probability * share
            mass[local] += score
            if score > label.get(local, (0.0, ""))[0]:
                label[local] = (score, pattern)
    ranked = sorted(
        (Candidate(local, label[local][1], score) for local, score in mass.items()),
        key=lambda c: (-c.score, rank_of(c.pattern), c.local),
    )
    return ranked if limit is None else ranked[:limit]


def _normalise_local(local: str) -> str:
    """Lowercase, drop a +tag and a trailing number (jsmith2 tells namesakes apart, not a pattern)."""
    if not 0 < len(local) <= 64 or any(ch == "@" or ch.isspace() or not ch.isprintable() for ch in local):
        raise ValueError(f"not a local part: {local!r}")
    return _TRAILING_NUMBER.sub("", local.lower().split("+", 1)[0])


def _named_matches(local: str, name: PersonName) -> dict[str, float]:
    """Catalogue patterns rendering `local` for some variant of `name`, with that variant's weight."""
    target = _normalise_local(local)
    matches: dict[str, float] = {}
    heaviest = 0.0
    for variant in name.variants():  # heaviest first
        if matches and variant.weight < heaviest:
            break  # the name explains the address as spelled: a rarer spelling is no extra evidence
        for pattern in PATTERNS:
            if render(pattern, variant) == target:
                matches[pattern] = max(matches.get(pattern, 0.0), variant.weight)
                heaviest = max(heaviest, variant.weight)
    return matches


def match_patterns(local: str, name: PersonName) -> list[str]:
    """Patterns that render `local` for this person, most plausible first."""
    matches = _named_matches(local, name)
    return sorted(matches, key=lambda p: (-PRIOR[p] * matches[p], rank_of(p)))


def pattern_of(local: str, name: PersonName) -> str | None:
    """The single most likely pattern behind a confirmed address, None when none renders it."""
    matches = match_patterns(local, name)
    return matches[0] if matches else None


# --- reading bare local parts -------------------------------------------------------------------
# Without a name, a local part is split into name slots every way a pattern allows, and each split
# is weighed by how name-like its tokens are: the first-name lexicon for first/middle slots and
# English-ish phonotactics (onset, coda, inner clusters) for surnames, since there is no surname list.

_VOWELS = frozenset("aeiouy")
_ONSETS = frozenset(
    "bl br ch chr cl cr dh dj dm dr dw fl fr gh gl gn gr kh kl kn kr kw ng ph pl pr ps rh sc sch schl "
    "schm schn schr schw scr sh shr sk sl sm sn sp spl spr st str sv sw sz th thr tr ts tw vl vr wh wr "
    "zb zh zw".split()
)
_CODAS = frozenset(
    "ch ck cht ct cz dt dz ff ft gg gh ght hl hm hn hr hs ht ks ld lds lf lk ll lls lm ln lp ls lt lz "
    "mb mm mp mpf ms nc nch nd nds ng ngs nk nn ns nt nts ntz nz pf ph pp ps pt rb rc rch rd rdt rds rf "
    "rg rk rks rl rm rn rns rnst rp rr rs rst rt rth rts rtz rz sch sh sk sp ss st sz tch th ts tt tz "
    "wn ws zz".split()
)
_INITIAL_LIKELIHOOD = 0.1  # roughly the chance of one particular initial letter
_FIRST_KNOWN, _FIRST_UNKNOWN = 0.5, 0.001  # a lexicon hit is strong evidence for a first-name slot
_LAST_PLAIN, _LAST_FIRSTNAME = 0.01, 0.005  # some surnames are first names too (james, lee)
_IMPLAUSIBLE = 1e-5
_PROFILE_FLOOR = 1e-3  # readings this much less likely than the best are forgotten
_EXCEPTIONS = 0.1  # share of a domain's addresses that ignore its convention (old accounts, aliases)


def _consonant_runs(token: str) -> list[str]:
    return re.findall(r"[^aeiouy]+", token)


def _plausible(token: str) -> bool:
    """Whether a letter string could be a name: vowels, a sayable start and end, no long clusters."""
    if len(token) < 2 or not _VOWELS & set(token):
        return False
    runs = _consonant_runs(token)
    onset = runs[0] if token[0] not in _VOWELS else ""
    coda = runs[-1] if token[-1] not in _VOWELS else ""
    inner = runs[(1 if onset else 0) : len(runs) - (1 if coda else 0)]
    return (
        (len(onset) <= 1 or onset in _ONSETS or onset.startswith("mc"))
        and (len(coda) <= 1 and coda != "q" or coda in _CODAS)
        and all(len(run) <= 3 for run in inner)
    )


def _token_likelihood(field: str, token: str) -> float:
    if field in _INITIALS:
        return _INITIAL_LIKELIHOOD
    if field == "last":
        if not _plausible(token):
            return _IMPLAUSIBLE
        return _LAST_FIRSTNAME if is_first_name(token) else _LAST_PLAIN
    if is_first_name(token):
        return _FIRST_KNOWN
    return _FIRST_UNKNOWN if _plausible(token) else _IMPLAUSIBLE


def _splits(
    pieces: tuple[tuple[str, str | None], ...], local: str, pos: int = 0
) -> Iterator[list[tuple[str, str]]]:
    """Every way to fill the pattern's slots with letter runs so that it renders `local`."""
    if not pieces:
        if pos == len(local):
            yield []
        return
    (literal, field), rest = pieces[0], pieces[1:]
    if not local.startswith(literal, pos):
        return
    pos += len(literal)
    if field is None:
        yield from _splits(rest, local, pos)
        return
    lengths = (1,) if field in _INITIALS else range(2, len(local) - pos + 1)
    for length in lengths:
        token = local[pos : pos + length]
        if len(token) < length or not (token.isascii() and token.isalpha()):
            return
        for tail in _splits(rest, local, pos + length):
            yield [(field, token), *tail]


def _bare_profile(local: str) -> dict[str, float]:
    """Likelihood of `local` under each pattern (relative, best = 1), summed over its splits."""
    target = _normalise_local(local)
    likelihood: dict[str, float] = {}
    for pattern in PATTERNS:
        total = sum(
            math.prod(_token_likelihood(field, token) for field, token in split)
            for split in _splits(_pieces(pattern), target)
        )
        if total > 0:
            likelihood[pattern] = total
    if not likelihood:
        return {}
    top = max(PRIOR[p] * value for p, value in likelihood.items())
    return {p: value for p, value in likelihood.items() if PRIOR[p] * value >= top * _PROFILE_FLOOR}


# --- a domain's convention ----------------------------------------------------------------------

Profile = tuple[tuple[str, float], ...]


def _as_profile(likelihood: Mapping[str, float]) -> Profile:
    """Scale to best = 1 and round so that alike observations share one entry (keeps storage small)."""
    top = max(likelihood.values())
    return tuple(sorted((p, float(f"{value / top:.3g}")) for p, value in likelihood.items()))


def _fits(profile: Profile) -> dict[str, float]:
    """P(address | the domain's convention is p), allowing it to be an exception read by the prior."""
    likelihood = dict(profile)
    exception = _EXCEPTIONS * sum(PRIOR[p] * value for p, value in profile)
    return {p: (1 - _EXCEPTIONS) * likelihood.get(p, 0.0) + exception for p in PATTERNS}


class Convention:
    """What a domain's known addresses say about its convention.

    Each observation is kept as its likelihood over patterns (one entry for an address whose
    person is known, several for an ambiguous bare one), so clear addresses can later settle what
    the ambiguous ones meant (jsmith + agarcia -> {f}{last}).
    """

    def __init__(self) -> None:
        self._observations: dict[Profile, int] = {}

    @property
    def evidence(self) -> int:
        """Addresses that matched at least one pattern."""
        return sum(self._observations.values())

    def observe(self, local: str, name: PersonName | None = None) -> bool:
        """Learn from a known address; False when it fits no pattern (nothing learned).

        Without a name the local part is read with the first-name lexicon, and role addresses
        (info@, sales@) are skipped: they would pass for surnames.
        """
        if name is not None:
            likelihood = _named_matches(local, name)
        elif is_role(local):
            return False
        else:
            likelihood = _bare_profile(local)
        if not likelihood:
            return False
        profile = _as_profile(likelihood)
        self._observations[profile] = self._observations.get(profile, 0) + 1
        return True

    def _belief(self) -> dict[str, float]:
        """P(the domain's one convention is p | its addresses), each address possibly an exception."""
        log_belief = {p: math.log(PRIOR[p]) for p in PATTERNS}
        for profile, count in self._observations.items():
            fit = _fits(profile)
            for p in PATTERNS:
                log_belief[p] += count * math.log(fit[p])
        top = max(log_belief.values())
        weights = {p: math.exp(value - top) for p, value in log_belief.items()}
        total = sum(weights.values())
        return {p: w / total for p, w in weights.items()}

    def predictive(self) -> dict[str, float]:
        """P(the next person's address follows p): the convention, or an exception read by the prior.

        Unlike `distribution` (smoothed shares, for display), this is the probability a best guess
        is right, so the finder's confidence can be checked against outcomes.
        """
        belief = self._belief()
        return {p: (1 - _EXCEPTIONS) * belief[p] + _EXCEPTIONS * PRIOR[p] for p in PATTERNS}

    def _fit(self) -> tuple[dict[str, float], dict[str, float]]:
        """(posterior over PATTERNS, expected number of addresses per pattern).

        Ambiguous addresses are attributed under the belief that the domain has one convention
        with a few exceptions, so clear addresses decide what the ambiguous ones mean.
        """
        belief = self._belief()
        counts: dict[str, float] = defaultdict(float)
        for profile, count in self._observations.items():
            # The address follows the domain's convention, or is an exception read by the prior.
            fit = _fits(profile)
            exception = sum(PRIOR[p] * value for p, value in profile)
            p_exception = sum(belief[z] * _EXCEPTIONS * exception / fit[z] for z in PATTERNS)
            for p, value in profile:
                regular = belief[p] * (1 - _EXCEPTIONS) * value / fit[p]
                counts[p] += count * (regular + p_exception * PRIOR[p] * value / exception)
        n = self.evidence
        theta = {p: (counts.get(p, 0.0) + ALPHA * PRIOR[p]) / (n + ALPHA) for p in PATTERNS}
        return theta, dict(counts)

    def distribution(self) -> dict[str, float]:
        """Posterior over PATTERNS (sums to 1); the global prior when nothing was learned."""
        return self._fit()[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "observations": [
                {"likelihood": dict(profile), "count": count}
                for profile, count in sorted(self._observations.items())
            ],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Convention:
        """Rebuild from to_dict() output; ValueError for anything else (stored JSON may be hand-edited)."""
        if not isinstance(data, Mapping) or data.get("version") != 1:
            raise ValueError("unsupported convention data")
        observations = data.get("observations")
        if not isinstance(observations, list):
            raise ValueError("convention data needs an observations list")
        convention = cls()
        for item in observations:
            likelihood = item.get("likelihood") if isinstance(item, Mapping) else None
            count = item.get("count") if isinstance(item, Mapping) else None
            if not isinstance(likelihood, Mapping) or not likelihood:
                raise ValueError(f"bad observation {item!r}")
            if type(count) is not int or count < 1:
                raise ValueError(f"bad observation count in {item!r}")
            for pattern, value in likelihood.items():
                if pattern not in PRIOR:
                    raise ValueError(f"unknown pattern {pattern!r}")
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                    raise ValueError(f"bad likelihood for {pattern!r}: {value!r}")
            profile = _as_profile(likelihood)
            convention._observations[profile] = convention._observations.get(profile, 0) + count
        return convention

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Convention) and self._observations == other._observations

    def __repr__(self) -> str:
        return f"Convention(evidence={self.evidence})"


def domain_patterns(convention: Convention, domain: str, limit: int = 10) -> list[dict[str, Any]]:
    """Kaspr's `domainPattern`: the patterns the domain's addresses support, best first.

    Scores are posterior probabilities floored to two decimals, so they sum to at most 1 and
    stay modest until several addresses agree; patterns only the prior backs are not listed.
    """
    if not domain or any(ch == "@" or ch.isspace() or not ch.isprintable() for ch in domain):
        raise ValueError(f"not a domain: {domain!r}")
    theta, counts = convention._fit()
    supported = [p for p in PATTERNS if counts.get(p, 0.0) >= 0.25]
    supported.sort(key=lambda p: (-theta[p], rank_of(p)))
    result = []
    for pattern in supported[:limit]:
        score = math.floor(theta[pattern] * 100 + 1e-9) / 100
        if score > 0:
            result.append({"pattern": f"{pattern}@{domain}", "score": score})
    return result
