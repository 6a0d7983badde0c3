"""What every store-backed command shares: the --database-url option and one way to run and fail.

`mailsleuth admin`, `mailsleuth jobs` and `mailsleuth import` work on the database directly (no
server); each migrates it first, and reports a mistake in one line with exit code 2.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from mailsleuth.config import get_settings
from mailsleuth.store.db import Database
from mailsleuth.store.errors import StoreError

T = TypeVar("T")

stderr = Console(stderr=True, soft_wrap=True)  # one line per error, however narrow the terminal

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="SQLAlchemy URL [default: MAILSLEUTH_DATABASE_URL]", show_default=False),
]


class UserError(Exception):
    """A mistake in the command line: reported in one line, exit code 2."""


def run_with_store(database_url: str | None, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` on the (migrated) database; user, store and value errors exit with code 2."""

    async def main() -> T:
        db = Database(database_url or get_settings().database_url)
        try:
            await db.migrate()
            return await work(db)
        finally:
            await db.dispose()

    try:
        return asyncio.run(main())
    except (UserError, StoreError, ValueError) as error:
        stderr.print(f"[red]Error:[/red] {error}", highlight=False)
        raise typer.Exit(code=2) from None
