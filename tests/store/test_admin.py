"""`mailsleuth admin` through typer's CliRunner, against a real database file."""

import asyncio

from typer.testing import CliRunner

from mailsleuth import store
from mailsleuth.cli.admin import admin_app
from mailsleuth.store import CreditKind, Database

runner = CliRunner()


def _admin(url: str, *args: str) -> tuple[int, str]:
    command, *rest = args
    result = runner.invoke(admin_app, [command, "--database-url", url, *rest])
    return result.exit_code, result.output


def _check(url: str, work):  # type: ignore[no-untyped-def]
    async def main():  # type: ignore[no-untyped-def]
        db = Database(url)
        try:
            return await work(db)
        finally:
            await db.dispose()

    return asyncio.run(main())


def test_create_org_user_and_key(database_url: str) -> None:
    assert _admin(database_url, "create-org", "acme", "--plan", "pro", "--credits", "7")[0] == 0
    code, output = _admin(database_url, "create-user", "acme", "ann@acme.test", "--name", "Ann", "--admin")
    assert code == 0, output
    code, output = _admin(database_url, "create-key", "acme", "--user", "ann@acme.test")
    assert code == 0, output
    key = output.strip().splitlines()[-1]
    principal = _check(database_url, lambda db: store.authenticate(db, key))
    assert principal is not None and (principal.org_name, principal.user_email, principal.admin) == (
        "acme", "ann@acme.test", True)
    org = _check(database_url, lambda db: store.find_org(db, "acme"))
    assert org.plan == "pro"
    balances = _check(database_url, lambda db: store.balances(db, org.id))
    assert {kind: balance.remaining for kind, balance in balances.items()} == {kind: 7 for kind in CreditKind}


def test_create_org_makes_its_first_user_so_create_key_works_next(database_url: str) -> None:
    code, output = _admin(database_url, "create-org", "beta")
    assert code == 0, output
    assert output.splitlines() == [
        "created organisation 'beta' (id 1, plan free, 100 credits of each kind) with admin user admin@localhost",
        "next: mailsleuth admin create-key beta",
    ]
    code, output = _admin(database_url, "create-key", "beta")
    assert code == 0, output
    key = output.strip().splitlines()[-1]
    assert f"prefix {store.key_prefix(key)}" in output
    principal = _check(database_url, lambda db: store.authenticate(db, key))
    assert (principal.org_name, principal.user_email, principal.admin) == ("beta", "admin@localhost", True)
    code, output = _admin(database_url, "create-org", "gamma", "--admin-email", "Ops@Gamma.test", "--admin-name", "Ops")
    assert code == 0 and "with admin user ops@gamma.test" in output
    code, output = _admin(database_url, "list-keys", "beta")
    assert code == 0 and store.key_prefix(key) in output and "admin@localhost" in output


def test_revoke_set_plan_add_credits_and_list(database_url: str) -> None:
    _admin(database_url, "create-org", "acme", "--credits", "0")
    _admin(database_url, "create-user", "acme", "ann@acme.test")
    key = _admin(database_url, "create-key", "acme")[1].strip().splitlines()[-1]
    assert _admin(database_url, "revoke-key", store.key_prefix(key))[0] == 0
    assert _check(database_url, lambda db: store.authenticate(db, key)) is None
    assert _admin(database_url, "set-plan", "acme", "enterprise")[0] == 0
    code, output = _admin(database_url, "add-credits", "acme", "25", "--kind", "verify")
    assert code == 0 and "25" in output
    code, output = _admin(database_url, "list-orgs")
    assert code == 0
    row = next(line for line in output.splitlines() if "acme" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")] == ["1", "acme", "enterprise", "2", "0", "0", "25", "0"]


def test_clear_errors(database_url: str) -> None:
    for args in (
        ("create-user", "nope", "a@b.test"),
        ("create-key", "nope"),
        ("set-plan", "nope", "pro"),
        ("add-credits", "nope", "5"),
    ):
        code, output = _admin(database_url, *args)
        assert code == 2 and output == (
            "Error: unknown organisation 'nope': `mailsleuth admin list-orgs` shows them, "
            "`mailsleuth admin create-org nope` creates it\n"
        ), (args, output)
    _admin(database_url, "create-org", "acme")
    assert _admin(database_url, "create-org", "acme") == (2, "Error: organisation 'acme' already exists\n")
    _check(database_url, lambda db: store.create_org(db, "empty"))  # made before orgs came with a user
    assert _admin(database_url, "create-key", "empty") == (
        2, "Error: organisation 'empty' has no user to own the key: "
           "`mailsleuth admin create-user empty EMAIL --admin` adds one\n")
    code, output = _admin(database_url, "create-key", "acme", "--user", "ghost@acme.test")
    assert code == 2 and "unknown user 'ghost@acme.test'" in output
    assert "`mailsleuth admin create-user acme ghost@acme.test --admin` adds it" in output
    code, output = _admin(database_url, "revoke-key", "ms_missing")
    assert code == 2 and "`mailsleuth admin list-keys ORG` shows them" in output
    assert _admin(database_url, "add-credits", "acme", "5", "--kind", "gold")[0] == 2
    code, output = _admin(database_url, "add-credits", "acme", "--", "-500")
    assert code == 2 and "not enough" in output
