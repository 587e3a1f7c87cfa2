"""Migration 0008 (Reddit reach): matches the models, upgrades a database
with mentions in it (their count stays unknown), and downgrades without
losing a row of the tables that reference ``mentions``."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from tests.migration_helpers import database_at, schema_differences

T = datetime(2026, 3, 10, 14, 0)  # stored naive on SQLite, as UTCDateTime does


def test_0008_upgrades_an_older_database_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0007")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO mentions (id, platform, external_id, brand, author_id, author_handle, author_followers,"
            " author_verified, text, community, addressed_handles, is_own, created_at, fetched_at)"
            " VALUES (1, 'reddit', 't3_a', 'acme', 't2_a', 'ana', 4, 0, 'acme air lost my bag', 'travel', '[]', 0,"
            " :t, :t)"), {"t": T})
        conn.execute(text("INSERT INTO scores (mention_id, analyzer, version, compound, label, scored_at)"
                          " VALUES (1, 'vader', '1', -0.6, 'negative', :t)"), {"t": T})
    upgrade(engine)
    assert current_revision(engine) >= "0008"
    assert schema_differences(engine, mentioning=("communit",)) == []
    insp = inspect(engine)
    assert "community_members" in {c["name"] for c in insp.get_columns("mentions")}
    assert insp.get_pk_constraint("communities")["constrained_columns"] == ["platform", "name"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT community_members FROM mentions")).scalar_one() is None  # never read

    command.downgrade(config, "0007")
    insp = inspect(engine)
    assert "communities" not in insp.get_table_names()
    assert "community_members" not in {c["name"] for c in insp.get_columns("mentions")}
    with engine.connect() as conn:  # nothing cascaded away
        assert conn.execute(text("SELECT count(*) FROM mentions")).scalar_one() == 1
        assert conn.execute(text("SELECT count(*) FROM scores")).scalar_one() == 1
    engine.dispose()
