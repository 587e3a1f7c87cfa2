"""A database whose schema this brandpulse cannot use: one migrated by a
newer brandpulse (a revision this code does not know, as after rolling a
deployment back) stops every command with a message naming the revision
and what to do, not an Alembic traceback; `db upgrade --revision` to a
revision older than the database's says it never goes back instead of
'database at revision 0013' and exit 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from brandpulse.db import upgrade
from brandpulse.db.engine import MIGRATIONS, SchemaError, current_revision
from tests.cli_helpers import config_after_one_run, invoke, x_post

FUTURE = "0099"
HEAD = max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
POSTS = [x_post(1, "Acme Air lost my bag, terrible service", handle="sam", minutes=1)]


def _set_revision(engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    return config_after_one_run(tmp_path, monkeypatch, POSTS)


def _database(config: Path):
    from brandpulse.config import load_settings
    from brandpulse.db import make_engine
    return make_engine(load_settings(config).effective_database_url())


@pytest.mark.parametrize("args", [["alerts", "list"], ["run", "--once"], ["db", "upgrade"], ["digest"]])
def test_a_database_migrated_by_a_newer_brandpulse_is_named_not_a_traceback(config, args):
    engine = _database(config)
    _set_revision(engine, FUTURE)
    engine.dispose()
    result = invoke(config, *args, ok=False)
    assert result.exit_code == 2, result.output
    assert f"is at schema revision {FUTURE}, which this brandpulse does not know" in result.output
    assert "newer brandpulse" in result.output
    assert "Traceback" not in result.output and "--revision head" not in result.output


def test_db_upgrade_to_an_older_revision_says_it_never_goes_back(config):
    result = invoke(config, "db", "upgrade", "--revision", "0002", ok=False)
    assert result.exit_code == 2, result.output
    assert f"--revision 0002: the database is at {HEAD}, after 0002: upgrade never goes back" in result.output
    engine = _database(config)
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_db_upgrade_to_the_current_revision_is_fine(config):
    assert f"database at revision {HEAD}" in invoke(config, "db", "upgrade", "--revision", HEAD).output


@pytest.mark.postgres
def test_postgresql_database_at_an_unknown_revision(pg_engine):
    upgrade(pg_engine)
    _set_revision(pg_engine, FUTURE)
    with pytest.raises(SchemaError, match=f"schema revision {FUTURE}, which this brandpulse does not know"):
        upgrade(pg_engine)
    assert current_revision(pg_engine) == FUTURE  # left as it was


def test_db_current_says_the_revision_is_unknown(config):
    engine = _database(config)
    _set_revision(engine, FUTURE)
    engine.dispose()
    assert invoke(config, "db", "current").output.strip() == (
        f"{FUTURE} (unknown to this brandpulse, whose newest is {HEAD}: a newer brandpulse migrated it)")
