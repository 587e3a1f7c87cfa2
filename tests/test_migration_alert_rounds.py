"""Migration 0009 (alert rounds): matches the models, upgrades a database with
alerts in it (each in its first round, its first response where it was), and
downgrades without losing a row of the tables that reference ``alerts``."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from tests.migration_helpers import database_at, insert_alerted_complaint, schema_differences

T = datetime(2026, 3, 10, 14, 0)  # stored naive on SQLite, as UTCDateTime does


def test_0009_upgrades_an_older_database_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0008")
    with engine.begin() as conn:
        insert_alerted_complaint(conn, T, status="open", first_response_at=T)
    upgrade(engine)
    assert current_revision(engine) >= "0009"
    assert schema_differences(engine, mentioning=("alert",)) == []
    with engine.connect() as conn:
        row = conn.execute(text("SELECT round, round_opened_at, round_mention_id, first_response_at FROM alerts")).one()
        assert tuple(row)[:3] == (1, None, None) and row.first_response_at is not None
    assert inspect(engine).get_pk_constraint("alert_rounds")["constrained_columns"] == ["alert_id", "round"]

    command.downgrade(config, "0008")
    insp = inspect(engine)
    assert "alert_rounds" not in insp.get_table_names()
    assert "round" not in {c["name"] for c in insp.get_columns("alerts")}
    with engine.connect() as conn:  # nothing cascaded away
        assert conn.execute(text("SELECT count(*) FROM alert_mentions")).scalar_one() == 1
    engine.dispose()
