"""Migration 0013 (data): incident replies drafted before brandpulse recorded
their incident get ``outbox.incident_id`` where one incident is certain."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alembic import command
from sqlalchemy import MetaData, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from tests.migration_helpers import database_at, schema_differences

T = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)
REPLY = "incident_reply"


def _seed(engine) -> dict[str, int]:
    """Two incidents and replies as the code before incident replies recorded
    their incident stored them (at 0012); returns outbox ids by case."""
    meta = MetaData()
    meta.reflect(engine)
    t = meta.tables
    with engine.begin() as conn:
        for incident_id, status in ((1, "cancelled"), (2, "investigating")):
            conn.execute(t["incidents"].insert().values(
                id=incident_id, brand="acme", title=f"Incident {incident_id}", components=[], keywords=["app"],
                status=status, opened_at=T, opened_by="dana", updated_at=T))
        for m in range(1, 10):
            conn.execute(t["mentions"].insert().values(
                id=m, platform="x", external_id=f"e{m}", brand="acme", author_id=f"a{m}", author_handle=f"u{m}",
                author_followers=0, author_verified=False, text="the app is down", addressed_handles=[],
                is_own=False, created_at=T, fetched_at=T))
        alert_tags = {2: [], 4: ["incident:1"], 9: ["incident:2"]}
        for alert_id, tags in alert_tags.items():
            conn.execute(t["alerts"].insert().values(
                id=alert_id, brand="acme", platform="x", author_id=f"a{alert_id}", author_handle=f"u{alert_id}",
                mention_id=alert_id, last_mention_id=alert_id, mention_count=1, rule="complaint", priority="P2",
                priority_score=0.5, status="open", tags=tags, opened_at=T, created_at=T, sla_due_at=T + timedelta(hours=6),
                last_mention_at=T))
        conn.execute(t["alert_mentions"].insert(), [{"alert_id": 2, "mention_id": 2}, {"alert_id": 2, "mention_id": 3},
                                                    {"alert_id": 4, "mention_id": 4}, {"alert_id": 9, "mention_id": 9}])
        conn.execute(t["incident_mentions"].insert(), [
            {"incident_id": 2, "mention_id": 1, "alert_id": None, "linked_at": T},  # on arrival: its reply is 2's
            {"incident_id": 2, "mention_id": 3, "alert_id": 2, "linked_at": T},  # the alert of mention 2's reply
            {"incident_id": 2, "mention_id": 4, "alert_id": 4, "linked_at": T},  # moved here from 1 (tag of 1 left)
            {"incident_id": 2, "mention_id": 5, "alert_id": None, "linked_at": T},
            {"incident_id": 1, "mention_id": 8, "alert_id": None, "linked_at": T},
        ])
        conn.execute(t["incident_unlinks"].insert(), [
            {"incident_id": 1, "mention_id": 7, "unlinked_at": T, "unlinked_by": "dana", "reason": "incident #1 cancelled"},
        ])
        conn.execute(t["mention_tags"].insert(), [{"mention_id": 1, "tag": "incident:2"},
                                                  {"mention_id": 4, "tag": "incident:2"}])
        cases = {"arrival": (1, None, REPLY, None), "by_alert": (2, 2, REPLY, None), "ambiguous": (4, 4, REPLY, None),
                 "redrafted": (5, None, REPLY, None), "nothing": (6, None, REPLY, None),
                 "unlinked": (7, None, REPLY, None), "ordinary": (8, None, "apology", None),
                 "recorded": (8, None, REPLY, 1), "tagged_alert": (9, 9, REPLY, None)}
        ids = {}
        for n, (case, (mention_id, alert_id, template, incident_id)) in enumerate(cases.items(), start=1):
            conn.execute(t["outbox"].insert().values(
                id=n, kind="reply", brand="acme", platform="x", mention_id=mention_id, alert_id=alert_id,
                template=template, incident_id=incident_id, text="Hi, we know about this", status="drafted",
                needs_approval=True, attempts=0, created_at=T, updated_at=T))
            ids[case] = n
        # Re-drafted for 1, then for 2 (its conversation is linked to 2 only now): 2's text.
        conn.execute(t["audit_events"].insert(), [
            {"at": T, "actor": "brandpulse", "action": "reply.redrafted", "entity_type": "outbox",
             "entity_id": str(ids["redrafted"]), "details": {"incident_id": 1, "reason": "linked when opened"}},
            {"at": T + timedelta(minutes=5), "actor": "brandpulse", "action": "reply.redrafted",
             "entity_type": "outbox", "entity_id": str(ids["redrafted"]),
             "details": {"incident_id": 2, "reason": "status thread posted"}},
        ])
    return ids


def _incident_ids(engine) -> dict[int, int | None]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, incident_id FROM outbox")).all())


def test_0013_fills_the_incident_of_replies_where_it_is_certain_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0012")
    ids = _seed(engine)
    upgrade(engine)
    assert current_revision(engine) >= "0013"
    assert schema_differences(engine, mentioning=("outbox",)) == []
    expected = {
        "arrival": 2,  # its mention's link (and tag)
        "by_alert": 2,  # its alert's link
        "ambiguous": None,  # linked to 2, tagged from 1: which incident's text it has is not certain
        "redrafted": 2,  # the latest re-draft, though 1 re-drafted it before
        "nothing": None,
        "unlinked": 1,  # unlinked from the cancelled 1 and nothing else
        "ordinary": None,  # not an incident reply
        "recorded": 1,  # recorded already: left as it is
        "tagged_alert": 2,  # its alert's incident:2 tag
    }
    assert {case: _incident_ids(engine)[i] for case, i in ids.items()} == expected

    command.downgrade(config, "0012")
    assert {case: _incident_ids(engine)[i] for case, i in ids.items()} == expected  # data only: the values stay
    upgrade(engine)  # again: nothing changes
    assert {case: _incident_ids(engine)[i] for case, i in ids.items()} == expected
    engine.dispose()
