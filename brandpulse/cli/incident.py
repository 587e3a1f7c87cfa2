"""``brandpulse incident``: ops' outage workflow, one command per step.

Each step is stored, audited with ``--as`` and queued in the outbox as status
posts on the brand's configured networks (``incidents.brands``); the running
``brandpulse run`` sends them (the outreach kill switch stops them too).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import click
from sqlalchemy import func, select

from brandpulse.cli.common import (
    RECORD_ID, Context, UserError, actor_option, brand_ids, handle_errors, limit_option, pass_ctx,
)
from brandpulse.clock import utc
from brandpulse.config import Settings
from brandpulse.db.models import AlertMentionRow, AlertRow, IncidentMentionRow, IncidentRow, MentionRow, OutboxRow
from brandpulse.durations import format_duration, parse_duration
from brandpulse.inbox import InboxError, change_state, get_alert
from brandpulse.types import POSSIBLE_INCIDENT_RULE, shown_handle
from outreach.incident_links import EarlierLinks, link_by_hand, unlink_mention
from outreach.incident_matching import AnsweredPost, keyword_text, link_until, matched_keywords
from outreach.incident_records import (
    ALL_STATUSES,
    CANCELLED,
    LINKED_AT_OPENING,
    LINKED_BY_HAND,
    OPEN_STATUSES,
    STATUSES,
    IncidentError,
    get_incident,
    incident_tag,
)
from outreach.incident_templates import IncidentTemplates
from outreach.incidents import (
    cancel_incident,
    incident_view,
    list_incidents,
    open_incident,
    resolve_incident,
    set_keywords,
    update_incident,
)
from outreach.templating import TemplateRenderer, printable



def _templates(ctx: Context) -> IncidentTemplates:
    return IncidentTemplates(ctx.settings)


def _split(values: tuple[str, ...]) -> list[str]:
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def _post_line(row: OutboxRow, blocker: OutboxRow | None = None) -> str:
    where = f"r/{row.community} " if row.community else ""
    who = f"as {shown_handle(row.platform, row.account)}" if row.account else "(no account)"
    state = row.status
    if row.status == "sent":
        state += f" {row.external_url or row.external_id}"
    elif blocker is not None:
        state += f", waiting for #{blocker.id} ({blocker.status}) to go first"
    elif row.status in ("held", "failed", "manual") and (row.hold_reason or row.last_error):
        state += f": {row.hold_reason or row.last_error}"
    kind = "submission" if row.title else ("comment" if row.platform == "reddit" else "post")
    return f"#{row.id} {row.platform} {kind} {where}{who} [{state}]"


def _queued(session, ids: list[int], *, brand: str) -> str:
    if not ids:
        return f"not posted anywhere: no networks under incidents.brands.{brand} in the configuration"
    rows = session.scalars(select(OutboxRow).where(OutboxRow.id.in_(ids)).order_by(OutboxRow.id)).all()
    lines = [_post_line(r) for r in rows]
    if any(r.status == "approved" for r in rows):
        lines.append("approved posts go out with the next send run of `brandpulse run` (each update after the one before it)")
    if any(r.status == "drafted" for r in rows):
        lines.append("drafted posts wait for `brandpulse replies approve ID` (incidents.status_posts.require_approval)")
    return "\n  ".join(["posts:", *lines])


def _fail(exc: Exception) -> UserError:
    return UserError(str(exc))


def _moment(value: str, *, now: datetime, option: str) -> datetime:
    """A duration before now (``90m``, ``3h``) or a time (ISO 8601, UTC unless it says otherwise)."""
    try:
        return now - parse_duration(value)
    except ValueError:
        pass
    try:
        return utc(datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise UserError(f"{option}: not a duration or a time: {value!r} (use e.g. 90m, 3h, or 2026-03-10T15:30Z)") from None


def _when(at: datetime, now: datetime) -> str:
    return f"{at:%H:%M}" if at.date() == now.date() else f"{at:%Y-%m-%d %H:%M}"


def _spike_window_start(session, alert: AlertRow, settings: Settings) -> datetime:
    """Where the possible-incident alert's spike window began: when it was
    detected less ``incidents.spikes.window``, or its earliest example post if
    that is earlier."""
    start = alert.created_at - settings.incidents.spikes.window
    earliest = session.scalar(
        select(func.min(MentionRow.created_at)).join(AlertMentionRow, AlertMentionRow.mention_id == MentionRow.id)
        .where(AlertMentionRow.alert_id == alert.id)
    )
    return min(start, earliest) if earliest is not None else start


def _linking_until(row: IncidentRow, settings: Settings, *, now: datetime) -> str:
    """Until when new complaints are linked to the incident, and why."""
    if row.status not in OPEN_STATUSES:
        return f"(no longer: it is {row.status})"
    if not settings.incidents.link_mentions:
        return "(never: incidents.link_mentions is off)"
    until = link_until(row.updated_at, settings.incidents.link_for)
    why = f"incidents.link_for {format_duration(settings.incidents.link_for)} after its latest step"
    if until < now:
        return f"(stopped at {_when(until, now)} UTC: {why}; post an update to link again)"
    return f"(while it is open, until {_when(until, now)} UTC: {why}; each update extends it)"


def _kept_line(kept: list[int]) -> str | None:
    """The replies a person had written (``replies edit``, ``approve --text``)
    that an incident re-draft left alone: their text kept, held for a person."""
    if not kept:
        return None
    n = len(kept)
    return (f"{n} {'replies' if n != 1 else 'reply'} kept {'their' if n != 1 else 'its'} person's text and"
            f" {'are' if n != 1 else 'is'} held for a person ({', '.join(f'#{i}' for i in kept)}):"
            " `brandpulse replies list --status held`")


def _earlier_lines(session, earlier: EarlierLinks, *, incident_id: int, window: str, settings: Settings,
                   now: datetime) -> list[str]:
    """What opening did with the complaints posted before it."""
    if not settings.incidents.link_mentions:
        return ["earlier complaints: not linked (incidents.link_mentions is off)"]
    since = f"posted since {earlier.since:%Y-%m-%d %H:%M} UTC"
    if earlier.until < now:
        since = f"posted {earlier.since:%Y-%m-%d %H:%M} to {_when(earlier.until, earlier.since)} UTC"
    since += f" ({window})"
    if not earlier.mention_ids:
        return [f"earlier complaints: none linked — {since}: negative, containing a keyword, alert open or acknowledged"]
    statuses = Counter(session.scalars(select(OutboxRow.status).where(OutboxRow.id.in_(earlier.redrafted))))
    how = ", ".join(f"{status} {n}" for status, n in sorted(statuses.items()))
    alerts = len(earlier.alert_ids)
    return [
        (f"earlier complaints: {len(earlier.mention_ids)} linked — {since}; {alerts} alert{'s' if alerts != 1 else ''}"
         f" tagged incident:{incident_id}"),
        f"drafted replies now pointing to the status thread: {len(earlier.redrafted)}" + (f" ({how})" if how else "")
        + f"; already answered: {len(earlier.answered)} (left as sent; they get the follow-up when it resolves)",
        *filter(None, [_kept_line(earlier.kept)]),
    ]


@click.group()
def incident() -> None:
    """Incidents: open, update, resolve (each posted on X and Reddit), cancel, keywords, link, unlink, list, show."""


@incident.command("open")
@click.option("--title", required=True, help="What is broken, as customers see it.")
@click.option("--brand", default=None, help="Brand id (default: the only brand, or the --from-alert alert's).")
@click.option("--components", multiple=True, help="Affected components, comma-separated or repeated (e.g. app,check-in).")
@click.option("--keywords", multiple=True,
              help="Negative mentions containing one of these (earlier and new ones) are linked to the incident"
                   " (default: the components).")
@click.option("--message", default=None, help="The first update's text (default: the template's).")
@click.option("--from-alert", "alert_id", type=RECORD_ID, default=None,
              help="The possible-incident alert this answers: it is resolved with a note pointing to the incident,"
                   " and complaints since its spike window began are linked.")
@click.option("--since", "since", default=None, metavar="WHEN",
              help="Link the matching complaints posted since then: a duration before now (90m, 3h) or a time"
                   " (2026-03-10T14:00Z) (default: since the --from-alert alert's spike window began, else"
                   " incidents.lookback).")
@click.option("--until", "until", default=None, metavar="WHEN",
              help="...and posted until then, the same way (default: now; from the --from-alert alert's spike"
                   " window: at most incidents.link_for after the alert).")
@actor_option
@pass_ctx
@handle_errors
def open_(ctx: Context, title: str, brand: str | None, components, keywords, message: str | None,
          alert_id: int | None, since: str | None, until: str | None, actor: str) -> None:
    """Open an incident (investigating), post it on the brand's networks and
    point the earlier complaints about it to the status thread."""
    app = ctx.app()
    if brand is not None:
        brand_ids(app.settings, brand)  # an unknown brand is named as every command names it
    now = app.clock.now()
    since_at, window = None, f"incidents.lookback {format_duration(app.settings.incidents.lookback)}"
    if since is not None:
        since_at, window = _moment(since, now=now, option="--since"), f"--since {since}"
    until_at = _moment(until, now=now, option="--until") if until is not None else None
    if until is not None:
        window += f", --until {until}"
    templates = _templates(ctx)
    try:
        with app.Session.begin() as s:
            alert = None
            if alert_id is not None:
                alert = get_alert(s, alert_id)
                if alert.rule != POSSIBLE_INCIDENT_RULE:
                    raise UserError(f"alert {alert_id} is not a possible-incident alert (its rule is {alert.rule!r})")
                if brand is not None and brand != alert.brand:
                    raise UserError(f"alert {alert_id} is about brand {alert.brand!r}, not {brand!r}")
                brand = alert.brand
            if brand is None:
                ids = [b.id for b in app.settings.brands]
                if len(ids) != 1:
                    raise UserError(f"give --brand (one of: {', '.join(ids)})")
                brand = ids[0]
            if alert is not None and since_at is None:
                since_at, window = _spike_window_start(s, alert, app.settings), f"alert #{alert.id}'s spike window"
            if alert is not None and since is None and until_at is None:
                alert_until = link_until(alert.created_at, app.settings.incidents.link_for)
                if alert_until < now:  # opened late: the day's later complaints are not all about it
                    until_at = alert_until
                    window += (f", up to incidents.link_for {format_duration(app.settings.incidents.link_for)}"
                               " after the alert; --until extends it")
            opening = open_incident(
                s, settings=app.settings, templates=templates, brand=brand, title=title, actor=actor, now=now,
                components=_split(components), keywords=_split(keywords) if keywords else None, message=message,
                since=since_at, until=until_at,
            )
            row = opening.incident
            if alert is not None and alert.status in ("open", "acknowledged"):
                change_state(s, alert.id, "resolve", actor=actor, now=now, note=f"incident #{row.id} opened")
            click.echo(f"incident #{row.id} opened ({row.status}) for {row.brand} by {actor}: {printable(row.title)}")
            if row.keywords:
                click.echo(f"  keywords: {', '.join(row.keywords)} — new negative mentions containing one are linked"
                           " and answered with the incident reply"
                           f" {_linking_until(row, app.settings, now=now)}")
                for line in _earlier_lines(s, opening.earlier, incident_id=row.id, window=window, settings=app.settings,
                                           now=now):
                    click.echo(f"  {line}")
            else:
                click.echo("  no keywords or components: no complaint will be linked to it (give --keywords)")
            if alert is not None:
                click.echo(f"  possible-incident alert #{alert.id} resolved")
            click.echo("  " + _queued(s, opening.posts, brand=row.brand))
    except (IncidentError, InboxError) as exc:
        raise _fail(exc) from None


@incident.command("keywords")
@click.argument("incident_id", type=RECORD_ID)
@click.argument("keywords", nargs=-1, required=True)
@actor_option
@pass_ctx
@handle_errors
def keywords_(ctx: Context, incident_id: int, keywords: tuple[str, ...], actor: str) -> None:
    """Replace an open incident's keywords (comma-separated or several
    arguments; a phrase such as "app down" matches as a phrase). New
    complaints are matched against them; complaints already linked stay."""
    app = ctx.app()
    try:
        with app.Session.begin() as s:
            before = list(get_incident(s, incident_id).keywords or [])
            now = app.clock.now()
            row = set_keywords(s, incident_id, keywords=_split(keywords), actor=actor, now=now)
            click.echo(f"incident #{row.id} keywords: {', '.join(row.keywords)} (were: {', '.join(before) or '-'};"
                       f" by {actor})")
            click.echo("  new negative mentions containing one are linked"
                       f" {_linking_until(row, app.settings, now=now)}; complaints already linked stay")
    except IncidentError as exc:
        raise _fail(exc) from None


@incident.command("unlink")
@click.argument("incident_id", type=RECORD_ID)
@click.argument("mention_id", type=RECORD_ID)
@click.option("--reason", default=None, help="Why it is not about the incident (kept in the audit log).")
@actor_option
@pass_ctx
@handle_errors
def unlink(ctx: Context, incident_id: int, mention_id: int, reason: str | None, actor: str) -> None:
    """Take a complaint linked by mistake out of an incident (MENTION_ID: the
    number `incident show` gives). Its replies not sent yet (also one waiting
    to be posted by hand) go back to an ordinary draft; one being sent or of
    unknown outcome is left to reconciliation and listed; it is never linked
    to this incident again automatically."""
    app = ctx.app()
    try:
        with app.Session.begin() as s:
            result = unlink_mention(s, incident_id, mention_id, actor=actor, now=app.clock.now(),
                                    settings=app.settings, renderer=TemplateRenderer(app.settings),
                                    rule_template=_rule_template(app.settings), reason=reason)
            redrafted_status = dict(s.execute(select(OutboxRow.id, OutboxRow.status)
                                              .where(OutboxRow.id.in_(result.redrafted))).all())
    except IncidentError as exc:
        raise _fail(exc) from None
    tag = incident_tag(incident_id)
    click.echo(f"mention {mention_id} unlinked from incident #{incident_id} by {actor}"
               + (f": {printable(reason)}" if reason else ""))
    if result.alert_id is not None:
        click.echo(f"  alert #{result.alert_id}: " + (f"tag {tag} removed" if result.alert_untagged else
                   f"keeps {tag} (other complaints of its conversation stay linked)"))
    by_hand = (" (it was waiting to be posted by hand on the platform: if you already posted the status-link reply"
               f" there, reject this one with `brandpulse replies reject {{id}}`; once approved it goes out, or comes back"
               " to be posted by hand, with the new text)")
    for reply_id, template in sorted(result.redrafted.items()):
        click.echo(f"  reply #{reply_id}: an ordinary draft again ({template}, {redrafted_status[reply_id]})"
                   + (by_hand.format(id=reply_id) if reply_id in result.by_hand else ""))
    for reply_id, why in sorted(result.held.items()):
        click.echo(f"  reply #{reply_id}: held for a person: {printable(why)}"
                   + (by_hand.format(id=reply_id) if reply_id in result.by_hand else ""))
    for reply_id in result.sent:
        click.echo(f"  reply #{reply_id}: already sent with the status link; it stays sent")
    for reply_id, status in sorted(result.in_flight.items()):
        click.echo(f"  reply #{reply_id}: {status}, {_in_flight(status)}: the status-link reply may already be on the"
                   " platform, so it is left as it is; the next send run reconciles it (posted: it stays; not posted: it is held"
                   " for a person instead of being sent with the status link, re-drafted with the link of the"
                   " incident its complaint is linked to by then, if any)")
    for reply_id in result.kept:
        click.echo(f"  reply #{reply_id}: still the incident's (its conversation stays linked)")
    if not (result.redrafted or result.held or result.sent or result.in_flight or result.kept):
        click.echo("  no reply pointed to the incident")
    if result.followups_withdrawn:
        click.echo(f"  follow-ups withdrawn (rejected): {', '.join(f'#{i}' for i in result.followups_withdrawn)}")
    click.echo(f"  it is not linked to incident #{incident_id} again by itself;"
               f" `brandpulse incident link {incident_id} {mention_id}` does it by hand")


def _in_flight(status: str) -> str:
    """What a reply of an in-flight status (``sending``, ``unknown``) is going through."""
    return "being sent right now" if status == "sending" else "sent, but the platform's answer was lost"


def _rule_template(settings: Settings):
    """The ordinary reply template the rules choose for a complaint (unlinking makes its reply ordinary again)."""
    from rules.engine import RuleEngine  # the rules decide which ordinary reply a complaint gets

    engine = RuleEngine(settings)

    def rule_template(mention, score):
        return engine.evaluate(mention, score).draft_template if score is not None else None

    return rule_template


@incident.command("cancel")
@click.argument("incident_id", type=RECORD_ID)
@click.option("--reason", default=None, help="Why it is cancelled (kept in the audit log, shown by `incident show`).")
@click.option("--message", "correction", default=None,
              help="A correction posted in the threads where its status posts are public already (required then,"
                   " unless --no-correction), e.g. \"Please disregard: posted by mistake, there is no outage.\"")
@click.option("--no-correction", is_flag=True,
              help="Its public status posts get no correction from brandpulse: you correct or delete them yourself.")
@actor_option
@pass_ctx
@handle_errors
def cancel(ctx: Context, incident_id: int, reason: str | None, correction: str | None, no_correction: bool,
           actor: str) -> None:
    """Cancel an incident opened by mistake: its status posts not gone out
    are withdrawn, its complaints unlinked (their replies ordinary drafts
    again), it links nothing more; shown as cancelled."""
    if correction is not None and no_correction:
        raise UserError("give --message (a correction to post) or --no-correction, not both")
    app = ctx.app()
    now = app.clock.now()
    try:
        with app.Session.begin() as s:
            result = cancel_incident(s, incident_id, settings=app.settings, templates=_templates(ctx),
                                     renderer=TemplateRenderer(app.settings), rule_template=_rule_template(app.settings),
                                     actor=actor, now=now, reason=reason, correction=correction,
                                     without_correction=no_correction)
            row = result.incident
            click.echo(f"incident #{row.id} cancelled by {printable(actor)}" + (f": {printable(reason)}" if reason else "")
                       + "; it links no complaint any more")
            for line in _cancel_lines(s, result, correction_given=correction is not None, no_correction=no_correction):
                click.echo(f"  {line}")
            alert = s.scalars(select(AlertRow).where(
                AlertRow.rule == POSSIBLE_INCIDENT_RULE, AlertRow.brand == row.brand, AlertRow.status == "resolved",
                AlertRow.resolution_note == f"incident #{row.id} opened")).first()
            if alert is not None:
                click.echo(f"  possible-incident alert #{alert.id} was resolved when the incident opened:"
                           f" `brandpulse alerts reopen {alert.id} --as {printable(actor)}` if its spike still needs a look")
    except IncidentError as exc:
        raise _fail(exc) from None


def _cancel_lines(session, result, *, correction_given: bool, no_correction: bool) -> list[str]:
    """What cancelling did with the incident's posts and complaints."""
    lines = []
    if result.withdrawn:
        lines.append(f"status posts withdrawn (they had not gone out): {', '.join(f'#{i}' for i in result.withdrawn)}")
    for post in result.public:
        lines.append(f"already public, stays up: {_post_line(post)}")
    if result.correction:
        rows = list(session.scalars(select(OutboxRow).where(OutboxRow.id.in_(result.correction)).order_by(OutboxRow.id)))
        when = ("approved: it goes out with the next send run" if all(r.status == "approved" for r in rows) else
                "drafted: `brandpulse replies approve ID` sends it (incidents.status_posts.require_approval)")
        lines.append(f"correction in those threads: {'; '.join(_post_line(r) for r in rows)} ({when})")
    elif result.public and no_correction:
        lines.append("no correction posted (--no-correction): correct or delete those posts on the platform yourself")
    elif correction_given:
        lines.append("--message not posted: none of its status posts is public")
    for post_id, status in sorted(result.in_flight.items()):
        lines.append(f"status post #{post_id} is {status} (it may be public already): left for the next send run to"
                     " look for; if it is not there it is withdrawn then; if it is, it stays up: check"
                     f" `brandpulse incident show {result.incident.id}` and correct it"
                     + (" (the correction follows it in the thread)" if result.correction else " on the platform"))
    unlinked = result.unlinked
    if not unlinked:
        lines.append("complaints: none was linked")
        return lines
    redrafted = sum(len(u.redrafted) for u in unlinked)
    held = sum(len(u.held) for u in unlinked)
    sent = sum(len(u.sent) for u in unlinked)
    in_flight = sum(len(u.in_flight) for u in unlinked)
    untagged = sum(1 for u in unlinked if u.alert_untagged)
    lines.append(f"complaints unlinked: {len(unlinked)} (alerts untagged: {untagged}); their incident replies:"
                 f" {redrafted} ordinary drafts again, {held} held for a person"
                 + (" (`brandpulse replies list --status held`)" if held else "")
                 + f", {sent} already sent (left as they"
                 f" are), {in_flight} on their way (left to reconciliation: held for a person if not posted)")
    followups = [i for u in unlinked for i in u.followups_withdrawn]
    if followups:
        lines.append(f"follow-ups withdrawn: {', '.join(f'#{i}' for i in followups)}")
    return lines


@incident.command("link")
@click.argument("incident_id", type=RECORD_ID)
@click.argument("mention_id", type=RECORD_ID)
@click.option("--reason", default=None, help="Why it is about the incident (kept in the audit log).")
@actor_option
@pass_ctx
@handle_errors
def link(ctx: Context, incident_id: int, mention_id: int, reason: str | None, actor: str) -> None:
    """Link a complaint the keywords missed to an open incident: tagged, and
    its replies not sent yet point to the status thread."""
    app = ctx.app()
    templates = _templates(ctx)
    try:
        with app.Session.begin() as s:
            result = link_by_hand(s, incident_id, mention_id, actor=actor, now=app.clock.now(), settings=app.settings,
                                  templates=templates, reason=reason)
    except IncidentError as exc:
        raise _fail(exc) from None
    keywords = ", ".join(result.keywords) if result.keywords else "none of its keywords"
    click.echo(f"mention {mention_id} linked to incident #{incident_id} by hand by {actor} (contains: {keywords})"
               + (f": {printable(reason)}" if reason else ""))
    if result.alert_id is not None:
        click.echo(f"  alert #{result.alert_id} tagged incident:{incident_id}")
    click.echo(f"  drafted replies now pointing to the status thread: {len(result.redrafted)}"
               + (f" ({', '.join(f'#{i}' for i in result.redrafted)})" if result.redrafted else "")
               + f"; already answered: {len(result.answered)} (left as sent; they get the follow-up when it resolves)")
    if kept := _kept_line(result.kept):
        click.echo(f"  {kept}")
    for reply_id, status in sorted(result.in_flight.items()):
        click.echo(f"  reply #{reply_id}: {status}, {_in_flight(status)}: it may already be on the platform, so it is"
                   " left as it is and no second reply is drafted; the next send run reconciles it (posted: it is the answer, and"
                   " the follow-up answers it when this incident resolves; not posted: if it gives another"
                   f" incident's link it is re-drafted with #{incident_id}'s and held for a person to approve)")


@incident.command("update")
@click.argument("incident_id", type=RECORD_ID)
@click.option("--status", required=True, type=click.Choice(STATUSES),
              help="identified (cause found), monitoring (fix deployed), or investigating (still looking);"
                   " resolved is `brandpulse incident resolve`.")
@click.option("--message", required=True, help="What is known now and what happens next.")
@actor_option
@pass_ctx
@handle_errors
def update(ctx: Context, incident_id: int, status: str, message: str, actor: str) -> None:
    """Post an update: the next post of the X thread, a comment on the Reddit submission."""
    if status == "resolved":  # resolving does more than an update: it drafts the follow-ups
        raise UserError(f"to resolve incident #{incident_id}, run `brandpulse incident resolve {incident_id} --message …`"
                        " (it also drafts the \"it's fixed\" follow-ups)")
    app = ctx.app()
    templates = _templates(ctx)
    try:
        with app.Session.begin() as s:
            before = set(s.scalars(select(OutboxRow.id).where(OutboxRow.incident_id == incident_id)))
            row = update_incident(s, incident_id, settings=app.settings, templates=templates, status=status,
                                  message=message, actor=actor, now=app.clock.now())
            posts = [i for i in s.scalars(select(OutboxRow.id).where(OutboxRow.incident_id == row.id)) if i not in before]
            click.echo(f"incident #{row.id} is now {row.status} (by {actor})")
            click.echo("  " + _queued(s, posts, brand=row.brand))
    except IncidentError as exc:
        raise _fail(exc) from None


@incident.command("resolve")
@click.argument("incident_id", type=RECORD_ID)
@click.option("--message", required=True, help="What was fixed.")
@actor_option
@pass_ctx
@handle_errors
def resolve(ctx: Context, incident_id: int, message: str, actor: str) -> None:
    """Resolve: post the last update and draft an "it's fixed" follow-up to every author who was answered."""
    app = ctx.app()
    templates = _templates(ctx)
    try:
        with app.Session.begin() as s:
            result = resolve_incident(s, incident_id, settings=app.settings, templates=templates, message=message,
                                      actor=actor, now=app.clock.now())
            row = result.incident
            click.echo(f"incident #{row.id} is resolved (by {actor})")
            click.echo("  " + _queued(s, result.posts, brand=row.brand))
            policy = "wait for approval" if app.settings.incidents.followups.require_approval else "are approved by policy"
            click.echo(f"  follow-ups: {len(result.followups)} drafted for answered authors ({policy}):"
                       f" {', '.join(f'#{i}' for i in result.followups) or 'none'}")
            if result.redrafted:
                click.echo(f"  incident replies not sent yet, re-drafted to say it is fixed: "
                           f"{', '.join(f'#{i}' for i in result.redrafted)}")
            if kept := _kept_line(result.kept):
                click.echo(f"  {kept}")
    except IncidentError as exc:
        raise _fail(exc) from None


@incident.command("list")
@click.option("--all", "all_", is_flag=True, help="Resolved and cancelled incidents too.")
@click.option("--brand", default=None, help="Only this brand id.")
@limit_option
@pass_ctx
@handle_errors
def list_(ctx: Context, all_: bool, brand: str | None, limit: int) -> None:
    """Open incidents, newest first (--all: resolved and cancelled ones too)."""
    app = ctx.app()
    if brand is not None:
        brand_ids(app.settings, brand)  # an unknown brand is an error, not an empty list
    with app.Session() as s:
        rows = list_incidents(s, statuses=ALL_STATUSES if all_ else OPEN_STATUSES, brand=brand, limit=limit)
        if not rows:
            click.echo("no incidents" if all_ else "no open incidents")
            return
        counts = dict(s.execute(
            select(IncidentMentionRow.incident_id, func.count())
            .where(IncidentMentionRow.incident_id.in_([r.id for r in rows]))
            .group_by(IncidentMentionRow.incident_id)
        ).all())
        for r in rows:
            click.echo(_one_line(r, counts.get(r.id, 0)))


def _how_linked(link: IncidentMentionRow, r: IncidentRow) -> str:
    """How a complaint was linked, as stored with its link (links from before
    migration 0007: told from when they were linked)."""
    how = link.how or (LINKED_AT_OPENING if link.linked_at <= r.opened_at else None)
    if how == LINKED_AT_OPENING:
        return "before opening, linked when it was opened"
    if how == LINKED_BY_HAND:
        return f"linked by hand by {printable(link.linked_by or '?')} {link.linked_at:%Y-%m-%d %H:%M}"
    return f"linked as it arrived {link.linked_at:%H:%M}"


def _why_linked(link: IncidentMentionRow, m: MentionRow, r: IncidentRow,
                answered: AnsweredPost | None = None) -> str:
    """The keywords the complaint contained when it was linked (kept with the
    link, whatever the keywords are now), or the post it answers when that is
    what linked it."""
    if link.keywords is not None:
        if link.keywords:
            return f"matched: {', '.join(printable(k) for k in link.keywords)}"
        if link.how == LINKED_BY_HAND:
            return "no keyword"
        if answered is not None:
            return f"no keyword of its own; {_answered(answered, r)}"
        return "matched: (none recorded)"
    found = matched_keywords(r.keywords or [], keyword_text(m))
    now = f"current keywords it contains: {', '.join(found)}" if found else "no current keyword matches"
    return f"keywords not recorded when linked; {now}"


def _answered(post: AnsweredPost, r: IncidentRow) -> str:
    if r.id in post.incident_ids:
        return ("answers the incident's status post" if post.mention_id is None or post.own
                else f"answers mention {post.mention_id}, linked to it")
    found = matched_keywords(r.keywords or [], post.text)
    return "answers the brand's post" + (f" containing: {', '.join(printable(k) for k in found)}" if found else "")


def _one_line(r: IncidentRow, linked: int) -> str:
    resolved = f", resolved {r.resolved_at:%Y-%m-%d %H:%M}" if r.resolved_at else ""
    if r.status == CANCELLED:  # cancelling is its last change
        resolved = f", cancelled {r.updated_at:%Y-%m-%d %H:%M} (opened by mistake: not an incident)"
    return (f"#{r.id:<4} {r.status:<13} {r.brand:<10} opened {r.opened_at:%Y-%m-%d %H:%M} UTC by {r.opened_by}{resolved};"
            f" {linked} linked  {printable(r.title)}")


@incident.command()
@click.argument("incident_id", type=RECORD_ID)
@pass_ctx
@handle_errors
def show(ctx: Context, incident_id: int) -> None:
    """One incident: its updates, its posts on each network, linked complaints, follow-ups, history."""
    app = ctx.app()
    with app.Session() as s:
        try:
            v = incident_view(s, incident_id)
        except IncidentError as exc:
            raise _fail(exc) from None
        r = v.incident
        linked = v.linked_total
        click.echo(_one_line(r, linked))
        now = app.clock.now()
        for e in v.events:
            if e.action == "incident.cancelled":
                why = f": {printable(e.details['reason'])}" if (e.details or {}).get("reason") else ""
                click.echo(f"  cancelled by {printable(e.actor)} {e.at:%Y-%m-%d %H:%M} UTC{why}; its complaints were"
                           " unlinked and its status posts not gone out withdrawn")
        click.echo(f"  components: {', '.join(r.components or []) or '-'}; keywords: {', '.join(r.keywords or []) or '-'}")
        if r.keywords:
            click.echo(f"  new negative mentions with a keyword are linked {_linking_until(r, app.settings, now=now)}")
        click.echo(f"  X thread: {r.x_root_url or r.x_root_id or 'not posted yet'}; "
                   f"Reddit: {r.reddit_root_url or r.reddit_root_id or 'not posted yet'}")
        click.echo("\nUpdates:")
        for u in v.updates:
            text = u.message or ("(nothing posted)" if u.status == CANCELLED else "(template text)")
            click.echo(f"  {u.at:%Y-%m-%d %H:%M} {u.status:<13} by {u.actor}: {printable(text)}")
        click.echo("\nPosts:")
        if not v.posts:
            click.echo(f"  none (no networks under incidents.brands.{r.brand})")
        for row, blocker in v.posts:
            click.echo(f"  {_post_line(row, blocker)}")
            text = " ".join(row.text.split())
            click.echo(f"      {printable(f'{row.title} | {text}' if row.title else text)}")
        notes = [f"{v.linked_when_opened} from before it, linked when it was opened"] if v.linked_when_opened else []
        notes += [f"latest {len(v.linked)}"] if linked > len(v.linked) else []
        click.echo(f"\nLinked complaints: {linked}" + (f" ({'; '.join(notes)})" if notes else ""))
        for e in v.events:
            if e.action == "incident.linked" and (e.details or {}).get("earlier"):
                d = e.details
                window = f"posted {d['since'][:16].replace('T', ' ')}"
                window += f" to {d['until'][:16].replace('T', ' ')} UTC" if d.get("until") else " UTC until opening"
                click.echo(f"  linked when it was opened: negative, {window}, alert open or acknowledged,"
                           f" containing one of: {', '.join(d.get('keywords') or r.keywords or []) or '-'}")
        for link, m in v.linked:
            alert = f" alert #{link.alert_id}" if link.alert_id else ""
            reply = v.replies.get(m.id)
            answer = f" → reply #{reply.id} {reply.status} ({reply.template})" if reply is not None else " → no reply"
            click.echo(f"  mention {m.id} {m.created_at:%Y-%m-%d %H:%M} {m.platform} {shown_handle(m.platform, printable(m.author_handle))}{alert}"
                       f" [{_how_linked(link, r)}; {_why_linked(link, m, r, v.answered.get(m.id))}]{answer}:"
                       f" {printable(' '.join(m.text.split()))}")
        if v.unlinked:
            click.echo(f"\nUnlinked by hand (never linked again by itself): {len(v.unlinked)}")
        for u, m in v.unlinked:
            why = f": {printable(u.reason)}" if u.reason else ""
            click.echo(f"  mention {m.id} {m.platform} {shown_handle(m.platform, printable(m.author_handle))} by {printable(u.unlinked_by)}"
                       f" {u.unlinked_at:%Y-%m-%d %H:%M}{why}")
        click.echo(f"\nFollow-ups: {len(v.followups) or 'none'}")
        for f in v.followups:
            click.echo(f"  #{f.id} [{f.status}] {f.platform} → {f.in_reply_to}: {printable(f.text)}")
        click.echo("\nHistory:")
        for e in v.events:
            click.echo(f"  {e.at:%Y-%m-%d %H:%M:%S} {e.actor}: {e.action}")
