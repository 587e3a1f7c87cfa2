"""Two processes that start together (replicas of `brandpulse run`, a command
typed during a deployment) each bring the schema up to date: one migration
run at a time, the second finding the schema the first made, on SQLite and
PostgreSQL. Before, the second created the tables the first had just created
and stopped with "table ... already exists" (a traceback)."""

from __future__ import annotations

import multiprocessing

import pytest
from sqlalchemy import inspect, text

from brandpulse.db import make_engine, upgrade
from brandpulse.db.engine import MIGRATIONS, current_revision

HEAD = max(p.name[:4] for p in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
LOCK_STATEMENTS = ("pg_advisory_xact_lock", "BEGIN IMMEDIATE")
WAIT = 60  # seconds at most for any step: a hung test fails instead of hanging


def _upgrade_in_a_process(name, url, connect_args, first_paused, second_at_lock_or_done, go_on, results):
    """One process's start-up upgrade. The first pauses at its first CREATE
    TABLE until the second is waiting for the migration lock (or, without
    a lock, has finished)."""
    from sqlalchemy import event

    engine = make_engine(url, connect_args=connect_args)

    @event.listens_for(engine, "before_cursor_execute")
    def pace(conn, cursor, statement, parameters, context, executemany):
        if name == "first" and statement.lstrip().upper().startswith("CREATE TABLE") and not first_paused.is_set():
            first_paused.set()
            go_on.wait(WAIT)
        elif name == "second" and any(s in statement for s in LOCK_STATEMENTS):
            second_at_lock_or_done.set()

    try:
        if name == "second":
            first_paused.wait(WAIT)
        upgrade(engine)
        results.put((name, None))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        results.put((name, f"{type(exc).__name__}: {str(exc).splitlines()[0]}"))
    finally:
        if name == "second":
            second_at_lock_or_done.set()
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fresh_database(request, tmp_path):
    """(url, connect_args, engine) of an empty database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        engine = make_engine(url)
        yield url, {}, engine
        engine.dispose()
    else:
        engine = request.getfixturevalue("pg_engine")
        with engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        yield engine.url.render_as_string(hide_password=False), {"options": f"-csearch_path={schema}"}, engine


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method (POSIX)")
def test_a_second_upgrade_waits_for_the_first_and_finds_the_schema_made(fresh_database):
    url, connect_args, engine = fresh_database
    mp = multiprocessing.get_context("fork")  # POSIX; the children make their own engines
    first_paused, second_at_lock_or_done, go_on = mp.Event(), mp.Event(), mp.Event()
    results = mp.Queue()
    procs = [mp.Process(target=_upgrade_in_a_process,
                        args=(name, url, connect_args, first_paused, second_at_lock_or_done, go_on, results))
             for name in ("first", "second")]
    for p in procs:
        p.start()
    second_at_lock_or_done.wait(WAIT)
    go_on.set()
    outcomes = dict(results.get(timeout=WAIT * 2) for _ in procs)
    for p in procs:
        p.join(WAIT)
    assert outcomes == {"first": None, "second": None}
    assert current_revision(engine) == HEAD
    assert "outbox" in inspect(engine).get_table_names()


def test_an_up_to_date_sqlite_database_is_not_locked_for_a_migration_run(tmp_path):
    # Every command upgrades at start: on a database already at head it takes
    # no migration lock, so `alerts list` is not held up by (nor fails with
    # "database is locked" behind) a long write of `run` in another process.
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = make_engine(url)
    upgrade(engine)
    writer = make_engine(url)
    with writer.connect() as busy:
        busy.exec_driver_sql("BEGIN IMMEDIATE")  # another process is writing
        upgrade(make_engine(url))  # a migration run would wait for the write lock (10 s), then fail
        busy.rollback()
    assert current_revision(engine) == HEAD
    writer.dispose()
    engine.dispose()
