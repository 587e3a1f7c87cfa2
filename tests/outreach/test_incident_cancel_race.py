"""Cancelling an incident while the poller, or a person, links a complaint
to it, on PostgreSQL (SQLite serialises writers): the batch (or `incident
link`) that read the incident open waits for the cancellation and no longer
sees it open, so the complaint is not linked to the cancelled incident."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from brandpulse.db.models import IncidentMentionRow
from outreach.incident_links import link_by_hand
from outreach.incident_records import IncidentError
from outreach.incident_templates import REPLY_TEMPLATE
from outreach.incidents import cancel_incident
from tests.outreach.test_incidents import (  # noqa: F401 (isettings, templates, pipeline: fixtures)
    _ingest,
    _open,
    _reply_of,
    _rule_template,
    isettings,
    pipeline,
    templates,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def Session(pg_Session):
    """This module's stores (make_mention, the pipeline's batches) are on PostgreSQL."""
    return pg_Session


def _cancelling(Session, isettings, templates, renderer, pipeline, clock, incident_id):
    """A person's session cancelling the incident, not committed yet."""
    person = Session()
    cancel_incident(person, incident_id, settings=isettings, templates=templates, renderer=renderer,
                    rule_template=_rule_template(pipeline), actor="ops-dana", now=clock.now())
    return person


def _while_cancelling(Session, person, work) -> list[BaseException]:
    """Run ``work`` in another thread; once it waits for ``person``'s row
    lock (or has finished without), commit the cancellation. What ``work``
    raised is returned."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported to the test's thread
            failed.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    with Session() as watch:
        person_pid = person.execute(text("SELECT pg_backend_pid()")).scalar_one()
        while worker.is_alive() and not watch.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND :pid = ANY(pg_blocking_pids(pid))"), {"pid": person_pid}).scalar_one():
            watch.rollback()
            threading.Event().wait(0.01)
    person.commit()
    person.close()
    worker.join()
    return failed


def test_a_complaint_read_while_the_incident_is_cancelled_is_not_linked_to_it(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    person = _cancelling(Session, isettings, templates, renderer, pipeline, clock, incident_id)
    linked: list[int] = []
    failed = _while_cancelling(Session, person, lambda: linked.extend(_ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp the app is down", "handle": "ana", "thread_id": "t-ana"}, -0.7)])))
    assert not failed, failed
    [ana] = linked
    with Session() as s:
        assert s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.mention_id == ana)).all() == []
    reply = _reply_of(Session, ana)
    assert (reply.template != REPLY_TEMPLATE, reply.incident_id) == (True, None)


def test_a_complaint_linked_by_hand_while_the_incident_is_cancelled_is_refused(
    Session, isettings, templates, clock, pipeline, make_mention, renderer
):
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    mention_id, _ = make_mention(text="@AcmeHelp billing page shows an error", handle="bo", thread_id="t-bo")
    person = _cancelling(Session, isettings, templates, renderer, pipeline, clock, incident_id)

    def link() -> None:
        with Session.begin() as s:
            link_by_hand(s, incident_id, mention_id, actor="ops-kim", now=clock.now(), settings=isettings,
                         templates=templates)

    [failed] = _while_cancelling(Session, person, link)
    assert isinstance(failed, IncidentError)
    assert str(failed) == f"incident {incident_id} is cancelled: link complaints to an open incident"
    with Session() as s:
        assert s.scalars(select(IncidentMentionRow).where(IncidentMentionRow.mention_id == mention_id)).all() == []
