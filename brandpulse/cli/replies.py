"""``brandpulse replies``: review drafted replies before they go out."""

from __future__ import annotations

import click
from sqlalchemy import func, select

from brandpulse.cli.common import RECORD_ID, Context, UserError, actor_option, handle_errors, limit_option, more_line, pass_ctx
from brandpulse.db.models import AlertRow, OutboxRow
from brandpulse.types import shown_handle
from outreach.templating import printable
from outreach.outbox import OutboxError, approve as approve_reply, edit as edit_reply, reject as reject_reply, x_reply_by_hand_note

STATUSES = ("drafted", "approved", "held", "sending", "sent", "failed", "rejected", "unknown", "manual")


@click.group()
def replies() -> None:
    """Drafted replies: list, approve (optionally edited), reject, edit."""


@replies.command("list")
@click.option("--status", "statuses", multiple=True, type=click.Choice(STATUSES), help="Repeatable. Default: drafted and held.")
@limit_option
@pass_ctx
@handle_errors
def list_(ctx: Context, statuses, limit) -> None:
    """Replies waiting for a decision, oldest first."""
    app = ctx.app()
    wanted = OutboxRow.status.in_(statuses or ("drafted", "held"))
    with app.Session() as s:
        rows = s.scalars(select(OutboxRow).where(wanted).order_by(OutboxRow.created_at, OutboxRow.id).limit(limit)).all()
        total = s.scalar(select(func.count()).select_from(OutboxRow).where(wanted)) if len(rows) == limit else len(rows)
        if not rows:
            click.echo(f"no {' or '.join(statuses or ('drafted', 'held'))} replies")
        for r in rows:
            reason = f" held: {r.hold_reason}" if r.hold_reason else ""
            if r.status == "manual" and r.last_error:  # "reply by hand: <link> (why)"
                reason = f" — {r.last_error}"
            elif r.status in ("failed", "unknown") and r.last_error:
                reason = f" ({r.last_error})"
            by_hand = x_reply_by_hand_note(s, r)  # X will not take it from the bot: say so before it is approved
            if by_hand:
                reason += f" — {by_hand}"
            alert = f" alert #{r.alert_id}" if r.alert_id else ""
            account = shown_handle(r.platform, r.account) if r.account else "(no account)"
            click.echo(printable(f"#{r.id:<5} {r.status:<9}{alert} {r.platform} as {account} → {r.in_reply_to or 'new post'}{reason}\n       {_indented(r.text)}"))
    more = more_line(len(rows), total, one="reply", many="replies")
    if more:
        click.echo(more)


def _indented(text: str) -> str:
    """A multi-line post (a status update) kept under its header line."""
    return "\n".join(f"       {line}" if line.strip() else "" for line in text.splitlines()).lstrip()


def _run(ctx: Context, fn, outbox_id: int, **kwargs) -> None:
    app = ctx.app()
    try:
        with app.Session.begin() as s:
            row = fn(s, outbox_id, now=app.clock.now(), **kwargs)
            click.echo(printable(f"reply #{row.id} is now {row.status}: {row.text}"))
            if row.status == "approved" and row.alert_id is not None:
                closed = s.scalar(select(AlertRow.status).where(AlertRow.id == row.alert_id,
                                                                AlertRow.status.in_(("resolved", "dismissed"))))
                if closed:  # e.g. dismissed as not a complaint: approving it may be a slip
                    click.echo(f"  note: its alert #{row.alert_id} is {closed}; the reply still goes out"
                               f" (`brandpulse replies reject {row.id}` if it should not)")
    except OutboxError as exc:
        raise UserError(str(exc)) from None


def _run_each(ctx: Context, fn, reply_ids: tuple[int, ...], **kwargs) -> None:
    """``fn`` on each reply in its own transaction (e.g. an outage's linked
    complaints approved at once): one that cannot change is named and the
    others still change; the exit status says whether any failed. An id
    given twice is done once (its second turn would fail: already done)."""
    reply_ids = tuple(dict.fromkeys(reply_ids))
    if len(reply_ids) == 1:
        return _run(ctx, fn, reply_ids[0], **kwargs)
    if kwargs.get("text") is not None:
        raise UserError("--text edits one reply: give one REPLY_ID with it")
    failed = []
    for reply_id in reply_ids:
        try:
            _run(ctx, fn, reply_id, **kwargs)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            failed.append(reply_id)
    if failed:
        raise UserError(f"{len(failed)} of {len(reply_ids)} replies unchanged: {', '.join(f'#{i}' for i in failed)}")


@replies.command()
@click.argument("reply_ids", metavar="REPLY_ID...", type=RECORD_ID, nargs=-1, required=True)
@click.option("--text", default=None, help="Replace the text before approving (one reply).")
@actor_option
@pass_ctx
@handle_errors
def approve(ctx: Context, reply_ids: tuple[int, ...], text: str | None, actor: str) -> None:
    """Approve drafted replies for sending (one of them optionally with edited --text)."""
    _run_each(ctx, approve_reply, reply_ids, actor=actor, text=text)


@replies.command()
@click.argument("reply_ids", metavar="REPLY_ID...", type=RECORD_ID, nargs=-1, required=True)
@click.option("--reason", default=None)
@actor_option
@pass_ctx
@handle_errors
def reject(ctx: Context, reply_ids: tuple[int, ...], reason: str | None, actor: str) -> None:
    """Reject drafted replies: they will never be sent."""
    _run_each(ctx, reject_reply, reply_ids, actor=actor, reason=reason)


@replies.command()
@click.argument("reply_id", type=RECORD_ID)
@click.option("--text", required=True, help="The new text.")
@actor_option
@pass_ctx
@handle_errors
def edit(ctx: Context, reply_id: int, text: str, actor: str) -> None:
    """Change a drafted reply's text (it still needs approval)."""
    _run(ctx, edit_reply, reply_id, actor=actor, text=text)
