"""Replay semantics against a fake clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from listener.replay import ReplaySource, load_replay_file
from tests.conftest import T0


def _record(i: int, minutes: float, **extra) -> dict:
    rec = {
        "platform": "x",
        "id": str(1000 + i),
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "author": {"id": f"u{i}", "handle": f"user{i}", "name": None, "followers": 10 * i, "verified": False},
        "text": f"post {i} about @AcmeAir",
        "lang": "en",
        "conversation_id": str(1000 + i),
        "in_reply_to_id": None,
        "quoted_id": None,
        "url": None,
        "subreddit": None,
        "title": None,
    }
    rec.update(extra)
    return rec


def write_jsonl(path: Path, records: list, *, raw_lines: dict[int, str] | None = None) -> Path:
    lines = [json.dumps(r) for r in records]
    for index, text in (raw_lines or {}).items():
        lines.insert(index, text)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_releases_nothing_before_its_time_and_everything_after(tmp_path, clock):
    path = write_jsonl(tmp_path / "m.jsonl", [_record(i, 10 * i) for i in range(6)])
    source = ReplaySource(name="r", brand="acme", path=path)

    first = source.fetch({}, now=clock.now() - timedelta(seconds=1))
    assert first.mentions == [] and first.cursor == {}

    clock.advance(timedelta(minutes=25))  # posts at 0, 10, 20 min are due
    second = source.fetch(first.cursor, now=clock.now())
    assert [m.external_id for m in second.mentions] == ["1000", "1001", "1002"]
    assert second.posts_read == 3

    # Polling again at the same time brings nothing new, and keeps the cursor.
    again = source.fetch(second.cursor, now=clock.now())
    assert again.mentions == [] and again.cursor == second.cursor

    clock.advance(timedelta(hours=1))
    third = source.fetch(second.cursor, now=clock.now())
    assert [m.external_id for m in third.mentions] == ["1003", "1004", "1005"]
    assert source.exhausted(third.cursor)


def test_out_of_order_file_is_released_in_time_order(tmp_path, clock):
    path = write_jsonl(tmp_path / "m.jsonl", [_record(2, 20), _record(0, 0), _record(1, 10)])
    source = ReplaySource(name="r", brand="acme", path=path)
    result = source.fetch({}, now=clock.now() + timedelta(hours=1))
    assert [m.external_id for m in result.mentions] == ["1000", "1001", "1002"]


def test_restart_from_stored_cursor_neither_misses_nor_repeats(tmp_path, clock):
    # two posts share a timestamp: the cursor must tell them apart
    records = [_record(0, 0), _record(1, 5), _record(2, 5), _record(3, 9)]
    path = write_jsonl(tmp_path / "m.jsonl", records)
    a = ReplaySource(name="r", brand="acme", path=path, batch_limit=2)
    r1 = a.fetch({}, now=clock.now() + timedelta(minutes=30))
    assert [m.external_id for m in r1.mentions] == ["1000", "1001"]
    stored_cursor = json.loads(json.dumps(r1.cursor))  # as the database keeps it
    b = ReplaySource(name="r", brand="acme", path=path)  # a new process
    r2 = b.fetch(stored_cursor, now=clock.now() + timedelta(minutes=30))
    assert [m.external_id for m in r2.mentions] == ["1002", "1003"]


def test_converts_records_to_mentions(tmp_path, clock):
    records = [
        _record(0, 0, text="hello"),
        _record(1, 1, text="@AcmeAir where is my bag", in_reply_to_id="1000", conversation_id="1000"),
        _record(
            2, 2, platform="reddit", id="t1_abc", text="u/AcmeAir_Team any news?", lang=None,
            subreddit="travel", title=None, conversation_id="t3_xyz", in_reply_to_id="t3_xyz",
        ),
    ]
    source = ReplaySource(name="r", brand="acme", path=write_jsonl(tmp_path / "m.jsonl", records))
    ms = source.fetch({}, now=clock.now() + timedelta(hours=1)).mentions
    assert ms[0].addressed_handles == ()
    assert ms[1].addressed_handles == ("acmeair", "user0")  # @-mention and the author replied to
    assert ms[1].thread_id == "1000" and ms[1].reply_to_id == "1000"
    assert ms[1].created_at.tzinfo is not None and ms[1].brand == "acme"
    assert ms[2].platform == "reddit" and ms[2].community == "travel" and ms[2].addressed_handles == ("acmeair_team",)
    assert ms[2].author.followers == 20


def test_malformed_lines_are_reported_with_line_numbers_and_skipped(tmp_path, clock, caplog):
    records = [_record(0, 0), {"platform": "x", "id": "9"}, _record(1, 1, created_at="yesterday"),
               _record(2, 2, platform="reddit", subreddit="travel", subreddit_subscribers="1.2M"),
               _record(3, 3, platform="reddit", subreddit="travel", subreddit_subscribers=1_240_000)]
    path = write_jsonl(tmp_path / "m.jsonl", records, raw_lines={1: "{not json"})
    mentions, bad = load_replay_file(path, brand="acme")
    assert [m.external_id for m in mentions] == ["1000", "1003"]
    assert mentions[1].community_members == 1_240_000
    problems = {b.line: b.problem for b in bad}
    assert set(problems) == {2, 3, 4, 5}
    assert "invalid JSON" in problems[2]
    assert "missing created_at, author, text" in problems[3]
    assert "yesterday" in problems[4]
    assert problems[5] == "subreddit_subscribers is not a count: '1.2M'"
    assert f"{path}:2: skipped" in caplog.text


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="replay file not found"):
        ReplaySource(name="r", brand="acme", path=tmp_path / "nope.jsonl")


def test_shift_moves_the_recorded_day(tmp_path, clock):
    path = write_jsonl(tmp_path / "m.jsonl", [_record(0, 0), _record(1, 60)])
    source = ReplaySource(name="r", brand="acme", path=path)
    source.shift(timedelta(days=30))
    assert source.first_time == T0 + timedelta(days=30)
    assert source.fetch({}, now=T0 + timedelta(days=1)).mentions == []
    result = source.fetch({}, now=T0 + timedelta(days=30, minutes=1))
    assert [m.external_id for m in result.mentions] == ["1000"]
    assert result.mentions[0].created_at == T0 + timedelta(days=30)
