"""Shared fixtures: a migrated SQLite database on disk, a fake clock, and a
small valid configuration to build on. No test touches the network."""

from __future__ import annotations

import copy
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from brandpulse.clock import FakeClock
from brandpulse.config import Settings, parse_settings
from brandpulse.db import make_engine, session_factory, upgrade

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)

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
