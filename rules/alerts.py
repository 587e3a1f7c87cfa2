"""Alerts: open them for mentions a rule says need a person, and keep one
conversation in one alert.

Grouping. A mention whose decision asks for an alert *joins* an alert that
is still open or acknowledged for the same author in the same thread
(same platform, thread id, author id and brand) instead of opening a new
one. Mentions of one author in one thread that arrive in the same batch
are grouped the same way, so two posts in one poll give one alert with a
mention count of 2. A mention without a thread id never joins: it opens an
alert of its own. Within a batch, mentions are taken in the order they
were posted (created_at, then row id), so the earliest opens the alert.

Joining adds an ``alert_mentions`` row, increments ``mention_count``,
moves ``last_mention_id``/``last_mention_at`` to the newest mention, adds
the new mention's tags, keeps the higher priority score, and, if the new
mention's tier is more urgent, escalates the alert: its priority becomes
that tier and ``sla_due_at`` becomes ``min(current deadline, opened_at +
SLA of the new tier)``.

Every alert lists all its mentions in ``alert_mentions``, the one that
opened it included.

The customer wrote again. An alert that has been answered (its
``first_response_at`` is set: a reply sent by brandpulse, or one the team
wrote by hand on the platform) is still open or acknowledged until a person
resolves it, so the customer's next post in the thread joins it. A post
written *after* that answer is a new message awaiting a reply, so it starts a
new **round**: the answered one is kept in ``alert_rounds`` (its post, its
priority, its deadline and its first response: the KPI of the first
response is never lost), and the alert's clock restarts for the new post:
``round`` + 1, ``round_opened_at`` / ``round_mention_id`` = the new post,
``first_response_at`` cleared (the next reply, sent or by hand, is this
round's first response), the priority becomes the more urgent of the
alert's and the new post's (the score the higher of the two), and
``sla_due_at = new post's time + SLA of that priority``. So the alert comes
back to the inbox with time left or OVERDUE, not "answered". Further posts
before the next answer join the round as above (an escalation moves the
deadline to at most the round's start + the SLA of the new tier). A post
written before the answer went out (it crossed it) just joins.

The customer wrote again after it was resolved. A post that would join an
alert a person has *resolved* (the newest alert of that author in that
thread, none of them open) brings it back instead of opening a second alert
for the same conversation: the alert is ``open`` again (``resolved_at`` and
``resolution_note`` cleared, the note stays in the audit trail; the assignee
is kept: whoever handled the conversation knows it), ``reopened_at`` = now,
and the post starts a new round as above, whether or not the resolved
message had been answered; the kept round carries ``resolved_at``, so the
KPIs keep the first resolution. A post written before the resolved round's
answer (it crossed it, and was read only after the resolution) reopens the
alert in the same round: still answered, back in the inbox for a person to
read. Only a post the rules raise an alert for does this, as only such posts
join an open alert: a "thanks!" after the resolution leaves it resolved.
The brand's own posts never do (they raise nothing), nor do other authors in
the thread (their posts have alerts of their own). A *dismissed* alert
(not a complaint, spam) is never reopened by a post: the person judged that
post, not the author's next one, so an alert-worthy post opens a new alert
as it would for a stranger; ``alerts reopen`` brings a dismissed alert back
by hand.

SLA. ``sla_due_at = opened_at + settings.sla_for(priority)``, where
``opened_at`` is when the first mention was *posted*: the customer's clock
starts when they post, not when brandpulse saw it. A post of the alert's first
message written *before* the one that opened the alert but read after it (by
another source, or one that was behind: a rate limit, a slower poll) moves
``opened_at`` back to it, and the deadline to at most its time + the SLA (the
``alert.joined`` event says ``opened_at``); the alert's opening mention stays
the one that opened it.

Audit. "alert.opened" (rule, priority, priority score, mention id),
"alert.joined" (mention id, mention count), "alert.escalated" (from,
to, mention id, new deadline), "alert.wrote_again" (mention id, round,
when the previous message was answered, priority from and to, new
deadline) and "alert.reopened" (the same, with when it was resolved, and
``written_before_answer`` for a post that crossed the answer), by
:data:`brandpulse.audit.SYSTEM` at ``now``.

Cost per batch, whatever its size: one SELECT of the matching open alerts
(per 300 keys), one INSERT ... RETURNING for new alerts, one executemany
UPDATE for joined alerts (and one more each, with one INSERT into
alert_rounds, for those whose customer wrote again after an answer and for
those reopened), one INSERT for
alert_mentions and one for the audit events, all through brandpulse.db.bulk (plain SQL on SQLite, Core on
PostgreSQL). It runs in the caller's transaction and never commits.

Each mention must be given once (the pipeline hands over newly stored
mentions only); the same mention row id twice in one batch is taken once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy.orm import Session

from brandpulse.audit import SYSTEM, record_many
from brandpulse.config import Settings
from brandpulse.db.bulk import insert_rows, select_by_keys, update_rows
from brandpulse.db.models import AlertMentionRow, AlertRoundRow, AlertRow
from brandpulse.rounds import REOPENED, WROTE_AGAIN, awaited_round, restart
from brandpulse.types import Decision, Mention, Priority

ACTIVE_STATUSES = ("open", "acknowledged")
# Read with the active ones: a resolved alert is reopened by its customer's next post, a dismissed one is not.
_CLOSED_STATUSES = ("resolved", "dismissed")
_KEYS_PER_SELECT = 300  # up to 4 parameters each: well inside every backend's limit

GroupKey = tuple[str, str, str, str]  # platform, thread id, author id, brand
_UPDATE_COLUMNS = ("id", "mention_count", "last_mention_id", "last_mention_at", "priority", "priority_score", "sla_due_at", "tags",
                   "opened_at")
# An alert whose customer wrote again after an answer also moves to its new round.
_ROUND_COLUMNS = (*_UPDATE_COLUMNS, "round", "round_opened_at", "round_mention_id", "first_response_at", "reopened_at")
# A resolved alert the customer's post reopened.
_REOPEN_COLUMNS = (*_ROUND_COLUMNS, "status", "resolved_at", "resolution_note")


@dataclass
class _AlertState:
    """An alert being opened or joined in this batch."""

    alert_id: int | None  # None until a new alert is inserted
    opened_at: datetime
    priority: Priority
    priority_score: float
    sla_due_at: datetime
    last_mention_id: int
    last_mention_at: datetime
    tags: list[str]
    mention_count: int = 1
    opened_by: int | None = None  # the mention that opened the alert (existing alerts)
    first_response_at: datetime | None = None  # of the round awaited
    round: int = 1
    round_opened_at: datetime | None = None  # round 2+: when its post was written
    round_mention_id: int | None = None
    finished_rounds: list[dict[str, Any]] = field(default_factory=list)  # alert_rounds rows to add
    status: str = "open"
    round_resolved_at: datetime | None = None  # when a person resolved the round awaited
    reopened_at: datetime | None = None  # when a post reopened the alert for the round awaited
    reopened: bool = False  # by a post of this batch
    added: int = 0  # mentions joined in this batch
    new_row: dict[str, Any] | None = None  # the row to insert, for new alerts
    mention_ids: list[int] = field(default_factory=list)  # alert_mentions to add
    events: list[dict[str, Any]] = field(default_factory=list)  # audit, entity id filled in later


def _group_key(mention: Mention) -> GroupKey | None:
    if mention.thread_id is None:
        return None
    return (mention.platform, mention.thread_id, mention.author.id, mention.brand)


_ACTIVE_COLUMNS = (
    "id", "platform", "thread_id", "author_id", "brand", "opened_at", "priority", "priority_score", "sla_due_at",
    "last_mention_id", "last_mention_at", "mention_count", "tags", "mention_id", "first_response_at", "round",
    "round_opened_at", "round_mention_id", "status", "resolved_at", "reopened_at",
)


def _load_active(session: Session, keys: set[GroupKey]) -> dict[GroupKey, _AlertState]:
    """The alert each of the batch's (platform, thread, author, brand) keys
    joins: the newest still open or acknowledged, else the newest if a person
    resolved it (to be reopened); none when the newest was dismissed. One
    SELECT per few hundred keys, searching ix_alerts_thread_author
    (brandpulse.db.bulk.select_by_keys)."""
    active: dict[GroupKey, _AlertState] = {}
    closed: dict[GroupKey, _AlertState] = {}
    rows = select_by_keys(
        session, AlertRow.__table__, _ACTIVE_COLUMNS,
        key=("platform", "thread_id", "author_id"), keys=sorted({k[:3] for k in keys}),
        where_in={"status": (*ACTIVE_STATUSES, *_CLOSED_STATUSES)}, order_by="id", chunk=_KEYS_PER_SELECT,
        # Locked until the batch commits (PostgreSQL): an alert a person resolves meanwhile is read as
        # resolved once they commit (and reopened by the post), never written into as if still open; a
        # person's change waits for the batch.
        for_update=True,
    )
    for (alert_id, platform, thread_id, author_id, brand, opened_at, priority, priority_score, sla_due_at,
         last_mention_id, last_mention_at, mention_count, tags, opened_by, first_response_at, round_,
         round_opened_at, round_mention_id, status, resolved_at, reopened_at) in rows:
        key = (platform, thread_id, author_id, brand)
        if key not in keys:
            continue
        (active if status in ACTIVE_STATUSES else closed)[key] = _AlertState(  # newer rows replace earlier ones
            alert_id=alert_id,
            opened_at=opened_at,
            priority=Priority(priority),
            priority_score=priority_score,
            sla_due_at=sla_due_at,
            last_mention_id=last_mention_id,
            last_mention_at=last_mention_at,
            tags=list(tags or []),
            mention_count=mention_count,
            opened_by=opened_by,
            first_response_at=first_response_at,
            round=round_ or 1,
            round_opened_at=round_opened_at,
            round_mention_id=round_mention_id,
            status=status,
            round_resolved_at=resolved_at if status == "resolved" else None,
            reopened_at=reopened_at,
        )
    found = {key: state for key, state in closed.items() if state.status == "resolved"}
    found.update(active)
    return found


def _join(
    state: _AlertState, *, mention_id: int, mention: Mention, decision: Decision, settings: Settings, now: datetime
) -> None:
    alert = decision.alert
    assert alert is not None
    state.mention_ids.append(mention_id)
    state.added += 1
    state.mention_count += 1
    if mention.created_at >= state.last_mention_at:
        state.last_mention_id = mention_id
        state.last_mention_at = mention.created_at
    for tag in decision.tags:
        if tag not in state.tags:
            state.tags.append(tag)
    if alert.priority_score > state.priority_score:
        state.priority_score = alert.priority_score
    joined: dict[str, Any] = {"mention_id": mention_id, "mention_count": state.mention_count}
    state.events.append({"action": "alert.joined", "details": joined})
    reopening = state.status == "resolved"
    if reopening:
        state.status, state.reopened, state.reopened_at = "open", True, now
    if (reopening and state.first_response_at is None) or (
            state.first_response_at is not None and mention.created_at > state.first_response_at):
        _wrote_again(state, mention_id=mention_id, mention=mention, decision=decision, settings=settings,
                     reopening=reopening)
        return
    if reopening:  # written before the answer, read after the resolution: back in the inbox, same round
        state.events.append({"action": REOPENED, "details": {
            "mention_id": mention_id, "round": state.round,
            "answered_at": state.first_response_at.isoformat() if state.first_response_at else None,
            "resolved_at": state.round_resolved_at.isoformat() if state.round_resolved_at else None,
            "written_before_answer": True}})
    if state.round == 1 and mention.created_at < state.opened_at:
        # Written before the post that opened the alert, read after it (another source, one that was
        # behind): the customer's clock started at this post.
        state.opened_at = mention.created_at
        state.sla_due_at = min(state.sla_due_at, state.opened_at + settings.sla_for(state.priority))
        joined["opened_at"] = state.opened_at.isoformat()
    if alert.priority.rank < state.priority.rank:
        previous = state.priority
        state.priority = alert.priority
        round_start = state.round_opened_at or state.opened_at
        state.sla_due_at = min(state.sla_due_at, round_start + settings.sla_for(alert.priority))
        state.events.append(
            {
                "action": "alert.escalated",
                "details": {
                    "from": previous.value,
                    "to": alert.priority.value,
                    "mention_id": mention_id,
                    "sla_due_at": state.sla_due_at.isoformat(),
                },
            }
        )


def _wrote_again(
    state: _AlertState, *, mention_id: int, mention: Mention, decision: Decision, settings: Settings,
    reopening: bool = False,
) -> None:
    """The customer posted after being answered, or after a person resolved
    the alert (``reopening``): keep the round, restart the first-response
    clock for this post (module docstring)."""
    alert = decision.alert
    assert alert is not None and state.opened_by is not None and (state.first_response_at is not None or reopening)
    current = awaited_round(number=state.round, round_mention_id=state.round_mention_id,
                            round_opened_at=state.round_opened_at, first_mention_id=state.opened_by,
                            opened_at=state.opened_at, priority=state.priority, sla_due_at=state.sla_due_at,
                            first_response_at=state.first_response_at)
    priority = alert.priority if alert.priority.rank < state.priority.rank else state.priority
    kept, new, details = restart(current, mention_id=mention_id, posted_at=mention.created_at, priority=priority,
                                 sla=settings.sla_for(priority), reopening=reopening,
                                 resolved_at=state.round_resolved_at)
    state.finished_rounds.append(kept)
    state.round, state.round_opened_at, state.round_mention_id = new.number, new.opened_at, new.mention_id
    state.priority, state.sla_due_at, state.first_response_at = new.priority, new.sla_due_at, None
    state.round_resolved_at = None
    if not reopening:
        state.reopened_at = None
    state.events.append({"action": REOPENED if reopening else WROTE_AGAIN, "details": details})


def _open(*, mention_id: int, mention: Mention, decision: Decision, settings: Settings, now: datetime) -> _AlertState:
    alert = decision.alert
    assert alert is not None
    opened_at = mention.created_at
    sla_due_at = opened_at + settings.sla_for(alert.priority)
    state = _AlertState(
        alert_id=None,
        opened_at=opened_at,
        priority=alert.priority,
        priority_score=alert.priority_score,
        sla_due_at=sla_due_at,
        last_mention_id=mention_id,
        last_mention_at=opened_at,
        tags=list(decision.tags),
        mention_ids=[mention_id],
    )
    state.new_row = {
        "brand": mention.brand,
        "platform": mention.platform,
        "author_id": mention.author.id,
        "author_handle": mention.author.handle,
        "thread_id": mention.thread_id,
        "mention_id": mention_id,
        "rule": alert.rule,
        "status": "open",
        "opened_at": opened_at,
        "created_at": now,
    }
    state.events.append(
        {
            "action": "alert.opened",
            "details": {
                "rule": alert.rule,
                "priority": alert.priority.value,
                "priority_score": round(alert.priority_score, 4),
                "mention_id": mention_id,
            },
        }
    )
    return state


def _round_values(alert_id: int, state: _AlertState) -> tuple[Any, ...]:
    return (alert_id, state.added, state.last_mention_id, state.last_mention_at, state.priority.value,
            state.priority_score, state.sla_due_at, state.tags, state.opened_at, state.round, state.round_opened_at,
            state.round_mention_id, state.first_response_at)


def apply_decisions(
    session: Session,
    items: Sequence[tuple[int, Mention, Decision]],
    *,
    settings: Settings,
    now: datetime,
) -> dict[int, int]:
    """Open or join alerts for the items whose decision asks for one.

    ``items`` are (mentions.id, the mention, its decision). Returns
    ``{mention row id: alert id}`` for every item that opened or joined an
    alert. Runs in the caller's transaction and never commits."""
    seen: set[int] = set()
    wanted: list[tuple[int, Mention, Decision]] = []
    for mention_id, mention, decision in items:
        if decision.alert is not None and mention_id not in seen:
            seen.add(mention_id)
            wanted.append((mention_id, mention, decision))
    if not wanted:
        return {}
    wanted.sort(key=lambda item: (item[1].created_at, item[0]))

    keys = {k for _, m, _ in wanted if (k := _group_key(m)) is not None}
    existing = _load_active(session, keys) if keys else {}
    joined_existing: dict[int, _AlertState] = {}  # alert id -> state
    new_alerts: list[_AlertState] = []
    pending: dict[GroupKey, _AlertState] = {}  # alerts opened in this batch, by key
    alert_of: list[tuple[int, _AlertState]] = []

    for mention_id, mention, decision in wanted:
        key = _group_key(mention)
        state = None
        if key is not None:
            state = existing.get(key) or pending.get(key)
        if state is not None:
            _join(state, mention_id=mention_id, mention=mention, decision=decision, settings=settings, now=now)
            if state.alert_id is not None:
                joined_existing[state.alert_id] = state
        else:
            state = _open(mention_id=mention_id, mention=mention, decision=decision, settings=settings, now=now)
            new_alerts.append(state)
            if key is not None:
                pending[key] = state
        alert_of.append((mention_id, state))

    if new_alerts:
        rows = []
        for state in new_alerts:
            assert state.new_row is not None
            rows.append(
                {
                    **state.new_row,
                    "last_mention_id": state.last_mention_id,
                    "last_mention_at": state.last_mention_at,
                    "mention_count": state.mention_count,
                    "priority": state.priority.value,
                    "priority_score": state.priority_score,
                    "sla_due_at": state.sla_due_at,
                    "tags": state.tags,
                }
            )
        # RETURNING the opening mention's id too maps rows back without asking
        # the database to keep parameter order (which SQLite can only do one
        # row per statement). Each new alert has its own opening mention.
        returned = insert_rows(session, AlertRow.__table__, rows, returning=("mention_id", "id"))
        id_by_opener = {mention_id: alert_id for mention_id, alert_id in returned}
        for state in new_alerts:
            assert state.new_row is not None
            state.alert_id = id_by_opener[state.new_row["mention_id"]]

    if joined_existing:
        # mention_count is added to, not set: a count is never lost
        reopened = {i: st for i, st in joined_existing.items() if st.reopened}
        same_round = {i: st for i, st in joined_existing.items() if not st.finished_rounds and not st.reopened}
        new_round = {i: st for i, st in joined_existing.items() if st.finished_rounds and not st.reopened}
        if same_round:
            update_rows(
                session, AlertRow.__table__,
                [
                    (alert_id, state.added, state.last_mention_id, state.last_mention_at, state.priority.value,
                     state.priority_score, state.sla_due_at, state.tags, state.opened_at)
                    for alert_id, state in same_round.items()
                ],
                columns=_UPDATE_COLUMNS, key=("id",), increment=("mention_count",),
            )
        if new_round:
            update_rows(
                session, AlertRow.__table__,
                [
                    (*_round_values(alert_id, state), state.reopened_at)
                    for alert_id, state in new_round.items()
                ],
                columns=_ROUND_COLUMNS, key=("id",), increment=("mention_count",),
            )
        if reopened:
            update_rows(
                session, AlertRow.__table__,
                [(*_round_values(alert_id, state), state.reopened_at, "open", None, None)
                 for alert_id, state in reopened.items()],
                columns=_REOPEN_COLUMNS, key=("id",), increment=("mention_count",),
            )
        finished = [{"alert_id": alert_id, **row} for alert_id, state in joined_existing.items()
                    for row in state.finished_rounds]
        if finished:
            insert_rows(session, AlertRoundRow.__table__, finished)

    touched = [*new_alerts, *joined_existing.values()]
    insert_rows(
        session, AlertMentionRow.__table__,
        [(s.alert_id, mid) for s in touched for mid in s.mention_ids], columns=("alert_id", "mention_id"),
    )
    record_many(
        session,
        [
            {
                "at": now,
                "actor": SYSTEM,
                "action": event["action"],
                "entity_type": "alert",
                "entity_id": state.alert_id,
                "details": event["details"],
            }
            for state in touched
            for event in state.events
        ],
    )
    return {mention_id: state.alert_id for mention_id, state in alert_of}  # type: ignore[misc]
