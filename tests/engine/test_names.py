import re
from importlib import resources

import pytest

from mailsleuth.engine.names import (
    MAX_VARIANTS,
    InvalidName,
    PersonName,
    is_first_name,
    nicknames,
    parse_name,
)

TOKEN = re.compile(r"[a-z0-9]*(-[a-z0-9]+)*")


def spellings(name: PersonName) -> list[tuple[str, str, str, float]]:
    return [(v.first, v.middle, v.last, v.weight) for v in name.variants()]


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Dr. John F. Kennedy Jr.", ("John", "F.", "Kennedy")),
        ("Prof. Dr. Jürgen Müller III", ("Jürgen", "", "Müller")),
        ("Shaun O'Neil PhD", ("Shaun", "", "O'Neil")),
        ("Dr. Jane Doe, M.D.", ("Jane", "", "Doe")),
        ("Mr. Paul Martin Esq.", ("Paul", "", "Martin")),
        ("Smith, John", ("John", "", "Smith")),
        ("Smith, John, Jr.", ("John", "", "Smith")),
        ("van der Berg, Ludwig", ("Ludwig", "", "van der Berg")),
        ("Ludwig van der Berg", ("Ludwig", "", "van der Berg")),
        ("Maria de la Cruz", ("Maria", "", "de la Cruz")),
        ("Madonna", ("Madonna", "", "")),
        ("King", ("King", "", "")),  # nameparser alone would call it a title
        ("  Mary   Smith-Jones ", ("Mary", "", "Smith-Jones")),
        ("Mu\u0308ller, Ju\u0308rgen", ("J\u00fcrgen", "", "M\u00fcller")),  # NFD in, NFC out
        ("Jo\u200bhn Smith", ("John", "", "Smith")),  # zero-width space from a copy-paste
        ('Robert "Bob" Smith', ("Robert", "", "Smith")),
        ("李小龙", ("小龙", "", "李")),  # Han names: family name first, no space
        ("Ms. Smith", ("", "", "Smith")),
    ],
)
def test_parse_full_name(full: str, expected: tuple[str, str, str]) -> None:
    name = parse_name(full)
    assert (name.first, name.middle, name.last) == expected


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ({"first": "Dr. John", "last": "Kennedy, Jr."}, ("John", "", "Kennedy")),
        ({"first": "Jane", "middle": "Q.", "last": "Public PhD"}, ("Jane", "Q.", "Public")),
        ({"first": "Major", "last": "Tom"}, ("Major", "", "Tom")),  # a lone word is never an affix
        ({"first": " Anna ", "middle": None, "last": " van  Dijk "}, ("Anna", "", "van Dijk")),
        ({"last": "Smith"}, ("", "", "Smith")),
        ({"first": "Madonna"}, ("Madonna", "", "")),
        ({"full": "", "first": "Ann", "last": "Lee"}, ("Ann", "", "Lee")),  # blank full name: absent
        ({"full": "Ann Lee", "first": " ", "last": ""}, ("Ann", "", "Lee")),  # blank parts: absent
    ],
)
def test_parse_parts(parts: dict[str, str | None], expected: tuple[str, str, str]) -> None:
    name = parse_name(**parts)
    assert (name.first, name.middle, name.last) == expected


def test_full_joins_present_parts() -> None:
    assert PersonName("John", "F.", "Kennedy").full == "John F. Kennedy"
    assert PersonName("Madonna", "", "").full == "Madonna"


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Shaun O'Neil", [("shaun", "", "oneil", 1.0)]),
        ("Conor O\u2019Brien", [("conor", "", "obrien", 1.0)]),
        ("Łukasz Groß", [("lukasz", "", "gross", 1.0)]),
        ("Linh Le", [("linh", "", "le", 1.0)]),  # a final particle-like word is the surname
        ("Ludwig van der Berg", [("ludwig", "", "vanderberg", 1.0), ("ludwig", "", "berg", 0.6)]),
        ("Inès de la Cruz", [("ines", "", "delacruz", 1.0), ("ines", "", "cruz", 0.6)]),
        ("Leonardo da Vinci", [
            ("leonardo", "", "davinci", 1.0), ("leonardo", "", "vinci", 0.6), ("leo", "", "davinci", 0.3),
        ]),
        ("Omar Al-Sharif", [
            ("omar", "", "al-sharif", 1.0), ("omar", "", "alsharif", 0.8), ("omar", "", "sharif", 0.6),
        ]),
        ("Ines Smith-Jones", [
            ("ines", "", "smith-jones", 1.0), ("ines", "", "smithjones", 0.8),
            ("ines", "", "smith", 0.5), ("ines", "", "jones", 0.4),
        ]),
        ("Jean-Pierre Dupont", [
            ("jean-pierre", "", "dupont", 1.0), ("jeanpierre", "", "dupont", 0.8),
            ("jean", "", "dupont", 0.5), ("jean", "pierre", "dupont", 0.4),
        ]),
        ("Juan Carlos de la Cruz Gómez", [
            ("juan", "carlos", "delacruzgomez", 1.0), ("juan", "carlos", "cruzgomez", 0.6),
            ("juan", "carlos", "delacruz", 0.5), ("juancarlos", "", "delacruzgomez", 0.5),
            ("juan", "carlos", "gomez", 0.4), ("juan-carlos", "", "delacruzgomez", 0.3),
        ]),
        ("Jürgen Müller", [("jurgen", "", "muller", 1.0), ("juergen", "", "mueller", 0.9)]),
        ("Björn Borg", [("bjorn", "", "borg", 1.0), ("bjoern", "", "borg", 0.9)]),
        ("Søren Ångström", [("soren", "", "angstrom", 1.0), ("soeren", "", "aangstroem", 0.9)]),
        ("Jürgen Müller-Lüdenscheidt", [
            ("jurgen", "", "muller-ludenscheidt", 1.0),
            ("juergen", "", "mueller-luedenscheidt", 0.9),
            ("jurgen", "", "mullerludenscheidt", 0.8),
            ("juergen", "", "muellerluedenscheidt", 0.72),
            ("jurgen", "", "muller", 0.5),
            ("juergen", "", "mueller", 0.45),
            ("jurgen", "", "ludenscheidt", 0.4),
            ("juergen", "", "luedenscheidt", 0.36),
        ]),
        ("Bob Smith", [("bob", "", "smith", 1.0), ("robert", "", "smith", 0.4)]),
        ("Robert Smith", [
            ("robert", "", "smith", 1.0), ("bob", "", "smith", 0.3),
            ("rob", "", "smith", 0.3), ("bobby", "", "smith", 0.3),
        ]),
        ("Liz Taylor", [("liz", "", "taylor", 1.0), ("elizabeth", "", "taylor", 0.4)]),
        ("李小龙", [("xiaolong", "", "li", 1.0)]),
        ("Madonna", [("madonna", "", "", 1.0)]),
    ],
)
def test_variants(full: str, expected: list[tuple[str, str, str, float]]) -> None:
    assert spellings(parse_name(full)) == expected


@pytest.mark.parametrize(
    ("name", "primary"),
    [
        (parse_name("Dr. John F. Kennedy Jr."), ("john", "f", "kennedy")),
        (parse_name("José García"), ("jose", "", "garcia")),
        (parse_name("Çağla Öztürk"), ("cagla", "", "ozturk")),
        (parse_name("Mary Ann Louise Smith"), ("mary", "ann", "smith")),
        (parse_name("ANNE-MARIE D'ANGELO"), ("anne-marie", "", "dangelo")),
        (parse_name(first="Zoë", last="Saldaña"), ("zoe", "", "saldana")),
        (PersonName("Jürgen", "", "Müller"), ("jurgen", "", "muller")),  # built directly, not parsed
    ],
)
def test_primary_variant(name: PersonName, primary: tuple[str, str, str]) -> None:
    best = name.variants()[0]
    assert (best.first, best.middle, best.last, best.weight, best.why) == (*primary, 1.0, "as given")


def test_variant_reasons_name_the_change() -> None:
    whys = [v.why for v in parse_name("Jürgen Müller-Lüdenscheidt").variants()]
    assert whys[:4] == [
        "as given",
        "ae/oe/ue transliteration",
        "last name without hyphen",
        "ae/oe/ue transliteration; last name without hyphen",
    ]
    assert [v.why for v in parse_name("Bob Smith").variants()] == ["as given", "formal name for bob"]


@pytest.mark.parametrize(
    "full",
    [
        "Dr. Jürgen Müller-Lüdenscheidt", "Mary-Kate Müller-Lüdenscheidt", "Anne-Marie de Saint-Exupéry",
        "Omar bin Abdullah al-Hassan", "William Henry Gates III", "Zoë Ångström", "Nguyễn Thị Minh Khai",
        "Αλέξανδρος Παπαδόπουλος", "Дмитрий Шостакович", "X Æ A-12 Musk", "Christopher O'Neil-Smith",
    ],
)
def test_variants_are_ranked_unique_and_usable_in_a_local_part(full: str) -> None:
    variants = parse_name(full).variants()
    assert 1 <= len(variants) <= MAX_VARIANTS
    assert variants[0].weight == 1.0
    assert all(v.weight < 1.0 for v in variants[1:])
    assert [v.weight for v in variants] == sorted((v.weight for v in variants), reverse=True)
    keys = [(v.first, v.middle, v.last) for v in variants]
    assert len(keys) == len(set(keys))
    for v in variants:
        assert all(TOKEN.fullmatch(token) for token in (v.first, v.middle, v.last)), v
        assert "-" not in v.middle


def test_variants_are_capped_keeping_the_best() -> None:
    variants = parse_name("Mary-Kate Müller-Lüdenscheidt").variants()
    assert len(variants) == MAX_VARIANTS
    assert [(v.first, v.last) for v in variants[:3]] == [
        ("mary-kate", "muller-ludenscheidt"),
        ("mary-kate", "mueller-luedenscheidt"),
        ("marykate", "muller-ludenscheidt"),
    ]


def test_non_latin_scripts_are_transliterated() -> None:
    assert spellings(parse_name("Дмитрий Шостакович"))[0] == ("dmitriy", "", "shostakovich", 1.0)  # anyascii spelling
    assert spellings(parse_name("Αλέξανδρος Παπαδόπουλος"))[0] == ("alexandros", "", "papadopoulos", 1.0)


@pytest.mark.parametrize(
    ("full", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1234", "no letters"),
        ("!!! ???", "no letters"),
        ("😀 😀", "no letters"),
        ("John\r\nSmith", "control character '\\\\r'"),
        ("John\nSmith", "control character '\\\\n'"),
        ("John\tSmith", "control character '\\\\t'"),
        ("John\x00", "control character"),
        ("Jo\u2028hn", "control character"),
        ("a" * 300, "longer than 256"),
        ("Mr.", "no usable first or last name"),
    ],
)
def test_rejects_full_name(full: str, message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        parse_name(full)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "empty"),
        ({"first": "", "last": " "}, "empty"),
        ({"first": "Ann\n", "last": "Lee"}, "control character"),
        ({"first": "Ann", "last": "Lee\x1b[31m"}, "control character"),
        ({"first": "Ann", "middle": "42", "last": "Lee"}, "no letters"),
        ({"full": "Ann Lee", "first": "Ann"}, "not both"),
        ({"full": " ", "first": ""}, "empty"),
    ],
)
def test_rejects_parts(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        parse_name(**kwargs)


def test_invalid_name_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_name("\x00")


@pytest.mark.parametrize(
    ("first", "expected"),
    [
        ("bob", {"robert"}),
        ("Bill", {"william"}),
        ("liz", {"elizabeth"}),
        ("Peggy", {"margaret"}),
        ("xyzzy", set()),
    ],
)
def test_nicknames_of_a_nickname(first: str, expected: set[str]) -> None:
    assert nicknames(first) == expected


@pytest.mark.parametrize(
    ("first", "includes"),
    [
        ("Robert", {"bob", "rob", "bobby", "robbie"}),
        ("william", {"bill", "will", "billy", "liam"}),
        ("Elizabeth", {"liz", "beth", "betty", "eliza"}),
        ("alex", {"alexander", "alexandra", "alexis"}),  # one nickname, several formal names
    ],
)
def test_nicknames_of_a_formal_name(first: str, includes: set[str]) -> None:
    found = nicknames(first)
    assert includes <= found
    assert first.lower() not in found


def test_every_nickname_pair_works_both_ways() -> None:
    text = resources.files("mailsleuth").joinpath("data", "nicknames.csv").read_text(encoding="utf-8")
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]
    assert sum(len(nicks.split()) for _, nicks in rows) >= 300
    for canonical, nicks in rows:
        assert re.fullmatch(r"[a-z]+", canonical)
        for nick in nicks.split():
            assert re.fullmatch(r"[a-z]+", nick)
            assert nick in nicknames(canonical)
            assert canonical in nicknames(nick)


@pytest.mark.parametrize(
    "token",
    ["james", "John", "maria", "lukasz", "jurgen", "pieter", "giuseppe", "priya", "mohammed",
     "xiaoming", "wei", "yuki", "olumide", "bjorn", "siobhan", "malgorzata", "chiara", "dmitry"],
)
def test_is_first_name(token: str) -> None:
    assert is_first_name(token)


@pytest.mark.parametrize("token", ["smith", "kowalski", "nguyen", "example", "info", "van", "", "jo"])
def test_is_not_first_name(token: str) -> None:
    assert not is_first_name(token)


def test_first_name_lexicon_is_large_and_clean() -> None:
    text = resources.files("mailsleuth").joinpath("data", "first_names.txt").read_text(encoding="utf-8")
    names = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert len(names) >= 3000
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z]{3,}", name) for name in names)


def test_compound_first_names_are_also_written_joined_or_split() -> None:
    joined = {(v.first, v.middle, v.last) for v in parse_name("José Luis Gómez").variants()}
    assert ("joseluis", "", "gomez") in joined and ("jose-luis", "", "gomez") in joined
    split = {(v.first, v.middle, v.last) for v in parse_name("Jan-Willem Dekker").variants()}
    assert ("jan", "willem", "dekker") in split and ("janwillem", "", "dekker") in split
