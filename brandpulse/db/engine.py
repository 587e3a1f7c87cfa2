"""Engines, sessions and schema upgrades."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine. SQLite files get WAL mode, foreign keys and a busy
    timeout; the parent directory is created if missing."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


# pg_advisory_xact_lock(MIGRATION_LOCK, hashtext(current_schema())): one
# migration run per schema at a time.
MIGRATION_LOCK = 0x62706D67  # "bpmg"


def lock_out_other_migrations(connection) -> None:
    """Begin the migration transaction holding the database's migration lock,
    so that a second process waits for the first to finish and then finds the
    schema up to date. PostgreSQL: a transaction-level advisory lock (DDL is
    transactional there). SQLite: ``BEGIN IMMEDIATE``, the write lock, held
    to the end of the run (waits up to the busy timeout), which also makes
    the run all or nothing. Released by the commit or rollback."""
    from sqlalchemy import text

    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(current_schema()))"),
                           {"key": MIGRATION_LOCK})
    elif dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class SchemaError(Exception):
    """The database's schema is one this brandpulse cannot use or move to."""


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (idempotent). A database at a
    revision these migrations do not know (migrated by a newer brandpulse)
    is a :class:`SchemaError` naming it, and is left as it is."""
    from alembic import command
    from alembic.script import ScriptDirectory

    config = alembic_config(engine)
    current = current_revision(engine)
    script = ScriptDirectory.from_config(config)  # read the migration scripts once
    head = script.get_current_head()
    if current is not None and current == head and revision in ("head", head):
        return  # up to date: no migration run, so no migration lock taken (SQLite: the write lock)
    if current is not None and not _in_scripts(script, current):
        raise SchemaError(
            f"the database {engine.url.render_as_string(hide_password=True)} is at schema revision {current},"
            f" which this brandpulse does not know (its newest is {head}): a newer brandpulse"
            " migrated it. Run that version, or restore a backup taken before the upgrade."
        )
    command.upgrade(config, revision)


def known_revision(config, revision: str) -> bool:
    from alembic.script import ScriptDirectory

    return _in_scripts(ScriptDirectory.from_config(config), revision)


def _in_scripts(script, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:  # alembic's ResolutionError
        return False


def head_revision(config) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head()


def revisions_below(config, revision: str) -> set[str]:
    """The revisions a database at ``revision`` has passed (``revision`` left out)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(config)
    return {r.revision for r in script.iterate_revisions(revision, "base")} - {revision}


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
