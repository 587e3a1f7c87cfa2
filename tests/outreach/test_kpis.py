"""Response KPIs, checked against numbers worked out by hand."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from brandpulse.db.models import AlertRow
from outreach.digest import build_digest, render_html, render_text
from outreach.kpis import ALL, compute_kpis, duration_stats, percentile_nearest_rank, render_kpis_text

H = timedelta(hours=1)
M = timedelta(minutes=1)


@pytest.fixture
def alert(Session, clock, make_mention, make_alert):
    """An alert opened ``age`` ago, answered ``answered`` after opening,
    resolved ``resolved`` after opening."""
    counter = iter(range(10_000))

    def build(age, *, answered=None, resolved=None, platform="x", brand="acme", status=None):
        n = next(counter)
        opened = clock.now() - age
        mid, mention = make_mention(handle=f"user{n}", thread_id=f"t{n}", platform=platform, brand=brand, at=opened)
        aid = make_alert(mid, mention, first_response_at=opened + answered if answered is not None else None)
        values = {}
        if resolved is not None:
            values.update(status="resolved", resolved_at=opened + resolved)
        if status is not None:
            values["status"] = status
        if values:
            with Session.begin() as s:
                s.execute(update(AlertRow).where(AlertRow.id == aid).values(**values))
        return aid

    return build


@pytest.fixture
def world(alert):
    # acme on X
    alert(48 * H, answered=30 * M, resolved=2 * H)   # A1
    alert(30 * H, answered=3 * H, resolved=10 * H)   # A2
    alert(20 * H, answered=8 * H)                    # A3
    alert(26 * H)                                    # A4: unanswered, 26 h old
    alert(30 * M)                                    # A5: unanswered, 30 min old (may still make 1 h)
    alert(5 * H)                                     # A6: unanswered, 5 h old
    alert(4 * H, status="dismissed")                 # not a complaint: left out
    alert(8 * 24 * H, answered=10 * M)               # before the period
    # acme on Reddit
    alert(10 * H, answered=1 * H, resolved=9 * H, platform="reddit")  # R1: exactly 1 h counts as within 1 h
    alert(3 * H, answered=2 * H, platform="reddit")                    # R2
    # another brand
    alert(2 * H, answered=15 * M, brand="zeta")                       # Z1


def kpis(Session, clock, **kw):
    with Session() as s:
        return compute_kpis(s, now=clock.now(), since=timedelta(days=7), **kw)


def shares(group):
    return {w.key: (w.answered, w.eligible, w.share) for w in group.within}


def test_per_brand_and_platform(Session, clock, world):
    report = kpis(Session, clock)
    assert [(g.brand, g.platform) for g in report.groups] == [
        ("acme", "reddit"), ("acme", "x"), ("zeta", "x"), ("acme", ALL), (ALL, ALL)
    ]
    x = report.group("acme", "x")
    assert (x.alerts, x.answered, x.unanswered, x.resolved) == (6, 3, 3, 2)
    # first replies after 30 min, 3 h, 8 h
    assert x.first_response.mean == timedelta(hours=11.5 / 3)  # 3h50m
    assert (x.first_response.median, x.first_response.p90) == (3 * H, 8 * H)
    # ≤1h: A1 of A1, A2, A3, A4, A6 (A5 is 30 min old and may still make it)
    # ≤6h: A1, A2 of A1, A2, A3, A4 (A5 and A6 are younger than 6 h and unanswered)
    # ≤12h and ≤24h: A1, A2, A3 of those and A4
    assert shares(x) == {"1h00m": (1, 5, 0.2), "6h00m": (2, 4, 0.5), "12h00m": (3, 4, 0.75), "1d00h": (3, 4, 0.75)}
    assert (x.resolution.count, x.resolution.mean, x.resolution.median, x.resolution.p90) == (2, 6 * H, 6 * H, 10 * H)

    reddit = report.group("acme", "reddit")
    assert (reddit.alerts, reddit.answered) == (2, 2)
    assert (reddit.first_response.mean, reddit.first_response.median, reddit.first_response.p90) == (90 * M, 90 * M, 2 * H)
    assert shares(reddit)["1h00m"] == (1, 2, 0.5)
    assert shares(reddit)["6h00m"] == (2, 2, 1.0)
    assert (reddit.resolved, reddit.resolution.median) == (1, 9 * H)

    acme = report.group("acme", ALL)
    assert (acme.alerts, acme.answered) == (8, 5)
    # 30 min, 1 h, 2 h, 3 h, 8 h
    assert acme.first_response.mean == timedelta(hours=14.5 / 5)
    assert (acme.first_response.median, acme.first_response.p90) == (2 * H, 8 * H)
    assert shares(acme)["1h00m"] == (2, 7, 2 / 7)

    total = report.total
    assert (total.alerts, total.answered) == (9, 6)
    # 15 min, 30 min, 1 h, 2 h, 3 h, 8 h: the median is between 1 h and 2 h
    assert total.first_response.median == 90 * M
    assert total.first_response.p90 == 8 * H
    assert shares(total)["1h00m"] == (3, 8, 0.375)


def test_brand_filter(Session, clock, world):
    report = kpis(Session, clock, brands=["zeta"])
    assert [(g.brand, g.platform) for g in report.groups] == [("zeta", "x"), (ALL, ALL)]
    assert report.total.alerts == 1 and report.total.first_response.mean == 15 * M


def test_no_alerts(Session, clock):
    report = kpis(Session, clock)
    assert report.total.alerts == 0
    assert report.total.first_response.mean is None and report.total.within[0].share is None
    assert "No alerts opened in the period." in render_kpis_text(report)


def test_period_must_be_positive(Session, clock):
    with Session() as s, pytest.raises(ValueError, match="must be positive"):
        compute_kpis(s, now=clock.now(), since=timedelta(0))


def test_percentiles_by_hand():
    assert percentile_nearest_rank([5, 1, 3], 90) == 5
    assert percentile_nearest_rank(list(range(1, 11)), 90) == 9  # 9 of 10 values are ≤ 9
    assert percentile_nearest_rank(list(range(1, 11)), 50) == 5
    assert percentile_nearest_rank([7], 90) == 7
    stats = duration_stats([H, 2 * H, 6 * H, 7 * H])
    assert (stats.mean, stats.median, stats.p90) == (4 * H, 4 * H, 7 * H)


def test_text_and_json(Session, clock, world):
    report = kpis(Session, clock)
    text = render_kpis_text(report)
    lines = text.splitlines()
    assert lines[0].startswith("Response KPIs for alerts opened 2026-03-03 09:00 UTC → 2026-03-10 09:00 UTC")
    [x_line] = [line for line in lines if line.startswith("acme   x")]
    assert "3h50m / 3h00m / 8h00m" in x_line and "20% (1/5)" in x_line and "50% (2/4)" in x_line
    data = report.to_dict()
    x = next(g for g in data["groups"] if (g["brand"], g["platform"]) == ("acme", "x"))
    assert x["first_response_seconds"] == {"count": 3, "mean": 13800.0, "median": 10800.0, "p90": 28800.0}
    assert x["answered_within"]["1h00m"] == {"answered": 1, "eligible": 5, "share": 0.2}
    assert list(x["answered_within"]) == data["thresholds"] == ["1h00m", "6h00m", "12h00m", "1d00h"]  # stable keys
    assert data["groups"][-1]["brand"] == "*"
    # For people the thresholds read as the README names them, not "≤1h00m … ≤1d00h".
    assert all(f"≤{t}" in lines[1] for t in ("1h", "6h", "12h", "24h")) and "00m" not in lines[1] and "1d" not in lines[1]


def test_digest_includes_the_kpis(Session, settings, clock, world):
    with Session() as s:
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(days=7))
    assert digest.kpis is not None and digest.kpis.total.alerts == 8  # the digest covers the configured brand only
    text = render_text(digest)
    assert "Response KPIs for alerts opened" in text and "3h50m / 3h00m / 8h00m" in text
    page = render_html(digest, settings=settings)
    assert "<h2>Response KPIs</h2>" in page and "3h50m / 3h00m / 8h00m" in page and "20% <span" in page


def test_possible_incident_alerts_are_left_out(Session, clock, alert):
    """The spike detector's alert is a signal for ops, not a customer waiting for an answer."""
    alert(3 * H, answered=20 * M)
    spike = alert(2 * H)
    with Session.begin() as s:
        s.execute(update(AlertRow).where(AlertRow.id == spike).values(rule="possible-incident"))
    x = kpis(Session, clock).group("acme", "x")
    assert (x.alerts, x.answered, x.unanswered) == (1, 1, 0)
