"""The whole hot path (poller → store → score → rules → alerts → drafts →
opt-outs → cursor) gives the same outcome on SQLite and on PostgreSQL: the
bulk statements (brandpulse.db.bulk) run plain SQL on one and SQLAlchemy Core
on the other. Re-delivery is stored once, a failure mid-batch leaves nothing,
and the source's counters add up on both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from brandpulse.db import session_factory
from brandpulse.db.models import (
    AlertMentionRow,
    AlertRow,
    AuditRow,
    Base,
    MentionRow,
    MentionTagRow,
    OptOutRow,
    OutboxRow,
    ScoreRow,
    SourceStateRow,
    SourceUsageRow,
)
from brandpulse.pipeline import Pipeline
from brandpulse.types import Author, FetchResult, Mention
from listener.poller import Poller
from tests.conftest import T0

@pytest.fixture
def pg_Session(pg_engine):
    """conftest's pg_Session plus what migration 0002 inserts: the kill switch row."""
    Base.metadata.create_all(pg_engine)
    with pg_engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO outreach_control (scope, paused) VALUES ('*', false)")
    return session_factory(pg_engine)


def post(i: int, body: str, *, handle: str, thread: str | None = None, followers: int = 10, reply_to: str | None = None,
         addressed: tuple[str, ...] = ()) -> Mention:
    return Mention(
        platform="x", external_id=str(9000 + i), brand="acme",
        author=Author(platform="x", id=f"id-{handle}", handle=handle, followers=followers),
        text=body, created_at=T0 + timedelta(minutes=i), lang="en", thread_id=thread, reply_to_id=reply_to,
        addressed_handles=addressed, raw={"id": str(9000 + i), "text": body, "ü": [1, None]},
    )


BATCH_1 = [
    post(1, "@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.", handle="sam", thread="t1",
         addressed=("acmeair",)),
    post(2, "Lost my bag again, worst airline ever, I am furious", handle="famous", followers=250_000, thread="t2"),
    post(3, "Thank you @AcmeAir, lovely crew, great flight!", handle="happy", thread="t3", addressed=("acmeair",)),
    post(4, "Acme Air news: our new route to Lisbon starts today", handle="AcmeAir", thread="t4"),
]
BATCH_2 = [
    BATCH_1[1],  # delivered again
    post(5, "@AcmeAir still waiting, this is horrible and useless, stranded!!!", handle="sam", thread="t1"),
    post(6, "stop", handle="quiet", thread="t9", reply_to="somewhere"),
    post(7, "horrible, horrible, horrible", handle="other", thread=None),
]


class Scripted:
    kind = "scripted"
    brand = "acme"
    name = "scripted"

    def __init__(self, *steps) -> None:
        self.steps = list(steps)

    def fetch(self, cursor, *, now):
        return self.steps.pop(0)


def run_scenario(Session, settings, clock) -> None:
    source = Scripted(FetchResult(BATCH_1, {"page": 1}, posts_read=4), FetchResult(BATCH_2, {"page": 2}, posts_read=4))
    poller = Poller(source=source, Session=Session, clock=clock, handler=Pipeline(settings),
                    own_handles=frozenset({"acmeair", "acmehelp"}))
    assert [poller.poll_once().stored, poller.poll_once().stored] == [4, 3]


def outcome(Session) -> dict:
    """What the scenario left, without database ids and with ids mapped to external ids."""
    with Session() as s:
        ext = dict(s.execute(select(MentionRow.id, MentionRow.external_id)).all())
        alerts = {
            a.id: (ext[a.mention_id], ext[a.last_mention_id], a.mention_count, a.priority, round(a.priority_score, 6),
                   a.sla_due_at, a.status, a.tags, a.opened_at, a.last_mention_at)
            for a in s.scalars(select(AlertRow))
        }
        return {
            "mentions": sorted(
                (m.external_id, m.author_handle, m.is_own, m.created_at, m.raw, m.addressed_handles, m.author_followers)
                for m in s.scalars(select(MentionRow))
            ),
            "scores": sorted((ext[r.mention_id], r.analyzer, round(r.compound, 6), r.label) for r in s.scalars(select(ScoreRow))),
            "tags": sorted((ext[r.mention_id], r.tag) for r in s.scalars(select(MentionTagRow))),
            "alerts": sorted(alerts.values()),
            "alert_mentions": sorted((alerts[r.alert_id][0], ext[r.mention_id]) for r in s.scalars(select(AlertMentionRow))),
            "outbox": sorted((ext[r.mention_id], r.template, r.text, r.status, r.needs_approval, r.account, r.created_at)
                             for r in s.scalars(select(OutboxRow))),
            "audit": sorted((r.action, r.entity_type, r.actor, r.at) for r in s.scalars(select(AuditRow))),
            "opt_outs": sorted((r.author_handle, r.word, ext[r.mention_id]) for r in s.scalars(select(OptOutRow))),
            "state": [(st.cursor, st.status, st.posts_read, st.mentions_stored, st.last_success_at)
                      for st in s.scalars(select(SourceStateRow))],
            "usage": [(u.month, u.polls, u.posts_read) for u in s.scalars(select(SourceUsageRow))],
        }


def test_the_hot_path_gives_the_same_outcome_on_both_backends(Session, pg_Session, settings, clock):
    run_scenario(Session, settings, clock)
    run_scenario(pg_Session, settings, clock)
    on_sqlite, on_postgres = outcome(Session), outcome(pg_Session)
    assert on_sqlite == on_postgres
    # and it is the outcome the pipeline promises
    assert len(on_sqlite["mentions"]) == 7  # the re-delivered post once
    sam = [a for a in on_sqlite["alerts"] if a[0] == "9001"]
    assert sam and sam[0][1:3] == ("9005", 2)  # sam's second post joined the alert his first opened
    # one reply per conversation ("stop" reads negative too: drafted; the opt-out holds it when sent)
    assert [o[0] for o in on_sqlite["outbox"]] == ["9002", "9005", "9006", "9007"]
    assert on_sqlite["opt_outs"] == [("quiet", "stop", "9006")]
    assert on_sqlite["state"] == [({"page": 2}, "ok", 8, 7, clock.now())]
    assert on_sqlite["usage"] == [("2026-03", 2, 8)]


def test_a_failure_mid_batch_leaves_nothing_on_either_backend(any_Session, settings, clock, monkeypatch):
    import brandpulse.pipeline as pipeline_module

    def boom(*args, **kwargs):
        raise RuntimeError("boom after the alerts")

    monkeypatch.setattr(pipeline_module, "draft_replies", boom)
    source = Scripted(FetchResult(BATCH_1, {"page": 1}, posts_read=4))
    poller = Poller(source=source, Session=any_Session, clock=clock, handler=Pipeline(settings))
    assert poller.poll_once().status == "error"
    with any_Session() as s:
        for table in (MentionRow, ScoreRow, AlertRow, AlertMentionRow, OutboxRow):
            assert s.scalar(select(func.count()).select_from(table)) == 0, table.__tablename__
        assert s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.entity_type == "alert")) == 0
        assert s.scalar(select(SourceStateRow.cursor)) == {}
