"""A reply a person edited is never silently replaced by an incident's
re-draft (as :mod:`tests.outreach.test_edited_draft_wrote_again` for the
customer writing again): opening an incident, linking a complaint by hand,
the status thread going out, resolving, unlinking or cancelling, and the send
claim's re-drafts of a reply found not posted (moved to another incident,
resolved meanwhile) keep the person's text, hold it for them with a reason
naming who edited it, the incident and where its update is, withdraw an
approval, and record it (``reply.held``). Drafts nobody edited are re-drafted
as before. Pipeline → edit/approve → incident → send run, with the fake
clock; on PostgreSQL in test_incident_edited_reply_postgres.py."""

from __future__ import annotations

from sqlalchemy import update

from brandpulse import audit
from brandpulse.db.models import IncidentRow, OutboxRow
from outreach.incident_links import link_by_hand
from outreach.incident_replies import EDITED_HOLD, MOVED_HOLD
from outreach.incident_templates import REPLY_TEMPLATE
from outreach.incidents import cancel_incident
from outreach.outbox import approve, edit
from tests.outreach.test_incidents import (  # noqa: F401  (fixtures)
    _anas_complaint_between_two_incidents,
    _ingest,
    _open,
    _open_full,
    _reply_of,
    _resolve,
    _roots,
    _rule_template,
    _send,
    _unlink,
    channels,
    isettings,
    pipeline,
    templates,
)

ALICE = "Hi @ana, Alice here: I've re-booked you on the 14:10 and the crew at gate 12 knows; sorry for the app."
STATUS_PAGE = "https://status.acme.example"
TITLE = "Check-in errors in the app"


def _history(Session, outbox_id):
    with Session() as s:
        return [(e.action, e.actor, e.details) for e in audit.history(s, "outbox", outbox_id)]


def test_opening_keeps_an_edited_reply_held_with_the_incidents_link_and_redrafts_the_untouched_one(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    ana, bea = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken, useless", "handle": "bea", "thread_id": "t-bea"}, -0.8)])
    clock.advance(5 * 60)
    alices = _reply_of(Session, ana)
    with Session.begin() as s:  # edited and approved at once, before anyone opened an incident
        approve(s, alices.id, actor="alice", now=clock.now(), text=ALICE)
    clock.advance(25 * 60)

    incident_id, earlier = _open_full(Session, isettings, templates, clock, keywords=["app"])

    row = _reply_of(Session, ana)
    assert row.text == ALICE  # alice's words, not the incident template's
    assert (row.status, row.hold_code, row.approved_by, row.approved_at, row.template) == (
        "held", EDITED_HOLD, None, None, alices.template)
    assert row.hold_reason == (
        f"edited by alice before incident #{incident_id} ({TITLE}) was opened — its update is at {STATUS_PAGE};"
        " add it or approve as is (or reject it); alice's approval was withdrawn")
    [(_, actor, held)] = [e for e in _history(Session, alices.id) if e[0] == "reply.held"]
    assert actor == audit.SYSTEM and held["code"] == EDITED_HOLD and held["incident_id"] == incident_id
    assert held["text_kept"] == {"edited_by": "alice", "edited_at": "2026-03-10T09:05:00+00:00"}
    assert (held["previous_status"], held["previous_approved_by"]) == ("approved", "alice")
    assert "we know about this" in held["not_redrafted_text"]  # what the incident would have said
    assert not [e for e in _history(Session, alices.id) if e[0] == "reply.redrafted"]
    # bea's draft nobody touched is the incident's reply, as before
    beas = _reply_of(Session, bea)
    assert earlier.redrafted == [beas.id] and beas.template == REPLY_TEMPLATE and STATUS_PAGE in beas.text

    # The status thread goes out: bea's draft gets its link; alice's reply is still hers, still held.
    assert _send(Session, channels, clock, isettings).sent == 2  # the X and Reddit status posts, nothing else
    x_root = _roots(Session, incident_id)[0]
    assert x_root in _reply_of(Session, bea).text
    assert (_reply_of(Session, ana).text, _reply_of(Session, ana).status) == (ALICE, "held")

    clock.advance(60)
    with Session.begin() as s:  # alice decides it goes as it is
        approve(s, alices.id, actor="alice", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1
    assert [p.text for p in channels["x"].posts if p.outbox_id == alices.id] == [ALICE]


def test_linking_by_hand_keeps_an_edited_draft(Session, isettings, templates, clock, pipeline, make_mention):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [gil] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp can't board, the gate scanners reject my pass", "handle": "gil", "thread_id": "t-gil"},
         -0.7)])
    draft = _reply_of(Session, gil)
    with Session.begin() as s:
        edit(s, draft.id, actor="alice", now=clock.now(), text=ALICE)
    with Session.begin() as s:
        hand = link_by_hand(s, incident_id, gil, actor="ops-kim", now=clock.now(), settings=isettings,
                            templates=templates)
    row = _reply_of(Session, gil)
    assert hand.redrafted == [] and (row.text, row.status, row.hold_code) == (ALICE, "held", EDITED_HOLD)
    assert row.hold_reason == (
        f"edited by alice before ops-kim linked the complaint to incident #{incident_id} ({TITLE}) — its update is"
        f" at {STATUS_PAGE}; add it or approve as is (or reject it)")
    [(_, actor, held)] = [e for e in _history(Session, draft.id) if e[0] == "reply.held"]
    assert actor == "ops-kim" and held["redraft_reason"] == "linked to the incident by hand"


def test_resolving_keeps_an_edited_incident_reply_and_says_it_is_fixed_to_the_others(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)  # the status thread is out
    x_root = _roots(Session, incident_id)[0]
    clock.advance(60)
    ana, ben = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken, useless", "handle": "ben", "thread_id": "t-ben"}, -0.8)])
    alices = _reply_of(Session, ana)
    assert alices.template == REPLY_TEMPLATE and x_root in alices.text
    with Session.begin() as s:
        edit(s, alices.id, actor="alice", now=clock.now(), text=f"{ALICE} Updates: {x_root}")
    clock.advance(3600)

    resolution = _resolve(Session, isettings, templates, clock, incident_id)

    row = _reply_of(Session, ana)
    assert row.text == f"{ALICE} Updates: {x_root}"
    assert (row.status, row.hold_code, row.template, row.incident_id) == (
        "held", EDITED_HOLD, REPLY_TEMPLATE, incident_id)
    assert row.hold_reason == (f"edited by alice before incident #{incident_id} ({TITLE}) was resolved — its update"
                               f" is at {x_root}; add it or approve as is (or reject it)")
    assert resolution.redrafted == [_reply_of(Session, ben).id] and "fixed now" in _reply_of(Session, ben).text
    [(_, _, held)] = [e for e in _history(Session, alices.id) if e[0] == "reply.held"]
    assert held["redraft_reason"] == "incident resolved" and "fixed now" in held["not_redrafted_text"]


def _on_its_way_with_alices_text(Session, clock, reply_id):
    """alice approved the reply with her text; its send's answer was lost."""
    with Session.begin() as s:
        approve(s, reply_id, actor="alice", now=clock.now(), text=ALICE)
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == reply_id).values(status="unknown", claimed_at=clock.now()))
    clock.advance(60)


def test_the_claim_keeps_an_edited_reply_found_not_posted_after_the_incident_resolved(
    Session, isettings, templates, clock, channels, pipeline, make_mention
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)
    x_root = _roots(Session, incident_id)[0]
    clock.advance(60)
    [ana] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7)])
    reply = _reply_of(Session, ana)
    _on_its_way_with_alices_text(Session, clock, reply.id)
    _resolve(Session, isettings, templates, clock, incident_id)
    with Session() as s:
        resolved_at = s.get(IncidentRow, incident_id).resolved_at
    clock.advance(60)

    report = _send(Session, channels, clock, isettings)  # reconciliation: not on the platform
    assert (report.reconciled, report.held) == (1, 1) and reply.id not in channels["x"].ids
    row = _reply_of(Session, ana)
    assert (row.text, row.status, row.hold_code, row.approved_by) == (ALICE, "held", MOVED_HOLD, None)
    assert row.hold_reason == (
        f"edited by alice before incident #{incident_id} ({TITLE}) was resolved {resolved_at:%Y-%m-%d %H:%M} UTC"
        f" while this reply was on its way, and it was not posted — its update is at {x_root}; add it or approve"
        " as is (or reject it); alice's approval was withdrawn")
    assert not [e for e in _history(Session, reply.id) if e[0] == "reply.redrafted"]

    clock.advance(60)
    with Session.begin() as s:
        approve(s, reply.id, actor="alice", now=clock.now())
    assert _send(Session, channels, clock, isettings).sent == 1
    assert [p.text for p in channels["x"].posts if p.outbox_id == reply.id] == [ALICE]


def test_the_claim_keeps_an_edited_reply_whose_complaint_moved_to_another_incident(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    incident_a, incident_b, ana, reply = _anas_complaint_between_two_incidents(
        Session, isettings, templates, clock, channels, pipeline, make_mention)
    _on_its_way_with_alices_text(Session, clock, reply.id)
    _unlink(Session, isettings, renderer, pipeline, clock, incident_a, ana)
    with Session.begin() as s:
        link_by_hand(s, incident_b, ana, actor="ops-kim", now=clock.now(), settings=isettings, templates=templates)
    clock.advance(60)

    report = _send(Session, channels, clock, isettings)
    assert (report.reconciled, report.held, report.sent) == (1, 1, 0)
    row = _reply_of(Session, ana)
    assert (row.text, row.status, row.hold_code, row.approved_by) == (ALICE, "held", MOVED_HOLD, None)
    assert row.hold_reason.startswith(f"moved from incident #{incident_a} (unlinked by ops-lee")
    assert row.hold_reason.endswith(
        f"and it was not posted: edited by alice before it moved to incident #{incident_b} — its update is at"
        f" {_roots(Session, incident_b)[0]}; add it or approve as is (or reject it); alice's approval was withdrawn")
    assert not [e for e in _history(Session, reply.id) if e[0] == "reply.redrafted"]


def test_unlinking_and_cancelling_keep_an_edited_incident_reply(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    ana, ben, cat = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app crashes at check-in", "handle": "ana", "thread_id": "t-ana"}, -0.7),
        ({"text": "@AcmeHelp app broken, useless", "handle": "ben", "thread_id": "t-ben"}, -0.8),
        ({"text": "@AcmeHelp the app is down again", "handle": "cat", "thread_id": "t-cat"}, -0.7)])
    for mention in (ana, cat):
        with Session.begin() as s:
            edit(s, _reply_of(Session, mention).id, actor="alice", now=clock.now(), text=ALICE)
    clock.advance(60)

    unlinking = _unlink(Session, isettings, renderer, pipeline, clock, incident_id, ana)
    anas = _reply_of(Session, ana)
    assert (anas.text, anas.status, anas.hold_code) == (ALICE, "held", EDITED_HOLD)
    assert unlinking.held == {anas.id: anas.hold_reason} and unlinking.redrafted == {}
    assert anas.hold_reason == (f"edited by alice before ops-lee unlinked the complaint from incident #{incident_id}"
                                f" ({TITLE}) — check it still fits, then approve it as is, edit or reject it")

    with Session.begin() as s:
        cancel_incident(s, incident_id, settings=isettings, templates=templates, renderer=renderer,
                        rule_template=_rule_template(pipeline), actor="ops-dana", now=clock.now())
    cats = _reply_of(Session, cat)
    assert (cats.text, cats.status, cats.hold_code) == (ALICE, "held", EDITED_HOLD)
    assert cats.hold_reason == (
        f"edited by alice before incident #{incident_id} ({TITLE}) was cancelled — it may speak of the outage: edit"
        f" it (`brandpulse replies edit {cats.id} ...`, without incident #{incident_id}'s status link) and approve"
        " it, or reject it")
    assert _reply_of(Session, ben).template == "apology"  # untouched: the ordinary draft again
