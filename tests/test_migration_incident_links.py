"""Migration 0007 (incident link details, incident_unlinks): matches the
models, fills ``how`` of the links made before it, and downgrades."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import current_revision
from brandpulse.db.models import Base
from tests.migration_helpers import database_at, schema_differences

MINE = ("incident_mentions", "incident_unlinks")
T = datetime(2026, 3, 10, 14, 0, tzinfo=timezone.utc)



def _seed(conn) -> None:
    """An incident opened at T, one complaint linked when it opened, one later (as 0006 stored them)."""
    tables = Base.metadata.tables
    conn.execute(tables["incidents"].insert().values(
        id=1, brand="acme", title="App down", components=["app"], keywords=["app"], status="investigating",
        opened_at=T, opened_by="dana", updated_at=T))
    for mention_id, minutes in ((1, -30), (2, 10)):
        at = T + timedelta(minutes=minutes)
        conn.execute(tables["mentions"].insert().values(
            id=mention_id, platform="x", external_id=f"e{mention_id}", brand="acme", author_id="a",
            author_handle="ana", text="the app is down", created_at=at, fetched_at=at))
    links = tables["incident_mentions"]
    conn.execute(links.insert(), [
        {"incident_id": 1, "mention_id": 1, "linked_at": T},
        {"incident_id": 1, "mention_id": 2, "linked_at": T + timedelta(minutes=10)},
    ])


def test_0007_matches_the_models_fills_how_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0006")
    with engine.begin() as conn:
        _seed(conn)
    upgrade(engine)
    assert current_revision(engine) >= "0007"
    assert schema_differences(engine, mentioning=MINE) == []
    insp = inspect(engine)
    assert {"how", "keywords", "linked_by"} <= {c["name"] for c in insp.get_columns("incident_mentions")}
    assert insp.get_pk_constraint("incident_unlinks")["constrained_columns"] == ["incident_id", "mention_id"]
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT mention_id, how, keywords FROM incident_mentions ORDER BY mention_id")).all()
    assert [tuple(r) for r in rows] == [(1, "opening", None), (2, "arrival", None)]

    command.downgrade(config, "0006")
    insp = inspect(engine)
    assert "incident_unlinks" not in insp.get_table_names()
    assert "how" not in {c["name"] for c in insp.get_columns("incident_mentions")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM incident_mentions")).scalar_one() == 2  # the links stay
    upgrade(engine)
    assert "incident_unlinks" in inspect(engine).get_table_names()
    engine.dispose()
