"""Sentiment trends: buckets, latest labels, shares, the previous period, text,
JSON, the chart and the digest's Trends section. Numbers worked out by hand
from the posts stored in ``week``."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from brandpulse.db.models import ScoreRow
from outreach.digest import build_digest, render_html, render_text
from outreach.trends import (
    ALL, Counts, bucket_starts, check_period, compare, compute_trends, floor_to, render_chart_svg,
    render_trends_text,
)
from tests.conftest import T0  # Tuesday 2026-03-10 09:00 UTC


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def Session(request, Session):
    """Every test here runs on SQLite, then on PostgreSQL (trends buckets
    timestamps in SQL, where the two dialects differ)."""
    return Session if request.param == "sqlite" else request.getfixturevalue("pg_Session")


def utc(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=timezone.utc)


@pytest.fixture
def week(Session, make_mention):
    """acme on X and Reddit, one globex post, over the 3 days to T0 and the 3 days before."""
    # current period [03-07 09:00, 03-10 09:00]
    make_mention(at=utc(7, 10), label="negative")
    make_mention(at=utc(7, 23, 59), platform="reddit", label="positive", compound=0.6)
    # 03-08: nothing at all
    rescored, _ = make_mention(at=utc(9, 12), label="negative", compound=-0.2)
    with Session.begin() as s:  # scored again later: positive is its latest label
        s.add(ScoreRow(mention_id=rescored, analyzer="care", version="2", compound=0.5, label="positive",
                       scored_at=utc(9, 13)))
    make_mention(at=utc(9, 13), label="neutral", compound=0.0)
    make_mention(at=utc(9, 14), label="unknown", compound=0.0)
    make_mention(at=utc(9, 15), label=None)  # not scored
    make_mention(at=utc(10, 8, 59), label="negative")
    make_mention(at=T0, platform="reddit", label="negative")  # at `now` exactly
    # left out: the brand's own post, after now, before the previous period
    make_mention(at=utc(9, 16), handle="AcmeAir", is_own=True, label="negative")
    make_mention(at=utc(10, 10), label="negative")
    make_mention(at=utc(4, 8, 59), label="negative")
    # another brand
    make_mention(at=utc(9, 12), brand="globex", label="negative")
    # previous period [03-04 09:00, 03-07 09:00)
    make_mention(at=utc(4, 9), label="positive", compound=0.5)
    make_mention(at=utc(6, 12), label="neutral", compound=0.0)
    make_mention(at=utc(7, 8), label="negative")


def trends(Session, **kw):
    kw.setdefault("now", T0)
    kw.setdefault("since", timedelta(days=3))
    with Session() as s:
        return compute_trends(s, **kw)


def counts(c: Counts) -> tuple[int, int, int, int, int, int]:
    return (c.mentions, c.negative, c.neutral, c.positive, c.unknown, c.unscored)


def test_daily_buckets_latest_label_and_empty_day(Session, week):
    report = trends(Session, brands=["acme"])
    assert [(g.brand, g.platform) for g in report.groups] == [("acme", "reddit"), ("acme", "x"), ("acme", ALL), (ALL, ALL)]
    g = report.group("acme", ALL)
    assert [b.start for b in g.buckets] == [utc(7, 0), utc(8, 0), utc(9, 0), utc(10, 0)]
    assert [b.partial for b in g.buckets] == [True, False, False, True]
    assert g.buckets[-1].end == T0
    d7, d8, d9, d10 = (b.counts for b in g.buckets)
    assert counts(d7) == (2, 1, 0, 1, 0, 0) and d7.negative_share == 0.5 and d7.net_sentiment == 0.0
    assert counts(d8) == (0, 0, 0, 0, 0, 0) and d8.negative_share is None and d8.net_sentiment is None
    # the re-scored post counts once, as positive; unknown and unscored are in neither share
    assert counts(d9) == (4, 0, 1, 1, 1, 1) and d9.scored == 2
    assert d9.negative_share == 0.0 and d9.net_sentiment == 0.5
    assert counts(d10) == (2, 2, 0, 0, 0, 0) and d10.negative_share == 1.0 and d10.net_sentiment == -1.0
    # the period: 8 mentions, 3 negative of 6 scored, net (2 - 3) / 6
    assert counts(g.current) == (8, 3, 1, 2, 1, 1)
    assert g.current.negative_share == 0.5 and g.current.net_sentiment == pytest.approx(-1 / 6)
    assert (report.total.buckets, report.total.current) == (g.buckets, g.current)


def test_previous_period_of_the_same_length(Session, week):
    report = trends(Session, brands=["acme"])
    assert report.previous_start == utc(4, 9)
    g = report.group("acme", ALL)
    assert counts(g.previous) == (3, 1, 1, 1, 0, 0)  # 03-04 09:00 positive, 03-06 neutral, 03-07 08:00 negative
    assert g.change.mentions == 5 and g.change.mentions_pct == pytest.approx(500 / 3)
    assert g.change.negative_share_pts == pytest.approx(50 - 100 / 3)
    assert g.change.net_sentiment == pytest.approx(-1 / 6)
    reddit = report.group("acme", "reddit")
    assert counts(reddit.current) == (2, 1, 0, 1, 0, 0) and reddit.previous.mentions == 0
    assert (reddit.change.mentions, reddit.change.mentions_pct, reddit.change.negative_share_pts) == (2, None, None)
    text = render_trends_text(report)
    assert "acme · all: 8 mentions vs 3 the previous 3 days (+167%); negative share 50% vs 33% (+17 pts);" \
           " net sentiment -0.17 vs +0.00" in text


def test_brand_and_platform_filters(Session, week):
    everyone = trends(Session)
    assert ("globex", "x") in [(g.brand, g.platform) for g in everyone.groups]
    assert everyone.total.current.mentions == 9 and everyone.total.current.negative == 4
    x = trends(Session, brands=["acme"], platform="x")
    assert [(g.brand, g.platform) for g in x.groups] == [("acme", "x"), (ALL, ALL)]
    g = x.group("acme", "x")
    assert [b.counts.mentions for b in g.buckets] == [1, 0, 4, 1]
    assert counts(g.current) == (6, 2, 1, 1, 1, 1) and g.current.negative_share == 0.5
    assert g.current.net_sentiment == -0.25
    assert counts(g.previous) == (3, 1, 1, 1, 0, 0)
    assert trends(Session, brands=["nobody"]).total.current.mentions == 0


def test_hour_buckets_when_now_is_on_a_boundary(Session, week):
    report = trends(Session, brands=["acme"], since=timedelta(hours=3), by="hour")
    g = report.total
    # 06:00, 07:00, 08:00: no empty bucket of no length at 09:00; the post at 09:00 counts in 08:00
    assert [b.start for b in g.buckets] == [utc(10, 6), utc(10, 7), utc(10, 8)]
    assert [b.counts.mentions for b in g.buckets] == [0, 0, 2]
    assert not any(b.partial for b in g.buckets)
    assert g.previous.mentions == 0  # [03:00, 06:00) holds nothing


def test_weeks_start_on_monday_and_bucket_edges():
    assert floor_to(utc(10, 9), "week") == utc(9, 0)  # Tuesday → Monday
    assert floor_to(utc(15, 23, 59), "week") == utc(9, 0)  # Sunday → the Monday before
    assert floor_to(utc(16, 0), "week") == utc(16, 0)
    assert floor_to(datetime(2026, 3, 10, 10, 30, tzinfo=timezone(timedelta(hours=2))), "day") == utc(10, 0)
    assert bucket_starts(utc(9, 12), utc(10, 0), "day") == [utc(9, 0)]
    assert bucket_starts(utc(9, 12), utc(10, 0, 1), "day") == [utc(9, 0), utc(10, 0)]
    assert len(bucket_starts(T0 - timedelta(days=30), T0, "hour")) == 720


def test_compare_without_scored_posts():
    change = compare(Counts(mentions=2, unknown=2), Counts(mentions=4, negative=1, positive=3))
    assert (change.mentions, change.mentions_pct, change.negative_share_pts, change.net_sentiment) == (-2, -50.0, None, None)


@pytest.mark.parametrize(("since", "by", "message"), [
    (timedelta(0), "day", "the trend period must be positive"),
    (timedelta(days=-1), "day", "the trend period must be positive"),
    (timedelta(days=1), "month", "unknown bucket size 'month' (use hour, day, week)"),
    (timedelta(days=60), "hour", "60 days by hour make about 1440 buckets (at most 1000)"),
])
def test_bad_periods_are_refused(Session, since, by, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        check_period(since, by)
    with pytest.raises(ValueError, match=re.escape(message)):
        trends(Session, since=since, by=by)


def test_json_shape(Session, week):
    data = json.loads(json.dumps(trends(Session, brands=["acme"], platform="x").to_dict()))
    assert set(data) == {"period", "previous_period", "by", "timezone", "filters", "groups"}
    assert data["period"] == {"start": "2026-03-07T09:00:00+00:00", "end": "2026-03-10T09:00:00+00:00"}
    assert data["previous_period"] == {"start": "2026-03-04T09:00:00+00:00", "end": "2026-03-07T09:00:00+00:00"}
    assert (data["by"], data["timezone"], data["filters"]) == ("day", "UTC", {"brands": ["acme"], "platform": "x"})
    g = data["groups"][0]
    assert (g["brand"], g["platform"]) == ("acme", "x")
    assert g["total"] == {"mentions": 6, "negative": 2, "neutral": 1, "positive": 1, "unknown": 1, "unscored": 1,
                          "scored": 4, "negative_share": 0.5, "net_sentiment": -0.25}
    assert g["change"] == {"mentions": 3, "mentions_pct": 100.0, "negative_share_pts": 16.7, "net_sentiment": -0.25}
    assert g["buckets"][1] == {"start": "2026-03-08T00:00:00+00:00", "end": "2026-03-09T00:00:00+00:00",
                               "partial": False, "mentions": 0, "negative": 0, "neutral": 0, "positive": 0,
                               "unknown": 0, "unscored": 0, "scored": 0, "negative_share": None, "net_sentiment": None}
    assert data["groups"][-1]["brand"] == "*"


def test_text_table(Session, week):
    text = render_trends_text(trends(Session, brands=["acme"], platform="reddit"))
    assert text.startswith("Trends of mentions posted 2026-03-07 09:00 UTC → 2026-03-10 09:00 UTC, by day (UTC)")
    assert "acme · reddit: 2 mentions vs 0 the previous 3 days; negative share 50% vs –; net sentiment +0.00 vs –" in text
    assert "all · all" not in text  # the same numbers as acme · reddit: not printed twice
    rows = [line.split() for line in text.splitlines() if line.startswith("  2026-")]
    assert rows[0][:9] == ["2026-03-07", "Sat*", "1", "0", "0", "1", "0", "0%", "+1.00"]
    assert rows[1] == ["2026-03-08", "Sun", "0", "0", "0", "0", "0", "–", "–"]
    assert rows[3][:9] == ["2026-03-10", "Tue*", "1", "1", "0", "0", "0", "100%", "-1.00"]
    empty = render_trends_text(trends(Session, brands=["nobody"]))
    assert "No mentions in the period or the previous 3 days." in empty


def test_chart_is_a_deterministic_svg(Session, week):
    report = trends(Session, brands=["acme"])
    svg = render_chart_svg(report.total, by="day")
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    assert svg == render_chart_svg(report.total, by="day")  # same input, same bytes
    assert "<dc:date>" not in svg and "2026-" not in svg  # no date in the metadata
    for label in ("03-07", "03-10", "mentions", "negative share"):
        assert label in svg  # text kept as text
    assert "<script" not in svg


def test_digest_has_a_trends_section(Session, settings, week):
    with Session() as s:
        digest = build_digest(s, settings=settings, now=T0, since=timedelta(hours=24))
    assert digest.trends is not None and digest.trends.by == "day"
    assert digest.trends.period_start == T0 - timedelta(days=14)  # 14 days whatever the digest's period
    assert len(digest.trends.total.buckets) == 15  # 02-24 (partial) … 03-10 (partial)
    text = render_text(digest)
    # 14 days back from T0 hold the 8 posts above and the 4 from 03-04 08:59 to 03-07 08:00: 5 negative of 10 scored
    assert "Trends, last 14 days by UTC day: 12 mentions vs 0 the previous 14 days; negative share 50% vs –" in text
    assert re.search(r"  Mon 03-09 +4 +0%  █+\n", text)
    assert re.search(r"  Sun 03-08 +0 +–\n", text)
    html = render_html(digest, settings=settings)
    uri = re.search(r'<img src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"[^>]* alt="Chart: mentions per day', html)
    assert uri is not None
    assert b"<svg" in base64.b64decode(uri.group(1))
    assert '<caption id="trend-table-caption">' in html
    assert re.search(r'<th scope="row">Mon 2026-03-09</th><td class="n">4</td><td class="n">0</td>'
                     r'<td class="n">1</td><td class="n">1</td><td class="n">1</td><td class="n">0%</td>'
                     r'<td class="n">\+0.50</td>', html)
    assert html == render_html(digest, settings=settings)  # deterministic page, chart included
