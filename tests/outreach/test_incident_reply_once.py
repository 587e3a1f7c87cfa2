"""A customer who complained about an outage twice, in two threads (two
alerts, both linked), is pointed to the incident once: the second incident
reply is held at its send claim for a person, not sent now nor released by
the per-author cooldown 12 hours later ("it's fixed" then comes as the
follow-up of the first)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from brandpulse.db.models import AuditRow, OutboxRow
from outreach import safeguards
from outreach.incident_replies import REPEATED_HOLD
from outreach.incident_templates import REPLY_TEMPLATE
from outreach.outbox import OutboxError, approve
from tests.outreach.test_incidents import (  # noqa: F401 (isettings, templates, channels, pipeline: fixtures)
    _ingest,
    _open,
    _reply_of,
    _send,
    channels,
    isettings,
    pipeline,
    templates,
)


def _two_complaints(Session, isettings, templates, clock, channels, pipeline, make_mention):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)  # the status posts
    clock.advance(60)
    first, second = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-1"}, -0.7),
        ({"text": "@AcmeHelp still can't open the app, flight in 2 hours", "handle": "ana", "thread_id": "t-2"}, -0.8),
    ])
    replies = [_reply_of(Session, m) for m in (first, second)]
    assert all(r.template == REPLY_TEMPLATE and r.incident_id == incident_id for r in replies)
    with Session.begin() as s:  # a person approves the outage's linked complaints in one go
        for r in replies:
            approve(s, r.id, actor="kim", now=clock.now())
    clock.advance(60)
    _send(Session, channels, clock, isettings)
    return incident_id, first, second


def test_an_author_is_pointed_to_the_incident_once_whatever_the_cooldown(
        Session, isettings, templates, clock, channels, pipeline, make_mention):
    incident_id, first, second = _two_complaints(Session, isettings, templates, clock, channels, pipeline,
                                                 make_mention)
    sent, held = _reply_of(Session, first), _reply_of(Session, second)
    assert sent.status == "sent"
    assert held.status == "held" and held.hold_code == REPEATED_HOLD
    assert held.approved_by is None  # a person decides again
    assert (f"@ana was already pointed to incident #{incident_id} (Check-in errors in the app)"
            f" by reply {sent.id}") in held.hold_reason
    assert f"brandpulse outreach waive {held.id} {REPEATED_HOLD}" in held.hold_reason
    with Session() as s:
        event = s.scalars(select(AuditRow).where(AuditRow.entity_type == "outbox", AuditRow.entity_id == str(held.id),
                                                 AuditRow.action == "reply.held")).one()
    assert event.details["code"] == REPEATED_HOLD and event.details["earlier_reply"] == sent.id
    # The cooldown's window passes: still held (the cooldown used to release it then, a second link 12 h later).
    clock.advance(timedelta(hours=13).total_seconds())
    _send(Session, channels, clock, isettings)
    assert _reply_of(Session, second).status == "held"
    assert [p.outbox_id for p in channels["x"].posts if p.kind == "reply"] == [sent.id]


def test_a_person_may_still_send_it_with_their_own_text_or_by_waiving(
        Session, isettings, templates, clock, channels, pipeline, make_mention):
    _, first, second = _two_complaints(Session, isettings, templates, clock, channels, pipeline, make_mention)
    held = _reply_of(Session, second)
    clock.advance(timedelta(hours=13).total_seconds())  # past the per-author cooldown
    with Session.begin() as s:
        approve(s, held.id, actor="kim", now=clock.now(), text="Hi @ana, your 14:05 flight is held for you at the desk.")
    _send(Session, channels, clock, isettings)
    assert _reply_of(Session, second).status == "sent"
    # Waived: the text as drafted goes.
    assert safeguards.INCIDENT_ANSWERED == REPEATED_HOLD and REPEATED_HOLD in safeguards.WAIVABLE


def test_waiving_sends_the_incident_reply_as_it_is(Session, isettings, templates, clock, channels, pipeline,
                                                   make_mention):
    _, first, second = _two_complaints(Session, isettings, templates, clock, channels, pipeline, make_mention)
    held = _reply_of(Session, second)
    clock.advance(timedelta(hours=13).total_seconds())
    with Session.begin() as s:
        safeguards.waive(s, held.id, REPEATED_HOLD, actor="kim", now=clock.now(), reason="two bookings")
        approve(s, held.id, actor="kim", now=clock.now())
    _send(Session, channels, clock, isettings)
    row = _reply_of(Session, second)
    assert row.status == "sent" and row.text == held.text
    with Session() as s:
        assert s.scalar(select(OutboxRow.status).where(OutboxRow.id == _reply_of(Session, first).id)) == "sent"


def test_approving_it_as_it_is_is_refused_saying_how_to_waive(Session, isettings, templates, clock, channels, pipeline,
                                                              make_mention):
    """Approving the held reply without a text of one's own or a waiver would only see it
    held again at the next send: approve says so, and how to send it, and changes nothing
    (as for a reply giving a cancelled incident's link)."""
    _, first, second = _two_complaints(Session, isettings, templates, clock, channels, pipeline, make_mention)
    held = _reply_of(Session, second)
    with Session.begin() as s, pytest.raises(OutboxError) as err:
        approve(s, held.id, actor="kim", now=clock.now())
    message = str(err.value)
    assert message.startswith(f"cannot approve reply {held.id}: @ana was already pointed to incident #")
    assert f"brandpulse outreach waive {held.id} {REPEATED_HOLD}" in message
    assert f"brandpulse replies approve {held.id} --text" in message and message.endswith("(nothing was changed)")
    row = _reply_of(Session, second)
    assert (row.status, row.hold_code, row.approved_by) == ("held", REPEATED_HOLD, None)
    # Its own text, the same text again, or a waiver: approved and it goes (only the first two are refused).
    with Session.begin() as s, pytest.raises(OutboxError):
        approve(s, held.id, actor="kim", now=clock.now(), text=held.text)
    with Session.begin() as s:
        safeguards.waive(s, held.id, REPEATED_HOLD, actor="kim", now=clock.now(), reason="two bookings")
        assert approve(s, held.id, actor="kim", now=clock.now()).status == "approved"
    clock.advance(timedelta(hours=13).total_seconds())
    _send(Session, channels, clock, isettings)
    assert _reply_of(Session, second).status == "sent"
