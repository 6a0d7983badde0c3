"""People import: values (LinkedIn ids, phones, regions), rows with line numbers, and the command."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mailsleuth import store
from mailsleuth.cli.people import import_people
from mailsleuth.service.csvfiles import CsvProblem
from mailsleuth.service.people import (
    PersonError,
    linkedin_id,
    parse_people_csv,
    parse_people_records,
    phone_e164,
    region_for,
)
from mailsleuth.store import Database
from mailsleuth.store import intelligence as knowledge


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("jane-doe-1a2b3c", "jane-doe-1a2b3c"),
        ("https://www.linkedin.com/in/jane-doe-1a2b3c/", "jane-doe-1a2b3c"),
        ("linkedin.com/in/jane-doe?trk=x", "jane-doe"),
        ("http://fr.linkedin.com/in/j%C3%A9r%C3%B4me", "jérôme"),
        ("ACoAAAB1c2VyX2lk", "ACoAAAB1c2VyX2lk"),
    ],
)
def test_linkedin_ids_from_ids_and_urls(value: str, expected: str) -> None:
    assert linkedin_id(value) == expected


@pytest.mark.parametrize("value", ["https://evil.test/in/jane", "https://linkedin.com/company/acme", "a b", "x"])
def test_bad_linkedin_values(value: str) -> None:
    with pytest.raises(PersonError):
        linkedin_id(value)


def test_phones_become_e164_with_the_region_from_the_option_or_the_location() -> None:
    assert phone_e164("+33 1 42 68 53 00", None) == "+33142685300"
    assert phone_e164("01 42 68 53 00", "FR") == "+33142685300"
    assert phone_e164("(650) 253-0000", region_for("Mountain View, CA, USA")) == "+16502530000"
    assert region_for("Paris, France") == "FR" and region_for("München, Deutschland") == "DE"
    assert region_for("Somewhere") is None and region_for(None) is None
    with pytest.raises(PersonError, match="country"):
        phone_e164("01 42 68 53 00", None)
    with pytest.raises(PersonError, match="valid"):
        phone_e164("+33 1 23", None)


CSV = """Full Name,Company,Website,Job Title,LinkedIn URL,Phone,Location,Email
Jane Doe,Acme,https://www.acme.test/,CEO,https://www.linkedin.com/in/jane-doe/,01 42 68 53 00,"Paris, France",jane.doe@acme.test
,Acme,acme.test,,,,,
John Smith,Acme,acme.test,CTO,,not a phone,,
Mary Major,,,,,,,mary@major.test

"Bob
Jones",Acme,acme.test,,,,,
Bob Jones,Acme,acme.test,,https://evil.test/in/bob,,,
"""


def test_rows_are_parsed_and_bad_ones_reported_with_their_lines() -> None:
    parsed = parse_people_csv(io.StringIO(CSV))
    assert [p.name.full for p in parsed.people] == ["Jane Doe", "Mary Major"]
    jane, mary = parsed.people
    assert (jane.line, jane.domain, jane.linkedin_id, jane.phone, jane.title) == (
        2, "acme.test", "jane-doe", "+33142685300", "CEO",
    )
    assert mary.domain == "major.test"  # from the address when no domain is given
    assert [(b.line, b.error.split(":")[0]) for b in parsed.bad] == [(3, "name"), (4, "phone"), (7, "name"), (9, "linkedin")]


def test_missing_name_columns_are_a_file_error() -> None:
    with pytest.raises(CsvProblem, match="no name column"):
        parse_people_csv(io.StringIO("company,email\nAcme,a@acme.test\n"))
    by_parts = parse_people_csv(io.StringIO("first_name,last_name,domain\nAda,Lovelace,acme.test\n"))
    assert by_parts.people[0].name.full == "Ada Lovelace"


def test_json_records_use_the_same_rules() -> None:
    parsed = parse_people_records([{"name": "Ada Lovelace", "linkedin": "ada"}, {"title": "x"}, "junk"])
    assert [p.linkedin_id for p in parsed.people] == ["ada"]
    assert [b.line for b in parsed.bad] == [2, 3]


def test_the_import_command(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"

    async def prepare() -> int:
        db = Database(url)
        await db.migrate()
        org = await store.create_org(db, "acme-org")
        await db.dispose()
        return org.id

    org_id = asyncio.run(prepare())
    path = tmp_path / "people.csv"
    path.write_text(CSV)
    app = typer.Typer()
    app.command("import")(import_people)
    app.command("other")(lambda: None)  # a group, as in the real CLI: `import` is a sub-command
    runner = CliRunner()
    result = runner.invoke(app, ["import", str(path), "--database-url", url, "--org", "acme-org"])
    assert result.exit_code == 1, result.output  # bad rows were skipped
    assert "imported 2 people (2 new, 0 updated)" in result.stdout
    assert f"{path}:3: name" in result.stderr and f"{path}:9: linkedin" in result.stderr

    async def check() -> tuple[str | None, int]:
        db = Database(url)
        jane = await knowledge.find_by_linkedin(db, org_id, "jane-doe")
        convention = await store.get_convention(db, "acme.test")
        await db.dispose()
        return (jane.phone if jane else None), (convention.evidence if convention else 0)

    # imported people stay the organisation's own: they teach no convention other organisations see
    assert asyncio.run(check()) == ("+33142685300", 0)
    again = runner.invoke(app, ["import", str(path), "--database-url", url])  # the only organisation
    assert "(0 new, 2 updated)" in again.stdout
    missing = runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--database-url", url])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    region = runner.invoke(app, ["import", str(path), "--database-url", url, "--default-region", "XX"])
    assert region.exit_code == 2


def test_a_crm_export_with_full_name_and_parts_takes_the_parts() -> None:
    """120 of 120 rows of such exports were refused before: the parts carry the split, so they win."""
    parsed = parse_people_csv(io.StringIO(
        "full_name,first_name,last_name,email\nMaria de la Cruz,Maria,de la Cruz,maria@acme.test\n"
        "Jan Peter Visser,Jan Peter,Visser,jpv@acme.test\nAda Lovelace,,,ada@acme.test\n"
    ))
    assert not parsed.bad
    assert [(p.name.first, p.name.last) for p in parsed.people] == [
        ("Maria", "de la Cruz"), ("Jan Peter", "Visser"), ("Ada", "Lovelace")  # the full name when parts are blank
    ]


def test_the_import_command_reads_a_semicolon_export(tmp_path: Path) -> None:
    """A spreadsheet saved as CSV in a French or German locale separates its columns with `;`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'semi.db'}"

    async def prepare() -> None:
        db = Database(url)
        await db.migrate()
        await store.create_org(db, "semi-org")
        await db.dispose()

    asyncio.run(prepare())
    path = tmp_path / "export.csv"
    path.write_text("name;domain;phone;title\nJane Doe;acme.test;+33 1 42 68 53 00;\"CFO; Finance\"\n"
                    "John Smith;acme.test;;CTO\n", encoding="utf-8")
    app = typer.Typer()
    app.command("import")(import_people)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["import", str(path), "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "imported 2 people (2 new, 0 updated)" in result.stdout

    async def check() -> list[tuple[str, str | None, str | None, str | None]]:
        db = Database(url)
        org = await store.find_org(db, "semi-org")
        assert org is not None
        page = await store.query_contacts(db, org.id, store.ContactFilters(order_by="name"))
        await db.dispose()
        return [(c.name, c.domain, c.phone, c.title) for c in page.items]

    assert asyncio.run(check()) == [("Jane Doe", "acme.test", "+33142685300", "CFO; Finance"),
                                    ("John Smith", "acme.test", None, "CTO")]
