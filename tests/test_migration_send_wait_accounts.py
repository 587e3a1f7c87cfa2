"""Migration 0010 (send_waits.accounts): matches the model, keeps a wait
recorded before it (NULL accounts: the digest holds the answered account's
posts only), and downgrades without losing the wait."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from alembic import command
from sqlalchemy import inspect, text

from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.engine import current_revision
from outreach.outbox import current_waits
from tests.migration_helpers import database_at, schema_differences

T = datetime(2026, 3, 10, 14, 0)  # stored naive on SQLite, as UTCDateTime does


def test_0010_upgrades_a_database_with_a_wait_and_downgrades(tmp_path):
    engine, config = database_at(tmp_path, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO send_waits (platform, identity, until, account, reason, updated_at)"
                          " VALUES ('x', 'X_ACCESS_TOKEN', :until, 'AcmeAir', '429', :t)"),
                     {"until": T + timedelta(minutes=10), "t": T})
    upgrade(engine)
    assert current_revision(engine) >= "0010"
    assert schema_differences(engine, mentioning=("send_waits",)) == []
    with session_factory(engine)() as s:
        [wait] = current_waits(s, now=T.replace(tzinfo=timezone.utc))
    assert (wait.identity, wait.account, wait.accounts) == ("X_ACCESS_TOKEN", "AcmeAir", None)
    assert wait.holds("x", "@acmeair") and not wait.holds("x", "AcmeHelp") and not wait.holds("x", None)

    command.downgrade(config, "0009")
    insp = inspect(engine)
    assert "accounts" not in {c["name"] for c in insp.get_columns("send_waits")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT account FROM send_waits")).scalar_one() == "AcmeAir"
    engine.dispose()


def test_0010_from_an_empty_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    upgrade(engine)
    assert "accounts" in {c["name"] for c in inspect(engine).get_columns("send_waits")}
    assert schema_differences(engine, mentioning=("send_waits",)) == []
    engine.dispose()
