"""An incident reply never points a customer to a cancelled incident, and one
whose incident resolved while it was on its way says it is fixed.

A reply drafted from the incident ``reply`` template gives the incident's
title and status link. Cancelling the incident unlinks its complaints and
re-drafts their replies into ordinary ones, but some keep the incident's
text: one with no ordinary template (held), one on its way when the incident
was cancelled (reconciled as not posted later), one linked by a batch that
read the incident open as it was cancelled. Whatever approved them, before
or after the cancellation, in this process or another, they are held at the
send claim (``incident_cancelled``) and a person cannot approve the text as
it is: only an ordinary text of theirs goes."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import select, update

from brandpulse import audit
from brandpulse.db import make_engine, session_factory
from brandpulse.db.models import IncidentRow, OutboxRow
from outreach.incident_records import CANCELLED
from outreach.incident_replies import CANCELLED_HOLD
from outreach.incident_templates import REPLY_TEMPLATE, IncidentTemplates
from outreach.incidents import cancel_incident
from outreach.outbox import OutboxError, approve, edit, send_approved
from outreach.safeguards import outreach_status
from tests.outreach.test_incidents import (  # noqa: F401 (isettings, templates, pipeline, channels: fixtures)
    FakeStatusChannel,
    INCIDENTS,
    _ingest,
    _open,
    _reply_of,
    _resolve,
    _roots,
    _rule_template,
    _send,
    channels,
    isettings,
    pipeline,
    templates,
)

ORDINARY = "Hi @fay, sorry about this: DM us your booking reference and we'll sort it out."


def _cancel(Session, isettings, templates, renderer, clock, incident_id, *, rule_template, **kw):
    with Session.begin() as s:
        return cancel_incident(s, incident_id, settings=isettings, templates=templates, renderer=renderer,
                               rule_template=rule_template, actor="ops-dana", now=clock.now(), **kw)


def _no_rule(mention, score):
    return None


def _held_after_cancel(Session, isettings, templates, renderer, clock, pipeline, make_mention):
    """fay's complaint is linked; the incident is cancelled and no rule drafts
    an ordinary reply to her, so her reply stays held with the incident's text."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [fay] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is broken", "handle": "fay", "thread_id": "t-fay"}, -0.7)])
    before = _reply_of(Session, fay)
    assert (before.template, before.incident_id) == (REPLY_TEMPLATE, incident_id)
    clock.advance(60)
    _cancel(Session, isettings, templates, renderer, clock, incident_id, rule_template=_no_rule)
    reply = _reply_of(Session, fay)
    assert (reply.status, reply.text, reply.template) == ("held", before.text, REPLY_TEMPLATE)
    return incident_id, fay, reply


def test_a_person_cannot_approve_a_reply_pointing_to_a_cancelled_incident_as_it_is(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    incident_id, fay, reply = _held_after_cancel(Session, isettings, templates, renderer, clock, pipeline,
                                                 make_mention)
    clock.advance(60)
    with Session.begin() as s, pytest.raises(OutboxError) as refused:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert str(refused.value).startswith(f"cannot approve reply {reply.id}: incident #{incident_id}")
    assert "was cancelled" in str(refused.value) and "--text" in str(refused.value)
    assert _reply_of(Session, fay).status == "held"  # nothing changed
    assert _send(Session, channels, clock, isettings).sent == 0 and channels["x"].posts == []

    # An ordinary text of the person's own goes.
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now(), text=ORDINARY)
    assert _send(Session, channels, clock, isettings).sent == 1
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == [ORDINARY]


def test_an_approval_that_got_through_anyway_is_held_at_the_send_claim(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """However it came to be approved after the cancellation (a person, the
    reply policy, a tool writing the row), the send claim holds it: reason,
    code, audit event, counted in ``outreach status``."""
    incident_id, fay, reply = _held_after_cancel(Session, isettings, templates, renderer, clock, pipeline,
                                                 make_mention)
    clock.advance(60)
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(
            status="approved", approved_by="ops-kim", approved_at=clock.now(), hold_code=None, hold_reason=None))
    report = _send(Session, channels, clock, isettings)
    assert (report.sent, report.held) == (0, 1) and channels["x"].posts == []
    row = _reply_of(Session, fay)
    assert (row.status, row.hold_code, row.approved_by) == ("held", CANCELLED_HOLD, None)
    assert row.hold_reason.startswith(f"incident #{incident_id} (Check-in errors in the app) was cancelled")
    assert "by ops-dana" in row.hold_reason
    with Session() as s:
        [held] = [e for e in audit.history(s, "outbox", reply.id) if e.action == "reply.held"]
        status = outreach_status(s, settings=isettings, now=clock.now())
    assert held.details["code"] == CANCELLED_HOLD and held.details["incident_id"] == incident_id
    assert held.details["previous_approved_by"] == "ops-kim"
    assert status.held_by_code == {CANCELLED_HOLD: 1}
    assert _send(Session, channels, clock, isettings).sent == 0  # stays held


def test_a_reply_approved_before_the_cancel_and_on_its_way_is_held_not_approvable_as_it_is(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """ana's reply was approved with the status link and its send's answer was
    lost when the incident was cancelled; reconciliation finds it not posted:
    it is held, and approving it as it is stays refused."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)  # the status posts go out
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app charged me twice", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    x_root = _roots(Session, incident_id)[0]
    assert x_root in reply.text
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)
    _cancel(Session, isettings, templates, renderer, clock, incident_id, rule_template=_rule_template(pipeline),
            without_correction=True)
    clock.advance(60)
    report = _send(Session, channels, clock, isettings)
    assert (report.reconciled, report.sent, report.held) == (1, 0, 1)
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code, row.text) == ("held", CANCELLED_HOLD, reply.text)
    with Session.begin() as s, pytest.raises(OutboxError, match="was cancelled"):
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    # A rewrite that still gives the cancelled incident's thread is refused too.
    with Session.begin() as s, pytest.raises(OutboxError, match="still gives the status link"):
        edit(s, reply.id, actor="ops-kim", now=clock.now(), text=f"Hi @ana, see {x_root}")
    with Session.begin() as s:
        edit(s, reply.id, actor="ops-kim", now=clock.now(), text="Hi @ana, sorry: DM us and we'll refund it.")
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())  # the person's own text: it may go
    assert _send(Session, channels, clock, isettings).sent == 1
    assert not [p for p in channels["x"].posts if x_root in p.text and p.outbox_id == reply.id]


def test_a_complaint_linked_as_the_incident_is_cancelled_needs_an_unlink_or_a_new_text(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    """A batch that read the incident open links ana just after the
    cancellation (PostgreSQL: nothing orders them). Her reply gives the
    cancelled incident's link: held at the claim; `incident unlink` makes it
    an ordinary draft, which a person approves."""
    from outreach.incident_links import unlink_mention

    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _cancel(Session, isettings, templates, renderer, clock, incident_id, rule_template=_rule_template(pipeline))
    with Session.begin() as s:
        s.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status="investigating"))
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    with Session.begin() as s:
        s.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(status=CANCELLED))
    reply = _reply_of(Session, ana)
    clock.advance(60)
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="approved", approved_by="policy",
                                                                           approved_at=clock.now()))
    assert _send(Session, channels, clock, isettings).held == 1
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code) == ("held", CANCELLED_HOLD)
    assert f"brandpulse incident unlink {incident_id} {ana}" in row.hold_reason
    with Session.begin() as s, pytest.raises(OutboxError, match="was cancelled"):
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    with Session.begin() as s:
        unlink_mention(s, incident_id, ana, actor="ops-kim", now=clock.now(), settings=isettings, renderer=renderer,
                       rule_template=_rule_template(pipeline), reason="incident cancelled")
    row = _reply_of(Session, ana)
    assert row.template != REPLY_TEMPLATE and row.incident_id is None
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1


def _anas_incident_reply(Session, settings, templates, clock, channels, pipeline, make_mention):
    """An incident open on "app" with its status posts out; a minute later
    ana's "the app is down" is read and gets its incident reply:
    ``(incident id, ana's mention id, her reply)``."""
    incident_id = _open(Session, settings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, settings)
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    return incident_id, ana, _reply_of(Session, ana)


def _send_in_child(url: str, now, config: dict, queue) -> None:
    """Another process's send run: its own engine and sessions, nothing shared but the database file."""
    from brandpulse.config import parse_settings

    engine = make_engine(url)
    try:
        settings = parse_settings(config["data"], path=config["path"])
        channels = {"x": FakeStatusChannel("x"), "reddit": FakeStatusChannel("reddit")}
        report = send_approved(session_factory(engine), channels=channels, now=now, settings=settings)
        queue.put((report.sent, report.held, [p.outbox_id for p in channels["x"].posts]))
    finally:
        engine.dispose()


def test_a_send_run_in_another_process_holds_it_too(
    Session, engine, isettings, templates, clock, pipeline, make_mention, renderer, make_settings, tmp_path,
    config_dict
):
    """Approved by a person before the cancellation, in a state the cancel
    left alone (its outcome unknown, then found not posted by this process):
    a send run in another process reads the cancellation from the database
    and holds it."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    with Session.begin() as s:
        approve(s, reply.id, actor="ops-kim", now=clock.now())
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)
    _cancel(Session, isettings, templates, renderer, clock, incident_id, rule_template=_rule_template(pipeline))
    with Session.begin() as s:  # reconciliation found it not posted: approved again, as it was approved
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="approved", claimed_at=None))
    clock.advance(60)
    queue = multiprocessing.get_context("fork").Queue()
    child = multiprocessing.get_context("fork").Process(target=_send_in_child, args=(
        str(engine.url), clock.now(), {"data": {**config_dict, "data_dir": str(tmp_path / "data"),
                                                "incidents": INCIDENTS}, "path": tmp_path / "brandpulse.yaml"},
        queue))
    child.start()
    sent, held, posted = queue.get(timeout=60)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert (sent, held, reply.id in posted) == (0, 1, False)
    row = _reply_of(Session, ana)
    assert (row.status, row.hold_code) == ("held", CANCELLED_HOLD)


# ---------------------------------------------------------------------------
# Resolved while on its way
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["person", "policy"])
def test_a_reply_on_its_way_when_the_incident_resolved_is_redrafted_as_fixed(
    make_settings, Session, clock, channels, make_mention, renderer, policy
):
    """ana's "we're working on it" reply was on its way (outcome unknown) when
    the incident resolved, so resolving could not re-draft it. Found not
    posted, it is re-drafted at its claim as the incident is now ("it's fixed
    now", the thread's link): the approval of the old text does not carry
    over (a person approves the new one), unless the reply policy approves
    incident replies, and then the new text goes in that same claim."""
    from brandpulse.pipeline import Pipeline

    reply_policy = {"require_approval": policy == "person"}
    settings = make_settings(incidents=INCIDENTS, reply_policy=reply_policy)
    templates = IncidentTemplates(settings)
    pipeline = Pipeline(settings, renderer=renderer)
    incident_id, ana, reply = _anas_incident_reply(Session, settings, templates, clock, channels, pipeline,
                                                   make_mention)
    assert "working on it" in reply.text
    with Session.begin() as s:
        if reply.status != "approved":
            approve(s, reply.id, actor="ops-kim", now=clock.now())
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)
    assert _resolve(Session, settings, templates, clock, incident_id).redrafted == []
    clock.advance(60)
    report = _send(Session, channels, clock, settings)  # reconciled: not posted; then claimed (and the last status posts)
    row = _reply_of(Session, ana)
    assert "it's fixed now" in row.text and _roots(Session, incident_id)[0] in row.text
    with Session() as s:
        [event] = [e for e in audit.history(s, "outbox", reply.id) if e.action == "reply.redrafted"]
    assert event.details["reason"] == "incident resolved while on its way"
    assert event.details["previous_text"] == reply.text
    if policy == "person":
        assert (report.reconciled, row.status, row.approved_by) == (1, "drafted", None)
        assert not [p for p in channels["x"].posts if p.outbox_id == reply.id]
        with Session.begin() as s:
            approve(s, reply.id, actor="ops-kim", now=clock.now())
        assert _send(Session, channels, clock, settings).sent == 1
    else:
        assert (row.status, row.approved_by) == ("sent", "policy")
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == [_reply_of(Session, ana).text]


def test_a_reply_approved_after_the_resolution_goes_as_the_person_approved_it(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    """A person who approved the reply after the incident resolved saw it as
    it is then: it is not re-drafted under them."""
    incident_id, ana, reply = _anas_incident_reply(Session, isettings, templates, clock, channels, pipeline,
                                                   make_mention)
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="unknown", claimed_at=clock.now()))
    _resolve(Session, isettings, templates, clock, incident_id)
    clock.advance(60)
    with Session.begin() as s:  # reconciliation found it not posted, and a person approves its text on purpose
        s.execute(update(OutboxRow).where(OutboxRow.id == reply.id).values(status="held", hold_code="cooldown",
                                                                           hold_reason="x"))
        approve(s, reply.id, actor="ops-kim", now=clock.now(), text="Hi @ana, we fixed it an hour ago, sorry!")
    _send(Session, channels, clock, isettings)
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == ["Hi @ana, we fixed it an hour ago, sorry!"]

