"""What a community manager meets working the inbox from the command line:
each test is a fix found by walking through `alerts` and `replies` after a run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import config_after_one_run, invoke, x_post

POSTS = [
    x_post(1, "@AcmeAir lost my bag, terrible service", handle="marisol", minutes=1),
    x_post(2, "@AcmeAir your app charged me twice, awful", handle="carla", minutes=40),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, POSTS)


def _alert_id(config: Path, handle: str) -> str:
    out = invoke(config, "alerts", "list", "--status", "open", "--status", "acknowledged", "--status", "resolved",
                 "--status", "dismissed").output
    return next(line for line in out.splitlines() if f"@{handle} " in line).split()[0].lstrip("#")


def test_a_reopen_by_hand_is_audited_as_reopened_not_as_opened(config):
    alert = _alert_id(config, "marisol")
    invoke(config, "alerts", "resolve", alert, "--as", "alice")
    invoke(config, "alerts", "reopen", alert, "--as", "bob")
    history = invoke(config, "alerts", "show", alert).output.split("History:")[1]
    assert "bob: alert.reopened" in history and "alert.open\n" not in history + "\n"


def test_a_refused_change_says_who_has_the_alert_or_since_when_it_is_closed(config):
    alert = _alert_id(config, "marisol")
    invoke(config, "alerts", "ack", alert, "--as", "alice")
    refused = invoke(config, "alerts", "ack", alert, "--as", "bob", ok=False)
    assert refused.exit_code == 2
    assert f"error: alert {alert} is acknowledged (assigned to alice); 'ack' needs it to be open" in refused.output
    invoke(config, "alerts", "resolve", alert, "--as", "alice")
    refused = invoke(config, "alerts", "dismiss", alert, "--as", "bob", ok=False).output
    assert f"error: alert {alert} is resolved 20" in refused and " UTC (assigned to alice); 'dismiss' needs" in refused


def test_a_closed_alert_is_listed_with_when_it_was_closed_not_an_sla_countdown(config):
    alert = _alert_id(config, "carla")
    invoke(config, "alerts", "dismiss", alert, "--as", "alice", "--reason", "not a complaint")
    line = invoke(config, "alerts", "list", "--status", "dismissed").output.splitlines()[0]
    assert line.startswith(f"#{alert} ") and " dismissed    20" in line and " UTC  x      @carla" in line
    assert "SLA" not in line and "OVERDUE" not in line


def test_an_empty_listing_says_what_it_looked_for(config):
    assert invoke(config, "alerts", "list", "--mine", "nobody").output == (
        "no open or acknowledged alerts assigned to nobody\n")
    assert invoke(config, "alerts", "list", "--status", "resolved", "--brand", "acme").output == (
        "no resolved alerts of brand acme\n")
    assert invoke(config, "replies", "list", "--status", "sent").output == "no sent replies\n"


def test_approving_the_reply_of_a_dismissed_alert_says_so(config):
    from sqlalchemy import select

    from brandpulse.db.models import OutboxRow
    from tests.cli_helpers import db

    alert = _alert_id(config, "carla")
    with db(config)() as s:
        reply = s.scalar(select(OutboxRow.id).where(OutboxRow.alert_id == int(alert)))
    invoke(config, "alerts", "dismiss", alert, "--as", "alice", "--reason", "not a complaint")
    out = invoke(config, "replies", "approve", str(reply), "--as", "bob").output
    assert f"note: its alert #{alert} is dismissed; the reply still goes out" in out
    other = _alert_id(config, "marisol")
    with db(config)() as s:
        open_reply = s.scalar(select(OutboxRow.id).where(OutboxRow.alert_id == int(other)))
    assert "note:" not in invoke(config, "replies", "approve", str(open_reply), "--as", "bob").output


def test_alerts_show_says_which_post_each_reply_answers(tmp_path, monkeypatch):
    """The draft follows the customer's newest post; the manager sees which one it answers."""
    config = config_after_one_run(tmp_path, monkeypatch, [
        x_post(1, "@AcmeAir lost my bag, terrible service", handle="ana", minutes=1),
        x_post(2, "@AcmeAir still no bag, awful", handle="ana", minutes=90, thread="5001", reply_to="5001"),
    ])
    alert = _alert_id(config, "ana")
    replies = invoke(config, "alerts", "show", alert).output.split("Replies:")[1]
    assert "[drafted] to the post of 2026-03-10 10:30 UTC via x as @AcmeAir: " in replies
