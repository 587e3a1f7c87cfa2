"""``brandpulse sources``: each source's health, reads and spend; reset a failing one."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

import click
from sqlalchemy import select

from brandpulse.cli.common import Context, UserError, actor_option, handle_errors, pass_ctx
from brandpulse.config import SourceConfig
from brandpulse.db.models import SourceStateRow, SourceUsageRow
from brandpulse.durations import format_duration
from brandpulse.netclients import bare_handle
from listener.budget import SourceBudget, money, month_key, next_month_start, over_budget
from listener.poller import reset_failing
from listener.registry import check_sources

@dataclass(frozen=True)
class SourceHealth:
    name: str
    kind: str
    brand: str
    account: str | None  # the account a Reddit source reads as (None: the default, REDDIT_USERNAME); X: whose timeline
    enabled: bool
    status: str
    message: str | None  # why: the error, the budget note
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    next_poll: str  # when, in words
    next_poll_at: datetime | None
    poll_interval: timedelta
    posts_read_total: int
    mentions_stored_total: int
    month: str
    posts_read_month: int
    users_read_month: int
    posts_billed_month: int  # of the month's reads, those the spend estimate bills
    users_billed_month: int
    polls_month: int
    spend_month: float
    monthly_budget: float | None
    price_per_post: float


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "never"


def source_health(
    config: SourceConfig,
    state: SourceStateRow | None,
    usage: SourceUsageRow | None,
    budget: SourceBudget | None,
    *,
    now: datetime,
) -> SourceHealth:
    spent = usage.spend if usage else 0.0
    posts_month = usage.posts_read if usage else 0
    budget_stop = over_budget(budget, spent=spent, posts_read=posts_month, now=now)
    status = state.status if state else "never polled"
    message = state.last_error if state and status in ("error", "failing", "deferred") else None
    next_at = state.next_poll_at if state else None
    if not config.enabled:
        status, message, next_poll = "disabled", None, "never (enabled: false)"
    elif status == "failing":
        next_poll = "never, until `brandpulse sources reset " + config.name + "` after fixing the cause"
    elif budget_stop is not None:
        status, message = "over_budget", budget_stop
        next_poll = f"{_time(next_month_start(now))} (a new month), or when monthly_budget is raised"
    else:
        if status == "over_budget":  # a new month, or a raised budget: polls again at its next run
            status = "ok"
        if status == "deferred" and (next_at is None or next_at <= now):  # the platform's wait is over
            status, message = "ok", None
        if next_at is not None and next_at > now:
            why = "the platform's rate limit" if status in ("deferred", "ok") else "backing off after an error"
            next_poll = f"{_time(next_at)} (in {format_duration(next_at - now)}; {why})"
            if status == "ok":
                status = "deferred"
        else:
            next_poll = f"at its next scheduled run (every {format_duration(config.poll_interval)})"
    return SourceHealth(
        name=config.name,
        kind=config.kind,
        brand=config.brand,
        account=str(config.options["account"]) if config.options.get("account") else None,
        enabled=config.enabled,
        status=status,
        message=message,
        last_success_at=state.last_success_at if state else None,
        last_error_at=state.last_error_at if state else None,
        last_error=state.last_error if state else None,
        next_poll=next_poll,
        next_poll_at=next_at,
        poll_interval=config.poll_interval,
        posts_read_total=(state.posts_read or 0) if state else 0,
        mentions_stored_total=(state.mentions_stored or 0) if state else 0,
        month=month_key(now),
        posts_read_month=posts_month,
        users_read_month=usage.users_read if usage else 0,
        posts_billed_month=(usage.posts_billed or 0) if usage else 0,
        users_billed_month=(usage.users_billed or 0) if usage else 0,
        polls_month=usage.polls if usage else 0,
        spend_month=spent,
        monthly_budget=budget.monthly_budget if budget else None,
        price_per_post=budget.price_per_post if budget else 0.0,
    )


def _free(h: SourceHealth) -> bool:
    return h.monthly_budget is None and h.spend_month == 0 and h.price_per_post == 0


def _spend_line(h: SourceHealth) -> str:
    if _free(h):
        return "free (no price configured)"
    spend = f"~{money(h.spend_month)}"
    if h.monthly_budget is None:
        return f"{spend} this month (no monthly_budget)"
    share = f" ({h.spend_month / h.monthly_budget:.0%})" if h.monthly_budget else ""
    return f"{spend} of {money(h.monthly_budget)} budget this month{share}"


def render(h: SourceHealth) -> str:
    as_ = f", reads as u/{bare_handle(h.account)}" if h.kind == "reddit" and h.account else ""
    lines = [f"{h.name} ({h.kind}, brand {h.brand}{as_}): {h.status}"]
    if h.message and h.status in ("over_budget", "failing"):
        lines.append(f"  why           {h.message}")
    lines.append(f"  last success  {_time(h.last_success_at)}")
    if h.last_error:
        lines.append(f"  last error    {_time(h.last_error_at)}: {h.last_error}")
    lines.append(f"  next poll     {h.next_poll}")
    users = f", {h.users_read_month:,} user objects" if h.users_read_month else ""
    lines.append(
        f"  posts read    {h.posts_read_total:,} in all ({h.mentions_stored_total:,} new mentions stored);"
        f" {h.posts_read_month:,} in {h.month}{users}, {h.polls_month:,} polls"
    )
    if not _free(h):
        users = f", {h.users_billed_month:,} user objects" if h.users_billed_month or h.users_read_month else ""
        again = ""
        if (h.posts_billed_month, h.users_billed_month) != (h.posts_read_month, h.users_read_month):
            again = " (the rest were re-read the same UTC day, which X does not bill again)"
        lines.append(f"  billed reads  {h.posts_billed_month:,} posts{users} in {h.month}{again}")
    lines.append(f"  spend         {_spend_line(h)}")
    return "\n".join(lines)


def _json_value(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per source, one per line.")
@click.pass_context
@handle_errors
def sources(click_ctx: click.Context, as_json: bool) -> None:
    """Each source's health: status, last success and error, next poll, posts read, spend vs budget."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.find_object(Context)
    app = ctx.app()
    settings = app.settings
    budgets = check_sources(settings)
    now = app.clock.now()
    with app.Session() as s:
        states = {r.source: r for r in s.scalars(select(SourceStateRow))}
        month = month_key(now)
        usage = {r.source: r for r in s.scalars(select(SourceUsageRow).where(SourceUsageRow.month == month))}
        known = {c.name for c in settings.sources}
        stale = sorted(set(states) - known)
    if not settings.sources:
        click.echo("no sources configured")
    for i, config in enumerate(settings.sources):
        h = source_health(config, states.get(config.name), usage.get(config.name), budgets.get(config.name), now=now)
        if as_json:
            click.echo(json.dumps({k: _json_value(v) for k, v in asdict(h).items()}))
        else:
            if i:
                click.echo("")
            click.echo(render(h))
    if stale and not as_json:
        click.echo("")
        click.echo(f"no longer configured (state kept): {', '.join(stale)}")


@sources.command()
@click.argument("name")
@actor_option
@pass_ctx
@handle_errors
def reset(ctx: Context, name: str, actor: str) -> None:
    """Let a failing source poll again (after fixing its credentials or access)."""
    app = ctx.app()
    if name not in {c.name for c in app.settings.sources}:
        known = ", ".join(c.name for c in app.settings.sources) or "none"
        raise UserError(f"no source named {name!r} in the configuration (known: {known})")
    if reset_failing(app.Session, name, actor=actor, now=app.clock.now()):
        click.echo(f"source {name} reset: it polls again at its next run")
        return
    with app.Session() as s:
        state = s.get(SourceStateRow, name)
    status = state.status if state is not None else "never polled"
    raise UserError(f"source {name} is not failing (status: {status}); nothing to reset")
