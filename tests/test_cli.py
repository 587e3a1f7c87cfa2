"""The command line, end to end on SQLite: run → alerts → replies, audited."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from brandpulse.cli import main
from brandpulse.db.models import AlertRow, AuditRow, MentionRow, OutboxRow
from tests.cli_helpers import db, invoke, write_config, write_demo_config, x_post
from tests.conftest import BASE_CONFIG


POSTS = [
    x_post(1, "@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.", handle="sam", minutes=1),
    x_post(2, "@AcmeAir still waiting, this is horrible and useless", handle="sam", thread="5001", reply_to="5001", minutes=5),
    x_post(3, "Acme Air lost my bag, worst airline ever, I am furious", handle="famous", followers=250_000, minutes=7),
    x_post(4, "Thank you @AcmeAir, lovely crew, great flight!", handle="happy", minutes=9),
    x_post(5, "Acme Air news: our new route to Lisbon starts today", handle="AcmeAir", minutes=10),
    x_post(6, "<script>alert(1)</script> Acme Air is awful & broken", handle="hacker", minutes=11),
]


@pytest.fixture
def cli_config(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    rules = BASE_CONFIG["rules"] + [
        {"name": "praise", "when": {"label": ["positive"], "addresses_brand": True}, "then": {"draft": "thanks", "tags": ["praise"]}}
    ]
    return write_config(tmp_path, POSTS, rules=rules, reply_policy={"auto_send_templates": ["thanks"]})


def test_help_lists_every_subcommand_and_each_has_help():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for name in ("demo", "run", "db", "alerts", "replies", "digest"):
        assert name in top.output
    for args in (["alerts", "--help"], ["alerts", "next", "--help"], ["replies", "approve", "--help"], ["db", "upgrade", "--help"], ["digest", "--help"], ["run", "--help"], ["demo", "--help"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage:" in result.output, args


def test_config_error_stops_everything_with_a_clear_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("brands:\n  - id: acme\n    name: Acme\nsources:\n  - {name: s, kind: carrier-pigeon, brand: acme}\n")
    result = CliRunner().invoke(main, ["--config", str(bad), "run", "--once"])
    assert result.exit_code == 2
    assert f"{bad}: sources[0].kind: unknown source kind 'carrier-pigeon'" in result.output
    assert not (tmp_path / "data").exists()  # nothing started, no database created


def test_a_missing_config_file_named_by_brandpulse_config_says_the_variable_named_it(tmp_path, monkeypatch):
    missing = tmp_path / "old-place.yaml"
    monkeypatch.setenv("BRANDPULSE_CONFIG", str(missing))
    result = CliRunner().invoke(main, ["alerts", "list"])
    assert result.exit_code == 2
    assert f"{missing}: file not found (named by $BRANDPULSE_CONFIG; correct or unset it, or give --config FILE)" in result.output
    # given on the command line, the file is the one the person just typed: no variable to blame
    result = CliRunner().invoke(main, ["--config", str(missing), "alerts", "list"])
    assert result.exit_code == 2 and f"{missing}: file not found\n" in result.output
    assert "BRANDPULSE_CONFIG" not in result.output


def test_template_error_is_caught_at_load(cli_config):
    config = yaml.safe_load(cli_config.read_text())
    config["templates"]["apology"] = {"text": "Hi {{ author.handel }}"}
    cli_config.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["--config", str(cli_config), "run", "--once"])
    assert result.exit_code == 2 and "templates.apology" in result.output


def test_incident_template_error_is_caught_at_load(cli_config):
    config = yaml.safe_load(cli_config.read_text())
    config["incidents"] = {"templates": {"x_post": {"text": "{{ incident.titel }} is down"}}}
    cli_config.write_text(yaml.safe_dump(config))
    result = CliRunner().invoke(main, ["--config", str(cli_config), "alerts", "list"])
    assert result.exit_code == 2 and "incidents.templates.x_post" in result.output and "titel" in result.output


def test_run_once_then_work_the_inbox(cli_config):
    out = invoke(cli_config, "run", "--once").output
    assert "6 mentions stored" in out

    Session = db(cli_config)
    with Session() as s:
        alerts = s.scalars(select(AlertRow).order_by(AlertRow.id)).all()
        by_author = {a.author_handle: a for a in alerts}
        own = s.scalar(select(MentionRow).where(MentionRow.author_handle == "AcmeAir"))
        assert own.is_own
        assert "AcmeAir" not in by_author  # the brand's own post never becomes an alert
        assert by_author["sam"].mention_count == 2  # the follow-up joined the first alert
        famous = by_author["famous"]
        assert famous.priority <= by_author["sam"].priority  # P1 sorts before P2
        replies = s.scalars(select(OutboxRow)).all()
        thanks = [r for r in replies if r.template == "thanks"]
        assert thanks and thanks[0].status == "sent"  # auto-approved and posted by the dry-run channel

    listing = invoke(cli_config, "alerts", "list").output
    assert listing.index("@famous") < listing.index("@sam")  # most urgent first

    taken = invoke(cli_config, "alerts", "next", "--as", "alice").output
    assert "assigned to alice" in taken and "@famous" in taken
    assert "The author's other mentions (every network, newest first): none" in taken

    show = invoke(cli_config, "alerts", "show", str(by_author["sam"].id)).output
    assert "still waiting" in show and "cancelled" in show  # the whole conversation

    invoke(cli_config, "alerts", "ack", str(famous.id), "--as", "alice")
    invoke(cli_config, "alerts", "resolve", str(famous.id), "--as", "alice", "--note", "bag found")
    again = invoke(cli_config, "alerts", "resolve", str(famous.id), "--as", "alice", ok=False)
    assert again.exit_code == 2 and "is resolved" in again.output
    invoke(cli_config, "alerts", "dismiss", str(by_author["hacker"].id), "--as", "bob", "--reason", "not a complaint")
    missing = invoke(cli_config, "alerts", "show", "9999", ok=False)
    assert missing.exit_code == 2 and "no alert with id 9999" in missing.output

    with Session() as s:
        events = s.scalars(select(AuditRow).where(AuditRow.entity_type == "alert", AuditRow.entity_id == str(famous.id)).order_by(AuditRow.id)).all()
        trail = [(e.actor, e.action) for e in events]
        assert ("alice", "alert.assigned") in trail
        assert ("alice", "alert.acknowledged") in trail
        assert ("alice", "alert.resolved") in trail
        assert all(e.at is not None for e in events)
        dismissed = s.get(AlertRow, by_author["hacker"].id)
        assert dismissed.status == "dismissed" and dismissed.resolution_note == "not a complaint"

        sam_reply = s.scalar(select(OutboxRow).where(OutboxRow.alert_id == by_author["sam"].id))
        assert sam_reply.status == "drafted" and sam_reply.in_reply_to == "5002"  # answers the latest post

    pending = invoke(cli_config, "replies", "list").output
    assert f"#{sam_reply.id}" in pending
    invoke(cli_config, "replies", "edit", str(sam_reply.id), "--as", "carol", "--text", "Hi @sam, so sorry. DM us?")
    invoke(cli_config, "replies", "approve", str(sam_reply.id), "--as", "dave")
    twice = invoke(cli_config, "replies", "approve", str(sam_reply.id), "--as", "dave", ok=False)
    assert twice.exit_code == 2
    with Session() as s:
        trail = [(e.actor, e.action) for e in s.scalars(select(AuditRow).where(AuditRow.entity_type == "outbox", AuditRow.entity_id == str(sam_reply.id)).order_by(AuditRow.id))]
        assert ("carol", "reply.edited") in trail and ("dave", "reply.approved") in trail
        assert s.get(OutboxRow, sam_reply.id).text == "Hi @sam, so sorry. DM us?"

    # the next run sends the approved reply through the dry-run channel, once
    sent = invoke(cli_config, "run", "--once").output
    assert "Hi @sam, so sorry. DM us?" in sent
    assert "Hi @sam, so sorry" not in invoke(cli_config, "run", "--once").output

    digest = invoke(cli_config, "digest", "--since", "7d").output
    assert "HTML digest:" in digest
    html_path = Path(digest.split("HTML digest:")[1].strip())
    page = html_path.read_text()
    assert "<script>alert(1)</script>" not in page


def test_demo_runs_end_to_end(tmp_path, monkeypatch):
    path = write_demo_config(tmp_path)
    out = invoke(path, "demo", "--seconds", "3").output
    assert "Mentions stored: 396" in out  # 398 recorded, 2 unrelated "kestrel" posts excluded by the query
    assert "Alerts:" in out and "Drafted replies:" in out and "Digest:" in out
    assert list((tmp_path / "data" / "digests").glob("digest-*.html"))
    assert re.search(r"^Sentiment: negative \d+, neutral \d+, positive \d+, unknown \d+$", out, re.M), out
    again = invoke(path, "demo", "--seconds", "3", "--keep-db").output  # the same day again: all duplicates
    assert "Mentions stored: 396" in again
    assert "Sentiment: no post scored in this run (the kept database already held them all)" in again
    # The README's walkthrough, with the ids it names.
    assert "#9     P1 open" in invoke(path, "alerts", "next", "--as", "alice").output
    shown = invoke(path, "alerts", "show", "9").output
    assert "@the_maya_quinn" in shown and "lost my bag" in shown and "reply #10 [drafted]" in shown
    invoke(path, "replies", "approve", "10", "--as", "alice", "--text", "Hi @the_maya_quinn, …")
    # @the_maya_quinn wrote #KestrelAir, not @KestrelAir: X takes no API reply to her post, and the dry run says so
    sent = invoke(path, "run", "--once").output
    assert "[dry-run] would not post on x as @KestrelAir in reply to" in sent and "reply by hand: https://x.com/" in sent
    assert "#10    manual    alert #9 x as @KestrelAir" in invoke(path, "replies", "list", "--status", "manual").output
    assert "alert #9 is now resolved (by alice)" in invoke(path, "alerts", "resolve", "9", "--as", "alice", "--note", "bag delivered").output
