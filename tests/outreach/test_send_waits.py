"""Rate limits per sender: on X each access token has its own limit, so a 429
for one brand account holds back that account's replies (until the reset, in
every later run and process: the wait is kept in ``send_waits``) and nothing
else; accounts that post with the same token share the wait; the app's daily
limit stops every account; on Reddit each account waits alone for its
RATELIMIT (tests/outreach/test_reddit_accounts.py).
The fake X API answers 429 per user token (``limit_posting``) and counts the
posts each user tried."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
import responses
from sqlalchemy import select

from brandpulse import audit
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import OutboxRow, SendWaitRow
from outreach.channels.base import OutboundPost, SendError, SentPost, rate_limit_key
from outreach.channels.reddit import build_reddit_channel
from outreach.channels.x import DEFAULT_BACKOFF, build_x_channel
from outreach.digest import build_digest, wait_line
from outreach.outbox import SendReport, current_waits, forget_expired_waits, send_approved
from tests.fakes import FakeRedditAPI, FakeXAPI, faults, reddit_env, serve_x
from tests.outreach.test_x_accounts import APP, DEFAULT_SECRET, HELP_SECRET, both_env, default_env, help_env

pytestmark = pytest.mark.usefixtures("no_sleeping")


@pytest.fixture
def x(clock):
    """AcmeAir behind X_ACCESS_TOKEN (the default), AcmeHelp with a token of its own."""
    with serve_x(now=clock.now) as fake:
        fake.set_me("AcmeAir")
        fake.help_token = fake.add_account_token("AcmeHelp")
        yield fake


def stored_reply(x, make_mention, make_outbox, clock, *, account: str | None, author: str) -> int:
    """An approved reply as ``account`` to a post by ``author`` that addressed it."""
    addressed = (account or "AcmeAir").lower()
    x.add_user(author)
    tweet = x.add_tweet(f"@{account or 'AcmeAir'} help please", author=author,
                        created_at=clock.now() - timedelta(minutes=3))
    mention_id, _ = make_mention(external_id=tweet["id"], text=tweet["text"], handle=author, addressed=(addressed,),
                                 thread_id=tweet["id"])
    return make_outbox(mention_id=mention_id, in_reply_to=tweet["id"], text=f"Hi @{author}, sorry! DM us?",
                       account=account)


def row(Session, rid) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, rid)


def run(Session, channel, clock, **kw) -> SendReport:
    return send_approved(Session, channels={"x": channel}, now=clock.now(), **kw)


# ------------------------------------------------------------------ one account's limit
def test_a_429_is_kept_as_the_senders_wait_even_when_its_reply_was_re_claimed_meanwhile(
        Session, clock, make_mention, make_outbox, x, settings):
    """The limit belongs to the token: it holds whatever became of the reply
    that met it (here another sender re-claimed the row during the call)."""
    real = build_x_channel(settings, env=both_env(x), clock=clock)

    class ReClaimedDuringTheCall:
        def __getattr__(self, name):
            return getattr(real, name)

        def send(self, post):
            with Session.begin() as s:
                s.get(OutboxRow, post.outbox_id).claimed_at = clock.now() + timedelta(seconds=1)
            return real.send(post)

    help_1 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
    x.limit_posting("AcmeHelp", until=clock.now() + timedelta(minutes=10))
    report = run(Session, ReClaimedDuringTheCall(), clock)
    assert report.deferred == 1
    assert row(Session, help_1).status == "sending"  # the outcome was not ours to record
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
        assert not [e for e in audit.history(s, "outbox", help_1) if e.action == "reply.deferred"]
    assert (wait.identity, wait.account, wait.until) == ("X_ACCESS_TOKEN__ACMEHELP", "AcmeHelp",
                                                         clock.now() + timedelta(minutes=10))


@pytest.mark.parametrize("reset_header", [True, False], ids=["x-rate-limit-reset", "no-reset-header"])
def test_a_429_holds_back_only_that_accounts_replies_until_the_reset(
        Session, clock, make_mention, make_outbox, x, settings, reset_header, caplog):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    start = clock.now()
    help_1 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
    air_1 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c2")
    help_2 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c3")
    air_2 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c4")
    x.limit_posting("AcmeHelp", until=start + timedelta(minutes=10), reset_header=reset_header)
    reset = start + (timedelta(minutes=10) if reset_header else DEFAULT_BACKOFF)

    caplog.set_level(logging.INFO, logger="outreach.outbox")
    report = run(Session, channel, clock)
    assert report == SendReport(sent=2, deferred=1, waiting=1)
    assert row(Session, air_1).status == row(Session, air_2).status == "sent"  # @AcmeAir posted after the 429
    assert (x.posts_tried("AcmeHelp"), x.posts_tried("AcmeAir")) == (1, 2)
    assert (row(Session, help_1).status, row(Session, help_1).not_before) == ("approved", reset)
    assert (row(Session, help_2).status, row(Session, help_2).not_before) == ("approved", None)
    # the wait is kept for every sender of this database, naming the account and the token's variable
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
        deferred = [e for e in audit.history(s, "outbox", help_1) if e.action == "reply.deferred"]
    assert (wait.platform, wait.identity, wait.account, wait.until) == ("x", "X_ACCESS_TOKEN__ACMEHELP",
                                                                       "AcmeHelp", reset)
    assert wait.accounts == ("acmehelp",)  # no other account posts with its token
    assert "429" in wait.reason
    assert deferred[-1].details["account"] == "AcmeHelp"
    assert deferred[-1].details["waits"] == "X_ACCESS_TOKEN__ACMEHELP"
    assert deferred[-1].details["retry_at"] == reset.isoformat()
    assert f"x @AcmeHelp (token X_ACCESS_TOKEN__ACMEHELP): waits until {reset:%Y-%m-%d %H:%M:%S} UTC" in caplog.text
    for secret in (x.access_token, x.help_token, DEFAULT_SECRET, HELP_SECRET, APP["X_API_SECRET"]):
        assert secret not in caplog.text

    # later runs before the reset, in a new process (a new channel), try none of @AcmeHelp's replies
    # while a new @AcmeAir reply goes out
    clock.advance(timedelta(minutes=5))
    air_3 = stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c5")
    restarted = build_x_channel(settings, env=both_env(x), clock=clock)
    caplog.clear()
    assert run(Session, restarted, clock) == SendReport(sent=1, waiting=1)  # help_1 is not due: it has not_before
    assert row(Session, air_3).status == "sent"
    assert x.posts_tried("AcmeHelp") == 1
    assert f"x @AcmeHelp: 1 approved reply wait for the platform until {reset:%Y-%m-%d %H:%M:%S} UTC" in caplog.text
    clock.advance(reset - clock.now() - timedelta(seconds=1))
    assert run(Session, restarted, clock) == SendReport(waiting=1)
    assert x.posts_tried("AcmeHelp") == 1

    # at the reset both go out, the waiting one first
    clock.advance(timedelta(seconds=1))
    assert run(Session, restarted, clock) == SendReport(sent=2)
    assert row(Session, help_1).status == row(Session, help_2).status == "sent"
    assert x.posts_tried("AcmeHelp") == 3  # the one refused, and each reply once
    with Session() as s:
        assert current_waits(s, now=clock.now()) == []


def test_waiting_replies_do_not_take_the_places_of_replies_that_may_go(
        Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    first = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
    for i in range(3):
        stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author=f"h{i}")
    air = stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c2")
    x.limit_posting("AcmeHelp", until=clock.now() + timedelta(minutes=10))
    assert run(Session, channel, clock, limit=2) == SendReport(deferred=1, waiting=1)
    assert row(Session, first).status == "approved"
    # the next run reads past the four replies that wait to the one that may go
    assert run(Session, channel, clock, limit=2) == SendReport(sent=1, waiting=3)
    assert row(Session, air).status == "sent" and x.posts_tried("AcmeHelp") == 1


def test_a_used_up_day_waits_for_the_days_reset_not_the_windows(
        Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    rid = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
    stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c2")
    day_reset = clock.now() + timedelta(hours=5)
    x.limit_posting("AcmeHelp", until=day_reset, daily=True)
    assert run(Session, channel, clock) == SendReport(deferred=1, waiting=1)
    assert row(Session, rid).not_before == day_reset
    clock.advance(timedelta(minutes=20))  # past the 15-minute window: the day is still used up
    assert run(Session, channel, clock) == SendReport(waiting=1)
    assert x.posts_tried("AcmeHelp") == 1


# ------------------------------------------------------------------ a shared token, the app's limit
def test_accounts_posting_with_one_token_share_its_wait(Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    # the default account's token posts for the default account however it is named, and for any
    # brand account without a token of its own (one limit); AcmeHelp has its own
    assert {rate_limit_key(channel, account=a) for a in ("AcmeAir", "@acmeair", None, "AcmeCargo")} == \
        {"X_ACCESS_TOKEN"}
    assert rate_limit_key(channel, account="@ACMEHELP") == "X_ACCESS_TOKEN__ACMEHELP"

    by_name = stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c1")
    unnamed = stored_reply(x, make_mention, make_outbox, clock, account=None, author="c2")
    lower = stored_reply(x, make_mention, make_outbox, clock, account="acmeair", author="c3")
    help_ = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c4")
    x.limit_posting("AcmeAir", until=clock.now() + timedelta(minutes=10))
    assert run(Session, channel, clock) == SendReport(sent=1, deferred=1, waiting=2)
    assert row(Session, help_).status == "sent"
    assert x.posts_tried("AcmeAir") == 1
    with Session() as s:
        assert [(w.identity, w.account) for w in current_waits(s, now=clock.now())] == [("X_ACCESS_TOKEN", "AcmeAir")]
    clock.advance(timedelta(minutes=10))
    assert run(Session, channel, clock) == SendReport(sent=3)
    assert {row(Session, r).status for r in (by_name, unnamed, lower)} == {"sent"}
    assert x.posts_tried("AcmeAir") == 4


def test_the_apps_daily_limit_holds_back_every_account(Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    replies = [stored_reply(x, make_mention, make_outbox, clock, account=a, author=f"c{i}")
               for i, a in enumerate(["AcmeHelp", "AcmeAir", "AcmeHelp"])]
    until = clock.now() + timedelta(hours=7)
    x.limit_app_posting(until=until)
    assert run(Session, channel, clock) == SendReport(deferred=1, waiting=2)
    assert len(x.calls_to("create")) == 1
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
    assert (wait.identity, wait.until) == ("x", until)
    assert wait.holds("x", "AcmeAir") and wait.holds("x", None) and not wait.holds("reddit", "AcmeAir_Team")
    assert "app's 24-hour posting limit" in wait.reason
    assert wait.who() == "x, every account (answered to @AcmeHelp)"
    clock.advance(timedelta(hours=6))
    assert run(Session, channel, clock) == SendReport(waiting=2)
    assert len(x.calls_to("create")) == 1
    clock.advance(timedelta(hours=1))
    assert run(Session, channel, clock) == SendReport(sent=3)
    assert {row(Session, r).status for r in replies} == {"sent"}


def test_the_latest_answer_replaces_an_expired_wait(Session, clock, make_mention, make_outbox, x, settings):
    channel = build_x_channel(settings, env=both_env(x), clock=clock)
    stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
    x.limit_posting("AcmeHelp", until=clock.now() + timedelta(minutes=2))
    run(Session, channel, clock)
    clock.advance(timedelta(minutes=3))
    stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c2")
    x.limit_posting("AcmeHelp", until=clock.now() + timedelta(minutes=4))  # the window was used up again
    assert run(Session, channel, clock) == SendReport(deferred=1, waiting=1)
    with Session() as s:
        rows = s.scalars(select(SendWaitRow)).all()
    assert [(r.identity, r.until) for r in rows] == [("X_ACCESS_TOKEN__ACMEHELP", clock.now() + timedelta(minutes=4))]


# ------------------------------------------------------------------ Reddit (several accounts: test_reddit_accounts.py)
def test_a_reddit_accounts_wait_holds_its_replies_and_x_goes_on(Session, clock, make_mention, make_outbox, settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        x, rd = FakeXAPI(mock, now=clock.now), FakeRedditAPI(mock, now=clock.now)
        x.set_me("AcmeAir")
        x.help_token = x.add_account_token("AcmeHelp")
        reddit = build_reddit_channel(settings, env=reddit_env(rd), clock=clock)
        assert rate_limit_key(reddit, account="AcmeAir_Team") == "u/acmeair_team"  # the account's own limit
        thread = rd.add_submission("travel", "Acme Air lost my bag", created_at=clock.now() - timedelta(hours=1))
        comments = [rd.add_comment(thread["name"], f"me too {i}", created_at=clock.now() - timedelta(minutes=5))
                    for i in range(2)]
        ours = [make_outbox(platform="reddit", in_reply_to=c["name"], account="AcmeAir_Team", text=f"Sorry {i}!")
                for i, c in enumerate(comments)]
        on_x = stored_reply(x, make_mention, make_outbox, clock, account="AcmeHelp", author="c1")
        rd.fail(faults.Fault(faults.RATELIMIT_ANSWER, wait="9 minutes"), endpoint="comment")
        channels = {"x": build_x_channel(settings, env=both_env(x), clock=clock), "reddit": reddit}

        assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(sent=1, deferred=1, waiting=1)
        assert row(Session, on_x).status == "sent"
        assert len(rd.calls_to("comment")) == 1
        with Session() as s:
            [wait] = current_waits(s, now=clock.now())
        assert (wait.platform, wait.identity, wait.account) == ("reddit", "u/acmeair_team", "AcmeAir_Team")
        clock.advance(timedelta(minutes=5))
        assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(waiting=1)
        assert len(rd.calls_to("comment")) == 1
        clock.advance(timedelta(minutes=5))
        assert send_approved(Session, channels=channels, now=clock.now()) == SendReport(sent=2)
        assert {row(Session, r).status for r in ours} == {"sent"} and len(rd.calls_to("comment")) == 3


def test_default_only_channel_keys(x, settings, clock):
    channel = build_x_channel(settings, env=default_env(x), clock=clock)
    assert rate_limit_key(channel, account="AcmeHelp") == "X_ACCESS_TOKEN"  # posted (or refused) by the default


@pytest.mark.parametrize("env_for, shared", [
    (both_env, ("", "acmeair")),
    (default_env, ("", "acmeair", "acmehelp")),
], ids=["AcmeHelp has its own token", "default token only"])
def test_a_wait_records_the_accounts_posting_with_its_token_and_the_digest_reads_them(
        Session, clock, make_mention, make_outbox, x, settings, env_for, shared, monkeypatch):
    """The sending process knows which accounts share the token that met the
    limit; the digest reads that, whatever its own environment says (here
    one where every account has a token of its own, or none has any)."""
    channel = build_x_channel(settings, env=env_for(x), clock=clock)
    stored_reply(x, make_mention, make_outbox, clock, account="AcmeAir", author="c1")
    for account in (None, "AcmeHelp", "AcmeHelp"):
        make_outbox(status="approved", account=account, not_before=clock.now() + timedelta(hours=1))
    x.limit_posting("AcmeAir", until=clock.now() + timedelta(minutes=10))
    assert run(Session, channel, clock) == SendReport(deferred=1)
    with Session() as s:
        [wait] = current_waits(s, now=clock.now())
    assert (wait.identity, wait.accounts) == ("X_ACCESS_TOKEN", shared)
    assert sorted(a for a in ("", "acmeair", "acmehelp") if rate_limit_key(channel, account=a or None) == wait.identity) \
        == list(shared)
    waiting = {("", "acmeair"): 2, ("", "acmeair", "acmehelp"): 4}[shared]  # AcmeAir's, the unnamed one, AcmeHelp's 2
    for digest_env in ({"X_ACCESS_TOKEN__ACMEAIR": "elsewhere", "X_ACCESS_TOKEN__ACMEHELP": "elsewhere"}, {}):
        for name in ("X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_ACCESS_TOKEN__ACMEHELP"):
            monkeypatch.delenv(name, raising=False)
        for name, value in digest_env.items():
            monkeypatch.setenv(name, value)
        with Session() as s:
            digest = build_digest(s, settings=settings, now=clock.now(), since=timedelta(hours=1))
        assert [wait_line(w, now=clock.now()) for w in digest.waits] == \
            [f"X @AcmeAir rate-limited until 09:10 UTC, {waiting} replies waiting"]


# ------------------------------------------------------------------ PostgreSQL
class PerAccountChannel:
    """A channel with a limit per account: ``limited`` accounts answer 429 until ``until``."""

    platform = "x"
    max_length = 280

    def __init__(self, clock, *, limited: dict[str, datetime]) -> None:
        self.clock, self.limited, self.calls = clock, limited, []

    def rate_limit_key(self, *, account: str | None) -> str:
        return f"token-of-{(account or 'default').lower()}"

    def send(self, post: OutboundPost) -> SentPost:
        self.calls.append(post.account)
        until = self.limited.get(post.account or "")
        if until is not None and self.clock.now() < until:
            raise SendError("429 too many requests", retry_at=until)
        return SentPost(external_id=f"p{post.outbox_id}")

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        return None


def test_a_wait_that_is_over_is_deleted_by_the_next_send_run(Session, clock, make_outbox):
    help_reply, air_reply = make_outbox(account="AcmeHelp"), make_outbox(account="AcmeAir")
    start = clock.now()
    channel = PerAccountChannel(clock, limited={"AcmeHelp": start + timedelta(minutes=2),
                                                "AcmeAir": start + timedelta(minutes=10)})
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(deferred=2)

    def stored():
        with Session() as s:
            return sorted((r.identity, r.until - start) for r in s.scalars(select(SendWaitRow)))

    assert stored() == [("token-of-acmeair", timedelta(minutes=10)), ("token-of-acmehelp", timedelta(minutes=2))]
    clock.advance(timedelta(minutes=3))
    # @AcmeAir's reply is not due before its reset (not_before), so not counted as waiting
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(sent=1)
    assert stored() == [("token-of-acmeair", timedelta(minutes=10))]  # @AcmeHelp's is over: gone
    assert row(Session, help_reply).status == "sent"
    clock.advance(timedelta(minutes=7))  # at @AcmeAir's reset: it is over too
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(sent=1)
    assert stored() == [] and row(Session, air_reply).status == "sent"


def test_only_waits_that_are_over_are_deleted(Session, clock, make_outbox):
    with Session.begin() as s:
        s.add(SendWaitRow(platform="reddit", identity="reddit", until=clock.now() - timedelta(seconds=1),
                          account="AcmeAir_Team", reason="429", updated_at=clock.now() - timedelta(hours=1)))
        s.add(SendWaitRow(platform="x", identity="token-of-acmeair", until=clock.now() + timedelta(minutes=1),
                          account="AcmeAir", reason="429", updated_at=clock.now()))
    with Session.begin() as s:
        assert forget_expired_waits(s, now=clock.now()) == 1
        assert [w.identity for w in s.scalars(select(SendWaitRow))] == ["token-of-acmeair"]
        s.add(SendWaitRow(platform="reddit", identity="reddit", until=clock.now(), account="AcmeAir_Team",
                          reason="429", updated_at=clock.now()))  # over at this very moment
    make_outbox(account="AcmeHelp")  # a send run deletes it and records @AcmeHelp's
    channel = PerAccountChannel(clock, limited={"AcmeHelp": clock.now() + timedelta(minutes=5)})
    send_approved(Session, channels={"x": channel}, now=clock.now())
    with Session() as s:
        assert sorted(w.identity for w in s.scalars(select(SendWaitRow))) == ["token-of-acmeair", "token-of-acmehelp"]


class MeetsALimitMidRun(PerAccountChannel):
    """One process's channel: while its first post is on its way (accepted,
    as the platform had not limited the token yet), another process sends a
    post as the same account, meets a 429 and records the wait."""

    def __init__(self, clock, *, limited: dict[str, datetime], meanwhile) -> None:
        super().__init__(clock, limited=limited)
        self.meanwhile = meanwhile

    def send(self, post: OutboundPost) -> SentPost:
        sent = super().send(post)
        if len(self.calls) == 1:
            self.meanwhile()
        return sent


def add_status_posts(Session, clock, account: str, n: int) -> list[int]:
    with Session.begin() as s:
        rows = [OutboxRow(kind="status", brand="acme", platform="x", account=account, text=f"Update {i} for {account}",
                          status="approved", needs_approval=True, attempts=0,
                          created_at=clock.now() + timedelta(seconds=i), updated_at=clock.now()) for i in range(n)]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_wait_another_process_records_mid_run_holds_this_runs_later_posts(request, clock, backend):
    """Process B reads the waits (none), sends its first @AcmeHelp post; meanwhile
    process A (its own engine and connections) meets @AcmeHelp's 429. B's
    later @AcmeHelp post is not sent: its claim reads the wait A recorded."""
    Session_b = request.getfixturevalue("Session" if backend == "sqlite" else "pg_Session")
    with Session_b() as s:
        bind = s.get_bind()
    other = make_engine(str(bind.url)) if backend == "sqlite" else None  # PostgreSQL: the pool's other connections
    Session_a = session_factory(other or bind)
    first, second, third = add_status_posts(Session_b, clock, "AcmeHelp", 3)
    limited: dict[str, datetime] = {}
    until = clock.now() + timedelta(minutes=15)
    channel_a = PerAccountChannel(clock, limited=limited)

    def process_a_meets_the_limit():
        limited["AcmeHelp"] = until  # from now on the platform refuses @AcmeHelp's posts
        assert send_approved(Session_a, channels={"x": channel_a}, now=clock.now()) == SendReport(deferred=1, waiting=1)

    channel_b = MeetsALimitMidRun(clock, limited=limited, meanwhile=process_a_meets_the_limit)
    try:
        report = send_approved(Session_b, channels={"x": channel_b}, now=clock.now())
    finally:
        if other is not None:
            other.dispose()
    assert report == SendReport(sent=1, waiting=1)
    assert (channel_b.calls, channel_a.calls) == (["AcmeHelp"], ["AcmeHelp"])  # one 429 in all, A's
    assert [(row(Session_b, r).status, row(Session_b, r).attempts) for r in (first, second, third)] == [
        ("sent", 1), ("approved", 1), ("approved", 0)]
    with Session_b() as s:
        assert [(w.identity, w.until) for w in current_waits(s, now=clock.now())] == [("token-of-acmehelp", until)]


@pytest.fixture
def pg_Session(pg_engine):
    """Sessions on a PostgreSQL schema brought to the head by the real migrations."""
    upgrade(pg_engine)
    return session_factory(pg_engine)


@pytest.mark.postgres
def test_postgresql_keeps_and_replaces_waits(pg_Session, clock):
    with pg_Session.begin() as s:
        for account in ("AcmeHelp", "AcmeAir", "AcmeHelp", "AcmeHelp"):
            s.add(OutboxRow(kind="status", brand="acme", platform="x", account=account, text=f"Update for {account}",
                            status="approved", needs_approval=True, attempts=0, created_at=clock.now(),
                            updated_at=clock.now()))
    first_until = clock.now() + timedelta(minutes=2)
    channel = PerAccountChannel(clock, limited={"AcmeHelp": first_until})
    assert send_approved(pg_Session, channels={"x": channel}, now=clock.now()) == SendReport(sent=1, deferred=1,
                                                                                             waiting=2)
    clock.advance(timedelta(minutes=1))
    assert send_approved(pg_Session, channels={"x": PerAccountChannel(clock, limited={})},
                         now=clock.now()) == SendReport(waiting=2)
    clock.advance(timedelta(minutes=1))
    second_until = clock.now() + timedelta(minutes=15)
    channel = PerAccountChannel(clock, limited={"AcmeHelp": second_until})
    assert send_approved(pg_Session, channels={"x": channel}, now=clock.now()) == SendReport(deferred=1, waiting=2)
    with pg_Session() as s:
        assert [(w.identity, w.until) for w in current_waits(s, now=clock.now())] == [("token-of-acmehelp",
                                                                                      second_until)]
    clock.advance(second_until - clock.now())  # over: the next run sends and deletes it
    assert send_approved(pg_Session, channels={"x": PerAccountChannel(clock, limited={})},
                         now=clock.now()) == SendReport(sent=3)
    with pg_Session() as s:
        assert s.scalars(select(SendWaitRow)).all() == []
