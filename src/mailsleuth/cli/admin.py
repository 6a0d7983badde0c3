"""`mailsleuth admin ...`: manage organisations, users, keys, plans and credits in the store.

Works directly on the database (no server needed), so it is also how a self-hoster recovers
access. ORG arguments take an organisation's name or id.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mailsleuth import store
from mailsleuth.store import CreditKind, Database, Organization
from mailsleuth.cli.store import DatabaseUrl, UserError, run_with_store, stderr


admin_app = typer.Typer(help="Manage organisations, users, API keys, plans and credits.", no_args_is_help=True)
stdout = Console(soft_wrap=True)  # one line per message, however narrow the terminal

async def _org(db: Database, name_or_id: str) -> Organization:
    org = await store.find_org(db, name_or_id)
    if org is None:
        raise UserError(
            f"unknown organisation {name_or_id!r}: `mailsleuth admin list-orgs` shows them, "
            f"`mailsleuth admin create-org {name_or_id}` creates it"
        )
    return org


@admin_app.command("create-org")
def create_org(
    name: str,
    admin_email: Annotated[str, typer.Option(help="E-mail of its first user, an administrator.")] = "admin@localhost",
    admin_name: Annotated[str, typer.Option(help="Display name of that user.")] = "Admin",
    plan: Annotated[str, typer.Option(help="Plan name.")] = "free",
    credits: Annotated[int, typer.Option(min=0, help="Opening balance of each kind: search, verify, enrich.")] = 100,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an organisation and its first (admin) user; then `create-key` gives it an API key."""
    opening = {kind: credits for kind in CreditKind}
    org = run_with_store(
        database_url,
        lambda db: store.create_org(
            db, name, plan=plan, credits=opening, admin_email=admin_email, admin_name=admin_name
        ),
    )
    stdout.print(
        f"created organisation {org.name!r} (id {org.id}, plan {org.plan}, {credits} credits of each kind) "
        f"with admin user {admin_email.lower()}",
        highlight=False,
    )
    stdout.print(f"next: mailsleuth admin create-key {org.name}", highlight=False)


@admin_app.command("create-user")
def create_user(
    org: str,
    email: str,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    admin: Annotated[bool, typer.Option("--admin", help="Organisation administrator.")] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a user to an organisation."""

    async def work(db: Database) -> store.User:
        return await store.create_user(db, (await _org(db, org)).id, email, name=name, admin=admin)

    user = run_with_store(database_url, work)
    stdout.print(f"created user {user.email} (id {user.id})", highlight=False)
    stdout.print(f"next: mailsleuth admin create-key {org} --user {user.email}", highlight=False)


@admin_app.command("create-key")
def create_key(
    org: str,
    user: Annotated[str | None, typer.Option("--user", help="User e-mail [default: the first admin].")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API key and print it. It is shown only this once."""

    async def work(db: Database) -> str:
        found = await _org(db, org)
        user_id = None
        if user is not None:
            owner = await store.find_user(db, found.id, user)
            if owner is None:
                raise UserError(
                    f"unknown user {user!r} in organisation {found.name!r}: "
                    f"`mailsleuth admin create-user {found.name} {user} --admin` adds it"
                )
            user_id = owner.id
        elif not await store.list_users(db, found.id):
            raise UserError(
                f"organisation {found.name!r} has no user to own the key: "
                f"`mailsleuth admin create-user {found.name} EMAIL --admin` adds one"
            )
        return await store.create_key(db, found.id, user_id)

    key = run_with_store(database_url, work)
    stderr.print(f"API key (prefix {store.key_prefix(key)}; shown once, store it now):")
    print(key)


@admin_app.command("list-keys")
def list_keys(org: str, database_url: DatabaseUrl = None) -> None:
    """An organisation's keys by prefix (the secret itself is stored hashed and never shown again)."""

    async def work(db: Database) -> list[tuple[store.ApiKeyInfo, str]]:
        found = await _org(db, org)
        users = {user.id: user.email for user in await store.list_users(db, found.id)}
        return [(key, users.get(key.user_id, "?")) for key in await store.list_keys(db, found.id)]

    table = Table("prefix", "user", "created", "revoked")
    for key, email in run_with_store(database_url, work):
        table.add_row(key.prefix, email, f"{key.created_at:%Y-%m-%d %H:%M}", "yes" if key.revoked else "")
    stdout.print(table)


@admin_app.command("revoke-key")
def revoke_key(prefix: str, database_url: DatabaseUrl = None) -> None:
    """Revoke the key whose prefix `list-keys`/`create-key` showed (e.g. ms_Ab12Cd34)."""

    async def work(db: Database) -> None:
        if not await store.revoke_key(db, prefix):
            raise UserError(f"no active key with prefix {prefix!r}: `mailsleuth admin list-keys ORG` shows them")

    run_with_store(database_url, work)
    stdout.print(f"revoked {prefix}", highlight=False)


@admin_app.command("set-plan")
def set_plan(org: str, plan: str, database_url: DatabaseUrl = None) -> None:
    """Change an organisation's plan."""

    async def work(db: Database) -> Organization:
        return await store.set_plan(db, (await _org(db, org)).id, plan)

    updated = run_with_store(database_url, work)
    stdout.print(f"{updated.name}: plan {updated.plan}", highlight=False)


@admin_app.command("add-credits")
def add_credits(
    org: str,
    amount: Annotated[int, typer.Argument(help="Credits to add (negative to withdraw).")],
    kind: Annotated[CreditKind, typer.Option(help="Which balance.")] = CreditKind.SEARCH,
    database_url: DatabaseUrl = None,
) -> None:
    """Add (or withdraw) credits."""

    async def work(db: Database) -> int:
        return await store.add_credits(db, (await _org(db, org)).id, kind, amount, reason="admin")

    remaining = run_with_store(database_url, work)
    stdout.print(f"{kind.value} credits: {remaining}", highlight=False)


@admin_app.command("list-orgs")
def list_orgs(database_url: DatabaseUrl = None) -> None:
    """Organisations with their plan, users, keys and balances."""

    async def work(db: Database) -> list[tuple[Organization, int, int, dict[CreditKind, store.Balance]]]:
        rows = []
        for org in await store.list_orgs(db):
            users = await store.list_users(db, org.id)
            keys = [key for key in await store.list_keys(db, org.id) if not key.revoked]
            rows.append((org, len(users), len(keys), await store.balances(db, org.id)))
        return rows

    table = Table("id", "name", "plan", "users", "keys", *(kind.value for kind in CreditKind))
    for org, users, keys, balances in run_with_store(database_url, work):
        table.add_row(
            str(org.id), org.name, org.plan, str(users), str(keys), *(str(balances[k].remaining) for k in CreditKind)
        )
    stdout.print(table)
