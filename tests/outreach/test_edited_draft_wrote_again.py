"""A reply a person edited is never replaced by the template when the customer
writes again before it goes out. The draft moves to the customer's newest post
(one conversation, one reply) with the person's text kept, held for a person
with a reason saying who edited it and when the customer wrote again, and an
approval given before that post is withdrawn: nobody approved that text
against a post they had not read. A draft nobody edited is re-rendered from
the template as before. The whole path: poller → pipeline (alert, draft) →
edit/approve → the customer writes again → approve → send run, with the fake
clock. On SQLite, and on PostgreSQL when the server answers."""

from __future__ import annotations

from datetime import timedelta

from brandpulse import audit
from brandpulse.db.models import OutboxRow
from outreach.drafts import WROTE_AGAIN
from outreach.outbox import approve, edit, send_approved
from tests.conftest import T0
from tests.outreach.test_reply_per_message import Conversation, post

ALICE_TEXT = "Hi @marisol, I'm Alice from Acme: I've asked the baggage desk to call you about your bag within the hour."


def reply(Session, outbox_id: int) -> OutboxRow:
    with Session() as s:
        return s.get(OutboxRow, outbox_id)


def drafted_complaint(Session, settings, clock) -> tuple[Conversation, OutboxRow]:
    """marisol's complaint (posted 09:01, read 09:02) with its reply drafted; the clock
    at 09:04, when a person works on the draft."""
    talk = Conversation(Session, settings, clock)
    talk.read(2, post(1, "@AcmeHelp you lost my bag, terrible service", minutes=1))
    draft = talk.pending()
    clock.set(T0 + timedelta(minutes=4))
    return talk, draft


def test_an_edited_draft_keeps_its_text_and_is_held_saying_the_customer_wrote_again(any_Session, settings, clock):
    talk, draft = drafted_complaint(any_Session, settings, clock)
    with any_Session.begin() as s:
        edit(s, draft.id, actor="alice", now=clock.now(), text=ALICE_TEXT)

    # Before anyone sends it, the customer writes again in the thread.
    talk.read(12, post(2, "@AcmeHelp hello?? still nothing, awful", minutes=10, reply_to="7001"))
    row = reply(any_Session, draft.id)
    assert (row.mention_id, row.in_reply_to) == (talk.alert().last_mention_id, "7002")  # it answers the newest post
    assert row.text == ALICE_TEXT  # alice's words, not the template's
    assert (row.status, row.hold_code, row.approved_by, row.needs_approval) == ("held", WROTE_AGAIN, None, True)
    assert row.hold_reason == (
        "edited by alice before the customer wrote again at 2026-03-10 09:10 UTC — check it still fits their"
        " newer post, then approve it (or edit or reject it)")
    with any_Session() as s:
        moved = audit.history(s, "outbox", draft.id)[-1]
    assert (moved.action, moved.actor) == ("reply.drafted", audit.SYSTEM)
    assert moved.details["text_kept"] == {"edited_by": "alice", "edited_at": "2026-03-10T09:04:00+00:00"}
    assert moved.details["previous"]["text"] == ALICE_TEXT and moved.details["previous"]["status"] == "drafted"

    # Nothing goes out until a person approves it; then alice's text answers the newest post.
    report = send_approved(any_Session, channels={"x": talk.channel}, now=clock.now(), settings=settings)
    assert report.sent == 0 and talk.channel.sent == []
    clock.set(T0 + timedelta(minutes=15))
    with any_Session.begin() as s:
        approve(s, draft.id, actor="alice", now=clock.now())
    report = send_approved(any_Session, channels={"x": talk.channel}, now=clock.now(), settings=settings)
    assert report.sent == 1
    assert [(p.in_reply_to, p.text) for p in talk.channel.sent] == [("7002", ALICE_TEXT)]


def test_an_approved_edited_draft_goes_back_to_a_person_instead_of_out_unseen(any_Session, settings, clock):
    talk, draft = drafted_complaint(any_Session, settings, clock)
    with any_Session.begin() as s:
        approve(s, draft.id, actor="alice", now=clock.now(), text=ALICE_TEXT)  # edited and approved at once

    talk.read(12, post(2, "@AcmeHelp and now the app logged me out, useless", minutes=11, reply_to="7001"))
    row = reply(any_Session, draft.id)
    assert (row.text, row.in_reply_to) == (ALICE_TEXT, "7002")
    assert (row.status, row.hold_code, row.approved_by, row.approved_at) == ("held", WROTE_AGAIN, None, None)
    assert row.hold_reason.startswith("edited by alice before the customer wrote again at 2026-03-10 09:11 UTC")
    assert row.hold_reason.endswith("; alice's approval was withdrawn")

    report = send_approved(any_Session, channels={"x": talk.channel}, now=clock.now(), settings=settings)
    assert (report.sent, talk.channel.sent) == (0, [])  # not sent against a post alice never read

    # A third post moves it again, still with alice's text, the reason naming the newest post.
    talk.read(20, post(3, "@AcmeHelp anyone there?? awful", minutes=19, reply_to="7001"))
    row = reply(any_Session, draft.id)
    assert (row.text, row.in_reply_to, row.status) == (ALICE_TEXT, "7003", "held")
    assert row.hold_reason.startswith("edited by alice before the customer wrote again at 2026-03-10 09:19 UTC")


def test_a_draft_nobody_edited_is_rendered_again_for_the_newest_post(any_Session, settings, clock):
    talk, draft = drafted_complaint(any_Session, settings, clock)
    with any_Session.begin() as s:
        approve(s, draft.id, actor="alice", now=clock.now())  # approved as drafted: the template's words

    talk.read(12, post(2, "@AcmeHelp hello?? still nothing, awful", handle="Marisol", minutes=10, reply_to="7001"))
    row = reply(any_Session, draft.id)
    assert row.in_reply_to == "7002" and row.text == "Hi @Marisol, sorry about this. We're on it: DM us your booking ref."
    assert (row.status, row.hold_code, row.hold_reason, row.approved_by) == ("drafted", None, None, None)


def test_an_edit_the_template_replaced_since_is_not_the_persons_text_any_more(any_Session, settings, clock):
    """alice's edit was replaced (an incident re-draft, say) by a template text:
    that text is the template's, and it is re-rendered as any other."""
    talk, draft = drafted_complaint(any_Session, settings, clock)
    with any_Session.begin() as s:
        edit(s, draft.id, actor="alice", now=clock.now(), text=ALICE_TEXT)
        s.get(OutboxRow, draft.id).text = "Hi @marisol, an older template text."
    talk.read(12, post(2, "@AcmeHelp hello?? still nothing, awful", minutes=10, reply_to="7001"))
    row = reply(any_Session, draft.id)
    assert (row.text, row.status, row.hold_code) == (
        "Hi @marisol, sorry about this. We're on it: DM us your booking ref.", "drafted", None)

