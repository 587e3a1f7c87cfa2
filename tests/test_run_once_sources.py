"""``brandpulse run --once`` says which sources it could not fully read:
deferred by a rate limit, failing, backing off, or read only in part (a
closed subreddit skipped), each with why and where to see more, so that a
cron job's output shows that complaints may be missing. Pollers on a
FakeClock against the fake X and Reddit; the CLI itself on the system clock."""

from __future__ import annotations

from datetime import timedelta

from brandpulse.clock import FakeClock
from brandpulse.cli.run import source_report_lines
from tests.conftest import T0, listening_pollers, settings_and_database
from tests.fakes import faults, serve_x_and_reddit

SOURCES = [
    {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir"},
    {"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search"},
    {"name": "reddit-posts", "kind": "reddit", "brand": "acme", "listing": "submissions",
     "subreddits": ["travel", "AcmeAir"]},
    {"name": "reddit-comments", "kind": "reddit", "brand": "acme", "listing": "comments"},
]


def test_each_source_not_fully_read_gets_a_line_with_why_and_where_to_look(tmp_path, monkeypatch):
    clock = FakeClock(T0)
    settings, engine, Session = settings_and_database(tmp_path, SOURCES)
    with serve_x_and_reddit(now=clock.now) as (x, reddit):
        pollers = listening_pollers(settings, Session, clock, x, reddit, monkeypatch)

        def poll_all():
            return [p.poll_once() for p in pollers]

        x.add_tweet("@AcmeAir where is my bag? awful", author="sam", created_at=T0 - timedelta(minutes=5))
        reddit.add_submission("travel", "Acme Air lost my bag", author="redditor1", created_at=T0 - timedelta(minutes=5))
        assert source_report_lines(poll_all(), now=clock.now()) == []  # all read: nothing said

        reddit.add_submission("AcmeAir", "Check-in app keeps crashing", author="redditor2", created_at=T0)
        reddit.closed["acmeair"] = "private"
        x.fail(faults.rate_limit(reset_after=timedelta(minutes=15)), endpoint="search")
        reddit.fail(faults.UNAUTHORIZED, times=2, endpoint="comments")
        clock.advance(timedelta(minutes=1))
        lines = source_report_lines(poll_all(), now=clock.now())
        assert lines[0] == ("sources: 3 of 4 not fully read, complaints may be missing"
                            " (details: brandpulse sources)")
        by_source = {line.split(":")[0].strip(): line for line in lines[1:]}
        assert set(by_source) == {"x-search", "reddit-posts", "reddit-comments"}
        reset = (clock.now() + timedelta(minutes=15)).strftime("%H:%M")
        assert by_source["x-search"].startswith(f"  x-search: deferred by the platform's rate limit until {reset}")
        assert "429" in by_source["x-search"]
        assert by_source["reddit-posts"].startswith("  reddit-posts: read only in part: ")
        assert "r/AcmeAir" in by_source["reddit-posts"] and "private" in by_source["reddit-posts"]
        assert by_source["reddit-comments"].startswith(
            "  reddit-comments: FAILING, not polled until fixed and `brandpulse sources reset reddit-comments`: ")
        assert "REDDIT_CLIENT_ID" in by_source["reddit-comments"]

        clock.advance(timedelta(minutes=1))  # the next run: X still waits, Reddit comments still failing
        lines = source_report_lines(poll_all(), now=clock.now())
        by_source = {line.split(":")[0].strip(): line for line in lines[1:]}
        assert by_source["x-search"].startswith(
            f"  x-search: not polled: waiting until {reset} UTC (the platform's rate limit): ")
        assert "reddit-comments" in by_source and "reddit-posts" in by_source  # r/AcmeAir is still private
        for line in lines:
            assert reddit.password not in line and x.bearer_token not in line
    engine.dispose()
