"""People's decisions on replies, and sending at most once."""

from __future__ import annotations

import io
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from brandpulse import audit
from brandpulse.db.models import AlertRow, OutboxRow
from outreach.channels.base import ManualReplyRequired, OutboundPost, SendError, SentPost
from outreach.channels.dryrun import DryRunChannel
from outreach.outbox import OutboxError, SendReport, approve, claim, edit, reject, send_approved
from outreach.safeguards import set_paused


def get(Session, outbox_id) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, outbox_id)


def actions(Session, outbox_id) -> list[tuple[str, str]]:
    with Session() as s:
        return [(e.action, e.actor) for e in audit.history(s, "outbox", outbox_id)]


class FakeChannel:
    """Answers each send with the next scripted outcome; ``"created"`` in the
    script means the platform made the post but the answer got lost."""

    max_length = 280

    def __init__(self, platform: str = "x", script: list | None = None) -> None:
        self.platform = platform
        self.script = list(script or [])
        self.calls: list[OutboundPost] = []
        self.on_platform: dict[int, SentPost] = {}
        self.lookups: list[int] = []

    def send(self, post: OutboundPost) -> SentPost:
        self.calls.append(post)
        step = self.script.pop(0) if self.script else None
        if step == "created":
            self.on_platform[post.outbox_id] = SentPost(external_id=f"x-{post.outbox_id}", url="https://x.com/i/1")
            raise SendError("timed out waiting for the answer", outcome_unknown=True)
        if isinstance(step, BaseException):
            raise step
        sent = SentPost(external_id=f"x-{post.outbox_id}", url=f"https://x.com/AcmeHelp/status/{post.outbox_id}")
        self.on_platform[post.outbox_id] = sent
        return sent

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        self.lookups.append(post.outbox_id)
        return self.on_platform.get(post.outbox_id)


# ---------------------------------------------------------------------------
# approve / reject / edit
# ---------------------------------------------------------------------------


def test_approve_records_who_and_when(Session, make_outbox, clock):
    rid = make_outbox(status="drafted")
    clock.advance(120)
    with Session.begin() as s:
        row = approve(s, rid, actor="dana", now=clock.now())
        assert row.status == "approved"
    row = get(Session, rid)
    assert (row.status, row.approved_by, row.approved_at, row.updated_at) == ("approved", "dana", clock.now(), clock.now())
    with Session() as s:
        [event_] = audit.history(s, "outbox", rid)
    assert (event_.action, event_.actor, event_.at) == ("reply.approved", "dana", clock.now())


def test_edit_then_approve_in_one_step(Session, make_outbox, clock):
    rid = make_outbox(status="drafted", text="Hi, sorry")
    with Session.begin() as s:
        approve(s, rid, actor="dana", now=clock.now(), text="  Hi @sam, so sorry – DM us your booking ref.  ")
    row = get(Session, rid)
    assert row.text == "Hi @sam, so sorry – DM us your booking ref." and row.status == "approved"
    assert actions(Session, rid) == [("reply.edited", "dana"), ("reply.approved", "dana")]
    with Session() as s:
        assert audit.history(s, "outbox", rid)[0].details["previous_text"] == "Hi, sorry"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("approved", "already approved"),
        ("sent", "already been posted"),
        ("sending", "being sent right now"),
        ("unknown", "may already be posted"),
        ("rejected", "was rejected"),
    ],
)
def test_approve_refuses_invalid_transitions(Session, make_outbox, clock, status, message):
    rid = make_outbox(status=status)
    with Session.begin() as s:
        with pytest.raises(OutboxError, match=message) as info:
            approve(s, rid, actor="dana", now=clock.now())
    assert f"reply {rid}" in str(info.value)
    assert get(Session, rid).status == status
    assert actions(Session, rid) == []


def test_unknown_id_is_a_clear_error(Session, clock):
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="no reply with id 999"):
            reject(s, 999, actor="dana", now=clock.now())


def test_held_reply_without_text_needs_text_to_approve(Session, make_outbox, clock):
    rid = make_outbox(status="held", text="")
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == rid).values(hold_reason="template rendered empty text"))
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="no text.*template rendered empty text"):
            approve(s, rid, actor="dana", now=clock.now())
    with Session.begin() as s:
        approve(s, rid, actor="dana", now=clock.now(), text="Hi @sam, DM us please.")
    row = get(Session, rid)
    assert (row.status, row.hold_reason, row.text) == ("approved", None, "Hi @sam, DM us please.")


def test_approve_and_edit_refuse_a_text_too_long_for_the_network(Session, make_outbox, clock):
    """The rule lives in the domain (the CLI only words it): nothing is
    approved that the network would refuse, nothing is changed."""
    x_reply = make_outbox(status="drafted", text="Hi @sam, sorry")
    long_text = "Hi @sam, " + "sorry " * 50  # 308 as X counts, stripped
    for change in (lambda s: approve(s, x_reply, actor="dana", now=clock.now(), text=long_text),
                   lambda s: edit(s, x_reply, actor="dana", now=clock.now(), text=long_text)):
        with Session.begin() as s:
            with pytest.raises(OutboxError) as info:
                change(s)
        assert str(info.value) == (
            f"reply {x_reply}: the text is 308 characters as X counts them (URLs 23, CJK and emoji 2), over the x"
            " limit of 280 by 28; shorten it (nothing was changed)")
    row = get(Session, x_reply)
    assert (row.status, row.text) == ("drafted", "Hi @sam, sorry")
    assert actions(Session, x_reply) == []
    # Approving as it is a stored text that is too long (a template's long render, held) is refused too.
    held = make_outbox(status="held", text=long_text)
    with Session.begin() as s:
        with pytest.raises(OutboxError, match=f"reply {held}: the text is 309 characters.*; shorten it"):
            approve(s, held, actor="dana", now=clock.now())
    assert get(Session, held).status == "held"
    # Reddit allows 10,000: the same text goes.
    reddit_reply = make_outbox(status="drafted", platform="reddit", text="Hi")
    with Session.begin() as s:
        assert approve(s, reddit_reply, actor="dana", now=clock.now(), text=long_text).status == "approved"
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="over the reddit limit of 10000 by 1"):
            edit(s, reddit_reply, actor="dana", now=clock.now(), text="x" * 10_001)


def test_a_reddit_status_submission_may_be_as_long_as_reddit_allows_a_post(Session, make_outbox, clock):
    """A submission's body is a post (40,000), not a comment (10,000)."""
    rid = make_outbox(status="drafted", platform="reddit", text="We're looking into it.")
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == rid).values(kind="status", title="Acme status: app down"))
    with Session.begin() as s:
        assert approve(s, rid, actor="dana", now=clock.now(), text="x" * 12_000).status == "approved"
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="40001 characters, over the reddit post limit of 40000 by 1"):
            edit(s, rid, actor="dana", now=clock.now(), text="x" * 40_001)


def test_reject_records_reason(Session, make_outbox, clock):
    rid = make_outbox(status="approved")
    with Session.begin() as s:
        reject(s, rid, actor="lee", now=clock.now(), reason="tone is wrong")
    assert get(Session, rid).status == "rejected"
    with Session() as s:
        [e] = audit.history(s, "outbox", rid)
    assert (e.action, e.actor, e.details) == ("reply.rejected", "lee", {"previous_status": "approved", "reason": "tone is wrong"})
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="was rejected"):
            reject(s, rid, actor="lee", now=clock.now())


def test_reject_refuses_a_reply_that_may_be_posted(Session, make_outbox, clock):
    rid = make_outbox(status="unknown")
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="reconciled"):
            reject(s, rid, actor="lee", now=clock.now())


def test_edit_withdraws_approval(Session, make_outbox, clock):
    rid = make_outbox(status="drafted", text="old")
    with Session.begin() as s:
        approve(s, rid, actor="dana", now=clock.now())
    with Session.begin() as s:
        row = edit(s, rid, actor="lee", now=clock.now(), text="new & better")
        assert (row.status, row.text) == ("drafted", "new & better")
    row = get(Session, rid)
    assert (row.approved_by, row.approved_at) == (None, None)
    assert actions(Session, rid) == [("reply.approved", "dana"), ("reply.edited", "lee")]
    with Session() as s:
        details = audit.history(s, "outbox", rid)[-1].details
    assert details == {"previous_text": "old", "text": "new & better", "previous_status": "approved", "status": "drafted"}


def test_edit_keeps_held_replies_held_and_refuses_empty_text(Session, make_outbox, clock):
    rid = make_outbox(status="held")
    with Session.begin() as s:
        assert edit(s, rid, actor="lee", now=clock.now(), text="fixed").status == "held"
        with pytest.raises(OutboxError, match="must not be empty"):
            edit(s, rid, actor="lee", now=clock.now(), text="   ")


def test_edit_refuses_a_sent_reply(Session, make_outbox, clock):
    rid = make_outbox(status="sent")
    with Session.begin() as s:
        with pytest.raises(OutboxError, match="already been posted"):
            edit(s, rid, actor="lee", now=clock.now(), text="too late")


def test_a_person_cannot_overwrite_a_row_a_sender_just_claimed(Session, engine, make_outbox, clock):
    """The sender claims the row between the person's read and write: the
    person's conditional update changes nothing and they are told."""
    rid = make_outbox(status="approved", text="original")
    fired = []

    def claim_first(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("UPDATE outbox") and not fired:
            fired.append(True)
            assert claim(Session, rid, now=clock.now()) is not None

    event.listen(engine, "before_cursor_execute", claim_first)
    try:
        with Session.begin() as s:
            with pytest.raises(OutboxError, match="changed while you were working on it.*now 'sending'"):
                edit(s, rid, actor="lee", now=clock.now(), text="changed")
    finally:
        event.remove(engine, "before_cursor_execute", claim_first)
    row = get(Session, rid)
    assert (row.status, row.text) == ("sending", "original")


# ---------------------------------------------------------------------------
# claiming
# ---------------------------------------------------------------------------


def test_second_claim_of_the_same_row_gets_nothing(Session, make_outbox, clock):
    rid = make_outbox(status="approved")
    first = claim(Session, rid, now=clock.now())
    second = claim(Session, rid, now=clock.now())
    assert first is not None and first.outbox_id == rid and first.text == "Hi @sam, sorry!"
    assert second is None
    row = get(Session, rid)
    assert (row.status, row.claimed_at, row.attempts) == ("sending", clock.now(), 1)


def test_claim_respects_not_before_and_status(Session, make_outbox, clock):
    later = make_outbox(status="approved", not_before=clock.now() + timedelta(minutes=5))
    drafted = make_outbox(status="drafted")
    assert claim(Session, later, now=clock.now()) is None
    assert claim(Session, drafted, now=clock.now()) is None
    assert claim(Session, later, now=clock.now() + timedelta(minutes=5)) is not None


def addressed_reply(make_mention, make_outbox, i: int, **kw) -> int:
    """An approved X reply to a post of its own author that @mentioned the replying account."""
    mid, mention = make_mention(handle=f"user{i}", thread_id=f"t{i}", addressed=("acmehelp",))
    return make_outbox(status="approved", mention_id=mid, in_reply_to=mention.external_id, **kw)


def test_concurrent_senders_post_each_reply_once(Session, make_outbox, make_mention, clock):
    ids = [addressed_reply(make_mention, make_outbox, i, text=f"reply {i}") for i in range(30)]
    posted: list[int] = []
    lock = threading.Lock()
    start = threading.Barrier(2)

    class Recording(DryRunChannel):
        def send(self, post):
            with lock:
                posted.append(post.outbox_id)
            return super().send(post)

    reports: list[SendReport] = []

    def sender():
        start.wait()
        reports.append(send_approved(Session, channels={"x": Recording("x")}, now=clock.now(), limit=100))

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(posted) == ids  # every reply exactly once between the two
    assert sum(r.sent for r in reports) == 30
    with Session() as s:
        assert set(s.scalars(select(OutboxRow.status))) == {"sent"}


# ---------------------------------------------------------------------------
# send_approved
# ---------------------------------------------------------------------------


def test_dry_run_sends_approved_replies_once(Session, make_outbox, make_mention, make_alert, clock):
    mid, mention = make_mention()
    alert = make_alert(mid, mention)
    rid = make_outbox(status="approved", alert_id=alert, mention_id=mid, in_reply_to="123", text="Hi @sam & co")
    drafted = make_outbox(status="drafted")
    out = io.StringIO()
    channel = DryRunChannel("x", out=out, max_length=280)
    clock.advance(600)
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report == SendReport(sent=1, failed=0, deferred=0, unknown=0, reconciled=0)
    assert out.getvalue() == "[dry-run] would post on x as @AcmeHelp in reply to 123: Hi @sam & co\n"
    assert [p.outbox_id for p in channel.sent] == [rid]
    row = get(Session, rid)
    assert (row.status, row.external_id, row.sent_at, row.attempts) == ("sent", f"dry-run-{rid}", clock.now(), 1)
    assert get(Session, drafted).status == "drafted"
    with Session() as s:
        assert s.get(AlertRow, alert).first_response_at == clock.now()
    assert actions(Session, rid) == [("reply.sent", audit.SYSTEM)]
    # a second run finds nothing to send
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport()
    assert len(channel.sent) == 1


def test_first_response_is_not_overwritten(Session, make_outbox, make_mention, make_alert, clock):
    mid, mention = make_mention()
    first = clock.now() - timedelta(minutes=30)
    alert = make_alert(mid, mention, first_response_at=first)
    make_outbox(status="approved", alert_id=alert, mention_id=mid)
    send_approved(Session, channels={"x": DryRunChannel("x")}, now=clock.now())
    with Session() as s:
        assert s.get(AlertRow, alert).first_response_at == first


def test_permanent_error_marks_failed(Session, make_outbox, clock):
    rid = make_outbox(status="approved")
    channel = FakeChannel(script=[SendError("duplicate content", permanent=True)])
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(failed=1)
    row = get(Session, rid)
    assert (row.status, row.last_error) == ("failed", "duplicate content")
    assert actions(Session, rid) == [("reply.failed", audit.SYSTEM)]
    # never retried on its own
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport()
    assert len(channel.calls) == 1


def test_too_long_for_dry_run_fails_permanently(Session, make_outbox, clock):
    rid = make_outbox(status="approved", text="x" * 281)
    assert send_approved(Session, channels={"x": DryRunChannel("x", max_length=280)}, now=clock.now()).failed == 1
    assert get(Session, rid).last_error == "text is 281 characters; x allows 280"


def test_retry_at_defers_and_pauses_that_platform(Session, make_outbox, clock):
    retry_at = clock.now() + timedelta(minutes=15)
    first = make_outbox(status="approved")
    second = make_outbox(status="approved")
    reddit = make_outbox(status="approved", platform="reddit")
    x = FakeChannel(script=[SendError("429 too many requests", retry_at=retry_at)])
    r = FakeChannel(platform="reddit")
    report = send_approved(Session, channels={"x": x, "reddit": r}, now=clock.now())
    assert report == SendReport(sent=1, deferred=1, waiting=1)
    assert [p.outbox_id for p in x.calls] == [first]  # the second X reply waited
    assert [p.outbox_id for p in r.calls] == [reddit]
    row = get(Session, first)
    assert (row.status, row.not_before) == ("approved", retry_at)
    assert get(Session, second).status == "approved"
    # not before the platform said: a channel that names no rate-limit key has
    # one limit for its platform, and the wait is kept for the next runs too
    clock.advance(timedelta(minutes=10))
    assert send_approved(Session, channels={"x": x}, now=clock.now()) == SendReport(waiting=1)
    assert [p.outbox_id for p in x.calls] == [first]
    clock.advance(timedelta(minutes=5))
    assert send_approved(Session, channels={"x": x}, now=clock.now()) == SendReport(sent=2)
    assert [p.outbox_id for p in x.calls] == [first, first, second]
    assert get(Session, first).status == "sent"


@pytest.mark.parametrize(
    "failure",
    [
        SendError("read timed out", outcome_unknown=True),
        SendError("502 bad gateway"),  # no flag: cannot tell
        RuntimeError("bug in the channel"),
    ],
)
def test_uncertain_outcome_is_never_resent_blindly(Session, make_outbox, clock, failure):
    rid = make_outbox(status="approved")
    channel = FakeChannel(script=[failure])
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(unknown=1)
    row = get(Session, rid)
    assert row.status == "unknown" and row.last_error
    # next run: the channel is asked first; not found → approved again → sent once
    report = send_approved(Session, channels={"x": channel}, now=clock.now())
    assert report == SendReport(sent=1, reconciled=1)
    assert channel.lookups == [rid]
    assert len(channel.calls) == 2
    assert actions(Session, rid) == [
        ("reply.unknown", audit.SYSTEM), ("reply.reconciled", audit.SYSTEM), ("reply.sent", audit.SYSTEM)
    ]


def test_lost_acknowledgement_is_found_by_reconciliation(Session, make_outbox, make_mention, make_alert, clock):
    mid, mention = make_mention()
    alert = make_alert(mid, mention)
    rid = make_outbox(status="approved", alert_id=alert, mention_id=mid)
    channel = FakeChannel(script=["created"])  # posted, but the answer was lost
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(unknown=1)
    clock.advance(60)
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(reconciled=1)
    assert len(channel.calls) == 1  # not posted twice
    row = get(Session, rid)
    assert (row.status, row.external_id, row.sent_at) == ("sent", f"x-{rid}", clock.now())
    with Session() as s:
        assert s.get(AlertRow, alert).first_response_at == clock.now()
        [reconciled] = [e for e in audit.history(s, "outbox", rid) if e.action == "reply.reconciled"]
    assert reconciled.details == {"outcome": "found", "external_id": f"x-{rid}"}


def test_abandoned_sending_rows_are_reconciled_after_the_grace_period(Session, make_outbox, clock):
    crashed = make_outbox(status="sending", claimed_at=clock.now() - timedelta(minutes=6))
    in_flight = make_outbox(status="sending", claimed_at=clock.now() - timedelta(minutes=1))
    channel = FakeChannel()
    channel.on_platform[crashed] = SentPost(external_id="x-crashed")
    report = send_approved(Session, channels={"x": channel}, now=clock.now(), sending_grace=timedelta(minutes=5))
    assert report == SendReport(reconciled=1)
    assert channel.lookups == [crashed]
    assert get(Session, crashed).status == "sent" and get(Session, crashed).external_id == "x-crashed"
    assert get(Session, in_flight).status == "sending"  # another process may still be on it
    assert channel.calls == []


def test_reconciliation_that_fails_leaves_the_row_unknown(Session, make_outbox, clock):
    rid = make_outbox(status="unknown")

    class Broken(FakeChannel):
        def find_sent(self, post):
            raise TimeoutError("search timed out")

    channel = Broken()
    assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport()
    row = get(Session, rid)
    assert row.status == "unknown" and "search timed out" in row.last_error
    assert channel.calls == []


def test_rows_without_a_channel_wait(Session, make_outbox, clock, caplog):
    rid = make_outbox(status="approved", platform="reddit")
    assert send_approved(Session, channels={"x": FakeChannel()}, now=clock.now()) == SendReport()
    assert get(Session, rid).status == "approved"
    assert "no channel for platform 'reddit'" in caplog.text


def test_limit_bounds_one_run(Session, make_outbox, make_mention, clock):
    for i in range(5):
        addressed_reply(make_mention, make_outbox, i, text=f"r{i}")
    channel = DryRunChannel("x")
    assert send_approved(Session, channels={"x": channel}, now=clock.now(), limit=3).sent == 3
    assert [p.text for p in channel.sent] == ["r0", "r1", "r2"]  # oldest first


def test_a_reply_that_fails_is_logged_with_its_id_and_reason(Session, make_outbox, clock, caplog):
    """`brandpulse run` shows warnings only: a reply that failed, went to 'reply by hand' or
    may have been posted must say so there, not only in the audit trail."""
    failed, manual, unknown = (make_outbox(status="approved", text=f"reply {i}") for i in range(3))
    channel = FakeChannel(script=[
        SendError("X: credentials rejected while posting (401); check X_API_KEY", permanent=True),
        ManualReplyRequired("reply by hand: https://x.com/i/web/status/123 (X lets an app reply only to …)",
                            url="https://x.com/i/web/status/123"),
        SendError("X: no answer to the post (ReadTimeout); it may have been created", outcome_unknown=True),
    ])
    with caplog.at_level(logging.WARNING, logger="outreach.outbox"):
        assert send_approved(Session, channels={"x": channel}, now=clock.now()) == SendReport(failed=1, manual=1,
                                                                                               unknown=1)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert (f"reply {failed} (x as @AcmeHelp) failed, not retried: X: credentials rejected while posting (401);"
            " check X_API_KEY") in lines
    assert (f"reply {manual} (x as @AcmeHelp) is for a person to post: reply by hand: https://x.com/i/web/status/123"
            " (X lets an app reply only to …)") in lines
    assert (f"reply {unknown} (x as @AcmeHelp) may have been posted; it is looked for on the platform before any"
            " resend: X: no answer to the post (ReadTimeout); it may have been created") in lines


def test_replies_of_a_paused_brand_or_a_network_without_channel_do_not_hold_back_the_others(
        Session, make_outbox, make_mention, clock, caplog):
    """A run takes up to ``limit`` due replies, oldest first: the paused brand's replies and
    those for a network nothing posts on must not take those places, or `outreach pause
    --brand beta` (or a network left without credentials) stops every other brand too."""
    for i in range(3):
        rid = addressed_reply(make_mention, make_outbox, i, text=f"beta {i}")
        with Session.begin() as s:
            s.get(OutboxRow, rid).brand = "beta"
    for i in range(3):
        make_outbox(status="approved", platform="reddit", in_reply_to=f"t3_abc{i}", account=None, text=f"reddit {i}")
    addressed_reply(make_mention, make_outbox, 9, text="acme, newest")
    with Session.begin() as s:
        set_paused(s, paused=True, actor="ops", now=clock.now(), brand="beta")
    channel = DryRunChannel("x")
    report = send_approved(Session, channels={"x": channel}, now=clock.now(), limit=3)
    assert [p.text for p in channel.sent] == ["acme, newest"]
    assert report == SendReport(sent=1, paused=3)
    assert "no channel for platform 'reddit': its approved replies wait" in caplog.text
