"""Correcting incident links by hand on PostgreSQL (row locks, JSON columns,
the bulk re-draft): the SQLite tests of tests/outreach/test_incidents.py run
again on a PostgreSQL schema brought to the head by the real migrations.
Skips, saying why, without a server."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from brandpulse.db import upgrade
from brandpulse.db.models import IncidentMentionRow, MentionTagRow
from outreach.incident_links import link_by_hand
from outreach.incident_records import IncidentError
from tests.outreach.test_incidents import (  # noqa: F401  (fixtures and the tests to run again)
    _ingest,
    _links,
    _open,
    channels,
    isettings,
    pipeline,
    templates,
    test_a_complaint_answered_with_the_first_incidents_link_gets_no_second_reply_only_the_new_incidents_follow_up,
    test_a_complaint_without_a_keyword_is_linked_by_the_post_it_answers,
    test_a_drafted_reply_moved_to_another_incident_becomes_its_reply_and_linking_while_still_linked_is_refused,
    test_a_reply_of_a_conversation_still_linked_is_sent_after_reconciliation,
    test_a_reply_on_its_way_moved_to_an_incident_resolved_since_is_redrafted_as_fixed,
    test_a_reply_on_its_way_when_its_complaint_moves_to_another_incident_is_redrafted_for_it_never_sent_with_the_first_link,
    test_a_reply_unlinked_on_its_way_and_found_not_posted_is_held_not_sent_with_the_status_link,
    test_a_reply_with_no_ordinary_template_is_held_for_a_person,
    test_a_resolved_incident_does_not_keep_its_conversations_from_a_new_one,
    test_arrival_does_not_link_a_conversation_of_another_open_incident,
    test_each_link_keeps_how_it_was_made_and_the_keywords_it_matched,
    test_linking_by_hand_a_complaint_the_keywords_missed,
    test_opening_links_a_reply_to_a_complaint_it_links,
    test_opening_links_an_earlier_complaint_by_its_latest_label,
    test_unlinking_a_complaint_answered_with_the_status_link_leaves_the_sent_reply_and_withdraws_the_follow_up,
    test_unlinking_puts_the_ordinary_draft_back_and_it_is_never_linked_again_by_itself,
    test_unlinking_reports_replies_on_their_way_and_redrafts_one_to_be_answered_by_hand,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_engine):
    """Every fixture built on ``engine`` (Session, make_mention, …) uses PostgreSQL here."""
    upgrade(pg_engine)
    return pg_engine


def test_two_people_linking_the_same_complaint_at_once_one_is_told_it_is_linked_already(
    Session, isettings, templates, clock, pipeline, make_mention
):
    """Both run ``incident link`` on the same complaint at the same moment:
    the first one's transaction commits while the second one's is under
    way, just before the second locks anything. The second gets the
    "linked already" refusal (no duplicate-key error), and nothing of it is
    written."""
    incident_id = _open(Session, isettings, templates, clock, keywords=["app"])
    clock.advance(60)
    [missed] = _ingest(Session, pipeline, make_mention, clock, [
        ({"text": "@AcmeHelp can't board, the gate scanners reject my pass", "handle": "gil", "thread_id": "t-gil"},
         -0.7)])

    def link(session, actor):
        return link_by_hand(session, incident_id, missed, actor=actor, now=clock.now(), settings=isettings,
                            templates=templates)

    first_done: list[int] = []

    def first_commits_meanwhile(conn, cursor, statement, parameters, context, executemany):
        if "FOR " in statement and "UPDATE" in statement and not first_done:  # the second's first lock
            with Session.begin() as first:
                first_done.append(link(first, "ops-kim").mention_id)

    with pytest.raises(IncidentError, match=f"mention {missed} is linked to incident #{incident_id} already"):
        with Session.begin() as second:
            event.listen(second.connection(), "before_cursor_execute", first_commits_meanwhile)
            link(second, "ops-lee")
    assert first_done == [missed]
    assert _links(Session, incident_id)[missed] == ("hand", [], "ops-kim")
    with Session() as s:
        assert s.scalars(select(IncidentMentionRow.mention_id).where(IncidentMentionRow.mention_id == missed)).all() \
            == [missed]
        assert s.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == missed,
                                                         MentionTagRow.tag.like("incident:%"))).all() \
            == [f"incident:{incident_id}"]
