"""An edited reply kept through an incident's re-drafts, on PostgreSQL (row
locks, the bulk UPDATE mixing kept and re-drafted replies, JSON audit
details): the tests of test_incident_edited_reply.py run again on a schema
brought to the head by the real migrations. Skips, saying why, without a
server."""

from __future__ import annotations

import pytest

from tests.outreach.test_incident_edited_reply import (  # noqa: F401  (fixtures and the tests to run again)
    channels,
    isettings,
    pipeline,
    templates,
    test_linking_by_hand_keeps_an_edited_draft,
    test_opening_keeps_an_edited_reply_held_with_the_incidents_link_and_redrafts_the_untouched_one,
    test_resolving_keeps_an_edited_incident_reply_and_says_it_is_fixed_to_the_others,
    test_the_claim_keeps_an_edited_reply_found_not_posted_after_the_incident_resolved,
    test_the_claim_keeps_an_edited_reply_whose_complaint_moved_to_another_incident,
    test_unlinking_and_cancelling_keep_an_edited_incident_reply,
)
from tests.outreach.test_incidents_postgres import engine  # noqa: F401 (fixture: PostgreSQL at the head)

pytestmark = pytest.mark.postgres
