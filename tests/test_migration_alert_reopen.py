"""Migration 0011 (alerts reopened by a post): matches the models, upgrades a
database with an alert and a kept round in it (both NULL: never reopened), and
downgrades without losing a row of the tables that reference ``alerts``."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from tests.migration_helpers import database_at, schema_differences

T = datetime(2026, 3, 10, 14, 0)  # stored naive on SQLite, as UTCDateTime does


def test_0011_upgrades_an_older_database_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0010")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mentions (id, platform, external_id, brand, author_id, author_handle, author_followers,"
            " author_verified, text, addressed_handles, is_own, created_at, fetched_at)"
            " VALUES (1, 'x', '1', 'acme', 'a', 'ana', 4, 0, 'acme air lost my bag', '[]', 0, :t, :t)"), {"t": T})
        conn.execute(text(
            "INSERT INTO alerts (id, brand, platform, author_id, author_handle, thread_id, mention_id, last_mention_id,"
            " mention_count, rule, priority, priority_score, status, tags, opened_at, created_at, sla_due_at,"
            " last_mention_at, round) VALUES (1, 'acme', 'x', 'a', 'ana', '1', 1, 1, 1, 'complaint',"
            " 'P2', 0.5, 'resolved', '[]', :t, :t, :t, :t, 2)"), {"t": T})
        conn.execute(text("INSERT INTO alert_mentions (alert_id, mention_id) VALUES (1, 1)"))
        conn.execute(text(
            "INSERT INTO alert_rounds (alert_id, round, mention_id, opened_at, priority, sla_due_at,"
            " first_response_at, closed_at) VALUES (1, 1, 1, :t, 'P2', :t, :t, :t)"), {"t": T})
    upgrade(engine)
    assert current_revision(engine) >= "0011"
    assert schema_differences(engine, mentioning=("reopened_at", "resolved_at")) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT reopened_at FROM alerts")).scalar_one() is None
        assert conn.execute(text("SELECT resolved_at FROM alert_rounds")).scalar_one() is None

    command.downgrade(config, "0010")
    insp = inspect(engine)
    assert "reopened_at" not in {c["name"] for c in insp.get_columns("alerts")}
    assert "resolved_at" not in {c["name"] for c in insp.get_columns("alert_rounds")}
    with engine.connect() as conn:  # nothing cascaded away
        assert conn.execute(text("SELECT count(*) FROM alert_mentions")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM alert_rounds")).scalar_one() == 1
    engine.dispose()
