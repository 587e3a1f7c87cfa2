"""Helpers for migration tests."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

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


def insert_alerted_complaint(conn: Connection, at: datetime, **alert_columns) -> None:
    """Mention 1 (ana's complaint on X, ``at``) and alert 1 opened by it
    (rule complaint, P2), in alert_mentions too, inserted as plain SQL so
    that it works at an older revision than the models'. ``alert_columns``:
    the alert's status and the columns of its revision, e.g. ``round=2``."""
    conn.execute(text(
        "INSERT INTO mentions (id, platform, external_id, brand, author_id, author_handle, author_followers,"
        " author_verified, text, addressed_handles, is_own, created_at, fetched_at)"
        " VALUES (1, 'x', '1', 'acme', 'a', 'ana', 4, 0, 'acme air lost my bag', '[]', 0, :t, :t)"), {"t": at})
    names = ", ".join(alert_columns)
    values = ", ".join(f":{name}" for name in alert_columns)
    conn.execute(text(
        "INSERT INTO alerts (id, brand, platform, author_id, author_handle, thread_id, mention_id, last_mention_id,"
        " mention_count, rule, priority, priority_score, tags, opened_at, created_at, sla_due_at, last_mention_at,"
        f" {names}) VALUES (1, 'acme', 'x', 'a', 'ana', '1', 1, 1, 1, 'complaint', 'P2', 0.5, '[]', :t, :t, :t, :t,"
        f" {values})"), {"t": at, **alert_columns})
    conn.execute(text("INSERT INTO alert_mentions (alert_id, mention_id) VALUES (1, 1)"))
