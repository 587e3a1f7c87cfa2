"""What a community manager meets working the inbox from the command line:
handles as each network writes them, listings that say what they left out,
bad input named without a traceback, a database that cannot be opened."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from brandpulse.db.models import AlertRow, AuditRow, MentionRow
from tests.cli_helpers import config_after_one_run, db, invoke, write_config, x_post


def reddit_post(i: int, text: str, *, handle: str, members: int, minutes: float) -> dict:
    """One recorded Reddit submission in the replay format, from an X post's fields; Reddit has
    no followers, its listing gives the subreddit's members."""
    post = x_post(i, text, handle=handle, minutes=minutes)
    post_id = f"t3_walk{i}"
    post.update(platform="reddit", id=post_id, conversation_id=post_id, subreddit="travel", title="Acme Air",
                url=f"https://www.reddit.com/r/travel/comments/walk{i}/acme_air/", lang=None,
                subreddit_subscribers=members)
    post["author"]["id"] = f"t2_{handle}"
    return post


POSTS = [
    x_post(1, "Acme Air lost my bag, terrible and useless service", handle="sam", followers=1, minutes=1),
    x_post(2, "Acme Air cancelled my flight, awful, I am furious \x1b[31mNOW\x1b[0m", handle="esc\x1b[2Jape", minutes=2),
    reddit_post(3, "Acme Air refund still missing after 30 days, horrible", handle="QuietHeron", members=48_210, minutes=3),
    x_post(4, "Acme Air news: our new route to Lisbon starts today", handle="AcmeAir", minutes=4),
]


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, POSTS)


def test_handles_read_as_on_their_network_and_terminal_escapes_are_dropped(config):
    listing = invoke(config, "alerts", "list").output
    assert "reddit u/QuietHeron" in listing and "@QuietHeron" not in listing
    assert "x      @sam" in listing
    assert "\x1b" not in listing and "@esc[2Jape" in listing
    with_reddit = next(line for line in listing.splitlines() if "QuietHeron" in line)
    shown = invoke(config, "alerts", "show", with_reddit.split()[0].lstrip("#")).output
    assert "reddit u/QuietHeron (r/travel, 48.2k members)" in shown and "follower" not in shown.split("Replies")[0] and "as u/AcmeAir_Team" in shown
    sam = next(line for line in listing.splitlines() if "@sam" in line)
    assert "x @sam (1 follower)" in invoke(config, "alerts", "show", sam.split()[0].lstrip("#")).output
    replies = invoke(config, "replies", "list").output
    assert "reddit as u/AcmeAir_Team" in replies and "\x1b" not in replies and "Hi @esc[2Jape," in replies


def test_listings_say_what_their_limit_left_out(config):
    out = invoke(config, "alerts", "list", "--limit", "1").output.splitlines()
    assert len(out) == 2 and out[1] == "… and 2 more alerts (--limit 3 shows them all)"
    assert "more alerts" not in invoke(config, "alerts", "list", "--limit", "3").output
    replies = invoke(config, "replies", "list", "--limit", "2").output
    assert replies.endswith("… and 1 more reply (--limit 3 shows them all)\n")


@pytest.mark.parametrize(("args", "message"), [
    (["alerts", "list", "--brand", "nope"], "error: --brand: unknown brand 'nope' (known: acme)"),
    (["alerts", "next", "--brand", "nope", "--as", "kim"], "error: --brand: unknown brand 'nope' (known: acme)"),
    (["alerts", "list", "--limit", "0"], "Invalid value for '--limit': 0 is not in the range x>=1"),
    (["replies", "list", "--limit", "-1"], "Invalid value for '--limit': -1 is not in the range x>=1"),
    (["digest", "--since", "0"], "error: --since: the period must be positive, got '0'"),
    (["digest", "--since", "999999999d"], "error: --since: '999999999d' is too long (at most 36500d)"),
    (["digest", "--since", "soon"], "error: --since: not a duration: 'soon'"),
    (["feedback", "list", "--brand", "nope"], "error: --brand: unknown brand 'nope' (known: acme)"),
    (["incident", "list", "--brand", "nope"], "error: --brand: unknown brand 'nope' (known: acme)"),
    (["incident", "list", "--limit", "0"], "Invalid value for '--limit': 0 is not in the range x>=1"),
])
def test_bad_input_is_named_without_a_traceback(config, args, message):
    result = invoke(config, *args, ok=False)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_next_with_an_unknown_brand_assigns_nothing(config):
    invoke(config, "alerts", "next", "--brand", "nope", "--as", "kim", ok=False)
    assert "→ kim" not in invoke(config, "alerts", "list").output


@pytest.mark.parametrize(("url", "message"), [
    ("postgresql+psycopg://brandpulse:s3cret@127.0.0.1:1/db",
     "BRANDPULSE_DATABASE_URL: cannot open the database postgresql+psycopg://brandpulse:***@127.0.0.1:1/db: "),
    ("nosuchdb://host/db", "BRANDPULSE_DATABASE_URL: cannot open the database nosuchdb://host/db: unknown kind of database 'nosuchdb'"),
    ("not a url", "BRANDPULSE_DATABASE_URL: not a database URL"),
])
def test_a_database_that_cannot_be_opened_is_named_without_its_password(tmp_path, monkeypatch, url, message):
    config = write_config(tmp_path, POSTS)
    monkeypatch.setenv("BRANDPULSE_DATABASE_URL", url)
    for args in (["alerts", "list"], ["db", "current"]):
        result = invoke(config, *args, ok=False)
        assert result.exit_code == 2 and message in result.output, result.output
        assert "s3cret" not in result.output and "Traceback" not in result.output


def test_a_file_that_is_not_a_database_is_named(tmp_path, monkeypatch):
    config = write_config(tmp_path, POSTS)
    config_data = yaml.safe_load(config.read_text())
    config_data["database_url"] = "sqlite:///mentions.jsonl"  # relative to the config file: a text file
    config.write_text(yaml.safe_dump(config_data))
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    result = invoke(config, "alerts", "list", ok=False)
    assert result.exit_code == 2
    assert f"{config}: database_url: cannot open the database sqlite:///{tmp_path / 'mentions.jsonl'}: file is not a database" in result.output


def test_run_names_every_missing_credential_at_once(tmp_path, monkeypatch):
    for name in ("X_BEARER_TOKEN", "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    config = write_config(
        tmp_path, [],
        sources=[{"name": "acme-x", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir", "poll_interval": "2m"}],
        outreach={"channel": "live"},
    )
    result = invoke(config, "run", "--once", ok=False)
    assert result.exit_code == 2
    assert "X_BEARER_TOKEN is not set" in result.output  # reading (the source)
    assert "credentials are missing: X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET" in result.output  # posting


def test_the_brands_own_post_cannot_be_flagged_as_a_missed_complaint(config):
    with db(config)() as s:
        own = s.scalar(select(MentionRow.id).where(MentionRow.is_own.is_(True)))
    result = invoke(config, "feedback", "missed", str(own), "--as", "kim", ok=False)
    assert result.exit_code == 2
    assert f"mention #{own} is the brand's own post (@AcmeAir): brandpulse never scores or alerts on those" in result.output
    with db(config)() as s:
        assert s.scalars(select(AuditRow).where(AuditRow.action == "feedback.missed_complaint")).all() == []
    assert "no feedback yet" in invoke(config, "feedback", "list").output


def test_a_reply_text_too_long_for_its_network_is_refused_when_approved_or_edited(config):
    replies = invoke(config, "replies", "list").output
    x_reply = next(line for line in replies.splitlines() if " x as @AcmeAir" in line).split()[0].lstrip("#")
    long_text = "Hi @sam, " + "sorry " * 50
    for command in ("approve", "edit"):
        result = invoke(config, "replies", command, x_reply, "--text", long_text, "--as", "kim", ok=False)
        assert result.exit_code == 2
        assert f"reply {x_reply}: the text is 308 characters as X counts them (URLs 23, CJK and emoji 2), over the x limit of 280 by 28; shorten it (nothing was changed)" in result.output
    assert invoke(config, "replies", "list").output == replies  # still drafted, text unchanged
    reddit_reply = next(line for line in replies.splitlines() if " reddit as " in line).split()[0].lstrip("#")
    assert "is now approved" in invoke(config, "replies", "approve", reddit_reply, "--text", long_text, "--as", "kim").output


def test_closing_an_alert_says_which_of_its_replies_have_not_gone_out(config):
    listing = invoke(config, "alerts", "list").output.splitlines()
    sam, other = (next(line for line in listing if h in line).split()[0].lstrip("#") for h in ("@sam", "QuietHeron"))
    sam_reply = next(line for line in invoke(config, "replies", "list").output.splitlines() if f"alert #{sam} " in line).split()[0].lstrip("#")
    invoke(config, "replies", "approve", sam_reply, "--as", "kim")
    out = invoke(config, "alerts", "resolve", sam, "--as", "kim", "--note", "helped by DM").output
    assert f"reply #{sam_reply} is approved: it will still be sent; `brandpulse replies reject {sam_reply}` if it is no longer needed" in out
    history = invoke(config, "alerts", "show", sam).output.split("History:")[1]
    assert "kim: alert.resolved — note: helped by DM" in history and "{" not in history  # read as words, not a dict
    out = invoke(config, "alerts", "dismiss", other, "--as", "kim", "--reason", "not a complaint").output
    assert "is drafted: it stays in `brandpulse replies list`; `brandpulse replies reject" in out
    assert "reply #" not in invoke(config, "alerts", "reopen", other, "--as", "kim").output


def test_a_multi_line_reply_stays_under_its_header(config):
    replies = invoke(config, "replies", "list").output
    reddit_reply = next(line for line in replies.splitlines() if " reddit as " in line).split()[0].lstrip("#")
    invoke(config, "replies", "approve", reddit_reply, "--text", "Hi u/QuietHeron,\n\nwe found your refund.", "--as", "kim")
    listed = invoke(config, "replies", "list", "--status", "approved").output
    assert listed.endswith("\n       Hi u/QuietHeron,\n\n       we found your refund.\n")


def test_a_digest_that_cannot_be_written_still_prints_and_says_where(config, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    result = invoke(config, "digest", "--out", str(blocker / "digests"), ok=False)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "brandpulse digest: Acme Air" in result.output  # the text digest is not lost
    assert f"error: cannot write the HTML digest to {blocker / 'digests'}: Not a directory" in result.output


def test_demo_needs_a_positive_duration(config):
    result = invoke(config, "demo", "--seconds", "0", ok=False)
    assert result.exit_code == 2 and "Invalid value for '--seconds': 0.0 is not in the range x>0" in result.output


def test_an_alert_answered_past_its_deadline_reads_answered_not_overdue(config):
    with db(config).begin() as s:
        alert = s.scalars(select(AlertRow).where(AlertRow.author_handle == "sam")).one()
        alert.first_response_at = alert.sla_due_at  # the replayed posts are long past their deadline
    lines = invoke(config, "alerts", "list").output.splitlines()
    sam = next(line for line in lines if "@sam" in line)
    assert "SLA answered" in sam and "OVERDUE" not in sam
    assert all("OVERDUE" in line for line in lines if "@sam" not in line)  # the others were never answered
    with db(config).begin() as s:
        alert = s.scalars(select(AlertRow).where(AlertRow.author_handle == "sam")).one()
        alert.first_response_at = alert.last_mention_at - timedelta(minutes=1)  # sam posted again after the answer
    sam = next(line for line in invoke(config, "alerts", "list").output.splitlines() if "@sam" in line)
    assert "SLA answered, then wrote again" in sam


def test_db_upgrade_to_an_unknown_revision_is_named(config):
    result = invoke(config, "db", "upgrade", "--revision", "bogus", ok=False)
    assert result.exit_code == 2 and "error: --revision bogus: Can't locate revision identified by 'bogus'" in result.output
    assert invoke(config, "db", "current").output.strip() == invoke(config, "db", "upgrade").output.split()[3].rstrip(":")


def test_incident_show_names_a_reddit_complainer_as_on_reddit(tmp_path, monkeypatch):
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    incidents = {"brands": {"acme": {"x": {"account": "AcmeAir"}, "reddit": {"subreddit": "AcmeAir", "account": "AcmeAir_Team"}}}}
    config = write_config(tmp_path, POSTS, incidents=incidents)
    invoke(config, "run", "--once")
    opened = invoke(config, "incident", "open", "--brand", "acme", "--title", "Refunds stuck", "--keywords", "refund",
                    "--since", "2026-03-10T08:00Z", "--until", "2026-03-10T10:00Z", "--as", "dana").output
    assert "earlier complaints: 1 linked" in opened
    shown = invoke(config, "incident", "show", "1").output
    assert " reddit u/QuietHeron alert #" in shown and "@QuietHeron" not in shown


def test_the_authors_other_mentions_are_named_for_what_they_are(tmp_path, monkeypatch):
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    posts = [
        x_post(1, "Acme Air lost my bag, terrible and useless service", handle="sam", minutes=1),
        x_post(2, "Thank you Acme Air, the crew found my bag, lovely people!", handle="sam", minutes=90),
    ]
    config = write_config(tmp_path, posts)
    invoke(config, "run", "--once")
    alert = invoke(config, "alerts", "list").output.split()[0].lstrip("#")
    shown = invoke(config, "alerts", "show", alert).output
    # a later post, in another thread: "earlier" would be wrong
    assert "The author's other mentions (every network, newest first): 1\n  2026-03-10 10:30 x @sam" in shown


@pytest.mark.parametrize("blank", ["", "   "])
def test_a_blank_actor_is_refused_so_the_audit_log_names_someone(config, blank):
    alert = invoke(config, "alerts", "list").output.split()[0].lstrip("#")
    result = invoke(config, "alerts", "ack", alert, "--as", blank, ok=False)
    assert result.exit_code == 2 and "Invalid value for '--as': give a name: who acts is recorded in the audit log" in result.output
    assert "acknowledged" not in invoke(config, "alerts", "list").output
    assert f"alert #{alert} is now acknowledged (by kim)" in invoke(config, "alerts", "ack", alert, "--as", " kim ").output


def test_several_replies_are_approved_at_once_and_one_that_cannot_be_is_named(config):
    ids = [line.split()[0].lstrip("#") for line in invoke(config, "replies", "list").output.splitlines() if line.startswith("#")]
    assert len(ids) == 3
    invoke(config, "replies", "reject", ids[0], "--as", "kim")
    result = invoke(config, "replies", "approve", *ids, "--as", "kim", ok=False)
    assert result.exit_code == 2
    assert f"reply #{ids[1]} is now approved" in result.output and f"reply #{ids[2]} is now approved" in result.output
    assert f"error: cannot approve reply {ids[0]}" in result.output
    assert f"error: 1 of 3 replies unchanged: #{ids[0]}" in result.output
    assert "no drafted or held replies" in invoke(config, "replies", "list").output
    assert len(invoke(config, "replies", "list", "--status", "approved").output.split("approved")) == 3
    result = invoke(config, "replies", "approve", ids[1], ids[2], "--text", "Hi", ok=False)
    assert result.exit_code == 2 and "--text edits one reply: give one REPLY_ID with it" in result.output


def test_a_reply_id_given_twice_is_approved_once_without_an_error(config):
    first = next(line.split()[0].lstrip("#") for line in invoke(config, "replies", "list").output.splitlines()
                 if line.startswith("#"))
    result = invoke(config, "replies", "approve", first, first, "--as", "kim")  # exit 0
    assert result.output.count(f"reply #{first} is now approved") == 1 and "error" not in result.output


def test_demo_on_a_configuration_with_live_sources_says_how_to_run_the_bundled_day(tmp_path, monkeypatch):
    from brandpulse.app import DEMO_CONFIG

    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    config = write_config(tmp_path, [], sources=[
        {"name": "acme-x", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir", "poll_interval": "2m"}])
    result = invoke(config, "demo", ok=False)
    assert result.exit_code == 2
    assert f"{config}: the demo needs a configuration whose sources are all of kind 'replay'" in result.output
    assert f"(the bundled demo day: brandpulse --config {DEMO_CONFIG} demo)" in result.output
    assert not (tmp_path / "data").exists()  # nothing reset, nothing created
