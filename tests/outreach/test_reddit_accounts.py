"""Reddit posting as several accounts: two brands, each with its own Reddit
account, post their replies and incident submissions as that account
(REDDIT_PASSWORD__<HANDLE>, through the one script app), reconcile in that
account's history, wait for a RATELIMIT alone, and a missing password
fails only that account's posts, naming the variable. Through the real praw
code against the fake Reddit API (tests/fakes/reddit_api.py)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from brandpulse import audit
from brandpulse.config import ConfigError
from brandpulse.db.models import OutboxRow
from brandpulse.netclients import reddit_account_password_name, reddit_posting_credentials
from outreach.channels.base import OutboundPost, SendError, rate_limit_key
from outreach.channels.reddit import RedditAccountsChannel, build_reddit_channel
from outreach.channels.registry import build_channels
from outreach.digest import build_digest, wait_line
from outreach.outbox import SendReport, current_waits, send_approved
from tests.fakes import faults, reddit_env, serve_reddit

pytestmark = pytest.mark.usefixtures("no_sleeping")

BETA_PASSWORD = "beta-care-password-123"
BETA = {"id": "beta", "name": "Beta Rail", "accounts": {"reddit": ["Beta_Care"]},
        "query": {"keywords": ["beta rail"], "subreddits": ["trains"]}}


@pytest.fixture
def two_brands(make_settings, config_dict):
    return make_settings(brands=[*config_dict["brands"], BETA])


@pytest.fixture
def rd(clock):
    with serve_reddit(now=clock.now) as fake:  # AcmeAir_Team logs in with REDDIT_USERNAME / REDDIT_PASSWORD
        fake.add_account("Beta_Care", BETA_PASSWORD)
        yield fake


def env_for(rd, **more) -> dict[str, str]:
    return {**reddit_env(rd), "REDDIT_PASSWORD__BETA_CARE": BETA_PASSWORD, **more}


def reply_row(Session, clock, *, brand: str, account: str | None, parent: str, text: str, at: int = 0) -> int:
    with Session.begin() as s:
        row = OutboxRow(kind="reply", brand=brand, platform="reddit", in_reply_to=parent, account=account,
                        template="apology", text=text, status="approved", needs_approval=True, attempts=0,
                        created_at=clock.now() + timedelta(seconds=at), updated_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


def status_row(Session, clock, *, brand: str, account: str, community: str, title: str, text: str) -> int:
    with Session.begin() as s:
        row = OutboxRow(kind="status", brand=brand, platform="reddit", account=account, text=text, title=title,
                        community=community, status="approved", needs_approval=False, attempts=0,
                        created_at=clock.now(), updated_at=clock.now())
        s.add(row)
        s.flush()
        return row.id


def stored(Session, rid) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, rid)


def threads(rd, clock):
    acme = rd.add_submission("travel", "Acme Air lost my bag", created_at=clock.now() - timedelta(hours=1))
    beta = rd.add_submission("trains", "Beta Rail late again", created_at=clock.now() - timedelta(hours=1))
    return acme["name"], beta["name"]


def test_each_brand_posts_replies_and_submissions_as_its_own_account(Session, clock, rd, two_brands):
    channel = build_reddit_channel(two_brands, env=env_for(rd), clock=clock)
    acme_thread, beta_thread = threads(rd, clock)
    acme = reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Sorry, Acme here")
    beta = reply_row(Session, clock, brand="beta", account="u/beta_care", parent=beta_thread, text="Sorry, Beta here")
    status = status_row(Session, clock, brand="beta", account="Beta_Care", community="r/trains",
                        title="[Investigating] Signal failure", text="We are looking into delays.")

    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(sent=3)
    assert [c["body"] for c in rd.comments_by("AcmeAir_Team")] == ["Sorry, Acme here"]
    assert [c["body"] for c in rd.comments_by("Beta_Care")] == ["Sorry, Beta here"]
    submission = rd.things[stored(Session, status).external_id]
    assert (submission["author"], submission["subreddit"]) == ("Beta_Care", "trains")
    assert {stored(Session, r).status for r in (acme, beta, status)} == {"sent"}
    # one login per account, each with its own password, through the one app
    logins = sorted(c.form["username"] for c in rd.calls_to("token"))
    assert logins == ["AcmeAir_Team", "Beta_Care"]


def test_a_ratelimit_on_one_account_holds_back_only_its_posts(Session, clock, rd, two_brands):
    channel = build_reddit_channel(two_brands, env=env_for(rd), clock=clock)
    acme_thread, beta_thread = threads(rd, clock)
    beta_1 = reply_row(Session, clock, brand="beta", account="Beta_Care", parent=beta_thread, text="Beta 1", at=0)
    acme_1 = reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Acme 1", at=1)
    beta_2 = reply_row(Session, clock, brand="beta", account="Beta_Care", parent=beta_thread, text="Beta 2", at=2)
    acme_2 = reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Acme 2", at=3)
    rd.fail(faults.Fault(faults.RATELIMIT_ANSWER, wait="9 minutes"), endpoint="comment", account="Beta_Care")
    channels = {"reddit": channel}

    assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(sent=2, deferred=1, waiting=1)
    assert [c["body"] for c in rd.comments_by("AcmeAir_Team")] == ["Acme 1", "Acme 2"]
    assert rd.comments_by("Beta_Care") == []
    assert [c.acting_user for c in rd.calls_to("comment")] == ["Beta_Care", "AcmeAir_Team", "AcmeAir_Team"]
    reset = clock.now() + timedelta(minutes=9, seconds=1)
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
        [deferred] = [e for e in audit.history(s, "outbox", beta_1) if e.action == "reply.deferred"]
    assert (wait.platform, wait.identity, wait.account, wait.until) == ("reddit", "u/beta_care", "Beta_Care", reset)
    assert wait.who() == "reddit u/Beta_Care"
    assert deferred.details["waits"] == "u/beta_care"
    assert (stored(Session, beta_1).not_before, stored(Session, beta_2).not_before) == (reset, None)
    with Session() as s:  # the digest reads the accounts recorded with the wait
        for brand, lines in (("beta", ["Reddit u/Beta_Care rate-limited until 09:09 UTC, 2 replies waiting"]),
                             ("acme", [])):
            digest = build_digest(s, settings=two_brands, now=clock.now(), since=timedelta(hours=1), brand=brand)
            assert [wait_line(w, now=clock.now()) for w in digest.waits] == lines

    clock.advance(timedelta(minutes=5))
    acme_3 = reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Acme 3", at=9)
    assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(sent=1, waiting=1)
    assert len(rd.calls_to("comment")) == 4 and stored(Session, acme_3).status == "sent"
    clock.advance(timedelta(minutes=5))
    assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(sent=2)
    assert [c["body"] for c in rd.comments_by("Beta_Care")] == ["Beta 1", "Beta 2"]
    assert {stored(Session, r).status for r in (beta_1, beta_2, acme_1, acme_2)} == {"sent"}


def test_the_apps_429_holds_back_every_account(Session, clock, rd, two_brands):
    """Reddit's request limit is per OAuth client: the accounts share the app's."""
    channel = build_reddit_channel(two_brands, env=env_for(rd), clock=clock)
    acme_thread, beta_thread = threads(rd, clock)
    reply_row(Session, clock, brand="beta", account="Beta_Care", parent=beta_thread, text="Beta 1", at=0)
    reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Acme 1", at=1)
    rd.fail(faults.Fault(faults.RATE_LIMIT, reset_after=timedelta(seconds=120)), endpoint="comment",
            account="Beta_Care")
    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(deferred=1, waiting=1)
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
    assert (wait.identity, wait.until) == ("reddit", clock.now() + timedelta(seconds=120))
    assert len(rd.calls_to("comment")) == 1


def test_a_lost_answer_is_reconciled_in_the_posting_accounts_history(Session, clock, rd, two_brands):
    channel = build_reddit_channel(two_brands, env=env_for(rd), clock=clock)
    _, beta_thread = threads(rd, clock)
    rd.add_comment(beta_thread, "Sorry, Beta here", author="AcmeAir_Team")  # same text by the other account
    beta = reply_row(Session, clock, brand="beta", account="Beta_Care", parent=beta_thread, text="Sorry, Beta here")
    rd.fail(faults.LOST_ACK, endpoint="comment", account="Beta_Care")
    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(unknown=1)
    [created] = rd.comments_by("Beta_Care")  # Reddit made it; the answer was lost

    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(reconciled=1)
    [lookup] = rd.calls_to("user_comments")
    assert lookup.acting_user == "Beta_Care"
    assert len(rd.calls_to("comment")) == 1 and len(rd.comments_by("Beta_Care")) == 1
    assert (stored(Session, beta).status, stored(Session, beta).external_id) == ("sent", created["name"])


def test_an_account_without_a_password_fails_naming_the_variable_and_the_other_posts(
        Session, clock, rd, two_brands, caplog):
    env = reddit_env(rd)  # REDDIT_USERNAME is AcmeAir_Team; no REDDIT_PASSWORD__BETA_CARE
    channel = build_reddit_channel(two_brands, env=env, clock=clock)
    acme_thread, beta_thread = threads(rd, clock)
    beta = reply_row(Session, clock, brand="beta", account="Beta_Care", parent=beta_thread, text="Beta 1", at=0)
    acme = reply_row(Session, clock, brand="acme", account="AcmeAir_Team", parent=acme_thread, text="Acme 1", at=1)
    caplog.set_level(logging.DEBUG)

    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(sent=1, failed=1)
    failed = stored(Session, beta)
    assert failed.status == "failed"
    assert "u/Beta_Care" in failed.last_error and "REDDIT_PASSWORD__BETA_CARE" in failed.last_error
    assert "REDDIT_USERNAME is u/AcmeAir_Team" in failed.last_error
    assert stored(Session, acme).status == "sent"
    assert [c.acting_user for c in rd.calls_to("comment")] == ["AcmeAir_Team"]  # nothing tried as Beta_Care
    for secret in (rd.password, rd.client_secret, BETA_PASSWORD):
        assert secret not in caplog.text and secret not in failed.last_error


def test_startup_names_accounts_that_cannot_post_and_unknown_variables(make_settings, config_dict, rd, caplog):
    settings = make_settings(brands=[*config_dict["brands"], BETA], outreach={"channel": "live", "platforms": ["reddit"]})
    caplog.set_level(logging.WARNING, logger="outreach.channels.registry")
    channels = build_channels(settings, env={**reddit_env(rd), "REDDIT_PASSWORD__BETA_CAR": "typo-123456"})
    assert isinstance(channels["reddit"], RedditAccountsChannel)
    assert "u/Beta_Care" in caplog.text and "REDDIT_PASSWORD__BETA_CARE" in caplog.text
    assert "REDDIT_PASSWORD__BETA_CAR is set but names none" in caplog.text
    assert "typo-123456" not in caplog.text and rd.password not in caplog.text


def test_per_account_passwords_alone_are_enough_and_files_count(make_settings, config_dict, rd, clock, tmp_path):
    """No default account: each brand account logs in with its own password (one from a file)."""
    settings = make_settings(brands=[*config_dict["brands"], BETA], outreach={"channel": "live", "platforms": ["reddit"]})
    (tmp_path / "acme_pw").write_text(rd.password + "\n")
    env = {"REDDIT_CLIENT_ID": rd.client_id, "REDDIT_CLIENT_SECRET": rd.client_secret,
           "REDDIT_PASSWORD__ACMEAIR_TEAM_FILE": str(tmp_path / "acme_pw"),
           "REDDIT_PASSWORD__BETA_CARE": BETA_PASSWORD}
    channel = build_channels(settings, env=env, clock=clock)["reddit"]
    assert channel.default is None and channel.without_credentials() == []
    acme_thread, beta_thread = threads(rd, clock)
    for account, parent in (("AcmeAir_Team", acme_thread), ("Beta_Care", beta_thread)):
        channel.send(OutboundPost(outbox_id=1, platform="reddit", brand="x", account=account, text=f"Hi from {account}",
                                  in_reply_to=parent))
    assert [c["body"] for c in rd.comments_by("AcmeAir_Team")] == ["Hi from AcmeAir_Team"]
    assert [c["body"] for c in rd.comments_by("Beta_Care")] == ["Hi from Beta_Care"]
    with pytest.raises(SendError) as err:  # no default account to post a post naming none
        channel.send(OutboundPost(outbox_id=2, platform="reddit", brand="x", account=None, text="hi",
                                  in_reply_to=acme_thread))
    assert err.value.permanent and "REDDIT_USERNAME and REDDIT_PASSWORD" in str(err.value)

    missing = dict(env)
    del missing["REDDIT_CLIENT_SECRET"]
    with pytest.raises(ConfigError) as info:
        build_channels(settings, env=missing)
    assert "REDDIT_CLIENT_SECRET" in str(info.value) and "REDDIT_USERNAME" not in str(info.value)


def test_no_credentials_at_all_says_how_to_give_each_account_its_own(make_settings, config_dict):
    settings = make_settings(brands=[*config_dict["brands"], BETA], outreach={"channel": "live", "platforms": ["reddit"]})
    with pytest.raises(ConfigError) as info:
        build_channels(settings, env={"REDDIT_CLIENT_ID": "cid-123456", "REDDIT_CLIENT_SECRET": "cs-123456"})
    message = str(info.value)
    assert "REDDIT_USERNAME, REDDIT_PASSWORD" in message and "REDDIT_PASSWORD__ACMEAIR_TEAM" in message
    assert "cs-123456" not in message


def test_keys_and_names(rd, two_brands, clock):
    channel = build_reddit_channel(two_brands, env=env_for(rd), clock=clock)
    keys = [rate_limit_key(channel, account=a) for a in ("Beta_Care", "u/BETA_CARE", "AcmeAir_Team", None)]
    assert keys == ["u/beta_care", "u/beta_care", "u/acmeair_team", "u/acmeair_team"]
    assert reddit_account_password_name("u/Kestrel-Care") == "REDDIT_PASSWORD__KESTREL_CARE"
    plan = reddit_posting_credentials(["AcmeAir_Team", "u/Beta_Care", "Gamma"], env_for(rd))
    assert plan.accounts == {"Beta_Care": ("REDDIT_PASSWORD__BETA_CARE",)}
    assert plan.without == ("AcmeAir_Team", "Gamma") and plan.missing == [] and plan.unknown == ()
    assert sorted(plan.names_to_read()) == sorted([*reddit_env(rd), "REDDIT_PASSWORD__BETA_CARE"])


def test_a_wrong_password_names_that_accounts_variable(rd, two_brands, clock):
    channel = build_reddit_channel(two_brands, env=env_for(rd, REDDIT_PASSWORD__BETA_CARE="not-the-password"),
                                   clock=clock)
    acme_thread, beta_thread = threads(rd, clock)
    with pytest.raises(SendError) as err:
        channel.send(OutboundPost(outbox_id=1, platform="reddit", brand="beta", account="Beta_Care", text="hi",
                                  in_reply_to=beta_thread))
    message = str(err.value)
    assert err.value.permanent and "u/Beta_Care" in message and "check REDDIT_PASSWORD__BETA_CARE" in message
    assert "REDDIT_USERNAME" not in message and "not-the-password" not in message
    sent = channel.send(OutboundPost(outbox_id=2, platform="reddit", brand="acme", account="AcmeAir_Team", text="hi",
                                     in_reply_to=acme_thread))
    assert sent.external_id == rd.comments_by("AcmeAir_Team")[0]["name"]


def test_the_digest_counts_posts_naming_no_account_under_the_default_accounts_wait(
        Session, clock, rd, make_settings, config_dict):
    """A brand with no Reddit account of its own posts as REDDIT_USERNAME's
    account (the post names none): its RATELIMIT is that account's, and the
    digest shows it holding the brand's replies (they wait in the outbox)."""
    gamma = {"id": "gamma", "name": "Gamma Bus", "query": {"keywords": ["gamma bus"], "subreddits": ["buses"]}}
    settings = make_settings(brands=[*config_dict["brands"], gamma])
    env = reddit_env(rd)  # REDDIT_USERNAME is AcmeAir_Team
    channel = build_reddit_channel(settings, env=env, clock=clock)
    thread = rd.add_submission("buses", "Gamma Bus late again", created_at=clock.now() - timedelta(hours=1))["name"]
    first = reply_row(Session, clock, brand="gamma", account=None, parent=thread, text="Gamma 1", at=0)
    reply_row(Session, clock, brand="gamma", account=None, parent=thread, text="Gamma 2", at=1)
    rd.fail(faults.Fault(faults.RATELIMIT_ANSWER, wait="9 minutes"), endpoint="comment", account="AcmeAir_Team")
    assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(deferred=1, waiting=1)
    assert [c.acting_user for c in rd.calls_to("comment")] == ["AcmeAir_Team"]
    assert stored(Session, first).status == "approved"
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
        digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=1), brand="gamma")
    assert (wait.identity, wait.accounts) == ("u/acmeair_team", ("", "acmeair_team"))  # recorded by the sender
    assert [w.replies for w in digest.waits] == [2]
