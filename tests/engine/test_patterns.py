import json
import math

import pytest

from mailsleuth.engine.names import NameVariant, PersonName, parse_name
from mailsleuth.engine.patterns import (
    ALPHA,
    PATTERNS,
    PRIOR,
    Candidate,
    Convention,
    candidates,
    domain_patterns,
    match_patterns,
    pattern_of,
    render,
)

FULL = NameVariant("john", "quincy", "smith", 1.0, "test")


def primary(name: PersonName) -> NameVariant:
    return name.variants()[0]


def learned(pattern: str, people: list[PersonName]) -> Convention:
    convention = Convention()
    for person in people:
        local = render(pattern, primary(person))
        assert local is not None
        assert convention.observe(local, person)
    return convention


PEOPLE = [
    PersonName("Alice", "Beth", "Carter"),
    PersonName("David", "Emma", "Fischer"),
    PersonName("Grace", "Helen", "Irwin"),
    PersonName("Kevin", "Laura", "Morgan"),
    PersonName("Nora", "Olivia", "Porter"),
]


# --- catalogue and prior ---


def test_catalogue_has_the_common_conventions_and_a_prior_summing_to_one():
    required = {
        "{first}.{last}", "{f}{last}", "{first}", "{first}{last}", "{first}_{last}", "{f}.{last}",
        "{first}{l}", "{last}{f}", "{last}.{first}", "{last}", "{first}-{last}", "{f}{l}", "{last}{first}",
        "{first}.{m}.{last}", "{f}{m}{last}", "{last}_{first}", "{f}_{last}", "{first}.{l}", "{last}.{f}",
        "{f}-{last}", "{first}{m}{last}",
    }
    assert len(PATTERNS) >= 20 and len(set(PATTERNS)) == len(PATTERNS)
    assert required <= set(PATTERNS)
    assert set(PRIOR) == set(PATTERNS)
    assert all(p > 0 for p in PRIOR.values())
    assert math.isclose(sum(PRIOR.values()), 1.0)


def test_prior_ranks_the_conventions_as_studies_report():
    assert PRIOR["{first}.{last}"] >= 0.3
    assert PRIOR["{first}.{last}"] > PRIOR["{f}{last}"] > PRIOR["{first}"] > PRIOR["{first}{last}"]
    assert max(PRIOR, key=PRIOR.__getitem__) == "{first}.{last}"


# --- rendering ---


@pytest.mark.parametrize(
    ("pattern", "local"),
    [
        ("{first}", "john"),
        ("{last}", "smith"),
        ("{middle}", "quincy"),
        ("{f}", "j"),
        ("{l}", "s"),
        ("{m}", "q"),
        ("{first}.{last}", "john.smith"),
        ("{f}{m}{last}", "jqsmith"),
        ("{last}_{f}", "smith_j"),
        ("{first}-{middle}-{last}", "john-quincy-smith"),
    ],
)
def test_render_fills_each_placeholder(pattern, local):
    assert render(pattern, FULL) == local


def test_every_catalogue_pattern_gives_a_distinct_local_part():
    locals_ = [render(p, FULL) for p in PATTERNS]
    assert None not in locals_
    assert len(set(locals_)) == len(PATTERNS)


def test_render_returns_none_when_a_needed_part_is_missing():
    no_middle = NameVariant("john", "", "smith", 1.0, "test")
    no_last = NameVariant("john", "", "", 1.0, "test")
    assert render("{f}{m}{last}", no_middle) is None
    assert render("{first}.{middle}.{last}", no_middle) is None
    assert render("{first}.{last}", no_last) is None
    assert render("{first}{l}", no_last) is None
    assert render("{first}", no_last) == "john"


@pytest.mark.parametrize("pattern", ["{nick}.{last}", "{first!r}", "{first:>3}", "plain"])
def test_render_rejects_unknown_placeholders(pattern):
    with pytest.raises(ValueError):
        render(pattern, FULL)


# --- candidates ---


def test_candidates_follow_the_prior_for_a_fresh_domain():
    name = parse_name("John Quincy Smith")
    main = primary(name)
    ranked = candidates(name)
    assert ranked[0] == Candidate("john.smith", "{first}.{last}", ranked[0].score)
    scores = [c.score for c in ranked]
    assert scores == sorted(scores, reverse=True)
    others = {render(p, v) for v in name.variants()[1:] for p in PATTERNS}
    alone = [c.pattern for c in ranked if c.local == render(c.pattern, main) and c.local not in others]
    assert alone == sorted(alone, key=lambda p: -PRIOR[p])  # a local part other spellings share gains their mass
    own = [c.pattern for c in ranked if c.local == render(c.pattern, main)]
    assert own[:5] == ["{first}.{last}", "{f}{last}", "{first}", "{first}{last}", "{f}.{last}"]


def test_candidates_are_unique_by_local_part_and_honour_the_limit():
    name = parse_name("John Quincy Smith")
    ranked = candidates(name)
    assert len({c.local for c in ranked}) == len(ranked)
    assert candidates(name, limit=3) == ranked[:3]


def test_colliding_patterns_keep_the_best_one():
    name = PersonName("Li", "", "Li")
    ranked = candidates(name)
    hits = [c for c in ranked if c.local == "li"]
    assert [c.pattern for c in hits] == ["{first}"]  # {last} renders "li" too, with a lower prior


def test_a_learned_distribution_reorders_candidates():
    name = parse_name("John Smith")
    ranked = candidates(name, {"{last}.{f}": 0.7, "{first}.{last}": 0.3})
    assert [c.local for c in ranked[:2]] == ["smith.j", "john.smith"]
    assert ranked[0].score == pytest.approx(0.7)


def test_without_a_middle_name_middle_patterns_fall_back_to_their_plain_form():
    name = PersonName("John", "", "Smith")
    assert not any("{m" in c.pattern for c in candidates(name))
    ranked = candidates(name, {"{f}{m}{last}": 0.9, "{first}.{last}": 0.1})
    assert (ranked[0].local, ranked[0].pattern) == ("jsmith", "{f}{last}")
    assert ranked[0].score == pytest.approx(0.9)


def test_without_a_last_name_only_first_name_patterns_are_offered():
    name = PersonName("Cher", "", "")
    ranked = candidates(name)
    assert ranked and all("{last}" not in c.pattern and "{l}" not in c.pattern for c in ranked)
    assert (ranked[0].local, ranked[0].pattern, ranked[0].score) == ("cher", "{first}", 1.0)


# --- matching known addresses to a person ---


def test_match_patterns_and_pattern_of():
    john = PersonName("John", "Quincy", "Smith")
    assert match_patterns("jsmith", john) == ["{f}{last}"]
    assert pattern_of("J.Smith", john) == "{f}.{last}"
    assert pattern_of("john.q.smith", john) == "{first}.{m}.{last}"
    assert pattern_of("jsmith2", john) == "{f}{last}"  # a number telling namesakes apart
    assert pattern_of("john.smith+news", john) == "{first}.{last}"
    assert pattern_of("bob.jones", john) is None
    assert match_patterns("bob.jones", john) == []


def test_match_patterns_lists_every_reading_best_first():
    same = PersonName("Li", "", "Li")
    assert match_patterns("li", same) == ["{first}", "{last}"]


@pytest.mark.parametrize("bad", ["", "john@example.com", "john\r\nRCPT", "jo hn", "john\x00", "a" * 65])
def test_bad_local_parts_are_refused(bad):
    with pytest.raises(ValueError):
        pattern_of(bad, PersonName("John", "", "Smith"))
    with pytest.raises(ValueError):
        Convention().observe(bad)


# --- learning with names ---


def test_named_observations_give_the_shrunk_posterior():
    convention = learned("{f}{last}", PEOPLE[:3])
    assert convention.observe("alice.carter", PEOPLE[0])
    assert not convention.observe("zed", PEOPLE[0])  # not this person's address: nothing learned
    assert convention.evidence == 4
    dist = convention.distribution()
    assert math.isclose(sum(dist.values()), 1.0)
    n = 4
    assert dist["{f}{last}"] == pytest.approx((3 + ALPHA * PRIOR["{f}{last}"]) / (n + ALPHA))
    assert dist["{first}.{last}"] == pytest.approx((1 + ALPHA * PRIOR["{first}.{last}"]) / (n + ALPHA))
    assert dist["{last}"] == pytest.approx(ALPHA * PRIOR["{last}"] / (n + ALPHA))


def test_nothing_learned_means_the_prior():
    assert Convention().distribution() == pytest.approx(dict(PRIOR))
    assert Convention().evidence == 0


@pytest.mark.parametrize("pattern", PATTERNS)
def test_a_learned_convention_is_the_first_candidate(pattern):
    convention = learned(pattern, PEOPLE[:3])
    newcomer = PersonName("Rachel", "Sophie", "Turner")
    top = candidates(newcomer, convention.distribution())[0]
    assert top.pattern == pattern
    assert top.local == render(pattern, primary(newcomer))


def test_one_address_is_enough_to_lead_for_a_rare_convention():
    convention = learned("{last}.{f}", PEOPLE[:1])
    assert candidates(PersonName("Rachel", "", "Turner"), convention.distribution())[0].local == "turner.r"


# --- learning from bare addresses ---


def top_pattern(*locals_: str) -> str:
    convention = Convention()
    for local in locals_:
        assert convention.observe(local)
    dist = convention.distribution()
    return max(dist, key=dist.__getitem__)


@pytest.mark.parametrize(
    ("local", "pattern"),
    [
        ("john.smith", "{first}.{last}"),
        ("smith.john", "{last}.{first}"),
        ("jsmith", "{f}{last}"),
        ("j.smith", "{f}.{last}"),
        ("john", "{first}"),
        ("johnsmith", "{first}{last}"),
        ("john_smith", "{first}_{last}"),
        ("smithj", "{last}{f}"),
        ("john.s", "{first}.{l}"),
        ("john.q.smith", "{first}.{m}.{last}"),
        ("mwilliams", "{f}{last}"),
    ],
)
def test_bare_addresses_are_read_with_the_first_name_lexicon(local, pattern):
    assert top_pattern(local) == pattern


def test_ambiguous_bare_address_stays_uncertain_until_the_domain_speaks():
    alone = Convention()
    alone.observe("agarcia")  # a.garcia or agarcia the surname?
    shape = domain_patterns(alone, "example.com")
    assert len(shape) >= 2 and shape[0]["score"] < 0.4

    with_peers = Convention()
    for local in ("agarcia", "jsmith", "tnguyen", "mwilliams"):
        assert with_peers.observe(local)
    shape = domain_patterns(with_peers, "example.com")
    assert [entry["pattern"] for entry in shape] == ["{f}{last}@example.com"]


def test_surname_only_domain_is_recognised():
    assert top_pattern("garcia", "jones", "nguyen") == "{last}"


def test_role_and_unreadable_addresses_teach_nothing():
    convention = Convention()
    assert not convention.observe("info")
    assert not convention.observe("sales")
    assert not convention.observe("12345")
    assert convention.evidence == 0


# --- Kaspr's domainPattern ---


def test_domain_patterns_has_kaspr_shape():
    convention = learned("{f}{last}", PEOPLE[:4])
    convention.observe("alice.carter", PEOPLE[0])
    shape = domain_patterns(convention, "example.com")
    assert [e["pattern"] for e in shape] == ["{f}{last}@example.com", "{first}.{last}@example.com"]
    assert all(set(e) == {"pattern", "score"} for e in shape)
    scores = [e["score"] for e in shape]
    assert scores == sorted(scores, reverse=True)
    assert sum(scores) <= 1.0 + 1e-9
    assert all(round(s, 2) == s for s in scores)
    assert domain_patterns(convention, "example.com", limit=1) == shape[:1]


def test_domain_patterns_needs_evidence_before_claiming_certainty():
    assert domain_patterns(Convention(), "example.com") == []
    one = domain_patterns(learned("{f}{last}", PEOPLE[:1]), "example.com")
    many = domain_patterns(learned("{f}{last}", PEOPLE * 4), "example.com")
    assert one[0]["pattern"] == many[0]["pattern"] == "{f}{last}@example.com"
    assert one[0]["score"] < 0.6
    assert many[0]["score"] > 0.9


@pytest.mark.parametrize("domain", ["", "a@b.com", "exa mple.com", "example.com\r\n"])
def test_domain_patterns_refuses_a_bad_domain(domain):
    with pytest.raises(ValueError):
        domain_patterns(Convention(), domain)


# --- persistence ---


def test_convention_round_trips_through_json():
    convention = learned("{first}.{last}", PEOPLE[:3])
    for local in ("jsmith", "agarcia", "jsmith", "john"):
        convention.observe(local)
    restored = Convention.from_dict(json.loads(json.dumps(convention.to_dict())))
    assert restored == convention
    assert restored.evidence == convention.evidence == 7
    assert restored.distribution() == pytest.approx(convention.distribution())
    assert Convention.from_dict(Convention().to_dict()) == Convention()


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"version": 2, "observations": []},
        {"version": 1, "observations": {}},
        {"version": 1, "observations": [{"likelihood": {"{nick}": 1.0}, "count": 1}]},
        {"version": 1, "observations": [{"likelihood": {"{first}": 1.0}, "count": 0}]},
        {"version": 1, "observations": [{"likelihood": {"{first}": -1}, "count": 1}]},
        {"version": 1, "observations": [{"likelihood": {"{first}": float("inf")}, "count": 1}]},
        {"version": 1, "observations": [{"likelihood": {}, "count": 1}]},
        {"version": 1, "observations": ["{first}"]},
    ],
)
def test_from_dict_refuses_malformed_data(data):
    with pytest.raises(ValueError):
        Convention.from_dict(data)
