"""``brandpulse trends``: mentions and sentiment per hour, day or week, against the previous period."""

from __future__ import annotations

import json

import click

from brandpulse.cli.common import Context, UserError, brand_ids, handle_errors, parse_period, pass_ctx

BY = ("hour", "day", "week")
PLATFORMS = ("x", "reddit")


@click.command()
@click.option("--since", default="30d", show_default=True, help="Period: mentions posted in the last 30d, 24h, …")
@click.option("--by", type=click.Choice(BY), default="day", show_default=True, help="Bucket size (UTC hours, days, weeks from Monday).")
@click.option("--brand", default=None, help="Only this brand (default: all).")
@click.option("--platform", type=click.Choice(PLATFORMS), default=None, help="Only this platform (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@pass_ctx
@handle_errors
def trends(ctx: Context, since: str, by: str, brand: str | None, platform: str | None, as_json: bool) -> None:
    """Sentiment trends per brand and platform: mentions per bucket by latest label (the brand's own posts left out), negative share and net sentiment, against the previous period of the same length."""
    from outreach.trends import check_period, compute_trends, render_trends_text

    period = parse_period(since)
    try:
        check_period(period, by)
    except ValueError as exc:
        raise UserError(f"--since: {exc}") from None
    app = ctx.app()
    brands = brand_ids(app.settings, brand)
    with app.Session() as s:
        report = compute_trends(s, now=app.clock.now(), since=period, by=by, brands=brands, platform=platform)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_trends_text(report), nl=False)
