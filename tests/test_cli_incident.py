"""``brandpulse incident``: open, update, resolve, list, show — audited with --as,
posted through the outbox (dry-run channel), complaints linked by `run`."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from brandpulse.cli import main
from brandpulse.db.models import AlertRow, AuditRow, IncidentMentionRow, IncidentRow, MentionRow, OutboxRow
from tests.cli_helpers import db, invoke, write_config, x_post
from tests.conftest import T0


POSTS = [
    x_post(1, "@AcmeHelp the Acme Air app is down and I cannot check in. Terrible, useless.", handle="ana", minutes=1, base_id=7000),
    x_post(2, "@AcmeHelp Acme Air lost my bag, awful service, furious", handle="ben", minutes=2, base_id=7000),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    incidents = {"brands": {"acme": {"x": {"account": "AcmeAir"}, "reddit": {"subreddit": "AcmeAir", "account": "AcmeAir_Team"}}}}
    return write_config(tmp_path, POSTS, incidents=incidents)


def test_help():
    runner = CliRunner()
    assert "incident" in runner.invoke(main, ["--help"]).output
    for sub in ("open", "update", "resolve", "list", "show"):
        result = runner.invoke(main, ["incident", sub, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, sub


def test_the_lifecycle_from_the_command_line_is_audited(config):
    out = invoke(config, "incident", "open", "--title", "App check-in errors", "--components", "app,check-in",
                 "--message", "Errors when checking in on the app.", "--as", "dana").output
    assert "incident #1 opened (investigating) for acme by dana" in out
    assert "keywords: app, check-in" in out
    assert "x post as @AcmeAir [approved]" in out and "reddit submission r/AcmeAir as u/AcmeAir_Team [approved]" in out
    out = invoke(config, "incident", "update", "1", "--status", "identified", "--message", "A bad release.", "--as", "lee").output
    assert "incident #1 is now identified (by lee)" in out and "reddit comment" in out
    invoke(config, "incident", "update", "1", "--status", "monitoring", "--message", "Rolled back.", "--as", "lee")
    out = invoke(config, "incident", "resolve", "1", "--message", "Fixed.", "--as", "dana").output
    assert "incident #1 is resolved (by dana)" in out and "follow-ups: 0 drafted" in out

    bad = invoke(config, "incident", "update", "1", "--status", "identified", "--message", "again", "--as", "x", ok=False)
    assert bad.exit_code == 2 and "nothing follows resolved" in bad.output
    bad = invoke(config, "incident", "resolve", "9", "--message", "Fixed.", ok=False)
    assert bad.exit_code == 2 and "no incident with id 9" in bad.output
    bad = invoke(config, "incident", "update", "1", "--status", "resolved", "--message", "x", ok=False)
    assert bad.exit_code == 2 and "'resolved' is not one of" in bad.output

    with db(config)() as s:
        events = s.execute(select(AuditRow.action, AuditRow.actor).where(AuditRow.entity_type == "incident")
                           .order_by(AuditRow.id)).all()
        assert events == [("incident.opened", "dana"), ("incident.updated", "lee"), ("incident.updated", "lee"),
                          ("incident.resolved", "dana")]
        posts = s.scalars(select(OutboxRow).where(OutboxRow.kind == "status").order_by(OutboxRow.id)).all()
        assert [(p.platform, p.status) for p in posts] == [("x", "approved"), ("reddit", "approved")] * 4
        queued = s.scalars(select(AuditRow.actor).where(AuditRow.action == "status.queued")).all()
        assert queued == ["dana"] * 2 + ["lee"] * 4 + ["dana"] * 2

    assert "no open incidents" in invoke(config, "incident", "list").output
    listed = invoke(config, "incident", "list", "--all").output
    assert "#1" in listed and "resolved" in listed and "App check-in errors" in listed
    shown = invoke(config, "incident", "show", "1").output
    for text in ("investigating by dana: Errors when checking in on the app.", "identified    by lee: A bad release.",
                 "waiting for", "Linked complaints: 0", "incident.resolved"):
        assert text in shown, text


def test_run_posts_the_thread_and_links_complaints(config):
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana")
    out = invoke(config, "run", "--once").output
    assert "[dry-run] would post on x as @AcmeAir: Investigating: App down" in out
    assert "[dry-run] would post on reddit in r/AcmeAir as u/AcmeAir_Team [Acme Air status: App down" in out
    with db(config)() as s:
        incident = s.get(IncidentRow, 1)
        assert incident.x_root_id and incident.reddit_root_id
        [link] = s.scalars(select(IncidentMentionRow)).all()
        mention = s.get(MentionRow, link.mention_id)
        assert mention.author_handle == "ana"
        reply = s.scalars(select(OutboxRow).where(OutboxRow.mention_id == mention.id)).one()
        assert reply.template == "incident_reply" and "we know about this (App down)" in reply.text
        ben = s.scalars(select(OutboxRow).join(MentionRow, MentionRow.id == OutboxRow.mention_id)
                        .where(MentionRow.author_handle == "ben")).one()
        assert ben.template == "apology"
        alert = s.get(AlertRow, link.alert_id)
        assert "incident:1" in alert.tags
    shown = invoke(config, "incident", "show", "1").output
    assert "Linked complaints: 1" in shown and "@ana" in shown and "[sent dry-run-" in shown


def test_open_from_a_possible_incident_alert(config):
    invoke(config, "run", "--once")  # stores the mentions (and alerts) the suggested alert points to
    with db(config).begin() as s:
        mention_id = s.scalars(select(MentionRow.id)).first()
        alert = AlertRow(brand="acme", platform="x", author_id="brandpulse:spike", author_handle="spike-detector",
                         mention_id=mention_id, last_mention_id=mention_id, rule="possible-incident", priority="P1",
                         priority_score=1.0, status="open", tags=["possible-incident"], opened_at=T0, created_at=T0,
                         sla_due_at=T0 + timedelta(hours=1), last_mention_at=T0,
                         note="Possible incident: 30 negative mentions\nOpen an incident: brandpulse incident open ...")
        s.add(alert)
        s.flush()
        alert_id = alert.id
        other = s.scalars(select(AlertRow.id).where(AlertRow.rule != "possible-incident")).first()
    shown = invoke(config, "alerts", "show", str(alert_id)).output
    assert "Possible incident: 30 negative mentions" in shown and "Open an incident: brandpulse incident open" in shown
    bad = invoke(config, "incident", "open", "--title", "x", "--from-alert", str(other), ok=False)
    assert bad.exit_code == 2 and "not a possible-incident alert" in bad.output
    out = invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--from-alert", str(alert_id),
                 "--as", "dana").output
    assert f"possible-incident alert #{alert_id} resolved" in out
    with db(config)() as s:
        alert = s.get(AlertRow, alert_id)
        assert (alert.status, alert.resolution_note) == ("resolved", "incident #1 opened")
        actors = s.execute(select(AuditRow.action, AuditRow.actor).where(
            AuditRow.entity_type == "alert", AuditRow.entity_id == str(alert_id))).all()
        assert ("alert.resolved", "dana") in actors


def test_a_too_long_message_is_refused_with_nothing_saved(config):
    result = invoke(config, "incident", "open", "--title", "App down", "--message", "word " * 80, ok=False)
    assert result.exit_code == 2 and "X post" in result.output and "nothing was posted or saved" in result.output
    assert "no incidents" in invoke(config, "incident", "list", "--all").output
