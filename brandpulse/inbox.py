"""The alert inbox: what community managers do with alerts.

Every state change is a conditional UPDATE (so two managers cannot take the
same alert, and an alert cannot be resolved twice) plus an audit event with
who and when, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.db.models import AlertMentionRow, AlertRoundRow, AlertRow, MentionRow, OutboxRow, ScoreRow

OPEN_STATES = ("open", "acknowledged")
TRANSITIONS = {
    "ack": (("open",), "acknowledged"),
    "resolve": (("open", "acknowledged"), "resolved"),
    "dismiss": (("open", "acknowledged"), "dismissed"),
    "reopen": (("resolved", "dismissed"), "open"),
}


class InboxError(Exception):
    pass


_priority_rank = case(
    (AlertRow.priority == "P1", 1), (AlertRow.priority == "P2", 2), (AlertRow.priority == "P3", 3), else_=4
)


# An answered alert (its first reply went out; it waits only to be resolved) has no clock running: its
# deadline is the one its reply met, often long past, which must not put it before the tier's alerts
# still waiting for a reply.
_answered_last = case((AlertRow.first_response_at.is_(None), 0), else_=1)


def urgency_order():
    """Most important first: priority tier, then the alerts still waiting for
    a reply before the answered ones, then the earliest SLA deadline."""
    return (_priority_rank, _answered_last, AlertRow.sla_due_at, AlertRow.id)


def list_alerts(
    session: Session,
    *,
    statuses: Sequence[str] = OPEN_STATES,
    brand: str | None = None,
    assignee: str | None = None,
    limit: int = 50,
) -> list[AlertRow]:
    q = select(AlertRow).where(*_list_filter(statuses, brand, assignee))
    return list(session.scalars(q.order_by(*urgency_order()).limit(limit)))


def count_alerts(
    session: Session, *, statuses: Sequence[str] = OPEN_STATES, brand: str | None = None, assignee: str | None = None
) -> int:
    """How many alerts :func:`list_alerts` would list without its limit."""
    return session.scalar(select(func.count()).select_from(AlertRow).where(*_list_filter(statuses, brand, assignee)))


def _list_filter(statuses: Sequence[str], brand: str | None, assignee: str | None) -> list:
    where = [AlertRow.status.in_(statuses)]
    if brand:
        where.append(AlertRow.brand == brand)
    if assignee:
        where.append(AlertRow.assignee == assignee)
    return where


def get_alert(session: Session, alert_id: int) -> AlertRow:
    alert = session.get(AlertRow, alert_id)
    if alert is None:
        raise InboxError(f"no alert with id {alert_id}")
    return alert


def next_alert(session: Session, *, actor: str, now: datetime, brand: str | None = None) -> AlertRow | None:
    """Hand ``actor`` the most urgent open, unassigned alert and assign it.

    Claimed with a conditional UPDATE: if another manager took, resolved or
    dismissed it in the meantime, the next one is tried."""
    for _ in range(20):
        q = select(AlertRow.id).where(AlertRow.status == "open", AlertRow.assignee.is_(None))
        if brand:
            q = q.where(AlertRow.brand == brand)
        alert_id = session.scalar(q.order_by(*urgency_order()).limit(1))
        if alert_id is None:
            return None
        # Still open and unassigned: another manager may have taken it, or
        # resolved or dismissed it (which leaves no assignee), since the look-up.
        claimed = session.execute(
            update(AlertRow)
            .where(AlertRow.id == alert_id, AlertRow.status == "open", AlertRow.assignee.is_(None))
            .values(assignee=actor)
        ).rowcount
        if claimed == 1:
            audit.record(session, at=now, actor=actor, action="alert.assigned", entity_type="alert", entity_id=alert_id, details={"assignee": actor})
            session.flush()
            alert = session.get(AlertRow, alert_id)
            session.refresh(alert)
            return alert
    raise InboxError("could not claim an alert: too much contention, try again")


def change_state(session: Session, alert_id: int, action: str, *, actor: str, now: datetime, note: str | None = None) -> AlertRow:
    if action not in TRANSITIONS:
        raise InboxError(f"unknown action {action!r}")
    allowed_from, target = TRANSITIONS[action]
    values: dict = {"status": target}
    if action == "ack":
        values["acknowledged_at"] = now
        values["assignee"] = func.coalesce(AlertRow.assignee, actor)
    elif action in ("resolve", "dismiss"):
        values["resolved_at"] = now
        values["resolution_note"] = note
    elif action == "reopen":
        values.update(resolved_at=None, resolution_note=None)
    changed = session.execute(
        update(AlertRow).where(AlertRow.id == alert_id, AlertRow.status.in_(allowed_from)).values(**values)
    ).rowcount
    alert = get_alert(session, alert_id)
    if changed != 1:
        raise InboxError(f"alert {alert_id} is {_state(alert)}; '{action}' needs it to be {' or '.join(allowed_from)}")
    session.refresh(alert)
    # "alert.reopened", as when the customer's post reopens one (rules/alerts.py), not "alert.open",
    # which read like "alert.opened" in `alerts show`.
    audit.record(
        session, at=now, actor=actor, action="alert.reopened" if action == "reopen" else f"alert.{target}",
        entity_type="alert", entity_id=alert_id, details={"note": note} if note else None,
    )
    return alert


def _state(alert: AlertRow) -> str:
    """``acknowledged (assigned to alice)``, ``resolved 2026-03-10 09:40 UTC``: who has it, or since when it is closed."""
    text = alert.status
    if alert.status in ("resolved", "dismissed") and alert.resolved_at is not None:
        text += f" {alert.resolved_at:%Y-%m-%d %H:%M} UTC"
    if alert.assignee:
        text += f" (assigned to {alert.assignee})"
    return text


def assign(session: Session, alert_id: int, *, assignee: str | None, actor: str, now: datetime) -> AlertRow:
    alert = get_alert(session, alert_id)
    alert.assignee = assignee
    audit.record(session, at=now, actor=actor, action="alert.assigned", entity_type="alert", entity_id=alert_id, details={"assignee": assignee})
    return alert


@dataclass
class MentionView:
    mention: MentionRow
    label: str | None
    compound: float | None
    in_alert: bool


@dataclass
class AlertContext:
    alert: AlertRow
    mentions: list[MentionView]  # the alert's own mentions, oldest first
    thread: list[MentionView]  # every stored post of the thread (other authors too)
    author_history: list[MentionView]  # the author's other mentions of the alert's brand, on every network
    replies: list[OutboxRow]
    events: list
    # The customer's earlier messages that were answered before they wrote again, oldest first.
    rounds: list[AlertRoundRow] = field(default_factory=list)


def _views(session: Session, rows: Sequence[MentionRow], alert_mention_ids: set[int]) -> list[MentionView]:
    ids = [r.id for r in rows]
    scores: dict[int, ScoreRow] = {}
    if ids:
        for s in session.scalars(select(ScoreRow).where(ScoreRow.mention_id.in_(ids)).order_by(ScoreRow.scored_at)):
            scores[s.mention_id] = s  # the latest score wins
    return [
        MentionView(r, scores[r.id].label if r.id in scores else None, scores[r.id].compound if r.id in scores else None, r.id in alert_mention_ids)
        for r in rows
    ]


def alert_context(session: Session, alert_id: int, *, history_limit: int = 20) -> AlertContext:
    """Everything a manager needs so the customer never repeats themselves."""
    alert = get_alert(session, alert_id)
    own_ids = set(session.scalars(select(AlertMentionRow.mention_id).where(AlertMentionRow.alert_id == alert_id)))
    own_ids.add(alert.mention_id)
    own = list(session.scalars(select(MentionRow).where(MentionRow.id.in_(own_ids)).order_by(MentionRow.created_at)))
    thread: list[MentionRow] = []
    if alert.thread_id:
        thread = list(
            session.scalars(
                select(MentionRow)
                .where(
                    MentionRow.platform == alert.platform,
                    or_(MentionRow.thread_id == alert.thread_id, MentionRow.external_id == alert.thread_id),
                )
                .order_by(MentionRow.created_at)
            )
        )
    # The author's history about this brand: same account on this network, and the same handle on the
    # others; never another brand's posts (as in the digest).
    history = list(
        session.scalars(
            select(MentionRow)
            .where(
                MentionRow.id.not_in(own_ids),
                MentionRow.brand == alert.brand,
                or_(
                    and_(MentionRow.platform == alert.platform, MentionRow.author_id == alert.author_id),
                    and_(MentionRow.platform != alert.platform, func.lower(MentionRow.author_handle) == alert.author_handle.lower()),
                ),
            )
            .order_by(MentionRow.created_at.desc())
            .limit(history_limit)
        )
    )
    replies = list(session.scalars(select(OutboxRow).where(OutboxRow.alert_id == alert_id).order_by(OutboxRow.id)))
    return AlertContext(
        alert=alert,
        mentions=_views(session, own, own_ids),
        thread=_views(session, thread, own_ids),
        author_history=_views(session, history, own_ids),
        replies=replies,
        events=audit.history(session, "alert", alert_id),
        rounds=list(session.scalars(select(AlertRoundRow).where(AlertRoundRow.alert_id == alert_id)
                                    .order_by(AlertRoundRow.round))),
    )
