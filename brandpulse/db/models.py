"""Tables. Every timestamp is stored as UTC and read back timezone-aware."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite keeps no time zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime given to a UTC column: {value!r}")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite autoincrement needs INTEGER PRIMARY KEY; PostgreSQL gets BIGINT.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class MentionRow(Base):
    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("platform", "external_id", name="uq_mentions_platform_external_id"),
        Index("ix_mentions_author", "platform", "author_id"),
        Index("ix_mentions_thread", "platform", "thread_id"),
        Index("ix_mentions_brand_created", "brand", "created_at"),
        # The brand's own replies (outreach/hand_replies.py): a partial index, as
        # small as the number of own posts, so ordinary inserts barely pay for it.
        Index("ix_mentions_own_replies", "platform", "reply_to_id",
              sqlite_where=text("is_own = 1"), postgresql_where=text("is_own")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    brand: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(128))
    author_id: Mapped[str] = mapped_column(String(64))
    author_handle: Mapped[str] = mapped_column(String(128))
    author_name: Mapped[str | None] = mapped_column(String(256))
    author_followers: Mapped[int] = mapped_column(Integer, default=0)
    author_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    community: Mapped[str | None] = mapped_column(String(128))
    # Reddit: the subreddit's members when the post was read (types.Mention.community_members).
    community_members: Mapped[int | None] = mapped_column(Integer)
    lang: Mapped[str | None] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(Text)
    thread_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_id: Mapped[str | None] = mapped_column(String(64))
    quoted_id: Mapped[str | None] = mapped_column(String(64))
    addressed_handles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    is_own: Mapped[bool] = mapped_column(Boolean, default=False)  # posted by the brand's own account
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class CommunityRow(Base):
    """The latest member count read for a community (a subreddit), for the
    posts whose listing carries none (brandpulse/communities.py)."""

    __tablename__ = "communities"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)  # lower-case
    members: Mapped[int] = mapped_column(Integer)
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the post that gave it was written


class ScoreRow(Base):
    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("mention_id", "analyzer", "version", name="uq_scores_mention_analyzer"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), index=True)
    analyzer: Mapped[str] = mapped_column(String(64))
    version: Mapped[str] = mapped_column(String(64))
    compound: Mapped[float] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(16))
    lang: Mapped[str | None] = mapped_column(String(16))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MentionTagRow(Base):
    __tablename__ = "mention_tags"

    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class SourceStateRow(Base):
    """A source's persistent memory: its cursor and its health."""

    __tablename__ = "source_state"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    cursor: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok | deferred | failing | over_budget
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    posts_read: Mapped[int] = mapped_column(BigInteger, default=0)
    mentions_stored: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the status is what it is when that is not an error (over_budget: the spend and the budget).
    note: Mapped[str | None] = mapped_column(Text)


class SourceUsageRow(Base):
    """What one source read in one UTC month, and its estimated cost
    (listener/budget.py). Updated in each poll's transaction."""

    __tablename__ = "source_usage"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2026-03" (UTC)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    posts_read: Mapped[int] = mapped_column(BigInteger, default=0)
    users_read: Mapped[int] = mapped_column(BigInteger, default=0)
    # Of those, the reads the estimate bills: on X a resource is billed once per
    # UTC day (billed_reads), so a re-read that day is not; elsewhere every read.
    posts_billed: Mapped[int] = mapped_column(BigInteger, default=0)
    users_billed: Mapped[int] = mapped_column(BigInteger, default=0)
    spend: Mapped[float] = mapped_column(Float, default=0.0)  # USD, at the prices configured when read
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BilledReadRow(Base):
    """A resource (post or user) an app read on one UTC day: X bills each
    once per day, so the spend estimate bills a read only when it adds a row
    here (listener/poller.py). Rows older than yesterday are pruned."""

    __tablename__ = "billed_reads"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)  # the app: one per platform
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # "2026-03-10" (UTC)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # post | user
    resource_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class AlertRow(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_priority", "status", "priority", "sla_due_at"),
        Index("ix_alerts_thread_author", "platform", "thread_id", "author_id", "status"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(String(64))
    author_handle: Mapped[str] = mapped_column(String(128))
    thread_id: Mapped[str | None] = mapped_column(String(64))
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"))  # the mention that opened it
    last_mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"))
    mention_count: Mapped[int] = mapped_column(Integer, default=1)
    rule: Mapped[str] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(4))
    priority_score: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | acknowledged | resolved | dismissed
    assignee: Mapped[str | None] = mapped_column(String(128))
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the first mention was posted
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when brandpulse opened it
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_mention_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The first reply to the customer message now awaited (see round): a reply
    # sent by brandpulse or written by hand on the platform.
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Which of the customer's messages awaits a first response: 1 the post that
    # opened the alert; 2, 3, … each time the customer wrote again after being
    # answered (rules/alerts.py). Earlier rounds are kept in alert_rounds.
    round: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    round_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # round 2+: when that post was written
    # Round 2+: that post's mentions.id (no foreign key: SQLite adds none to an existing table in place).
    round_mention_id: Mapped[int | None] = mapped_column(Id)
    # When the customer's post reopened the resolved alert for the message now
    # awaited (rules/alerts.py); None when the awaited message did not reopen it.
    reopened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    # What brandpulse wants the reader to know (e.g. a possible incident: the
    # top terms and the command that opens an incident).
    note: Mapped[str | None] = mapped_column(Text)


class AlertRoundRow(Base):
    """A customer message of an alert that was answered before the customer
    wrote again (rules/alerts.py): its first-response KPI stays here when the
    alert's clock restarts for the newer message."""

    __tablename__ = "alert_rounds"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1: the post that opened the alert
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id"))  # the post that started the round
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when that post was written
    priority: Mapped[str] = mapped_column(String(4))
    sla_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the customer's next message was written
    # When a person resolved the alert while this message was awaited (None: the
    # customer wrote again before anyone resolved it); the next message reopened it.
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlertMentionRow(Base):
    __tablename__ = "alert_mentions"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True)


class OutboxRow(Base):
    """A post brandpulse drafted or will send. Claimed by conditional update."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "created_at"),
        Index("ix_outbox_mention_id", "mention_id"),  # safeguards: earlier replies to an author
        Index("ix_outbox_account_sent", "platform", "account", "sent_at"),  # safeguards: caps
        # Posts brandpulse made, by platform id (reconciliation, hand replies); partial:
        # a draft has no platform id yet.
        Index("ix_outbox_posted", "platform", "external_id",
              sqlite_where=text("external_id IS NOT NULL"), postgresql_where=text("external_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="reply")  # reply | status | followup
    brand: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    in_reply_to: Mapped[str | None] = mapped_column(String(64))  # platform id of the post answered
    account: Mapped[str | None] = mapped_column(String(128))  # brand account that posts
    template: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    # drafted | approved | held | sending | sent | failed | rejected | unknown | manual
    status: Mapped[str] = mapped_column(String(16), default="drafted")
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=True)
    hold_reason: Mapped[str | None] = mapped_column(Text)
    # What held it, for machines: "template", or the safeguard's code (see outreach/safeguards.py).
    hold_code: Mapped[str | None] = mapped_column(String(32))
    # Safeguards a person waived for this reply (codes), see outreach.safeguards.waive.
    waived: Mapped[list[Any] | None] = mapped_column(JSON)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    external_id: Mapped[str | None] = mapped_column(String(64))
    external_url: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Incident posts (kind "status", "followup"): the incident they belong to; replies from the
    # incident reply template: the incident whose status link their text gives.
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    title: Mapped[str | None] = mapped_column(Text)  # Reddit submissions
    community: Mapped[str | None] = mapped_column(String(128))  # subreddit of a Reddit submission


class SendWaitRow(Base):
    """A platform's "not now" for one sender: after a rate limit (or another
    deferral) on a post, every post that goes out through the same identity
    waits until ``until`` (outreach/outbox.py). ``identity`` is the channel's
    rate-limit key (on X the access token's variable name: handles without a
    token of their own share the default account's); ``account`` is the
    account whose post got the answer, ``reason`` the platform's answer;
    ``accounts`` the accounts whose posts wait with it, as the sending
    process's channel knew them (bare lower-case handles, "" for posts naming
    no account; NULL for a wait recorded before migration 0010: only
    ``account``'s)."""

    __tablename__ = "send_waits"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    identity: Mapped[str] = mapped_column(String(128), primary_key=True)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    account: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accounts: Mapped[list[Any] | None] = mapped_column(JSON)


class OutreachControlRow(Base):
    """The kill switch: ``scope`` "*" pauses all sending, a brand id that brand's.
    The "*" row always exists (the migration creates it); claims lock it."""

    __tablename__ = "outreach_control"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    changed_by: Mapped[str | None] = mapped_column(String(128))
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OptOutRow(Base):
    """An author who asked the brand to stop replying: never replied to automatically again."""

    __tablename__ = "opt_outs"
    __table_args__ = (UniqueConstraint("brand", "platform", "author_id", name="uq_opt_outs_brand_platform_author"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str] = mapped_column(String(64))
    author_handle: Mapped[str] = mapped_column(String(128))
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id", ondelete="SET NULL"))
    word: Mapped[str] = mapped_column(String(128))  # the opt-out word or phrase found
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the author wrote it
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentRow(Base):
    """An incident, as on a status page: investigating → identified →
    monitoring → resolved. Its updates are posted as a thread on X and as a
    submission with comments on Reddit (rows of kind "status" in the outbox)."""

    __tablename__ = "incidents"
    __table_args__ = (Index("ix_incidents_brand_status", "brand", "status"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    brand: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    components: Mapped[list[Any]] = mapped_column(JSON, default=list)
    keywords: Mapped[list[Any]] = mapped_column(JSON, default=list)  # complaints matching these are linked
    status: Mapped[str] = mapped_column(String(16), default="investigating")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_by: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    # The first status post on each network, once it is posted: the link complainers are given.
    x_root_id: Mapped[str | None] = mapped_column(String(64))
    x_root_url: Mapped[str | None] = mapped_column(Text)
    reddit_root_id: Mapped[str | None] = mapped_column(String(64))
    reddit_root_url: Mapped[str | None] = mapped_column(Text)


class IncidentUpdateRow(Base):
    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class IncidentMentionRow(Base):
    """A complaint linked to an incident while it was open."""

    __tablename__ = "incident_mentions"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True, index=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"))
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # How it was linked: "opening" (an earlier complaint, when the incident was
    # opened), "arrival" (as it came in), "hand" (incident link); the keywords
    # it contained then. None on links made before migration 0007.
    how: Mapped[str | None] = mapped_column(String(16))
    keywords: Mapped[list[str] | None] = mapped_column(JSON)
    linked_by: Mapped[str | None] = mapped_column(String(128))  # who linked it by hand


class IncidentUnlinkRow(Base):
    """A complaint a person took out of an incident (``incident unlink``):
    never linked to that incident again automatically, only by hand."""

    __tablename__ = "incident_unlinks"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True, index=True)
    unlinked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    unlinked_by: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
