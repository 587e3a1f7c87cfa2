"""``brandpulse alerts``: work the alert inbox from the command line."""

from __future__ import annotations

import click
from sqlalchemy import select

from brandpulse.cli.common import (
    RECORD_ID, Context, UserError, actor_option, brand_ids, handle_errors, limit_option, more_line, pass_ctx,
)
from brandpulse.db.models import AlertRow, OutboxRow
from brandpulse.durations import format_duration
from brandpulse.inbox import InboxError, MentionView, alert_context, change_state, count_alerts, list_alerts, next_alert
from brandpulse.types import POSSIBLE_INCIDENT_RULE, reach_of, shown_handle, shown_reach
from outreach.outbox import x_reply_by_hand_note
from outreach.templating import printable

STATUSES = ("open", "acknowledged", "resolved", "dismissed")


def _one_line(alert: AlertRow, now) -> str:
    left = format_duration(alert.sla_due_at - now)
    if alert.first_response_at is not None:  # as the digest says: the SLA is met, whatever the deadline
        left = "answered" + (", then wrote again" if alert.last_mention_at > alert.first_response_at else "")
    overdue = " OVERDUE" if alert.sla_due_at < now and alert.status in ("open", "acknowledged") and alert.first_response_at is None else ""
    if (alert.round or 1) > 1 and alert.first_response_at is None:  # answered or resolved before; this message is not
        overdue += " wrote again" + (" after it was resolved" if alert.reopened_at else "")
    elif alert.reopened_at is not None and alert.status in ("open", "acknowledged"):
        overdue += " reopened"  # by a post written before the answer, read after the resolution
    who = f" → {alert.assignee}" if alert.assignee else ""
    many = f" ({alert.mention_count} posts)" if alert.mention_count > 1 else ""
    if alert.rule == POSSIBLE_INCIDENT_RULE:  # the spike detector's: many authors, every network
        source = f"{'all':<6} spike of negative mentions"
    else:
        source = f"{alert.platform:<6} {shown_handle(alert.platform, printable(alert.author_handle))}"
    clock = f"SLA {left:>7}{overdue}"
    if alert.status in ("resolved", "dismissed") and alert.resolved_at is not None:
        clock = f"{alert.resolved_at:%Y-%m-%d %H:%M} UTC"  # when it was closed: its SLA countdown means nothing now
    return (
        f"#{alert.id:<5} {alert.priority} {alert.status:<12} {clock}  "
        f"{source}{many}  [{alert.rule}]{printable(who)}"
    )


def _mention_line(view: MentionView, *, marker: str = "") -> str:
    m = view.mention
    label = f"{view.label} {view.compound:+.2f}" if view.label else "unscored"
    text = " ".join(printable((f"[{m.title}] " if m.title else "") + m.text).split())
    reach = reach_of(m.platform, followers=m.author_followers, community=m.community,
                     community_members=m.community_members, reply_to_id=m.reply_to_id)
    who = f"{shown_handle(m.platform, printable(m.author_handle))} ({printable(shown_reach(reach))})"
    return f"  {marker}{m.created_at:%Y-%m-%d %H:%M} {m.platform} {who} [{label}]\n      {text}\n      {printable(m.url or '')}"


def _round_lines(alert: AlertRow, rounds) -> list[str]:
    """The customer's messages that each awaited a first reply: the answered
    ones (alert_rounds) and the one the SLA is now for."""
    def answered(at, opened) -> str:
        return f"answered {at:%Y-%m-%d %H:%M} UTC ({format_duration(at - opened)})" if at else "not answered"

    after = "it was resolved" if alert.reopened_at and alert.round > 1 and rounds[-1].resolved_at else "being answered"
    lines = [f"The customer wrote again after {after}: message {alert.round} is awaited"
             f" (each message gets its own first-reply clock):"]
    for r in rounds:
        resolved = f", resolved {r.resolved_at:%Y-%m-%d %H:%M} UTC (then reopened by the next)" if r.resolved_at else ""
        lines.append(f"  {r.round}. posted {r.opened_at:%Y-%m-%d %H:%M} UTC, {r.priority}, due"
                     f" {r.sla_due_at:%H:%M}, {answered(r.first_response_at, r.opened_at)}{resolved}")
    opened = alert.round_opened_at or alert.opened_at
    lines.append(f"  {alert.round}. posted {opened:%Y-%m-%d %H:%M} UTC, {alert.priority}, due"
                 f" {alert.sla_due_at:%Y-%m-%d %H:%M} UTC,"
                 f" {answered(alert.first_response_at, opened) if alert.first_response_at else 'not answered yet'}")
    return lines


@click.group()
def alerts() -> None:
    """The alert inbox: list, show, take the next, acknowledge, resolve, dismiss."""


@alerts.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Repeatable. Default: open and acknowledged.")
@click.option("--brand", help="Only this brand id.")
@click.option("--mine", "assignee", help="Only alerts assigned to NAME.")
@limit_option
@pass_ctx
@handle_errors
def list_(ctx: Context, statuses, brand, assignee, limit) -> None:
    """Alerts, most urgent first (priority; within it, those waiting for a reply before answered ones; then SLA deadline)."""
    app = ctx.app()
    if brand is not None:
        brand_ids(app.settings, brand)  # an unknown brand is an error, not an empty inbox
    now = app.clock.now()
    where = {"statuses": statuses or ("open", "acknowledged"), "brand": brand, "assignee": assignee}
    with app.Session() as s:
        rows = list_alerts(s, **where, limit=limit)
        total = count_alerts(s, **where) if len(rows) == limit else len(rows)
        if not rows:  # say what was looked for: `--mine alce` is not "inbox zero"
            click.echo(f"no {' or '.join(where['statuses'])} alerts" + (f" of brand {brand}" if brand else "")
                       + (f" assigned to {printable(assignee)}" if assignee else ""))
        for alert in rows:
            click.echo(_one_line(alert, now))
    more = more_line(len(rows), total, one="alert", many="alerts")
    if more:
        click.echo(more)


@alerts.command()
@click.argument("alert_id", type=RECORD_ID)
@pass_ctx
@handle_errors
def show(ctx: Context, alert_id: int) -> None:
    """The whole context of one alert: its posts, the thread, the author's history, replies, audit."""
    app = ctx.app()
    now = app.clock.now()
    with app.Session() as s:
        try:
            c = alert_context(s, alert_id)
        except InboxError as exc:
            raise UserError(str(exc)) from None
        a = c.alert
        click.echo(_one_line(a, now))
        click.echo(f"  brand {a.brand}; opened {a.opened_at:%Y-%m-%d %H:%M} UTC; SLA due {a.sla_due_at:%Y-%m-%d %H:%M} UTC; tags: {', '.join(a.tags or []) or '-'}")
        if a.note:  # e.g. a possible incident: its numbers, top terms and the command that opens an incident
            click.echo("  " + "\n  ".join(printable(a.note).splitlines()))
        if a.resolution_note:
            click.echo(f"  note: {printable(a.resolution_note)}")
        if c.rounds:
            click.echo("\n" + "\n".join(_round_lines(a, c.rounds)))
        click.echo("\nThis alert's posts:")
        for v in c.mentions:
            click.echo(_mention_line(v))
        others = [v for v in c.thread if not v.in_alert]
        if others:
            click.echo("\nThe rest of the thread:")
            for v in others:
                click.echo(_mention_line(v))
        click.echo(f"\nThe author's other mentions (every network, newest first): {len(c.author_history) or 'none'}")
        for v in c.author_history:
            click.echo(_mention_line(v))
        click.echo("\nReplies:")
        if not c.replies:
            click.echo("  none drafted")
        posted = {v.mention.external_id: v.mention.created_at for v in (*c.mentions, *c.thread)}
        for r in c.replies:
            reason = f" — held: {r.hold_reason}" if r.hold_reason else ""
            account = shown_handle(r.platform, r.account) if r.account else "(no account)"
            # Which of the customer's posts it answers: a draft moves to their newest post as they write again.
            answers = f" to the post of {posted[r.in_reply_to]:%Y-%m-%d %H:%M} UTC" if r.in_reply_to in posted else ""
            click.echo(printable(f"  reply #{r.id} [{r.status}{reason}]{answers} via {r.platform} as {account}: {r.text}"))
            by_hand = x_reply_by_hand_note(s, r)  # X will not take it from the bot: say so before it is approved
            if by_hand:
                click.echo(f"    — {by_hand}")
        click.echo("\nHistory:")
        for e in c.events:
            click.echo(printable(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.actor}: {e.action}{' — ' + _details(e.details) if e.details else ''}"))


@alerts.command("next")
@actor_option
@click.option("--brand", help="Only this brand id.")
@pass_ctx
@handle_errors
def next_(ctx: Context, actor: str, brand: str | None) -> None:
    """Take the most urgent unassigned alert: it is assigned to you (--as NAME)."""
    app = ctx.app()
    if brand is not None:
        brand_ids(app.settings, brand)
    with app.Session.begin() as s:
        alert = next_alert(s, actor=actor, now=app.clock.now(), brand=brand)
        if alert is None:
            click.echo("inbox zero: no unassigned open alerts")
            return
        alert_id = alert.id
    click.echo(f"assigned to {actor}:")
    ctx_show = click.get_current_context()
    ctx_show.invoke(show, alert_id=alert_id)


def _details(details) -> str:
    """An audit event's details as a person reads them: ``note: bag delivered; mention_id: 13``."""
    if not isinstance(details, dict):
        return str(details)
    shown = (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for v in details.values())
    return "; ".join(f"{k}: {v}" for k, v in zip(details, shown))


def _unsent_reply_lines(session, alert_id: int) -> list[str]:
    """A closed alert's replies that have not gone out: closing the alert does not
    withdraw them, so say so (an approved one still goes out; a draft waits in `replies list`)."""
    rows = session.scalars(
        select(OutboxRow).where(OutboxRow.alert_id == alert_id, OutboxRow.status.in_(("drafted", "held", "approved")))
        .order_by(OutboxRow.id)
    ).all()
    return [
        f"  reply #{r.id} is {r.status}: it {'will still be sent' if r.status == 'approved' else 'stays in `brandpulse replies list`'};"
        f" `brandpulse replies reject {r.id}` if it is no longer needed"
        for r in rows
    ]


def _transition(action: str, help_text: str, *, note_option: str | None = None):
    @click.argument("alert_id", type=RECORD_ID)
    @actor_option
    @pass_ctx
    @handle_errors
    def command(ctx: Context, alert_id: int, actor: str, note: str | None = None) -> None:
        app = ctx.app()
        try:
            with app.Session.begin() as s:
                alert = change_state(s, alert_id, action, actor=actor, now=app.clock.now(), note=note)
                click.echo(f"alert #{alert.id} is now {alert.status} (by {printable(actor)})")
                if alert.status in ("resolved", "dismissed"):
                    for line in _unsent_reply_lines(s, alert.id):
                        click.echo(line)
        except InboxError as exc:
            raise UserError(str(exc)) from None

    command.__doc__ = help_text
    if note_option:
        command = click.option("--note", "--reason", "note", default=None, help=note_option)(command)
    return alerts.command(action)(command)


_transition("ack", "Acknowledge an alert (you are working on it).")
_transition("resolve", "Resolve an alert (the customer was helped).", note_option="What was done.")
_transition("dismiss", "Dismiss an alert that needs no answer.\n\n--reason 'not a complaint' also teaches the classifier (`brandpulse train --from-feedback`).", note_option="Why: e.g. 'not a complaint'.")
_transition("reopen", "Reopen a resolved or dismissed alert.")
