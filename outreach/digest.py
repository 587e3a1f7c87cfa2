"""The digest: what needs a person now, and how the period went.

:func:`build_digest` reads the database into a :class:`Digest` (plain frozen
dataclasses, no ORM objects) with a fixed handful of queries whatever the
number of alerts. :func:`render_html` renders ``digest.html.j2`` in the
sandboxed environment with autoescaping on, so a post containing
``<script>`` shows as text; links are only made from ``http(s)`` URLs.
:func:`render_text` is the terminal version (control characters removed, so
a post cannot send escape sequences to the terminal).

Open alerts are those ``open`` or ``acknowledged``, whatever their age,
ordered as ``brandpulse alerts list`` orders them (:func:`brandpulse.inbox.urgency_order`):
by priority (P1 first), those still waiting for a reply before the answered
ones, then SLA deadline. An alert whose first reply
went out is "answered" rather than overdue. Counts by sentiment and platform
cover mentions posted in the period, each once with its latest score, and
leave out the brand's own posts. The response KPIs (:mod:`outreach.kpis`)
cover the alerts opened in the period. The trends (:mod:`outreach.trends`)
cover the last 14 days by UTC day, whatever the period: the HTML draws them as
a chart (an SVG image inline in the page, so the digest stays one file) above
a table of the same numbers. Senders waiting for a rate limit now
(:func:`outreach.outbox.current_waits`) are named with the number of the
brands' approved posts each holds back (``replies held: X @AcmeHelp
rate-limited until 09:15 UTC, 3 replies waiting``).
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

from jinja2 import TemplateNotFound
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from brandpulse.config import Settings
from brandpulse.db.models import AlertMentionRow, AlertRow, MentionRow, OutboxRow, ScoreRow, SourceStateRow
from brandpulse.durations import format_duration
from brandpulse.inbox import urgency_order
from brandpulse.resources import resource_dir
from brandpulse.types import POSSIBLE_INCIDENT_RULE, Reach, reach_of, shown_handle, shown_reach
from outreach.channels.base import waiting_account
from outreach.kpis import KpiReport, compute_kpis, render_kpis_text
from outreach.outbox import current_waits, x_reply_by_hand_note
from outreach.templating import make_environment, printable
from outreach.trends import TrendReport, compute_trends, pct, net, render_chart_svg, summary_line

OPEN_STATUSES = ("open", "acknowledged")
PRIORITIES = ("P1", "P2", "P3", "P4")
LABELS = ("negative", "neutral", "positive", "unknown")
HTML_TEMPLATE = "digest.html.j2"
LISTENING_PROBLEMS = "Listening problems: the inbox may be missing complaints"
# The project's own templates: the fallback when the configured templates
# directory has no digest template of its own.
PROJECT_TEMPLATES = resource_dir("templates")
_CHUNK = 500
HISTORY_SHOWN = 3  # the author's newest other posts shown with each alert (all are counted)
TREND_PERIOD = timedelta(days=14)  # the digest's trend section: the last 14 days by day


@dataclass(frozen=True, slots=True)
class DigestBrand:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class DigestMention:
    id: int
    platform: str
    external_id: str
    author_handle: str
    author_name: str | None
    author_followers: int
    text: str
    title: str | None
    url: str | None
    created_at: datetime
    label: str | None = None  # latest sentiment label
    compound: float | None = None
    community: str | None = None  # Reddit: the subreddit
    community_members: int | None = None  # Reddit: its members (None: unknown)
    reply_to_id: str | None = None  # the post it answers (on Reddit: a comment)

    @property
    def reach(self) -> Reach:
        return reach_of(self.platform, followers=self.author_followers, community=self.community,
                        community_members=self.community_members, reply_to_id=self.reply_to_id)

    @property
    def reach_text(self) -> str:
        """``4,760 followers`` on X, ``r/travel, 11.4M members`` on Reddit
        (``comment in r/travel, 11.4M members`` for a comment)."""
        return shown_reach(self.reach)


@dataclass(frozen=True, slots=True)
class DigestReply:
    id: int
    status: str
    text: str
    account: str | None
    template: str | None
    hold_reason: str | None
    # X will not take it from the bot (outbox.x_reply_by_hand_note): what the person approving it should know.
    by_hand: str | None = None


@dataclass(frozen=True, slots=True)
class DigestAlert:
    id: int
    brand: str
    brand_name: str
    platform: str
    priority: str
    priority_score: float
    status: str
    assignee: str | None
    rule: str
    tags: tuple[str, ...]
    opened_at: datetime
    sla_due_at: datetime
    sla_left: timedelta  # negative: overdue
    sla_left_text: str  # format_duration(sla_left), e.g. "-1h05m"
    overdue: bool  # past the deadline with no reply sent
    first_response_at: datetime | None
    mention_count: int
    opening: DigestMention
    latest: DigestMention  # the same as opening when the alert has one mention
    reply: DigestReply | None
    note: str | None = None  # a possible incident's numbers, top terms and the command that opens one
    # Which customer message the SLA is for: 2, 3, … when the customer wrote again after an answer
    # (rules/alerts.py); round_opened_at is when they did.
    round: int = 1
    round_opened_at: datetime | None = None
    # When the customer's post reopened the resolved alert (rules/alerts.py); None if it was not.
    reopened_at: datetime | None = None
    # Context, so the customer never repeats themselves: the stored post the opening mention answers
    # (another customer's comment, the brand's announcement), and the title of its Reddit thread.
    in_reply_to: DigestMention | None = None
    thread_title: str | None = None
    # The author's other posts about this brand, on every network (same account on this network, same
    # handle on the others; this alert's own posts left out): how many, by platform, the newest few.
    history_count: int = 0
    history_by_platform: tuple[tuple[str, int], ...] = ()
    history: tuple[DigestMention, ...] = ()
    other_open_alerts: tuple[int, ...] = ()  # the author's other open alerts of this brand

    @property
    def wrote_again_after_answer(self) -> bool:
        """Answered before, and the customer's newer message has a clock of its own, not answered yet."""
        return self.round > 1 and self.first_response_at is None and self.round_opened_at is not None

    @property
    def wrote_again_after(self) -> str:
        """What the customer's newer message came after: "it was resolved" when
        it reopened the alert, else "an answer"."""
        return "it was resolved" if self.reopened_at is not None else "an answer"

    @property
    def reopened_in_same_round(self) -> bool:
        """Reopened by a post written before the resolved message's answer (still answered)."""
        return self.reopened_at is not None and self.first_response_at is not None

    @property
    def wrote_again(self) -> bool:
        """The customer posted again after the first answer: answered, but maybe not helped."""
        return self.first_response_at is not None and self.latest.created_at > self.first_response_at

    @property
    def is_possible_incident(self) -> bool:
        """The spike detector's alert: many authors' posts, not one customer to answer."""
        return self.rule == POSSIBLE_INCIDENT_RULE

    @property
    def reply_text(self) -> str | None:
        return self.reply.text if self.reply else None

    @property
    def reply_status(self) -> str | None:
        return self.reply.status if self.reply else None

    @property
    def has_newer_mention(self) -> bool:
        return self.latest.id != self.opening.id


@dataclass(frozen=True, slots=True)
class DigestTotals:
    mentions: int  # posted in the period (the brand's own posts left out)
    alerts_opened: int  # opened by brandpulse in the period
    open_alerts: int
    overdue: int
    open_by_priority: dict[str, int]
    replies_awaiting_approval: int  # drafted or held, now
    replies_approved: int  # approved, waiting to be sent, now
    replies_sent: int  # sent in the period


@dataclass(frozen=True, slots=True)
class DigestSource:
    """A source whose listening is impaired, so the inbox may be missing
    complaints: not listening now (failing, e.g. credentials; over its
    monthly budget), backing off after an error or waiting for the
    platform's rate limit now, or whose latest poll in the period read only
    in part (a closed subreddit skipped, posts X no longer serves)."""

    name: str
    kind: str
    status: str  # failing | over_budget | error | deferred | partial
    message: str
    since: datetime | None  # partial: the poll that read only in part
    until: datetime | None = None  # error, deferred: when it polls again

    @property
    def label(self) -> str:
        return "read only in part" if self.status == "partial" else self.status

    @property
    def when(self) -> str:
        """``since 2026-03-10 09:00 UTC``, ``until 09:14 UTC (the platform's rate limit)`` …"""
        if self.status == "deferred":
            return f"until {_clock_time(self.until, self.since)} (the platform's rate limit)"
        if self.status == "error":
            return (f"since {format_time(self.since)}"
                    + (f", polled again after {_clock_time(self.until, self.since)}" if self.until else ""))
        if self.status == "partial":
            return f"at {format_time(self.since)}"
        return f"since {format_time(self.since)}"


@dataclass(frozen=True, slots=True)
class DigestWait:
    """A sender the platform told to wait (a rate limit), now: its approved
    posts stay unsent until ``until`` (``brandpulse outreach status``)."""

    platform: str
    identity: str  # the limit: an access token's variable on X, the platform for all its accounts
    account: str | None  # the account whose post got the answer
    until: datetime
    reason: str | None
    replies: int  # approved posts of the digest's brands that wait for it

    @property
    def platform_name(self) -> str:
        return {"x": "X", "reddit": "Reddit"}.get(self.platform, self.platform)

    @property
    def who(self) -> str:
        """``@AcmeHelp``; ``every account`` when the whole platform (or the app) waits."""
        if self.identity == self.platform:
            return "every account"
        if not self.account:
            return "the default account"
        return shown_handle(self.platform, self.account)


@dataclass(frozen=True)
class Digest:
    brands: tuple[DigestBrand, ...]
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    alerts: tuple[DigestAlert, ...]
    mentions_by_label: dict[str, int]
    mentions_by_platform: dict[str, int]
    totals: DigestTotals
    kpis: KpiReport | None = None  # response KPIs of the alerts opened in the period
    meta: dict[str, Any] = field(default_factory=dict)
    sources: tuple[DigestSource, ...] = ()  # listening problems: now, and partial reads of the period
    trends: TrendReport | None = None  # the last 14 days by day (TREND_PERIOD), whatever the period
    waits: tuple[DigestWait, ...] = ()  # senders waiting for a rate limit, now

    @property
    def brand_names(self) -> str:
        return ", ".join(b.name for b in self.brands)


def _chunks(ids: Sequence[Any]) -> Iterable[list[Any]]:
    ids = list(ids)
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


def _latest_scores(session: Session, mention_ids: Sequence[int]) -> dict[int, tuple[str, float]]:
    out: dict[int, tuple[str, float]] = {}
    for chunk in _chunks(mention_ids):
        ranked = (
            select(
                ScoreRow.mention_id,
                ScoreRow.label,
                ScoreRow.compound,
                func.row_number()
                .over(partition_by=ScoreRow.mention_id, order_by=(ScoreRow.scored_at.desc(), ScoreRow.id.desc()))
                .label("rn"),
            )
            .where(ScoreRow.mention_id.in_(chunk))
            .subquery()
        )
        for mention_id, label, compound in session.execute(
            select(ranked.c.mention_id, ranked.c.label, ranked.c.compound).where(ranked.c.rn == 1)
        ):
            out[mention_id] = (label, compound)
    return out


def _mention(row: MentionRow, scores: dict[int, tuple[str, float]]) -> DigestMention:
    label, compound = scores.get(row.id, (None, None))
    return DigestMention(
        id=row.id,
        platform=row.platform,
        external_id=row.external_id,
        author_handle=row.author_handle,
        author_name=row.author_name,
        author_followers=row.author_followers or 0,
        text=row.text,
        title=row.title,
        url=row.url,
        created_at=row.created_at,
        label=label,
        compound=compound,
        community=row.community,
        community_members=row.community_members,
        reply_to_id=row.reply_to_id,
    )


@dataclass
class _Context:
    """The stored posts around the digest's alerts (see :func:`_context`)."""

    posts: dict[tuple[str, str, str], MentionRow]  # (brand, platform, external id) -> parents, Reddit submissions
    alert_posts: dict[int, set[int]]  # alert id -> its mention ids
    by_author: dict[tuple[str, str, str], list[MentionRow]]  # (brand, platform, author id) -> posts, newest first
    by_handle: dict[tuple[str, str], list[MentionRow]]  # (brand, lower-case handle) -> posts, newest first

    def parent_of(self, mention: MentionRow) -> MentionRow | None:
        if not mention.reply_to_id:
            return None
        return self.posts.get((mention.brand, mention.platform, mention.reply_to_id))

    def thread_title_of(self, mention: MentionRow, parent: MentionRow | None) -> str | None:
        """The title of a comment's Reddit thread (a submission has its own title, shown with it)."""
        if mention.title or not mention.thread_id or mention.thread_id == mention.external_id:
            return None
        thread = self.posts.get((mention.brand, mention.platform, mention.thread_id))
        if thread is None or not thread.title or (parent is not None and parent.id == thread.id):
            return None
        return thread.title

    def history_of(self, alert: AlertRow) -> list[MentionRow]:
        """The author's other posts about the alert's brand, newest first: the
        same account on the alert's network and the same handle on the others."""
        own = self.alert_posts.get(alert.id, set()) | {alert.mention_id, alert.last_mention_id}
        rows = [m for m in _same_author(alert, self.by_author, self.by_handle) if m.id not in own]
        rows.sort(key=lambda m: (m.created_at, m.id), reverse=True)
        return rows


def _index_by_author(rows: Iterable[Any], by_author: dict, by_handle: dict) -> None:
    """Add ``rows`` (mentions or alerts: brand, platform, author id, handle)
    to ``by_author`` ((brand, platform, author id) -> rows) and ``by_handle``
    ((brand, lower-case handle) -> rows), in their order."""
    for row in rows:
        by_author.setdefault((row.brand, row.platform, row.author_id), []).append(row)
        by_handle.setdefault((row.brand, row.author_handle.lower()), []).append(row)


def _same_author(alert: AlertRow, by_author: dict, by_handle: dict) -> list[Any]:
    """The rows of ``alert``'s author (see :func:`_index_by_author`): the same
    account on the alert's network, the same handle on the others."""
    same = by_author.get((alert.brand, alert.platform, alert.author_id), [])
    others = [r for r in by_handle.get((alert.brand, alert.author_handle.lower()), []) if r.platform != alert.platform]
    return [*same, *others]


def _other_open_alerts(alerts: Sequence[AlertRow]) -> dict[int, tuple[int, ...]]:
    """Each alert's author's other open alerts of its brand (same account on
    its network, same handle on the others)."""
    by_author: dict[tuple[str, str, str], list[AlertRow]] = {}
    by_handle: dict[tuple[str, str], list[AlertRow]] = {}
    _index_by_author(alerts, by_author, by_handle)
    return {a.id: tuple(sorted({o.id for o in _same_author(a, by_author, by_handle) if o.id != a.id})) for a in alerts}


def _context(session: Session, alerts: Sequence[AlertRow], mentions: Mapping[int, MentionRow]) -> _Context:
    """Three queries (per few hundred alerts) whatever the number of alerts:
    the posts the opening mentions answer and their Reddit threads, each
    alert's mentions, and the authors' posts; all of the alerts' own brands
    (an alert never shows another brand's posts)."""
    brands = sorted({a.brand for a in alerts})
    wanted: set[str] = set()
    for a in alerts:
        m = mentions[a.mention_id]
        wanted.update(x for x in (m.reply_to_id, m.thread_id) if x and x != m.external_id)
    posts: dict[tuple[str, str, str], MentionRow] = {}
    for chunk in _chunks(sorted(wanted)):
        for row in session.scalars(select(MentionRow).where(MentionRow.external_id.in_(chunk),
                                                            MentionRow.brand.in_(brands))):
            posts[(row.brand, row.platform, row.external_id)] = row
    alert_posts: dict[int, set[int]] = {}
    for chunk in _chunks([a.id for a in alerts]):
        for alert_id, mention_id in session.execute(
            select(AlertMentionRow.alert_id, AlertMentionRow.mention_id).where(AlertMentionRow.alert_id.in_(chunk))
        ):
            alert_posts.setdefault(alert_id, set()).add(mention_id)
    by_author: dict[tuple[str, str, str], list[MentionRow]] = {}
    by_handle: dict[tuple[str, str], list[MentionRow]] = {}
    authors = sorted({a.author_id for a in alerts})
    handles = sorted({a.author_handle.lower() for a in alerts})
    seen: set[int] = set()
    for i in range(0, max(len(authors), len(handles)), _CHUNK):
        chunk_ids, chunk_handles = authors[i:i + _CHUNK], handles[i:i + _CHUNK]
        for row in session.scalars(
            select(MentionRow)
            .where(MentionRow.brand.in_(brands), MentionRow.is_own.is_(False),
                   or_(MentionRow.author_id.in_(chunk_ids), func.lower(MentionRow.author_handle).in_(chunk_handles)))
            .order_by(MentionRow.created_at.desc(), MentionRow.id.desc())
        ):
            if row.id not in seen:
                seen.add(row.id)
                _index_by_author([row], by_author, by_handle)
    return _Context(posts, alert_posts, by_author, by_handle)


def build_digest(
    session: Session,
    *,
    settings: Settings,
    now: datetime,
    since: timedelta,
    brand: str | None = None,
) -> Digest:
    """Read the digest for the period ``[now - since, now]`` (all configured
    brands, or only ``brand``)."""
    if since <= timedelta(0):
        raise ValueError(f"the digest period must be positive, got {format_duration(since)}")
    start = now - since
    brands = [b for b in settings.brands if brand is None or b.id == brand]
    if brand is not None and not brands:
        raise ValueError(f"unknown brand {brand!r} (known: {', '.join(b.id for b in settings.brands)})")
    brand_ids = [b.id for b in brands]
    names = {b.id: b.name for b in settings.brands}

    # -- open alerts, their mentions and replies ----------------------------
    alert_rows = list(
        session.scalars(
            select(AlertRow)
            .where(AlertRow.status.in_(OPEN_STATUSES), AlertRow.brand.in_(brand_ids))
            .order_by(*urgency_order())  # as `alerts list` and `alerts next`
        )
    )
    mention_ids = sorted({a.mention_id for a in alert_rows} | {a.last_mention_id for a in alert_rows})
    mentions: dict[int, MentionRow] = {}
    for chunk in _chunks(mention_ids):
        mentions.update((m.id, m) for m in session.scalars(select(MentionRow).where(MentionRow.id.in_(chunk))))
    customers = [a for a in alert_rows if a.rule != POSSIBLE_INCIDENT_RULE]
    context = _context(session, customers, mentions)
    parents = {a.id: context.parent_of(mentions[a.mention_id]) for a in customers}
    histories = {a.id: context.history_of(a) for a in customers}
    other_alerts = _other_open_alerts(customers)
    scores = _latest_scores(session, sorted(
        set(mention_ids) | {p.id for p in parents.values() if p is not None}
        | {m.id for rows in histories.values() for m in rows[:HISTORY_SHOWN]}
    ))
    replies: dict[int, OutboxRow] = {}
    for chunk in _chunks([a.id for a in alert_rows]):
        for row in session.scalars(
            select(OutboxRow)
            .where(OutboxRow.alert_id.in_(chunk), OutboxRow.kind == "reply", OutboxRow.status != "rejected")
            .order_by(OutboxRow.id)
        ):
            replies[row.alert_id] = row  # the newest one per alert

    alerts: list[DigestAlert] = []
    for a in alert_rows:
        opening = _mention(mentions[a.mention_id], scores)
        latest = _mention(mentions[a.last_mention_id], scores) if a.last_mention_id != a.mention_id else opening
        left = a.sla_due_at - now
        reply = replies.get(a.id)
        parent = parents.get(a.id)
        history = histories.get(a.id, [])
        by_platform: dict[str, int] = {}
        for row in history:
            by_platform[row.platform] = by_platform.get(row.platform, 0) + 1
        alerts.append(
            DigestAlert(
                id=a.id,
                brand=a.brand,
                brand_name=names.get(a.brand, a.brand),
                platform=a.platform,
                priority=a.priority,
                priority_score=a.priority_score,
                status=a.status,
                assignee=a.assignee,
                rule=a.rule,
                tags=tuple(a.tags or ()),
                opened_at=a.opened_at,
                sla_due_at=a.sla_due_at,
                sla_left=left,
                sla_left_text=format_duration(left),
                overdue=left < timedelta(0) and a.first_response_at is None,
                first_response_at=a.first_response_at,
                mention_count=a.mention_count,
                opening=opening,
                latest=latest,
                reply=DigestReply(
                    id=reply.id, status=reply.status, text=reply.text, account=reply.account,
                    template=reply.template, hold_reason=reply.hold_reason,
                    by_hand=x_reply_by_hand_note(session, reply),
                ) if reply else None,
                note=a.note,
                round=a.round or 1,
                round_opened_at=a.round_opened_at,
                reopened_at=a.reopened_at,
                in_reply_to=_mention(parent, scores) if parent is not None else None,
                thread_title=context.thread_title_of(mentions[a.mention_id], parent),
                history_count=len(history),
                history_by_platform=tuple(sorted(by_platform.items())),
                history=tuple(_mention(row, scores) for row in history[:HISTORY_SHOWN]),
                other_open_alerts=other_alerts.get(a.id, ()),
            )
        )

    # -- the period's counts ------------------------------------------------
    in_period = (
        MentionRow.brand.in_(brand_ids),
        MentionRow.created_at >= start,
        MentionRow.created_at <= now,
        MentionRow.is_own.is_(False),
    )
    by_platform = {
        platform: count
        for platform, count in session.execute(
            select(MentionRow.platform, func.count())
            .where(*in_period)
            .group_by(MentionRow.platform)
            .order_by(MentionRow.platform)
        )
    }
    total_mentions = sum(by_platform.values())
    ranked = (
        select(
            ScoreRow.label,
            func.row_number()
            .over(partition_by=ScoreRow.mention_id, order_by=(ScoreRow.scored_at.desc(), ScoreRow.id.desc()))
            .label("rn"),
        )
        .join(MentionRow, MentionRow.id == ScoreRow.mention_id)
        .where(*in_period)
        .subquery()
    )
    label_counts = dict(
        session.execute(select(ranked.c.label, func.count()).where(ranked.c.rn == 1).group_by(ranked.c.label)).all()
    )
    by_label = {label: label_counts.pop(label, 0) for label in LABELS}
    by_label.update(sorted(label_counts.items()))  # any label an analyzer adds later
    unscored = total_mentions - sum(by_label.values())
    if unscored:
        by_label["unscored"] = unscored

    alerts_opened = session.scalar(
        select(func.count()).select_from(AlertRow)
        .where(AlertRow.brand.in_(brand_ids), AlertRow.created_at >= start, AlertRow.created_at <= now)
    ) or 0
    # Posts not out yet, by sender: replies to approve and approved, and what each rate limit holds back.
    reply_counts: dict[str, int] = {}
    approved_by_sender: dict[tuple[str, str | None], int] = {}
    for kind, status, platform, account, count in session.execute(
        select(OutboxRow.kind, OutboxRow.status, OutboxRow.platform, OutboxRow.account, func.count())
        .where(OutboxRow.brand.in_(brand_ids), OutboxRow.status.in_(("drafted", "held", "approved")))
        .group_by(OutboxRow.kind, OutboxRow.status, OutboxRow.platform, OutboxRow.account)
    ):
        if kind == "reply":
            reply_counts[status] = reply_counts.get(status, 0) + count
        if status == "approved":
            approved_by_sender[(platform, account)] = approved_by_sender.get((platform, account), 0) + count
    replies_sent = session.scalar(
        select(func.count()).select_from(OutboxRow)
        .where(OutboxRow.brand.in_(brand_ids), OutboxRow.kind == "reply", OutboxRow.status == "sent",
               OutboxRow.sent_at >= start, OutboxRow.sent_at <= now)
    ) or 0
    open_by_priority = {p: 0 for p in PRIORITIES}
    for a in alerts:
        open_by_priority[a.priority] = open_by_priority.get(a.priority, 0) + 1

    return Digest(
        brands=tuple(DigestBrand(id=b.id, name=b.name) for b in brands),
        period_start=start,
        period_end=now,
        generated_at=now,
        alerts=tuple(alerts),
        mentions_by_label=by_label,
        mentions_by_platform=by_platform,
        totals=DigestTotals(
            mentions=total_mentions,
            alerts_opened=alerts_opened,
            open_alerts=len(alerts),
            overdue=sum(1 for a in alerts if a.overdue),
            open_by_priority=open_by_priority,
            replies_awaiting_approval=reply_counts.get("drafted", 0) + reply_counts.get("held", 0),
            replies_approved=reply_counts.get("approved", 0),
            replies_sent=replies_sent,
        ),
        kpis=compute_kpis(session, now=now, since=since, brands=brand_ids),
        trends=compute_trends(session, now=now, since=TREND_PERIOD, by="day", brands=brand_ids),
        sources=_listening_problems(session, settings=settings, brand_ids=brand_ids, now=now, start=start),
        waits=_waits(session, now=now, brands=brands, approved_by_sender=approved_by_sender),
    )


def _waits(session: Session, *, now: datetime, brands: Sequence[Any],
           approved_by_sender: Mapping[tuple[str, str | None], int]) -> tuple[DigestWait, ...]:
    """The senders waiting for a rate limit now (one query), each with the
    approved posts of these brands it holds back; a wait that holds none of
    theirs is shown only when it is one of their accounts' or the whole
    platform's. Which accounts a wait holds is what the sending process
    recorded with it (:meth:`outreach.outbox.SendWait.holds`), whatever this
    process's environment says."""
    own = {(platform, waiting_account(handle)) for b in brands
           for platform in ("x", "reddit") for handle in b.accounts.for_platform(platform)}
    out = []
    for wait in current_waits(session, now=now):
        held = sum(n for (platform, account), n in approved_by_sender.items() if wait.holds(platform, account))
        ours = wait.identity == wait.platform or (wait.platform, waiting_account(wait.account)) in own
        if held or ours:
            out.append(DigestWait(platform=wait.platform, identity=wait.identity, account=wait.account,
                                  until=wait.until, reason=wait.reason, replies=held))
    return tuple(out)


def wait_line(wait: DigestWait, *, now: datetime) -> str:
    """``X @AcmeHelp rate-limited until 09:15 UTC, 3 replies waiting``."""
    until = wait.until.astimezone(timezone.utc)
    when = f"{until:%H:%M} UTC" if until.date() == now.astimezone(timezone.utc).date() else f"{until:%Y-%m-%d %H:%M} UTC"
    n = wait.replies
    return (f"{wait.platform_name} {printable(wait.who)} rate-limited until {when},"
            f" {n} {'reply' if n == 1 else 'replies'} waiting")


def _listening_problems(session: Session, *, settings: Settings, brand_ids: list[str], now: datetime,
                        start: datetime) -> tuple[DigestSource, ...]:
    """The configured, enabled sources of these brands whose listening is
    impaired, as their last poll left them (see ``brandpulse sources``):
    failing or over budget; backing off after an error or waiting for the
    platform's rate limit now; or whose latest poll, in the period, read
    only in part (the poller records the parts it could not read as the
    last error of a successful poll, so both times are the same). A wait
    that is over, or an error a later poll got past, is not listed."""
    names = [s.name for s in settings.sources if s.enabled and s.brand in brand_ids]
    if not names:
        return ()
    rows = session.scalars(select(SourceStateRow).where(SourceStateRow.source.in_(names)).order_by(SourceStateRow.source))
    out = []
    for r in rows:
        waiting = r.next_poll_at is not None and r.next_poll_at > now
        if r.status == "failing":
            out.append(DigestSource(name=r.source, kind=r.kind, status="failing",
                                    message=r.last_error or "failing", since=r.last_error_at))
        elif r.status == "over_budget":
            out.append(DigestSource(name=r.source, kind=r.kind, status="over_budget",
                                    message=r.note or "over budget", since=r.updated_at))
        elif r.status == "error":
            out.append(DigestSource(name=r.source, kind=r.kind, status="error", message=r.last_error or "error",
                                    since=r.last_error_at, until=r.next_poll_at if waiting else None))
        elif (r.last_error is not None and r.last_error_at is not None and r.last_error_at >= start
              and r.last_error_at == r.last_success_at):
            out.append(DigestSource(name=r.source, kind=r.kind, status="partial", message=r.last_error,
                                    since=r.last_error_at))
        elif waiting:
            message = r.last_error if r.status == "deferred" and r.last_error else "the platform's rate limit is used up"
            out.append(DigestSource(name=r.source, kind=r.kind, status="deferred", message=message,
                                    since=r.last_error_at if r.status == "deferred" else r.last_poll_at,
                                    until=r.next_poll_at))
    return tuple(out)


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------


def format_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _clock_time(value: datetime | None, day: datetime | None) -> str:
    """``09:14 UTC`` on ``day``'s date (UTC), else the full time."""
    if value is None:
        return ""
    value = value.astimezone(timezone.utc)
    if day is not None and value.date() == day.astimezone(timezone.utc).date():
        return f"{value:%H:%M} UTC"
    return format_time(value)


def safe_url(value: str | None) -> str | None:
    """The URL if it is an http(s) link, else None (no ``javascript:`` links)."""
    if not value:
        return None
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    return value.strip() if parts.scheme in ("http", "https") and parts.netloc else None


def _followers(n: int) -> str:
    return f"{n:,}"


def render_html(digest: Digest, *, settings: Settings) -> str:
    """The digest as one self-contained HTML page (inline CSS). The template is
    ``digest.html.j2`` from the configured templates directory, else the
    project's own."""
    search_path = [settings.templates_path]
    if PROJECT_TEMPLATES != settings.templates_path:
        search_path.append(PROJECT_TEMPLATES)
    env = make_environment(html=True, search_path=search_path)
    env.filters["time"] = format_time
    env.filters["safe_url"] = safe_url
    env.filters["followers"] = _followers
    try:
        template = env.get_template(HTML_TEMPLATE)
    except TemplateNotFound:
        raise FileNotFoundError(
            f"digest template {HTML_TEMPLATE} not found in {' or '.join(str(p) for p in search_path)}"
        ) from None
    return template.render(digest=digest, format_duration=format_duration, trend_chart=trend_chart_uri(digest),
                           history_summary=history_summary,
                           trend_summary=_trend_summaries(digest), pct=pct, net=net,
                           wait_lines=[wait_line(w, now=digest.generated_at) for w in digest.waits],
                           listening_problems=LISTENING_PROBLEMS)


def trend_chart_uri(digest: Digest) -> str | None:
    """The chart of the digest's trends (all its brands together) as a
    ``data:image/svg+xml`` URI, or None without trends. An image rather than
    SVG markup in the page: nothing in it can reach the page's DOM or styles."""
    if digest.trends is None:
        return None
    svg = render_chart_svg(digest.trends.total, by=digest.trends.by)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def _trend_summaries(digest: Digest) -> list[str]:
    if digest.trends is None:
        return []
    return [summary_line(g, digest.trends.period) for g in digest.trends.groups]


_SPACE = re.compile(r"\s+")


def _one_line(text: str, limit: int = 280) -> str:
    text = _SPACE.sub(" ", printable(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _who(m: DigestMention) -> str:
    return f"{shown_handle(m.platform, printable(m.author_handle))} ({printable(m.reach_text)})"


def render_text(digest: Digest, *, max_alerts: int | None = 25) -> str:
    """The digest for a terminal. Shows the ``max_alerts`` most urgent open
    alerts (None: all) and says how many more the HTML file has."""
    t = digest.totals
    lines = [
        f"brandpulse digest: {printable(digest.brand_names)}",
        f"period {format_time(digest.period_start)} → {format_time(digest.period_end)}",
        "",
    ]
    if digest.sources:  # first: the rest of the digest may be missing complaints
        lines.append(LISTENING_PROBLEMS + " (see `brandpulse sources`):")
        for src in digest.sources:
            lines.append(f"  {printable(src.name)} ({src.kind}) {src.label.upper()} {src.when}:"
                         f" {_one_line(src.message, 240)}")
        lines.append("")
    lines += [
        f"Mentions: {t.mentions}"
        + (" (" + ", ".join(f"{k} {v}" for k, v in digest.mentions_by_label.items() if v) + ")" if t.mentions else ""),
    ]
    if digest.mentions_by_platform:
        lines.append("  by platform: " + ", ".join(f"{k} {v}" for k, v in digest.mentions_by_platform.items()))
    by_priority = ", ".join(f"{p} {n}" for p, n in t.open_by_priority.items() if n)
    lines.append(
        f"Open alerts: {t.open_alerts}" + (f" ({by_priority})" if by_priority else "")
        + f", {t.overdue} overdue; {t.alerts_opened} opened in the period"
    )
    lines.append(
        f"Replies: {t.replies_awaiting_approval} awaiting approval, {t.replies_approved} approved to send,"
        f" {t.replies_sent} sent in the period"
    )
    for wait in digest.waits:
        lines.append(f"  replies held: {wait_line(wait, now=digest.generated_at)}")
    lines.append("")
    if not digest.alerts:
        lines.append("No open alerts.")
    else:
        lines.append("Open alerts, most urgent first:")
    shown = digest.alerts if max_alerts is None else digest.alerts[:max_alerts]
    for a in shown:
        if a.first_response_at is not None:
            sla = "answered" + (f", then wrote again {format_time(a.latest.created_at)}" if a.wrote_again else "")
        elif a.overdue:
            sla = f"OVERDUE by {format_duration(-a.sla_left)}"
        else:
            sla = f"{a.sla_left_text} left"
        if a.wrote_again_after_answer:
            sla += f", customer wrote again {format_time(a.round_opened_at)} after {a.wrote_again_after}"
        elif a.reopened_in_same_round:
            sla += f", reopened {format_time(a.reopened_at)} by a post read after it was resolved"
        extra = [a.status]
        if a.assignee:
            extra.append(f"assigned to {printable(a.assignee)}")
        lines.append("")
        source = "possible incident" if a.is_possible_incident else f"{a.platform} · {_who(a.opening)}"
        lines.append(
            f"[{a.priority}] alert {a.id} · {sla} · {source}"
            f" · {a.mention_count} mention{'s' if a.mention_count != 1 else ''} · {', '.join(extra)}"
        )
        if a.is_possible_incident and a.note:  # what spiked and the command that opens an incident
            lines.extend(f"    {line}" for line in printable(a.note).splitlines())
            continue
        lines.append(f"    {format_time(a.opening.created_at)}  {_one_line(a.opening.text)}")
        url = safe_url(a.opening.url)
        if url:
            lines.append(f"    {printable(url)}")
        if a.has_newer_mention:
            lines.append(f"    latest {format_time(a.latest.created_at)}  {_one_line(a.latest.text)}")
        lines.extend(f"    {line}" for line in context_lines(a))
        if a.reply is not None:
            held = f", held: {_one_line(a.reply.hold_reason, 120)}" if a.reply.hold_reason else ""
            lines.append(f"    reply {a.reply.id} ({a.reply.status}{held}): {_one_line(a.reply.text)}")
            if a.reply.by_hand:
                lines.append(f"      — {a.reply.by_hand}")
    if len(shown) < len(digest.alerts):
        lines.append("")
        lines.append(f"… and {len(digest.alerts) - len(shown)} more open alerts in the HTML digest.")
    if digest.trends is not None:
        lines.append("")
        lines.extend(_trends_text(digest.trends))
    if digest.kpis is not None:
        lines.append("")
        lines.append(render_kpis_text(digest.kpis).rstrip("\n"))
    return "\n".join(lines) + "\n"


def history_summary(a: DigestAlert) -> str:
    """``the author's other posts: 3 (reddit 1, x 2) · also open: alerts 57, 67``; "" when there are none."""
    parts = []
    if a.history_count:
        per = ", ".join(f"{p} {n}" for p, n in a.history_by_platform)
        parts.append(f"the author's other posts: {a.history_count} ({per})")
    if a.other_open_alerts:
        ids = ", ".join(str(i) for i in a.other_open_alerts)
        parts.append(f"also open: alert{'s' if len(a.other_open_alerts) > 1 else ''} {ids}")
    return " · ".join(parts)


def context_lines(a: DigestAlert) -> list[str]:
    """The alert's context for the text digest: the post it answers, its
    Reddit thread, and the author's other posts (the newest few) and open alerts."""
    lines = []
    if a.in_reply_to is not None:
        p = a.in_reply_to
        lines.append(f"in reply to {shown_handle(p.platform, printable(p.author_handle))}"
                     f" {format_time(p.created_at)}  {_one_line(p.text, 160)}")
    if a.thread_title:
        lines.append(f"thread: {_one_line(a.thread_title, 160)}")
    summary = history_summary(a)
    if summary:
        lines.append(summary)
        for m in a.history:
            label = f" [{m.label}]" if m.label else ""
            lines.append(f"  {format_time(m.created_at)} {m.platform}{label}  {_one_line(m.text, 160)}")
    return lines


def _trends_text(trends: TrendReport) -> list[str]:
    """A compact table of the total per day: mentions (with a bar) and negative share."""
    g = trends.total
    lines = [f"Trends, last {TREND_PERIOD.days} days by UTC day: " + summary_line(g, trends.period).split(": ", 1)[1]]
    top = max((b.counts.mentions for b in g.buckets), default=0)
    width = max(len(str(top)), len("mentions"))
    lines.append(f"  {'day':<9}  {'mentions':>{width}}  {'neg share':>9}")
    for b in g.buckets:
        c = b.counts
        bar = ("█" * round(c.mentions / top * 20) or ("▏" if c.mentions else "")) if top else ""
        lines.append(f"  {b.start:%a %m-%d}{'*' if b.partial else ' '}  {c.mentions:>{width}}  {pct(c.negative_share):>9}  {bar}".rstrip())
    return lines


def write_digest(digest: Digest, *, settings: Settings, directory: Path | None = None) -> Path:
    """Render and write ``digest-YYYYmmdd-HHMMSS.html`` (UTC, from
    ``generated_at``) under ``<data_path>/digests`` or ``directory``. An
    existing file is never overwritten: a second digest in the same second
    gets a ``-2`` suffix."""
    html = render_html(digest, settings=settings)
    folder = directory if directory is not None else settings.data_path / "digests"
    folder.mkdir(parents=True, exist_ok=True)
    stem = "digest-" + digest.generated_at.astimezone(timezone.utc).strftime("%Y%m%d-%H%M%S")
    path = folder / f"{stem}.html"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}.html"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return path
