"""``brandpulse run`` and ``brandpulse demo``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections import Counter
from datetime import timedelta, timezone
from pathlib import Path

import click
from sqlalchemy import func, select

from brandpulse.app import DEMO_CONFIG, App
from brandpulse.clock import AcceleratedClock, SystemClock
from brandpulse.cli.common import Context, UserError, handle_errors, pass_ctx
from brandpulse.config import ConfigError, Settings
from brandpulse.heap import startup_objects_frozen
from brandpulse.db.models import AlertRow, MentionRow, OutboxRow
from brandpulse.pipeline import Pipeline
from brandpulse.wiring import build_pollers
from outreach.templating import printable
from outreach.channels.registry import build_channels
from listener.poller import Poller
from listener.registry import build_sources
from listener.replay import ReplaySource
from listener.scheduler import Job, Scheduler, poll_job

SEND_INTERVAL = timedelta(minutes=1)
SEND_JOB_ID = "outbox:send"

# After `run --once`: what to do about replies that did not go out, by outcome (SendReport fields).
_SEND_HINTS = {
    "failed": "not retried; why each failed, then edit or approve again: brandpulse replies list --status failed",
    "manual": "the network takes no reply from the bot; post it by hand at its link: brandpulse replies list --status manual",
    "unknown": "may have been posted: looked for on the platform at the next run before any resend",
    "held": "kept back by a safeguard, with the reason: brandpulse replies list --status held",
    "deferred": "the platform asked to wait (rate limit); sent after it: brandpulse outreach status",
    "waiting": "their account waits for the platform's rate limit: brandpulse outreach status",
    "paused": "sending is paused: brandpulse outreach status",
}


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("apscheduler").setLevel(logging.ERROR)


def _jobs(app: App, pollers: list[Poller], *, out) -> list[Job]:
    """One poll job per source, and the job that sends approved replies."""
    from outreach.outbox import send_approved

    interval = {s.name: s.poll_interval for s in app.settings.sources}
    jobs = [poll_job(p, interval[p.source.name]) for p in pollers]
    channels = build_channels(app.settings, out=out, clock=app.clock)

    def send():
        try:
            return send_approved(app.Session, channels=channels, now=app.clock.now(), settings=app.settings)
        except Exception:  # a sending failure must not stop listening
            logging.getLogger("brandpulse.send").exception("sending approved replies failed")
            return None

    jobs.append(Job(id=SEND_JOB_ID, func=send, interval=SEND_INTERVAL))
    return jobs


def _when(at, *, now) -> str:
    if at is None:
        return "at its next scheduled run"
    at = at.astimezone(timezone.utc)
    same_day = at.date() == now.astimezone(timezone.utc).date()
    return f"{at:%H:%M} UTC" if same_day else f"{at:%Y-%m-%d %H:%M} UTC"


def source_report_lines(outcomes, *, now) -> list[str]:
    """What `run --once` says about the sources not fully read by this run
    (listener.poller.PollOutcome each): a line per source that was deferred,
    is failing, backing off, over budget, or read only in part, with why and
    where to see more; nothing when every source was read. A community
    manager must hear that listening is impaired: complaints may be missing."""
    lines = []
    for o in outcomes:
        why = _one_line(o.error) if o.error else None
        if o.status == "ok":
            if not o.problems:
                continue
            text = f"read only in part: {_one_line('; '.join(o.problems))}"
        elif o.status == "deferred":
            text = f"deferred by the platform's rate limit until {_when(o.next_poll_at, now=now)}" + (f": {why}" if why else "")
        elif o.status == "skipped":
            waits = "the platform's rate limit" if o.waiting in ("deferred", "ok") else "backing off after an error"
            text = f"not polled: waiting until {_when(o.next_poll_at, now=now)} ({waits})" + (f": {why}" if why else "")
        elif o.status == "failing":
            text = (f"FAILING, not polled until fixed and `brandpulse sources reset {o.source}`"
                    + (f": {why}" if why else ""))
        elif o.status == "over_budget":
            text = f"not polled, over budget: {why}" if why else "not polled, over budget"
        else:  # error: a temporary fault, polled again after a backoff
            text = f"{o.status}, polled again at {_when(o.next_poll_at, now=now)}" + (f": {why}" if why else "")
        lines.append(f"  {o.source}: {text}")
    if not lines:
        return []
    n = len(lines)
    return [f"sources: {n} of {len(outcomes)} not fully read, complaints may be missing"
            " (details: brandpulse sources)"] + lines


def _one_line(text: str, limit: int = 300) -> str:
    text = printable(" ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def send_report_lines(report) -> list[str]:
    """What `run --once` says about the replies it sent (an
    outreach.outbox.SendReport; None: the send run failed): the counts, then
    a line for each outcome a person should act on or know about."""
    if report is None:
        return ["replies: sending failed (the error is logged above); nothing more was sent"]
    counts = {name: getattr(report, name) for name in type(report).__dataclass_fields__}
    done = [f"{name} {n}" for name, n in counts.items() if n]
    if not done:
        return ["replies: nothing was due to be sent"]
    return [f"replies: {', '.join(done)}"] + [f"  {name} {counts[name]}: {hint}"
                                              for name, hint in _SEND_HINTS.items() if counts.get(name)]


@click.command()
@click.option("--once", is_flag=True, help="Poll every source once, send what is approved, and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Log at DEBUG level to stderr.")
@pass_ctx
@handle_errors
def run(ctx: Context, once: bool, verbose: bool) -> None:
    """Run the pipeline on the configured sources until stopped (Ctrl-C)."""
    _configure_logging(verbose)
    app = ctx.app()
    pipeline = Pipeline(app.settings)
    # Sources' and channels' credentials are checked together, so that one
    # message names every variable to set, not one after the other.
    problems: list[str] = []
    try:
        pollers = build_pollers(app.settings, Session=app.Session, clock=app.clock, pipeline=pipeline)
    except ConfigError as exc:
        pollers, problems = [], list(exc.problems)
    try:
        jobs = _jobs(app, pollers, out=sys.stdout)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems, path=app.settings.source_path)
    if not pollers:
        raise UserError("no enabled sources in the configuration: nothing to listen to")
    if once:
        report, outcomes = None, []
        for job in jobs:
            result = job.func()
            if job.id == SEND_JOB_ID:
                report = result
            else:
                outcomes.append(result)
        click.echo(_summary_line(app))
        for line in source_report_lines(outcomes, now=app.clock.now()):
            click.echo(line)
        for line in send_report_lines(report):
            click.echo(line)
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = Scheduler(jobs)
    with startup_objects_frozen():  # what is built so far lives as long as the process (brandpulse.heap)
        scheduler.start()
        click.echo(f"brandpulse is listening on {len(pollers)} source(s): {', '.join(p.source.name for p in pollers)}. Ctrl-C stops.")
        try:
            while not stop.wait(0.5):
                pass
        finally:
            click.echo("stopping: waiting for running polls to finish…")
            scheduler.shutdown(wait=True)
            click.echo(_summary_line(app))


def _summary_line(app: App) -> str:
    with app.Session() as s:
        mentions = s.scalar(select(func.count()).select_from(MentionRow))
        alerts = s.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.status.in_(("open", "acknowledged"))))
    return f"{mentions} mentions stored, {alerts} open alerts"


@click.command()
@click.option("--seconds", default=15.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Wall-clock seconds the simulated day should take.")
@click.option("--keep-db", is_flag=True, help="Keep the demo database from a previous run instead of starting fresh.")
@click.option("--verbose", "-v", is_flag=True, help="Log at DEBUG level to stderr.")
@pass_ctx
@handle_errors
def demo(ctx: Context, seconds: float, keep_db: bool, verbose: bool) -> None:
    """Replay the bundled demo day through the real scheduler and pipeline, fast.

    Mentions are released by their timestamps against an accelerated clock;
    replies are posted by the dry-run channel (printed, never sent). At the
    end: a summary and a digest."""
    _configure_logging(verbose)
    settings = ctx.settings
    bundled = f"(the bundled demo day: brandpulse --config {DEMO_CONFIG} demo)"
    if settings.outreach.channel != "dry-run":
        raise UserError(f"{ctx.path}: the demo only posts through the dry-run channel: set outreach.channel: dry-run {bundled}")
    sources = [s for s in settings.sources if s.enabled]
    if not sources or any(s.kind != "replay" for s in sources):
        raise UserError(f"{ctx.path}: the demo needs a configuration whose sources are all of kind 'replay' {bundled}")
    if not keep_db:
        _reset_sqlite(settings)

    opened = App.open(settings, clock=SystemClock())
    pipeline = Pipeline(settings)
    replays = [s for s in build_sources(settings) if isinstance(s, ReplaySource)]
    if not any(len(r) for r in replays):
        raise UserError("the demo's replay files hold no mentions that match the brands' queries")
    # The recorded day is replayed as the day that ends now, so that SLA
    # deadlines mean something when you work the inbox after the demo.
    recorded_start = min(r.first_time for r in replays if r.first_time).replace(minute=0, second=0, microsecond=0)
    offset = (SystemClock().now() - timedelta(days=1)).replace(minute=0, second=0, microsecond=0) - recorded_start
    for r in replays:
        r.shift(offset)
    start = recorded_start + offset
    end = max(r.last_time for r in replays if r.last_time)
    speed = max(1.0, (end - start).total_seconds() / max(seconds, 1.0))
    # Load the analyzers the day needs (Japanese: 2-3 s) before the clock runs:
    # loaded at the first Japanese post, they held every poll for hours of the day.
    pipeline.warm_up([m for r in replays for m in r.mentions])
    clock = AcceleratedClock(start, speed)
    app = App(settings=settings, engine=opened.engine, Session=opened.Session, clock=clock)
    pollers = [
        Poller(source=r, Session=app.Session, clock=clock, handler=pipeline,
               own_handles=settings.brand(r.brand).accounts.all_lower())
        for r in replays
    ]

    click.echo(
        f"brandpulse demo: replaying {sum(len(r) for r in replays)} recorded mentions as the last day, {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC, "
        f"at {speed:,.0f}x ({seconds:g} s); replies go to the dry-run channel."
    )
    jobs = _jobs(app, pollers, out=sys.stdout)
    scheduler = Scheduler(jobs, time_scale=speed)
    wall0 = time.monotonic()
    with startup_objects_frozen():  # as in run (brandpulse.heap)
        scheduler.start()
        try:
            while True:
                time.sleep(0.05)
                if clock.now() > end and all(p.source.exhausted(p.cursor()) for p in pollers):
                    break
                if time.monotonic() - wall0 > seconds * 4 + 30:
                    raise UserError("the demo replay did not finish in time (is the machine overloaded?)")
        finally:
            scheduler.shutdown(wait=True)
    for job in jobs:  # one last pass so the final state is complete
        job.func()
    elapsed = time.monotonic() - wall0
    _print_demo_summary(app, pipeline, elapsed=elapsed, now=clock.now())


def _reset_sqlite(settings: Settings) -> None:
    url = settings.effective_database_url()
    if not url.startswith("sqlite:///"):
        raise UserError("the demo starts from an empty SQLite database; give --keep-db to use another database as it is")
    path = Path(url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def _print_demo_summary(app: App, pipeline: Pipeline, *, elapsed: float, now) -> None:
    from outreach.digest import build_digest, render_text, write_digest

    with app.Session() as s:
        mentions = s.scalar(select(func.count()).select_from(MentionRow))
        by_platform = dict(s.execute(select(MentionRow.platform, func.count()).group_by(MentionRow.platform)).all())
        own = s.scalar(select(func.count()).select_from(MentionRow).where(MentionRow.is_own.is_(True)))
        alerts = Counter(dict(s.execute(select(AlertRow.priority, func.count()).group_by(AlertRow.priority)).all()))
        grouped = s.scalar(select(func.count()).select_from(AlertRow).where(AlertRow.mention_count > 1))
        replies = Counter(dict(s.execute(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all()))
        digest = build_digest(s, settings=app.settings, now=now, since=timedelta(hours=24))
    path = write_digest(digest, settings=app.settings)
    labels = (", ".join(f"{k} {v}" for k, v in sorted(pipeline.stats.by_label.items()))
              or "no post scored in this run (the kept database already held them all)")
    click.echo("")
    click.echo(f"Replayed in {elapsed:.1f} s.")
    click.echo(f"Mentions stored: {mentions} ({', '.join(f'{k} {v}' for k, v in sorted(by_platform.items()))}; {own} by the brand's own accounts, not scored)")
    click.echo(f"Sentiment: {labels}")
    click.echo(
        f"Alerts: {sum(alerts.values())} ("
        + ", ".join(f"{p} {alerts.get(p, 0)}" for p in ("P1", "P2", "P3", "P4"))
        + f"); {grouped} gather several mentions of one conversation"
    )
    click.echo(
        f"Drafted replies: {sum(replies.values())} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(replies.items()))
        + ")"
    )
    if pipeline.stats.possible_incidents or pipeline.stats.linked_to_incidents:
        click.echo(
            f"Possible incidents suggested: {pipeline.stats.possible_incidents} (spike in negative mentions; "
            "`brandpulse alerts list` shows them as possible-incident alerts with the command to open one)"
        )
    click.echo(f"Digest: {path}")
    click.echo("")
    click.echo(render_text(digest))
    click.echo("Next: `brandpulse alerts next --as yourname` hands you the most urgent alert; `brandpulse alerts show ID` shows its context.")
