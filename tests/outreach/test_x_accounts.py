"""Posting on X as several of a brand's accounts: each account's own access
token (X_ACCESS_TOKEN__<HANDLE>), the default account's (X_ACCESS_TOKEN), the
channel routing posts and reconciliation by ``post.account``, and what the
outbox makes of it. Real tweepy code against the fake X API, which tells
users apart by the OAuth 1.0a ``oauth_token`` of each request."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from brandpulse import audit
from brandpulse.db.models import OutboxRow
from brandpulse.secrets import MissingSecretError
from outreach.channels.base import ManualReplyRequired, OutboundPost, SendError
from outreach.channels.x import XAccountsChannel, build_x_channel
from outreach.outbox import send_approved
from tests.fakes import faults, serve_x

pytestmark = pytest.mark.usefixtures("no_sleeping")

APP = {"X_API_SECRET": "test-app-secret-51d2"}
DEFAULT_SECRET = "test-default-token-secret-8c1a"
HELP_SECRET = "test-help-token-secret-33fe"


@pytest.fixture
def x(clock):
    """AcmeAir behind X_ACCESS_TOKEN (the default), AcmeHelp with a token of its own."""
    with serve_x(now=clock.now) as fake:
        fake.set_me("AcmeAir")
        fake.help_token = fake.add_account_token("AcmeHelp")
        fake.add_user("sam")
        fake.add_user("jane")
        yield fake


def default_env(fake) -> dict[str, str]:
    return {"X_API_KEY": fake.api_key, **APP, "X_ACCESS_TOKEN": fake.access_token,
            "X_ACCESS_TOKEN_SECRET": DEFAULT_SECRET}


def help_env(fake) -> dict[str, str]:
    return {"X_ACCESS_TOKEN__ACMEHELP": fake.help_token, "X_ACCESS_TOKEN_SECRET__ACMEHELP": HELP_SECRET}


def both_env(fake) -> dict[str, str]:
    return {**default_env(fake), **help_env(fake)}


def reply(target: dict, text: str, *, account: str | None, addressed: tuple[str, ...], outbox_id: int = 1):
    return OutboundPost(outbox_id=outbox_id, platform="x", brand="acme", account=account, text=text,
                        in_reply_to=target["id"], addressed_handles=addressed)


def author_of(fake, post_id: str) -> str:
    return fake.users[fake.tweets[int(post_id)]["author_id"]]["username"]


def ago(clock, minutes: int = 3):
    return clock.now() - timedelta(minutes=minutes)


# ------------------------------------------------------------------ the channel
def test_replies_go_out_from_the_account_addressed(x, settings, clock):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    assert isinstance(channel, XAccountsChannel)
    to_air = x.add_tweet("@AcmeAir my flight is late", author="sam", created_at=ago(clock))
    to_help = x.add_tweet("@AcmeHelp my bag is lost", author="jane", created_at=ago(clock))
    sent_air = channel.send(reply(to_air, "Sorry Sam, checking now.", account="AcmeAir", addressed=("acmeair",)))
    sent_help = channel.send(reply(to_help, "Sorry Jane, DM us your tag number.", account="@acmehelp",
                                   addressed=("acmehelp",)))
    assert author_of(x, sent_air.external_id) == "AcmeAir"
    assert author_of(x, sent_help.external_id) == "AcmeHelp"
    assert sent_help.url == f"https://x.com/AcmeHelp/status/{sent_help.external_id}"
    # each request carried its own account's token
    tokens = [c.headers["Authorization"] for c in x.calls_to("create")]
    assert f'oauth_token="{x.access_token}"' in tokens[0] and f'oauth_token="{x.help_token}"' in tokens[1]
    # a post naming no account goes out from the default account
    status = channel.send(OutboundPost(outbox_id=3, platform="x", brand="acme", account=None, text="All flights on time.",
                                       kind="status"))
    assert author_of(x, status.external_id) == "AcmeAir"


def test_each_account_is_looked_up_once_and_checked_against_its_handle(x, settings, clock):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    for i, account in enumerate(["AcmeHelp", "AcmeAir", "AcmeHelp", "AcmeAir"]):
        channel.send(OutboundPost(outbox_id=i, platform="x", brand="acme", account=account, text=f"Update {i}",
                                  kind="status"))
    lookups = [c.headers["Authorization"] for c in x.calls_to("me")]
    assert len(lookups) == 2
    assert sum(f'oauth_token="{x.help_token}"' in a for a in lookups) == 1

    # AcmeHelp's variables hold AcmeAir's token: refused, naming the variables to check
    wrong = {**default_env(x), "X_ACCESS_TOKEN__ACMEHELP": x.access_token,
             "X_ACCESS_TOKEN_SECRET__ACMEHELP": DEFAULT_SECRET}
    channel = build_x_channel(settings, env=wrong, clock=clock)
    before = len(x.calls_to("create"))
    with pytest.raises(SendError) as err:
        channel.send(OutboundPost(outbox_id=9, platform="x", brand="acme", account="AcmeHelp", text="hi",
                                  kind="status"))
    assert err.value.permanent
    assert "belong to @AcmeAir, not @AcmeHelp" in str(err.value)
    assert "X_ACCESS_TOKEN__ACMEHELP" in str(err.value)
    assert len(x.calls_to("create")) == before


def test_the_reply_rule_holds_per_account(x, settings, clock):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    to_air = x.add_tweet("@AcmeAir where is my refund", author="sam", created_at=ago(clock))
    # addressed to @AcmeAir, drafted as @AcmeHelp: X would refuse it, so it is not sent
    with pytest.raises(ManualReplyRequired) as err:
        channel.send(reply(to_air, "We'll look into it", account="AcmeHelp", addressed=("acmeair",)))
    assert "@AcmeHelp" in str(err.value) and to_air["id"] in err.value.url
    assert x.calls_to("create") == []
    # brandpulse believed it addressed @AcmeHelp, X knows better: X's refusal is a reply by hand too
    with pytest.raises(ManualReplyRequired):
        channel.send(reply(to_air, "We'll look into it", account="AcmeHelp", addressed=("acmehelp",)))
    assert len(x.calls_to("create")) == 1 and not any(t["author_id"] == x.user("AcmeHelp")["id"]
                                                       for t in x.tweets.values())
    # the account it addressed may answer
    sent = channel.send(reply(to_air, "We'll look into it", account="AcmeAir", addressed=("acmeair",)))
    assert author_of(x, sent.external_id) == "AcmeAir"


def test_find_sent_looks_on_the_timeline_of_the_account_that_posted(x, settings, clock):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    target = x.add_tweet("@AcmeAir @AcmeHelp both of you, help", author="sam", created_at=ago(clock))
    as_help = reply(target, "On it, Sam.", account="AcmeHelp", addressed=("acmeair", "acmehelp"))
    x.fail(faults.LOST_ACK, endpoint="create")
    with pytest.raises(SendError) as err:
        channel.send(as_help)
    assert err.value.outcome_unknown
    [created] = [t for t in x.tweets.values() if t["author_id"] == x.user("AcmeHelp")["id"]]
    found = channel.find_sent(as_help)
    assert found is not None and found.external_id == created["id"]
    [timeline] = x.calls_to("user_tweets")
    assert timeline.path == f"/2/users/{x.user('AcmeHelp')['id']}/tweets"
    assert f'oauth_token="{x.help_token}"' in timeline.headers["Authorization"]
    # the same text as @AcmeAir was never posted: AcmeAir's timeline does not have it
    assert channel.find_sent(reply(target, "On it, Sam.", account="AcmeAir", addressed=("acmeair",))) is None


def test_an_account_without_credentials_fails_alone_without_a_request(x, settings, clock):
    """Only AcmeHelp has a token (no default account): AcmeAir's replies fail
    permanently, naming the variables to set; AcmeHelp's go out."""
    env = {"X_API_KEY": x.api_key, **APP, **help_env(x)}
    channel = build_x_channel(settings, env=env, clock=clock)
    to_air = x.add_tweet("@AcmeAir late again", author="sam", created_at=ago(clock))
    to_help = x.add_tweet("@AcmeHelp lost bag", author="jane", created_at=ago(clock))
    with pytest.raises(SendError) as err:
        channel.send(reply(to_air, "Sorry!", account="AcmeAir", addressed=("acmeair",)))
    message = str(err.value)
    assert err.value.permanent and not err.value.outcome_unknown
    assert "X_ACCESS_TOKEN__ACMEAIR" in message and "X_ACCESS_TOKEN_SECRET__ACMEAIR" in message
    assert x.calls == []  # nothing was asked of X
    with pytest.raises(SendError, match="X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET"):
        channel.send(OutboundPost(outbox_id=2, platform="x", brand="acme", account=None, text="hi", kind="status"))
    sent = channel.send(reply(to_help, "Sorry Jane!", account="AcmeHelp", addressed=("acmehelp",)))
    assert author_of(x, sent.external_id) == "AcmeHelp"


def test_with_a_default_account_another_account_without_credentials_is_explained(x, settings, clock):
    channel = build_x_channel(settings, env=default_env(x), clock=clock)
    to_help = x.add_tweet("@AcmeHelp lost bag", author="jane", created_at=ago(clock))
    with pytest.raises(SendError) as err:
        channel.send(reply(to_help, "Sorry Jane!", account="AcmeHelp", addressed=("acmehelp",)))
    message = str(err.value)
    assert err.value.permanent
    assert "another of the brand's accounts" in message and "@AcmeAir's" in message
    assert "X_ACCESS_TOKEN__ACMEHELP" in message and "X_ACCESS_TOKEN_SECRET__ACMEHELP" in message
    assert x.calls_to("create") == []


def test_a_pair_set_by_half_is_named(x, settings):
    env = {**default_env(x), "X_ACCESS_TOKEN__ACMEHELP": x.help_token}
    with pytest.raises(MissingSecretError) as err:
        build_x_channel(settings, env=env)
    assert err.value.names == ["X_ACCESS_TOKEN_SECRET__ACMEHELP"]


def test_a_token_file_counts(x, settings, clock, tmp_path):
    (tmp_path / "help_token").write_text(x.help_token + "\n")
    (tmp_path / "help_secret").write_text(HELP_SECRET)
    env = {**default_env(x), "X_ACCESS_TOKEN__ACMEHELP_FILE": str(tmp_path / "help_token"),
           "X_ACCESS_TOKEN_SECRET__ACMEHELP_FILE": str(tmp_path / "help_secret")}
    channel = build_x_channel(settings, env=env, clock=clock)
    sent = channel.send(OutboundPost(outbox_id=1, platform="x", brand="acme", account="AcmeHelp", text="Hello",
                                     kind="status"))
    assert author_of(x, sent.external_id) == "AcmeHelp"


def test_no_token_in_logs_reprs_or_errors(x, settings, clock, caplog):
    caplog.set_level(logging.DEBUG)
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    target = x.add_tweet("@AcmeAir @AcmeHelp hello", author="sam", created_at=ago(clock))
    for account in ("AcmeAir", "AcmeHelp"):
        post = reply(target, f"Hello from {account}", account=account, addressed=("acmeair", "acmehelp"))
        channel.send(post)
        assert channel.find_sent(post) is not None
    x.fail(faults.UNAUTHORIZED, endpoint="create")
    with pytest.raises(SendError) as err:
        channel.send(reply(target, "again", account="AcmeHelp", addressed=("acmehelp",)))
    assert "X_ACCESS_TOKEN__ACMEHELP" in str(err.value)  # names, not values
    shown = "\n".join([caplog.text, repr(channel), str(channel), str(err.value), repr(channel.accounts),
                       repr(channel.default)])
    assert "@AcmeHelp" in repr(channel)
    assert caplog.text
    for secret in (x.access_token, x.help_token, DEFAULT_SECRET, HELP_SECRET, APP["X_API_SECRET"]):
        assert secret not in shown


# ------------------------------------------------------------------ through the outbox
def stored_reply(make_mention, make_outbox, fake, clock, *, author: str, account: str, text: str):
    tweet = fake.add_tweet(text, author=author, created_at=ago(clock))
    mention_id, _ = make_mention(external_id=tweet["id"], text=text, handle=author, addressed=(account.lower(),),
                                 thread_id=tweet["id"])
    rid = make_outbox(mention_id=mention_id, in_reply_to=tweet["id"], text=f"Hi @{author}, so sorry! DM us?",
                      account=account)
    return rid, tweet["id"]


def row(Session, rid) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, rid)


def test_outbox_sends_each_reply_from_its_account(Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    air, _ = stored_reply(make_mention, make_outbox, x, clock, author="sam", account="AcmeAir", text="@AcmeAir late")
    help_, _ = stored_reply(make_mention, make_outbox, x, clock, author="jane", account="AcmeHelp",
                            text="@AcmeHelp lost bag")
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.sent == 2
    assert author_of(x, row(Session, air).external_id) == "AcmeAir"
    assert author_of(x, row(Session, help_).external_id) == "AcmeHelp"


def test_outbox_reconciles_a_lost_ack_on_the_accounts_timeline_and_posts_once(
        Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    rid, tweet_id = stored_reply(make_mention, make_outbox, x, clock, author="jane", account="AcmeHelp",
                                 text="@AcmeHelp lost bag")
    x.fail(faults.LOST_ACK, endpoint="create")
    first = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert first.unknown == 1 and row(Session, rid).status == "unknown"
    clock.advance(timedelta(minutes=1))
    second = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert second.reconciled == 1 and second.sent == 0
    done = row(Session, rid)
    help_id = x.user("AcmeHelp")["id"]
    mine = [t for t in x.tweets.values() if t["author_id"] == help_id]
    assert done.status == "sent" and [t["id"] for t in mine] == [done.external_id]
    assert len(x.calls_to("create")) == 1  # posted exactly once
    [timeline] = x.calls_to("user_tweets")
    assert timeline.path == f"/2/users/{help_id}/tweets"
    clock.advance(timedelta(minutes=1))
    assert send_approved(Session, channels={"x": channel}, now=clock.now()).sent == 0
    assert len(x.calls_to("create")) == 1


def test_outbox_fails_only_the_replies_of_the_account_without_credentials(
        Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=default_env(x), clock=clock)  # AcmeAir only
    air, _ = stored_reply(make_mention, make_outbox, x, clock, author="sam", account="AcmeAir", text="@AcmeAir late")
    help_, _ = stored_reply(make_mention, make_outbox, x, clock, author="jane", account="AcmeHelp",
                            text="@AcmeHelp lost bag")
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.sent == 1 and report.failed == 1
    assert row(Session, air).status == "sent"
    failed = row(Session, help_)
    assert failed.status == "failed" and "X_ACCESS_TOKEN__ACMEHELP" in failed.last_error
    with Session() as s:
        assert [e.action for e in audit.history(s, "outbox", help_)][-1] == "reply.failed"
    clock.advance(timedelta(hours=1))  # not retried by itself: a person sets the token and approves again
    assert send_approved(Session, channels={"x": channel}, now=clock.now()).failed == 0
    assert len(x.calls_to("create")) == 1
    with Session() as s:
        assert s.scalar(select(OutboxRow.status).where(OutboxRow.id == help_)) == "failed"


# ------------------------------------------------------------------ start-up check (live channels)
X_SOURCE = {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir"}
STATIC_APP = {"X_API_KEY": "k-123456", "X_API_SECRET": "s-123456"}
STATIC_DEFAULT = {"X_ACCESS_TOKEN": "111-tok-123456", "X_ACCESS_TOKEN_SECRET": "ts-123456"}
STATIC_HELP = {"X_ACCESS_TOKEN__ACMEHELP": "222-tok-654321", "X_ACCESS_TOKEN_SECRET__ACMEHELP": "ts-654321"}


def live_x(make_settings, env, caplog):
    """(channels, warnings logged) for a live configuration listening on X."""
    from outreach.channels.registry import build_channels

    settings = make_settings(outreach={"channel": "live"}, sources=[X_SOURCE])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="outreach.channels.registry"):
        channels = build_channels(settings, env=env)
    return channels, [r.getMessage() for r in caplog.records if r.name == "outreach.channels.registry"]


def test_startup_is_quiet_when_every_account_can_post(make_settings, caplog):
    import responses

    with responses.RequestsMock():  # no request may be made to build the channel
        channels, warnings = live_x(make_settings, {**STATIC_APP, **STATIC_DEFAULT, **STATIC_HELP}, caplog)
    assert warnings == []
    assert set(channels["x"].accounts) == {"acmehelp"} and channels["x"].default is not None
    _, warnings = live_x(make_settings, {**STATIC_APP, **STATIC_HELP,
                                         "X_ACCESS_TOKEN__ACMEAIR": "333-tok-999999",
                                         "X_ACCESS_TOKEN_SECRET__ACMEAIR": "ts-999999"}, caplog)
    assert warnings == []  # no default account is needed when each has its own pair


def test_startup_warns_about_accounts_that_cannot_post(make_settings, caplog):
    # today's single pair: it is one account's, so one of the two brand accounts cannot post
    channels, [warning] = live_x(make_settings, {**STATIC_APP, **STATIC_DEFAULT}, caplog)
    assert "x" in channels
    assert "@AcmeAir" in warning and "@AcmeHelp" in warning and "X_ACCESS_TOKEN is one account's" in warning
    assert "X_ACCESS_TOKEN__ACMEHELP and X_ACCESS_TOKEN_SECRET__ACMEHELP" in warning
    # only AcmeHelp's pair: AcmeAir cannot post, AcmeHelp can
    channels, [warning] = live_x(make_settings, {**STATIC_APP, **STATIC_HELP}, caplog)
    assert channels["x"].default is None
    assert "@AcmeAir" in warning and "@AcmeHelp" not in warning
    assert "X_ACCESS_TOKEN__ACMEAIR and X_ACCESS_TOKEN_SECRET__ACMEAIR" in warning
    for value in STATIC_HELP.values():
        assert value not in warning


def test_startup_warns_about_a_token_for_no_brand_account(make_settings, caplog):
    env = {**STATIC_APP, **STATIC_DEFAULT, **STATIC_HELP, "X_ACCESS_TOKEN__ACMEHLEP": "444-tok-000000"}
    _, warnings = live_x(make_settings, env, caplog)
    assert len(warnings) == 1 and "X_ACCESS_TOKEN__ACMEHLEP" in warnings[0] and "not used" in warnings[0]
    assert "444-tok-000000" not in warnings[0]


def test_startup_refuses_when_no_account_can_post(make_settings, caplog):
    from brandpulse.config import ConfigError

    with pytest.raises(ConfigError) as err:
        live_x(make_settings, dict(STATIC_APP), caplog)
    message = str(err.value)
    assert "X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET" in message
    assert "X_ACCESS_TOKEN__ACMEAIR" in message  # the other way to give an account its token
    with pytest.raises(ConfigError) as err:  # a pair set by half is a mistake to fix, not a warning
        live_x(make_settings, {**STATIC_APP, **STATIC_DEFAULT, "X_ACCESS_TOKEN__ACMEHELP": "222-tok-654321"}, caplog)
    assert "X_ACCESS_TOKEN_SECRET__ACMEHELP" in str(err.value) and "222-tok-654321" not in str(err.value)
