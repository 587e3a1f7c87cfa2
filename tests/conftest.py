"""Shared fixtures: a migrated SQLite database on disk, a fake clock, a small
valid configuration to build on, and a fresh PostgreSQL schema for the tests
that also run there (skipped with the reason when the server does not
answer). No test touches the network."""

from __future__ import annotations

import copy
import os
import secrets
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import sessionmaker

from brandpulse.clock import FakeClock
from brandpulse.config import Settings, parse_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import Base

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
PG_URL = os.environ.get("BRANDPULSE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

BASE_CONFIG: dict[str, Any] = {
    "brands": [
        {
            "id": "acme",
            "name": "Acme Air",
            "accounts": {"x": ["AcmeAir", "AcmeHelp"], "reddit": ["AcmeAir_Team"]},
            "query": {"keywords": ["acme air", "acmeair"], "exclude": ["road runner"], "subreddits": ["travel"]},
            "vocabulary": {"negative": ["delayed", "lost bag"], "urgent": ["stranded"]},
        }
    ],
    "templates": {
        "apology": {"text": "Hi @{{ author.handle }}, sorry about this. We're on it: DM us your booking ref."},
        "thanks": {"text": "Thank you @{{ author.handle }}!"},
    },
    "rules": [
        {"name": "complaint", "when": {"label": ["negative"]}, "then": {"alert": {"priority": "auto"}, "draft": "apology"}},
    ],
}


def settings_and_database(tmp_path: Path, sources: list[dict[str, Any]]) -> tuple[Settings, Engine, sessionmaker]:
    """BASE_CONFIG with ``sources`` and its data under ``tmp_path``; its
    database brought to the head by the real migrations (the test disposes of
    the engine) and sessions on it."""
    data = copy.deepcopy(BASE_CONFIG)
    data["data_dir"] = str(tmp_path / "data")
    data["sources"] = sources
    settings = parse_settings(data, path=tmp_path / "brandpulse.yaml")
    engine = make_engine(settings.effective_database_url())
    upgrade(engine)
    return settings, engine, session_factory(engine)


def listening_pollers(settings: Settings, Session: sessionmaker, clock: FakeClock, x: Any, reddit: Any,
                      monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The real pollers and pipeline of ``settings``' sources on ``clock``,
    reading the fake X and Reddit (their credentials in the environment,
    @AcmeAir known to the fake X for the mentions endpoint)."""
    from brandpulse.pipeline import Pipeline
    from brandpulse.wiring import build_pollers
    from tests.fakes import listening_env

    x.add_user("AcmeAir")
    for name, value in listening_env(x, reddit).items():
        monkeypatch.setenv(name, value)
    return build_pollers(settings, Session=Session, clock=clock, pipeline=Pipeline(settings))


@pytest.fixture
def config_dict() -> dict[str, Any]:
    return copy.deepcopy(BASE_CONFIG)


@pytest.fixture
def settings(tmp_path: Path, config_dict: dict[str, Any]) -> Settings:
    config_dict.setdefault("data_dir", str(tmp_path / "data"))
    return parse_settings(config_dict, path=tmp_path / "brandpulse.yaml")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def no_sleeping(monkeypatch):
    """Fail the test if anything calls time.sleep (tweepy's and prawcore's
    waits included). Modules opt in: pytestmark = pytest.mark.usefixtures("no_sleeping")."""
    monkeypatch.setattr(time, "sleep", lambda s: (_ for _ in ()).throw(AssertionError(f"slept {s}s")))


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory) -> Path:
    """One database file brought to the head revision by the real migrations,
    once per session; each test gets its own copy of it."""
    path = tmp_path_factory.mktemp("schema") / "migrated.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    eng.dispose()
    return path


@pytest.fixture
def engine(tmp_path: Path, migrated_db: Path):
    target = tmp_path / "test.db"
    shutil.copyfile(migrated_db, target)
    eng = make_engine(f"sqlite:///{target}")
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine):
    return session_factory(engine)


# -- PostgreSQL ----------------------------------------------------------------


@pytest.fixture
def pg_engine(request):
    """An engine on a fresh, empty PostgreSQL schema of its own (named after
    the test module, e.g. bp_test_alerts_1a2b3c4d; search_path set to it),
    dropped after the test. Skips with the reason when psycopg is missing or
    the server at PG_URL does not answer."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install -e '.[test]')")
    module = request.module.__name__.rpartition(".")[2]
    schema = f"bp_{module[:40]}_{secrets.token_hex(4)}"  # PostgreSQL names stop at 63 bytes
    admin = make_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {str(exc.orig).strip()}")
    eng = make_engine(PG_URL, connect_args={"connect_timeout": 3, "options": f"-csearch_path={schema}"})
    try:
        yield eng
    finally:
        eng.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_Session(pg_engine):
    """Sessions on pg_engine, its tables created from the models' metadata. A
    module that needs the real migrations or seed rows defines its own
    pg_Session on pg_engine."""
    Base.metadata.create_all(pg_engine)
    return session_factory(pg_engine)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_Session(request):
    """The test's Session fixture (SQLite), then its pg_Session (PostgreSQL)."""
    return request.getfixturevalue("Session" if request.param == "sqlite" else "pg_Session")
