"""A resolved alert is reopened by its customer's next post in the thread
(rules/alerts.py): a new round with its own clock, or, for a post that crossed
the answer, the same round back in the inbox. A dismissed one never is. On
SQLite, and on PostgreSQL when the server answers (the pipeline-level test is
tests/test_cli_reopened.py)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from brandpulse.db.models import AlertRoundRow, AlertRow
from brandpulse.inbox import change_state
from outreach.kpis import compute_kpis
from tests.rules.test_alerts import NOW, T0, alert_row, apply, audit, decision  # noqa: F401 (apply: a fixture)


def _kpis(Session):
    with Session() as s:
        return compute_kpis(s, now=NOW, since=timedelta(days=1)).total


def _close(Session, alert_id, action, at) -> None:
    with Session.begin() as s:
        change_state(s, alert_id, action, actor="alice", now=at, note="done")


def test_a_resolved_alert_never_answered_is_reopened_by_the_next_post(any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="ana", thread_id="t1", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P3", 0.3))])
    alert_id = result[mid1]
    resolved = T0 - timedelta(minutes=200)  # sorted by phone: no reply on the platform
    _close(any_Session, alert_id, "resolve", resolved)
    # Two posts in one batch: the first reopens, the second joins its round.
    again = make_mention("the bag came back empty!!", handle="ana", thread_id="t1", minutes=-60)
    more = make_mention("hello??", handle="ana", thread_id="t1", minutes=-50)
    (mid2, mid3), result = apply(any_Session, [(more, decision("P4", 0.1)), (again, decision("P2", 0.5))])
    assert result == {mid2: alert_id, mid3: alert_id}
    alert = alert_row(any_Session, alert_id)
    assert (alert.status, alert.round, alert.round_mention_id, alert.mention_count) == ("open", 2, mid3, 3)
    assert (alert.priority, alert.sla_due_at) == ("P2", again.created_at + settings.sla_for("P2"))
    assert (alert.resolved_at, alert.resolution_note, alert.first_response_at, alert.reopened_at) == (
        None, None, None, NOW)
    with any_Session() as s:
        kept = s.scalars(select(AlertRoundRow)).one()
        assert (kept.round, kept.first_response_at, kept.resolved_at, kept.closed_at) == (
            1, None, resolved, again.created_at)
    actions = [a for a, _, _ in audit(any_Session, alert_id)]
    assert actions.count("alert.reopened") == 1 and "alert.wrote_again" not in actions
    details = audit(any_Session, alert_id)[-2][2] if actions[-1] == "alert.joined" else audit(any_Session, alert_id)[-1][2]
    assert details["answered_at"] is None and details["resolved_at"] == resolved.isoformat()

    # KPIs: unanswered first message, resolved 100 minutes after it; the reopening message is measured apart.
    total = _kpis(any_Session)
    assert (total.alerts, total.answered, total.resolved) == (1, 0, 1)
    assert total.resolution.mean == timedelta(minutes=100)
    assert (total.wrote_again, total.reopened, total.reopened_resolved) == (1, 1, 0)
    _close(any_Session, alert_id, "resolve", NOW)
    total = _kpis(any_Session)
    assert total.resolution.mean == timedelta(minutes=100)  # the first resolution stands
    assert (total.reopened_resolved, total.reopened_resolution.mean) == (1, NOW - again.created_at)


def test_a_post_that_crossed_the_answer_reopens_the_same_round(any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="jo", thread_id="t2", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P3", 0.3))])
    alert_id = result[mid1]
    answered = T0 - timedelta(minutes=200)
    with any_Session.begin() as s:
        s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(first_response_at=answered))
    _close(any_Session, alert_id, "resolve", T0 - timedelta(minutes=100))
    crossed = make_mention("anyone?? my bag!", handle="jo", thread_id="t2", minutes=-210)  # before the answer
    (mid2,), result = apply(any_Session, [(crossed, decision("P2", 0.5))])
    assert result[mid2] == alert_id
    alert = alert_row(any_Session, alert_id)
    assert (alert.status, alert.round, alert.first_response_at, alert.reopened_at) == ("open", 1, answered, NOW)
    assert alert.priority == "P2" and alert.resolved_at is None  # escalated as any join, answered still
    with any_Session() as s:
        assert s.scalar(select(func.count()).select_from(AlertRoundRow)) == 0
    action, _, details = [e for e in audit(any_Session, alert_id) if e[0] == "alert.reopened"][0]
    assert details == {"mention_id": mid2, "round": 1, "answered_at": answered.isoformat(),
                       "resolved_at": (T0 - timedelta(minutes=100)).isoformat(), "written_before_answer": True}


def test_the_newest_alert_decides_a_dismissed_one_is_not_reopened(any_Session, apply, make_mention):
    (m1,), r1 = apply(any_Session, [(make_mention("acme awful", handle="kim", thread_id="t3", minutes=-300),
                                     decision())])
    _close(any_Session, r1[m1], "resolve", T0 - timedelta(minutes=250))
    (m2,), r2 = apply(any_Session, [(make_mention("acme awful again", handle="kim", thread_id="t3", minutes=-200),
                                     decision())])
    assert r2[m2] == r1[m1]  # reopened
    _close(any_Session, r1[m1], "dismiss", T0 - timedelta(minutes=150))  # spam after all
    (m3,), r3 = apply(any_Session, [(make_mention("acme!!!", handle="kim", thread_id="t3", minutes=-100),
                                     decision())])
    assert r3[m3] != r1[m1]
    assert alert_row(any_Session, r1[m1]).status == "dismissed"
    assert alert_row(any_Session, r3[m3]).status == "open"
