"""``brandpulse sources``: health, reads and spend per source; ``sources reset``."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import yaml
from click.testing import CliRunner

from brandpulse.cli import main
from brandpulse.config import load_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import SourceStateRow, SourceUsageRow
from listener.budget import month_key, next_month_start
from tests.conftest import BASE_CONFIG


@pytest.fixture
def config(tmp_path, monkeypatch):
    for name in ("BRANDPULSE_DATABASE_URL", "BRANDPULSE_CONFIG", "X_BEARER_TOKEN", "X_BEARER_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    data = json.loads(json.dumps(BASE_CONFIG))
    data["data_dir"] = "data"
    data["sources"] = [
        {"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search", "max_pages": 1,
         "max_results": 100, "monthly_budget": 10},
        {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir"},
        {"name": "x-old", "kind": "x", "brand": "acme", "endpoint": "search", "enabled": False},
    ]
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def cli(config, *args, ok=True):
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def database(config):
    engine = make_engine(load_settings(config).effective_database_url())
    upgrade(engine)
    return session_factory(engine)


def test_sources_need_no_credentials_and_show_never_polled_and_disabled(config):
    out = cli(config, "sources").output  # X_BEARER_TOKEN is not set: listing needs none
    assert "x-search (x, brand acme): never polled" in out
    assert "x-old (x, brand acme): disabled" in out
    assert "~$0.00 of $10.00 budget this month (0%)" in out


def test_over_budget_is_shown_with_its_reason_and_in_the_digest(config):
    Session = database(config)
    now = datetime.now(timezone.utc)
    with Session.begin() as s:
        s.add(SourceStateRow(source="x-search", kind="x", cursor={}, status="over_budget", posts_read=1900,
                             mentions_stored=40, consecutive_failures=0, last_success_at=now - timedelta(hours=1),
                             note="over budget: estimated spend $9.50 of $10.00 this month", updated_at=now))
        s.add(SourceUsageRow(source="x-search", month=month_key(now), polls=19, posts_read=1000, users_read=450,
                             posts_billed=1000, users_billed=450, spend=9.5, updated_at=now))
        s.add(SourceUsageRow(source="x-search", month="1999-01", polls=1, posts_read=900, users_read=0,
                             spend=4.5, updated_at=now))
        s.add(SourceStateRow(source="x-mentions", kind="x", cursor={}, status="failing", posts_read=10,
                             mentions_stored=3, consecutive_failures=1, last_error_at=now,
                             last_error="X mentions of @AcmeAir: X rejected the credentials (401); check X_BEARER_TOKEN"))
    out = cli(config, "sources").output
    block = out.split("x-search (x, brand acme): ")[1].split("\n\n")[0]
    assert block.startswith("over_budget")
    # $9.50 spent; the next poll could cost 100 posts + 100 users = $1.50: over $10
    assert "estimated spend $9.50 of $10.00 this month (1,000 posts read)" in block
    assert "next poll could cost up to $1.50" in block
    assert f"{next_month_start(now):%Y-%m-%d} 00:00 UTC (a new month)" in block
    assert "1,900 in all" in block and f"1,000 in {month_key(now)}, 450 user objects, 19 polls" in block
    assert "~$9.50 of $10.00 budget this month (95%)" in block
    assert f"  billed reads  1,000 posts, 450 user objects in {month_key(now)}\n" in block
    mentions = out.split("x-mentions (x, brand acme): ")[1].split("\n\n")[0]
    assert mentions.startswith("failing") and "check X_BEARER_TOKEN" in mentions
    assert "brandpulse sources reset x-mentions" in mentions

    digest = cli(config, "digest").output
    assert "Listening problems: the inbox may be missing complaints" in digest
    assert "x-mentions (x) FAILING" in digest and "x-search (x) OVER_BUDGET" in digest and "$9.50 of $10.00" in digest

    rows = {r["name"]: r for r in map(json.loads, cli(config, "sources", "--json").output.splitlines())}
    assert rows["x-search"]["status"] == "over_budget" and rows["x-search"]["spend_month"] == 9.5
    assert rows["x-old"]["status"] == "disabled"


def test_billed_reads_beside_posts_read_when_re_reads_were_not_billed(config):
    Session = database(config)
    now = datetime.now(timezone.utc)
    with Session.begin() as s:
        s.add(SourceUsageRow(source="x-search", month=month_key(now), polls=30, posts_read=1200, users_read=900,
                             posts_billed=1100, users_billed=150, spend=7.0, updated_at=now))
    block = cli(config, "sources").output.split("x-search (x, brand acme): ")[1].split("\n\n")[0]
    assert f"1,200 in {month_key(now)}, 900 user objects, 30 polls" in block
    assert (f"  billed reads  1,100 posts, 150 user objects in {month_key(now)} (the rest were re-read the same"
            " UTC day, which X does not bill again)") in block
    assert "~$7.00 of $10.00 budget this month (70%)" in block
    rows = {r["name"]: r for r in map(json.loads, cli(config, "sources", "--json").output.splitlines())}
    assert (rows["x-search"]["posts_read_month"], rows["x-search"]["posts_billed_month"],
            rows["x-search"]["users_read_month"], rows["x-search"]["users_billed_month"]) == (1200, 1100, 900, 150)


def test_a_raised_budget_or_a_new_month_shows_ok_again(config):
    Session = database(config)
    now = datetime.now(timezone.utc)
    with Session.begin() as s:
        s.add(SourceStateRow(source="x-search", kind="x", cursor={}, status="over_budget", posts_read=0,
                             mentions_stored=0, consecutive_failures=0, note="over budget", updated_at=now))
    out = cli(config, "sources").output  # nothing spent this month: it polls at its next run
    assert "x-search (x, brand acme): ok" in out and "at its next scheduled run (every 5m)" in out


def test_reset(config):
    Session = database(config)
    with Session.begin() as s:
        s.add(SourceStateRow(source="x-mentions", kind="x", cursor={}, status="failing", posts_read=0,
                             mentions_stored=0, consecutive_failures=3, last_error="401"))
    unknown = cli(config, "sources", "reset", "nope", ok=False)
    assert unknown.exit_code == 2 and "no source named 'nope'" in unknown.output and "x-search" in unknown.output
    assert "x-mentions reset" in cli(config, "sources", "reset", "x-mentions", "--as", "alice").output
    with Session() as s:
        st = s.get(SourceStateRow, "x-mentions")
        assert st.status == "ok" and st.consecutive_failures == 0
    not_failing = cli(config, "sources", "reset", "x-search", ok=False)
    assert not_failing.exit_code == 2 and "not failing (status: never polled)" in not_failing.output


def test_a_reddit_source_says_which_account_it_reads_as(tmp_path, monkeypatch):
    for name in ("BRANDPULSE_DATABASE_URL", "BRANDPULSE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    data = json.loads(json.dumps(BASE_CONFIG))
    data["data_dir"] = "data"
    data["brands"][0]["accounts"]["reddit"] = ["AcmeAir_Team", "Acme_Care"]
    data["sources"] = [{"name": "r-care", "kind": "reddit", "brand": "acme", "listing": "comments", "account": "acme_care"},
                       {"name": "r-default", "kind": "reddit", "brand": "acme", "listing": "submissions"}]
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(data))
    out = cli(path, "sources").output  # no Reddit credentials needed to list
    assert "r-care (reddit, brand acme, reads as u/acme_care): never polled" in out
    assert "r-default (reddit, brand acme): never polled" in out
    rows = {r["name"]: r for r in map(json.loads, cli(path, "sources", "--json").output.splitlines())}
    assert (rows["r-care"]["account"], rows["r-default"]["account"]) == ("acme_care", None)


def test_deferred_while_the_platforms_wait_holds_then_ok(config):
    Session = database(config)
    now = datetime.now(timezone.utc)
    limited = "X search: rate limited (429); not before the reset"
    with Session.begin() as s:
        s.add(SourceStateRow(source="x-search", kind="x", cursor={}, status="deferred", posts_read=10,
                             mentions_stored=2, consecutive_failures=1, last_error_at=now - timedelta(minutes=1),
                             last_error=limited, next_poll_at=now + timedelta(minutes=14, seconds=30)))
        s.add(SourceStateRow(source="x-mentions", kind="x", cursor={}, status="deferred", posts_read=10,
                             mentions_stored=2, consecutive_failures=1, last_error_at=now - timedelta(minutes=30),
                             last_error=limited, next_poll_at=now - timedelta(minutes=15)))
    out = cli(config, "sources").output
    search = out.split("x-search (x, brand acme): ")[1].split("\n\n")[0]
    assert search.startswith("deferred") and "(in 14m; the platform's rate limit)" in search
    # Its wait is over: it polls at its next run, so it is not shown as held back (the last error stays listed).
    mentions = out.split("x-mentions (x, brand acme): ")[1].split("\n\n")[0]
    assert mentions.startswith("ok\n") and "next poll     at its next scheduled run (every " in mentions
    assert f"last error    {(now - timedelta(minutes=30)):%Y-%m-%d %H:%M} UTC: {limited}" in mentions
    rows = {r["name"]: r for r in map(json.loads, cli(config, "sources", "--json").output.splitlines())}
    assert (rows["x-search"]["status"], rows["x-mentions"]["status"]) == ("deferred", "ok")
