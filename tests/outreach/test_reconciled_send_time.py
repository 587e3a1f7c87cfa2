"""A reply whose send had an unknown outcome and that reconciliation later
finds on the platform went out when the platform says it was created (X
``created_at``, Reddit ``created_utc``), bounded by the send attempt and
the moment it was found: that is its ``sent_at`` and the first response of
its alert, so ``brandpulse kpis`` and the digest report the true time, not
the time it was found."""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses

from brandpulse.db.models import AlertRow, OutboxRow
from outreach.channels.base import OutboundPost, SendError, SentPost
from outreach.channels.reddit import build_reddit_channel
from outreach.channels.x import build_x_channel
from outreach.kpis import compute_kpis
from outreach.outbox import SendReport, send_approved
from tests.fakes import FakeXAPI, faults, reddit_env, serve_reddit

pytestmark = pytest.mark.usefixtures("no_sleeping")


def stored(Session, model, row_id):
    with Session() as s:
        return s.get(model, row_id)


def first_response_median(Session, clock) -> timedelta | None:
    with Session() as s:
        return compute_kpis(s, now=clock.now(), since=timedelta(days=1)).total.first_response.median


def sams_lost_bag_on_reddit(rd, clock, make_mention, make_alert, ago: timedelta):
    """sam's r/travel submission posted ``ago``, stored as a mention with its
    alert: (the submission, the mention id, the alert id)."""
    thread = rd.add_submission("travel", "Acme Air lost my bag", author="sam", created_at=clock.now() - ago)
    mid, mention = make_mention(platform="reddit", handle="sam", external_id=thread["name"], text=thread["title"],
                                at=clock.now() - ago, addressed=(), thread_id=thread["name"])
    return thread, mid, make_alert(mid, mention)


def test_a_reply_found_on_x_later_counts_from_when_x_created_it(Session, clock, settings, make_mention, make_alert,
                                                               make_outbox):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeXAPI(mock, now=clock.now)
        fake.set_me("AcmeHelp")
        env = {"X_API_KEY": fake.api_key, "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": fake.access_token,
               "X_ACCESS_TOKEN_SECRET": "ts-123456"}
        channel = build_x_channel(settings, env=env, clock=clock)
        tweet = fake.add_tweet("@AcmeHelp my bag is lost", author="sam", created_at=clock.now() - timedelta(minutes=3))
        mid, mention = make_mention(external_id=tweet["id"], text=tweet["text"], at=clock.now() - timedelta(minutes=3),
                                    addressed=("acmehelp",), thread_id=tweet["id"])
        alert = make_alert(mid, mention)
        rid = make_outbox(alert_id=alert, mention_id=mid, in_reply_to=tweet["id"], text="Hi @sam, so sorry! DM us?")
        sent_at = clock.now()
        fake.fail(faults.LOST_ACK, endpoint="create")
        assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(unknown=1)
        clock.advance(timedelta(hours=2))  # the next send run, two hours later, finds it on X
        assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(reconciled=1)
    row = stored(Session, OutboxRow, rid)
    assert row.status == "sent" and row.sent_at == sent_at
    assert stored(Session, AlertRow, alert).first_response_at == sent_at
    assert first_response_median(Session, clock) == timedelta(minutes=3)  # not 2h03m


def test_a_reply_found_on_reddit_later_counts_from_its_created_utc(Session, clock, settings, make_mention, make_alert,
                                                                    make_outbox):
    """Reddit's answer to the reply is lost; the next send run, two hours later, finds the
    comment in the account's history and counts it from its created_utc (read from that
    listing: no further request)."""
    with serve_reddit(now=clock.now) as rd:
        channel = build_reddit_channel(settings, env=reddit_env(rd), clock=clock)
        thread, mid, alert = sams_lost_bag_on_reddit(rd, clock, make_mention, make_alert, timedelta(minutes=3))
        rid = make_outbox(platform="reddit", account=None, alert_id=alert, mention_id=mid, in_reply_to=thread["name"],
                          text="Sorry about your bag! Please DM u/AcmeAir_Team your booking reference.")
        sent_at = clock.now()
        rd.fail(faults.LOST_ACK, endpoint="comment")
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(unknown=1)
        clock.advance(timedelta(hours=2))
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(reconciled=1)
        assert [c.endpoint for c in rd.calls if c.endpoint != "token"] == ["comment", "user_comments"]  # none for the time
        assert len(rd.comments_by(rd.username)) == 1
    row = stored(Session, OutboxRow, rid)
    assert row.status == "sent" and row.sent_at == sent_at
    assert stored(Session, AlertRow, alert).first_response_at == sent_at
    assert first_response_median(Session, clock) == timedelta(minutes=3)  # not 2h03m


def test_a_crashed_reddit_send_found_later_counts_from_its_created_utc(Session, clock, settings, make_mention,
                                                                      make_alert, make_outbox):
    """A crash after the claim leaves the row 'sending'; the comment Reddit created 2 s after
    the claim is found after the grace period and counts from its created_utc, not from the
    claim nor from when it was found."""
    with serve_reddit(now=clock.now) as rd:
        channel = build_reddit_channel(settings, env=reddit_env(rd), clock=clock)
        thread, mid, alert = sams_lost_bag_on_reddit(rd, clock, make_mention, make_alert, timedelta(minutes=30))
        attempted = clock.now() - timedelta(minutes=20)
        text = "Sorry about your bag! Please DM u/AcmeAir_Team your booking reference."
        rid = make_outbox(status="sending", claimed_at=attempted, platform="reddit", account=None, alert_id=alert,
                          mention_id=mid, in_reply_to=thread["name"], text=text)
        comment = rd.add_comment(thread["name"], text, author=rd.username, created_at=attempted + timedelta(seconds=2))
        assert send_approved(Session, channels={"reddit": channel}, now=clock.now()) == SendReport(reconciled=1)
    row = stored(Session, OutboxRow, rid)
    assert (row.status, row.external_id, row.sent_at) == ("sent", comment["name"], attempted + timedelta(seconds=2))
    assert stored(Session, AlertRow, alert).first_response_at == attempted + timedelta(seconds=2)


class FoundAt:
    """A channel whose post went out but whose answer was lost; the post is
    found later with ``created_at`` (None: the platform gave no time)."""

    platform = "x"
    max_length = 280

    def __init__(self, created_at, *, lookups_fail: int = 0) -> None:
        self.created_at = created_at
        self.lookups_fail = lookups_fail

    def send(self, post: OutboundPost) -> SentPost:
        raise SendError("timed out waiting for the answer", outcome_unknown=True)

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        if self.lookups_fail:
            self.lookups_fail -= 1
            raise TimeoutError("search timed out")
        return SentPost(external_id="1", created_at=self.created_at)


@pytest.mark.parametrize("offset, expected", [
    (timedelta(seconds=40), timedelta(seconds=40)),  # as the platform says
    (-timedelta(hours=1), timedelta(0)),  # before the attempt (a skewed clock): the attempt
    (timedelta(hours=3), timedelta(hours=2)),  # after it was found: when it was found
    (None, timedelta(hours=2)),  # no time given: when it was found, as before
], ids=["platform-time", "before-attempt", "after-found", "no-time"])
def test_the_platform_s_time_is_bounded_by_the_attempt_and_the_finding(Session, clock, make_mention, make_alert,
                                                                      make_outbox, offset, expected):
    mid, mention = make_mention()
    alert = make_alert(mid, mention)
    rid = make_outbox(alert_id=alert, mention_id=mid)
    attempted = clock.now()
    channel = FoundAt(None if offset is None else attempted + offset, lookups_fail=1)
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(unknown=1)
    clock.advance(timedelta(minutes=30))  # a failed lookup does not move the attempt
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport()
    assert stored(Session, OutboxRow, rid).status == "unknown"
    clock.advance(timedelta(minutes=90))
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(reconciled=1)
    assert stored(Session, OutboxRow, rid).sent_at == attempted + expected
    assert stored(Session, AlertRow, alert).first_response_at == attempted + expected


def test_an_abandoned_send_found_later_counts_from_the_platform_s_time(Session, clock, make_mention, make_alert,
                                                                      make_outbox):
    """A crash after the claim leaves the row 'sending'; found after the grace period."""
    mid, mention = make_mention()
    alert = make_alert(mid, mention)
    attempted = clock.now() - timedelta(minutes=20)
    rid = make_outbox(status="sending", claimed_at=attempted, alert_id=alert, mention_id=mid)
    channel = FoundAt(attempted + timedelta(seconds=2))
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(reconciled=1)
    assert stored(Session, OutboxRow, rid).sent_at == attempted + timedelta(seconds=2)
    assert stored(Session, AlertRow, alert).first_response_at == attempted + timedelta(seconds=2)


def test_a_customer_post_between_the_send_and_its_finding_is_a_new_message(Session, make_settings, clock):
    """The customer wrote again after the reply went out but before reconciliation found it:
    with the reply's true time, that post came after the answer, so it is a new message
    waiting for a reply (its own clock), as if the reply had been confirmed at once."""
    from brandpulse.pipeline import Pipeline
    from brandpulse.types import Author, Mention
    from listener.poller import store_mentions
    from outreach.outbox import approve

    settings = make_settings(default_analyzer="vader")
    pipeline = Pipeline(settings)
    sam = Author(platform="x", id="u-sam", handle="sam", followers=120)

    def ingest(ext, text, at):
        m = Mention(platform="x", external_id=ext, brand="acme", author=sam, text=text, created_at=at,
                    url=f"https://x.com/sam/status/{ext}", thread_id="c1", reply_to_id=None if ext == "100" else "100",
                    addressed_handles=("acmehelp",))
        with Session.begin() as s:
            stored_ = store_mentions(s, [m], source="test", now=clock.now(), own_handles=frozenset({"acmehelp"}))
            pipeline.apply(s, stored_, pipeline.prepare([m]), now=clock.now())

    ingest("100", "@AcmeHelp my bag is lost, this is terrible", clock.now() - timedelta(minutes=40))
    with Session() as s:
        alert_id, draft_id = s.query(AlertRow.id).scalar(), s.query(OutboxRow.id).scalar()
    with Session.begin() as s:
        approve(s, draft_id, actor="dana", now=clock.now())
    attempted = clock.now()
    channel = FoundAt(attempted + timedelta(seconds=5))
    assert send_approved(Session, channels={"x": channel}, now=clock.now(), settings=settings) == SendReport(unknown=1)
    clock.advance(timedelta(minutes=30))
    ingest("102", "@AcmeHelp still no bag, this is terrible", attempted + timedelta(minutes=20))
    assert stored(Session, AlertRow, alert_id).round == 1  # not answered yet, as far as anyone knows
    clock.advance(timedelta(minutes=90))
    report = send_approved(Session, channels={"x": channel}, now=clock.now(), settings=settings)
    assert report == SendReport(reconciled=1)
    alert = stored(Session, AlertRow, alert_id)
    assert (alert.round, alert.round_opened_at, alert.first_response_at) == (2, attempted + timedelta(minutes=20), None)
    with Session() as s:
        report = compute_kpis(s, now=clock.now(), since=timedelta(days=1))
    assert report.total.first_response.median == timedelta(minutes=40, seconds=5)
    assert (report.total.wrote_again, report.total.wrote_again_answered) == (1, 0)
