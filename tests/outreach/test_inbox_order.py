"""Most important first: within a tier, the alerts still waiting for a reply
come before those already answered (whose deadline is the met one of the
past), in `alerts list`, `alerts next` and the digest alike."""

from __future__ import annotations

from datetime import timedelta

from brandpulse.inbox import list_alerts, next_alert
from outreach.digest import build_digest


def _inbox(Session, clock, make_mention, make_alert):
    now = clock.now()
    ids = {}
    # P1 opened 5 h ago, answered within 30 min, still open (nobody resolved it): its deadline passed long ago.
    mid, m = make_mention(text="lost my bag", handle="answered", at=now - timedelta(hours=5), thread_id="a")
    ids["answered"] = make_alert(mid, m, priority="P1", sla_due_at=now - timedelta(hours=4),
                                 first_response_at=now - timedelta(hours=4, minutes=30))
    # P1 opened 2 h ago, nobody answered: overdue by an hour.
    mid, m = make_mention(text="stranded at the gate", handle="waiting", at=now - timedelta(hours=2), thread_id="w")
    ids["overdue"] = make_alert(mid, m, priority="P1", sla_due_at=now - timedelta(hours=1))
    # P1 opened 10 min ago: 50 min left.
    mid, m = make_mention(text="missed my connection", handle="fresh", at=now - timedelta(minutes=10), thread_id="f")
    ids["fresh"] = make_alert(mid, m, priority="P1", sla_due_at=now + timedelta(minutes=50))
    # P2 unanswered: after every P1, answered or not.
    mid, m = make_mention(text="delayed again", handle="p2", at=now - timedelta(hours=3), thread_id="p")
    ids["p2"] = make_alert(mid, m, priority="P2", sla_due_at=now + timedelta(hours=3))
    return ids


def test_alerts_awaiting_a_reply_come_before_answered_ones_of_their_tier(Session, settings, clock, make_mention,
                                                                          make_alert):
    ids = _inbox(Session, clock, make_mention, make_alert)
    expected = [ids["overdue"], ids["fresh"], ids["answered"], ids["p2"]]
    with Session() as s:
        assert [a.id for a in list_alerts(s)] == expected
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=24))
    assert [a.id for a in digest.alerts] == expected


def test_alerts_next_hands_out_the_overdue_alert_not_the_answered_one(Session, clock, make_mention, make_alert):
    ids = _inbox(Session, clock, make_mention, make_alert)
    with Session.begin() as s:
        first = next_alert(s, actor="alice", now=clock.now())
        second = next_alert(s, actor="bob", now=clock.now())
        third = next_alert(s, actor="carol", now=clock.now())
    assert (first.id, second.id, third.id) == (ids["overdue"], ids["fresh"], ids["answered"])


def test_alerts_show_lists_the_author_s_posts_about_this_brand_only(Session, clock, make_mention, make_alert):
    """The author's history is on every network, but never another brand's
    posts (a brand's team sees its own brand's data, as in the digest)."""
    from brandpulse.inbox import alert_context

    now = clock.now()
    mid, m = make_mention(text="lost my bag", handle="marisol", at=now - timedelta(hours=1), thread_id="b")
    alert_id = make_alert(mid, m)
    make_mention(text="acme air, do you fly to Porto?", handle="Marisol", platform="reddit", thread_id="t3_p",
                 at=now - timedelta(hours=5), label="neutral", compound=0.0)
    make_mention(text="Beta Bank froze my card", handle="marisol", thread_id="x9", brand="beta",
                 at=now - timedelta(hours=2))
    with Session() as s:
        context = alert_context(s, alert_id)
    assert [v.mention.text for v in context.author_history] == ["acme air, do you fly to Porto?"]
