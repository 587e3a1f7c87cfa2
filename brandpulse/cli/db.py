"""``brandpulse db``: schema migrations."""

from __future__ import annotations

import click

from brandpulse.app import open_database
from brandpulse.cli.common import Context, UserError, handle_errors, pass_ctx
from brandpulse.db import upgrade as upgrade_schema
from brandpulse.db.engine import current_revision


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
        click.echo(current_revision(engine) or "(empty database: run `brandpulse db upgrade`)")
    finally:
        engine.dispose()
