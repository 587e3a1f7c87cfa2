"""The customer wrote again after being answered, as the inbox, the digest and
the KPIs show it: a replayed conversation where @AcmeHelp answers by hand and
the customer writes again, all read in one poll."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import config_after_one_run, invoke, x_post

POSTS = [
    x_post(1, "@AcmeAir lost my bag, terrible service", handle="marisol", minutes=1),
    x_post(2, "@marisol so sorry! DM us your file reference and we'll chase it today", handle="AcmeHelp",
           minutes=31, thread="5001", reply_to="5001"),
    x_post(3, "@AcmeAir sent the DM, still no answer, my medication is in that bag. Awful", handle="marisol",
           minutes=200, thread="5001", reply_to="5002"),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, POSTS)


def test_the_alert_comes_back_with_a_clock_for_the_new_message(config):
    line = next(x for x in invoke(config, "alerts", "list").output.splitlines() if "@marisol" in x)
    assert "OVERDUE wrote again" in line and "answered" not in line  # the replayed posts are long past due
    alert_id = line.split()[0].lstrip("#")
    shown = invoke(config, "alerts", "show", alert_id).output
    assert ("The customer wrote again after being answered: message 2 is awaited"
            " (each message gets its own first-reply clock):") in shown
    assert "  1. posted 2026-03-10 09:01 UTC, P2, due 15:01, answered 2026-03-10 09:31 UTC (30m)" in shown
    assert "  2. posted 2026-03-10 12:20 UTC, P2, due 2026-03-10 18:20 UTC, not answered yet" in shown
    assert "alert.wrote_again — mention_id: 3; round: 2; answered_at: 2026-03-10T09:31:00+00:00" in shown

    digest = invoke(config, "digest", "--since", "400d").output
    assert "OVERDUE by" in digest and ", customer wrote again 2026-03-10 12:20 UTC after an answer" in digest
    html = next((config.parent / "data" / "digests").glob("*.html")).read_text()
    assert "customer wrote again 2026-03-10 12:20 UTC after an answer</span>" in html

    kpis = invoke(config, "kpis", "--since", "400d").output
    assert "wrote again" in kpis.splitlines()[1]
    total = kpis.splitlines()[2].split()
    assert total[:4] == ["acme", "x", "1", "1"] and "30m" in total  # the first message's response stands
    assert total[-2:] == ["0", "–"] and total[-3] == "1"  # one message since, not answered yet
