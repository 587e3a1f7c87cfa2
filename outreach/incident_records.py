"""Incidents: what every incident module shares.

The statuses and how a complaint was linked, :class:`IncidentError`, the
:class:`IncidentSnapshot` posts and replies are written from, and reading an
incident (:func:`get_incident`, :func:`current_snapshot`), a stored mention
(:func:`mention_from_row`) and our replies to its complaints
(:func:`replies_to`, :func:`linked_replies`), and withdrawing posts that have
not gone out (:func:`withdraw`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from brandpulse.db.models import IncidentMentionRow, IncidentRow, IncidentUpdateRow, MentionRow, OutboxRow
from brandpulse.types import Author, Mention

STATUSES = ("investigating", "identified", "monitoring", "resolved")
OPEN_STATUSES = STATUSES[:3]
CANCELLED = "cancelled"  # opened by mistake: withdrawn, not a step (cancel_incident)
ALL_STATUSES = (*STATUSES, CANCELLED)
STATUS_LABELS = {s: s.capitalize() for s in ALL_STATUSES}
TAG_PREFIX = "incident:"
AUDIT_ENTITY = "incident"
PENDING_REPLY_STATUSES = ("drafted", "held", "approved")
# A sender claimed it, or the platform's answer was lost: it may be posted already (reconciliation decides).
IN_FLIGHT_STATUSES = ("sending", "unknown")
# Earlier complaints are linked when opening only while their alert is still being worked on.
LINKABLE_ALERT_STATUSES = ("open", "acknowledged")
# How a complaint was linked (incident_mentions.how).
LINKED_AT_OPENING = "opening"  # posted before the incident, linked when it was opened
LINKED_ON_ARRIVAL = "arrival"  # linked by the pipeline as it came in
LINKED_BY_HAND = "hand"  # incident link


def incident_tag(incident_id: int) -> str:
    """The tag a linked complaint's mention and alert carry: ``incident:<id>``."""
    return f"{TAG_PREFIX}{incident_id}"


class IncidentError(Exception):
    """Something the person running the incident can fix: an unknown incident
    or brand, a step the lifecycle does not allow, a post that is too long."""


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    """The facts about an incident that posts and replies are written from."""

    id: int
    brand: str
    title: str
    status: str
    components: tuple[str, ...]
    keywords: tuple[str, ...]
    opened_at: datetime
    updated_at: datetime
    message: str | None = None  # the latest step's message
    x_root_url: str | None = None
    reddit_root_url: str | None = None

    @classmethod
    def of(cls, row: IncidentRow, *, message: str | None = None) -> "IncidentSnapshot":
        return cls(
            id=row.id, brand=row.brand, title=row.title, status=row.status,
            components=tuple(row.components or ()), keywords=tuple(row.keywords or ()),
            opened_at=row.opened_at, updated_at=row.updated_at, message=message,
            x_root_url=row.x_root_url, reddit_root_url=row.reddit_root_url,
        )


def get_incident(session: Session, incident_id: int) -> IncidentRow:
    row = session.get(IncidentRow, incident_id, populate_existing=True)
    if row is None:
        raise IncidentError(f"no incident with id {incident_id}")
    return row


def current_snapshot(session: Session, incident_id: int) -> IncidentSnapshot:
    """The incident as it is now, with its latest step's message (what replies see)."""
    row = get_incident(session, incident_id)
    message = session.scalar(
        select(IncidentUpdateRow.message).where(IncidentUpdateRow.incident_id == incident_id)
        .order_by(IncidentUpdateRow.id.desc()).limit(1)
    )
    return IncidentSnapshot.of(row, message=message)


def mention_from_row(row: MentionRow) -> Mention:
    return Mention(
        platform=row.platform, external_id=row.external_id, brand=row.brand,
        author=Author(platform=row.platform, id=row.author_id, handle=row.author_handle, name=row.author_name,
                      followers=row.author_followers or 0, verified=bool(row.author_verified)),
        text=row.text, created_at=row.created_at, lang=row.lang, url=row.url, thread_id=row.thread_id,
        reply_to_id=row.reply_to_id, quoted_id=row.quoted_id, title=row.title, community=row.community,
        addressed_handles=tuple(row.addressed_handles or ()),
    )


def replies_to(session: Session, *, mentions, alerts, statuses: Sequence[str] | None, template: str | None = None,
                lock: bool = False):
    """Our replies (kind reply) to these mentions or to these alerts (lists of
    ids, or SELECTs of them), each with the mention it answers; by sent_at;
    only those drafted from ``template`` when given.
    ``lock``: FOR UPDATE (PostgreSQL; SQLite serialises writers anyway), so no
    sender claims one before this transaction has re-drafted it: its
    conditional claim waits, then sees the new state."""
    query = (
        select(OutboxRow, MentionRow)
        .join(MentionRow, MentionRow.id == OutboxRow.mention_id)
        .where(OutboxRow.kind == "reply", or_(OutboxRow.mention_id.in_(mentions), OutboxRow.alert_id.in_(alerts)))
        .order_by(OutboxRow.sent_at, OutboxRow.id)
    )
    if statuses is not None:
        query = query.where(OutboxRow.status.in_(statuses))
    if template is not None:
        query = query.where(OutboxRow.template == template)
    if lock:
        query = query.with_for_update(of=OutboxRow)
    return session.execute(query).all()


def withdraw(session: Session, outbox_ids: Sequence[int], *, reason: str, incident_id: int, actor: str,
             now: datetime) -> list[dict[str, Any]]:
    """Reject these outbox rows (not gone out: they never will), in one
    UPDATE; their ``reply.rejected`` audit events, for the caller to record
    with its own."""
    if not outbox_ids:
        return []
    session.execute(update(OutboxRow).where(OutboxRow.id.in_(outbox_ids))
                    .values(status="rejected", updated_at=now).execution_options(synchronize_session=False))
    return [{"at": now, "actor": actor, "action": "reply.rejected", "entity_type": "outbox", "entity_id": i,
             "details": {"reason": reason, "incident_id": incident_id}} for i in outbox_ids]


def linked_replies(session: Session, incident_id: int, statuses: Sequence[str], *, template: str | None = None,
                    lock: bool = False):
    """Our replies (kind reply) to the incident's linked mentions or their alerts."""
    linked_mentions = select(IncidentMentionRow.mention_id).where(IncidentMentionRow.incident_id == incident_id)
    linked_alerts = select(IncidentMentionRow.alert_id).where(
        IncidentMentionRow.incident_id == incident_id, IncidentMentionRow.alert_id.is_not(None)
    )
    return replies_to(session, mentions=linked_mentions, alerts=linked_alerts, statuses=statuses, template=template,
                       lock=lock)
