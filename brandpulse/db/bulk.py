"""Bulk statements for the hot path (a poll's mentions, scores, alerts, drafts, audit).

``insert_rows(session, table, rows, ...)`` inserts many rows into a Core
``Table`` in the session's transaction, optionally skipping rows that conflict
on a unique key (``on_conflict_do_nothing``) and returning columns of the rows
it inserted (``returning``). It stores exactly what ``session.execute(insert(
table), rows)`` would store (tests/test_db_bulk.py compares the two, value by
value), at a fraction of the cost on SQLite:

* SQLAlchemy Core processes each value of each row on its own (bind
  processors, the ``UTCDateTime`` type decorator, parameter construction):
  about 30 µs for a mention row. Here each column's values are converted in
  one pass with the converter its type needs, decided once per table:
  SQLAlchemy's own bind processor for that type and dialect, except for
  ``UTCDateTime``, whose SQLite text form ("2026-03-10 09:00:00.000000", UTC,
  the format SQLAlchemy's SQLite ``DateTime`` stores and reads back) is made by
  one C call, and JSON, encoded by ``json.dumps``'s own C encoder built once
  instead of per value. Both are checked against SQLAlchemy's processor when
  the table's plan is built; if they ever differ, SQLAlchemy's processor is
  used. Columns left out get their Python-side ``default``, as Core would
  give them.
* The statement is plain SQL with positional parameters, run on the
  session's connection (same transaction; SQLAlchemy's execution events and
  echo logging still see it): ``executemany`` when nothing is returned;
  multi-row ``VALUES`` with ``RETURNING`` in chunks under SQLite's variable
  limit when ids are needed. Result columns go through SQLAlchemy's result
  processors. RETURNING order is not the VALUES order: callers map returned
  rows back by their values (e.g. platform + external id).

On any other database (PostgreSQL) it runs the Core statement
(``insert(table)``, ``ON CONFLICT DO NOTHING`` from the dialect, RETURNING),
so behaviour there is SQLAlchemy's own.

``update_rows`` (one executemany UPDATE by key) and ``select_by_keys`` (the
rows matching many composite keys) work the same way: plain SQL with converted
values on SQLite, Core elsewhere.

Rows are mappings (column name → value; every row has the first row's keys),
or tuples in the order of ``columns``.
"""

from __future__ import annotations

import json
import sqlite3
import weakref
from datetime import datetime, timezone
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Callable, Iterable, Mapping, Sequence

from sqlalchemy import Table, and_, bindparam, insert, select, tuple_, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import Null

from brandpulse.db.models import UTCDateTime

_MAX_ROWS_PER_STATEMENT = 500  # multi-row VALUES: rows per INSERT ... RETURNING
_FALLBACK_VARIABLE_LIMIT = 999  # SQLite before 3.32, when the connection cannot tell

Converter = Callable[[Any], Any]


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    *,
    columns: Sequence[str] | None = None,
    returning: Sequence[str] = (),
    on_conflict_do_nothing: Sequence[str] | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` into ``table`` in the session's transaction.

    ``columns``: the column of each position when rows are tuples (default:
    rows are mappings with the first row's keys). ``returning``: column names
    to return, one tuple per inserted row, in no particular order.
    ``on_conflict_do_nothing``: the columns of a unique key; rows that would
    violate it are skipped (and not returned). Returns ``[]`` when nothing is
    returned."""
    if not rows:
        return []
    columns, tuples = _as_tuples(table, rows, columns, "insert into")
    _check_columns(table, (*columns, *returning, *(on_conflict_do_nothing or ())), "insert into")
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _insert_sqlite(session, dialect, table, columns, tuples, tuple(returning),
                              tuple(on_conflict_do_nothing) if on_conflict_do_nothing is not None else None)
    return _insert_core(session, dialect, table, columns, tuples, tuple(returning), on_conflict_do_nothing)


def update_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    *,
    key: Sequence[str],
    columns: Sequence[str] | None = None,
    increment: Sequence[str] = (),
) -> None:
    """``UPDATE table SET ... WHERE <key columns> = ...`` once per row, as one
    executemany in the session's transaction.

    Each row gives the key columns' values and the new values of the other
    columns it names; a column in ``increment`` is added to (``c = c + ?``),
    so concurrent increments are not lost. Rows as in :func:`insert_rows`."""
    if not rows:
        return
    columns, tuples = _as_tuples(table, rows, columns, "update")
    _check_columns(table, (*columns, *key), "update")
    missing = [k for k in (*key, *increment) if k not in columns]
    if missing:
        raise ValueError(f"update {table.name}: rows give no value for {', '.join(map(repr, missing))}")
    set_columns = [c for c in columns if c not in key]
    if not set_columns:
        raise ValueError(f"update {table.name}: nothing to set (only the key {', '.join(key)})")
    order = [*set_columns, *key]
    position = {c: i for i, c in enumerate(columns)}
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        plan = _plan_for(table, dialect)
        data = [_converted(plan, c, [row[position[c]] for row in tuples]) for c in order]
        quote = dialect.identifier_preparer.quote
        assignments = ", ".join(
            f"{quote(c)} = {quote(c)} + ?" if c in increment else f"{quote(c)} = ?" for c in set_columns
        )
        where = " AND ".join(f"{quote(k)} = ?" for k in key)
        session.connection().exec_driver_sql(
            f"UPDATE {quote(table.name)} SET {assignments} WHERE {where}", list(zip(*data))
        )
        return
    stmt = (
        update(table)
        .where(and_(*[table.c[k] == bindparam(f"k_{k}") for k in key]))
        .values({c: (table.c[c] + bindparam(f"v_{c}")) if c in increment else bindparam(f"v_{c}") for c in set_columns})
    )
    names = {c: (f"k_{c}" if c in key else f"v_{c}") for c in columns}
    session.execute(stmt, [{names[c]: v for c, v in zip(columns, row)} for row in tuples])


def select_by_keys(
    session: Session,
    table: Table,
    columns: Sequence[str],
    *,
    key: Sequence[str],
    keys: Iterable[Sequence[Any]],
    where_in: Mapping[str, Sequence[Any]] | None = None,
    order_by: str | None = None,
    for_update: bool = False,
    chunk: int = 300,
) -> list[tuple[Any, ...]]:
    """The rows of ``table`` whose ``key`` columns equal one of ``keys`` (and
    whose ``where_in`` columns hold one of the values given), ``columns`` of
    each, read back through their column types, ordered by ``order_by``
    within each chunk of ``chunk`` keys. ``for_update``: lock the rows read
    (``FOR UPDATE`` on PostgreSQL; SQLite lets one writer in at a time anyway).
    Like an ORM query, it flushes the session's pending changes first (when the
    session autoflushes).

    On SQLite: the keys as a ``VALUES`` table joined to ``table`` (so an index
    on the key columns is searched, once per key), in plain SQL: SQLAlchemy
    renders an IN list of a few hundred tuples in about as long as SQLite takes
    to run it several times. Elsewhere: ``tuple_(...).in_(...)``."""
    keys = [tuple(k) for k in keys]
    if not keys:
        return []
    where_in = dict(where_in or {})
    _check_columns(table, (*columns, *key, *where_in, *([order_by] if order_by else [])), "select from")
    if any(len(k) != len(key) for k in keys):
        raise ValueError(f"select from {table.name}: every key needs {len(key)} values ({', '.join(key)})")
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    dialect = session.get_bind().dialect
    out: list[tuple[Any, ...]] = []
    if dialect.name != "sqlite":
        for start in range(0, len(keys), chunk):
            stmt = select(*[table.c[c] for c in columns]).where(
                tuple_(*[table.c[k] for k in key]).in_(keys[start : start + chunk]),
                *[table.c[c].in_(list(values)) for c, values in where_in.items()],
            )
            if order_by:
                stmt = stmt.order_by(table.c[order_by])
            if for_update:
                stmt = stmt.with_for_update(of=table)
            out.extend(tuple(row) for row in session.execute(stmt))
        return out
    plan = _plan_for(table, dialect)
    quote = dialect.identifier_preparer.quote
    filters = [f"t.{quote(k)} = k.column{i + 1}" for i, k in enumerate(key)]
    extra: list[Any] = []
    for c, values in where_in.items():
        values = list(values)
        filters.append(f"t.{quote(c)} IN ({', '.join('?' * len(values))})" if values else "0")
        extra.extend(_converted(plan, c, values))
    row_sql = "(" + ", ".join("?" * len(key)) + ")"
    key_data = list(zip(*[_converted(plan, k, [kv[i] for kv in keys]) for i, k in enumerate(key)]))
    connection = session.connection()
    for start in range(0, len(keys), chunk):
        part = key_data[start : start + chunk]
        sql = (
            f"SELECT {', '.join(f't.{quote(c)}' for c in columns)} FROM (VALUES {', '.join([row_sql] * len(part))}) AS k"
            f" JOIN {quote(table.name)} AS t ON {' AND '.join(filters)}"
            + (f" ORDER BY t.{quote(order_by)}" if order_by else "")
        )
        params = tuple([v for kv in part for v in kv]) + tuple(extra)
        out.extend(map(tuple, connection.exec_driver_sql(sql, params)))
    return _processed(plan, columns, out)


def _as_tuples(table: Table, rows, columns, verb: str) -> tuple[tuple[str, ...], Sequence[Sequence[Any]]]:
    if columns is None:
        columns = tuple(rows[0].keys())
        try:
            return columns, [tuple([row[c] for c in columns]) for row in rows]
        except KeyError as exc:
            raise ValueError(f"{verb} {table.name}: a row has no value for column {exc.args[0]!r}"
                             f" (every row needs the first row's keys: {', '.join(columns)})") from None
    columns = tuple(columns)
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"{verb} {table.name}: every row needs {width} values ({', '.join(columns)})")
    return columns, rows


def _check_columns(table: Table, names: Iterable[str], verb: str) -> None:
    unknown = [c for c in dict.fromkeys(names) if c not in table.c]
    if unknown:
        raise ValueError(f"{verb} {table.name}: no column(s) {', '.join(map(repr, unknown))}")


# -- SQLite ----------------------------------------------------------------


def utc_text(value: datetime | None) -> str | None:
    """A ``UTCDateTime`` value as SQLite stores it: UTC, without a zone,
    "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's SQLite DateTime format)."""
    if value is None:
        return None
    tz = value.tzinfo
    if tz is None:
        raise ValueError(f"naive datetime given to a UTC column: {value!r}")
    if tz is not timezone.utc:
        value = value.astimezone(timezone.utc)
    return value.isoformat(" ", "microseconds")[:-6]  # without "+00:00"


_UTC_SAMPLES = (
    datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc),
    datetime(2026, 3, 10, 9, 0, 5, 120034, tzinfo=timezone.utc),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=timezone.utc),
)


class _Plan:
    """How to insert into one table on one dialect: a converter per column
    (None: the value goes as it is) and the Python-side defaults."""

    __slots__ = ("table", "converters", "defaults", "result_processors")

    def __init__(self, table: Table, dialect: Dialect) -> None:
        self.table = table
        self.converters: dict[str, Converter | None] = {}
        self.defaults: dict[str, Callable[[], Any]] = {}
        self.result_processors: dict[str, Converter | None] = {}
        for column in table.columns:
            self.converters[column.name] = _converter(column.type, dialect)
            self.result_processors[column.name] = column.type.dialect_impl(dialect).result_processor(dialect, None)
            default = column.default
            if default is None:
                continue
            if default.is_scalar:
                value = default.arg
                self.defaults[column.name] = lambda value=value: value
            elif default.is_callable:
                fn = default.arg
                self.defaults[column.name] = lambda fn=fn: fn(None)  # SQLAlchemy wraps plain callables to take a context
            # SQL-expression and sequence defaults are left to the database (none on these tables).


_JSON_SAMPLES = (
    None, [], ["acmeair", "Ünïcode ✈️"], {"id": "1", "text": 'a "quoted" \\ line\n', "n": [1, 2.5, -0.0, 1e300, None, True]},
    {"nested": {"deep": [{"x": float("nan")}, float("inf")]}}, "plain", 3,
)


def _json_encoder(type_: sqltypes.JSON, dialect: Dialect, processor: Converter) -> Converter:
    """``json.dumps`` with its default arguments (what SQLAlchemy's JSON type
    calls when the engine has no ``json_serializer``) without rebuilding the C
    encoder for every value, which costs more than encoding a short list."""
    if c_make_encoder is None or getattr(dialect, "_json_serializer", None) is not None:
        return processor
    default = json.JSONEncoder().default
    encode = c_make_encoder(None, default, encode_basestring_ascii, None, ": ", ", ", False, False, True)
    none = None if type_.none_as_null else "null"
    sql_null = type_.NULL

    def convert(value: Any) -> Any:
        if value is None:
            return none
        if value is sql_null or isinstance(value, Null):
            return processor(value)
        if type(value) is str:
            return encode_basestring_ascii(value)
        return "".join(encode(value, 0))

    return convert


def _bool_checker(processor: Converter) -> Converter:
    """Booleans go as they are (the driver stores True as 1); anything else
    through SQLAlchemy's processor, which refuses what is not a boolean."""

    def convert(value: Any) -> Any:
        return value if value is True or value is False or value is None else processor(value)

    return convert


def _converter(type_, dialect: Dialect) -> Converter | None:
    """The fastest converter that gives what SQLAlchemy's bind processor gives
    (checked on samples; SQLAlchemy's own processor when they differ)."""
    processor = type_.dialect_impl(dialect).bind_processor(dialect)
    if processor is None:
        return None
    if isinstance(type_, UTCDateTime):
        fast, samples = utc_text, _UTC_SAMPLES
    elif isinstance(type_, sqltypes.JSON):
        fast, samples = _json_encoder(type_, dialect, processor), _JSON_SAMPLES
    elif isinstance(type_, sqltypes.Boolean):
        fast, samples = _bool_checker(processor), (True, False, None, 0, 1)
    else:
        return processor
    if all(fast(v) == processor(v) for v in samples):
        return fast
    return processor


def _plan_for(table: Table, dialect: Dialect) -> _Plan:
    # Per dialect instance (an engine's JSON serializer lives on its dialect),
    # forgotten with it.
    plans = _PLANS.get(dialect)
    if plans is None:
        plans = _PLANS[dialect] = {}
    plan = plans.get(table)
    if plan is None:
        plan = plans[table] = _Plan(table, dialect)
    return plan


# Memo of derived, immutable data: what to do with each table's columns.
_PLANS: "weakref.WeakKeyDictionary[Dialect, dict[Table, _Plan]]" = weakref.WeakKeyDictionary()


def _converted(plan: _Plan, column: str, values: Sequence[Any]) -> Sequence[Any]:
    convert = plan.converters[column]
    return values if convert is None else _convert_column(values, convert)


def _convert_column(values: Iterable[Any], convert: Converter) -> list[Any]:
    out = []
    last_in: Any = object()
    last_out: Any = None
    for value in values:
        if value is not last_in:  # the same object again (e.g. ``now`` in every row): converted once
            last_in, last_out = value, convert(value)
        out.append(last_out)
    return out


def _insert_sqlite(
    session: Session,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...],
    conflict: tuple[str, ...] | None,
) -> list[tuple[Any, ...]]:
    plan = _plan_for(table, dialect)
    n = len(rows)
    data: list[Sequence[Any]] = list(zip(*rows))
    names = list(columns)
    for name, fill in plan.defaults.items():
        if name not in columns:
            names.append(name)
            data.append([fill() for _ in range(n)])
    data = [_converted(plan, name, values) for name, values in zip(names, data)]
    params = list(zip(*data))

    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in names)}) VALUES "
    tail = f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) DO NOTHING" if conflict is not None else ""
    placeholder = "(" + ", ".join("?" * len(names)) + ")"

    connection = session.connection()
    if not returning:
        connection.exec_driver_sql(head + placeholder + tail, params)  # executemany
        return []
    tail += f" RETURNING {', '.join(quote(c) for c in returning)}"
    limit = _variable_limit(connection.connection.driver_connection)
    per_statement = max(1, min(_MAX_ROWS_PER_STATEMENT, limit // len(names)))
    out: list[tuple[Any, ...]] = []
    for start in range(0, n, per_statement):
        chunk = params[start : start + per_statement]
        flat = tuple([value for row in chunk for value in row])
        out.extend(map(tuple, connection.exec_driver_sql(head + ", ".join([placeholder] * len(chunk)) + tail, flat)))
    return _processed(plan, returning, out)


def _processed(plan: _Plan, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Result rows with each column read back through its type (e.g. aware datetimes)."""
    processors = [plan.result_processors[c] for c in columns]
    if any(p is not None for p in processors):
        rows = [tuple([p(v) if p is not None else v for p, v in zip(processors, row)]) for row in rows]
    return rows


def _variable_limit(dbapi_connection: Any) -> int:
    try:
        return dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):  # Python < 3.11
        return _FALLBACK_VARIABLE_LIMIT


# -- other databases: SQLAlchemy Core ---------------------------------------


def dialect_insert(table: Table, dialect: str):
    """``INSERT INTO table`` in ``dialect``'s own form, which has ``on_conflict_do_update`` /
    ``on_conflict_do_nothing`` (an upsert). SQLite and PostgreSQL only: another dialect is
    refused by name."""
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(table)
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    raise NotImplementedError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")


def _insert_core(
    session: Session,
    dialect: Dialect,
    table: Table,
    columns: tuple[str, ...],
    rows: Sequence[Sequence[Any]],
    returning: tuple[str, ...],
    conflict: Sequence[str] | None,
) -> list[tuple[Any, ...]]:
    if conflict is not None:
        if dialect.name != "postgresql":
            raise NotImplementedError(f"database dialect {dialect.name!r} is not supported (use SQLite or PostgreSQL)")
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    else:
        stmt = insert(table)
    if returning:
        stmt = stmt.returning(*[table.c[c] for c in returning])
    result = session.execute(stmt, [dict(zip(columns, row)) for row in rows])
    return [tuple(row) for row in result] if returning else []

