"""`alerts next` on an alert another manager closes at the same moment: the
claim is conditional on the alert still being open, so a manager is never
handed (and assigned) an alert that was resolved or dismissed between the
look-up and the claim; they get the next open one. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, update

from brandpulse.db.models import AlertRow
from brandpulse.inbox import change_state, next_alert


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def Session(request, Session):  # noqa: F811 - this module's Session: SQLite's, then PostgreSQL's
    return Session if request.param == "sqlite" else request.getfixturevalue("pg_Session")


@pytest.mark.parametrize("closing", ["resolve", "dismiss"])
def test_an_alert_closed_between_the_look_up_and_the_claim_is_not_handed_out(Session, clock, make_mention,
                                                                             make_alert, closing):
    now = clock.now()
    mid, m = make_mention(text="lost my bag", handle="first", at=now - timedelta(hours=2), thread_id="a")
    urgent = make_alert(mid, m, priority="P1", sla_due_at=now - timedelta(hours=1))
    mid, m = make_mention(text="delayed again", handle="second", at=now - timedelta(hours=1), thread_id="b")
    later = make_alert(mid, m, priority="P2", sla_due_at=now + timedelta(hours=5))

    closed = []

    def close_first_before_the_claim(state):
        # Another manager closes the most urgent alert after this one looked it up, before it claims it.
        if state.is_update and not closed:
            with Session.begin() as other:
                change_state(other, urgent, closing, actor="bob", now=now, note="not a complaint")
            closed.append(urgent)

    with Session.begin() as s:
        event.listen(s, "do_orm_execute", close_first_before_the_claim)
        handed = next_alert(s, actor="alice", now=now)
        handed_id = handed.id if handed else None
    assert closed == [urgent]
    assert handed_id == later
    with Session() as s:
        closed_alert = s.get(AlertRow, urgent)
        assert closed_alert.status == ("resolved" if closing == "resolve" else "dismissed")
        assert closed_alert.assignee is None  # not assigned to alice after it was closed
        assert s.get(AlertRow, later).assignee == "alice"


def test_no_open_alert_left_after_the_race_hands_out_nothing(Session, clock, make_mention, make_alert):
    now = clock.now()
    mid, m = make_mention(text="lost my bag", handle="only", at=now - timedelta(hours=2), thread_id="a")
    only = make_alert(mid, m, priority="P1", sla_due_at=now - timedelta(hours=1))

    closed = []

    def close_before_the_claim(state):
        if state.is_update and not closed:
            with Session.begin() as other:
                other.execute(update(AlertRow).where(AlertRow.id == only).values(status="resolved", resolved_at=now))
            closed.append(only)

    with Session.begin() as s:
        event.listen(s, "do_orm_execute", close_before_the_claim)
        assert next_alert(s, actor="alice", now=now) is None
    assert closed == [only]
    with Session() as s:
        assert s.get(AlertRow, only).assignee is None
