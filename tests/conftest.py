"""Shared fixtures: a migrated SQLite database on disk, a fake clock, and a
small valid configuration to build on. No test touches the network."""

from __future__ import annotations

import copy
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


@pytest.fixture
def engine(tmp_path: Path):
    eng = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def Session(engine):
    return session_factory(engine)
