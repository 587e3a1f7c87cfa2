"""``brandpulse digest``: the daily digest, as HTML and text."""

from __future__ import annotations

from pathlib import Path

import click

from brandpulse.cli.common import Context, UserError, handle_errors, parse_period, pass_ctx


@click.command()
@click.option("--since", default="24h", show_default=True, help="Period covered, e.g. 24h, 7d.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Directory for the HTML file (default: <data_dir>/digests).")
@pass_ctx
@handle_errors
def digest(ctx: Context, since: str, out_dir: Path | None) -> None:
    """Write the digest as HTML and print it as text: open alerts by priority with SLA time left, counts by sentiment and platform."""
    from outreach.digest import build_digest, render_text, write_digest

    period = parse_period(since)
    app = ctx.app()
    with app.Session() as s:
        d = build_digest(s, settings=app.settings, now=app.clock.now(), since=period)
    click.echo(render_text(d))
    try:
        path = write_digest(d, settings=app.settings, directory=out_dir)
    except OSError as exc:
        where = exc.filename or out_dir or app.settings.data_path / "digests"
        raise UserError(f"cannot write the HTML digest to {where}: {exc.strerror or exc}") from None
    click.echo(f"HTML digest: {path}")
