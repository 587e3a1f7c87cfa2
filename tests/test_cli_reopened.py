"""The customer wrote again after their alert was resolved, read through the
poller (a replay source, `brandpulse run --once`): the resolved alert comes
back as a new round with its own clock, the resolution kept for the KPIs;
the brand's own posts, other authors in the thread, a "thanks!" and a post
under a dismissed alert bring nothing back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from brandpulse.db.models import AlertRoundRow, AlertRow
from tests.cli_helpers import config_after_one_run, db, invoke, x_post

FIRST = [
    x_post(1, "@AcmeAir lost my bag, terrible service", handle="marisol", minutes=1),
    x_post(2, "@marisol so sorry! DM us your file reference and we'll chase it today", handle="AcmeHelp",
           minutes=31, thread="5001", reply_to="5001"),
    x_post(3, "@AcmeAir your app charged me twice, awful", handle="carla", minutes=40),
    x_post(4, "@AcmeAir the lounge was dirty and the staff rude, awful", handle="dan", minutes=50),
]
LATER = [
    # Another customer in marisol's thread: an alert of their own.
    x_post(10, "@AcmeAir same here, lost my bag too, terrible", handle="bob", minutes=300, thread="5001",
           reply_to="5001"),
    # The brand's own post in the thread.
    x_post(11, "@marisol glad we could help!", handle="AcmeHelp", minutes=310, thread="5001", reply_to="5001"),
    # marisol again, after the resolution: her alert comes back.
    x_post(12, "@AcmeAir the bag you delivered is broken and soaked, terrible", handle="marisol", minutes=320,
           thread="5001", reply_to="5011"),
    # carla again under her dismissed alert: a new alert, the dismissed one stays as it was.
    x_post(13, "@AcmeAir still charged twice, awful", handle="carla", minutes=330, thread="5003", reply_to="5003"),
    # dan thanks the brand: nothing to answer, his alert stays resolved.
    x_post(14, "@AcmeAir thank you, great help, lovely staff", handle="dan", minutes=340, thread="5004",
           reply_to="5004"),
]


def _alert_id(config: Path, handle: str, *statuses: str) -> int:
    out = invoke(config, "alerts", "list", *[a for s in statuses for a in ("--status", s)]).output
    return int(next(line for line in out.splitlines() if f"@{handle} " in line).split()[0].lstrip("#"))


def _read_later(config: Path) -> None:
    path = config.parent / "mentions.jsonl"
    path.write_text(path.read_text() + "\n".join(json.dumps(p) for p in LATER) + "\n")
    invoke(config, "run", "--once")


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, FIRST)


def test_a_post_after_the_resolution_reopens_the_alert_as_a_new_round(config):
    marisol, carla, dan = (_alert_id(config, h) for h in ("marisol", "carla", "dan"))
    invoke(config, "alerts", "ack", str(marisol), "--as", "alice")
    invoke(config, "alerts", "resolve", str(marisol), "--as", "alice", "--note", "bag delivered")
    invoke(config, "alerts", "dismiss", str(carla), "--as", "alice", "--reason", "spam")
    invoke(config, "alerts", "resolve", str(dan), "--as", "alice", "--note", "called him")
    _read_later(config)

    line = next(x for x in invoke(config, "alerts", "list").output.splitlines() if "@marisol" in x)
    assert line.startswith(f"#{marisol} ") and "open" in line
    assert "OVERDUE wrote again after it was resolved" in line and "(2 posts)" in line
    shown = invoke(config, "alerts", "show", str(marisol)).output
    assert ("The customer wrote again after it was resolved: message 2 is awaited"
            " (each message gets its own first-reply clock):") in shown
    assert "  1. posted 2026-03-10 09:01 UTC, P2, due 15:01, answered 2026-03-10 09:31 UTC (30m), resolved" in shown
    assert "  2. posted 2026-03-10 14:20 UTC, P2, due 2026-03-10 20:20 UTC, not answered yet" in shown
    assert "\n  note: bag delivered" not in shown  # cleared from the alert; kept in its history
    assert "alice: alert.resolved — note: bag delivered" in shown
    assert "brandpulse: alert.reopened — mention_id: " in shown and "; round: 2; answered_at: 2026-03-10T09:31" in shown
    assert "reply #" in shown  # the new message got its drafted reply

    with db(config)() as s:
        alerts = {a.id: a for a in s.scalars(select(AlertRow))}
        assert len(alerts) == 5  # marisol, carla, dan, bob, carla's new one: no alert for the brand or a thanks
        assert alerts[marisol].resolved_at is None and alerts[marisol].reopened_at is not None
        assert alerts[marisol].assignee == "alice"  # kept: she handled the conversation
        (kept,) = s.scalars(select(AlertRoundRow).where(AlertRoundRow.alert_id == marisol)).all()
        assert kept.resolved_at is not None and kept.first_response_at is not None
        assert (alerts[carla].status, alerts[carla].mention_count) == ("dismissed", 1)
        assert (alerts[dan].status, alerts[dan].mention_count) == ("resolved", 1)
        bob = next(a for a in alerts.values() if a.author_handle == "bob")
        assert (bob.thread_id, bob.status, bob.mention_count) == ("5001", "open", 1)
        assert next(a for a in alerts.values() if a.author_handle == "carla" and a.id != carla).status == "open"

    digest = invoke(config, "digest", "--since", "400d").output
    assert ", customer wrote again 2026-03-10 14:20 UTC after it was resolved" in digest
    html = next((config.parent / "data" / "digests").glob("*.html")).read_text()
    assert "customer wrote again 2026-03-10 14:20 UTC after it was resolved</span>" in html

    data = json.loads(invoke(config, "kpis", "--since", "400d", "--json").output)
    total = data["groups"][-1]
    # 4 alerts counted (carla's dismissed one left out); marisol's first message keeps its answer and resolution
    assert (total["alerts"], total["answered"], total["resolved"]) == (4, 1, 2)
    assert total["first_response_seconds"]["mean"] == 1800.0
    assert total["wrote_again"] == {"messages": 1, "answered": 0,
                                    "first_response_seconds": {"count": 0, "mean": None, "median": None, "p90": None}}
    assert (total["reopened"]["messages"], total["reopened"]["resolved"]) == (1, 0)
    text = invoke(config, "kpis", "--since", "400d").output
    assert "reopened" in text.splitlines()[1] and "resolved again" in text.splitlines()[1]

    # Resolved again: the reopened message's resolution is measured; the alert's first resolution stands.
    invoke(config, "alerts", "resolve", str(marisol), "--as", "alice", "--note", "new bag sent")
    again = json.loads(invoke(config, "kpis", "--since", "400d", "--json").output)["groups"][-1]
    assert again["resolved"] == 2 and again["resolution_seconds"] == total["resolution_seconds"]
    assert (again["reopened"]["messages"], again["reopened"]["resolved"]) == (1, 1)
