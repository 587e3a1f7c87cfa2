"""Replay source: recorded mentions from a JSONL file, released by their
timestamps against an injected clock, so a demo or a backtest behaves like a
live network (nothing appears before its time; each poll brings what was
posted since the previous one).

One JSON object per line::

    {"platform": "x", "id": "1899…", "created_at": "2026-03-10T08:15:03Z",
     "author": {"id": "…", "handle": "jane", "name": "Jane", "followers": 340, "verified": false},
     "text": "…", "lang": "en", "conversation_id": "…", "in_reply_to_id": null,
     "quoted_id": null, "url": "https://…", "subreddit": null, "title": null}

A Reddit submission may also give ``"subreddit_subscribers"`` (the subreddit's
members, as Reddit's listing does): Reddit has no followers, so that is its
reach; an author's ``followers`` on Reddit is not used.

Only mentions that match the brand's query (keywords, exclusions), and the
later posts of the conversations they started, are released, as a live
search would. The cursor is the (created_at, id) key of the last mention released, so a
restart continues exactly where the stored cursor says. A malformed line is
reported with its line number and skipped; the rest of the file still replays.
"""

from __future__ import annotations

import bisect
import dataclasses
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from brandpulse.clock import utc
from brandpulse.types import Author, FetchResult, Mention
from listener.query import QueryMatcher

log = logging.getLogger(__name__)

_HANDLE = {"x": re.compile(r"(?<![\w@])@(\w{1,15})"), "reddit": re.compile(r"(?<![\w/])u/([\w-]{3,20})")}


class ReplayFileError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class BadLine:
    line: int
    problem: str


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"created_at must be an ISO 8601 string, got {value!r}")
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def parse_record(record: Any, *, brand: str, handles_by_id: dict[str, str] | None = None) -> Mention:
    """Turn one recorded JSON object into a Mention. Raises ValueError naming the problem."""
    if not isinstance(record, dict):
        raise ValueError("expected a JSON object")
    missing = [k for k in ("platform", "id", "created_at", "author", "text") if record.get(k) in (None, "")]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    author = record["author"]
    if not isinstance(author, dict) or not author.get("id") or not author.get("handle"):
        raise ValueError("author needs at least an id and a handle")
    platform = str(record["platform"])
    text = str(record["text"])
    addressed = set()
    pattern = _HANDLE.get(platform)
    if pattern:
        addressed.update(h.lower() for h in pattern.findall(text))
    for ref in ("in_reply_to_id", "quoted_id"):
        ref_id = record.get(ref)
        if ref_id and handles_by_id and ref_id in handles_by_id:
            addressed.add(handles_by_id[ref_id].lower())
    return Mention(
        platform=platform,
        external_id=str(record["id"]),
        brand=brand,
        author=Author(
            platform=platform,
            id=str(author["id"]),
            handle=str(author["handle"]),
            name=author.get("name"),
            followers=int(author.get("followers") or 0),
            verified=bool(author.get("verified", False)),
        ),
        text=text,
        created_at=_parse_time(record["created_at"]),
        lang=record.get("lang"),
        url=record.get("url"),
        thread_id=record.get("conversation_id"),
        reply_to_id=record.get("in_reply_to_id"),
        quoted_id=record.get("quoted_id"),
        title=record.get("title"),
        community=record.get("subreddit"),
        community_members=_count(record.get("subreddit_subscribers")),
        addressed_handles=tuple(sorted(addressed)),
        raw=record,
    )


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"subreddit_subscribers is not a count: {value!r}")
    return value


def load_replay_file(path: Path, *, brand: str) -> tuple[list[Mention], list[BadLine]]:
    """All mentions of a file, sorted by (created_at, id), and the lines that were not."""
    if not path.exists():
        raise ReplayFileError(f"{path}: replay file not found")
    records: list[tuple[int, Any]] = []
    bad: list[BadLine] = []
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append((lineno, json.loads(line)))
            except json.JSONDecodeError as exc:
                bad.append(BadLine(lineno, f"invalid JSON: {exc.msg} at column {exc.colno}"))
    handles_by_id = {
        str(r["id"]): str(r["author"]["handle"])
        for _, r in records
        if isinstance(r, dict) and r.get("id") and isinstance(r.get("author"), dict) and r["author"].get("handle")
    }
    mentions: list[Mention] = []
    for lineno, record in records:
        try:
            mentions.append(parse_record(record, brand=brand, handles_by_id=handles_by_id))
        except (ValueError, TypeError) as exc:
            bad.append(BadLine(lineno, str(exc)))
    for b in bad:
        log.warning("%s:%d: skipped: %s", path, b.line, b.problem)
    mentions.sort(key=lambda m: (m.created_at, m.external_id))
    return mentions, bad


def _matching(mentions: list[Mention], query: QueryMatcher) -> list[Mention]:
    """Like a live search, a replay brings only what the brand's query asks
    for, plus the later posts of a conversation it already brought (a reply
    in a thread about the brand rarely repeats the brand's name)."""
    kept, threads = [], set()
    for m in mentions:  # in time order
        thread = (m.platform, m.thread_id) if m.thread_id else None
        if query.matches(m.text, title=m.title, community=m.community) or (thread is not None and thread in threads):
            kept.append(m)
            if thread is not None:
                threads.add(thread)
    return kept


def _key(m: Mention) -> tuple[str, str]:
    return (m.created_at.isoformat(), m.external_id)


class ReplaySource:
    """Releases recorded mentions whose time has come. See the module docstring."""

    kind = "replay"

    def __init__(
        self, *, name: str, brand: str, path: Path, batch_limit: int | None = None, query: QueryMatcher | None = None
    ) -> None:
        self.name = name
        self.brand = brand
        self.path = Path(path)
        self.batch_limit = batch_limit
        mentions, self.bad_lines = load_replay_file(self.path, brand=brand)
        self._mentions = mentions if query is None else _matching(mentions, query)
        self.filtered_out = len(mentions) - len(self._mentions)
        self._keys = [_key(m) for m in self._mentions]

    @property
    def first_time(self) -> datetime | None:
        return self._mentions[0].created_at if self._mentions else None

    @property
    def last_time(self) -> datetime | None:
        return self._mentions[-1].created_at if self._mentions else None

    def __len__(self) -> int:
        return len(self._mentions)

    @property
    def mentions(self) -> tuple[Mention, ...]:
        """Every recorded mention the query keeps, oldest first, as shifted."""
        return tuple(self._mentions)

    def shift(self, offset: timedelta) -> None:
        """Move every recorded post by ``offset`` (e.g. so that a recorded day
        ends now). Ids are kept, so stored cursors keep their meaning only for
        the same offset: shift before the first poll."""
        self._mentions = [dataclasses.replace(m, created_at=m.created_at + offset) for m in self._mentions]
        self._keys = [_key(m) for m in self._mentions]

    def exhausted(self, cursor: dict[str, Any]) -> bool:
        """True when every recorded mention has been released under ``cursor``."""
        return self._start_index(cursor) >= len(self._mentions)

    def _start_index(self, cursor: dict[str, Any]) -> int:
        after = cursor.get("after")
        if not after:
            return 0
        return bisect.bisect_right(self._keys, (after[0], after[1]))

    def fetch(self, cursor: dict[str, Any], *, now: datetime) -> FetchResult:
        start = self._start_index(cursor)
        # everything posted at or before `now`
        end = bisect.bisect_right(self._keys, (now.isoformat(), "\uffff"), lo=start)
        if self.batch_limit is not None:
            end = min(end, start + self.batch_limit)
        batch = self._mentions[start:end]
        new_cursor = {"after": list(_key(batch[-1]))} if batch else dict(cursor)
        return FetchResult(mentions=batch, cursor=new_cursor, posts_read=len(batch))
