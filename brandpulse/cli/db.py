"""``brandpulse db``: schema migrations."""

from __future__ import annotations

import click

from brandpulse.app import open_database
from brandpulse.cli.common import Context, UserError, handle_errors, pass_ctx
from brandpulse.db import upgrade as upgrade_schema
from brandpulse.db.engine import alembic_config, current_revision, head_revision, known_revision, revisions_below


@click.group()
def db() -> None:
    """Database schema: upgrade, show the current revision."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_ctx
@handle_errors
def upgrade(ctx: Context, revision: str) -> None:
    """Apply the migrations up to --revision (default: the newest; idempotent)."""
    from alembic.util import CommandError

    engine = open_database(ctx.settings)
    try:
        config = alembic_config(engine)
        current = current_revision(engine)
        if current is not None and known_revision(config, current) and (
                revision == "base" or revision in revisions_below(config, current)):
            raise UserError(f"--revision {revision}: the database is at {current}, after {revision}: upgrade never goes back")
        try:
            upgrade_schema(engine, revision)
        except CommandError as exc:  # e.g. no such revision
            raise UserError(f"--revision {revision}: {exc}") from None
        click.echo(f"database at revision {current_revision(engine)}: {engine.url.render_as_string(hide_password=True)}")
    finally:
        engine.dispose()


@db.command()
@pass_ctx
@handle_errors
def current(ctx: Context) -> None:
    """Print the database's current schema revision."""
    engine = open_database(ctx.settings)
    try:
        current = current_revision(engine)
        config = alembic_config(engine)
        if current is None:
            click.echo("(empty database: run `brandpulse db upgrade`)")
        elif not known_revision(config, current):
            click.echo(f"{current} (unknown to this brandpulse, whose newest is {head_revision(config)}: a newer brandpulse migrated it)")
        else:
            click.echo(current)
    finally:
        engine.dispose()
