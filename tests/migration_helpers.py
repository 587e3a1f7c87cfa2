"""Helpers for migration tests."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from brandpulse.db import make_engine
from brandpulse.db.engine import alembic_config
from brandpulse.db.models import Base


def database_at(tmp_path, revision: str) -> tuple[Engine, Config]:
    """A fresh SQLite database under ``tmp_path`` migrated up to ``revision``
    (the one before the migration under test), with its Alembic config for
    the test's later downgrade."""
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    config = alembic_config(engine)
    command.upgrade(config, revision)
    return engine, config


def schema_differences(engine, *, mentioning: tuple[str, ...]) -> list:
    """Alembic's differences between the database and the models, limited to
    the operations whose description mentions one of ``mentioning`` (the
    tables or columns the migration under test is about)."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat = [op for diff in diffs for op in (diff if isinstance(diff, list) else [diff])]
    return [op for op in flat if any(name in repr(op) for name in mentioning)]
