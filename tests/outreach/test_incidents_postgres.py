"""Correcting incident links by hand on PostgreSQL (row locks, JSON columns,
the bulk re-draft): the SQLite tests of tests/outreach/test_incidents.py run
again on a PostgreSQL schema brought to the head by the real migrations.
Skips, saying why, without a server."""

from __future__ import annotations

import pytest

from brandpulse.db import upgrade
from tests.outreach.test_incidents import (  # noqa: F401  (fixtures and the tests to run again)
    channels,
    isettings,
    pipeline,
    templates,
    test_a_reply_with_no_ordinary_template_is_held_for_a_person,
    test_each_link_keeps_how_it_was_made_and_the_keywords_it_matched,
    test_linking_by_hand_a_complaint_the_keywords_missed,
    test_unlinking_a_complaint_answered_with_the_status_link_leaves_the_sent_reply_and_withdraws_the_follow_up,
    test_unlinking_puts_the_ordinary_draft_back_and_it_is_never_linked_again_by_itself,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(pg_engine):
    """Every fixture built on ``engine`` (Session, make_mention, …) uses PostgreSQL here."""
    upgrade(pg_engine)
    return pg_engine
