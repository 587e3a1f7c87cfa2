"""Reddit channel specifics: replies to comments, status posts and their
updates, Reddit's RATELIMIT answers, refusals, reconciliation of submissions."""

from __future__ import annotations

from datetime import timedelta

import pytest

from outreach.channels.base import OutboundPost, SendError
from outreach.channels.reddit import RedditChannel, build_reddit_channel, ratelimit_wait
from tests.fakes import faults, reddit_env, serve_reddit

pytestmark = pytest.mark.usefixtures("no_sleeping")


@pytest.fixture
def rd(clock):
    with serve_reddit(now=clock.now) as fake:
        yield fake


@pytest.fixture
def channel(rd, settings, clock) -> RedditChannel:
    return build_reddit_channel(settings, env=reddit_env(rd), clock=clock)


def post(text, *, in_reply_to=None, **kw) -> OutboundPost:
    return OutboundPost(outbox_id=1, platform="reddit", brand="acme", account=kw.pop("account", None), text=text,
                        in_reply_to=in_reply_to, **kw)


@pytest.fixture
def thread(rd, clock):
    return rd.add_submission("travel", "Acme Air lost my bag", created_at=clock.now() - timedelta(hours=1))


def test_reply_to_a_comment(rd, channel, thread, clock):
    comment = rd.add_comment(thread["name"], "me too", created_at=clock.now() - timedelta(minutes=5))
    sent = channel.send(post("Sorry! Please DM u/AcmeAir_Team your booking reference.", in_reply_to=comment["name"]))
    created = rd.comments_by(rd.username)
    assert len(created) == 1 and created[0]["parent_id"] == comment["name"]
    assert sent.external_id == created[0]["name"] and sent.url == "https://www.reddit.com" + created[0]["permalink"]


def test_status_post_then_updates_as_comments(rd, channel):
    opened = channel.send(post("We are investigating check-in errors.", kind="status", title="[Investigating] Check-in",
                               community="r/travel"))
    assert opened.external_id.startswith("t3_") and rd.things[opened.external_id]["subreddit"] == "travel"
    update = channel.send(post("Identified: an expired certificate.", kind="status", in_reply_to=opened.external_id))
    assert rd.things[update.external_id]["parent_id"] == opened.external_id


def test_a_lost_submission_is_found_again(rd, channel):
    status = post("We are investigating.", kind="status", title="[Investigating] App errors", community="travel")
    assert channel.find_sent(status) is None
    rd.fail(faults.LOST_ACK, endpoint="submit")
    with pytest.raises(SendError) as err:
        channel.send(status)
    assert err.value.outcome_unknown
    found = channel.find_sent(status)
    assert found is not None and rd.things[found.external_id]["title"] == "[Investigating] App errors"


@pytest.mark.parametrize("wait,expected", [("9 minutes", timedelta(minutes=9)), ("500 milliseconds", timedelta(milliseconds=500)),
                                           ("30 seconds", timedelta(seconds=30)), ("a while", timedelta(minutes=10))])
def test_ratelimit_answers_defer_without_sleeping(rd, channel, thread, clock, wait, expected):
    rd.fail(faults.Fault(faults.RATELIMIT_ANSWER, wait=wait), endpoint="comment")
    with pytest.raises(SendError) as err:
        channel.send(post("hello", in_reply_to=thread["name"]))
    assert err.value.retry_at == clock.now() + expected + timedelta(seconds=1)
    assert len(rd.calls_to("comment")) == 1 and rd.comments_by(rd.username) == []


def test_ratelimit_wait_parsing():
    assert ratelimit_wait("Take a break for 2 hours before trying again.") == timedelta(hours=2)
    assert ratelimit_wait(None) is None


def test_reddit_refusals_are_permanent_with_their_code(rd, channel):
    with pytest.raises(SendError) as err:
        channel.send(post("hello", in_reply_to="t1_zzzzzz"))  # the fake has no such comment
    assert err.value.permanent and "INVALID_PARENT" in str(err.value)


def test_a_locked_thread_is_permanent(rd, channel, thread):
    rd.fail(faults.FORBIDDEN, endpoint="comment")
    with pytest.raises(SendError) as err:
        channel.send(post("hello", in_reply_to=thread["name"]))
    assert err.value.permanent and "403" in str(err.value)


@pytest.mark.parametrize("bad,problem", [
    (post("hello", in_reply_to="12345"), "not a submission"),
    (post("hello", kind="status", title="no subreddit"), "needs a subreddit"),
    (post("hello", kind="status", community="travel", title="t" * 301), "title is 301"),
    (post("   ", in_reply_to="t3_abc"), "empty"),
    (OutboundPost(outbox_id=1, platform="x", brand="acme", account=None, text="hi"), "cannot post on 'x'"),
])
def test_checked_before_sending(rd, channel, bad, problem):
    with pytest.raises(SendError, match=problem) as err:
        channel.send(bad)
    assert err.value.permanent and rd.calls_to("comment") == [] and rd.calls_to("submit") == []


def test_bad_password_is_permanent_and_named(rd, channel, thread):
    rd.password = "changed"
    with pytest.raises(SendError) as err:
        channel.send(post("hello", in_reply_to=thread["name"]))
    assert err.value.permanent and "REDDIT_PASSWORD" in str(err.value)


# -- the login (token request) that precedes a post -----------------------------------------
# praw logs in lazily: the first post of an account (and the first after its token expires)
# starts with POST /api/v1/access_token. Nothing is posted when that request fails, and
# prawcore raises a plain ResponseException for it (TooManyRequests and ServerError are
# only raised for API requests).


def test_a_429_on_the_login_waits_for_the_apps_limit_instead_of_failing(rd, channel, thread, clock):
    rd.fail(faults.rate_limit(reset_after=timedelta(seconds=120)), endpoint="token")
    with pytest.raises(SendError) as err:
        channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))
    assert not err.value.permanent and not err.value.outcome_unknown
    assert err.value.retry_at == clock.now() + timedelta(seconds=120)
    assert err.value.limit_key == "reddit"  # the app's request limit: every account waits
    assert "429" in str(err.value) and "logging in" in str(err.value)
    assert rd.calls_to("comment") == []


@pytest.mark.parametrize("fault", [faults.server_error(503), faults.TIMEOUT, faults.CONNECTION])
def test_a_failed_login_is_retried_later_not_reconciled(rd, channel, thread, clock, fault):
    rd.fail(fault, endpoint="token")
    with pytest.raises(SendError) as err:
        channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))
    assert not err.value.permanent and not err.value.outcome_unknown
    assert err.value.retry_at == clock.now() + timedelta(minutes=1)
    assert "nothing was sent" in str(err.value) and "u/AcmeAir_Team" in str(err.value)
    assert rd.calls_to("comment") == []
    sent = channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))  # a minute later: it goes
    assert sent.external_id == rd.comments_by(rd.username)[0]["name"]


def test_a_408_on_the_post_may_have_created_it(rd, channel, thread):
    # prawcore counts 408 among the statuses to retry (a transient answer), so it is not a
    # refusal: the comment may exist and is looked for before any resend.
    rd.fail(faults.server_error(408), endpoint="comment")
    with pytest.raises(SendError) as err:
        channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))
    assert err.value.outcome_unknown and not err.value.permanent


# -- an access token Reddit stops accepting ---------------------------------------------------
# Reddit ends an access token after its expires_in (prawcore keeps sending it up to 10 s
# longer) or when it is revoked, and answers 401 with `www-authenticate: Bearer
# realm="reddit", error="invalid_token"` (prawcore: InvalidToken, the token dropped). That 401
# is an authentication refusal: the request was not carried out as the account, so a refused
# POST /api/comment/ created nothing and posting again after a fresh login is at most once.


@pytest.mark.parametrize("ended", ["expired", "revoked"])
def test_a_reply_sent_with_a_token_reddit_no_longer_accepts_logs_in_again_and_posts_once(rd, channel, thread,
                                                                                         clock, ended):
    rd.token_lifetime = timedelta(hours=1)
    channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))  # logs in, posts
    assert len(rd.calls_to("token")) == 1
    if ended == "expired":
        clock.advance(timedelta(hours=1, seconds=5))  # past expires_in, inside prawcore's 10 s
    else:
        rd.tokens.clear()
    sent = channel.send(post("A courier has your bag, it arrives today.", in_reply_to=thread["name"]))
    assert len(rd.calls_to("token")) == 2  # one fresh login
    ours = [c for c in rd.comments_by(rd.username) if c["body"] == "A courier has your bag, it arrives today."]
    assert len(ours) == 1 and sent.external_id == ours[0]["name"]  # created once
    assert len(rd.calls_to("comment")) == 3  # the first post, the refused one, the one that went


def test_status_posts_and_a_lookup_with_an_expired_token_log_in_again(rd, channel, thread, clock):
    rd.token_lifetime = timedelta(hours=1)
    channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))  # logs in
    clock.advance(timedelta(hours=1, seconds=1))
    status = post("We are investigating.", kind="status", title="[Investigating] App errors", community="travel")
    opened = channel.send(status)  # POST /api/submit/ refused, fresh login, posted
    clock.advance(timedelta(hours=1, seconds=1))
    assert channel.find_sent(status).external_id == opened.external_id  # reading the history logs in again too
    clock.advance(timedelta(hours=1, seconds=1))
    update = channel.send(post("Identified: an expired certificate.", kind="status", in_reply_to=opened.external_id))
    assert rd.things[update.external_id]["parent_id"] == opened.external_id
    assert len(rd.calls_to("token")) == 4 and len(rd.calls_to("submit")) == 2  # the refused one and the one that went
    assert [t["title"] for n, t in rd.things.items() if rd.kinds[n] == "t3" and t["author"] == rd.username] \
        == ["[Investigating] App errors"]


def test_a_token_refused_again_after_logging_in_is_permanent_and_names_the_variables(rd, channel, thread):
    channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))
    rd.fail(faults.UNAUTHORIZED, times=2, endpoint="comment")
    with pytest.raises(SendError) as err:
        channel.send(post("A courier has your bag.", in_reply_to=thread["name"]))
    message = str(err.value)
    assert err.value.permanent and not err.value.outcome_unknown and err.value.retry_at is None
    for name in ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD"):
        assert name in message
    assert rd.client_secret not in message and rd.password not in message
    assert not any(token in message for token in rd.tokens)
    assert len(rd.calls_to("token")) == 2 and len(rd.calls_to("comment")) == 3  # one fresh login, no more
    assert [c["body"] for c in rd.comments_by(rd.username)] == ["Sorry about your bag!"]


def test_a_refused_fresh_login_after_an_expired_token_is_permanent_and_names_the_login(rd, channel, thread, clock):
    rd.token_lifetime = timedelta(hours=1)
    channel.send(post("Sorry about your bag!", in_reply_to=thread["name"]))
    clock.advance(timedelta(hours=2))
    rd.password = "changed-on-reddit"
    with pytest.raises(SendError) as err:
        channel.send(post("A courier has your bag.", in_reply_to=thread["name"]))
    assert err.value.permanent and "REDDIT_USERNAME" in str(err.value) and "REDDIT_PASSWORD" in str(err.value)
    assert "changed-on-reddit" not in str(err.value)
    assert len(rd.comments_by(rd.username)) == 1


def test_a_brand_account_s_expired_token_is_renewed_with_its_own_password(rd, make_settings, config_dict, thread,
                                                                          clock):
    beta = {"id": "beta", "name": "Beta Rail", "accounts": {"reddit": ["Beta_Care"]},
            "query": {"keywords": ["beta rail"], "subreddits": ["trains"]}}
    rd.add_account("Beta_Care", "beta-care-password-123")
    env = {**reddit_env(rd), "REDDIT_PASSWORD__BETA_CARE": "beta-care-password-123"}
    channel = build_reddit_channel(make_settings(brands=[*config_dict["brands"], beta]), env=env, clock=clock)
    rd.token_lifetime = timedelta(hours=1)
    channel.send(post("Sorry!", in_reply_to=thread["name"], account="Beta_Care"))
    clock.advance(timedelta(hours=1, seconds=5))
    sent = channel.send(post("Your bag is on its way.", in_reply_to=thread["name"], account="Beta_Care"))
    assert rd.things[sent.external_id]["author"] == "Beta_Care"
    rd.fail(faults.UNAUTHORIZED, times=2, endpoint="comment", account="Beta_Care")
    with pytest.raises(SendError) as err:
        channel.send(post("Anything else?", in_reply_to=thread["name"], account="Beta_Care"))
    assert err.value.permanent and "REDDIT_PASSWORD__BETA_CARE" in str(err.value)
    assert "beta-care-password-123" not in str(err.value)
