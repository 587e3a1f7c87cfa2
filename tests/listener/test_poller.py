"""The poller: mentions and cursor in one transaction; dedup; faults never crash."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from brandpulse.db.models import MentionRow, SourceStateRow
from brandpulse.types import Author, FetchResult, Mention
from listener.base import RateLimited, SourceError
from listener.poller import Backoff, Poller, reset_failing
from tests.conftest import T0


def mention(i: int, *, handle: str = "someone", platform: str = "x") -> Mention:
    return Mention(
        platform=platform, external_id=str(i), brand="acme",
        author=Author(platform=platform, id=f"id-{handle}", handle=handle),
        text=f"post {i}", created_at=T0 + timedelta(seconds=i),
    )


class ScriptedSource:
    """Answers each poll with the next scripted result (or raises it)."""

    kind = "scripted"
    brand = "acme"

    def __init__(self, *steps) -> None:
        self.name = "scripted"
        self.steps = list(steps)
        self.cursors_seen: list[dict] = []

    def fetch(self, cursor, *, now):
        self.cursors_seen.append(dict(cursor))
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class RecordingHandler:
    def __init__(self, *, fail_on_apply: bool = False) -> None:
        self.fail_on_apply = fail_on_apply
        self.applied: list[list[str]] = []

    def prepare(self, mentions):
        return [m.external_id for m in mentions]

    def apply(self, session, stored, prepared, *, now):
        self.applied.append([prepared[s.index] for s in stored])
        if self.fail_on_apply:
            raise RuntimeError("boom in the middle of the batch")


def count(Session) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(MentionRow))


def state(Session) -> SourceStateRow:
    with Session() as s:
        return s.get(SourceStateRow, "scripted")


def test_stores_mentions_and_cursor_together(Session, clock):
    source = ScriptedSource(FetchResult([mention(1), mention(2)], {"since": "2"}, posts_read=2), FetchResult([], {"since": "2"}))
    handler = RecordingHandler()
    poller = Poller(source=source, Session=Session, clock=clock, handler=handler)
    outcome = poller.poll_once()
    assert (outcome.status, outcome.fetched, outcome.stored) == ("ok", 2, 2)
    assert count(Session) == 2
    st = state(Session)
    assert st.cursor == {"since": "2"} and st.posts_read == 2 and st.mentions_stored == 2 and st.last_success_at == T0
    poller.poll_once()
    assert source.cursors_seen == [{}, {"since": "2"}]
    assert handler.applied == [["1", "2"]]  # the empty poll applied nothing


def test_failure_mid_batch_leaves_no_partial_state(Session, clock):
    source = ScriptedSource(
        FetchResult([mention(1), mention(2), mention(3)], {"since": "3"}, posts_read=3),
        FetchResult([mention(1), mention(2), mention(3)], {"since": "3"}, posts_read=3),
    )
    failing = Poller(source=source, Session=Session, clock=clock, handler=RecordingHandler(fail_on_apply=True))
    outcome = failing.poll_once()
    assert outcome.status == "error" and "boom" in outcome.error
    assert count(Session) == 0  # no mention survived the failed transaction
    st = state(Session)
    assert st.cursor == {}  # and the cursor did not move
    assert st.last_error and "boom" in st.last_error

    healthy = Poller(source=source, Session=Session, clock=clock, handler=RecordingHandler())
    assert healthy.poll_once(force=True).stored == 3
    assert source.cursors_seen == [{}, {}]  # retried from the old cursor: nothing lost


def test_redelivery_is_stored_once_and_handled_once(Session, clock):
    batch = [mention(1), mention(2), mention(2)]  # duplicate inside one batch too
    source = ScriptedSource(FetchResult(batch, {"c": 1}), FetchResult([mention(2), mention(3)], {"c": 2}))
    handler = RecordingHandler()
    poller = Poller(source=source, Session=Session, clock=clock, handler=handler)
    assert poller.poll_once().stored == 2
    assert poller.poll_once().stored == 1
    assert count(Session) == 3
    assert handler.applied == [["1", "2"], ["3"]]


def test_same_id_on_two_platforms_is_two_mentions(Session, clock):
    source = ScriptedSource(FetchResult([mention(1), mention(1, platform="reddit")], {}))
    assert Poller(source=source, Session=Session, clock=clock).poll_once().stored == 2


def test_own_posts_are_marked(Session, clock):
    source = ScriptedSource(FetchResult([mention(1, handle="AcmeAir"), mention(2)], {}))
    Poller(source=source, Session=Session, clock=clock, own_handles=frozenset({"acmeair"})).poll_once()
    with Session() as s:
        own = dict(s.execute(select(MentionRow.external_id, MentionRow.is_own)).all())
    assert own == {"1": True, "2": False}


def test_rate_limit_defers_until_reset_without_sleeping(Session, clock):
    reset = T0 + timedelta(minutes=7)
    source = ScriptedSource(RateLimited("429 from X", retry_at=reset), FetchResult([mention(1)], {"c": 1}))
    poller = Poller(source=source, Session=Session, clock=clock)
    outcome = poller.poll_once()
    assert outcome.status == "deferred" and outcome.next_poll_at == reset
    clock.advance(timedelta(minutes=5))
    assert poller.poll_once().status == "skipped"  # too early: the platform said so
    assert len(source.cursors_seen) == 1
    clock.advance(timedelta(minutes=3))
    assert poller.poll_once().status == "ok"


def test_transient_errors_back_off_with_jitter_and_grow(Session, clock):
    source = ScriptedSource(SourceError("503"), SourceError("timeout"), FetchResult([], {}))
    backoff = Backoff(base=timedelta(seconds=30), cap=timedelta(minutes=10), rng=lambda: 1.0)
    poller = Poller(source=source, Session=Session, clock=clock, backoff=backoff)
    first = poller.poll_once()
    assert first.status == "error" and first.next_poll_at == T0 + timedelta(seconds=30)
    clock.set(first.next_poll_at)
    second = poller.poll_once()
    assert second.next_poll_at == clock.now() + timedelta(seconds=60)
    assert state(Session).consecutive_failures == 2
    clock.set(second.next_poll_at)
    assert poller.poll_once().status == "ok"
    assert state(Session).consecutive_failures == 0


def test_backoff_jitter_stays_within_bounds():
    values = [Backoff(rng=lambda r=r: r).delay(3).total_seconds() for r in (0.0, 0.5, 1.0)]
    assert values == [60.0, 90.0, 120.0]
    assert Backoff(cap=timedelta(minutes=5), rng=lambda: 1.0).delay(20) == timedelta(minutes=5)


def test_permanent_error_marks_failing_until_reset(Session, clock):
    source = ScriptedSource(SourceError("401 Unauthorized: check X_BEARER_TOKEN", permanent=True), FetchResult([], {}))
    poller = Poller(source=source, Session=Session, clock=clock)
    assert poller.poll_once().status == "failing"
    clock.advance(timedelta(hours=1))
    outcome = poller.poll_once()
    assert outcome.status == "failing" and "X_BEARER_TOKEN" in outcome.error
    assert len(source.cursors_seen) == 1  # it did not hammer the API
    assert reset_failing(Session, "scripted")
    assert poller.poll_once().status == "ok"


def test_unexpected_exception_is_contained(Session, clock):
    source = ScriptedSource(KeyError("surprise"))
    outcome = Poller(source=source, Session=Session, clock=clock).poll_once()
    assert outcome.status == "error" and "KeyError" in outcome.error
