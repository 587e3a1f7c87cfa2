"""The poller: run one source once, store what it found.

One poll = fetch from the source (outside any transaction), let the batch
handler prepare (score) the mentions, then in ONE transaction: insert the
mentions that are new (the (platform, external_id) unique key makes
re-delivery harmless), let the handler act on the new ones, and save the new
cursor and the source's health. A crash anywhere leaves either all of it or
none of it, so nothing is lost and nothing is stored twice.

A source that fails is never allowed to take the scheduler down: rate limits
defer the source until the platform's reset time, transient errors back off
with jitter, permanent errors (bad credentials) mark it failing.

Cost: what each poll read is added to the source's usage for the UTC month
(``source_usage``) in the same transaction as its mentions. A source with a
monthly budget (:class:`listener.budget.SourceBudget`) is not polled once the
next poll could take the month's estimated spend over it: its status becomes
``over_budget`` with a note saying so, until the month ends or the budget is
raised.

X bills a post or user once per UTC day however often the app reads it, so a
source whose result lists the ids it read (``FetchResult.post_ids`` /
``user_ids``) has a read billed only when that resource is new that day for
the platform's app (``billed_reads``, shared by all its sources, pruned to
today and yesterday); a poll that straddles midnight bills a resource in both
days, which keeps the estimate an upper bound. The month's reads and billed
reads are kept side by side in ``source_usage``.
"""

from __future__ import annotations

import functools
import logging
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from time import perf_counter
from typing import Any, Callable, Protocol, Sequence

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from brandpulse import audit
from brandpulse.clock import Clock
from brandpulse.db.bulk import dialect_insert, insert_rows
from brandpulse.db.models import BilledReadRow, MentionRow, SourceStateRow, SourceUsageRow
from brandpulse.types import FetchResult, Mention
from listener.base import RateLimited, Source, SourceError
from listener.budget import SourceBudget, day_key, month_key, over_budget

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredMention:
    row_id: int
    mention: Mention
    index: int  # position in the fetched batch (to find its prepared data)


class BatchHandler(Protocol):
    """What happens to mentions after they are stored (the pipeline)."""

    def prepare(self, mentions: Sequence[Mention]) -> Any:
        """Work that needs no database (sentiment scoring), done before the transaction."""

    def apply(self, session: Session, stored: Sequence[StoredMention], prepared: Any, *, now: datetime) -> None:
        """Act on the newly stored mentions inside the poll's transaction."""


@dataclass
class PollOutcome:
    source: str
    status: str  # ok | skipped | deferred | failed | failing | error | over_budget
    fetched: int = 0
    stored: int = 0
    error: str | None = None  # skipped: the error the source waits after, if any
    next_poll_at: datetime | None = None
    problems: tuple[str, ...] = ()  # ok: what the poll could not read (FetchResult.problems)
    waiting: str | None = None  # skipped: the state it waits in (deferred: a rate limit; error: backing off)


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped."""

    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)
    rng: Callable[[], float] = field(default=random.random)

    def delay(self, failures: int) -> timedelta:
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * (2 ** max(0, failures - 1)))
        return timedelta(seconds=ceiling * (0.5 + 0.5 * self.rng()))


MENTION_COLUMNS = (
    "platform", "external_id", "brand", "source", "author_id", "author_handle", "author_name", "author_followers",
    "author_verified", "text", "title", "community", "community_members", "lang", "url", "thread_id", "reply_to_id", "quoted_id",
    "addressed_handles", "is_own", "created_at", "fetched_at", "raw",
)


def _mention_values(m: Mention, source: str, fetched_at: datetime, own_handles: frozenset[str]) -> tuple[Any, ...]:
    """The mentions row of ``m``, in the order of :data:`MENTION_COLUMNS`."""
    author = m.author
    raw = m.raw
    return (
        m.platform, m.external_id, m.brand, source, author.id, author.handle, author.name, author.followers,
        author.verified, m.text, m.title, m.community, m.community_members, m.lang, m.url, m.thread_id, m.reply_to_id, m.quoted_id,
        list(m.addressed_handles), author.handle.lower() in own_handles, m.created_at, fetched_at,
        # JSON needs a dict: copy other mappings (a dict is stored as it is, never modified)
        raw if raw is None or type(raw) is dict else dict(raw),
    )


def mention_row(m: Mention, *, source: str, fetched_at: datetime, own_handles: frozenset[str]) -> dict[str, Any]:
    return dict(zip(MENTION_COLUMNS, _mention_values(m, source, fetched_at, own_handles)))


def store_mentions(
    session: Session, mentions: Sequence[Mention], *, source: str, now: datetime, own_handles: frozenset[str] = frozenset()
) -> list[StoredMention]:
    """Insert the mentions not stored before; return those that were new, in batch order.

    One multi-row INSERT ... ON CONFLICT (platform, external_id) DO NOTHING
    RETURNING per chunk (brandpulse.db.bulk): a mention already stored, or
    given twice, is stored once."""
    if not mentions:
        return []
    first: dict[tuple[str, str], int] = {}
    for i, m in enumerate(mentions):
        first.setdefault((str(m.platform), m.external_id), i)
    rows = [_mention_values(mentions[i], source, now, own_handles) for i in first.values()]
    inserted = insert_rows(
        session, MentionRow.__table__, rows, columns=MENTION_COLUMNS,
        returning=("id", "platform", "external_id"), on_conflict_do_nothing=("platform", "external_id"),
    )
    stored = []
    for row_id, platform, external_id in inserted:
        index = first[(platform, external_id)]
        stored.append(StoredMention(row_id, mentions[index], index))
    stored.sort(key=lambda s: s.index)
    return stored


@functools.lru_cache(maxsize=None)
def _upsert_usage(dialect: str):
    """The usage upsert for ``dialect``, built once: building a statement costs
    SQLAlchemy ten times what executing a built one does."""
    table = SourceUsageRow.__table__
    stmt = dialect_insert(table, dialect)
    return stmt.on_conflict_do_update(
        index_elements=["source", "month"],
        set_={
            "polls": table.c.polls + stmt.excluded.polls,
            "posts_read": table.c.posts_read + stmt.excluded.posts_read,
            "users_read": table.c.users_read + stmt.excluded.users_read,
            "posts_billed": table.c.posts_billed + stmt.excluded.posts_billed,
            "users_billed": table.c.users_billed + stmt.excluded.users_billed,
            "spend": table.c.spend + stmt.excluded.spend,
            "updated_at": stmt.excluded.updated_at,
        },
    )


_BILLED = BilledReadRow.__table__
_BILLED_KEY = ("platform", "day", "kind", "resource_id")


def billed_reads(session: Session, *, platform: str, result: FetchResult, started: datetime,
                 ended: datetime | None = None) -> tuple[int, int]:
    """The posts and users of ``result`` the spend estimate bills: of a kind
    without ids every read; with them, each id not yet read that UTC day by
    the platform's app, plus the reads without an id. Its ids are recorded as
    read (one batched insert, the new rows returned, in the caller's
    transaction) on the day the poll started and, when it ended on the next,
    that day too: a read at the boundary is billed in whichever day X saw it."""
    days = list(dict.fromkeys([day_key(started), day_key(ended or started)]))
    billed = {"post": result.posts_read, "user": result.users_read}
    keys: list[tuple[str, str]] = []
    for kind, ids, read in (("post", result.post_ids, result.posts_read), ("user", result.user_ids, result.users_read)):
        if ids is None:
            continue
        billed[kind] = max(0, read - len(ids))  # reads without an id
        keys += [(kind, str(i)) for i in dict.fromkeys(ids)]
    if keys:
        rows = [(platform, day, kind, resource) for day in days for kind, resource in keys]
        for (kind,) in insert_rows(session, _BILLED, rows, columns=_BILLED_KEY, returning=("kind",),
                                   on_conflict_do_nothing=_BILLED_KEY):
            billed[kind] += 1
    return billed["post"], billed["user"]


def prune_billed_reads(session: Session, *, platform: str, now: datetime) -> int:
    """Forget the resources read before yesterday (UTC): no later read can
    be on their day. Returns how many rows went."""
    cutoff = day_key(now - timedelta(days=1))
    return session.execute(
        _BILLED.delete().where(_BILLED.c.platform == platform, _BILLED.c.day < cutoff)
    ).rowcount


def record_usage(session: Session, *, source: str, result: FetchResult, budget: SourceBudget | None, now: datetime,
                 billed: tuple[int, int] | None = None) -> None:
    """Add one poll's reads, billed reads (default: every read) and their
    estimated cost to the source's month, in the caller's transaction."""
    posts, users = billed if billed is not None else (result.posts_read, result.users_read)
    spend = budget.spend(posts=posts, users=users) if budget is not None else 0.0
    session.execute(
        _upsert_usage(session.get_bind().dialect.name),
        {"source": source, "month": month_key(now), "polls": 1, "posts_read": result.posts_read,
         "users_read": result.users_read, "posts_billed": posts, "users_billed": users, "spend": spend,
         "updated_at": now},
    )


_STATE = SourceStateRow.__table__
# A successful poll's cursor and health, in the poll's transaction: one UPDATE
# built once (no SELECT, no ORM flush); counters are added to in SQL.
_RECORD_SUCCESS = (
    update(_STATE)
    .where(_STATE.c.source == bindparam("b_source"))
    .values(
        cursor=bindparam("b_cursor"),
        status="ok",
        last_poll_at=bindparam("b_now"),
        last_success_at=bindparam("b_now"),
        next_poll_at=bindparam("b_next"),
        consecutive_failures=0,
        posts_read=func.coalesce(_STATE.c.posts_read, 0) + bindparam("b_read"),
        mentions_stored=func.coalesce(_STATE.c.mentions_stored, 0) + bindparam("b_stored"),
        note=None,
        updated_at=bindparam("b_now"),
        # What the poll could not read, if anything, becomes the last error (None: the last error is kept).
        last_error=func.coalesce(bindparam("b_error", type_=_STATE.c.last_error.type), _STATE.c.last_error),
        last_error_at=func.coalesce(bindparam("b_error_at", type_=_STATE.c.last_error_at.type),
                                    _STATE.c.last_error_at),
    )
)


_STATE_CHECK = select(
    _STATE.c.status, _STATE.c.next_poll_at, _STATE.c.cursor, _STATE.c.last_error, _STATE.c.note
).where(_STATE.c.source == bindparam("b_source"))
_USAGE = SourceUsageRow.__table__
_USAGE_CHECK = select(_USAGE.c.spend, _USAGE.c.posts_read).where(
    _USAGE.c.source == bindparam("b_source"), _USAGE.c.month == bindparam("b_month")
)


def record_success(session: Session, source: Source, result: FetchResult, *, stored: int, now: datetime) -> None:
    """Save the new cursor and the source's health in the caller's transaction.
    What the poll could not read (``result.problems``) becomes the source's
    last error, though the poll succeeded."""
    problem = "; ".join(result.problems) or None
    updated = session.execute(
        _RECORD_SUCCESS,
        {"b_source": source.name, "b_cursor": result.cursor, "b_now": now, "b_next": result.not_before,
         "b_read": result.posts_read, "b_stored": stored, "b_error": problem,
         "b_error_at": now if problem is not None else None},
    ).rowcount
    if updated == 1:
        return
    state = load_state(session, source)  # no row yet (the first transaction creates it; only a race removes it)
    state.cursor = result.cursor
    state.status = "ok"
    state.last_poll_at = now
    state.last_success_at = now
    state.next_poll_at = result.not_before
    state.consecutive_failures = 0
    state.posts_read = (state.posts_read or 0) + result.posts_read
    state.mentions_stored = (state.mentions_stored or 0) + stored
    state.note = None
    state.updated_at = now
    if problem is not None:
        state.last_error, state.last_error_at = problem, now


def usage_for_month(session: Session, source: str, now: datetime) -> SourceUsageRow | None:
    return session.get(SourceUsageRow, (source, month_key(now)))


def load_state(session: Session, source: Source) -> SourceStateRow:
    state = session.get(SourceStateRow, source.name)
    if state is None:
        state = SourceStateRow(source=source.name, kind=source.kind, cursor={}, status="ok", posts_read=0, mentions_stored=0, consecutive_failures=0)
        session.add(state)
        session.flush()
    return state


class Poller:
    """Polls one source. Safe to call from a scheduler thread: never raises."""

    def __init__(
        self,
        *,
        source: Source,
        Session: sessionmaker[Session],
        clock: Clock,
        handler: BatchHandler | None = None,
        own_handles: frozenset[str] = frozenset(),
        backoff: Backoff | None = None,
        budget: SourceBudget | None = None,
    ) -> None:
        """``budget``: prices and monthly budget; default: the source's own
        ``budget`` attribute, if it has one (free sources have none)."""
        self.source = source
        self.Session = Session
        self.clock = clock
        self.handler = handler
        self.own_handles = frozenset(h.lower() for h in own_handles)
        self.backoff = backoff or Backoff()
        self.budget = budget if budget is not None else getattr(source, "budget", None)
        # Seconds spent per stage of the polls that stored mentions (fetch,
        # prepare = scoring, store, apply = the handler, commit = cursor, state,
        # usage and COMMIT); bench/pipeline_throughput.py prints them.
        self.seconds: dict[str, float] = defaultdict(float)
        self.platform = str(getattr(source, "platform", source.kind))
        self._pruned_day: str | None = None  # billed_reads pruned on this UTC day

    def cursor(self) -> dict[str, Any]:
        with self.Session() as session:
            state = session.get(SourceStateRow, self.source.name)
            return dict(state.cursor) if state else {}

    def poll_once(self, *, force: bool = False) -> PollOutcome:
        try:
            return self._poll(force=force)
        except Exception as exc:  # never take the scheduler down
            log.exception("source %s: poll failed unexpectedly", self.source.name)
            return self._record_failure(f"unexpected error: {type(exc).__name__}: {exc}", permanent=False, retry_at=None)

    def _poll(self, *, force: bool) -> PollOutcome:
        now = self.clock.now()
        with self.Session.begin() as session:
            # Read with statements built once; the ORM only to create or change the row.
            row = session.connection().execute(_STATE_CHECK, {"b_source": self.source.name}).first()
            if row is None:
                created = load_state(session, self.source)
                row = (created.status, created.next_poll_at, created.cursor, created.last_error, created.note)
            status, next_poll_at, stored_cursor, last_error, note = row
            cursor = dict(stored_cursor or {})
            if not force and status == "failing":
                return PollOutcome(self.source.name, "failing", error=last_error)
            if not force and next_poll_at is not None and now < next_poll_at:
                return PollOutcome(self.source.name, "skipped", next_poll_at=next_poll_at, error=last_error,
                                   waiting=status)
            # The budget holds even when forced: public money, not scheduling.
            usage = session.connection().execute(
                _USAGE_CHECK, {"b_source": self.source.name, "b_month": month_key(now)}
            ).first()
            stop = over_budget(self.budget, spent=usage.spend if usage else 0.0,
                               posts_read=usage.posts_read if usage else 0, now=now)
            if stop is not None:
                if status != "over_budget" or note != stop:
                    log.warning("source %s: not polled: %s", self.source.name, stop)
                state = load_state(session, self.source)
                state.status, state.note, state.updated_at = "over_budget", stop, now
                return PollOutcome(self.source.name, "over_budget", error=stop)
        t0 = perf_counter()
        try:
            result = self.source.fetch(cursor, now=now)
        except RateLimited as exc:
            return self._record_failure(str(exc), permanent=False, retry_at=exc.retry_at, status="deferred",
                                        backoff_floor=not exc.announced)
        except SourceError as exc:
            return self._record_failure(str(exc), permanent=exc.permanent, retry_at=exc.retry_at)

        fetched_at = self.clock.now()
        t1 = perf_counter()
        prepared = self.handler.prepare(result.mentions) if self.handler and result.mentions else None
        t2 = perf_counter()
        with self.Session.begin() as session:
            stored = store_mentions(session, result.mentions, source=self.source.name, now=now, own_handles=self.own_handles)
            t3 = perf_counter()
            if self.handler and stored:
                self.handler.apply(session, stored, prepared, now=now)
            t4 = perf_counter()
            record_success(session, self.source, result, stored=len(stored), now=now)
            billed = None
            if result.post_ids is not None or result.user_ids is not None:
                billed = billed_reads(session, platform=self.platform, result=result, started=now, ended=fetched_at)
                if self._pruned_day != day_key(now):
                    prune_billed_reads(session, platform=self.platform, now=now)
                    self._pruned_day = day_key(now)
            record_usage(session, source=self.source.name, result=result, budget=self.budget, now=now, billed=billed)
        for problem in result.problems:
            log.warning("source %s: %s", self.source.name, problem)
        if stored:
            seconds = self.seconds
            seconds["fetch"] += t1 - t0
            seconds["prepare"] += t2 - t1
            seconds["store"] += t3 - t2
            seconds["apply"] += t4 - t3
            seconds["commit"] += perf_counter() - t4
        return PollOutcome(self.source.name, "ok", fetched=len(result.mentions), stored=len(stored),
                           next_poll_at=result.not_before, problems=tuple(result.problems))

    def _record_failure(self, message: str, *, permanent: bool, retry_at: datetime | None, status: str | None = None,
                        backoff_floor: bool = False) -> PollOutcome:
        """``backoff_floor``: wait at least the backoff of this many failures in
        a row, even past ``retry_at`` (a 429 that did not say until when)."""
        now = self.clock.now()
        with self.Session.begin() as session:
            state = load_state(session, self.source)
            failures = (state.consecutive_failures or 0) + 1
            if permanent:
                status, next_at = "failing", None
            else:
                status = status or "error"
                next_at = retry_at or (now + self.backoff.delay(failures))
                if backoff_floor:
                    next_at = max(next_at, now + self.backoff.delay(failures))
            state.status = status
            state.note = None
            state.last_poll_at = now
            state.last_error_at = now
            state.last_error = message
            state.consecutive_failures = failures
            state.next_poll_at = next_at
            state.updated_at = now
        level = logging.ERROR if permanent else logging.WARNING
        log.log(level, "source %s: %s (%s)", self.source.name, message, status)
        return PollOutcome(self.source.name, status, error=message, next_poll_at=next_at)


def reset_failing(
    Session: sessionmaker[Session], source_name: str, *, actor: str | None = None, now: datetime | None = None
) -> bool:
    """Let a source marked failing (e.g. after fixing credentials) poll again.
    With ``actor`` and ``now``, the reset is recorded in the audit log."""
    with Session.begin() as session:
        result = session.execute(
            update(SourceStateRow)
            .where(SourceStateRow.source == source_name, SourceStateRow.status == "failing")
            .values(status="ok", next_poll_at=None, consecutive_failures=0)
        )
        changed = result.rowcount == 1
        if changed and actor is not None and now is not None:
            audit.record(session, at=now, actor=actor, action="source.reset", entity_type="source",
                         entity_id=source_name, details=None)
        return changed


def source_states(session: Session) -> list[SourceStateRow]:
    return list(session.scalars(select(SourceStateRow).order_by(SourceStateRow.source)))
