"""``brandpulse outreach``: the kill switch, and the send-time safeguards."""

from __future__ import annotations

import click

from brandpulse.cli.common import RECORD_ID, Context, UserError, actor_option, brand_ids, handle_errors, pass_ctx
from brandpulse.durations import format_duration
from brandpulse.types import shown_handle
from outreach.templating import printable


def _fmt(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "?"


def _known_brand(ctx: Context, brand: str | None) -> None:
    brand_ids(ctx.settings, brand)


@click.group()
def outreach() -> None:
    """Stop or resume all sending at once, see what the safeguards hold, lift an opt-out, waive a safeguard."""


@outreach.command()
@click.option("--brand", default=None, help="Pause only this brand (default: every brand).")
@click.option("--reason", default=None, help="Why (recorded in the audit log).")
@actor_option
@pass_ctx
@handle_errors
def pause(ctx: Context, brand: str | None, reason: str | None, actor: str) -> None:
    """Kill switch: stop all sending now. Approved replies wait; nothing new is posted until resume."""
    from outreach.safeguards import set_paused

    _known_brand(ctx, brand)
    app = ctx.app()
    with app.Session.begin() as s:
        row, changed = set_paused(s, paused=True, actor=actor, now=app.clock.now(), brand=brand, reason=reason)
        scope = f"brand {brand}" if brand else "all brands"
        if changed:
            click.echo(f"sending is PAUSED for {scope} (by {actor}). `brandpulse outreach resume` starts it again.")
        else:
            click.echo(f"sending was already paused for {scope} by {row.changed_by} at {_fmt(row.changed_at)}.")


@outreach.command()
@click.option("--brand", default=None, help="Resume only this brand's pause (a pause of every brand stays).")
@actor_option
@pass_ctx
@handle_errors
def resume(ctx: Context, brand: str | None, actor: str) -> None:
    """Start sending again after a pause."""
    from outreach.safeguards import GLOBAL_SCOPE, paused_scopes, set_paused

    _known_brand(ctx, brand)
    app = ctx.app()
    with app.Session.begin() as s:
        _, changed = set_paused(s, paused=False, actor=actor, now=app.clock.now(), brand=brand)
        scope = f"brand {brand}" if brand else "all brands"
        click.echo(f"sending resumed for {scope} (by {actor})." if changed else f"sending was not paused for {scope}.")
        still = paused_scopes(s)
        if brand and GLOBAL_SCOPE in still:
            click.echo("note: sending is still paused for ALL brands; `brandpulse outreach resume` lifts that.")
        elif not brand and still:
            click.echo("note: still paused for brand(s): " + ", ".join(sorted(still)))


@outreach.command()
@pass_ctx
@handle_errors
def status(ctx: Context) -> None:
    """Is sending on? What is held and why, which accounts wait for a rate limit, posts per account against the caps, quiet hours, opt-outs."""
    from outreach.outbox import current_waits
    from outreach.safeguards import GLOBAL_SCOPE, outreach_status

    app = ctx.app()
    config = app.settings.safeguards
    with app.Session() as s:
        st = outreach_status(s, settings=app.settings, now=app.clock.now())
        waits = current_waits(s, now=app.clock.now())
    if GLOBAL_SCOPE in st.paused:
        row = st.paused[GLOBAL_SCOPE]
        why = f": {printable(row.reason)}" if row.reason else ""
        click.echo(f"Sending: PAUSED for all brands by {printable(row.changed_by or '?')} since {_fmt(row.changed_at)}{why}")
    else:
        click.echo("Sending: on")
    for scope, row in sorted(st.paused.items()):
        if scope != GLOBAL_SCOPE:
            why = f": {printable(row.reason)}" if row.reason else ""
            click.echo(f"  brand {scope}: PAUSED by {printable(row.changed_by or '?')} since {_fmt(row.changed_at)}{why}")
    counts = st.replies_by_status
    click.echo(
        "Replies not yet out: "
        + ", ".join(f"{k} {counts.get(k, 0)}" for k in ("drafted", "approved", "held", "sending", "unknown", "manual"))
    )
    if st.held_by_code:
        click.echo("  held by: " + ", ".join(f"{k} {v}" for k, v in sorted(st.held_by_code.items())))
    for wait in waits:  # the platform said "not now" (a rate limit): that sender's replies wait
        reason = f": {printable(wait.reason)}" if wait.reason else ""
        also = f", with {', '.join(wait.also_held())}" if wait.also_held() and wait.identity != wait.platform else ""
        click.echo(f"  {printable(wait.who())}{printable(also)} waits until {_fmt(wait.until)}{reason}")
    click.echo(f"Caps per account: {config.caps.per_hour} per hour, {config.caps.per_day} per day")
    for a in st.accounts:
        who = shown_handle(a.platform, a.account) if a.account else "(no account)"
        click.echo(f"  {a.platform} {who}: {a.last_hour} in the last hour, {a.last_day} in the last day")
    q = config.quiet_hours
    if q is None:
        click.echo("Quiet hours: none")
    else:
        now = f"quiet now, until {_fmt(st.quiet_until)}" if st.quiet_until else "not quiet now"
        click.echo(f"Quiet hours: {q.start:%H:%M}–{q.end:%H:%M} {q.timezone} ({now})")
    click.echo(f"Per-author cooldown: {format_duration(config.per_author_cooldown)}; opt-outs recorded: {st.opt_outs}")


@outreach.command("opt-outs")
@click.option("--brand", default=None)
@pass_ctx
@handle_errors
def opt_outs(ctx: Context, brand: str | None) -> None:
    """Authors who asked the brand to stop replying (never replied to automatically)."""
    from outreach.safeguards import list_opt_outs

    _known_brand(ctx, brand)
    app = ctx.app()
    with app.Session() as s:
        rows = list_opt_outs(s, brand=brand)
    if not rows:
        click.echo("no opt-outs")
    for r in rows:
        who = shown_handle(r.platform, printable(r.author_handle))
        click.echo(f"{r.brand}  {r.platform}  {who}  wrote {printable(r.word)!r} on {_fmt(r.posted_at)}"
                   f" (mention {r.mention_id})")


@outreach.command("clear-opt-out")
@click.argument("platform", type=click.Choice(["x", "reddit", "replay"]))
@click.argument("handle")
@click.option("--brand", default=None, help="The brand (default: the only one configured).")
@click.option("--reason", default=None, help="Why, e.g. 'asked us to help again' (recorded).")
@actor_option
@pass_ctx
@handle_errors
def clear_opt_out_cmd(ctx: Context, platform: str, handle: str, brand: str | None, reason: str | None, actor: str) -> None:
    """Lift an author's opt-out when they ask to hear from the brand again (audited)."""
    from outreach.safeguards import SafeguardError, clear_opt_out

    brands = [b.id for b in ctx.settings.brands]
    if brand is None:
        if len(brands) != 1:
            raise UserError(f"--brand is needed: several brands are configured ({', '.join(brands)})")
        brand = brands[0]
    _known_brand(ctx, brand)
    app = ctx.app()
    try:
        with app.Session.begin() as s:
            rows = clear_opt_out(s, brand=brand, platform=platform, handle=handle, actor=actor,
                                 now=app.clock.now(), reason=reason)
    except SafeguardError as exc:
        raise UserError(str(exc)) from None
    click.echo(f"opt-out lifted for {', '.join(printable(r.author_handle) for r in rows)} on {platform} ({brand}).")


@outreach.command()
@click.argument("reply_id", type=RECORD_ID)
@click.argument("safeguard", type=click.Choice(["one_per_thread", "cooldown", "quiet_hours", "incident_answered"]))
@click.option("--reason", default=None, help="Why (recorded in the audit log).")
@actor_option
@pass_ctx
@handle_errors
def waive(ctx: Context, reply_id: int, safeguard: str, reason: str | None, actor: str) -> None:
    """Waive one safeguard for one reply (then approve it with `brandpulse replies approve`)."""
    from outreach.safeguards import SafeguardError, waive as waive_safeguard

    app = ctx.app()
    try:
        with app.Session.begin() as s:
            row = waive_safeguard(s, reply_id, safeguard, actor=actor, now=app.clock.now(), reason=reason)
            click.echo(f"reply #{row.id}: {safeguard} waived by {actor} (status {row.status});"
                       + (" approve it to send." if row.status != "approved" else " it goes out with the next send."))
    except SafeguardError as exc:
        raise UserError(str(exc)) from None
