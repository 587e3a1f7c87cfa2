"""Bulk inserts for the hot path (a poll's mentions, scores, alerts, drafts, audit).

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

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import sqltypes
from sqlalchemy.sql.elements import Null
from sqlalchemy.orm import Session

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
    if columns is None:
        columns = tuple(rows[0].keys())  # type: ignore[union-attr]
        try:
            rows = [tuple([row[c] for c in columns]) for row in rows]  # type: ignore[index]
        except KeyError as exc:
            raise ValueError(f"insert into {table.name}: a row has no value for column {exc.args[0]!r}"
                             f" (every row needs the first row's keys: {', '.join(columns)})") from None
    else:
        columns = tuple(columns)
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _insert_sqlite(session, dialect, table, columns, rows, tuple(returning),  # type: ignore[arg-type]
                              tuple(on_conflict_do_nothing) if on_conflict_do_nothing is not None else None)
    return _insert_core(session, dialect, table, columns, rows, tuple(returning), on_conflict_do_nothing)  # type: ignore[arg-type]


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
    unknown = [c for c in (*columns, *returning, *(conflict or ())) if c not in plan.converters]
    if unknown:
        raise ValueError(f"insert into {table.name}: no column(s) {', '.join(map(repr, unknown))}")
    width = len(columns)
    if any(len(row) != width for row in rows):
        raise ValueError(f"insert into {table.name}: every row needs {width} values ({', '.join(columns)})")
    n = len(rows)
    data: list[Sequence[Any]] = list(zip(*rows))
    names = list(columns)
    for name, fill in plan.defaults.items():
        if name not in columns:
            names.append(name)
            data.append([fill() for _ in range(n)])
    for i, name in enumerate(names):
        convert = plan.converters[name]
        if convert is not None:
            data[i] = _convert_column(data[i], convert)
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
    processors = [plan.result_processors[c] for c in returning]
    if any(p is not None for p in processors):
        out = [tuple([p(v) if p is not None else v for p, v in zip(processors, row)]) for row in out]
    return out


def _variable_limit(dbapi_connection: Any) -> int:
    try:
        return dbapi_connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except (AttributeError, sqlite3.Error):  # Python < 3.11
        return _FALLBACK_VARIABLE_LIMIT


# -- other databases: SQLAlchemy Core ---------------------------------------


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
    if any(len(row) != len(columns) for row in rows):
        raise ValueError(f"insert into {table.name}: every row needs {len(columns)} values ({', '.join(columns)})")
    result = session.execute(stmt, [dict(zip(columns, row)) for row in rows])
    return [tuple(row) for row in result] if returning else []

