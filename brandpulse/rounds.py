"""Rounds of an alert: each message a customer writes after being answered
awaits a first response of its own (rules/alerts.py explains when a round
starts; outreach/hand_replies.py starts one when a reply by hand is read
after the customer's next post).

A round ends when the customer writes again after its first response, or
after a person resolved the alert (answered or not: the post then reopens
it); it is then kept as an ``alert_rounds`` row (with ``resolved_at`` when it
had been resolved) and the alert's clock restarts: ``round`` + 1,
``round_opened_at`` / ``round_mention_id`` = the new post,
``first_response_at`` cleared, ``sla_due_at`` = the post's time + the SLA of
the alert's priority.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from brandpulse.types import Priority

WROTE_AGAIN = "alert.wrote_again"
# The customer's post reopened a resolved alert (rules/alerts.py), by
# brandpulse; a person's `alerts reopen` is audited the same, by them.
REOPENED = "alert.reopened"


@dataclass(frozen=True, slots=True)
class Round:
    """The customer message an alert awaits (or awaited) a first response to."""

    number: int  # 1: the post that opened the alert
    mention_id: int
    opened_at: datetime  # when the customer wrote it
    priority: Priority
    sla_due_at: datetime
    first_response_at: datetime | None


def restart(current: Round, *, mention_id: int, posted_at: datetime, priority: Priority, sla: timedelta,
            reopening: bool = False, resolved_at: datetime | None = None,
            ) -> tuple[dict[str, Any], Round, dict[str, Any]]:
    """The customer wrote ``mention_id`` at ``posted_at`` after ``current``
    was answered, or after a person resolved the alert (``reopening``;
    ``resolved_at`` when, if known), answered or not. Returns the
    ``alert_rounds`` row that keeps ``current`` (without ``alert_id``), the new
    round (at ``priority``, due ``sla`` after the post) and the details of its
    audit event."""
    assert current.first_response_at is not None or reopening, "only an answered or resolved round ends"
    kept = {"round": current.number, "mention_id": current.mention_id, "opened_at": current.opened_at,
            "priority": current.priority.value, "sla_due_at": current.sla_due_at,
            "first_response_at": current.first_response_at, "closed_at": posted_at, "resolved_at": resolved_at}
    new = Round(current.number + 1, mention_id, posted_at, priority, posted_at + sla, None)
    answered = current.first_response_at.isoformat() if current.first_response_at else None
    details: dict[str, Any] = {"mention_id": mention_id, "round": new.number, "answered_at": answered}
    if reopening:
        details["resolved_at"] = resolved_at.isoformat() if resolved_at else None
    details.update({"from": current.priority.value, "to": priority.value, "sla_due_at": new.sla_due_at.isoformat()})
    return kept, new, details


def awaited_round(*, number: int, round_mention_id: int | None, round_opened_at: datetime | None,
                  first_mention_id: int, opened_at: datetime, priority: Priority, sla_due_at: datetime,
                  first_response_at: datetime | None) -> Round:
    """The round an alert awaits, from its columns (the inverse of
    :func:`alert_values`: round 1 is the alert's first post, whose time is the
    alert's ``opened_at``)."""
    return Round(number, round_mention_id if number > 1 else first_mention_id, round_opened_at or opened_at,
                 priority, sla_due_at, first_response_at)


def alert_values(r: Round, *, reopened_at: datetime | None = None) -> dict[str, Any]:
    """The alerts columns that describe the round ``r`` awaited (``reopened_at``:
    when its post reopened the resolved alert, None when it did not)."""
    return {"round": r.number, "round_opened_at": r.opened_at if r.number > 1 else None,
            "round_mention_id": r.mention_id if r.number > 1 else None, "priority": r.priority.value,
            "sla_due_at": r.sla_due_at, "first_response_at": r.first_response_at, "reopened_at": reopened_at}
