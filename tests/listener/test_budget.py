"""Reads counted per source and UTC month in the poll's transaction; a source
is not polled once its next poll could take it over its monthly budget."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import responses
from sqlalchemy import select

from brandpulse.config import SourceConfig
from brandpulse.db.models import AuditRow, BilledReadRow, SourceStateRow, SourceUsageRow
from brandpulse.types import FetchResult
from listener.budget import SourceBudget, money, month_key, next_month_start, over_budget
from listener.poller import Poller, reset_failing
from tests.conftest import T0
from tests.fakes import FakeXAPI
from tests.listener.test_poller import RecordingHandler, ScriptedSource, mention


def usage(Session, source: str = "scripted") -> dict[str, tuple[int, int, int, float]]:
    with Session() as s:
        return {r.month: (r.polls, r.posts_read, r.users_read, round(r.spend, 6))
                for r in s.scalars(select(SourceUsageRow).where(SourceUsageRow.source == source))}


def state(Session, source: str = "scripted") -> SourceStateRow:
    with Session() as s:
        return s.get(SourceStateRow, source)


# ---------------------------------------------------------------- arithmetic
def test_months_are_utc_months():
    late = datetime(2026, 3, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 1 April 04:30 UTC
    assert month_key(late) == "2026-04"
    assert next_month_start(datetime(2026, 12, 15, tzinfo=timezone.utc)) == datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert next_month_start(T0) == datetime(2026, 4, 1, tzinfo=timezone.utc)


def test_spend_and_verdicts():
    budget = SourceBudget(price_per_post=0.005, price_per_user=0.01, monthly_budget=10.0, max_spend_per_poll=2.5)
    assert budget.spend(posts=100, users=40) == pytest.approx(0.9)
    assert over_budget(None, spent=1e9, posts_read=0, now=T0) is None
    assert over_budget(SourceBudget(price_per_post=0.005), spent=1e9, posts_read=0, now=T0) is None
    assert over_budget(budget, spent=7.5, posts_read=1500, now=T0) is None  # 7.5 + 2.5 fits exactly
    would = over_budget(budget, spent=7.6, posts_read=1520, now=T0)
    assert would and "next poll could cost up to $2.50" in would and "$7.60 of $10.00" in would
    reached = over_budget(budget, spent=10.0, posts_read=2000, now=T0)
    assert reached and "2,000 posts read" in reached and "resumes 2026-04-01" in reached
    assert money(0.005) == "$0.005" and money(1234.5) == "$1,234.50"


# -------------------------------------------------------------------- poller
def test_reads_are_counted_per_month_with_their_estimated_cost(Session, clock):
    source = ScriptedSource(
        FetchResult([mention(1)], {"c": 1}, posts_read=100, users_read=30),
        FetchResult([], {"c": 1}, posts_read=0),
        FetchResult([mention(2)], {"c": 2}, posts_read=10, users_read=2),
    )
    budget = SourceBudget(price_per_post=0.005, price_per_user=0.01)
    poller = Poller(source=source, Session=Session, clock=clock, budget=budget)
    poller.poll_once()
    poller.poll_once()
    assert usage(Session) == {"2026-03": (2, 100, 30, 0.8)}
    clock.set(datetime(2026, 4, 1, 0, 0, 1, tzinfo=timezone.utc))
    poller.poll_once()
    assert usage(Session) == {"2026-03": (2, 100, 30, 0.8), "2026-04": (1, 10, 2, 0.07)}
    assert state(Session).posts_read == 110  # the running total


def test_a_failed_poll_counts_nothing(Session, clock):
    """The count is in the poll's transaction: rolled back with its mentions."""
    source = ScriptedSource(FetchResult([mention(1)], {"c": 1}, posts_read=50))
    poller = Poller(source=source, Session=Session, clock=clock, handler=RecordingHandler(fail_on_apply=True),
                    budget=SourceBudget(price_per_post=0.005))
    assert poller.poll_once().status == "error"
    assert usage(Session) == {}


def test_free_sources_count_reads_too(Session, clock):
    source = ScriptedSource(FetchResult([mention(1)], {"c": 1}, posts_read=7))
    Poller(source=source, Session=Session, clock=clock).poll_once()
    assert usage(Session) == {"2026-03": (1, 7, 0, 0.0)}


def test_over_budget_source_is_not_polled_until_the_month_ends(Session, clock, caplog):
    budget = SourceBudget(price_per_post=0.01, monthly_budget=1.0, max_spend_per_poll=0.3)
    source = ScriptedSource(*[FetchResult([], {"c": i}, posts_read=30) for i in range(5)])
    poller = Poller(source=source, Session=Session, clock=clock, budget=budget)
    statuses = [poller.poll_once().status for _ in range(4)]
    # 0.3, 0.6: fine; at 0.6 + 0.3 = 0.9 still fits; at 0.9 the next poll could reach 1.2
    assert statuses == ["ok", "ok", "ok", "over_budget"]
    assert len(source.cursors_seen) == 3
    st = state(Session)
    assert st.status == "over_budget" and "$0.90 of $1.00" in st.note and "resumes 2026-04-01" in st.note
    outcome = poller.poll_once(force=True)  # forcing does not spend money past the budget
    assert outcome.status == "over_budget" and "over budget" in outcome.error
    assert len(source.cursors_seen) == 3
    assert sum("not polled: over budget" in r.getMessage() for r in caplog.records) == 1  # said once, not every run

    clock.set(datetime(2026, 4, 1, 0, 0, tzinfo=timezone.utc))
    assert poller.poll_once().status == "ok"
    st = state(Session)
    assert st.status == "ok" and st.note is None


def test_raising_the_budget_resumes_polling(Session, clock):
    source = ScriptedSource(*[FetchResult([], {}, posts_read=100) for _ in range(3)])
    tight = SourceBudget(price_per_post=0.01, monthly_budget=1.0, max_spend_per_poll=1.0)
    Poller(source=source, Session=Session, clock=clock, budget=tight).poll_once()
    assert Poller(source=source, Session=Session, clock=clock, budget=tight).poll_once().status == "over_budget"
    raised = SourceBudget(price_per_post=0.01, monthly_budget=5.0, max_spend_per_poll=1.0)
    assert Poller(source=source, Session=Session, clock=clock, budget=raised).poll_once().status == "ok"


def test_failing_is_reset_with_an_audit_record(Session, clock):
    from listener.base import SourceError

    source = ScriptedSource(SourceError("401", permanent=True))
    Poller(source=source, Session=Session, clock=clock).poll_once()
    assert reset_failing(Session, "scripted", actor="alice", now=T0)
    assert not reset_failing(Session, "scripted", actor="alice", now=T0)  # nothing left to reset
    with Session() as s:
        events = [(a.actor, a.action, a.entity_id) for a in s.scalars(select(AuditRow))]
    assert events == [("alice", "source.reset", "scripted")]



# ------------------------------------------------ billed once per UTC day (X)
def billed(Session, source: str = "scripted") -> dict[str, tuple[int, int, int, int, float]]:
    """month -> (posts read, users read, posts billed, users billed, spend)."""
    with Session() as s:
        return {r.month: (r.posts_read, r.users_read, r.posts_billed, r.users_billed, round(r.spend, 6))
                for r in s.scalars(select(SourceUsageRow).where(SourceUsageRow.source == source))}


class SteppingClock:
    """A clock that moves on by ``step`` at each reading (a fetch that takes time)."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.at, self.step = start, step

    def now(self) -> datetime:
        at, self.at = self.at, self.at + self.step
        return at


PRICES = SourceBudget(price_per_post=0.005, price_per_user=0.01)


def test_a_resource_is_billed_once_per_utc_day_across_the_apps_sources(any_Session, clock):
    Session = any_Session
    mentions_src = ScriptedSource(
        FetchResult([mention(1)], {}, posts_read=3, users_read=2, post_ids=("1", "2", "2"), user_ids=("u1", "u2")),
        FetchResult([], {}, posts_read=2, users_read=1, post_ids=("2", "3"), user_ids=("u1",)),
    )
    mentions_src.platform = "x"
    search = ScriptedSource(FetchResult([], {}, posts_read=4, users_read=2, post_ids=("1", "3", "4"), user_ids=("u2", "u3")))
    search.name, search.platform = "search", "x"
    first = Poller(source=mentions_src, Session=Session, clock=clock, budget=PRICES)
    first.poll_once()  # 1, 2 (twice in one poll: once) and u1, u2
    assert billed(Session) == {"2026-03": (3, 2, 2, 2, 0.03)}
    first.poll_once()  # 2 and u1 again: only 3 is new
    assert billed(Session) == {"2026-03": (5, 3, 3, 2, 0.035)}
    # Another source of the same app: 1, 3, u2 were read today; 4, u3 and one post without an id are billed.
    Poller(source=search, Session=Session, clock=clock, budget=PRICES).poll_once()
    assert billed(Session, "search") == {"2026-03": (4, 2, 2, 1, 0.02)}
    # Another platform's app keeps its own days.
    other = ScriptedSource(FetchResult([], {}, posts_read=1, post_ids=("1",)))
    other.name, other.platform = "other", "elsewhere"
    Poller(source=other, Session=Session, clock=clock, budget=PRICES).poll_once()
    assert billed(Session, "other") == {"2026-03": (1, 0, 1, 0, 0.005)}


def test_a_source_without_ids_has_every_read_billed(Session, clock):
    source = ScriptedSource(*(FetchResult([], {}, posts_read=10, users_read=4) for _ in range(2)))
    poller = Poller(source=source, Session=Session, clock=clock, budget=PRICES)
    poller.poll_once()
    poller.poll_once()
    assert billed(Session) == {"2026-03": (20, 8, 20, 8, 0.18)}


def test_the_next_utc_day_bills_again_and_a_poll_across_midnight_bills_both_days(any_Session, clock):
    Session = any_Session
    again = FetchResult([], {}, posts_read=1, users_read=1, post_ids=("1",), user_ids=("u1",))
    source = ScriptedSource(*(again for _ in range(4)))
    source.platform = "x"
    Poller(source=source, Session=Session, clock=clock, budget=PRICES).poll_once()
    # Started 23:59:59 on the 10th, answered after midnight: X saw it on one of the two days.
    late = SteppingClock(datetime(2026, 3, 10, 23, 59, 59, tzinfo=timezone.utc), timedelta(seconds=2))
    Poller(source=source, Session=Session, clock=late, budget=PRICES).poll_once()
    assert billed(Session) == {"2026-03": (2, 2, 2, 2, 0.03)}  # billed on the 11th, not again on the 10th
    clock.set(datetime(2026, 3, 11, 8, tzinfo=timezone.utc))
    Poller(source=source, Session=Session, clock=clock, budget=PRICES).poll_once()
    assert billed(Session)["2026-03"][2:] == (2, 2, 0.03)  # read on the 11th already
    clock.set(datetime(2026, 3, 12, 8, tzinfo=timezone.utc))
    Poller(source=source, Session=Session, clock=clock, budget=PRICES).poll_once()
    assert billed(Session)["2026-03"][2:] == (3, 3, 0.045)
    with Session() as s:  # pruned to today and yesterday
        days = set(s.scalars(select(BilledReadRow.day)))
    assert days == {"2026-03-11", "2026-03-12"}


# ------------------------------------------------------- X, end to end (fake)
def test_x_source_reads_are_billed_and_stopped_by_the_budget(Session, clock, settings):
    from listener.x import build_x_source

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeXAPI(mock, now=clock.now)
        fake.add_user("AcmeAir")
        for i in range(12):
            fake.add_tweet(f"Acme Air lost my bag ({i})", author=f"flyer{i % 4}", created_at=T0 - timedelta(minutes=30 - i))
        config = SourceConfig(name="x-search", kind="x", brand="acme", endpoint="search", max_results=10,
                              max_pages=1, monthly_budget=0.5)
        source = build_x_source(config, brand=settings.brand("acme"), env={"X_BEARER_TOKEN": fake.bearer_token})
        assert source.budget.max_spend_per_poll == pytest.approx(10 * (0.005 + 0.010))
        poller = Poller(source=source, Session=Session, clock=clock)
        first = poller.poll_once()
        assert first.status == "ok" and first.fetched == 10
        # 10 posts and their 4 distinct authors: 10 x $0.005 + 4 x $0.010
        assert usage(Session, "x-search") == {"2026-03": (1, 10, 4, 0.09)}
        polls = []
        for round_ in range(7):  # ten new posts by the same four authors before each poll
            for i in range(10):
                fake.add_tweet(f"Acme Air lost my bag (round {round_}, {i})", author=f"flyer{i % 4}",
                               created_at=clock.now() + timedelta(seconds=i + 1))
            clock.advance(timedelta(minutes=5))
            polls.append(poller.poll_once().status)
        # The authors were billed today already: $0.05 a poll after the first; once at $0.39 the
        # next could cost $0.15 (all new posts and authors) and pass $0.50
        assert polls == ["ok"] * 6 + ["over_budget"]
        assert usage(Session, "x-search") == {"2026-03": (7, 70, 28, 0.39)}
        with Session() as s:
            row = s.get(SourceUsageRow, ("x-search", "2026-03"))
            assert (row.posts_billed, row.users_billed) == (70, 4)
        # The next UTC day bills the authors again.
        clock.set(T0.replace(hour=0) + timedelta(days=1, minutes=1))
        for i in range(10):
            fake.add_tweet(f"Acme Air next day ({i})", author=f"flyer{i % 4}", created_at=clock.now() - timedelta(seconds=30 - i))
        poller.budget = SourceBudget(price_per_post=0.005, price_per_user=0.01, monthly_budget=1.0,
                                      max_spend_per_poll=source.budget.max_spend_per_poll)
        assert poller.poll_once().status == "ok"
        assert usage(Session, "x-search") == {"2026-03": (8, 80, 32, 0.48)}
        poller.budget = source.budget
        calls = len(fake.calls_to("search"))
        poller.poll_once()
        assert len(fake.calls_to("search")) == calls  # no request once over budget
        assert usage(Session, "x-search")["2026-03"][3] <= 0.5
