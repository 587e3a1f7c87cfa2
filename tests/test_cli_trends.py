"""``brandpulse trends``, end to end on SQLite: replayed posts scored by the
pipeline, then the command's text, JSON and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from brandpulse.cli import main
from tests.cli_helpers import invoke, write_config, x_post

POSTS = [
    x_post(1, "@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.", handle="sam", minutes=1, base_id=8000),
    x_post(2, "Thank you @AcmeAir, lovely crew, great flight!", handle="happy", minutes=70, base_id=8000),
    x_post(3, "Acme Air lost my bag, worst airline ever, I am furious", handle="famous", minutes=75, base_id=8000),
    x_post(4, "Acme Air news: our new route to Lisbon starts today", handle="AcmeAir", minutes=80, base_id=8000),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    return write_config(tmp_path, POSTS, default_analyzer="vader")


def test_help():
    runner = CliRunner()
    assert "trends" in runner.invoke(main, ["--help"]).output
    result = runner.invoke(main, ["trends", "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output and "--by [hour|day|week]" in result.output


def test_trends_text_and_json(config):
    invoke(config, "run", "--once")
    # The posts are from 2026-03-10 09:01 to 10:20 UTC; the clock is now, so look far back.
    data = json.loads(invoke(config, "trends", "--since", "3650d", "--by", "week", "--json").output)
    [group, total] = data["groups"]
    assert (group["brand"], group["platform"], total["brand"], total["platform"]) == ("acme", "x", "*", "*")
    # the brand's own post is left out; vader reads the two complaints as negative, the thanks as positive
    assert group["total"] == {"mentions": 3, "negative": 2, "neutral": 0, "positive": 1, "unknown": 0,
                              "unscored": 0, "scored": 3, "negative_share": 0.6667, "net_sentiment": -0.3333}
    week = [b for b in group["buckets"] if b["mentions"]]
    assert [(b["start"], b["mentions"]) for b in week] == [("2026-03-09T00:00:00+00:00", 3)]
    assert sum(b["mentions"] for b in group["buckets"]) == 3
    assert data["filters"] == {"brands": ["acme"], "platform": None}
    reddit = json.loads(invoke(config, "trends", "--since", "3650d", "--by", "week", "--platform", "reddit", "--json").output)
    assert [g["brand"] for g in reddit["groups"]] == ["*"] and reddit["groups"][0]["total"]["mentions"] == 0
    text = invoke(config, "trends", "--since", "3650d", "--by", "week", "--brand", "acme").output
    assert "acme · x: 3 mentions vs 0 the previous 3650 days; negative share 67% vs –; net sentiment -0.33 vs –" in text
    assert "week of 2026-03-09" in text
    recent = invoke(config, "trends").output  # the last 30 days: the replayed posts are long past
    assert "No mentions in the period or the previous 30 days." in recent


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "soon"], "--since: not a duration"),
    (["--since", "0s"], "--since: the period must be positive, got '0s'"),
    (["--since", "999999999d"], "--since: '999999999d' is too long (at most 36500d)"),
    (["--since", "90d", "--by", "hour"], "--since: 90 days by hour make about 2160 buckets (at most 1000)"),
    (["--by", "month"], "Invalid value for '--by': 'month' is not one of 'hour', 'day', 'week'"),
    (["--platform", "myspace"], "Invalid value for '--platform': 'myspace' is not one of 'x', 'reddit'"),
    (["--brand", "nope"], "--brand: unknown brand 'nope' (known: acme)"),
])
def test_trends_errors(config, args, message):
    result = invoke(config, "trends", *args, ok=False)
    assert result.exit_code == 2 and message in result.output
