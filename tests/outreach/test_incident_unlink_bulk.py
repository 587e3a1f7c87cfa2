"""Unlinking many complaints at once (``incident cancel``) does exactly what
unlinking them one at a time does, in a number of statements that does not
grow with them."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import event, select, update

from brandpulse.db import make_engine, session_factory
from brandpulse.db.models import (
    AlertRow,
    AuditRow,
    IncidentMentionRow,
    IncidentUnlinkRow,
    MentionTagRow,
    OutboxRow,
)
from outreach.incident_links import unlink_mention, unlink_mentions
from outreach.incident_templates import IncidentTemplates
from outreach.incidents import cancel_incident
from tests.outreach.test_incidents import (  # noqa: F401 (isettings, templates, pipeline, channels: fixtures)
    _ingest,
    _open,
    _reply_of,
    _resolve,
    _send,
    channels,
    isettings,
    pipeline,
    templates,
)
from outreach.outbox import approve


def _rule_template(pipeline):
    """The rules' template, except for gil: no ordinary reply (held with its text)."""
    def choose(mention, score):
        if mention.author.handle == "gil" or score is None:
            return None
        return pipeline.engine.evaluate(mention, score).draft_template
    return choose


def _world(Session, isettings, templates, clock, channels, pipeline, make_mention, *, resolved: bool):
    """An incident whose complaints cover every case an unlink deals with;
    returns (incident id, its linked mention ids in order)."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    _send(Session, channels, clock, isettings)  # the status thread: replies give its link
    clock.advance(60)
    posts = [({"text": f"@AcmeHelp the app is down ({who})", "handle": who, "thread_id": f"t-{who}"}, -0.7)
             for who in ("ana", "bo", "cy", "dee", "eve", "fay", "gil")]
    posts.insert(1, ({"text": "@AcmeHelp the app still fails", "handle": "ana", "thread_id": "t-ana"}, -0.6))
    ids = _ingest(Session, pipeline, make_mention, clock, posts)
    ana2, cy, dee, eve, fay = ids[1], ids[3], ids[4], ids[5], ids[6]
    with Session.begin() as s:
        approve(s, _reply_of(Session, cy).id, actor="ops-kim", now=clock.now())
        approve(s, _reply_of(Session, eve).id, actor="ops-kim", now=clock.now())
    _send(Session, channels, clock, isettings)  # cy and eve are answered
    with Session.begin() as s:
        s.execute(update(OutboxRow).where(OutboxRow.id == _reply_of(Session, dee).id)
                  .values(status="unknown", claimed_at=clock.now()))
        s.execute(update(OutboxRow).where(OutboxRow.id == _reply_of(Session, fay).id)
                  .values(status="manual", last_error="answer by hand"))
    if resolved:
        clock.advance(60)
        _resolve(Session, isettings, templates, clock, incident_id)  # follow-ups to cy and eve
    clock.advance(60)
    with Session() as s:
        linked = s.scalars(select(IncidentMentionRow.mention_id).where(IncidentMentionRow.incident_id == incident_id)
                           .order_by(IncidentMentionRow.mention_id)).all()
    assert ana2 in linked and len(linked) == 8
    return incident_id, list(linked)


def _state(Session, incident_id):
    with Session() as s:
        events = [(e.actor, e.action, e.entity_type, e.entity_id, e.details)
                  for e in s.scalars(select(AuditRow).order_by(AuditRow.id))]
        outbox = [(r.id, r.status, r.text, r.template, r.incident_id, r.hold_code, r.hold_reason, r.approved_by)
                  for r in s.scalars(select(OutboxRow).order_by(OutboxRow.id))]
        tags = sorted(s.execute(select(MentionTagRow.mention_id, MentionTagRow.tag)).all())
        alerts = [(a.id, a.tags) for a in s.scalars(select(AlertRow).order_by(AlertRow.id))]
        unlinks = sorted((u.mention_id, u.unlinked_by, u.reason) for u in s.scalars(
            select(IncidentUnlinkRow).where(IncidentUnlinkRow.incident_id == incident_id)))
        links = s.scalars(select(IncidentMentionRow.mention_id)).all()
    return events, outbox, tags, alerts, unlinks, links


def _copy(engine, tmp_path, name):
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    target = tmp_path / name
    shutil.copyfile(engine.url.database, target)
    return make_engine(f"sqlite:///{target}")


@pytest.mark.parametrize("resolved", [False, True])
def test_unlinking_all_at_once_is_unlinking_one_at_a_time(
    Session, engine, tmp_path, isettings, templates, clock, channels, pipeline, make_mention, renderer, resolved
):
    """The same re-drafts (ordinary, held with the text, by hand), kept and
    sent replies, replies on their way, withdrawn follow-ups, tags, unlink
    records, results and audit events, in the same order."""
    incident_id, linked = _world(Session, isettings, templates, clock, channels, pipeline, make_mention,
                                 resolved=resolved)
    other = _copy(engine, tmp_path, "one-at-a-time.db")
    kw = dict(actor="ops-lee", now=clock.now(), settings=isettings, renderer=renderer,
              rule_template=_rule_template(pipeline), reason="wrong incident")
    with Session.begin() as s:
        at_once = unlink_mentions(s, incident_id, linked, **kw)
    OtherSession = session_factory(other)
    one_by_one = []
    for mention_id in linked:
        with OtherSession.begin() as s:
            one_by_one.append(unlink_mention(s, incident_id, mention_id, **kw))
    try:
        assert at_once == one_by_one
        assert _state(Session, incident_id) == _state(OtherSession, incident_id)
    finally:
        other.dispose()
    # The cases were there: kept (ana's first complaint, her alert still linked), held, by hand, in flight, sent.
    assert at_once[0].kept and at_once[1].alert_untagged and not at_once[0].alert_untagged
    assert any(u.held for u in at_once) and any(u.by_hand for u in at_once) and any(u.in_flight for u in at_once)
    assert sum(len(u.sent) for u in at_once) == 2
    assert sum(len(u.followups_withdrawn) for u in at_once) == (2 if resolved else 0)


def test_unlinking_a_mention_not_linked_changes_nothing(
    Session, isettings, templates, clock, channels, pipeline, make_mention, renderer
):
    from outreach.incident_records import IncidentError

    incident_id, linked = _world(Session, isettings, templates, clock, channels, pipeline, make_mention,
                                 resolved=False)
    with Session.begin() as s, pytest.raises(IncidentError, match="no mention with id 999999"):
        unlink_mentions(s, incident_id, [linked[0], 999999], actor="ops-lee", now=clock.now(), settings=isettings,
                        renderer=renderer, rule_template=_rule_template(pipeline))
    with Session() as s:
        assert len(s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id)).all()) == 8


def _cancel_statements(Session, engine, isettings, clock, pipeline, make_mention, renderer, n, word):
    templates = IncidentTemplates(isettings)
    incident_id = _open(Session, isettings, templates, clock, keywords=[word], title=f"{word} errors")
    clock.advance(60)
    _ingest(Session, pipeline, make_mention, clock, [
        ({"text": f"@AcmeHelp the {word} is down {i}", "handle": f"{word}{i}", "thread_id": f"t-{word}{i}"}, -0.7)
        for i in range(n)])
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with Session.begin() as s:
            result = cancel_incident(s, incident_id, settings=isettings, templates=templates, renderer=renderer,
                                     rule_template=_rule_template(pipeline), actor="ops-dana", now=clock.now())
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    assert len(result.unlinked) == n and all(u.redrafted for u in result.unlinked)
    return len(statements)


def test_cancelling_takes_as_many_statements_for_twenty_complaints_as_for_two(
    Session, engine, isettings, clock, pipeline, make_mention, renderer
):
    two = _cancel_statements(Session, engine, isettings, clock, pipeline, make_mention, renderer, 2, "kiosk")
    twenty = _cancel_statements(Session, engine, isettings, clock, pipeline, make_mention, renderer, 20, "wifi")
    assert twenty == two
