"""The `mailsleuth` command as a user runs it: a subprocess pointed at the mail world by environment."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.mailworld.world import MailWorld


def run(
    world: MailWorld, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **world.env(), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "mailsleuth", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(autouse=True)
def local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's finds keep what they learn in a store of their own (never ./mailsleuth.db)."""
    path = tmp_path / "local.db"
    monkeypatch.setenv("MAILSLEUTH_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    return path


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_verify_prints_verdicts_and_exits_with_the_worst(mail_world: MailWorld) -> None:
    done = run(mail_world, "verify", "jane.doe@acme.test", "nobody@acme.test")
    assert done.returncode == 3, done.stderr
    assert "deliverable" in done.stdout and "mailbox_not_found" in done.stdout


def test_verify_json_has_the_evidence(mail_world: MailWorld) -> None:
    done = run(mail_world, "verify", "--json", "jane.doe@acme.test")
    assert done.returncode == 0, done.stderr
    evidence = json.loads(done.stdout)
    assert evidence["verdict"] == "deliverable"
    assert evidence["mx_hosts"] == ["mx.acme.test"]
    assert evidence["smtp_code"] == 250 and evidence["catch_all"] is False


def test_verify_options_override_the_environment(mail_world: MailWorld) -> None:
    done = run(mail_world, "--no-allow-private-networks", "verify", "--json", "jane.doe@acme.test")
    assert done.returncode == 4
    assert json.loads(done.stdout)["reason"] == "private_network_refused"


def test_verify_refuses_a_bad_address_before_any_traffic(mail_world: MailWorld) -> None:
    before = mail_world.server("mx.acme.test").stats.rcpt_count
    done = run(mail_world, "verify", "jane.doe@acme.test", "jane doe@acme.test")
    assert done.returncode == 2
    assert "bad address 'jane doe@acme.test'" in done.stderr
    assert mail_world.server("mx.acme.test").stats.rcpt_count == before


def test_find_by_full_name(mail_world: MailWorld) -> None:
    done = run(mail_world, "find", "--json", "Dr. Maria Garcia", "acme.test")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["email"], result["score"], result["pattern"]) == ("maria.garcia@acme.test", 100, "{first}.{last}")


def test_find_by_parts_and_best_guess_exit_code(mail_world: MailWorld) -> None:
    done = run(mail_world, "find", "--first", "Jane", "--last", "Doe", "catchall.test")
    assert done.returncode == 1, done.stderr
    assert "jane.doe@catchall.test" in done.stdout and "score 80" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["find", "Jane Doe", "acme..test"], "bad company or domain"),
        (["find", "Jane Doe", "Nowhere Widgets GmbH"], "could not locate the company 'Nowhere Widgets GmbH'"),
        (["find", "\x07", "acme.test"], "bad name"),
        (["find", "Jane Doe"], "missing DOMAIN"),
    ],
)
def test_find_bad_input(mail_world: MailWorld, args: list[str], message: str) -> None:
    done = run(mail_world, *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_patterns_from_known_addresses(mail_world: MailWorld, tmp_path: Path) -> None:
    known = write_csv(
        tmp_path / "known.csv",
        [["email", "name"], ["jdoe@corp.test", "Jane Doe"], ["bsmith@corp.test", "Bob Smith"],
         ["mgarcia@corp.test", "Maria Garcia"], ["tlee@corp.test", "Tom Lee"], ["other@else.test", "X Y"]],
    )
    done = run(mail_world, "patterns", "corp.test", "--known", str(known), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["patterns"][0]["pattern"] == "{f}{last}@corp.test"
    assert sum(p["score"] for p in result["patterns"]) <= 1.0 + 1e-9
    assert result["evidence"] == 4


def test_verify_file_streams_rows_with_results(mail_world: MailWorld, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "in.csv",
        [["id", "Email", "note"], ["1", "jane.doe@acme.test", "=HYPERLINK(1)"], ["2", "nobody@acme.test", ""],
         ["3", "who@catchall.test", ""], ["4", "not-an-address", ""], ["5", "x@nxdomain.test"]],
    )
    out = tmp_path / "out.csv"
    done = run(mail_world, "verify-file", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [r["id"] for r in rows] == ["1", "2", "3", "4", "5"]
    assert [r["verdict"] for r in rows] == ["deliverable", "undeliverable", "risky", "undeliverable", "undeliverable"]
    assert rows[0]["is_deliverable"] == "True" and rows[1]["is_bounce"] == "True" and rows[2]["is_risky"] == "True"
    assert rows[0]["score"] == "100" and rows[0]["smtp_code"] == "250" and rows[2]["catch_all"] == "True"
    assert rows[0]["note"] == "'=HYPERLINK(1)"  # spreadsheet formulas neutralised
    assert rows[4]["note"] == ""  # ragged row padded
    assert "5 rows" in done.stderr


def test_verify_file_writes_the_same_file_with_and_without_pipelining(mail_world: MailWorld, tmp_path: Path) -> None:
    """Pipelined RCPT batches change the wire, never the answers: the same rows, columns and verdicts."""
    locals_ = ["jane.doe", "john.smith", "nobody", "info", "Jane.Doe", "x.y", "jäne"]
    domains = ["acme.test", "full.test", "disabled.test", "catchall.test", "nxdomain.test", "nullmx.test"]
    addresses = [f"{local}@{domain}" for domain in domains for local in locals_] + ["not an address", "a@@b.test"]
    source = write_csv(tmp_path / "in.csv", [["id", "email"]] + [[str(n), a] for n, a in enumerate(addresses * 8)])
    outputs = []
    for pipelining in ("true", "false"):
        out = tmp_path / f"out-{pipelining}.csv"
        env = {"MAILSLEUTH_USE_PIPELINING": pipelining}
        done = run(mail_world, "verify-file", str(source), "-o", str(out), env=env)
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_text(encoding="utf-8"))
    assert outputs[0] == outputs[1]
    rows = {r["email"]: r for r in read_csv(tmp_path / "out-true.csv")}
    assert len(read_csv(tmp_path / "out-true.csv")) == len(addresses) * 8
    assert (rows["jane.doe@acme.test"]["verdict"], rows["jane.doe@acme.test"]["smtp_code"]) == ("deliverable", "250")
    assert (rows["nobody@acme.test"]["verdict"], rows["nobody@acme.test"]["smtp_code"]) == ("undeliverable", "550")
    assert rows["jane.doe@full.test"]["verdict"] == "risky" and rows["nobody@catchall.test"]["catch_all"] == "True"
    assert rows["jäne@acme.test"]["verdict"] == "unknown"


def test_verify_file_with_a_named_column(mail_world: MailWorld, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [["who", "work"], ["Jane", "jane.doe@acme.test"]])
    out = tmp_path / "out.csv"
    done = run(mail_world, "verify-file", str(source), "-o", str(out), "--column", "work")
    assert done.returncode == 0, done.stderr
    assert read_csv(out)[0]["verdict"] == "deliverable"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"name,company\nJane,Acme\n", "no address column"),
        (b"email\n\xff\xfe\xfa@acme.test\n", "can't decode"),
    ],
)
def test_verify_file_bad_input(mail_world: MailWorld, tmp_path: Path, content: bytes, message: str) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    done = run(mail_world, "verify-file", str(source), "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 2
    assert message in done.stderr


def test_verify_file_missing_input(mail_world: MailWorld, tmp_path: Path) -> None:
    done = run(mail_world, "verify-file", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 2 and "no such file" in done.stderr


def test_find_file(mail_world: MailWorld, tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "people.csv",
        [["first", "last", "domain"], ["Jane", "Doe", "acme.test"], ["Nobody", "Here", "acme.test"],
         ["John", "Smith", "catchall.test"], ["Jane", "Doe", "bad domain!"]],
    )
    out = tmp_path / "found.csv"
    done = run(mail_world, "find-file", str(source), "-o", str(out))
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    assert [r["email"] for r in rows] == ["jane.doe@acme.test", "", "john.smith@catchall.test", ""]
    assert [r["score"] for r in rows] == ["100", "", "80", ""]
    assert rows[0]["pattern"] == "{first}.{last}" and rows[0]["verdict"] == "deliverable"
    assert rows[3]["reason"].startswith("bad input")


def test_find_file_needs_name_columns(mail_world: MailWorld, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "people.csv", [["who", "domain"], ["Jane Doe", "acme.test"]])
    done = run(mail_world, "find-file", str(source), "-o", str(tmp_path / "o.csv"))
    assert done.returncode == 2 and "no name columns" in done.stderr
    done = run(mail_world, "find-file", str(source), "-o", str(tmp_path / "o.csv"), "--name-column", "who")
    assert done.returncode == 0, done.stderr
    assert read_csv(tmp_path / "o.csv")[0]["email"] == "jane.doe@acme.test"


def test_verify_file_can_wait_out_greylisting(mail_world: MailWorld, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", [["email"], ["greta.cli@greylist.test"], ["jane.doe@acme.test"]])
    out = tmp_path / "out.csv"
    done = run(mail_world, "verify-file", str(source), "-o", str(out), "--wait-greylisted")
    assert done.returncode == 0, done.stderr
    rows = read_csv(out)
    # greylist.test only knows jane.doe: once past the greylist the unknown mailbox is a real 550
    assert [(r["verdict"], r["reason"]) for r in rows] == [
        ("undeliverable", "mailbox_not_found"), ("deliverable", "accepted")
    ]


def test_verify_file_and_find_file_read_semicolon_exports(mail_world: MailWorld, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text("Name;Email;Note\nJane;jane.doe@acme.test;a, b\nNobody;nobody@acme.test;\n", encoding="utf-8")
    done = run(mail_world, "verify-file", str(source), "-o", str(tmp_path / "out.csv"))
    assert done.returncode == 0 and "2 rows: deliverable 1, undeliverable 1" in done.stderr, done.stderr
    rows = read_csv(tmp_path / "out.csv")
    assert [(r["Name"], r["Email"], r["Note"], r["verdict"]) for r in rows] == [
        ("Jane", "jane.doe@acme.test", "a, b", "deliverable"), ("Nobody", "nobody@acme.test", "", "undeliverable")]
    people = tmp_path / "people.csv"
    people.write_text("first;last;domain\nJane;Doe;acme.test\n", encoding="utf-8")
    done = run(mail_world, "find-file", str(people), "-o", str(tmp_path / "found.csv"))
    assert done.returncode == 0, done.stderr
    assert [(r["first"], r["email"]) for r in read_csv(tmp_path / "found.csv")] == [("Jane", "jane.doe@acme.test")]
