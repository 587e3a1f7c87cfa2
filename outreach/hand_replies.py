"""Replies the team wrote by hand on the platform.

A community manager often answers a customer directly on X or Reddit, not
through brandpulse. When such a post by one of the brand's own accounts is
ingested (Reddit brand subreddits deliver every comment; on X, the
``own_replies`` endpoint of the X source; any replay), brandpulse

* counts it as the **first response** of the alerts holding the post it
  answers (``first_response_at`` = when it was posted, if that is earlier than
  what is recorded), so the KPIs measure what customers actually got, with an
  ``alert.answered_on_platform`` audit event naming the account and link —
  whichever of the two posts is stored first (:func:`record_hand_replies`
  when the reply comes last, :func:`credit_earlier_hand_replies` when the
  customer's post does);
* never answers that author again in that thread automatically: the
  ``one_per_thread`` safeguard (outreach/safeguards.py) holds a reply to an
  author whom an own account already answered there, see
  :func:`hand_reply_in_thread`.

Posts brandpulse sent itself come back through the sources too; they are
recognised by their platform id in the outbox and are not "by hand".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session, aliased

from brandpulse import audit
from brandpulse.db.models import AlertMentionRow, AlertRow, MentionRow, OutboxRow
from brandpulse.types import POSSIBLE_INCIDENT_RULE, Mention

ANSWERED_ON_PLATFORM = "alert.answered_on_platform"


@dataclass(frozen=True, slots=True)
class HandReply:
    """An own account's post on the platform answering one of an author's posts."""

    external_id: str
    account: str
    posted_at: datetime
    url: str | None


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


def record_hand_replies(session: Session, own_posts: Sequence[Mention], *, now: datetime) -> list[int]:
    """Count the own accounts' replies among ``own_posts`` (mentions just
    stored) as first responses of the alerts they answer. Returns the ids of
    the alerts whose first response this set or moved earlier."""
    return _credit(session, [
        _OwnPost(m.platform, m.external_id, m.reply_to_id, m.author.handle, m.created_at, m.url)
        for m in own_posts if m.reply_to_id
    ], now=now)


def credit_earlier_hand_replies(session: Session, alerted: Sequence[Mention], *, now: datetime) -> list[int]:
    """The other order: an own reply stored *before* the customer's post it
    answers (sources poll at their own pace). For mentions that have just
    joined an alert, find own replies to them already stored (one SELECT per
    platform through the thread index) and credit them."""
    found: list[_OwnPost] = []
    by_platform: dict[str, list[Mention]] = {}
    for m in alerted:
        by_platform.setdefault(m.platform, []).append(m)
    for platform, mentions in by_platform.items():
        threads = sorted({m.thread_id or m.external_id for m in mentions})
        targets = sorted({m.external_id for m in mentions})
        rows = session.execute(
            select(MentionRow.external_id, MentionRow.reply_to_id, MentionRow.author_handle, MentionRow.created_at,
                   MentionRow.url)
            .where(MentionRow.platform == platform, MentionRow.thread_id.in_(threads),
                   MentionRow.is_own.is_(True), MentionRow.reply_to_id.in_(targets))
        ).all()
        found.extend(_OwnPost(platform, *row) for row in rows)
    return _credit(session, found, now=now)


def _credit(session: Session, replies: Sequence[_OwnPost], *, now: datetime) -> list[int]:
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
            select(AlertRow.id, AlertRow.first_response_at, AlertRow.author_handle, MentionRow.external_id)
            .join(AlertMentionRow, AlertMentionRow.alert_id == AlertRow.id)
            .join(MentionRow, MentionRow.id == AlertMentionRow.mention_id)
            .where(MentionRow.platform == platform, MentionRow.external_id.in_(list(answered)),
                   MentionRow.is_own.is_(False), AlertRow.rule != POSSIBLE_INCIDENT_RULE)
        ).all()
        for alert_id, first_response_at, author_handle, target in rows:
            post = answered[target]
            if first_response_at is not None and first_response_at <= post.created_at:
                continue
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
    return touched


def hand_reply_in_thread(session: Session, *, platform: str, author_id: str, thread: str) -> HandReply | None:
    """The earliest post by one of the brand's own accounts, written outside
    brandpulse, that answers a post of ``author_id`` in ``thread``."""
    own = aliased(MentionRow)
    target = aliased(MentionRow)
    row = session.execute(
        select(own.external_id, own.author_handle, own.created_at, own.url)
        .join(target, and_(target.platform == own.platform, target.external_id == own.reply_to_id))
        .where(
            own.platform == platform,
            own.is_own.is_(True),
            target.author_id == author_id,
            func.coalesce(target.thread_id, target.external_id) == thread,
            ~select(OutboxRow.id).where(OutboxRow.platform == platform, OutboxRow.external_id == own.external_id).exists(),
        )
        .order_by(own.created_at)
        .limit(1)
    ).first()
    if row is None:
        return None
    return HandReply(external_id=row[0], account=row[1], posted_at=row[2], url=row[3])
