"""Migration 0011 (alerts reopened by a post): matches the models, upgrades a
database with an alert and a kept round in it (both NULL: never reopened), and
downgrades without losing a row of the tables that reference ``alerts``."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from tests.migration_helpers import database_at, insert_alerted_complaint, schema_differences

T = datetime(2026, 3, 10, 14, 0)  # stored naive on SQLite, as UTCDateTime does


def test_0011_upgrades_an_older_database_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0010")
    with engine.begin() as conn:
        insert_alerted_complaint(conn, T, status="resolved", round=2)
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
