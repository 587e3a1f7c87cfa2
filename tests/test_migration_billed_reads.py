"""Migration 0012 (billed_reads, source_usage.posts_billed / users_billed):
matches the models, existing usage keeps its reads as billed, downgrades."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from tests.migration_helpers import database_at, schema_differences


def test_0012_matches_the_models_keeps_existing_usage_billed_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0011")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO source_usage (source, month, polls, posts_read, users_read, spend)"
                          " VALUES ('x-search', '2026-03', 4, 400, 120, 3.2)"))
    upgrade(engine)
    assert schema_differences(engine, mentioning=("billed_reads", "posts_billed", "users_billed")) == []
    insp = inspect(engine)
    assert insp.get_pk_constraint("billed_reads")["constrained_columns"] == ["platform", "day", "kind", "resource_id"]
    with engine.connect() as conn:
        # Its spend was estimated with every read billed: so are its billed counts.
        assert conn.execute(text("SELECT posts_billed, users_billed, spend FROM source_usage")).one() == (400, 120, 3.2)

    command.downgrade(config, "0011")
    insp = inspect(engine)
    assert "billed_reads" not in insp.get_table_names()
    assert {c["name"] for c in insp.get_columns("source_usage")} >= {"posts_read", "users_read", "spend"}
    assert not {"posts_billed", "users_billed"} & {c["name"] for c in insp.get_columns("source_usage")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT posts_read FROM source_usage")).scalar_one() == 400
    upgrade(engine)
    assert "billed_reads" in inspect(engine).get_table_names()
    engine.dispose()
