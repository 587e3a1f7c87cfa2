"""Every revision's downgrade, then the upgrade back to head, on a database
that holds data (incidents, their links and unlinks, alerts, replies, audit
events), on SQLite and PostgreSQL: nothing the older schema can hold is lost,
and the schema ends as the models describe it. Migration 0013's data backfill
runs on PostgreSQL as on SQLite."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from brandpulse.db import upgrade
from brandpulse.db.engine import MIGRATIONS, alembic_config, current_revision
from brandpulse.db.models import Base
from tests.migration_helpers import database_at
from tests.test_migration_incident_reply_ids import _incident_ids, _seed

REVISIONS = sorted(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))  # a linear chain
HEAD = REVISIONS[-1]
# The tables each revision introduced (rows in them go with a downgrade below it).
INTRODUCED = {"incidents": "0003", "incident_mentions": "0003", "incident_unlinks": "0007"}
KEPT = ("mentions", "alerts", "alert_mentions", "mention_tags", "outbox", "audit_events",
        "incidents", "incident_mentions", "incident_unlinks")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded(request, tmp_path):
    """A database at head holding _seed's rows, with its Alembic config."""
    if request.param == "sqlite":
        engine, config = database_at(tmp_path, "head")
    else:
        engine = request.getfixturevalue("pg_engine")
        config = alembic_config(engine)
        command.upgrade(config, "head")
    _seed(engine)
    yield engine, config
    engine.dispose()


def _counts(engine) -> dict[str, int]:
    tables = set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in KEPT if t in tables}


def _model_differences(engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), Base.metadata)


def test_each_downgrade_and_each_upgrade_keeps_the_rows(seeded):
    """Down one revision at a time to 0001, then up one at a time to head:
    every migration runs both ways with rows in the tables it changes."""
    engine, config = seeded
    before = _counts(engine)

    def kept_at(revision: str) -> dict[str, int]:
        return {t: n for t, n in before.items() if INTRODUCED.get(t, "0001") <= revision}

    def check(revision: str) -> None:
        assert current_revision(engine) == revision
        tables = set(inspect(engine).get_table_names())
        assert not {t for t in tables if t.startswith("_alembic_tmp")}, f"a batch copy was left behind at {revision}"
        assert {t: n for t, n in _counts(engine).items() if t in kept_at(revision)} == kept_at(revision), revision

    for target in reversed(REVISIONS[:-1]):
        command.downgrade(config, target)
        check(target)
    for target in REVISIONS[1:]:
        command.upgrade(config, target)
        # What the downgrade below 0003 (0007) dropped stays dropped: compare with what 0001 kept.
        assert {t: n for t, n in _counts(engine).items() if t in kept_at("0001")} == kept_at("0001"), target
        assert current_revision(engine) == target
        assert not {t for t in inspect(engine).get_table_names() if t.startswith("_alembic_tmp")}, target
    assert _model_differences(engine) == []


@pytest.mark.postgres
def test_0013_backfill_on_postgresql(pg_engine):
    config = alembic_config(pg_engine)
    command.upgrade(config, "0012")
    ids = _seed(pg_engine)
    upgrade(pg_engine)
    assert current_revision(pg_engine) == HEAD
    filled = _incident_ids(pg_engine)
    assert {case: filled[i] for case, i in ids.items()} == {
        "arrival": 2, "by_alert": 2, "ambiguous": None, "redrafted": 2, "nothing": None,
        "unlinked": 1, "ordinary": None, "recorded": 1, "tagged_alert": 2,
    }
