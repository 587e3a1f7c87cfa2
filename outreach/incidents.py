"""Incidents: a status page on the networks, and the complaints it answers.

Lifecycle
=========

An incident goes ``investigating → identified → monitoring → resolved``, as
on a status page. Each step (:func:`open_incident`, :func:`update_incident`,
:func:`resolve_incident`) stores an ``incident_updates`` row, an audit event
with who and when, and queues the step's posts. Allowed steps
(:data:`TRANSITIONS`): forward, skipping stages if need be; a further update
in the same status; ``monitoring → identified`` (the fix did not hold).
Nothing follows ``resolved``: a new problem is a new incident. Anything else
raises :class:`outreach.incident_records.IncidentError` saying what is allowed.

An incident opened by mistake is cancelled (:func:`cancel_incident`,
``incident cancel``): status ``cancelled``, after which nothing follows
either. It is not an incident any more: its status posts that have not gone
out are withdrawn (one on its way is withdrawn at its send claim if
reconciliation finds it was not posted: :func:`cancelled_status_post`), every
complaint it held is unlinked as :func:`outreach.incident_links.unlink_mention` does (all at
once, in a fixed number of statements: :func:`outreach.incident_links.unlink_mentions`), it links no new
complaint and holds no conversation, and the spike detector no longer takes
it for an open incident. Status posts already sent are public: a careful
team does not leave "we're investigating an outage" standing, so the
cancellation then needs a correction, posted as one more step (status
``cancelled``) in the threads where a post is public, or an explicit
``without_correction`` (they correct or delete the posts by hand).

Posting
=======

Each step is posted on the networks configured for the brand
(``incidents.brands.<brand>``) from the ``incidents.templates`` templates,
through the outbox, as rows of kind ``status``: the same claim-then-send,
at-most-once and reconciliation as replies, and the outreach kill switch
stops them. They are ops' own words posted with one command, so they need no
approval unless ``incidents.status_posts.require_approval`` says so.

* **X:** a thread. The first post stands alone; each later one replies to
  the previous status post.
* **Reddit:** a submission (title and body) in the configured subreddit;
  each later step is a comment on it.

A reply's target is known only once the post before it is out, so it is
resolved when the row is claimed (:func:`thread_values`, called by
:func:`outreach.outbox.claim`): a status post is not claimed while an earlier
status post of the same incident on the same network is still on its way
(drafted, held, approved, sending, unknown or failed); a rejected one is
skipped. Then a post with a title (a submission) stands alone, a post
without one replies to the incident's submission on that network if there is
one, else to the latest status post sent there (a thread), else it stands
alone. When the first post on a network is sent, its id and link are kept on
the incident (:func:`record_sent`): that is the link complainers are given.

The rest of an incident lives beside this module: :mod:`outreach.incident_records`
(statuses, the error, reading an incident and the replies to its
complaints), :mod:`outreach.incident_templates` (its templates and the
variables they see), :mod:`outreach.incident_matching` (which new complaint
an open incident takes), :mod:`outreach.incident_links` (linking the earlier
complaints when it opens, unlinking and linking by hand) and
:mod:`outreach.incident_replies` (re-drafting the replies to its complaints,
its follow-ups, and the holds at the send claim).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import and_, case, func, insert, or_, select, update
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.config import Settings
from brandpulse.db.models import (
    IncidentMentionRow,
    IncidentRow,
    IncidentUnlinkRow,
    IncidentUpdateRow,
    MentionRow,
    OutboxRow,
)
from brandpulse.types import Mention, Score
from outreach.channels.base import SentPost
from outreach.channels.textlength import length_problem
from outreach.incident_links import EarlierLinks, Unlinking, link_earlier_mentions, unlink_mentions
from outreach.incident_matching import AnsweredPost, answered_posts
from outreach.incident_records import (
    AUDIT_ENTITY,
    CANCELLED,
    IN_FLIGHT_STATUSES,
    LINKED_AT_OPENING,
    LINKED_BY_HAND,
    OPEN_STATUSES,
    PENDING_REPLY_STATUSES,
    STATUSES,
    IncidentError,
    IncidentSnapshot,
    current_snapshot,
    get_incident,
    linked_replies,
    mention_from_row,
    replies_to,
    withdraw,
)
from outreach.incident_replies import draft_followups, redraft_replies
from outreach.incident_templates import (
    REPLY_TEMPLATE,
    TEMPLATE_NAMES,
    IncidentTemplates,
    brand_context,
    incident_context,
)

log = logging.getLogger(__name__)

TRANSITIONS: dict[str, tuple[str, ...]] = {
    "investigating": ("investigating", "identified", "monitoring", "resolved"),
    "identified": ("identified", "monitoring", "resolved"),
    "monitoring": ("identified", "monitoring", "resolved"),  # identified again: the fix did not hold
    "resolved": (),
    CANCELLED: (),
}
# Platform limits checked before anything is queued (X is counted as X counts).
REDDIT_TITLE_MAX = 300
REDDIT_BODY_MAX = 40_000
REDDIT_COMMENT_MAX = 10_000
# An earlier status post in one of these states lets the next one go.
SETTLED = ("sent", "rejected")


# ---------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------


def _clean_list(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = " ".join(part.split())
            if part and part.lower() not in (o.lower() for o in out):
                out.append(part)
    return out


def _checked_keywords(keywords: list[str]) -> list[str]:
    """``keywords``, unless one has no letter or digit (a stray '-' or '?'
    would match the punctuation of any complaint): IncidentError naming it."""
    for keyword in keywords:
        if not any(c.isalnum() for c in keyword):
            raise IncidentError(f"keyword {keyword!r} has no letter or digit: it would match any complaint with that"
                                " punctuation; leave it out")
    return keywords


def open_incident(
    session: Session,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    brand: str,
    title: str,
    actor: str,
    now: datetime,
    components: Iterable[str] = (),
    keywords: Iterable[str] | None = None,
    message: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Opening:
    """Open an incident (status investigating), queue its first posts and
    link the complaints posted from ``since`` (default:
    ``incidents.lookback`` before ``now``) to ``until`` (default: ``now``;
    see :func:`outreach.incident_links.link_earlier_mentions`). ``keywords`` default to the
    components. Runs in the caller's transaction."""
    try:
        settings.brand(brand)
    except KeyError:
        raise IncidentError(f"unknown brand {brand!r} (known: {', '.join(b.id for b in settings.brands)})") from None
    title = " ".join((title or "").split())
    if not title:
        raise IncidentError("an incident needs a title")
    components_list = _clean_list(components)
    keyword_list = _checked_keywords(_clean_list(keywords) if keywords is not None else list(components_list))
    since = now - settings.incidents.lookback if since is None else since
    if since > now:
        raise IncidentError(f"complaints to link must be from before now: since {since:%Y-%m-%d %H:%M} UTC is later")
    if until is not None and until < since:
        raise IncidentError(f"complaints to link: until {until:%Y-%m-%d %H:%M} UTC is before since"
                            f" {since:%Y-%m-%d %H:%M} UTC")
    row = IncidentRow(
        brand=brand, title=title, components=components_list, keywords=keyword_list, status="investigating",
        opened_at=now, opened_by=actor, updated_at=now,
    )
    session.add(row)
    session.flush()
    posts = _step(session, row, status="investigating", message=message, actor=actor, now=now,
                  settings=settings, templates=templates)
    audit.record(
        session, at=now, actor=actor, action="incident.opened", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"brand": brand, "title": title, "components": components_list, "keywords": keyword_list,
                 "message": message, "posts": posts},
    )
    earlier = link_earlier_mentions(session, row, since=since, until=until, settings=settings, templates=templates,
                                    now=now, message=message)
    return Opening(incident=row, posts=posts, earlier=earlier)


def set_keywords(session: Session, incident_id: int, *, keywords: Iterable[str], actor: str, now: datetime) -> IncidentRow:
    """Replace an open incident's keywords (audited ``incident.keywords_changed``
    with the old and new ones). New complaints are matched against them;
    complaints already linked stay linked. Not a step: the linking window
    (``incidents.link_for`` after the latest step) does not move."""
    row = get_incident(session, incident_id)
    if row.status not in OPEN_STATUSES:
        raise IncidentError(f"incident {row.id} is {row.status}: its keywords no longer link anything")
    cleaned = _checked_keywords(_clean_list(keywords))
    if not cleaned:
        raise IncidentError("give at least one keyword (to link nothing more, resolve the incident)")
    previous = list(row.keywords or [])
    row.keywords = cleaned
    session.flush()
    audit.record(session, at=now, actor=actor, action="incident.keywords_changed", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details={"from": previous, "to": cleaned})
    return row


def update_incident(
    session: Session,
    incident_id: int,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    status: str,
    message: str,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Post a further step (``identified``, ``monitoring``, or a further
    update in the same status). Resolving is :func:`resolve_incident`."""
    if status == "resolved":
        raise IncidentError("to resolve an incident use resolve (it also drafts the follow-ups)")
    row = _checked_transition(session, incident_id, status)
    message = _required_message(message)
    previous = row.status
    _set_status(session, row, status=status, now=now, resolved_by=None)
    posts = _step(session, row, status=status, message=message, actor=actor, now=now, settings=settings, templates=templates)
    audit.record(
        session, at=now, actor=actor, action="incident.updated", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"from": previous, "status": status, "message": message, "posts": posts},
    )
    return row


@dataclass(frozen=True, slots=True)
class Opening:
    incident: IncidentRow
    posts: list[int]
    earlier: EarlierLinks


@dataclass(frozen=True, slots=True)
class Resolution:
    incident: IncidentRow
    posts: list[int]
    followups: list[int]
    redrafted: list[int]
    # incident replies a person had written (replies edit, approve --text): text kept, held for a person
    kept: list[int] = field(default_factory=list)


def resolve_incident(
    session: Session,
    incident_id: int,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    message: str,
    actor: str,
    now: datetime,
) -> Resolution:
    """Resolve: post the last step, draft the follow-ups to the authors who
    were answered, re-draft incident replies still waiting to go out."""
    row = _checked_transition(session, incident_id, "resolved")
    message = _required_message(message)
    previous = row.status
    _set_status(session, row, status="resolved", now=now, resolved_by=actor)
    posts = _step(session, row, status="resolved", message=message, actor=actor, now=now,
                  settings=settings, templates=templates)
    snapshot = IncidentSnapshot.of(row, message=message)
    followups = draft_followups(session, snapshot, settings=settings, templates=templates, now=now)
    pending = [(reply, mention) for reply, mention in linked_replies(session, row.id, PENDING_REPLY_STATUSES, lock=True)
               if reply.template == REPLY_TEMPLATE]
    kept: list[int] = []
    redrafted = redraft_replies(session, snapshot, pending, reason="incident resolved", settings=settings,
                                 templates=templates, now=now, before=f"incident #{row.id} ({row.title}) was resolved",
                                 kept_ids=kept)
    audit.record(
        session, at=now, actor=actor, action="incident.resolved", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"from": previous, "message": message, "posts": posts, "followups": followups, "redrafted": redrafted,
                 "kept_held": kept},
    )
    return Resolution(incident=row, posts=posts, followups=followups, redrafted=redrafted, kept=kept)


def _required_message(message: str | None) -> str:
    cleaned = (message or "").strip()
    if not cleaned:
        raise IncidentError("an update needs a message (what is known now, what happens next)")
    return cleaned


def _checked_transition(session: Session, incident_id: int, status: str) -> IncidentRow:
    if status not in STATUSES:
        raise IncidentError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    row = get_incident(session, incident_id)
    allowed = TRANSITIONS[row.status]
    if status not in allowed:
        if row.status in ("resolved", CANCELLED):
            raise IncidentError(f"incident {row.id} is {row.status}: nothing follows {row.status}; open a new incident")
        raise IncidentError(
            f"incident {row.id} is {row.status}: it cannot go to {status} (from {row.status}: {', '.join(allowed)})"
        )
    return row


def _set_status(session: Session, row: IncidentRow, *, status: str, now: datetime, resolved_by: str | None) -> None:
    """Conditional on the status we read: two people cannot both move it."""
    seen = row.status
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "resolved":
        values.update(resolved_at=now, resolved_by=resolved_by)
    changed = session.execute(
        update(IncidentRow).where(IncidentRow.id == row.id, IncidentRow.status == seen).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        current = get_incident(session, row.id)
        raise IncidentError(f"incident {row.id} changed meanwhile (was {seen}, now {current.status}); look at it again")
    session.refresh(row)


def _step(
    session: Session,
    row: IncidentRow,
    *,
    status: str,
    message: str | None,
    actor: str,
    now: datetime,
    settings: Settings,
    templates: IncidentTemplates,
    platforms: Iterable[str] | None = None,
) -> list[int]:
    """Store one step and queue its posts (only on ``platforms`` when
    given); returns the outbox ids."""
    number = 1 + (session.scalar(
        select(func.count()).select_from(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == row.id)
    ) or 0)
    posts = _render_posts(session, row, message=message, number=number, now=now, settings=settings, templates=templates)
    if platforms is not None:
        posts = [post for post in posts if post.platform in set(platforms)]
    session.add(IncidentUpdateRow(incident_id=row.id, status=status, message=message, actor=actor, at=now))
    return _queue(session, row, posts, actor=actor, now=now, settings=settings)


@dataclass(frozen=True, slots=True)
class _Post:
    platform: str
    account: str | None
    template: str
    text: str
    title: str | None = None
    community: str | None = None


def _render_posts(
    session: Session, row: IncidentRow, *, message: str | None, number: int, now: datetime,
    settings: Settings, templates: IncidentTemplates,
) -> list[_Post]:
    """Everything this step posts, rendered and checked before anything is stored."""
    networks = settings.incidents.brands.get(row.brand)
    if networks is None:
        return []
    brand = settings.brand(row.brand)
    snapshot = IncidentSnapshot.of(row, message=message)
    posts: list[_Post] = []
    problems: list[str] = []

    def context(platform: str) -> dict[str, Any]:
        return {"brand": brand_context(brand),
                "incident": incident_context(snapshot, settings=settings, platform=platform, update_number=number, at=now)}

    if networks.x is not None:
        text = templates.render("x_post", context("x"))
        problem = "rendered empty" if not text else length_problem(text)
        if problem:
            problems.append(f"the X post {problem}")
        posts.append(_Post("x", networks.x.account, TEMPLATE_NAMES["x_post"], text))
    if networks.reddit is not None:
        account = networks.reddit.account or (brand.accounts.reddit[0] if brand.accounts.reddit else None)
        has_submission = session.scalar(
            select(OutboxRow.id).where(
                OutboxRow.incident_id == row.id, OutboxRow.platform == "reddit", OutboxRow.kind == "status",
                OutboxRow.title.is_not(None), OutboxRow.status != "rejected",
            ).limit(1)
        ) is not None
        if has_submission:
            text = templates.render("reddit_update", context("reddit"))
            if not text:
                problems.append("the Reddit comment rendered empty")
            elif len(text) > REDDIT_COMMENT_MAX:
                problems.append(f"the Reddit comment is {len(text)} characters, over the limit of {REDDIT_COMMENT_MAX}")
            posts.append(_Post("reddit", account, TEMPLATE_NAMES["reddit_update"], text))
        else:
            title = " ".join(templates.render("reddit_title", context("reddit")).split())
            body = templates.render("reddit_body", context("reddit"))
            if not title or not body:
                problems.append("the Reddit submission's title or body rendered empty")
            elif len(title) > REDDIT_TITLE_MAX:
                problems.append(f"the Reddit title is {len(title)} characters, over the limit of {REDDIT_TITLE_MAX}")
            elif len(body) > REDDIT_BODY_MAX:
                problems.append(f"the Reddit post is {len(body)} characters, over the limit of {REDDIT_BODY_MAX}")
            posts.append(_Post("reddit", account, TEMPLATE_NAMES["reddit_body"], body, title=title,
                               community=networks.reddit.subreddit))
    if problems:
        raise IncidentError("; ".join(problems) + "; shorten the message or the title (nothing was posted or saved)")
    return posts


def _queue(session: Session, row: IncidentRow, posts: Sequence[_Post], *, actor: str, now: datetime,
           settings: Settings) -> list[int]:
    if not posts:
        return []
    needs_approval = settings.incidents.status_posts.require_approval
    ids = []
    events = []
    for post in posts:
        outbox_id = session.execute(
            insert(OutboxRow).returning(OutboxRow.id).values(
                kind="status", brand=row.brand, platform=post.platform, incident_id=row.id, account=post.account,
                template=post.template, text=post.text, title=post.title, community=post.community,
                in_reply_to=None,  # resolved when claimed: see thread_values
                status="drafted" if needs_approval else "approved", needs_approval=needs_approval,
                approved_by=None if needs_approval else actor, approved_at=None if needs_approval else now,
                attempts=0, created_at=now, updated_at=now,
            )
        ).scalar_one()
        ids.append(outbox_id)
        events.append({"at": now, "actor": actor, "action": "status.queued", "entity_type": "outbox",
                       "entity_id": outbox_id, "details": {"incident_id": row.id, "template": post.template,
                                                            "needs_approval": needs_approval}})
    audit.record_many(session, events)
    return ids


# ---------------------------------------------------------------------------
# Sending: the thread structure, resolved when a status post is claimed
# ---------------------------------------------------------------------------


def thread_values(session: Session, outbox_id: int) -> dict[str, Any] | None:
    """For :func:`outreach.outbox.claim`: the values a status post takes when
    it is claimed (``in_reply_to``), or None while it must wait for an earlier
    status post of its incident on its network. ``{}`` for any other post."""
    row = session.execute(
        select(OutboxRow.kind, OutboxRow.incident_id, OutboxRow.platform, OutboxRow.title).where(OutboxRow.id == outbox_id)
    ).one_or_none()
    if row is None or row.kind != "status" or row.incident_id is None:
        return {}
    earlier = session.execute(
        select(OutboxRow.status, OutboxRow.external_id, OutboxRow.title)
        .where(OutboxRow.incident_id == row.incident_id, OutboxRow.platform == row.platform,
               OutboxRow.kind == "status", OutboxRow.id < outbox_id)
        .order_by(OutboxRow.id)
    ).all()
    if any(e.status not in SETTLED for e in earlier):
        return None
    if row.title is not None:
        return {"in_reply_to": None}  # a submission stands alone
    sent = [e for e in earlier if e.status == "sent" and e.external_id]
    submission = next((e for e in sent if e.title is not None), None)
    if submission is not None:
        return {"in_reply_to": submission.external_id}
    return {"in_reply_to": sent[-1].external_id if sent else None}


def waiting_for(session: Session, outbox_id: int) -> OutboxRow | None:
    """The earlier status post a status post waits for, if any (for display)."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.kind != "status" or row.incident_id is None:
        return None
    return session.scalars(
        select(OutboxRow)
        .where(OutboxRow.incident_id == row.incident_id, OutboxRow.platform == row.platform,
               OutboxRow.kind == "status", OutboxRow.id < outbox_id, OutboxRow.status.not_in(SETTLED))
        .order_by(OutboxRow.id).limit(1)
    ).first()


def record_sent(session: Session, outbox_id: int, sent: SentPost, *, now: datetime,
                settings: Settings | None = None, templates: IncidentTemplates | None = None) -> list[int]:
    """Called when an outbox row is marked sent, in that transaction: the
    first status post on a network becomes the incident's link there (a
    Reddit submission only), and the incident's linked replies still waiting
    to go out are re-drafted to give it (:func:`_redraft_for_thread`).
    ``templates`` default to ``IncidentTemplates(settings)``, built only when
    there is something to re-draft. Returns the re-drafted reply ids."""
    row = session.execute(
        select(OutboxRow.kind, OutboxRow.incident_id, OutboxRow.platform, OutboxRow.title).where(OutboxRow.id == outbox_id)
    ).one_or_none()
    if row is None or row.kind != "status" or row.incident_id is None:
        return []
    if row.platform == "x":
        values, unset = {"x_root_id": sent.external_id, "x_root_url": sent.url}, IncidentRow.x_root_id
    elif row.platform == "reddit" and row.title is not None:
        values, unset = {"reddit_root_id": sent.external_id, "reddit_root_url": sent.url}, IncidentRow.reddit_root_id
    else:
        return []
    first = session.execute(
        update(IncidentRow).where(IncidentRow.id == row.incident_id, unset.is_(None)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not first or not sent.url:
        return []  # not the first post there, or no link to give (the replies would not change)
    return _redraft_for_thread(session, row.incident_id, platform=row.platform, outbox_id=outbox_id, url=sent.url,
                               now=now, settings=settings, templates=templates)


THREAD_POSTED = "status thread posted"  # the reason of the re-drafts when the first status post is out


def _redraft_for_thread(session: Session, incident_id: int, *, platform: str, outbox_id: int, url: str,
                        now: datetime, settings: Settings | None, templates: IncidentTemplates | None) -> list[int]:
    """The incident's first status post on ``platform`` is out at ``url``:
    re-draft its linked replies from the ``reply`` template that have not
    gone out and whose text changes with the link, in a savepoint (a failure
    is logged; the post stays recorded as sent), and record one
    ``incident.thread_posted`` event."""
    details: dict[str, Any] = {"platform": platform, "outbox_id": outbox_id, "url": url}
    redrafted: list[int] = []
    try:
        with session.begin_nested():
            pending = linked_replies(session, incident_id, PENDING_REPLY_STATUSES, template=REPLY_TEMPLATE, lock=True)
            if pending and settings is None:
                details["not_redrafted"] = [reply.id for reply, _ in pending]
                log.warning("incident %s: its status thread on %s is out (%s), but %d linked replies waiting to go out"
                            " keep their text: re-drafting them needs the settings (send_approved(settings=...))",
                            incident_id, platform, url, len(pending))
            elif pending and settings is not None:
                snapshot = current_snapshot(session, incident_id)
                redrafted = redraft_replies(session, snapshot, pending, reason=THREAD_POSTED, settings=settings,
                                             templates=templates or IncidentTemplates(settings), now=now,
                                             before=f"incident #{incident_id}'s status thread on {platform} was posted")
    except Exception as exc:  # noqa: BLE001 - the post exists: recording it must not depend on the re-draft
        log.exception("incident %s: re-drafting its linked replies for the status thread on %s failed; they keep"
                      " their text", incident_id, platform)
        details["redraft_error"] = f"{type(exc).__name__}: {exc}"
        redrafted = []
    details["redrafted"] = redrafted
    audit.record(session, at=now, actor=audit.SYSTEM, action="incident.thread_posted", entity_type=AUDIT_ENTITY,
                 entity_id=incident_id, details=details)
    return redrafted


# ---------------------------------------------------------------------------
# Cancelling an incident opened by mistake
# ---------------------------------------------------------------------------


WITHDRAWABLE_POST_STATUSES = (*PENDING_REPLY_STATUSES, "failed")  # not gone out: withdrawn (rejected)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What :func:`cancel_incident` did."""

    incident: IncidentRow
    withdrawn: list[int]  # its status posts that had not gone out, now rejected
    in_flight: dict[int, str]  # status posts being sent or of unknown outcome (id -> status): reconciliation decides
    public: list[OutboxRow]  # its status posts already sent: public, they stay up
    correction: list[int]  # the correction queued in those threads (outbox ids)
    unlinked: list[Unlinking]  # each complaint it held, taken out as `incident unlink` does


def cancel_incident(session: Session, incident_id: int, *, settings: Settings, templates: IncidentTemplates,
                    renderer: Any, rule_template: Callable[[Mention, Score | None], str | None] | None,
                    actor: str, now: datetime, reason: str | None = None, correction: str | None = None,
                    without_correction: bool = False) -> Cancellation:
    """Cancel an open incident opened by mistake, in the caller's
    transaction: status ``cancelled`` (no further step; it links nothing
    more, it holds no conversation, the spike detector no longer counts it);
    its status posts that have not gone out are withdrawn (rejected), those
    being sent or of unknown outcome are left to reconciliation (found not
    posted, they are withdrawn at their send claim:
    :func:`cancelled_status_post`); every complaint linked to it is unlinked
    as :func:`outreach.incident_links.unlink_mention` does (its incident replies become ordinary
    drafts or are held for a person, those on their way are held at their
    claim if not posted). Status posts already sent are public and cannot
    be withdrawn: ``correction`` is then posted in their threads (the
    networks where one is public, as a further step with the status
    ``cancelled``, under ``incidents.status_posts.require_approval``);
    without it the cancellation is refused unless ``without_correction``
    (ops correct or delete them by hand). Audited ``incident.cancelled``."""
    row = get_incident(session, incident_id)
    if row.status not in OPEN_STATUSES:
        raise IncidentError(f"incident {row.id} is {row.status}: only an open incident can be cancelled")
    posts = session.scalars(select(OutboxRow).where(OutboxRow.incident_id == row.id, OutboxRow.kind == "status")
                            .order_by(OutboxRow.id).with_for_update()).all()
    public = [post for post in posts if post.status == "sent"]
    correction = " ".join((correction or "").split()) or None
    if public and correction is None and not without_correction:
        shown = ", ".join(f"#{p.id} {p.platform} {p.external_url or p.external_id}" for p in public)
        raise IncidentError(
            f"incident {row.id}'s status posts are public already ({shown}): customers were told of an outage."
            " Give --message with a correction to post in those threads (e.g. \"Please disregard: this was posted"
            " by mistake, there is no outage.\"), or --no-correction if you correct or delete them on the"
            " platform yourself; nothing was changed")
    if correction is not None and not public:
        correction = None  # nothing public to correct
    _set_status(session, row, status=CANCELLED, now=now, resolved_by=None)
    withdrawn = [post.id for post in posts if post.status in WITHDRAWABLE_POST_STATUSES]
    in_flight = {post.id: post.status for post in posts if post.status in IN_FLIGHT_STATUSES}
    audit.record_many(session, withdraw(session, withdrawn, reason=f"incident #{row.id} cancelled", incident_id=row.id,
                                        actor=actor, now=now))
    why = f"incident #{row.id} cancelled" + (f": {reason}" if reason else "")
    mention_ids = session.scalars(select(IncidentMentionRow.mention_id)
                                  .where(IncidentMentionRow.incident_id == row.id)
                                  .order_by(IncidentMentionRow.mention_id)).all()
    unlinked = unlink_mentions(session, row.id, mention_ids, actor=actor, now=now, settings=settings,
                               renderer=renderer, rule_template=rule_template, reason=why)
    corrections: list[int] = []
    if correction is not None:
        corrections = _step(session, row, status=CANCELLED, message=correction, actor=actor, now=now,
                            settings=settings, templates=templates, platforms={p.platform for p in public})
    else:
        session.add(IncidentUpdateRow(incident_id=row.id, status=CANCELLED, message=None, actor=actor, at=now))
    session.refresh(row)
    audit.record(session, at=now, actor=actor, action="incident.cancelled", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details={
                     "reason": reason, "correction": correction, "correction_posts": corrections,
                     "withdrawn": withdrawn, "public": [p.id for p in public],
                     "in_flight": [{"id": i, "status": status} for i, status in sorted(in_flight.items())],
                     "mention_ids": list(mention_ids)})
    return Cancellation(incident=row, withdrawn=withdrawn, in_flight=in_flight, public=public,
                        correction=corrections, unlinked=unlinked)


def cancelled_status_post(session: Session, row: OutboxRow) -> str | None:
    """Why a status post about to be claimed for sending is withdrawn instead
    (None: it may go): its incident was cancelled after it was queued. One
    that was being sent or of unknown outcome when the incident was
    cancelled is left to reconciliation; found not posted, it is approved
    again and must not go out then. The correction queued by the
    cancellation itself goes."""
    if row.kind != "status" or row.incident_id is None:
        return None
    incident = session.execute(select(IncidentRow.status, IncidentRow.updated_at)
                               .where(IncidentRow.id == row.incident_id)).one_or_none()
    if incident is None or incident.status != CANCELLED or row.created_at >= incident.updated_at:
        return None
    return (f"incident #{row.incident_id} was cancelled {incident.updated_at:%Y-%m-%d %H:%M} UTC while this status"
            " post was on its way, and it was not posted")


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def list_incidents(session: Session, *, statuses: Sequence[str] = OPEN_STATUSES, brand: str | None = None,
                   limit: int = 50) -> list[IncidentRow]:
    q = select(IncidentRow).where(IncidentRow.status.in_(statuses))
    if brand:
        q = q.where(IncidentRow.brand == brand)
    return list(session.scalars(q.order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit)))


@dataclass
class IncidentView:
    incident: IncidentRow
    updates: list[IncidentUpdateRow]
    posts: list[tuple[OutboxRow, OutboxRow | None]]  # status posts, each with the post it waits for
    linked: list[tuple[IncidentMentionRow, MentionRow]]
    linked_total: int
    linked_when_opened: int  # complaints from before the incident, linked when it was opened
    replies: dict[int, OutboxRow]  # linked mention id -> our reply to its conversation, the latest
    followups: list[OutboxRow]
    events: list
    unlinked: list[tuple[IncidentUnlinkRow, MentionRow]] = field(default_factory=list)  # taken out by a person
    # linked mention id -> the post it answers, for those linked by it (no keyword of their own)
    answered: dict[int, AnsweredPost] = field(default_factory=dict)


def incident_view(session: Session, incident_id: int, *, linked_limit: int = 20) -> IncidentView:
    incident = get_incident(session, incident_id)
    updates = list(session.scalars(
        select(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == incident_id).order_by(IncidentUpdateRow.id)
    ))
    rows = list(session.scalars(
        select(OutboxRow).where(OutboxRow.incident_id == incident_id).order_by(OutboxRow.id)
    ))
    posts = []
    for row in rows:
        if row.kind == "status":
            blocker = waiting_for(session, row.id) if row.status == "approved" else None
            posts.append((row, blocker))
    linked = list(session.execute(
        select(IncidentMentionRow, MentionRow).join(MentionRow, MentionRow.id == IncidentMentionRow.mention_id)
        .where(IncidentMentionRow.incident_id == incident_id)
        .order_by(MentionRow.created_at.desc()).limit(linked_limit)
    ).all())
    total, when_opened = session.execute(
        select(func.count(), func.count(case((or_(
            IncidentMentionRow.how == LINKED_AT_OPENING,
            and_(IncidentMentionRow.how.is_(None), IncidentMentionRow.linked_at <= incident.opened_at)), 1))))
        .where(IncidentMentionRow.incident_id == incident_id)
    ).one()
    replies: dict[int, OutboxRow] = {}
    if linked:
        by_alert: dict[int, OutboxRow] = {}
        by_mention: dict[int, OutboxRow] = {}
        found_replies = replies_to(session, mentions=[m.id for _, m in linked],
                                    alerts=[link.alert_id for link, _ in linked if link.alert_id is not None],
                                    statuses=None)
        for reply, _ in sorted(found_replies, key=lambda r: r[0].id):
            by_mention[reply.mention_id] = reply
            if reply.alert_id is not None:
                by_alert[reply.alert_id] = reply  # the last one wins
        for link, mention in linked:
            found = by_mention.get(mention.id) or by_alert.get(link.alert_id or -1)
            if found is not None:
                replies[mention.id] = found
    unlinked = list(session.execute(
        select(IncidentUnlinkRow, MentionRow).join(MentionRow, MentionRow.id == IncidentUnlinkRow.mention_id)
        .where(IncidentUnlinkRow.incident_id == incident_id).order_by(IncidentUnlinkRow.unlinked_at)
    ).all())
    by_context = {m.id: mention_from_row(m) for link, m in linked
                  if link.keywords == [] and link.how != LINKED_BY_HAND and m.reply_to_id}
    posts_answered = answered_posts(session, by_context.values())
    return IncidentView(
        incident=incident, updates=updates, posts=posts, linked=linked, linked_total=total or 0,
        linked_when_opened=when_opened or 0, replies=replies,
        followups=[r for r in rows if r.kind == "followup"],
        events=audit.history(session, AUDIT_ENTITY, incident_id),
        unlinked=unlinked,
        answered={i: post for i, m in by_context.items()
                  if (post := posts_answered.get((m.platform, str(m.reply_to_id)))) is not None},
    )
