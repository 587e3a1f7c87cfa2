"""Migration 0004 (source usage, source_state.note): matches the models, and downgrades."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from brandpulse.db import make_engine, upgrade
from brandpulse.db.engine import alembic_config, current_revision
from tests.migration_helpers import schema_differences

MINE = ("source_usage", "source_state")


def test_0004_matches_the_models_and_downgrades(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert current_revision(engine) >= "0004"
    assert schema_differences(engine, mentioning=MINE) == []
    columns = {c["name"] for c in inspect(engine).get_columns("source_usage")}
    assert columns == {"source", "month", "polls", "posts_read", "users_read", "spend", "updated_at",
                       "posts_billed", "users_billed"}  # posts_billed, users_billed: 0012

    command.downgrade(alembic_config(engine), "0003")
    insp = inspect(engine)
    assert "source_usage" not in insp.get_table_names()
    assert "note" not in {c["name"] for c in insp.get_columns("source_state")}
    upgrade(engine)
    assert "note" in {c["name"] for c in inspect(engine).get_columns("source_state")}
    engine.dispose()
