"""Opening, grouping and escalating alerts, with their audit trail. On the
shared SQLite fixture, and the core scenarios also on PostgreSQL when the
server at 127.0.0.1:5432 answers (in a schema of their own, dropped after)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from brandpulse.audit import SYSTEM, history
from brandpulse.db import session_factory
from brandpulse.db.models import AlertMentionRow, AlertRow, AuditRow
from brandpulse.types import AlertDecision, Decision, Priority
from rules.alerts import _KEYS_PER_SELECT, apply_decisions
from rules.engine import RuleEngine
from outreach.kpis import compute_kpis

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)  # tests/conftest.py's T0

NOW = T0 + timedelta(minutes=30)


def decision(priority: str = "P3", score: float = 0.3, *, rule: str = "complaint", tags=("complaint",)) -> Decision:
    return Decision(
        matched=(rule,), alert=AlertDecision(rule, Priority(priority), score), draft_template="apology", tags=tuple(tags)
    )


@pytest.fixture
def apply(settings, store_mention):
    """Store the mentions, apply their decisions in one transaction, commit;
    return (mention row ids, {mention id: alert id})."""

    def run(Session, pairs, *, now=NOW):
        with Session() as session:
            items = [(store_mention(session, m), m, d) for m, d in pairs]
            result = apply_decisions(session, items, settings=settings, now=now)
            session.commit()
        return [i for i, _, _ in items], result

    return run


def alert_row(Session, alert_id) -> AlertRow:
    with Session() as session:
        return session.get(AlertRow, alert_id)


def alert_mentions(Session, alert_id) -> list[int]:
    with Session() as session:
        return list(
            session.scalars(
                select(AlertMentionRow.mention_id).where(AlertMentionRow.alert_id == alert_id).order_by(AlertMentionRow.mention_id)
            )
        )


def audit(Session, alert_id) -> list[tuple[str, str, dict]]:
    with Session() as session:
        return [(e.action, e.actor, e.details) for e in history(session, "alert", alert_id)]


def count(Session, model) -> int:
    with Session() as session:
        return session.scalar(select(func.count()).select_from(model))


# -- opening ---------------------------------------------------------------


def test_opens_an_alert_with_every_field(any_Session, apply, settings, make_mention):
    m = make_mention("acme lost my bag", handle="Jo", author_id="u1", thread_id="t1", minutes=-20)
    (mid,), result = apply(any_Session, [(m, decision("P2", 0.5, tags=("complaint", "baggage")))])
    alert = alert_row(any_Session, result[mid])
    assert (alert.brand, alert.platform, alert.author_id, alert.author_handle, alert.thread_id) == (
        "acme", "x", "u1", "Jo", "t1",
    )
    assert (alert.mention_id, alert.last_mention_id, alert.mention_count) == (mid, mid, 1)
    assert (alert.rule, alert.priority, alert.priority_score, alert.status) == ("complaint", "P2", 0.5, "open")
    assert alert.tags == ["complaint", "baggage"]
    assert alert.opened_at == m.created_at == alert.last_mention_at
    assert alert.created_at == NOW
    # the customer's clock starts when they post: P2 is 6 h after the post, not after NOW
    assert alert.sla_due_at == m.created_at + settings.sla_for("P2") == T0 - timedelta(minutes=20) + timedelta(hours=6)
    assert alert_mentions(any_Session, alert.id) == [mid]
    assert audit(any_Session, alert.id) == [
        ("alert.opened", SYSTEM, {"rule": "complaint", "priority": "P2", "priority_score": 0.5, "mention_id": mid})
    ]
    with any_Session() as session:
        assert session.scalar(select(AuditRow.at)) == NOW


def test_top_tier_sla_defaults_to_one_hour(Session, apply, make_mention):
    (mid,), result = apply(Session, [(make_mention(thread_id="t"), decision("P1", 0.9))])
    alert = alert_row(Session, result[mid])
    assert alert.sla_due_at - alert.opened_at == timedelta(hours=1)


def test_configured_sla(config_dict, tmp_path, store_mention, make_mention):
    from brandpulse.config import parse_settings
    from brandpulse.db import make_engine as _make, upgrade

    config_dict["sla"] = {"P3": "90m"}
    settings = parse_settings(config_dict, path=tmp_path / "b.yaml")
    eng = _make(f"sqlite:///{tmp_path / 'sla.db'}")
    upgrade(eng)
    with session_factory(eng)() as session:
        m = make_mention(thread_id="t")
        mid = store_mention(session, m)
        alert_id = apply_decisions(session, [(mid, m, decision("P3"))], settings=settings, now=NOW)[mid]
        assert session.get(AlertRow, alert_id).sla_due_at == m.created_at + timedelta(minutes=90)
    eng.dispose()


def test_items_without_alert_are_left_alone(Session, apply, make_mention):
    ids, result = apply(
        Session,
        [
            (make_mention(thread_id="t1"), Decision()),
            (make_mention(thread_id="t2"), Decision(matched=("praise",), draft_template="thanks", tags=("praise",))),
            (make_mention(thread_id="t3"), decision()),
        ],
    )
    assert list(result) == [ids[2]]
    assert count(Session, AlertRow) == 1
    with Session() as session:
        assert apply_decisions(session, [], settings=None, now=NOW) == {}


# -- grouping --------------------------------------------------------------


def test_same_batch_mentions_of_one_author_and_thread_make_one_alert(any_Session, apply, make_mention):
    first = make_mention("bag lost", author_id="u1", thread_id="t1", minutes=0)
    second = make_mention("still no bag", author_id="u1", thread_id="t1", minutes=5)
    # delivered newest first (as X pages are): the earliest still opens the alert
    (id2, id1), result = apply(any_Session, [(second, decision()), (first, decision())])
    assert result[id1] == result[id2]
    alert = alert_row(any_Session, result[id1])
    assert alert.mention_count == 2
    assert (alert.mention_id, alert.last_mention_id) == (id1, id2)
    assert alert.opened_at == first.created_at and alert.last_mention_at == second.created_at
    assert alert_mentions(any_Session, alert.id) == sorted([id1, id2])
    assert [a for a, _, _ in audit(any_Session, alert.id)] == ["alert.opened", "alert.joined"]
    assert audit(any_Session, alert.id)[1][2] == {"mention_id": id2, "mention_count": 2}
    assert count(any_Session, AlertRow) == 1


def test_later_mentions_join_an_open_or_acknowledged_alert(Session, apply, make_mention):
    (m1,), r1 = apply(Session, [(make_mention(author_id="u1", thread_id="t1"), decision())])
    alert_id = r1[m1]
    (m2,), r2 = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=10), decision())])
    assert r2 == {m2: alert_id}
    with Session() as session:
        session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(status="acknowledged"))
        session.commit()
    (m3,), r3 = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=20), decision())])
    assert r3 == {m3: alert_id}
    alert = alert_row(Session, alert_id)
    assert alert.mention_count == 3 and alert.last_mention_id == m3 and alert.status == "acknowledged"
    assert alert.last_mention_at == T0 + timedelta(minutes=20)
    assert alert_mentions(Session, alert_id) == [m1, m2, m3]
    assert count(Session, AlertRow) == 1


def test_dismissed_alerts_are_not_joined(Session, apply, make_mention):
    """A dismissed alert (not a complaint, spam) is never reopened by a post:
    the author's next alert-worthy post opens an alert of its own (a resolved
    one is reopened: tests/rules/test_alert_reopen.py)."""
    (m1,), r1 = apply(Session, [(make_mention(author_id="u1", thread_id="t1"), decision())])
    with Session() as session:
        session.execute(update(AlertRow).where(AlertRow.id == r1[m1]).values(status="dismissed", resolved_at=NOW))
        session.commit()
    (m2,), r2 = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=10), decision())])
    assert r2[m2] != r1[m1]
    assert alert_row(Session, r2[m2]).mention_count == 1
    assert (alert_row(Session, r1[m1]).mention_count, alert_row(Session, r1[m1]).status) == (1, "dismissed")


def test_different_author_thread_brand_or_platform_open_separate_alerts(
    config_dict, tmp_path, engine, store_mention, make_mention
):
    from brandpulse.config import parse_settings

    config_dict["brands"].append({"id": "zenith", "name": "Zenith Rail"})
    settings = parse_settings(config_dict, path=tmp_path / "b.yaml")
    Session = session_factory(engine)
    base = dict(author_id="u1", thread_id="t1")
    mentions = [
        make_mention(**base),
        make_mention(author_id="u2", thread_id="t1"),
        make_mention(author_id="u1", thread_id="t2"),
        make_mention(**base, brand="zenith"),
        make_mention(**base, platform="reddit"),
    ]
    with Session() as session:
        items = [(store_mention(session, m), m, decision()) for m in mentions]
        result = apply_decisions(session, items, settings=settings, now=NOW)
        session.commit()
    assert len(set(result.values())) == 5
    # a later mention of the first author in the first thread finds its own alert among them
    later = make_mention(**base, minutes=3)
    with Session() as session:
        mid = store_mention(session, later)
        joined = apply_decisions(session, [(mid, later, decision())], settings=settings, now=NOW)
        session.commit()
    assert joined == {mid: result[items[0][0]]}


def test_mentions_without_a_thread_never_join(Session, apply, make_mention):
    a = make_mention("no thread 1", author_id="u1", thread_id=None)
    b = make_mention("no thread 2", author_id="u1", thread_id=None, minutes=1)
    (ia, ib), r = apply(Session, [(a, decision()), (b, decision())])
    (ic,), r2 = apply(Session, [(make_mention("no thread 3", author_id="u1", thread_id=None, minutes=2), decision())])
    assert len({r[ia], r[ib], r2[ic]}) == 3


def test_duplicate_items_in_a_batch_are_taken_once(Session, settings, store_mention, make_mention):
    m = make_mention(thread_id="t1")
    with Session() as session:
        mid = store_mention(session, m)
        result = apply_decisions(session, [(mid, m, decision()), (mid, m, decision())], settings=settings, now=NOW)
        session.commit()
    assert alert_row(Session, result[mid]).mention_count == 1


# -- escalation --------------------------------------------------------------


def test_more_urgent_mention_escalates_the_open_alert(any_Session, apply, settings, make_mention):
    opened = make_mention("bag late", author_id="u1", thread_id="t1", minutes=0)
    (m1,), r1 = apply(any_Session, [(opened, decision("P3", 0.3))])
    alert_id = r1[m1]
    assert alert_row(any_Session, alert_id).sla_due_at == opened.created_at + timedelta(hours=24)

    angry = make_mention("STRANDED, nobody answers", author_id="u1", thread_id="t1", minutes=40)
    (m2,), r2 = apply(any_Session, [(angry, decision("P1", 0.8, rule="urgent", tags=("urgent",)))])
    assert r2 == {m2: alert_id}
    alert = alert_row(any_Session, alert_id)
    assert (alert.priority, alert.priority_score, alert.mention_count) == ("P1", 0.8, 2)
    # the deadline is counted from the first post: opened_at + 1 h, earlier than the P3 deadline
    assert alert.sla_due_at == opened.created_at + timedelta(hours=1)
    assert alert.rule == "complaint"  # the alert keeps the rule that opened it
    assert alert.tags == ["complaint", "urgent"]
    events = audit(any_Session, alert_id)
    assert [e[0] for e in events] == ["alert.opened", "alert.joined", "alert.escalated"]
    assert events[2][2] == {
        "from": "P3",
        "to": "P1",
        "mention_id": m2,
        "sla_due_at": (opened.created_at + timedelta(hours=1)).isoformat(),
    }


def test_escalation_never_moves_the_deadline_later(config_dict, tmp_path, Session, store_mention, make_mention):
    """With SLAs configured so the more urgent tier allows *more* time, an
    escalation changes the tier but keeps the earlier deadline."""
    from brandpulse.config import parse_settings

    config_dict["sla"] = {"P3": "100h", "P4": "72h"}
    settings = parse_settings(config_dict, path=tmp_path / "b.yaml")
    opened = make_mention(author_id="u1", thread_id="t1")
    later = make_mention(author_id="u1", thread_id="t1", minutes=5)
    with Session() as session:
        i1 = store_mention(session, opened)
        alert_id = apply_decisions(session, [(i1, opened, decision("P4", 0.1))], settings=settings, now=NOW)[i1]
        i2 = store_mention(session, later)
        apply_decisions(session, [(i2, later, decision("P3", 0.3))], settings=settings, now=NOW)
        session.commit()
    alert = alert_row(Session, alert_id)
    assert alert.priority == "P3"
    assert alert.sla_due_at == opened.created_at + timedelta(hours=72)
    assert audit(Session, alert_id)[-1][2]["sla_due_at"] == (opened.created_at + timedelta(hours=72)).isoformat()


def test_less_urgent_mention_does_not_downgrade(Session, apply, make_mention):
    (m1,), r1 = apply(Session, [(make_mention(author_id="u1", thread_id="t1"), decision("P1", 0.9))])
    before = alert_row(Session, r1[m1])
    (m2,), _ = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=5), decision("P4", 0.05))])
    after = alert_row(Session, r1[m1])
    assert (after.priority, after.priority_score, after.sla_due_at) == ("P1", 0.9, before.sla_due_at)
    assert after.mention_count == 2
    assert [e[0] for e in audit(Session, r1[m1])] == ["alert.opened", "alert.joined"]


def test_higher_score_in_same_tier_raises_the_score(Session, apply, make_mention):
    (m1,), r1 = apply(Session, [(make_mention(author_id="u1", thread_id="t1"), decision("P3", 0.3))])
    apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=5), decision("P3", 0.4))])
    alert = alert_row(Session, r1[m1])
    assert (alert.priority, alert.priority_score) == ("P3", 0.4)
    assert [e[0] for e in audit(Session, r1[m1])] == ["alert.opened", "alert.joined"]


def test_same_batch_escalation(Session, apply, make_mention):
    first = make_mention(author_id="u1", thread_id="t1", minutes=0)
    second = make_mention(author_id="u1", thread_id="t1", minutes=10)
    (i1, i2), r = apply(Session, [(first, decision("P4", 0.1)), (second, decision("P2", 0.5))])
    alert = alert_row(Session, r[i1])
    assert r[i2] == alert.id
    assert (alert.priority, alert.priority_score, alert.mention_count) == ("P2", 0.5, 2)
    assert alert.sla_due_at == first.created_at + timedelta(hours=6)
    events = audit(Session, alert.id)
    assert [e[0] for e in events] == ["alert.opened", "alert.joined", "alert.escalated"]
    assert events[0][2]["priority"] == "P4"  # the trail shows what it was opened as


def test_an_older_mention_arriving_late_does_not_become_the_last(Session, apply, make_mention):
    (m1,), r1 = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=30), decision())])
    (m0,), _ = apply(Session, [(make_mention(author_id="u1", thread_id="t1", minutes=10), decision())])
    alert = alert_row(Session, r1[m1])
    assert alert.mention_count == 2
    assert (alert.last_mention_id, alert.last_mention_at) == (m1, T0 + timedelta(minutes=30))


def test_an_earlier_post_read_late_starts_the_clock_at_the_customer_s_first_post(any_Session, apply, make_mention):
    """Two sources, one behind (a rate limit, a slower poll): the customer's
    10:30 follow-up is read first and opens the alert; their 09:00 post, read
    later, joins it. Their clock started at 09:00: the deadline and the KPIs
    count from there, not from 10:30."""
    follow_up = make_mention("@AcmeHelp still nothing, flight tonight", author_id="u1", thread_id="t1", minutes=90)
    (m1,), r1 = apply(any_Session, [(follow_up, decision("P1", 0.7))], now=T0 + timedelta(minutes=95))
    alert_id = r1[m1]
    first = make_mention("acme air lost my bag", author_id="u1", thread_id="t1", minutes=0)
    (m0,), r0 = apply(any_Session, [(first, decision("P2", 0.5))], now=T0 + timedelta(minutes=120))
    assert r0 == {m0: alert_id}
    alert = alert_row(any_Session, alert_id)
    assert alert.opened_at == first.created_at
    assert alert.sla_due_at == first.created_at + timedelta(hours=1)  # P1 from 09:00: overdue, not due 11:30
    assert (alert.mention_id, alert.last_mention_id, alert.mention_count) == (m1, m1, 2)
    assert audit(any_Session, alert_id)[-1] == (
        "alert.joined", SYSTEM, {"mention_id": m0, "mention_count": 2, "opened_at": first.created_at.isoformat()})
    # Answered meanwhile: the first-response time (KPIs) counts from the first post too.
    with any_Session.begin() as session:
        session.execute(update(AlertRow).where(AlertRow.id == alert_id)
                        .values(first_response_at=T0 + timedelta(minutes=130)))
    earliest = make_mention("acme air, where is my bag?", author_id="u1", thread_id="t1", minutes=-30)
    apply(any_Session, [(earliest, decision("P3", 0.3))], now=T0 + timedelta(minutes=140))
    alert = alert_row(any_Session, alert_id)
    assert alert.opened_at == earliest.created_at and alert.sla_due_at == earliest.created_at + timedelta(hours=1)
    with any_Session() as session:
        total = compute_kpis(session, now=T0 + timedelta(minutes=140), since=timedelta(days=1)).total
    assert total.first_response.mean == timedelta(minutes=160)  # 08:30 -> 11:10, not 10:30 -> 11:10


# -- batches and transactions ------------------------------------------------


def test_large_batch_mixes_opens_and_joins(any_Session, apply, make_mention):
    """More keys than one SELECT takes: every existing alert is still found."""
    n = _KEYS_PER_SELECT + 50
    first = [(make_mention(author_id=f"u{i}", thread_id=f"t{i}"), decision()) for i in range(n)]
    ids1, r1 = apply(any_Session, first)
    second = [(make_mention(author_id=f"u{i}", thread_id=f"t{i}", minutes=1), decision()) for i in range(n)]
    second += [(make_mention(author_id=f"new{i}", thread_id=f"t{i}", minutes=1), decision()) for i in range(20)]
    ids2, r2 = apply(any_Session, second)
    assert len(set(r1.values())) == n
    assert [r2[i] for i in ids2[:n]] == [r1[i] for i in ids1]  # joined, in order
    assert len(set(r2[i] for i in ids2[n:])) == 20 and not set(r2[i] for i in ids2[n:]) & set(r1.values())
    assert count(any_Session, AlertRow) == n + 20
    assert count(any_Session, AlertMentionRow) == 2 * n + 20
    with any_Session() as session:
        assert set(session.scalars(select(AlertRow.mention_count).where(AlertRow.id.in_(r1.values())))) == {2}
        assert session.scalar(select(func.count()).select_from(AuditRow)) == n + n + 20


def test_nothing_is_committed_by_apply_decisions(Session, settings, store_mention, make_mention):
    with Session() as session:
        m = make_mention(thread_id="t1")
        mid = store_mention(session, m)
        apply_decisions(session, [(mid, m, decision())], settings=settings, now=NOW)
        session.rollback()
    assert count(Session, AlertRow) == 0
    assert count(Session, AlertMentionRow) == 0
    assert count(Session, AuditRow) == 0


def test_with_the_rule_engine(Session, settings, store_mention, make_mention, make_score):
    """The engine's decisions feed apply_decisions; the brand's own reply
    in the thread opens nothing."""
    engine = RuleEngine(settings)
    posts = [
        (make_mention("@AcmeAir lost my bag", author_id="u1", thread_id="t1", minutes=0), make_score(-0.6)),
        (make_mention("@jo sorry! DM us", handle="AcmeHelp", author_id="acme", thread_id="t1", minutes=2), make_score(-0.1)),
        (make_mention("still nothing, STRANDED at JFK!!!", author_id="u1", thread_id="t1", minutes=9), make_score(-0.8)),
        (make_mention("great crew today", author_id="u2", thread_id="t2", minutes=3), make_score(0.8)),
    ]
    with Session() as session:
        items = [(store_mention(session, m), m, engine.evaluate(m, s)) for m, s in posts]
        result = apply_decisions(session, items, settings=settings, now=NOW)
        session.commit()
    assert set(result) == {items[0][0], items[2][0]}
    alert = alert_row(Session, result[items[0][0]])
    assert alert.mention_count == 2 and alert.rule == "complaint"
    assert alert.priority == min(items[0][2].alert.priority, items[2][2].alert.priority, key=lambda p: p.rank).value


def test_a_batch_costs_a_fixed_number_of_statements(any_Session, apply, settings, store_mention, make_mention):
    """No per-row round trips: one SELECT, one INSERT of alerts, one UPDATE
    (executemany), one INSERT of alert_mentions, one INSERT of audit events."""
    from sqlalchemy import event

    apply(any_Session, [(make_mention(author_id=f"u{i}", thread_id=f"t{i}"), decision()) for i in range(50)])
    batch = [(make_mention(author_id=f"u{i}", thread_id=f"t{i}", minutes=1), decision("P1", 0.9)) for i in range(50)]
    batch += [(make_mention(author_id=f"v{i}", thread_id=f"t{i}", minutes=1), decision()) for i in range(50)]
    statements: list[str] = []
    with any_Session() as session:
        items = [(store_mention(session, m), m, d) for m, d in batch]
        listener = lambda conn, cursor, stmt, params, context, executemany: statements.append(stmt.split()[0])
        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", listener)
        try:
            result = apply_decisions(session, items, settings=settings, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        session.commit()
    assert len(result) == 100
    assert sorted(statements) == ["INSERT", "INSERT", "INSERT", "SELECT", "UPDATE"]


def test_sqlite_finds_open_alerts_through_the_thread_index(Session, engine, apply, settings, store_mention, make_mention):
    """The lookup must search ix_alerts_thread_author, not walk every open
    alert (the open backlog can be large)."""
    from sqlalchemy import event

    apply(Session, [(make_mention(author_id=f"u{i}", thread_id=f"t{i}"), decision()) for i in range(20)])
    captured: list[tuple[str, object]] = []

    def listener(conn, cursor, stmt, params, context, executemany):
        if stmt.lstrip().upper().startswith("SELECT"):
            captured.append((stmt, params))

    batch = [make_mention(author_id=f"u{i}", thread_id=f"t{i}", minutes=1) for i in range(0, 20, 4)]
    with Session() as session:
        items = [(store_mention(session, m), m, decision()) for m in batch]
        event.listen(engine, "before_cursor_execute", listener)
        try:
            apply_decisions(session, items, settings=settings, now=NOW)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        (stmt, params), = captured
        plan = " ".join(str(row[-1]) for row in session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
    assert "ix_alerts_thread_author" in plan, plan
