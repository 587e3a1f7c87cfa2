"""``brandpulse incident``: open, update, resolve, list, show — audited with --as,
posted through the outbox (dry-run channel), complaints linked by `run`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
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
    for sub in ("open", "update", "resolve", "cancel", "keywords", "link", "unlink", "list", "show"):
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
    assert bad.exit_code == 2 and "to resolve incident #1, run `brandpulse incident resolve 1 --message …`" in bad.output

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


@pytest.mark.parametrize("since", [None, "1h"])
def test_open_from_a_possible_incident_alert(config, since):
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
                 *(["--since", since] if since else []), "--as", "dana").output
    assert f"possible-incident alert #{alert_id} resolved" in out
    with db(config)() as s:
        alert = s.get(AlertRow, alert_id)
        assert (alert.status, alert.resolution_note) == ("resolved", "incident #1 opened")
        actors = s.execute(select(AuditRow.action, AuditRow.actor).where(
            AuditRow.entity_type == "alert", AuditRow.entity_id == str(alert_id))).all()
        assert ("alert.resolved", "dana") in actors
        linked = s.scalars(select(MentionRow.author_handle).join(
            IncidentMentionRow, IncidentMentionRow.mention_id == MentionRow.id)).all()
    # The posts came minutes after T0: inside the spike window (the hour before the alert at T0), months
    # before the default lookback; --since overrides the window.
    if since is None:
        assert linked == ["ana"]
        # opened months after the alert: complaints up to incidents.link_for (2h) after it, not all since
        assert (f"earlier complaints: 1 linked — posted {T0 - timedelta(hours=1):%Y-%m-%d %H:%M} to"
                f" {T0 + timedelta(hours=2):%H:%M} UTC (alert #{alert_id}'s spike window, up to incidents.link_for"
                f" 2h00m after the alert; --until extends it); 1 alert tagged incident:1") in out
        assert "drafted replies now pointing to the status thread: 1 (drafted 1)" in out
    else:
        assert linked == [] and "earlier complaints: none linked" in out and "(--since 1h):" in out
    # Opened from the wrong alert: cancelling it names the alert it resolved, to look at again.
    out = invoke(config, "incident", "cancel", "1", "--as", "dana").output
    assert (f"possible-incident alert #{alert_id} was resolved when the incident opened:"
            f" `brandpulse alerts reopen {alert_id} --as dana` if its spike still needs a look") in out


def test_a_too_long_message_is_refused_with_nothing_saved(config):
    result = invoke(config, "incident", "open", "--title", "App down", "--message", "word " * 80, ok=False)
    assert result.exit_code == 2 and "X post" in result.output and "nothing was posted or saved" in result.output
    assert "no incidents" in invoke(config, "incident", "list", "--all").output


def _minutes_ago(minutes: float) -> float:
    """x_post's offset from T0 for a post ``minutes`` before now (the command line runs on the wall clock)."""
    return (datetime.now(timezone.utc) - T0) / timedelta(minutes=1) - minutes


_X_STATUS = {"brands": {"acme": {"x": {"account": "AcmeAir"}}}}


def _ran(tmp_path, monkeypatch, posts, incidents=_X_STATUS) -> Path:
    """A config serving ``posts``, after one run (stored, alerts opened, apologies drafted, nothing approved)."""
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    config = write_config(tmp_path, posts, incidents=incidents)
    invoke(config, "run", "--once")
    return config


def test_open_links_earlier_complaints_and_show_lists_them(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down and I cannot check in. Terrible, useless.", handle="ana",
               minutes=_minutes_ago(30), base_id=7100),
        x_post(2, "@AcmeHelp Acme Air lost my bag, awful service, furious", handle="ben", minutes=_minutes_ago(29),
               base_id=7100),
        x_post(3, "@AcmeHelp the Acme Air app is broken again, terrible and useless", handle="cai",
               minutes=_minutes_ago(180), base_id=7100),  # before the default lookback of 2 h
    ]
    config = _ran(tmp_path, monkeypatch, posts)

    out = invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana").output
    assert "earlier complaints: 1 linked — posted since" in out
    assert "UTC (incidents.lookback 2h00m); 1 alert tagged incident:1" in out
    assert "drafted replies now pointing to the status thread: 1 (drafted 1); already answered: 0" in out
    with db(config)() as s:
        replies = dict(s.execute(select(MentionRow.author_handle, OutboxRow.template)
                                 .join(OutboxRow, OutboxRow.mention_id == MentionRow.id)).all())
        assert replies == {"ana": "incident_reply", "ben": "apology", "cai": "apology"}
        ana_reply = s.scalars(select(OutboxRow).join(MentionRow, MentionRow.id == OutboxRow.mention_id)
                              .where(MentionRow.author_handle == "ana")).one()
        assert "we know about this (App down)" in ana_reply.text and "Updates from @AcmeAir" in ana_reply.text
        [event] = s.scalars(select(AuditRow).where(AuditRow.action == "incident.linked")).all()
        assert event.details["counts"] == {"linked": 1, "alerts_tagged": 1, "redrafted": 1, "already_answered": 0}
    shown = invoke(config, "incident", "show", "1").output
    assert "Linked complaints: 1 (1 from before it, linked when it was opened)" in shown
    assert (f"@ana alert #{ana_reply.alert_id} [before opening, linked when it was opened; matched: app]"
            f" → reply #{ana_reply.id} drafted (incident_reply)") in shown
    assert "linked when it was opened: negative, posted " in shown and "containing one of: app" in shown
    assert "@cai" not in shown and "incident.linked" in shown

    out = invoke(config, "incident", "open", "--title", "App still down", "--keywords", "app", "--since", "4h",
                 "--as", "dana").output
    assert "earlier complaints: 1 linked" in out and "(--since 4h)" in out  # cai; ana is the first incident's
    assert "@cai" in invoke(config, "incident", "show", "2").output
    bad = invoke(config, "incident", "open", "--title", "x", "--since", "soon", ok=False)
    assert bad.exit_code == 2 and "--since: not a duration or a time: 'soon'" in bad.output
    assert "#3" not in invoke(config, "incident", "list", "--all").output


def test_until_bounds_the_earlier_complaints_and_ops_edit_the_keywords(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down, terrible", handle="ana", minutes=_minutes_ago(90), base_id=7200),
        x_post(2, "@AcmeHelp Acme Air app down again, useless", handle="ben", minutes=_minutes_ago(50), base_id=7200),
        x_post(3, "@AcmeHelp the Acme Air app logs me out, awful", handle="cai", minutes=_minutes_ago(10),
               base_id=7200),
    ]
    config = _ran(tmp_path, monkeypatch, posts)
    bad = invoke(config, "incident", "open", "--title", "x", "--since", "2h", "--until", "later", ok=False)
    assert bad.exit_code == 2 and "--until: not a duration or a time: 'later'" in bad.output
    bad = invoke(config, "incident", "open", "--title", "x", "--since", "1h", "--until", "2h", ok=False)
    assert bad.exit_code == 2 and "is before since" in bad.output
    out = invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--since", "2h",
                 "--until", "30m", "--as", "dana").output
    assert "earlier complaints: 2 linked — posted " in out and "UTC (--since 2h, --until 30m)" in out
    assert "(while it is open, until " in out and "incidents.link_for 2h00m after its latest step" in out
    with db(config)() as s:
        linked = set(s.scalars(select(MentionRow.author_handle).join(
            IncidentMentionRow, IncidentMentionRow.mention_id == MentionRow.id)))
    assert linked == {"ana", "ben"}  # cai posted after --until

    out = invoke(config, "incident", "keywords", "1", "app down,503", "kiosk", "--as", "lee").output
    assert "incident #1 keywords: app down, 503, kiosk (were: app; by lee)" in out
    assert "complaints already linked stay" in out
    shown = invoke(config, "incident", "show", "1").output
    assert "keywords: app down, 503, kiosk" in shown and "new negative mentions with a keyword are linked" in shown
    lines = {handle: line for line in shown.splitlines() for handle in ("@ana", "@ben") if f" {handle} " in line}
    # why each was linked, as it was then ("app"), not what the keywords are now
    assert "[before opening, linked when it was opened; matched: app] →" in lines["@ben"]
    assert "[before opening, linked when it was opened; matched: app] →" in lines["@ana"]
    assert "incident.keywords_changed" in shown
    bad = invoke(config, "incident", "keywords", "1", " , ", "--as", "lee", ok=False)
    assert bad.exit_code == 2 and "at least one keyword" in bad.output
    invoke(config, "incident", "resolve", "1", "--message", "Fixed.", "--as", "dana")
    assert "(no longer: it is resolved)" in invoke(config, "incident", "show", "1").output


def test_ops_unlink_a_complaint_linked_by_mistake_and_link_one_that_was_missed(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down, terrible", handle="ana", minutes=_minutes_ago(20), base_id=7300),
        x_post(2, "@AcmeHelp the Acme Air app charged my card twice, awful, furious", handle="ben",
               minutes=_minutes_ago(15), base_id=7300),
        x_post(3, "@AcmeHelp Acme Air gate scanners reject my boarding pass, terrible, useless", handle="cai",
               minutes=_minutes_ago(10), base_id=7300),
    ]
    config = _ran(tmp_path, monkeypatch, posts)
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana")
    with db(config)() as s:
        ids = dict(s.execute(select(MentionRow.author_handle, MentionRow.id)).all())
        ben_reply = s.scalars(select(OutboxRow).where(OutboxRow.mention_id == ids["ben"])).one()
    assert ben_reply.template == "incident_reply"

    out = invoke(config, "incident", "unlink", "1", str(ids["ben"]), "--reason", "billing, not the outage",
                 "--as", "lee").output
    assert f"mention {ids['ben']} unlinked from incident #1 by lee: billing, not the outage" in out
    assert f"alert #{ben_reply.alert_id}: tag incident:1 removed" in out
    assert f"reply #{ben_reply.id}: an ordinary draft again (apology, drafted)" in out
    assert f"`brandpulse incident link 1 {ids['ben']}` does it by hand" in out
    bad = invoke(config, "incident", "unlink", "1", str(ids["ben"]), ok=False)
    assert bad.exit_code == 2 and "lee unlinked it" in bad.output

    out = invoke(config, "incident", "link", "1", str(ids["cai"]), "--reason", "the gates use the app's backend",
                 "--as", "kim").output
    assert f"mention {ids['cai']} linked to incident #1 by hand by kim (contains: none of its keywords)" in out
    assert "drafted replies now pointing to the status thread: 1" in out
    bad = invoke(config, "incident", "link", "1", str(ids["cai"]), ok=False)
    assert bad.exit_code == 2 and "linked to incident #1 already" in bad.output

    invoke(config, "incident", "keywords", "1", "503", "--as", "lee")
    shown = invoke(config, "incident", "show", "1").output
    lines = {handle: line for line in shown.splitlines() for handle in ("@ana", "@ben", "@cai")
             if f" {handle} " in line and " → " in line}  # the linked complaints
    assert "@ben" not in lines  # unlinked
    assert "[before opening, linked when it was opened; matched: app]" in lines["@ana"]  # keywords now: 503
    assert "[linked by hand by kim " in lines["@cai"] and "; no keyword]" in lines["@cai"]
    assert "Linked complaints: 2 (1 from before it, linked when it was opened)" in shown
    assert "incident.unlinked" in shown
    assert "Unlinked by hand (never linked again by itself): 1" in shown
    assert f"  mention {ids['ben']} x @ben by lee " in shown and ": billing, not the outage" in shown
    with db(config)() as s:
        [event] = s.scalars(select(AuditRow).where(AuditRow.action == "incident.unlinked")).all()
        assert (event.actor, event.details["reason"]) == ("lee", "billing, not the outage")


def test_unlink_reports_a_reply_on_its_way_and_one_to_be_posted_by_hand(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app charged my card twice, awful, furious", handle="ana",
               minutes=_minutes_ago(20), base_id=7400),
        x_post(2, "@AcmeHelp the Acme Air app billed me for a seat I never got, terrible", handle="ben",
               minutes=_minutes_ago(15), base_id=7400),
    ]
    config = _ran(tmp_path, monkeypatch, posts)
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana")
    with db(config).begin() as s:
        ids = dict(s.execute(select(MentionRow.author_handle, MentionRow.id)).all())
        reply = {h: s.scalars(select(OutboxRow).where(OutboxRow.mention_id == ids[h])).one() for h in ("ana", "ben")}
        assert {r.template for r in reply.values()} == {"incident_reply"}
        reply["ana"].status = "unknown"
        reply["ben"].status, reply["ben"].last_error = "manual", "reply by hand: https://x.com/i/web/status/7402"
        reply_ids = {h: r.id for h, r in reply.items()}

    out = invoke(config, "incident", "unlink", "1", str(ids["ana"]), "--as", "lee").output
    assert (f"reply #{reply_ids['ana']}: unknown, sent, but the platform's answer was lost: the status-link reply may"
            " already be on the platform, so it is left as it is; the next send run reconciles it") in out
    assert "no reply pointed to the incident" not in out
    out = invoke(config, "incident", "unlink", "1", str(ids["ben"]), "--as", "lee").output
    assert f"reply #{reply_ids['ben']}: an ordinary draft again (apology, drafted) (it was waiting to be posted by hand" in out
    assert f"`brandpulse replies reject {reply_ids['ben']}`" in out
    with db(config)() as s:
        assert s.get(OutboxRow, reply_ids["ana"]).status == "unknown"
        assert s.get(OutboxRow, reply_ids["ana"]).template == "incident_reply"
        assert s.get(OutboxRow, reply_ids["ben"]).template == "apology"
        events = s.scalars(select(AuditRow).where(AuditRow.action == "incident.unlinked").order_by(AuditRow.id)).all()
        assert events[0].details["in_flight"] == [{"id": reply_ids["ana"], "status": "unknown"}]
        assert events[1].details["by_hand"] == [reply_ids["ben"]]


def test_a_complaint_moved_to_another_incident_while_its_reply_is_on_its_way(tmp_path, monkeypatch):
    """`incident unlink` from #1 then `incident link` to #2 while ana's reply
    (#1's link) has an unknown outcome: link says it drafts no second reply
    and why; the next run, finding it not posted, holds it re-drafted for #2
    instead of posting #1's link."""
    posts = [x_post(1, "@AcmeHelp the Acme Air app charged my card twice, awful, furious", handle="ana",
                    minutes=_minutes_ago(20), base_id=7500)]
    config = _ran(tmp_path, monkeypatch, posts, incidents={"brands": {"acme": {
        "x": {"account": "AcmeAir"}, "status_page": "https://status.acme.example"}}})
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana")
    invoke(config, "incident", "open", "--title", "Double charges", "--keywords", "billing", "--as", "dana")
    with db(config).begin() as s:
        ana = s.scalars(select(MentionRow.id)).one()
        reply = s.scalars(select(OutboxRow).where(OutboxRow.mention_id == ana)).one()
        assert (reply.template, reply.incident_id) == ("incident_reply", 1) and "(App down)" in reply.text
        reply.status, reply_id = "unknown", reply.id

    out = invoke(config, "incident", "unlink", "1", str(ana), "--as", "lee").output
    assert "not posted: it is held for a person instead of being sent with the status link" in out
    out = invoke(config, "incident", "link", "2", str(ana), "--as", "kim").output
    assert (f"reply #{reply_id}: unknown, sent, but the platform's answer was lost: it may already be on the platform,"
            " so it is left as it is and no second reply is drafted") in out
    assert "re-drafted with #2's and held for a person to approve" in out

    invoke(config, "run", "--once")  # reconciles it (the dry-run channel has no such post), then the claim
    with db(config)() as s:
        row = s.get(OutboxRow, reply_id)
        assert (row.status, row.incident_id) == ("held", 2)
        assert "(Double charges)" in row.text and "(App down)" not in row.text
        assert row.hold_reason.startswith("moved from incident #1 (unlinked by lee")
        assert s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "reply")).all() == [reply_id]
    assert "moved from incident #1" in invoke(config, "replies", "list", "--status", "held").output


def test_show_says_a_reply_was_linked_by_the_post_it_answers(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down, terrible", handle="ana", minutes=_minutes_ago(20), base_id=7600),
        x_post(2, "@AcmeHelp Acme Air, can't check in either, awful, furious", handle="ben", minutes=_minutes_ago(15),
               thread="7601", reply_to="7601", base_id=7600),
    ]
    config = _ran(tmp_path, monkeypatch, posts)
    out = invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana").output
    assert "earlier complaints: 2 linked" in out
    with db(config)() as s:
        ids = dict(s.execute(select(MentionRow.author_handle, MentionRow.id)).all())
    shown = invoke(config, "incident", "show", "1").output
    [line] = [line for line in shown.splitlines() if " @ben " in line]
    assert f"no keyword of its own; answers mention {ids['ana']}, linked to it]" in line


def _cancel_setup(tmp_path, monkeypatch):
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down, terrible", handle="ana", minutes=_minutes_ago(20), base_id=7600),
        x_post(2, "@AcmeHelp Acme Air lost my bag, awful service, furious", handle="ben", minutes=_minutes_ago(15),
               base_id=7600),
    ]
    incidents = {"brands": {"acme": {"x": {"account": "AcmeAir"}, "reddit": {"subreddit": "AcmeAir",
                                                                             "account": "AcmeAir_Team"}}}}
    return _ran(tmp_path, monkeypatch, posts, incidents)


def test_an_incident_opened_by_mistake_is_cancelled_before_anything_went_out(tmp_path, monkeypatch):
    """`incident open --title x` by mistake: its status posts are approved
    (they go without approval) and ana's complaint is linked. `incident
    cancel` withdraws the posts, makes her reply an ordinary draft again,
    and the incident links nothing more; list and show say cancelled."""
    config = _cancel_setup(tmp_path, monkeypatch)
    invoke(config, "incident", "open", "--title", "x", "--keywords", "app", "--as", "d")
    with db(config)() as s:
        ana = s.scalar(select(MentionRow.id).where(MentionRow.author_handle == "ana"))
        reply = s.scalars(select(OutboxRow).where(OutboxRow.mention_id == ana)).one()
        posts = s.scalars(select(OutboxRow.id).where(OutboxRow.kind == "status").order_by(OutboxRow.id)).all()
    assert reply.template == "incident_reply" and len(posts) == 2

    out = invoke(config, "incident", "cancel", "1", "--reason", "opened by mistake", "--as", "dana").output
    assert "incident #1 cancelled by dana: opened by mistake; it links no complaint any more" in out
    assert f"status posts withdrawn (they had not gone out): #{posts[0]}, #{posts[1]}" in out
    assert ("complaints unlinked: 1 (alerts untagged: 1); their incident replies: 1 ordinary drafts again, 0 held for"
            " a person, 0 already sent (left as they are), 0 on their way") in out
    with db(config)() as s:
        assert [p.status for p in s.scalars(select(OutboxRow).where(OutboxRow.id.in_(posts)))] == ["rejected"] * 2
        row = s.get(OutboxRow, reply.id)
        assert (row.template, row.status, row.incident_id) == ("apology", "drafted", None)
        assert s.scalars(select(IncidentMentionRow)).all() == []
        assert all("incident:1" not in (a.tags or []) for a in s.scalars(select(AlertRow)))
        assert s.get(IncidentRow, 1).status == "cancelled"
        [event] = s.scalars(select(AuditRow).where(AuditRow.action == "incident.cancelled")).all()
        assert (event.actor, event.details["reason"], event.details["withdrawn"]) == ("dana", "opened by mistake", posts)

    # A new complaint with the keyword is not linked; nothing goes out for the incident.
    with (tmp_path / "mentions.jsonl").open("a") as f:
        f.write(json.dumps(x_post(3, "@AcmeHelp the Acme Air app is down again, useless", handle="cai",
                                  minutes=_minutes_ago(1), base_id=7600)) + "\n")
    out = invoke(config, "run", "--once").output
    assert "would post on x as @AcmeAir" not in out and "would post on reddit in r/AcmeAir" not in out
    with db(config)() as s:
        assert s.scalars(select(IncidentMentionRow)).all() == []
        cai = s.scalar(select(MentionRow.id).where(MentionRow.author_handle == "cai"))
        assert s.scalars(select(OutboxRow.template).where(OutboxRow.mention_id == cai)).all() == ["apology"]

    assert "no open incidents" in invoke(config, "incident", "list").output
    listed = invoke(config, "incident", "list", "--all").output
    assert "#1    cancelled" in listed and "(opened by mistake: not an incident)" in listed
    shown = invoke(config, "incident", "show", "1").output
    for text in ("cancelled by dana ", ": opened by mistake; its complaints were unlinked",
                 "(no longer: it is cancelled)", "cancelled     by dana: (nothing posted)", "[rejected]",
                 "Unlinked by hand (never linked again by itself): 1", "incident #1 cancelled: opened by mistake",
                 "incident.cancelled"):
        assert text in shown, text
    bad = invoke(config, "incident", "update", "1", "--status", "identified", "--message", "m", "--as", "d", ok=False)
    assert bad.exit_code == 2 and "incident 1 is cancelled: nothing follows cancelled" in bad.output
    bad = invoke(config, "incident", "cancel", "1", "--as", "d", ok=False)
    assert bad.exit_code == 2 and "incident 1 is cancelled: only an open incident can be cancelled" in bad.output


def test_cancelling_an_incident_whose_posts_are_public_asks_for_a_correction(tmp_path, monkeypatch):
    """The status posts went out: they cannot be withdrawn. Cancelling
    without --message is refused (nothing changed); with it, the correction
    is posted in those threads, after the posts it corrects."""
    config = _cancel_setup(tmp_path, monkeypatch)
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "d")
    invoke(config, "run", "--once")  # the status posts go out
    bad = invoke(config, "incident", "cancel", "1", "--as", "dana", ok=False)
    assert bad.exit_code == 2
    assert "incident 1's status posts are public already (#" in bad.output and "customers were told of an outage" in bad.output
    assert "Give --message with a correction to post in those threads" in bad.output and "--no-correction" in bad.output
    with db(config)() as s:
        assert s.get(IncidentRow, 1).status == "investigating" and len(s.scalars(select(IncidentMentionRow)).all()) == 1

    out = invoke(config, "incident", "cancel", "1", "--message", "Please disregard: posted by mistake, no outage.",
                 "--as", "dana").output
    assert out.count("already public, stays up: #") == 2
    assert "correction in those threads: #" in out and "(approved: it goes out with the next send run)" in out
    out = invoke(config, "run", "--once").output
    assert "Update – Cancelled: Please disregard: posted by mistake, no outage." in out
    assert "**Cancelled**" in out
    with db(config)() as s:
        incident = s.get(IncidentRow, 1)
        corrections = s.scalars(select(OutboxRow).where(OutboxRow.kind == "status", OutboxRow.id > 4)).all()
        assert {(c.platform, c.status) for c in corrections} == {("x", "sent"), ("reddit", "sent")}
        assert {c.in_reply_to for c in corrections} == {incident.x_root_id, incident.reddit_root_id}


def test_cancel_without_correction_and_with_nothing_public(tmp_path, monkeypatch):
    config = _cancel_setup(tmp_path, monkeypatch)
    invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "d")
    invoke(config, "run", "--once")
    out = invoke(config, "incident", "cancel", "1", "--no-correction", "--as", "dana").output
    assert "no correction posted (--no-correction): correct or delete those posts on the platform yourself" in out
    invoke(config, "incident", "open", "--title", "Other", "--keywords", "bag", "--as", "d")
    out = invoke(config, "incident", "cancel", "2", "--message", "Ignore", "--as", "dana").output
    assert "--message not posted: none of its status posts is public" in out
    bad = invoke(config, "incident", "cancel", "2", "--message", "x", "--no-correction", ok=False)
    assert bad.exit_code == 2 and "not both" in bad.output


@pytest.mark.parametrize(("args", "message"), [
    (["open", "--title", "App down", "--brand", "nope", "--as", "dana"], "error: --brand: unknown brand 'nope' (known: acme)"),
    (["list", "--brand", "nope"], "error: --brand: unknown brand 'nope' (known: acme)"),
])
def test_an_unknown_brand_is_named_with_its_option_as_other_commands_do(config, args, message):
    result = invoke(config, "incident", *args, ok=False)
    assert result.exit_code == 2 and message in result.output
    assert "no incidents" in invoke(config, "incident", "list", "--all").output  # nothing was opened


def test_open_link_and_resolve_tell_ops_which_replies_kept_a_persons_text_and_are_held(tmp_path, monkeypatch):
    # b1f0a3d: a reply a person edited is held instead of re-drafted; the commands that re-draft say so
    posts = [
        x_post(1, "@AcmeHelp the Acme Air app is down, terrible", handle="ana", minutes=_minutes_ago(20), base_id=7700),
        x_post(2, "@AcmeHelp the Acme Air app logs me out, awful, useless", handle="ben", minutes=_minutes_ago(15),
               base_id=7700),
        x_post(3, "@AcmeHelp Acme Air gate scanners reject my boarding pass, terrible, useless", handle="cai",
               minutes=_minutes_ago(10), base_id=7700),
        x_post(4, "@AcmeHelp the Acme Air app crashes at check-in, awful", handle="dan", minutes=_minutes_ago(5),
               base_id=7700),
    ]
    config = _ran(tmp_path, monkeypatch, posts)
    with db(config)() as s:
        ids = dict(s.execute(select(MentionRow.author_handle, MentionRow.id)).all())
        reply = {h: s.scalars(select(OutboxRow.id).where(OutboxRow.mention_id == m)).one() for h, m in ids.items()}
    invoke(config, "replies", "edit", str(reply["ana"]), "--text", "Sorry Ana, we are on it.", "--as", "alice")
    invoke(config, "replies", "approve", str(reply["ben"]), "--text", "Sorry Ben, looking now.", "--as", "alice")
    invoke(config, "replies", "edit", str(reply["cai"]), "--text", "Sorry Cai, checking the gates.", "--as", "alice")

    out = invoke(config, "incident", "open", "--title", "App down", "--keywords", "app", "--as", "dana").output
    assert "drafted replies now pointing to the status thread: 1 (drafted 1)" in out  # dan's, nobody edited it
    assert (f"2 replies kept their person's text and are held for a person (#{reply['ana']}, #{reply['ben']}):"
            " `brandpulse replies list --status held`") in out

    out = invoke(config, "incident", "link", "1", str(ids["cai"]), "--as", "kim").output
    assert "drafted replies now pointing to the status thread: 0;" in out
    assert (f"1 reply kept its person's text and is held for a person (#{reply['cai']}):"
            " `brandpulse replies list --status held`") in out
    held = invoke(config, "replies", "list", "--status", "held").output
    assert all(f"#{reply[h]}" in held for h in ("ana", "ben", "cai"))

    invoke(config, "replies", "edit", str(reply["dan"]), "--text", "Dan, the app is down; updates follow.",
           "--as", "alice")
    out = invoke(config, "incident", "resolve", "1", "--message", "Fixed.", "--as", "dana").output
    assert "re-drafted to say it is fixed" not in out
    assert f"1 reply kept its person's text and is held for a person (#{reply['dan']})" in out
    with db(config)() as s:
        linked = s.scalars(select(AuditRow).where(AuditRow.action == "incident.linked").order_by(AuditRow.id)).all()
        assert [e.details["kept_held"] for e in linked] == [[reply["ana"], reply["ben"]], [reply["cai"]]]
        [resolved] = s.scalars(select(AuditRow).where(AuditRow.action == "incident.resolved")).all()
        assert resolved.details["kept_held"] == [reply["dan"]]
        dan = s.get(OutboxRow, reply["dan"])
        assert (dan.status, dan.hold_code, dan.text) == ("held", "incident_edited", "Dan, the app is down; updates follow.")


def test_cancel_points_to_the_held_replies_that_kept_a_persons_text(tmp_path, monkeypatch):
    config = _cancel_setup(tmp_path, monkeypatch)
    invoke(config, "incident", "open", "--title", "x", "--keywords", "app", "--as", "d")
    with db(config)() as s:
        ana = s.scalar(select(MentionRow.id).where(MentionRow.author_handle == "ana"))
        reply_id = s.scalars(select(OutboxRow.id).where(OutboxRow.mention_id == ana)).one()
    invoke(config, "replies", "edit", str(reply_id), "--text", "Ana, the app is down; we are on it.", "--as", "alice")
    out = invoke(config, "incident", "cancel", "1", "--reason", "opened by mistake", "--as", "dana").output
    assert ("their incident replies: 0 ordinary drafts again, 1 held for a person (`brandpulse replies list --status"
            " held`), 0 already sent") in out
    assert f"#{reply_id}" in invoke(config, "replies", "list", "--status", "held").output
