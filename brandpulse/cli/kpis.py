"""``brandpulse kpis``: first-response and resolution times, answered-within shares."""

from __future__ import annotations

import json

import click

from brandpulse.cli.common import Context, brand_ids, handle_errors, parse_period, pass_ctx


@click.command()
@click.option("--since", default="7d", show_default=True, help="Period: alerts opened in the last 7d, 24h, …")
@click.option("--brand", default=None, help="Only this brand (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (durations in seconds).")
@pass_ctx
@handle_errors
def kpis(ctx: Context, since: str, brand: str | None, as_json: bool) -> None:
    """Response KPIs per brand and platform: first-response time and resolution time (mean, median, p90) and the share of alerts answered within 1h, 6h, 12h and 24h."""
    from outreach.kpis import compute_kpis, render_kpis_text

    period = parse_period(since)
    app = ctx.app()
    brands = brand_ids(app.settings, brand)
    with app.Session() as s:
        report = compute_kpis(s, now=app.clock.now(), since=period, brands=brands)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(render_kpis_text(report), nl=False)
