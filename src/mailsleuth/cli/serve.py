"""`mailsleuth serve`: migrate, bootstrap on first start (printing the key once), run uvicorn."""

from __future__ import annotations

import asyncio

import typer

from mailsleuth import store
from mailsleuth.config import Settings, get_settings
from mailsleuth.store.accounts import BOOTSTRAP_CREDITS, BOOTSTRAP_ORG


async def prepare(settings: Settings) -> str | None:
    """Bring the database up to date; on an empty one create the bootstrap org and return its key."""
    db = store.Database.from_settings(settings)
    try:
        await db.migrate()
        return await store.bootstrap(db)
    finally:
        await db.dispose()


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    database_url: str | None = typer.Option(
        None, envvar="MAILSLEUTH_DATABASE_URL", help="SQLAlchemy URL (default: ./mailsleuth.db)."
    ),
    redis_url: str | None = typer.Option(
        None, envvar="MAILSLEUTH_REDIS_URL", help="Share rate-limit counters through Redis."
    ),
    log_level: str = typer.Option("info", help="uvicorn log level."),
) -> None:
    """Serve the API (every dialect, OpenAPI docs at /docs)."""
    import uvicorn

    from mailsleuth.api.app import create_app

    overrides = {k: v for k, v in {"database_url": database_url, "redis_url": redis_url}.items() if v}
    # `mailsleuth --dns-servers ... serve` passes its global options through the context
    base = ctx.obj["settings"] if isinstance(ctx.obj, dict) and "settings" in ctx.obj else get_settings()
    settings = base.model_copy(update=overrides)
    key = asyncio.run(prepare(settings))
    typer.echo(f"Database: {store.database_location(settings.database_url)}")
    if key is not None:
        opening = ", ".join(f"{amount} {kind.value}" for kind, amount in BOOTSTRAP_CREDITS.items())
        typer.echo(
            f"Created the bootstrap organisation {BOOTSTRAP_ORG!r}: free plan, {opening} credits "
            f"(more: mailsleuth admin add-credits {BOOTSTRAP_ORG} N --kind search|verify|enrich)."
        )
        typer.echo("Its API key (shown only this once):")
        typer.echo(f"  {key}")
    typer.echo("Serving the API, the dashboard at / and the interactive docs at /docs (--host and --port choose where).")
    uvicorn.run(create_app(settings, migrate=False), host=host, port=port, log_level=log_level)
