"""Reconciling X replies whose send had an unknown outcome, with the real
X channel (tweepy) against the fake X API: a duplicate refusal of the resend
is evidence the first send went out; a look-up that keeps failing backs off,
waits for X's rate-limit reset, and stops for a person when its credentials
are refused; the look-up reads only the posts since the first attempt."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select

from brandpulse.db.models import AuditRow, OutboxRow
from outreach.channels.x import build_x_channel
from outreach.outbox import DUPLICATE_HOLD, LOOKUP_HOLD, send_approved
from tests.fakes import FakeXAPI, faults
from tests.fakes.x_api import _iso
from tests.outreach.test_outbox_networks import x  # noqa: F401 (fixture: the fake X API and the real X channel)

pytestmark = pytest.mark.usefixtures("no_sleeping")

TEXT = "Hi @sam, so sorry about the bag! DM us your booking reference?"


def stored_reply(make_mention, make_outbox, fake, clock, *, text: str = TEXT, author: str = "sam") -> int:
    tweet = fake.add_tweet(f"@AcmeHelp my bag is lost ({author})", author=author,
                           created_at=clock.now() - timedelta(minutes=3))
    mention_id, _ = make_mention(external_id=tweet["id"], text=tweet["text"], addressed=("acmehelp",),
                                 thread_id=tweet["id"], handle=author)
    return make_outbox(mention_id=mention_id, in_reply_to=tweet["id"], text=text)


def run(Session, channel, clock):
    return send_approved(Session, channels={"x": channel}, now=clock.now())


def row_of(Session, rid) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, rid)


def events(Session, rid, action) -> int:
    with Session() as s:
        return s.scalar(select(func.count()).select_from(AuditRow).where(
            AuditRow.entity_type == "outbox", AuditRow.entity_id == str(rid), AuditRow.action == action))


def own_posts(fake):
    return [t for t in fake.tweets.values() if t["author_id"] == fake.me_id]


def lost_then_resent(Session, fake, channel, clock, rid, *, misses: int):
    """The first send is created on X but its answer is lost; the look-up then
    misses it (X's timeline not yet showing it) ``misses`` times, so the reply
    is sent again ten minutes later, which X refuses as a duplicate."""
    first_attempt = clock.now()
    fake.fail("lost_ack", endpoint="create")
    assert run(Session, channel, clock).unknown == 1
    [posted] = own_posts(fake)
    clock.advance(timedelta(minutes=10))
    fake.fail("empty", endpoint="user_tweets", times=misses)
    report = run(Session, channel, clock)
    assert report.reconciled == 1  # not found: approved again, and sent again in the same run
    assert len(fake.calls_to("create")) == 2 and len(own_posts(fake)) == 1  # X refused the second one
    return first_attempt, posted


def test_a_duplicate_refusal_after_an_unknown_outcome_is_reconciled_not_failed(Session, clock, make_mention,
                                                                              make_outbox, x):
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    first_attempt, posted = lost_then_resent(Session, fake, channel, clock, rid, misses=1)
    row = row_of(Session, rid)
    assert row.status == "unknown", row.last_error  # not "failed ... edit the text"
    assert "duplicate" in row.last_error and "edit" not in row.last_error
    clock.advance(timedelta(minutes=1))
    report = run(Session, channel, clock)
    assert report.reconciled == 1 and report.sent == 0
    row = row_of(Session, rid)
    assert (row.status, row.external_id, row.hold_code) == ("sent", posted["id"], None)
    assert row.sent_at == first_attempt  # it went out at the first attempt, not the refused resend
    assert len(fake.calls_to("create")) == 2 and len(own_posts(fake)) == 1


def test_a_duplicate_not_found_is_held_for_a_person_never_told_to_edit(Session, clock, make_mention, make_outbox, x):
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    lost_then_resent(Session, fake, channel, clock, rid, misses=2)
    clock.advance(timedelta(minutes=1))
    run(Session, channel, clock)  # X's timeline still does not show it
    row = row_of(Session, rid)
    assert (row.status, row.hold_code) == ("held", DUPLICATE_HOLD)
    assert "duplicate of a post the account already has" in row.hold_reason
    assert "edit" not in row.hold_reason.lower()
    assert events(Session, rid, "reply.held") == 1
    for _ in range(3):
        clock.advance(timedelta(minutes=5))
        run(Session, channel, clock)
    assert len(fake.calls_to("create")) == 2 and row_of(Session, rid).status == "held"


def test_a_duplicate_of_another_post_on_a_first_send_fails_saying_to_edit(Session, clock, make_mention, make_outbox, x):
    """No earlier uncertain send: the duplicate is some other post of the
    account's, so editing the text is the way to post this one."""
    fake, channel = x
    first = stored_reply(make_mention, make_outbox, fake, clock, author="sam")
    second = stored_reply(make_mention, make_outbox, fake, clock, author="kim")
    report = run(Session, channel, clock)
    assert (report.sent, report.failed, report.unknown) == (1, 1, 0)
    assert row_of(Session, first).status == "sent"
    row = row_of(Session, second)
    assert row.status == "failed" and "duplicate" in row.last_error and "edit the text" in row.last_error


@pytest.mark.parametrize("fault", ["unauthorized", "forbidden"])
def test_a_look_up_refused_for_good_holds_the_reply_naming_the_credentials(Session, clock, make_mention, make_outbox,
                                                                           x, fault):
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    fake.fail("lost_ack", endpoint="create")
    run(Session, channel, clock)
    fake.fail(fault, endpoint="user_tweets", times=100)
    for _ in range(30):  # half an hour of runs, one a minute
        clock.advance(timedelta(minutes=1))
        run(Session, channel, clock)
    assert len(fake.calls_to("user_tweets")) == 1  # not looked up every minute forever
    row = row_of(Session, rid)
    assert (row.status, row.hold_code) == ("held", LOOKUP_HOLD)
    assert "X_ACCESS_TOKEN" in row.hold_reason and "X_API_KEY" in row.hold_reason
    assert fake.access_token not in row.hold_reason and "ts-123456" not in row.hold_reason
    assert events(Session, rid, "reply.held") == 1 and events(Session, rid, "reply.reconcile_failed") == 0
    assert len(fake.calls_to("create")) == 1


def test_a_rate_limited_look_up_waits_until_xs_reset(Session, clock, make_mention, make_outbox, x):
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    fake.fail("lost_ack", endpoint="create")
    run(Session, channel, clock)
    clock.advance(timedelta(minutes=1))
    fake.fail(faults.rate_limit(reset_after=timedelta(minutes=12)), endpoint="user_tweets")
    reset = clock.now().replace(microsecond=0) + timedelta(minutes=12)
    run(Session, channel, clock)
    row = row_of(Session, rid)
    assert row.status == "unknown" and row.not_before == reset
    for _ in range(11):
        clock.advance(timedelta(minutes=1))
        run(Session, channel, clock)
    assert len(fake.calls_to("user_tweets")) == 1  # nothing asked before the reset
    clock.advance(timedelta(minutes=1))
    assert run(Session, channel, clock).reconciled == 1
    assert row_of(Session, rid).status == "sent" and len(fake.calls_to("create")) == 1
    assert events(Session, rid, "reply.reconcile_failed") == 1


def test_a_look_up_that_keeps_failing_backs_off_and_is_audited_once(Session, clock, make_mention, make_outbox, x):
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    fake.fail("lost_ack", endpoint="create")
    run(Session, channel, clock)
    fake.fail("server_error", endpoint="user_tweets", times=1000)
    looked_at = []
    for minute in range(1, 121):  # two hours of runs, one a minute
        clock.advance(timedelta(minutes=1))
        before = len(fake.calls_to("user_tweets"))
        run(Session, channel, clock)
        if len(fake.calls_to("user_tweets")) > before:
            looked_at.append(minute)
    # 1 minute after the first failure, then 2, 4, ... (the next after 64: at 124, an hour at most)
    assert looked_at == [1, 2, 4, 8, 16, 32, 64]
    row = row_of(Session, rid)
    assert row.status == "unknown" and "server error" in row.last_error
    assert events(Session, rid, "reply.reconcile_failed") == 1
    fake.faults.clear()
    clock.advance(timedelta(hours=1))
    assert run(Session, channel, clock).reconciled == 1
    assert row_of(Session, rid).status == "sent" and len(fake.calls_to("create")) == 1


def test_the_look_up_reads_only_posts_since_a_little_before_the_first_attempt(Session, clock, make_mention,
                                                                             make_outbox, x):
    fake, channel = x
    for i in range(250):  # the account's busy history, all before this reply
        fake.add_tweet(f"Update {i}: all flights on time", author="AcmeHelp",
                       created_at=clock.now() - timedelta(days=2) + timedelta(minutes=i))
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    attempt = clock.now()
    fake.fail("lost_ack", endpoint="create")
    run(Session, channel, clock)
    clock.advance(timedelta(minutes=1))
    fake.posts_read = 0
    assert run(Session, channel, clock).reconciled == 1
    [call] = fake.calls_to("user_tweets")
    assert call.params["start_time"] == _iso(attempt - timedelta(minutes=2)).replace(".000Z", "Z")
    assert fake.posts_read == 1  # the reply only, not 100 of the account's older posts
    assert row_of(Session, rid).status == "sent"


def test_the_fake_x_api_filters_the_timeline_by_start_time(clock):
    import requests
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeXAPI(mock, now=clock.now)
        me = fake.set_me("AcmeHelp")
        old = fake.add_tweet("old news", author="AcmeHelp", created_at=clock.now() - timedelta(hours=2))
        new = fake.add_tweet("fresh news", author="AcmeHelp", created_at=clock.now() - timedelta(minutes=5))
        url = f"https://api.twitter.com/2/users/{me['id']}/tweets"
        headers = {"Authorization": f"Bearer {fake.bearer_token}"}
        since = _iso(clock.now() - timedelta(hours=1)).replace(".000Z", "Z")
        got = requests.get(url, params={"max_results": 100, "start_time": since}, headers=headers).json()
        assert [t["id"] for t in got["data"]] == [new["id"]]
        everything = requests.get(url, params={"max_results": 100}, headers=headers).json()
        assert [t["id"] for t in everything["data"]] == [new["id"], old["id"]]
        bad = requests.get(url, params={"max_results": 100, "start_time": "yesterday"}, headers=headers)
        assert bad.status_code == 400 and "start_time" in bad.text


def test_a_failing_account_look_up_while_reconciling_backs_off_too(Session, clock, make_mention, make_outbox, x,
                                                                   settings):
    """After a restart the channel does not know its account yet: a look-up of
    it (GET /2/users/me) that keeps failing backs off like the timeline's."""
    fake, channel = x
    rid = stored_reply(make_mention, make_outbox, fake, clock)
    fake.fail("lost_ack", endpoint="create")
    run(Session, channel, clock)
    env = {"X_API_KEY": fake.api_key, "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": fake.access_token,
           "X_ACCESS_TOKEN_SECRET": "ts-123456"}
    restarted = build_x_channel(settings, env=env, clock=clock)
    fake.fail("server_error", endpoint="me", times=1000)
    asked = []
    for minute in range(1, 41):
        clock.advance(timedelta(minutes=1))
        before = len(fake.calls_to("me"))
        run(Session, restarted, clock)
        if len(fake.calls_to("me")) > before:
            asked.append(minute)
    assert asked == [1, 2, 4, 8, 16, 32]
    assert row_of(Session, rid).status == "unknown" and events(Session, rid, "reply.reconcile_failed") == 1
