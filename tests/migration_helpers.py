"""Helpers for migration tests."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from brandpulse.db.models import Base


def schema_differences(engine, *, mentioning: tuple[str, ...]) -> list:
    """Alembic's differences between the database and the models, limited to
    the operations whose description mentions one of ``mentioning`` (the
    tables or columns the migration under test is about)."""
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    flat = [op for diff in diffs for op in (diff if isinstance(diff, list) else [diff])]
    return [op for op in flat if any(name in repr(op) for name in mentioning)]
