"""``brandpulse outreach`` (kill switch, safeguards) and ``brandpulse kpis``, end to end on SQLite."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from brandpulse.cli import main
from brandpulse.db.models import AlertRow, AuditRow, OptOutRow, OutboxRow, SendWaitRow
from tests.cli_helpers import db, invoke, write_config, x_post
from tests.conftest import BASE_CONFIG, T0


POSTS = [
    x_post(1, "Thank you @AcmeAir, lovely crew, great flight!", handle="happy", minutes=1, base_id=7000),
    x_post(2, "@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.", handle="sam", minutes=2, base_id=7000),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    rules = BASE_CONFIG["rules"] + [{"name": "praise", "when": {"label": ["positive"], "addresses_brand": True}, "then": {"draft": "thanks"}}]
    return write_config(
        tmp_path, POSTS, default_analyzer="vader", rules=rules, reply_policy={"auto_send_templates": ["thanks"]},
        safeguards={"caps": {"per_hour": 30, "per_day": 300}},
    )


def test_help():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"]).output
    assert "outreach" in top and "kpis" in top
    for args in (["outreach", "--help"], ["outreach", "pause", "--help"], ["outreach", "resume", "--help"],
                 ["outreach", "status", "--help"], ["outreach", "waive", "--help"], ["kpis", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_pause_stops_sending_until_resume(config):
    paused = invoke(config, "outreach", "pause", "--as", "ops-ana", "--reason", "wrong template").output
    assert "PAUSED for all brands" in paused
    assert "already paused" in invoke(config, "outreach", "pause", "--as", "bob").output

    run = invoke(config, "run", "--once").output
    assert "[dry-run]" not in run  # the auto-approved thank-you was not posted
    Session = db(config)
    with Session() as s:
        thanks = s.scalar(select(OutboxRow).where(OutboxRow.template == "thanks"))
        assert thanks.status == "approved"

    status = invoke(config, "outreach", "status").output
    assert "Sending: PAUSED for all brands by ops-ana" in status and "wrong template" in status
    assert "approved 1" in status

    assert "sending resumed for all brands (by ops-ana)" in invoke(config, "outreach", "resume", "--as", "ops-ana").output
    run = invoke(config, "run", "--once").output
    assert "[dry-run] would post on x as @AcmeAir in reply to 7001: Thank you @happy!" in run
    assert invoke(config, "outreach", "status").output.startswith("Sending: on")
    with Session() as s:
        assert s.get(OutboxRow, thanks.id).status == "sent"
        events = s.scalars(select(AuditRow).where(AuditRow.entity_type == "outreach").order_by(AuditRow.id)).all()
    assert [(e.action, e.actor) for e in events] == [("outreach.paused", "ops-ana"), ("outreach.resumed", "ops-ana")]


def test_pause_one_brand(config):
    invoke(config, "outreach", "pause", "--brand", "acme", "--as", "ops")
    status = invoke(config, "outreach", "status").output
    assert status.startswith("Sending: on") and "brand acme: PAUSED by ops" in status
    unknown = invoke(config, "outreach", "pause", "--brand", "nope", ok=False)
    assert unknown.exit_code == 2 and "unknown brand 'nope'" in unknown.output


def test_status_shows_holds_and_caps(config):
    invoke(config, "run", "--once")
    Session = db(config)
    with Session.begin() as s:
        sam = s.scalar(select(OutboxRow).where(OutboxRow.template == "apology"))
        s.execute(update(OutboxRow).where(OutboxRow.id == sam.id)
                  .values(status="held", hold_code="opt_out", hold_reason="@sam opted out"))
    status = invoke(config, "outreach", "status").output
    assert "held by: opt_out 1" in status
    assert "Caps per account: 30 per hour, 300 per day" in status
    assert "x @AcmeAir: 1 in the last hour, 1 in the last day" in status  # the thank-you just sent
    assert "Quiet hours: none" in status and "Per-author cooldown: 12h00m" in status


def test_status_names_the_accounts_waiting_for_a_rate_limit(config):
    invoke(config, "run", "--once")
    Session = db(config)
    now = datetime.now(timezone.utc)
    with Session.begin() as s:
        s.add(SendWaitRow(platform="x", identity="X_ACCESS_TOKEN__ACMEHELP", account="AcmeHelp",
                          until=now + timedelta(minutes=12), updated_at=now,
                          reason="X: rate limited while posting (429)"))
        s.add(SendWaitRow(platform="x", identity="X_ACCESS_TOKEN", account="AcmeAir",
                          until=now - timedelta(minutes=1), updated_at=now, reason="X: rate limited (429)"))
        s.add(SendWaitRow(platform="reddit", identity="u/acmeair_team", account="AcmeAir_Team",
                          until=now + timedelta(minutes=9), updated_at=now, reason="Reddit: RATELIMIT",
                          accounts=["", "acmeair_team"]))  # as the sender recorded it: its posts naming none too
    status = invoke(config, "outreach", "status").output
    assert "  reddit u/AcmeAir_Team, with posts naming no account waits until" in status
    until = (now + timedelta(minutes=12)).strftime("%Y-%m-%d %H:%M UTC")
    assert (f"  x @AcmeHelp (token X_ACCESS_TOKEN__ACMEHELP) waits until {until}:"
            " X: rate limited while posting (429)") in status
    assert "@AcmeAir (token" not in status  # its wait is over


def test_waive_then_approve(config):
    invoke(config, "run", "--once")
    Session = db(config)
    with Session() as s:
        sam = s.scalar(select(OutboxRow).where(OutboxRow.template == "apology"))
    out = invoke(config, "outreach", "waive", str(sam.id), "one_per_thread", "--as", "lee", "--reason", "follow-up").output
    assert f"reply #{sam.id}: one_per_thread waived by lee" in out and "approve it to send" in out
    bad = invoke(config, "outreach", "waive", str(sam.id), "opt_out", ok=False)
    assert bad.exit_code == 2  # not a choice: opt-outs are the author's decision
    missing = invoke(config, "outreach", "waive", "999", "cooldown", ok=False)
    assert missing.exit_code == 2 and "no reply with id 999" in missing.output
    with Session() as s:
        assert s.get(OutboxRow, sam.id).waived == ["one_per_thread"]


def test_opt_outs_list_and_clear(config):
    invoke(config, "run", "--once")
    Session = db(config)
    with Session.begin() as s:
        s.add(OptOutRow(brand="acme", platform="x", author_id="id-sam", author_handle="sam", word="stop",
                        posted_at=T0, recorded_at=T0))
    listing = invoke(config, "outreach", "opt-outs").output
    assert "acme  x  @sam  wrote 'stop' on 2026-03-10 09:00 UTC" in listing
    nobody = invoke(config, "outreach", "clear-opt-out", "x", "kim", ok=False)
    assert nobody.exit_code == 2 and "@kim has not opted out" in nobody.output
    out = invoke(config, "outreach", "clear-opt-out", "x", "@sam", "--as", "dana", "--reason", "asked for help").output
    assert "opt-out lifted for sam" in out
    assert invoke(config, "outreach", "opt-outs").output.strip() == "no opt-outs"


def test_kpis_text_and_json(config):
    invoke(config, "run", "--once")
    Session = db(config)
    with Session.begin() as s:
        alert = s.scalar(select(AlertRow))
        s.execute(update(AlertRow).where(AlertRow.id == alert.id)
                  .values(first_response_at=alert.opened_at + timedelta(minutes=45)))
    text = invoke(config, "kpis", "--since", "3650d").output
    assert "Response KPIs for alerts opened" in text
    assert "45m / 45m / 45m" in text and "100% (1/1)" in text
    data = json.loads(invoke(config, "kpis", "--since", "3650d", "--json", "--brand", "acme").output)
    [group, total] = data["groups"]
    assert (group["brand"], group["platform"], group["alerts"], group["answered"]) == ("acme", "x", 1, 1)
    assert group["first_response_seconds"]["median"] == 2700.0
    assert group["answered_within"]["1h00m"] == {"answered": 1, "eligible": 1, "share": 1.0}
    assert total["brand"] == "*"
    empty = json.loads(invoke(config, "kpis", "--json").output)  # the replayed day is long past
    assert empty["groups"][-1]["alerts"] == 0


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "soon"], "--since: not a duration"),
    (["--since", "0s"], "--since: the period must be positive"),
    (["--since", "999999999d"], "--since: '999999999d' is too long (at most 36500d)"),
    (["--brand", "nope"], "--brand: unknown brand 'nope'"),
])
def test_kpis_errors(config, args, message):
    result = invoke(config, "kpis", *args, ok=False)
    assert result.exit_code == 2 and message in result.output


def test_run_once_says_what_became_of_the_replies(tmp_path, monkeypatch):
    """`run --once` after approving: the user learns whether a reply went out, or why not
    and where to look, instead of only the mention and alert counts."""
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    posts = [
        x_post(1, "@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.", handle="sam",
               minutes=1, base_id=7100),
        x_post(2, "acme air lost my bag again. Terrible, awful service.", handle="kim", minutes=2, base_id=7100),
    ]
    config = write_config(tmp_path, posts, default_analyzer="vader")
    first = invoke(config, "run", "--once").output
    assert "replies: nothing was due to be sent" in first
    Session = db(config)
    with Session() as s:
        replies = {r.in_reply_to: r.id for r in s.scalars(select(OutboxRow))}
    for rid in replies.values():
        invoke(config, "replies", "approve", str(rid), "--as", "dana")
    out = invoke(config, "run", "--once").output
    assert "[dry-run] would post on x as @AcmeAir in reply to 7101" in out
    assert "replies: sent 1, manual 1" in out
    assert ("  manual 1: the network takes no reply from the bot; post it by hand at its link:"
            " brandpulse replies list --status manual") in out
