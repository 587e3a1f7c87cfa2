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
