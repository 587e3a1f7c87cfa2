"""Migration 0006 (send_waits): matches the model, and downgrades."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from brandpulse.db import make_engine, upgrade
from brandpulse.db.engine import alembic_config, current_revision
from tests.migration_helpers import schema_differences



def test_0006_matches_the_model_and_downgrades(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    assert current_revision(engine) >= "0006"
    assert schema_differences(engine, mentioning=("send_waits",)) == []
    insp = inspect(engine)
    assert {c["name"] for c in insp.get_columns("send_waits")} == {
        "platform", "identity", "until", "account", "reason", "updated_at", "accounts"}  # accounts: 0010
    assert insp.get_pk_constraint("send_waits")["constrained_columns"] == ["platform", "identity"]

    command.downgrade(alembic_config(engine), "0005")
    assert "send_waits" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "send_waits" in inspect(engine).get_table_names()
    engine.dispose()
