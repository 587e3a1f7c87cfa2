"""One reply per customer message: a customer who writes again in the thread
after being answered (their alert's round 2, rules/alerts.py) gets the reply a
person approves to that new post; it is round 2's first response. Still held:
a second reply to one post, a reply to a post written before our last reply,
and a second reply the policy approved (a thank-you never multiplies). The
whole path: poller → pipeline (alert, draft) → approve → send run. On
SQLite, and on PostgreSQL when the server answers."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from brandpulse.db.models import AlertRoundRow, AlertRow, OutboxRow
from brandpulse.pipeline import Pipeline
from brandpulse.types import Author, FetchResult, Mention
from listener.poller import Poller
from outreach.channels.dryrun import DryRunChannel
from outreach.kpis import compute_kpis
from outreach.outbox import approve, reject, send_approved
from outreach.safeguards import waive
from tests.conftest import T0
from tests.test_pipeline_backends import Scripted



def post(i: int, body: str, *, handle: str = "marisol", minutes: int, reply_to: str | None = None) -> Mention:
    """A post in thread 7001 (the customer's first post), ``minutes`` after T0."""
    return Mention(platform="x", external_id=str(7000 + i), brand="acme",
                   author=Author(platform="x", id=f"id-{handle.lower()}", handle=handle, followers=10),
                   text=body, created_at=T0 + timedelta(minutes=minutes), lang="en", thread_id="7001",
                   reply_to_id=reply_to, addressed_handles=("acmehelp",))


class Conversation:
    """A poller fed batch by batch, a dry-run X channel, the fake clock."""

    def __init__(self, Session, settings, clock) -> None:
        self.Session, self.settings, self.clock = Session, settings, clock
        self.source = Scripted()
        self.poller = Poller(source=self.source, Session=Session, clock=clock, handler=Pipeline(settings),
                             own_handles=frozenset({"acmeair", "acmehelp"}))
        self.channel = DryRunChannel("x")

    def read(self, at_minutes: int, *posts: Mention) -> None:
        self.clock.set(T0 + timedelta(minutes=at_minutes))
        self.source.steps.append(FetchResult(list(posts), {"at": at_minutes}, posts_read=len(posts)))
        assert self.poller.poll_once().stored == len(posts)

    def pending(self) -> OutboxRow:
        with self.Session() as s:
            return s.scalars(select(OutboxRow).where(OutboxRow.status.in_(("drafted", "approved")))
                             .order_by(OutboxRow.id.desc())).first()

    def approve_and_send(self, at_minutes: int, actor: str = "dana"):
        self.clock.set(T0 + timedelta(minutes=at_minutes))
        row = self.pending()
        if row.status == "drafted":
            with self.Session.begin() as s:
                approve(s, row.id, actor=actor, now=self.clock.now())
        report = send_approved(self.Session, channels={"x": self.channel}, now=self.clock.now(),
                               settings=self.settings)
        with self.Session() as s:
            return report, s.get(OutboxRow, row.id)

    def alert(self) -> AlertRow:
        with self.Session() as s:
            return s.scalars(select(AlertRow)).one()


def test_the_reply_to_what_the_customer_wrote_after_our_answer_goes_out_as_that_rounds_first_response(
        any_Session, settings, clock):
    talk = Conversation(any_Session, settings, clock)
    talk.read(2, post(1, "@AcmeHelp you lost my bag, terrible service", minutes=1))
    report, first = talk.approve_and_send(5)
    assert (report.sent, first.status) == (1, "sent")
    # The customer writes again in the thread, in answer to our reply, after it went out.
    talk.read(31, post(2, "@AcmeHelp sent the DM an hour ago, no answer, awful. My medication is in that bag",
                       minutes=30, reply_to=first.external_id))
    alert = talk.alert()
    assert (alert.round, alert.first_response_at) == (2, None)
    second = talk.pending()
    assert (second.mention_id, second.in_reply_to, second.status) == (alert.round_mention_id, "7002", "drafted")

    report, second = talk.approve_and_send(40)
    assert (report.sent, report.held) == (1, 0), second.hold_reason
    assert second.status == "sent" and [p.in_reply_to for p in talk.channel.sent] == ["7001", "7002"]
    alert = talk.alert()
    assert alert.first_response_at == T0 + timedelta(minutes=40)  # round 2's first response
    with any_Session() as s:
        [kept] = s.scalars(select(AlertRoundRow)).all()
    assert (kept.round, kept.first_response_at) == (1, T0 + timedelta(minutes=5))
    with any_Session() as s:
        total = compute_kpis(s, now=clock.now(), since=timedelta(days=1)).total
    assert (total.first_response.mean, total.wrote_again, total.wrote_again_answered) == (timedelta(minutes=4), 1, 1)
    assert total.wrote_again_response.mean == timedelta(minutes=10)

    # A post that crossed our second reply (written before it went out) gets no third reply.
    talk.read(45, post(3, "@AcmeHelp hello?? still waiting, useless", minutes=39))
    report, third = talk.approve_and_send(50)
    assert (report.sent, third.status, third.hold_code) == (0, "held", "one_per_thread")
    assert third.hold_reason.startswith(
        f"@marisol already got a reply in this thread (reply {second.id}, 2026-03-10 09:40 UTC) after the post this"
        " answers (written 2026-03-10 09:39 UTC); one reply per customer message: only a post they write after our"
        " last reply may get another")


def test_a_post_already_answered_by_hand_gets_no_second_reply(any_Session, settings, clock):
    talk = Conversation(any_Session, settings, clock)
    talk.read(2, post(1, "@AcmeHelp you lost my bag, terrible service", minutes=1))
    _, first = talk.approve_and_send(5)
    talk.read(31, post(2, "@AcmeHelp no news, awful, horrible service", minutes=30, reply_to=first.external_id))
    # The team answers that post by hand on X before brandpulse's draft is approved.
    talk.read(36, post(3, "@marisol on it, sorry!", handle="AcmeHelp", minutes=35, reply_to="7002"))
    assert talk.alert().first_response_at == T0 + timedelta(minutes=35)
    report, second = talk.approve_and_send(40)
    assert (report.sent, second.status, second.hold_code) == (0, "held", "one_per_thread")
    assert second.hold_reason.startswith("@marisol's post 7002 already got a reply (by hand on x: @AcmeHelp at"
                                         " 2026-03-10 09:35 UTC); never two replies to one post")
    assert talk.alert().first_response_at == T0 + timedelta(minutes=35)


def test_a_reply_approved_by_policy_goes_out_once_per_thread(any_Session, make_settings, clock):
    settings = make_settings(reply_policy={"require_approval": True, "auto_send_templates": ["apology"]},
                             safeguards={"per_author_cooldown": "0s"})
    talk = Conversation(any_Session, settings, clock)
    talk.read(2, post(1, "@AcmeHelp you lost my bag, terrible service", minutes=1))
    report, first = talk.approve_and_send(5)
    assert (report.sent, first.approved_by) == (1, "policy")
    talk.read(31, post(2, "@AcmeHelp no news, awful, horrible service", minutes=30, reply_to=first.external_id))
    report, second = talk.approve_and_send(40)
    assert (report.held, second.status, second.approved_by) == (1, "held", "policy")
    assert second.hold_reason == (f"@marisol already got a reply in this thread (reply {first.id}, 2026-03-10 09:05"
                                  " UTC); a reply approved by policy goes out once per author per thread: approve it"
                                  " yourself to answer their newer post")
    # A person reads it and approves it: it answers the newer post, so it goes.
    with any_Session.begin() as s:
        approve(s, second.id, actor="dana", now=clock.now())
    report = send_approved(any_Session, channels={"x": talk.channel}, now=clock.now(), settings=settings)
    assert report.sent == 1 and talk.alert().first_response_at == T0 + timedelta(minutes=40)


def test_a_waived_reply_to_the_first_post_is_not_the_new_messages_first_response(any_Session, settings, clock):
    talk = Conversation(any_Session, settings, clock)
    talk.read(2, post(1, "@AcmeHelp you lost my bag, terrible service", minutes=1))
    _, first = talk.approve_and_send(5)
    talk.read(31, post(2, "@AcmeHelp no news, awful, horrible service", minutes=30, reply_to=first.external_id))
    draft = talk.pending()
    # A person sends one more reply to the first post, waiving one_per_thread (and the cooldown) for it.
    with any_Session.begin() as s:
        old = s.get(OutboxRow, first.id)
        extra = OutboxRow(kind="reply", brand="acme", platform="x", alert_id=old.alert_id, mention_id=old.mention_id,
                          in_reply_to="7001", account="AcmeHelp", template="apology", text="One more thing, @marisol",
                          status="drafted", needs_approval=True, attempts=0, created_at=clock.now(),
                          updated_at=clock.now())
        s.add(extra)
        s.flush()
        extra_id = extra.id
    with any_Session.begin() as s:
        waive(s, extra_id, "one_per_thread", actor="dana", now=clock.now())
        waive(s, extra_id, "cooldown", actor="dana", now=clock.now())
        approve(s, extra_id, actor="dana", now=clock.now())
        reject(s, draft.id, actor="dana", now=clock.now())
    report = send_approved(any_Session, channels={"x": talk.channel}, now=clock.now(), settings=settings)
    assert report.sent == 1, report
    assert talk.alert().first_response_at is None  # the customer's new message is still unanswered
