"""Application wiring: one object that holds what a command needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from brandpulse.clock import Clock, SystemClock
from brandpulse.config import Settings, load_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.resources import demo_config_path

DEMO_CONFIG = demo_config_path()
CONFIG_ENV = "BRANDPULSE_CONFIG"


def default_config_path() -> Path:
    """``./brandpulse.yaml`` when there is one, else the bundled demo configuration."""
    local = Path.cwd() / "brandpulse.yaml"
    return local if local.exists() else DEMO_CONFIG


@dataclass
class App:
    settings: Settings
    engine: Engine
    Session: sessionmaker[Session]
    clock: Clock

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> "App":
        engine = make_engine(settings.effective_database_url())
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, Session=session_factory(engine), clock=clock or SystemClock())

    @classmethod
    def from_file(cls, path: Path | str, **kwargs) -> "App":
        return cls.open(load_settings(path), **kwargs)

    def close(self) -> None:
        self.engine.dispose()
