"""The outbox with the real X channel (fake X API): what the answered post
addressed reaches the channel, and X's reply rule turns a reply into
"reply by hand" with its link, never retried."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from sqlalchemy import select

from brandpulse import audit
from brandpulse.db.models import OutboxRow
from outreach.channels.x import build_x_channel
from outreach.outbox import claim_for_send, send_approved
from tests.fakes import FakeXAPI


@pytest.fixture
def x(clock, settings):
    """The fake X API, signed in as the brand account AcmeHelp, and the real X
    channel (tweepy) on it: ``(fake, channel)``. test_x_reconciliation.py uses it too."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeXAPI(mock, now=clock.now)
        fake.set_me("AcmeHelp")
        env = {"X_API_KEY": fake.api_key, "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": fake.access_token,
               "X_ACCESS_TOKEN_SECRET": "ts-123456"}
        yield fake, build_x_channel(settings, env=env, clock=clock)


def stored_reply(make_mention, make_outbox, fake, clock, *, text: str, addressed: tuple[str, ...]) -> tuple[int, str]:
    tweet = fake.add_tweet(text, author="sam", created_at=clock.now() - timedelta(minutes=3))
    mention_id, _ = make_mention(external_id=tweet["id"], text=text, addressed=addressed, thread_id=tweet["id"])
    return make_outbox(mention_id=mention_id, in_reply_to=tweet["id"], text="Hi @sam, so sorry! DM us?"), tweet["id"]


def test_the_mentions_addressed_handles_reach_the_channel(Session, clock, make_mention, make_outbox, x):
    fake, channel = x
    rid, tweet_id = stored_reply(make_mention, make_outbox, fake, clock, text="@AcmeHelp my bag is lost",
                                 addressed=("AcmeHelp",))
    claimed = claim_for_send(Session, rid, now=clock.now())
    assert claimed.post is not None and claimed.post.addressed_handles == ("acmehelp",)
    with Session.begin() as s:  # put it back: the sender claims it itself
        s.get(OutboxRow, rid).status = "approved"
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.sent == 1
    with Session() as s:
        row = s.get(OutboxRow, rid)
    assert row.status == "sent" and row.external_id in {t["id"] for t in fake.tweets.values()}
    assert fake.calls_to("create")[0].body["reply"]["in_reply_to_tweet_id"] == tweet_id


def test_an_unaddressed_post_becomes_reply_by_hand_with_its_link(Session, clock, make_mention, make_outbox, x):
    fake, channel = x
    rid, tweet_id = stored_reply(make_mention, make_outbox, fake, clock, text="acme air lost my bag, typical",
                                 addressed=())
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.manual == 1 and report.sent == 0
    assert fake.calls_to("create") == []  # never sent to X
    with Session() as s:
        row = s.get(OutboxRow, rid)
        [event] = [e for e in audit.history(s, "outbox", rid) if e.action == "reply.manual"]
    assert row.status == "manual"
    assert row.last_error.startswith(f"reply by hand: https://x.com/i/web/status/{tweet_id}")
    assert event.details["url"] == f"https://x.com/i/web/status/{tweet_id}"
    clock.advance(timedelta(hours=1))
    again = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert again.manual == 0 and fake.calls_to("create") == []  # not retried


def test_a_reply_without_its_mention_is_not_sent_on_x(Session, clock, make_outbox, x):
    """No stored mention: what the post addressed is unknown, so X's rule cannot be met."""
    fake, channel = x
    tweet = fake.add_tweet("@AcmeHelp hello", author="sam", created_at=clock.now() - timedelta(minutes=3))
    rid = make_outbox(mention_id=None, in_reply_to=tweet["id"])
    assert send_approved(Session, channels={"x": channel}, now=clock.now()).manual == 1
    with Session() as s:
        assert s.scalar(select(OutboxRow.status).where(OutboxRow.id == rid)) == "manual"
    assert fake.calls_to("create") == []


def test_a_rate_limited_reddit_login_holds_the_reply_until_the_reset_then_sends_it_once(Session, clock, make_outbox,
                                                                                       settings):
    """A 429 on the login that precedes a post is the app's request limit, not a refusal of
    the reply: it waits (approved) until the reset and then goes out, once."""
    from outreach.channels.reddit import build_reddit_channel
    from tests.fakes import faults, reddit_env, serve_reddit

    with serve_reddit(now=clock.now) as rd:
        channel = build_reddit_channel(settings, env=reddit_env(rd), clock=clock)
        thread = rd.add_submission("travel", "Acme Air lost my bag", created_at=clock.now() - timedelta(hours=1))
        rid = make_outbox(platform="reddit", in_reply_to=thread["name"], account=None,
                          text="Sorry about your bag! Please DM us your booking reference.")
        rd.fail(faults.rate_limit(reset_after=timedelta(minutes=2)), endpoint="token")
        report = send_approved(Session, channels={"reddit": channel}, now=clock.now())
        assert report.deferred == 1 and report.failed == 0 and report.unknown == 0
        with Session() as s:
            row = s.get(OutboxRow, rid)
            assert row.status == "approved" and row.not_before == clock.now() + timedelta(minutes=2)
        clock.advance(timedelta(minutes=1))
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()).sent == 0
        assert rd.calls_to("comment") == []
        clock.advance(timedelta(minutes=1, seconds=1))
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()).sent == 1
        assert len(rd.comments_by(rd.username)) == 1 and len(rd.calls_to("comment")) == 1


def test_a_lost_answer_with_a_bare_domain_link_is_reconciled_not_posted_twice(Session, clock, make_mention,
                                                                              make_outbox, x):
    """X wraps acme.com/rebook in a t.co link although it has no scheme: reconciliation
    must still recognise the post, or the reply goes out a second time."""
    fake, channel = x
    rid, tweet_id = stored_reply(make_mention, make_outbox, fake, clock, text="@AcmeHelp my flight got cancelled",
                                 addressed=("acmehelp",))
    with Session.begin() as s:
        s.get(OutboxRow, rid).text = "Hi @sam, so sorry! Rebook for free at acme.com/rebook or DM us."
    fake.fail("lost_ack", endpoint="create")
    assert send_approved(Session, channels={"x": channel}, now=clock.now()).unknown == 1
    clock.advance(timedelta(minutes=1))
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.reconciled == 1 and report.sent == 0
    [posted] = [t for t in fake.tweets.values() if t["author_id"] == fake.me_id]
    assert "https://t.co/" in posted["text"] and "acme.com" not in posted["text"]
    with Session() as s:
        row = s.get(OutboxRow, rid)
    assert (row.status, row.external_id) == ("sent", posted["id"])
    assert len(fake.calls_to("create")) == 1


@pytest.mark.parametrize("fault", ["server_error", "timeout", "connection"])
def test_a_failed_account_lookup_before_posting_is_retried_not_reconciled(Session, clock, make_mention, make_outbox, x,
                                                                         fault):
    """The first post of an account starts with GET /2/users/me; when that fails nothing was
    posted, so the reply waits a minute instead of becoming 'unknown', whose reconciliation
    reads (and pays for) up to 200 of the account's posts before sending it anyway."""
    fake, channel = x
    rid, _ = stored_reply(make_mention, make_outbox, fake, clock, text="@AcmeHelp my bag is lost",
                          addressed=("acmehelp",))
    fake.fail(fault, endpoint="me")
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report.deferred == 1 and report.unknown == 0
    with Session() as s:
        row = s.get(OutboxRow, rid)
    assert row.status == "approved" and row.not_before == clock.now() + timedelta(minutes=1)
    assert "nothing was posted" in row.last_error
    assert fake.calls_to("create") == []
    clock.advance(timedelta(minutes=1))
    assert send_approved(Session, channels={"x": channel}, now=clock.now()).sent == 1
    assert fake.calls_to("user_tweets") == [] and len(fake.calls_to("create")) == 1


def test_a_reddit_reply_sent_after_the_access_token_expired_goes_out_once_not_back_to_a_person(Session, clock,
                                                                                                 make_outbox, settings):
    """Reddit ends an access token after its expires_in while prawcore keeps sending it up to
    10 s longer: the reply's POST is refused with 401 invalid_token before Reddit acts on it.
    The channel logs in again once and posts, instead of failing the reply for a person to
    approve again."""
    from outreach.channels.reddit import build_reddit_channel
    from tests.fakes import reddit_env, serve_reddit

    with serve_reddit(now=clock.now) as rd:
        rd.token_lifetime = timedelta(hours=1)
        channel = build_reddit_channel(settings, env=reddit_env(rd), clock=clock)
        thread = rd.add_submission("travel", "Acme Air lost my bag", created_at=clock.now() - timedelta(hours=1))
        make_outbox(platform="reddit", in_reply_to=thread["name"], account=None, text="Sorry about your bag!")
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()).sent == 1
        clock.advance(timedelta(hours=1, seconds=5))
        rid = make_outbox(platform="reddit", in_reply_to=thread["name"], account=None,
                          text="A courier has your bag; it arrives today.")
        report = send_approved(Session, channels={"reddit": channel}, now=clock.now())
        assert (report.sent, report.failed, report.unknown, report.deferred) == (1, 0, 0, 0)
        with Session() as s:
            row = s.get(OutboxRow, rid)
        [comment] = [c for c in rd.comments_by(rd.username) if c["body"] == "A courier has your bag; it arrives today."]
        assert (row.status, row.external_id) == ("sent", comment["name"])
        assert len(rd.calls_to("token")) == 2 and len(rd.calls_to("comment")) == 3
