"""brandpulse.db.bulk: the hot path's inserts store exactly what SQLAlchemy
Core stores, read back the same through the ORM, skip conflicts, return ids,
and stay in the caller's transaction; on SQLite and on PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select
from sqlalchemy.dialects import sqlite

from brandpulse.db import bulk, make_engine, session_factory
from brandpulse.db.bulk import insert_rows, select_by_keys, update_rows, utc_text
from brandpulse.db.models import (
    AlertMentionRow,
    AlertRow,
    AuditRow,
    MentionRow,
    MentionTagRow,
    OutboxRow,
    ScoreRow,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)
PARIS = ZoneInfo("Europe/Paris")

MENTIONS = MentionRow.__table__


def mention(i: int, **over) -> dict:
    row = {
        "platform": "x", "external_id": str(1000 + i), "brand": "acme", "source": "test",
        "author_id": f"u{i}", "author_handle": f"user{i}", "author_name": None if i % 2 else f"Ütest {i}",
        "author_followers": i * 10, "author_verified": bool(i % 2), "text": f"post {i} ✈️ “quoted”",
        "title": None, "community": None, "lang": "en", "url": None, "thread_id": f"t{i % 3}",
        "reply_to_id": None, "quoted_id": None, "addressed_handles": ["acmeair"] if i % 2 else [],
        "is_own": i == 3,
        # an aware datetime in another zone is stored as UTC; microseconds kept
        "created_at": (T0 + timedelta(seconds=i, microseconds=i * 7)).astimezone(PARIS),
        "fetched_at": T0 + timedelta(hours=1),
        "raw": None if i % 3 == 0 else {"id": str(1000 + i), "text": f"post {i} ✈️", "nested": {"n": [1, 2.5, None]}},
    }
    row.update(over)
    return row


@pytest.fixture
def two_Sessions(tmp_path: Path, migrated_db: Path):
    """Two copies of the migrated database: one written by Core, one by bulk."""
    engines = []
    for name in ("core", "bulk"):
        target = tmp_path / f"{name}.db"
        shutil.copyfile(migrated_db, target)
        engines.append(make_engine(f"sqlite:///{target}"))
    yield [session_factory(e) for e in engines]
    for e in engines:
        e.dispose()


def raw_rows(session, table) -> list[tuple]:
    """The values as SQLite holds them (text, integers, reals, NULLs), with their types."""
    cols = ", ".join(f"{c.name}, typeof({c.name})" for c in table.columns)
    order = ", ".join(c.name for c in table.primary_key.columns)
    return session.connection().exec_driver_sql(f"SELECT {cols} FROM {table.name} ORDER BY {order}").fetchall()


def hot_path_rows(*, non_finite: bool = True) -> list[tuple]:
    """(table, rows) in insertion order, covering every hot-path table, Nones,
    JSON None, other time zones, booleans, and columns left to their defaults.
    ``non_finite``: a JSON value with NaN and infinity (SQLite keeps them as
    json.dumps writes them; PostgreSQL refuses them)."""
    defaulted = ("author_followers", "addressed_handles", "is_own")  # left out: their defaults apply
    return [
        (MENTIONS, [{k: v for k, v in mention(i).items() if k not in defaulted} for i in (1, 2)]),
        (MENTIONS, [mention(i) for i in range(3, 8)]),
        (ScoreRow.__table__, [{"mention_id": i, "analyzer": "vader", "version": "3.3.2", "compound": -0.5 + i / 10,
                               "label": "negative", "lang": None if i % 2 else "en", "scored_at": T0} for i in range(1, 8)]),
        (MentionTagRow.__table__, [{"mention_id": i, "tag": t} for i in range(1, 4) for t in ("a", "b")]),
        (AlertRow.__table__, [{"brand": "acme", "platform": "x", "author_id": f"u{i}", "author_handle": f"user{i}",
                               "thread_id": None if i == 2 else f"t{i}", "mention_id": i, "last_mention_id": i,
                               "rule": "complaint", "priority": "P2", "priority_score": 0.61, "status": "open",
                               "tags": ["x", "ü"] if i % 2 else [], "opened_at": T0.astimezone(PARIS),
                               "created_at": T0, "sla_due_at": T0 + timedelta(hours=4), "last_mention_at": T0}
                              for i in range(1, 4)]),
        (AlertMentionRow.__table__, [{"alert_id": 1, "mention_id": 1}, {"alert_id": 1, "mention_id": 2}]),
        (AuditRow.__table__, [{"at": T0, "actor": "brandpulse", "action": "alert.opened", "entity_type": "alert",
                               "entity_id": "1", "details": {"rule": "complaint", "score": 0.25}},
                              {"at": T0, "actor": "brandpulse", "action": "x", "entity_type": "alert",
                               "entity_id": "2", "details": None},
                              {"at": T0, "actor": "brandpulse", "action": "y", "entity_type": "alert", "entity_id": "3",
                               "details": {"odd": [float("nan"), float("inf"), -0.0, "\\\"", True] if non_finite else []}}]),
        (OutboxRow.__table__, [{"brand": "acme", "platform": "x", "alert_id": 1, "mention_id": 1, "in_reply_to": "1001",
                                "account": "AcmeAir", "template": "apology", "text": "Sorry @user1", "status": "drafted",
                                "needs_approval": True, "hold_reason": None, "hold_code": None, "waived": None,
                                "approved_by": None, "approved_at": None, "created_at": T0, "updated_at": T0},
                               {"brand": "acme", "platform": "x", "alert_id": None, "mention_id": 2, "in_reply_to": "1002",
                                "account": None, "template": "thanks", "text": "Thanks", "status": "approved",
                                "needs_approval": False, "hold_reason": None, "hold_code": None, "waived": ["cooldown"],
                                "approved_by": "policy", "approved_at": T0, "created_at": T0, "updated_at": T0}]),
    ]


def test_stores_exactly_what_sqlalchemy_core_stores(two_Sessions):
    core, fast = two_Sessions
    for table, rows in hot_path_rows():
        with core.begin() as s:
            s.execute(insert(table), rows)
        with fast.begin() as s:
            insert_rows(s, table, rows)
    for table, _ in hot_path_rows():
        with core() as a, fast() as b:
            expected, got = raw_rows(a, table), raw_rows(b, table)
            assert got == expected, table.name
            assert expected  # the comparison compared something


def test_orm_reads_back_aware_utc_datetimes_and_json(Session):
    rows = [mention(1), mention(3)]
    with Session.begin() as s:
        ids = dict((e, i) for i, e in insert_rows(s, MENTIONS, rows, returning=("id", "external_id")))
    with Session() as s:
        m = s.get(MentionRow, ids["1001"])
        assert m.created_at == T0 + timedelta(seconds=1, microseconds=7)
        assert m.created_at.tzinfo == timezone.utc
        assert m.raw == {"id": "1001", "text": "post 1 ✈️", "nested": {"n": [1, 2.5, None]}}
        assert m.addressed_handles == ["acmeair"] and m.author_verified is True and m.is_own is False
        assert s.get(MentionRow, ids["1003"]).raw is None


def test_conflicting_rows_are_skipped_and_only_inserted_rows_returned(Session):
    with Session.begin() as s:
        first = insert_rows(s, MENTIONS, [mention(1), mention(2)], returning=("id", "external_id"),
                            on_conflict_do_nothing=("platform", "external_id"))
    with Session.begin() as s:
        again = insert_rows(s, MENTIONS, [mention(2, text="changed"), mention(3)], returning=("id", "external_id"),
                            on_conflict_do_nothing=("platform", "external_id"))
    assert sorted(e for _, e in first) == ["1001", "1002"]
    assert [e for _, e in again] == ["1003"]
    with Session() as s:
        assert s.scalar(select(MentionRow.text).where(MentionRow.external_id == "1002")) == mention(2)["text"]
        assert s.scalar(select(MentionRow.id).where(MentionRow.external_id == "1003")) == again[0][0]


def test_many_rows_go_in_chunks_and_every_id_comes_back(Session, monkeypatch):
    monkeypatch.setattr(bulk, "_MAX_ROWS_PER_STATEMENT", 7)
    rows = [mention(i, external_id=f"c{i}") for i in range(50)]
    with Session.begin() as s:
        returned = insert_rows(s, MENTIONS, rows, returning=("id", "external_id", "created_at"),
                               on_conflict_do_nothing=("platform", "external_id"))
    assert sorted(e for _, e, _ in returned) == sorted(f"c{i}" for i in range(50))
    with Session() as s:
        stored = dict(s.execute(select(MentionRow.external_id, MentionRow.id)).all())
    assert {e: i for i, e, _ in returned} == stored
    # returned columns go through the column type (aware UTC datetimes)
    assert {e: c for _, e, c in returned}["c5"] == T0 + timedelta(seconds=5, microseconds=35)


def test_tuples_with_columns(Session):
    with Session.begin() as s:
        insert_rows(s, MENTIONS, [mention(1)])
        insert_rows(s, MentionTagRow.__table__, [(1, "x"), (1, "y")], columns=("mention_id", "tag"))
    with Session() as s:
        assert s.scalars(select(MentionTagRow.tag).order_by(MentionTagRow.tag)).all() == ["x", "y"]


def test_rolls_back_with_the_session(Session):
    with pytest.raises(RuntimeError):
        with Session.begin() as s:
            insert_rows(s, MENTIONS, [mention(1)])
            raise RuntimeError("crash mid-transaction")
    with Session() as s:
        assert s.scalar(select(MentionRow.id)) is None


def test_bad_rows_are_refused_with_the_reason(Session):
    with Session.begin() as s:
        with pytest.raises(ValueError, match="naive datetime"):
            insert_rows(s, MENTIONS, [mention(1, created_at=datetime(2026, 3, 10, 9, 0))])
        with pytest.raises(ValueError, match="'text'"):
            insert_rows(s, MENTIONS, [mention(1), {k: v for k, v in mention(2).items() if k != "text"}])
        with pytest.raises(ValueError, match="no column"):
            insert_rows(s, MENTIONS, [mention(1, colour="red")])
        with pytest.raises(TypeError):  # SQLAlchemy's Boolean refuses what is not a boolean
            insert_rows(s, MENTIONS, [mention(1, is_own="yes")])
        with pytest.raises(ValueError, match="2 values"):
            insert_rows(s, MentionTagRow.__table__, [(1, "x"), (1,)], columns=("mention_id", "tag"))


def test_utc_text_matches_sqlalchemy_for_any_zone_and_time():
    processor = MentionRow.__table__.c.created_at.type.dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    zones = [timezone.utc, PARIS, ZoneInfo("America/Los_Angeles"), ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3, minutes=-30))]
    values = [T0 + timedelta(days=d, seconds=s, microseconds=us) for d in (-400, 0, 200) for s in (0, 1, 86399) for us in (0, 1, 999999)]
    values.append(datetime(1, 1, 1, 12, tzinfo=timezone.utc))
    for value in values:
        for zone in zones:
            v = value.astimezone(zone) if value.year > 1 else value
            assert utc_text(v) == processor(v), v
    assert utc_text(None) is None


def seed_alerts(s) -> list[int]:
    for table, rows in hot_path_rows()[:2]:
        insert_rows(s, table, rows)
    alerts = hot_path_rows()[4][1]
    alerts += [dict(alerts[0], status="resolved"), dict(alerts[0], author_id="other", tags=[])]
    return [i for i, in sorted(insert_rows(s, AlertRow.__table__, alerts, returning=("id",)))]


def test_update_rows_sets_and_increments_by_key(any_Session):
    with any_Session.begin() as s:
        ids = seed_alerts(s)
        update_rows(s, AlertRow.__table__, [
            {"id": ids[0], "mention_count": 2, "priority": "P1", "sla_due_at": (T0 + timedelta(hours=1)).astimezone(PARIS),
             "tags": ["a", "b"]},
            {"id": ids[2], "mention_count": 5, "priority": "P3", "sla_due_at": T0, "tags": []},
        ], key=("id",), increment=("mention_count",))
    with any_Session() as s:
        first, untouched, third = (s.get(AlertRow, i) for i in ids[:3])
        assert (first.mention_count, first.priority, first.sla_due_at, first.tags) == (3, "P1", T0 + timedelta(hours=1), ["a", "b"])
        assert (third.mention_count, third.priority, third.sla_due_at, third.tags) == (6, "P3", T0, [])
        assert (untouched.mention_count, untouched.priority, untouched.tags) == (1, "P2", [])


def test_select_by_keys_reads_matching_rows_through_their_types(any_Session):
    with any_Session.begin() as s:
        ids = seed_alerts(s)
        rows = select_by_keys(
            s, AlertRow.__table__, ("id", "author_id", "opened_at", "tags", "thread_id"),
            key=("platform", "thread_id", "author_id"),
            keys=[("x", "t1", "u1"), ("x", "t3", "u3"), ("x", "t2", "nobody"), ("reddit", "t1", "u1"), ("x", "t1", "other")],
            where_in={"status": ("open", "acknowledged")}, order_by="id", for_update=True,
        )
    # the resolved copy of u1's alert and the unmatched keys are not read; a NULL thread never matches
    assert rows == [(ids[0], "u1", T0, ["x", "ü"], "t1"), (ids[2], "u3", T0, ["x", "ü"], "t3"), (ids[4], "other", T0, [], "t1")]
    with any_Session() as s:
        assert select_by_keys(s, AlertRow.__table__, ("id",), key=("id",), keys=[]) == []
        assert select_by_keys(s, AlertRow.__table__, ("id",), key=("id",), keys=[(ids[1],)], where_in={"status": []}) == []
        assert [r for r, in select_by_keys(s, AlertRow.__table__, ("id",), key=("id",), keys=[(i,) for i in ids], chunk=2,
                                           order_by="id")] == ids


def test_select_by_keys_searches_the_index_on_sqlite(Session, engine):
    from sqlalchemy import event

    captured = []

    def listener(conn, cursor, stmt, params, context, executemany):
        captured.append((stmt, params))

    with Session() as s:
        seed_alerts(s)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            select_by_keys(s, AlertRow.__table__, ("id",), key=("platform", "thread_id", "author_id"),
                           keys=[("x", "t1", "u1")], where_in={"status": ("open",)})
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        (stmt, params), = captured
        plan = " ".join(str(r[-1]) for r in s.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + stmt, params))
    assert "ix_alerts_thread_author" in plan, plan


def test_select_by_keys_sees_pending_orm_changes(Session):
    with Session() as s:
        s.add(MentionRow(**mention(1)))
        assert select_by_keys(s, MENTIONS, ("external_id",), key=("platform", "external_id"), keys=[("x", "1001")]) == [("1001",)]


# -- PostgreSQL: the Core path -------------------------------------------------


@pytest.mark.postgres
def test_postgresql_stores_reads_back_skips_conflicts_and_returns_ids(pg_Session):
    with pg_Session.begin() as s:
        for table, rows in hot_path_rows(non_finite=False):
            insert_rows(s, table, rows)
        first = insert_rows(s, MENTIONS, [mention(8), mention(9)], returning=("id", "external_id"),
                            on_conflict_do_nothing=("platform", "external_id"))
        again = insert_rows(s, MENTIONS, [mention(9), mention(10)], returning=("id", "external_id"),
                            on_conflict_do_nothing=("platform", "external_id"))
    assert sorted(e for _, e in first) == ["1008", "1009"] and [e for _, e in again] == ["1010"]
    with pg_Session() as s:
        by_external = dict(s.execute(select(MentionRow.external_id, MentionRow.id)).all())
        assert {e: i for i, e in first + again} == {e: by_external[e] for e in ("1008", "1009", "1010")}
        m = s.get(MentionRow, by_external["1001"])
        assert m.created_at == T0 + timedelta(seconds=1, microseconds=7) and m.author_followers == 0
        assert m.addressed_handles == [] and m.is_own is False
        assert s.get(MentionRow, by_external["1004"]).raw["nested"] == {"n": [1, 2.5, None]}
        assert s.scalar(select(OutboxRow.waived).where(OutboxRow.template == "thanks")) == ["cooldown"]
        assert s.scalar(select(AuditRow.details).where(AuditRow.entity_id == "1")) == {"rule": "complaint", "score": 0.25}


def test_dialect_insert_is_the_dialects_own_upsert_and_names_an_unsupported_dialect():
    from sqlalchemy.dialects import postgresql

    from brandpulse.db.bulk import dialect_insert
    from brandpulse.db.models import CommunityRow

    table = CommunityRow.__table__
    assert isinstance(dialect_insert(table, "sqlite"), sqlite.Insert)
    assert isinstance(dialect_insert(table, "postgresql"), postgresql.Insert)
    with pytest.raises(NotImplementedError, match="'mysql' is not supported"):
        dialect_insert(table, "mysql")
