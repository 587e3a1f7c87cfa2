"""Migration 0006 (send_waits): matches the model, and downgrades."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from brandpulse.db import make_engine, upgrade
from brandpulse.db.engine import alembic_config, current_revision
from brandpulse.db.models import Base


def _differences(engine) -> list:
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat = [op for diff in diffs for op in (diff if isinstance(diff, list) else [diff])]
    return [op for op in flat if "send_waits" in repr(op)]


def test_0006_matches_the_model_and_downgrades(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert current_revision(engine) >= "0006"
    assert _differences(engine) == []
    insp = inspect(engine)
    assert {c["name"] for c in insp.get_columns("send_waits")} == {
        "platform", "identity", "until", "account", "reason", "updated_at"}
    assert insp.get_pk_constraint("send_waits")["constrained_columns"] == ["platform", "identity"]

    command.downgrade(alembic_config(engine), "0005")
    assert "send_waits" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "send_waits" in inspect(engine).get_table_names()
    engine.dispose()
