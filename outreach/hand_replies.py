"""Replies the team wrote by hand on the platform.

A community manager often answers a customer directly on X or Reddit, not
through brandpulse. When such a post by one of the brand's own accounts is
ingested (Reddit brand subreddits deliver every comment; on X, the
``own_replies`` endpoint of the X source; any replay), brandpulse

* counts it as the **first response** of the alerts holding the post it
  answers (``first_response_at`` = when it was posted, if that is earlier than
  what is recorded; when the customer has written again since and the alert
  is in a later round (rules/alerts.py), the round it answered, in
  ``alert_rounds``), so the KPIs measure what customers actually got, with an
  ``alert.answered_on_platform`` audit event naming the account and link —
  whichever of the two posts is stored first (:func:`record_hand_replies`
  when the reply comes last, :func:`credit_earlier_hand_replies` when the
  customer's post does);
* counts it as an answer in that thread for the ``one_per_thread``
  safeguard (outreach/safeguards.py): brandpulse's reply to the post it
  answers, or to an earlier post of that author there, is held; only a post
  the customer writes after it may get a reply (approved by a person), see
  :func:`hand_replies_in_thread`.

Posts brandpulse sent itself come back through the sources too; they are
recognised by their platform id in the outbox and are not "by hand".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.db.models import AlertMentionRow, AlertRoundRow, AlertRow, MentionRow, OutboxRow
from brandpulse.inbox import OPEN_STATES
from brandpulse.config import Settings
from brandpulse.rounds import WROTE_AGAIN, alert_values, awaited_round, restart
from brandpulse.types import POSSIBLE_INCIDENT_RULE, Mention, Priority

ANSWERED_ON_PLATFORM = "alert.answered_on_platform"


@dataclass(frozen=True, slots=True)
class HandReply:
    """An own account's post on the platform answering one of an author's posts."""

    external_id: str
    account: str
    posted_at: datetime
    url: str | None
    answers: str | None = None  # the external id of the author's post it answers


def _sent_by_brandpulse(session: Session, platform: str, external_ids: Sequence[str]) -> set[str]:
    if not external_ids:
        return set()
    return set(session.scalars(
        select(OutboxRow.external_id).where(OutboxRow.platform == platform, OutboxRow.external_id.in_(external_ids))
    ))


@dataclass(frozen=True, slots=True)
class _OwnPost:
    platform: str
    external_id: str
    reply_to_id: str
    handle: str
    created_at: datetime
    url: str | None


def record_hand_replies(session: Session, own_posts: Sequence[Mention], *, now: datetime,
                        settings: Settings | None = None) -> list[int]:
    """Count the own accounts' replies among ``own_posts`` (mentions just
    stored) as first responses of the alerts they answer. Returns the ids of
    the alerts whose first response this set or moved earlier. With
    ``settings`` (for the SLA), an alert whose customer has written again
    since the reply starts a new round (:func:`restart_if_wrote_again`)."""
    return _credit(session, [
        _OwnPost(m.platform, m.external_id, m.reply_to_id, m.author.handle, m.created_at, m.url)
        for m in own_posts if m.reply_to_id
    ], now=now, settings=settings)


def credit_earlier_hand_replies(session: Session, alerted: Sequence[Mention], *, now: datetime,
                                settings: Settings | None = None) -> list[int]:
    """The other order: an own reply stored *before* the customer's post it
    answers (sources poll at their own pace). For mentions that have just
    joined an alert, find own replies to them already stored (one SELECT per
    platform through the partial index of own replies) and credit them."""
    found: list[_OwnPost] = []
    by_platform: dict[str, set[str]] = {}
    for m in alerted:
        by_platform.setdefault(m.platform, set()).add(m.external_id)
    for platform, targets in by_platform.items():
        rows = session.execute(_EARLIER_OWN_REPLIES, {"platform": platform, "targets": sorted(targets)}).all()
        found.extend(_OwnPost(platform, *row) for row in rows)
    return _credit(session, found, now=now, settings=settings)


# Through the partial index ix_mentions_own_replies (own posts only); built once.
_EARLIER_OWN_REPLIES = (
    select(MentionRow.external_id, MentionRow.reply_to_id, MentionRow.author_handle, MentionRow.created_at,
           MentionRow.url)
    .where(MentionRow.platform == bindparam("platform"), MentionRow.is_own == True,  # noqa: E712 (= 1 matches the index)
           MentionRow.reply_to_id.in_(bindparam("targets", expanding=True)))
)


def _credit(session: Session, replies: Sequence[_OwnPost], *, now: datetime,
            settings: Settings | None = None) -> list[int]:
    if not replies:
        return []
    touched: list[int] = []
    by_platform: dict[str, list[_OwnPost]] = {}
    for post in replies:
        by_platform.setdefault(post.platform, []).append(post)
    for platform, posts in by_platform.items():
        ours = _sent_by_brandpulse(session, platform, [p.external_id for p in posts])
        by_hand = [p for p in posts if p.external_id not in ours]
        if not by_hand:
            continue
        # The earliest own reply to each post.
        answered = {p.reply_to_id: p for p in sorted(by_hand, key=lambda p: p.created_at, reverse=True)}
        rows = session.execute(
            select(AlertRow.id, AlertRow.first_response_at, AlertRow.author_handle, MentionRow.external_id,
                   AlertRow.round_opened_at)
            .join(AlertMentionRow, AlertMentionRow.alert_id == AlertRow.id)
            .join(MentionRow, MentionRow.id == AlertMentionRow.mention_id)
            .where(MentionRow.platform == platform, MentionRow.external_id.in_(list(answered)),
                   MentionRow.is_own.is_(False), AlertRow.rule != POSSIBLE_INCIDENT_RULE)
        ).all()
        for alert_id, first_response_at, author_handle, target, round_opened_at in rows:
            post = answered[target]
            current_round = round_opened_at is None or post.created_at >= round_opened_at
            if not current_round:
                # Written before the customer's latest message: it answered an earlier round.
                done = session.execute(_credit_earlier_round(alert_id, post.created_at))
            elif first_response_at is not None and first_response_at <= post.created_at:
                continue
            else:
                done = session.execute(
                    update(AlertRow)
                    .where(AlertRow.id == alert_id,
                           (AlertRow.first_response_at.is_(None)) | (AlertRow.first_response_at > post.created_at))
                    .values(first_response_at=post.created_at)
                    .execution_options(synchronize_session=False)
                )
            if done.rowcount != 1:
                continue
            touched.append(alert_id)
            audit.record(
                session, at=now, actor=f"{platform}:@{post.handle}", action=ANSWERED_ON_PLATFORM,
                entity_type="alert", entity_id=alert_id,
                details={"post": post.external_id, "url": post.url, "posted_at": post.created_at.isoformat(),
                         "answered": target, "author": author_handle},
            )
            if current_round and settings is not None:
                restart_if_wrote_again(session, alert_id, answered_at=post.created_at, settings=settings, now=now)
    return touched


def restart_if_wrote_again(session: Session, alert_id: int, *, answered_at: datetime, settings: Settings,
                            now: datetime) -> None:
    """A reply known only after the customer's next post was read (a reply by
    hand: sources poll at their own pace; brandpulse's own reply whose send
    had an unknown outcome, found later by reconciliation): if the customer
    wrote again after ``answered_at``, that post starts a new round, as it
    would have had the reply been known first (rules/alerts.py), at the
    alert's priority. Not for an alert a person
    resolved or dismissed meanwhile: that post was in the alert when they
    closed it, so it stays as they left it (only a post read after the
    resolution reopens an alert). Two SELECTs; writes only then."""
    a = session.execute(
        select(AlertRow.round, AlertRow.round_mention_id, AlertRow.mention_id, AlertRow.opened_at,
               AlertRow.round_opened_at, AlertRow.priority, AlertRow.sla_due_at, AlertRow.author_id,
               AlertRow.last_mention_at)
        .where(AlertRow.id == alert_id, AlertRow.status.in_(OPEN_STATES))
    ).one_or_none()
    if a is None or a.last_mention_at <= answered_at:
        return
    later = session.execute(
        select(MentionRow.id, MentionRow.created_at)
        .join(AlertMentionRow, AlertMentionRow.mention_id == MentionRow.id)
        .where(AlertMentionRow.alert_id == alert_id, MentionRow.author_id == a.author_id,
               MentionRow.created_at > answered_at)
        .order_by(MentionRow.created_at, MentionRow.id)
        .limit(1)
    ).first()
    if later is None:
        return
    priority = Priority(a.priority)
    current = awaited_round(number=a.round, round_mention_id=a.round_mention_id, round_opened_at=a.round_opened_at,
                            first_mention_id=a.mention_id, opened_at=a.opened_at, priority=priority,
                            sla_due_at=a.sla_due_at, first_response_at=answered_at)
    kept, new, details = restart(current, mention_id=later.id, posted_at=later.created_at, priority=priority,
                                 sla=settings.sla_for(priority))
    session.execute(insert(AlertRoundRow), [{"alert_id": alert_id, **kept}])
    session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(**alert_values(new))
                    .execution_options(synchronize_session=False))
    audit.record(session, at=now, actor=audit.SYSTEM, action=WROTE_AGAIN, entity_type="alert", entity_id=alert_id,
                 details=details)


def _credit_earlier_round(alert_id: int, posted_at: datetime):
    """The UPDATE that makes a reply posted at ``posted_at`` the first response
    of the alert's round it answers (the latest that had started by then), if
    it is earlier than the one recorded."""
    latest_started = (
        select(func.max(AlertRoundRow.round))
        .where(AlertRoundRow.alert_id == alert_id, AlertRoundRow.opened_at <= posted_at)
        .scalar_subquery()
    )
    return (
        update(AlertRoundRow)
        .where(AlertRoundRow.alert_id == alert_id, AlertRoundRow.round == latest_started,
               (AlertRoundRow.first_response_at.is_(None)) | (AlertRoundRow.first_response_at > posted_at))
        .values(first_response_at=posted_at)
        .execution_options(synchronize_session=False)
    )


def hand_replies_in_thread(session: Session, *, platform: str, author_id: str, thread: str) -> list[HandReply]:
    """The posts by the brand's own accounts, written outside brandpulse,
    that answer a post of ``author_id`` in ``thread``, oldest first. Three
    index lookups: the author's posts in the thread (ix_mentions_author), own
    replies to them (ix_mentions_own_replies), brandpulse's posts among
    those (ix_outbox_posted)."""
    posts = session.scalars(_AUTHOR_POSTS_IN_THREAD, {"platform": platform, "author_id": author_id, "thread": thread}).all()
    if not posts:
        return []
    rows = session.execute(_EARLIER_OWN_REPLIES, {"platform": platform, "targets": sorted(posts)}).all()
    if not rows:
        return []
    ours = _sent_by_brandpulse(session, platform, [r[0] for r in rows])
    return [HandReply(external_id=external_id, account=account, posted_at=posted_at, url=url, answers=reply_to)
            for external_id, reply_to, account, posted_at, url in sorted((r for r in rows if r[0] not in ours),
                                                                         key=lambda r: r[3])]


_AUTHOR_POSTS_IN_THREAD = select(MentionRow.external_id).where(
    MentionRow.platform == bindparam("platform"),
    MentionRow.author_id == bindparam("author_id"),
    func.coalesce(MentionRow.thread_id, MentionRow.external_id) == bindparam("thread"),
)
