"""The customer wrote again after being answered: the alert comes back with
a first-response clock of its own for the new message (a new round), the
priority recomputed, the first message's KPI kept (alert_rounds). A reply
written by hand late is credited to the round it answered. On SQLite, and on
PostgreSQL when the server answers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from brandpulse.db.models import AlertRoundRow, AlertRow
from brandpulse.inbox import change_state
from brandpulse.types import Author, Mention
from outreach.hand_replies import record_hand_replies
from outreach.kpis import compute_kpis, render_kpis_text
from rules.alerts import apply_decisions
from tests.rules.test_alerts import NOW, T0, alert_row, apply, audit, decision  # noqa: F401 (apply: a fixture)


def _answer(Session, alert_id, at) -> None:
    """The alert's current message was answered at ``at`` (as the outbox or a reply by hand records it)."""
    with Session.begin() as s:
        s.execute(update(AlertRow).where(AlertRow.id == alert_id).values(first_response_at=at))


def _rounds(Session, alert_id) -> list[tuple]:
    with Session() as s:
        return [(r.round, r.mention_id, r.opened_at, r.priority, r.sla_due_at, r.first_response_at, r.closed_at)
                for r in s.scalars(select(AlertRoundRow).where(AlertRoundRow.alert_id == alert_id)
                                   .order_by(AlertRoundRow.round))]


def _own_reply(external_id: str, to: Mention, *, at) -> Mention:
    """@AcmeHelp's reply written by hand on X to ``to``."""
    return Mention(platform="x", external_id=external_id, brand="acme",
                   author=Author("x", "id-acmehelp", "AcmeHelp"), text="@marisol so sorry, DM us",
                   created_at=at, thread_id=to.thread_id, reply_to_id=to.external_id)


def test_writing_again_after_an_answer_restarts_the_clock_and_keeps_the_first_answer(
        any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="marisol", thread_id="t1", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P3", 0.3))])
    alert_id = result[mid1]
    opened_due = alert_row(any_Session, alert_id).sla_due_at
    _answer(any_Session, alert_id, T0 - timedelta(minutes=270))  # answered 30 minutes after the post

    again = make_mention("still no bag, my medication is in it", handle="marisol", thread_id="t1", minutes=-60)
    (mid2,), result = apply(any_Session, [(again, decision("P2", 0.5))])
    assert result[mid2] == alert_id  # the same conversation, not a second alert
    alert = alert_row(any_Session, alert_id)
    assert (alert.round, alert.round_opened_at, alert.round_mention_id) == (2, again.created_at, mid2)
    assert alert.first_response_at is None  # this message is not answered
    assert (alert.priority, alert.priority_score) == ("P2", 0.5)  # the more urgent of the two
    assert alert.sla_due_at == again.created_at + settings.sla_for("P2")  # its own clock: 6h from its post
    assert alert.status == "open" and alert.mention_count == 2
    assert _rounds(any_Session, alert_id) == [
        (1, mid1, first.created_at, "P3", opened_due, T0 - timedelta(minutes=270), again.created_at)]
    action, actor, details = audit(any_Session, alert_id)[-1]
    assert (action, actor) == ("alert.wrote_again", "brandpulse")
    assert details == {"mention_id": mid2, "round": 2, "answered_at": (T0 - timedelta(minutes=270)).isoformat(),
                       "from": "P3", "to": "P2", "sla_due_at": alert.sla_due_at.isoformat()}

    # Before the next answer, further posts join this round: a milder one changes nothing but the count.
    (mid3,), _ = apply(any_Session, [(make_mention("hello??", handle="marisol", thread_id="t1", minutes=-30),
                                      decision("P4", 0.1))])
    later = alert_row(any_Session, alert_id)
    assert (later.round, later.priority, later.sla_due_at, later.mention_count) == (2, "P2", alert.sla_due_at, 3)
    assert len(_rounds(any_Session, alert_id)) == 1


def test_an_escalation_in_a_later_round_is_due_from_that_rounds_post(any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="ines", thread_id="t5", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P3", 0.3))])
    alert_id = result[mid1]
    _answer(any_Session, alert_id, T0 - timedelta(minutes=270))
    again = make_mention("still no bag", handle="ines", thread_id="t5", minutes=-60)
    apply(any_Session, [(again, decision("P2", 0.5))])
    urgent = make_mention("my insulin is in that bag!!", handle="ines", thread_id="t5", minutes=-30)
    apply(any_Session, [(urgent, decision("P1", 0.9))])
    alert = alert_row(any_Session, alert_id)
    assert (alert.round, alert.priority) == (2, "P1")
    # the round's clock (its post, 60 minutes ago), not the alert's first post 300 minutes ago
    assert alert.sla_due_at == again.created_at + settings.sla_for("P1")
    assert [a for a, _, _ in audit(any_Session, alert_id)][-1] == "alert.escalated"


def test_a_milder_message_keeps_the_priority_and_a_crossed_one_just_joins(any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag, furious", handle="jo", thread_id="t2", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P2", 0.5))])
    alert_id = result[mid1]
    _answer(any_Session, alert_id, T0 - timedelta(minutes=200))
    crossed = make_mention("anyone there?", handle="jo", thread_id="t2", minutes=-210)  # written before the answer
    apply(any_Session, [(crossed, decision("P3", 0.3))])
    assert alert_row(any_Session, alert_id).round == 1  # answered: it crossed the answer
    mild = make_mention("ok sent the DM", handle="jo", thread_id="t2", minutes=-100)
    apply(any_Session, [(mild, decision("P4", 0.1))])
    alert = alert_row(any_Session, alert_id)
    assert (alert.round, alert.priority, alert.priority_score) == (2, "P2", 0.5)  # never lowered
    assert alert.sla_due_at == mild.created_at + settings.sla_for("P2")


def test_kpis_measure_each_message_and_a_late_hand_reply_credits_the_round_it_answered(
        Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="marisol", thread_id="t1", minutes=-300)
    (mid1,), result = apply(Session, [(first, decision("P3", 0.3))])
    alert_id = result[mid1]
    _answer(Session, alert_id, first.created_at + timedelta(hours=2))  # a reply brandpulse sent
    again = make_mention("still nothing", handle="marisol", thread_id="t1", minutes=-60)
    apply(Session, [(again, decision("P3", 0.3))])

    # The team's reply by hand to the first post, written 30 minutes after it, is read only now.
    with Session.begin() as s:
        assert record_hand_replies(s, [_own_reply("h1", first, at=first.created_at + timedelta(minutes=30))],
                                   now=NOW) == [alert_id]
    assert _rounds(Session, alert_id)[0][5] == first.created_at + timedelta(minutes=30)  # round 1, earlier
    assert alert_row(Session, alert_id).first_response_at is None  # the new message is still not answered

    report = compute_kpis(Session(), now=NOW, since=timedelta(days=1))
    total = report.total
    assert (total.alerts, total.answered, total.first_response.mean) == (1, 1, timedelta(minutes=30))
    assert (total.wrote_again, total.wrote_again_answered, total.wrote_again_response.count) == (1, 0, 0)
    one_hour = total.within[0]
    assert (one_hour.answered, one_hour.eligible) == (1, 1)  # the first message's KPI, unchanged

    # The hand reply to the new message answers its round.
    with Session.begin() as s:
        record_hand_replies(s, [_own_reply("h2", again, at=again.created_at + timedelta(minutes=20))], now=NOW)
    assert alert_row(Session, alert_id).first_response_at == again.created_at + timedelta(minutes=20)
    total = compute_kpis(Session(), now=NOW, since=timedelta(days=1)).total
    assert (total.first_response.mean, total.wrote_again, total.wrote_again_answered) == (timedelta(minutes=30), 1, 1)
    assert total.wrote_again_response.mean == timedelta(minutes=20)
    text = render_kpis_text(compute_kpis(Session(), now=NOW, since=timedelta(days=1)))
    assert "wrote again" in text and "20m / 20m / 20m" in text
    data = compute_kpis(Session(), now=NOW, since=timedelta(days=1)).to_dict()["groups"][-1]["wrote_again"]
    assert data == {"messages": 1, "answered": 1,
                    "first_response_seconds": {"count": 1, "mean": 1200.0, "median": 1200.0, "p90": 1200.0}}


def test_a_hand_reply_read_after_the_customers_next_post_still_restarts_the_clock(
        any_Session, apply, settings, make_mention):
    first = make_mention("acme lost my bag", handle="marisol", thread_id="t1", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P2", 0.5))])
    alert_id = result[mid1]
    again = make_mention("still nothing", handle="marisol", thread_id="t1", minutes=-60)
    (mid2,), _ = apply(any_Session, [(again, decision("P3", 0.3))])
    assert alert_row(any_Session, alert_id).round == 1  # nobody had answered (as far as brandpulse knew)
    replied = first.created_at + timedelta(minutes=40)  # by hand on X, before the customer's second post
    with any_Session.begin() as s:
        record_hand_replies(s, [_own_reply("h1", first, at=replied)], now=NOW, settings=settings)
    alert = alert_row(any_Session, alert_id)
    assert (alert.round, alert.round_mention_id, alert.round_opened_at) == (2, mid2, again.created_at)
    assert alert.first_response_at is None and alert.priority == "P2"
    assert alert.sla_due_at == again.created_at + settings.sla_for("P2")
    assert [r[:2] + r[5:] for r in _rounds(any_Session, alert_id)] == [(1, mid1, replied, again.created_at)]
    assert [a for a, _, _ in audit(any_Session, alert_id)][-2:] == ["alert.answered_on_platform", "alert.wrote_again"]


@pytest.mark.postgres
def test_a_post_read_while_a_person_resolves_the_alert_reopens_it_after_they_commit(
        pg_Session, settings, store_mention, make_mention):
    """The poller reads the customer's open alert while `alerts resolve` is
    committing: it waits for the person's row lock, then reads the alert as
    resolved and reopens it for the new message (round 2, its own clock), the
    person's resolution kept in round 1; it never writes into the alert as if
    it were still open, and no second alert opens."""
    first = make_mention("acme lost my bag", handle="marisol", thread_id="t1", minutes=-300)
    with pg_Session.begin() as s:
        mid1 = store_mention(s, first)
        alert_id = apply_decisions(s, [(mid1, first, decision("P3", 0.3))], settings=settings, now=NOW)[mid1]
    _answer(pg_Session, alert_id, T0 - timedelta(minutes=270))
    again = make_mention("still no bag, I'm switching airlines", handle="marisol", thread_id="t1", minutes=-60)
    with pg_Session.begin() as s:
        mid2 = store_mention(s, again)

    person = pg_Session()
    change_state(person, alert_id, "resolve", actor="ops-max", now=NOW, note="bag delivered")  # not committed yet
    result: dict = {}

    def poll() -> None:
        with pg_Session.begin() as s:
            result.update(apply_decisions(s, [(mid2, again, decision("P2", 0.5))], settings=settings, now=NOW))

    poller = threading.Thread(target=poll)
    poller.start()
    with pg_Session() as watch:  # until the poller waits for the person's row lock
        person_pid = person.execute(text("SELECT pg_backend_pid()")).scalar_one()
        while not watch.execute(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                                     " AND :pid = ANY(pg_blocking_pids(pid))"), {"pid": person_pid}).scalar_one():
            assert poller.is_alive(), "the poller did not wait for the person's change"
            watch.rollback()
            threading.Event().wait(0.01)
    person.commit()
    person.close()
    poller.join()

    alert = alert_row(pg_Session, alert_id)
    assert result[mid2] == alert_id
    assert (alert.status, alert.round, alert.round_mention_id, alert.mention_count) == ("open", 2, mid2, 2)
    assert (alert.resolved_at, alert.resolution_note, alert.first_response_at) == (None, None, None)
    assert alert.sla_due_at == again.created_at + settings.sla_for("P2")
    assert _rounds(pg_Session, alert_id) == [
        (1, mid1, first.created_at, "P3", first.created_at + settings.sla_for("P3"), T0 - timedelta(minutes=270),
         again.created_at)]
    with pg_Session() as s:
        assert s.scalar(select(AlertRoundRow.resolved_at)) == NOW  # the person's resolution, kept for the KPIs
        assert s.scalar(select(func.count()).select_from(AlertRow)) == 1
    assert [a for a, _, _ in audit(pg_Session, alert_id)][-3:] == ["alert.resolved", "alert.joined", "alert.reopened"]


def test_a_late_hand_reply_credits_a_resolved_alert_without_bringing_it_back(
        any_Session, apply, settings, make_mention):
    """A person resolved the alert; the team's reply by hand, written before
    the customer's second post, is read only afterwards: it is the alert's
    first response, and the resolved alert stays as the person left it (no
    new round, no clock): the customer's post was already in the alert when
    the person resolved it (only a post read after the resolution reopens it)."""
    first = make_mention("acme lost my bag", handle="marisol", thread_id="t1", minutes=-300)
    (mid1,), result = apply(any_Session, [(first, decision("P2", 0.5))])
    alert_id = result[mid1]
    apply(any_Session, [(make_mention("still nothing", handle="marisol", thread_id="t1", minutes=-60),
                         decision("P3", 0.3))])
    with any_Session.begin() as s:
        change_state(s, alert_id, "resolve", actor="ops-max", now=NOW, note="sorted by DM")
    before = alert_row(any_Session, alert_id)
    replied = first.created_at + timedelta(minutes=40)
    with any_Session.begin() as s:
        assert record_hand_replies(s, [_own_reply("h1", first, at=replied)], now=NOW, settings=settings) == [alert_id]
    alert = alert_row(any_Session, alert_id)
    assert (alert.status, alert.round, alert.first_response_at) == ("resolved", 1, replied)
    assert (alert.priority, alert.sla_due_at) == (before.priority, before.sla_due_at)
    assert _rounds(any_Session, alert_id) == []
    assert "alert.wrote_again" not in [a for a, _, _ in audit(any_Session, alert_id)]
