"""Send-time safeguards: what may never go out, whatever a rule or a person said.

Every reply is checked when it is claimed for sending, inside the claim's
transaction and before the conditional update that claims it (see
:func:`outreach.outbox.claim`). Claims take a lock first (:func:`lock_claims`),
so two senders cannot both pass a cap or a one-per-thread check and post
twice. A reply that fails a check is not sent: it becomes ``held`` with the
safeguard's code (``hold_code``) and a sentence saying why (``hold_reason``),
and the audit log gets a ``reply.held`` event.

The safeguards, in the order they are checked (``code``: what it does)
=====================================================================

=================  ==========================================================  ===================
code               rule                                                        a held reply ...
=================  ==========================================================  ===================
``own_account``    never reply to one of the brand's own accounts              stays held
``blocklist``      never reply to an author on ``safeguards.blocklist``        stays held
``opt_out``        never reply to an author who answered the brand with an     stays held
                   opt-out word (``safeguards.opt_out_words``, any language)
``one_per_thread`` one reply per customer message: never a second reply to    stays held
                   one post; in a thread where the author already got a reply,
                   another only to a post they wrote after our last reply
                   there, approved by a person (a reply the policy approved
                   goes out once per author per thread); a reply an own
                   account wrote by hand on the platform counts
                   (outreach/hand_replies). A follow-up is its own kind: one
                   per author per thread
``cooldown``       at most one reply to an author per                          goes back to
                   ``safeguards.per_author_cooldown`` (any thread; a reply     approved by itself
                   a person approved to a post the author wrote after our
                   last reply in that thread is a conversation: that
                   thread's replies do not count)
``quiet_hours``    nothing goes out during ``safeguards.quiet_hours``          goes back to
                                                                               approved by itself
``hourly_cap``     at most ``safeguards.caps.per_hour`` posts per brand        goes back to
                   account in any 60 minutes                                   approved by itself
``daily_cap``      at most ``safeguards.caps.per_day`` posts per brand         goes back to
                   account in any 24 hours                                     approved by itself
=================  ==========================================================  ===================

**What happens to held replies.** Waiting out a window is the machine's job:
a reply held by ``cooldown``, ``quiet_hours`` or a cap keeps its approval and
gets ``not_before`` = the end of the window; :func:`release_due_holds` (run
at the start of every :func:`outreach.outbox.send_approved`) puts it back to
``approved`` then (``reply.released``), and the claim checks everything
again. Whether to answer someone at all is a person's job: a reply held by
``own_account``, ``blocklist``, ``opt_out`` or ``one_per_thread`` stays held
until a person rejects it, or decides otherwise: ``one_per_thread``,
``cooldown``, ``quiet_hours`` and ``incident_answered`` (a second incident reply
to an author already pointed to that incident, held at the send claim:
:func:`outreach.incident_replies.repeated_incident_reply`) can be waived for one reply
(:func:`waive`, ``brandpulse outreach waive``) before approving it again; an
opt-out is lifted only when the author asks (:func:`clear_opt_out`); the
blocklist and the brand's own accounts are configuration. A held reply that a
person edits loses its approval and is not released by itself.

**Which posts.** Replies and follow-ups (``kind`` ``reply``/``followup``, to
an author) pass every check. Status updates (``kind`` ``status``, standalone
posts for an incident) are only stopped by the kill switch; they still count
towards the caps of the account that posts them.

**Kill switch.** :func:`set_paused` (``brandpulse outreach pause|resume``)
writes the ``outreach_control`` row for all brands (scope ``*``) or one brand;
a claim reads it under the claim lock, so once ``pause`` has returned no new
send starts. A post already handed to the platform cannot be recalled.
Paused replies stay ``approved`` and go out after ``resume``.

**Opt-outs.** :func:`record_opt_outs` runs on newly stored mentions (the
pipeline calls it). A mention opts its author out of the brand's replies when
it contains an opt-out word or phrase (whole words, case-insensitive; in
scripts without spaces — Japanese, Chinese — as written) *and* it answers the
brand: it replies to a post the brand made (a reply we sent, or one of the
brand's own posts), or it says nothing else (``@AcmeAir STOP``). So "stop
cancelling my flights!" on its own does not opt anyone out; "stop" in answer
to our reply does, at once.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.config import QuietHours, Safeguards, Settings, normalise_handle, normalise_text
from brandpulse.db.models import MentionRow, OptOutRow, OutboxRow, OutreachControlRow
from brandpulse.types import Mention
from outreach.hand_replies import hand_replies_in_thread

OWN_ACCOUNT = "own_account"
BLOCKLIST = "blocklist"
OPT_OUT = "opt_out"
ONE_PER_THREAD = "one_per_thread"
COOLDOWN = "cooldown"
QUIET_HOURS = "quiet_hours"
HOURLY_CAP = "hourly_cap"
DAILY_CAP = "daily_cap"
TEMPLATE = "template"  # held at drafting: the template failed, rendered empty or too long
# Held at the send claim: the author was already pointed to this incident by another of its replies
# (outreach/incident_replies.py, repeated_incident_reply).
INCIDENT_ANSWERED = "incident_answered"
POLICY_ACTOR = "policy"  # approved_by for replies the reply policy lets go out alone (outreach/drafts.py)

CODES = (OWN_ACCOUNT, BLOCKLIST, OPT_OUT, ONE_PER_THREAD, COOLDOWN, QUIET_HOURS, HOURLY_CAP, DAILY_CAP,
         INCIDENT_ANSWERED)
# Held replies with these codes go back to "approved" when their window passes.
RELEASED_AUTOMATICALLY = frozenset({COOLDOWN, QUIET_HOURS, HOURLY_CAP, DAILY_CAP})
# What a person may waive for one reply.
WAIVABLE = frozenset({ONE_PER_THREAD, COOLDOWN, QUIET_HOURS, INCIDENT_ANSWERED})
AUTHOR_KINDS = ("reply", "followup")  # posts addressed to an author
# A post in one of these states is out, or may be: it counts for caps, cooldowns and threads.
OUT_STATUSES = ("sent", "sending", "unknown")
GLOBAL_SCOPE = "*"
AUDIT_ENTITY = "outbox"
WAIVABLE_FROM = ("drafted", "held", "approved", "failed")


class SafeguardError(Exception):
    """A safeguard action that is not allowed (unknown code, wrong state, nothing to clear)."""


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    reason: str
    release_at: datetime | None = None  # when the reply may go after all (None: a person decides)


@dataclass(frozen=True, slots=True)
class Hold:
    """Why a reply may not go out now: every safeguard it failed."""

    violations: tuple[Violation, ...]

    @property
    def code(self) -> str:
        return self.violations[0].code

    @property
    def reason(self) -> str:
        return "; ".join(v.reason for v in self.violations)

    @property
    def release_at(self) -> datetime | None:
        """When all the reasons have passed; None if any needs a person."""
        if any(v.code not in RELEASED_AUTOMATICALLY or v.release_at is None for v in self.violations):
            return None
        return max(v.release_at for v in self.violations)  # type: ignore[type-var]


def _fmt(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _who(platform: str, handle: str) -> str:
    return f"{'u/' if platform == 'reddit' else '@'}{handle}"


# ---------------------------------------------------------------------------
# The kill switch
# ---------------------------------------------------------------------------


def lock_claims(session: Session) -> None:
    """Serialise send claims: a write on the global control row (a row lock
    on PostgreSQL, the database write lock on SQLite), held until the claim's
    transaction ends. Creates the row if it is missing."""
    result = session.execute(
        update(OutreachControlRow)
        .where(OutreachControlRow.scope == GLOBAL_SCOPE)
        .values(paused=OutreachControlRow.paused)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 0:  # a schema made without the migrations: create the row (once, whoever races), lock it
        dialect = session.get_bind().dialect.name
        table = OutreachControlRow.__table__
        make = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
        if make is None:
            raise NotImplementedError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")
        session.execute(make(table).values(scope=GLOBAL_SCOPE, paused=False).on_conflict_do_nothing(index_elements=["scope"]))
        session.execute(
            update(OutreachControlRow).where(OutreachControlRow.scope == GLOBAL_SCOPE)
            .values(paused=OutreachControlRow.paused).execution_options(synchronize_session=False)
        )


def paused_scopes(session: Session) -> dict[str, OutreachControlRow]:
    """Scope ("*" or a brand id) → its control row, for every paused scope."""
    return {r.scope: r for r in session.scalars(select(OutreachControlRow).where(OutreachControlRow.paused.is_(True)))}


def pause_for(session: Session, brand: str) -> OutreachControlRow | None:
    """The switch that stops ``brand``'s posts now (all brands first), or None."""
    rows = paused_scopes(session)
    return rows.get(GLOBAL_SCOPE) or rows.get(brand)


def set_paused(
    session: Session, *, paused: bool, actor: str, now: datetime, brand: str | None = None, reason: str | None = None
) -> tuple[OutreachControlRow, bool]:
    """Pause or resume sending for all brands (``brand=None``) or one.
    Returns (the control row, whether it changed). A change is audited
    (``outreach.paused`` / ``outreach.resumed``) with who and why."""
    scope = brand or GLOBAL_SCOPE
    row = session.get(OutreachControlRow, scope, with_for_update=True, populate_existing=True)
    if row is None:
        row = OutreachControlRow(scope=scope, paused=False)
        session.add(row)
        session.flush()
    if bool(row.paused) == paused:
        return row, False
    row.paused = paused
    row.reason = reason
    row.changed_by = actor
    row.changed_at = now
    session.flush()
    audit.record(
        session, at=now, actor=actor, action="outreach.paused" if paused else "outreach.resumed",
        entity_type="outreach", entity_id=scope, details={"reason": reason} if reason else None,
    )
    return row, True


# ---------------------------------------------------------------------------
# Quiet hours and windows
# ---------------------------------------------------------------------------


def quiet_until(quiet: QuietHours, now: datetime) -> datetime | None:
    """The end of the quiet period ``now`` falls in (UTC), or None when it is not quiet."""
    zone = quiet.zone
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:
        inside, end_date = quiet.start <= t < quiet.end, local.date()
    else:  # spans midnight
        inside = t >= quiet.start or t < quiet.end
        end_date = local.date() + timedelta(days=1) if t >= quiet.start else local.date()
    if not inside:
        return None
    return datetime.combine(end_date, quiet.end, tzinfo=zone).astimezone(timezone.utc)


def _clock(t: time) -> str:
    return t.strftime("%H:%M")


def _cap_release(times: list[datetime], cap: int, window: timedelta) -> datetime:
    """With ``times`` (sorted) in the window and at least ``cap`` of them,
    when the count falls below ``cap``."""
    return times[len(times) - cap] + window


# ---------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------


def check(
    session: Session,
    row: OutboxRow,
    mention: MentionRow | None,
    *,
    settings: Settings | None,
    now: datetime,
) -> Hold | None:
    """Every safeguard for sending ``row`` now (its waived ones excepted).
    ``mention`` is the stored mention it answers (None for a standalone
    post). None means it may go out."""
    if row.kind not in AUTHOR_KINDS:
        return None  # status posts: only the kill switch (checked by the claim)
    config = settings.safeguards if settings is not None else Safeguards()
    waived = set(row.waived or ())
    found: list[Violation] = []

    def add(code: str, reason: str, release_at: datetime | None = None) -> None:
        if code not in waived:
            found.append(Violation(code, reason, release_at))

    platform = row.platform
    if mention is not None:
        who = _who(platform, mention.author_handle)
        own = False
        if settings is not None:
            try:
                accounts = settings.brand(row.brand).accounts.for_platform(platform)
            except KeyError:
                accounts = []
            own = mention.author_handle.lower() in {a.lower() for a in accounts}
        if own or mention.is_own:
            add(OWN_ACCOUNT, f"{who} is one of the brand's own accounts: brandpulse never replies to them")
        if config.blocked(platform, mention.author_handle):
            add(BLOCKLIST, f"{who} is on the blocklist (safeguards.blocklist)")
        opt_out = session.execute(
            select(OptOutRow).where(
                OptOutRow.brand == row.brand, OptOutRow.platform == platform, OptOutRow.author_id == mention.author_id
            )
        ).scalar_one_or_none()
        if opt_out is not None:
            add(OPT_OUT, f"{who} opted out of replies on {_fmt(opt_out.posted_at)} (wrote {opt_out.word!r});"
                         " no automatic replies")

        out_at = func.coalesce(OutboxRow.sent_at, OutboxRow.claimed_at)
        earlier = session.execute(
            select(OutboxRow.id, OutboxRow.kind, func.coalesce(MentionRow.thread_id, MentionRow.external_id), out_at,
                   OutboxRow.in_reply_to)
            .join(MentionRow, MentionRow.id == OutboxRow.mention_id)
            .where(
                MentionRow.platform == platform,
                MentionRow.author_id == mention.author_id,
                OutboxRow.brand == row.brand,
                OutboxRow.kind.in_(AUTHOR_KINDS),
                OutboxRow.status.in_(OUT_STATUSES),
                OutboxRow.id != row.id,
            )
            .order_by(out_at)
        ).all()
        thread = mention.thread_id or mention.external_id
        same_thread = [e for e in earlier if e[2] == thread and e[1] == row.kind]
        answers_newer_message = False
        if row.kind == "reply":
            answers = [_Answer(f"reply {e[0]}", e[3], e[4]) for e in same_thread] + [
                _Answer(f"by hand on {platform}: @{h.account}", h.posted_at, h.answers, by_hand=True, url=h.url)
                for h in hand_replies_in_thread(session, platform=platform, author_id=mention.author_id, thread=thread)
            ]
            why = _one_per_message(row, mention, answers, who=who)
            if why is not None:
                add(ONE_PER_THREAD, why)
            answers_newer_message = bool(answers) and why is None
        elif same_thread:
            first = same_thread[0]
            add(ONE_PER_THREAD, f"{who} already got a follow-up in this thread (reply {first[0]}"
                                f"{', ' + _fmt(first[3]) if first[3] else ''}); one per author per thread")
        cooldown = config.cooldown_for(row.template)
        if cooldown > timedelta(0):
            # A person's answer to what the customer wrote after our last reply
            # is a conversation: that thread's earlier replies do not count.
            counted = [e for e in earlier if not (answers_newer_message and e[2] == thread)]
            recent = [e for e in counted if e[3] is not None and e[3] > now - cooldown]
            if recent:
                last = recent[-1]
                until = last[3] + cooldown
                add(COOLDOWN, f"per-author cooldown of {_span(cooldown)}: {who} was answered at {_fmt(last[3])}"
                              f" (reply {last[0]}); may go from {_fmt(until)}", until)

    quiet = config.quiet_hours_for(row.template)
    if quiet is not None:
        until = quiet_until(quiet, now)
        if until is not None:
            add(QUIET_HOURS, f"quiet hours {_clock(quiet.start)}–{_clock(quiet.end)} {quiet.timezone};"
                             f" may go from {_fmt(until)}", until)

    day = timedelta(days=1)
    hour = timedelta(hours=1)
    account_cond = OutboxRow.account.is_(None) if row.account is None else OutboxRow.account == row.account
    out_at = func.coalesce(OutboxRow.sent_at, OutboxRow.claimed_at)
    times = sorted(
        t for t in session.scalars(
            select(out_at).where(
                OutboxRow.platform == platform,
                account_cond,
                OutboxRow.status.in_(OUT_STATUSES),
                OutboxRow.id != row.id,
                or_(OutboxRow.sent_at > now - day, and_(OutboxRow.sent_at.is_(None), OutboxRow.claimed_at > now - day)),
            )
        ) if t is not None
    )
    account = _who(platform, row.account) if row.account else f"the {platform} account"
    last_hour = [t for t in times if t > now - hour]
    if len(last_hour) >= config.caps.per_hour:
        until = _cap_release(last_hour, config.caps.per_hour, hour)
        add(HOURLY_CAP, f"cap of {config.caps.per_hour} posts per hour for {account} reached;"
                        f" may go from {_fmt(until)}", until)
    if len(times) >= config.caps.per_day:
        until = _cap_release(times, config.caps.per_day, day)
        add(DAILY_CAP, f"cap of {config.caps.per_day} posts per day for {account} reached;"
                       f" may go from {_fmt(until)}", until)
    return Hold(tuple(found)) if found else None


@dataclass(frozen=True, slots=True)
class _Answer:
    """A reply the author already got in the thread: sent (or on its way) by brandpulse, or written by hand."""

    what: str  # "reply 12", "by hand on x: @AcmeHelp"
    at: datetime | None  # when it went out (None: claimed, time unknown)
    answers: str | None  # the external id of the author's post it answers
    by_hand: bool = False  # written on the platform by an own account (outreach/hand_replies.py)
    url: str | None = None  # a reply by hand: its link

    def __str__(self) -> str:
        if self.by_hand:
            return f"{self.what} at {_fmt(self.at)}{' (' + self.url + ')' if self.url else ''}"
        return f"{self.what}{', ' + _fmt(self.at) if self.at else ''}"


def _one_per_message(row: OutboxRow, mention: MentionRow, answers: Sequence[_Answer], *, who: str) -> str | None:
    """Why ``row``, a reply to ``mention``, may not go out after ``answers``
    (the author's replies in that thread), or None. One reply per customer
    message: never a second reply to one post; another reply only to a post
    the customer wrote after our last one there, and only with a person's
    approval (a reply the policy approved, a thank-you, goes out once per
    author per thread)."""
    if not answers:
        return None
    same_post = [a for a in answers if a.answers == mention.external_id]
    if same_post:
        return (f"{who}'s post {mention.external_id} already got a reply ({same_post[0]});"
                " never two replies to one post")
    latest = max(answers, key=lambda a: (a.at is None, a.at or mention.created_at))
    if latest.at is None or latest.at >= mention.created_at:
        return (f"{who} already got a reply in this thread ({latest}) after the post this answers"
                f" (written {_fmt(mention.created_at)}); one reply per customer message: only a post"
                " they write after our last reply may get another")
    if row.approved_by == POLICY_ACTOR:
        return (f"{who} already got a reply in this thread ({latest}); a reply approved by policy goes out"
                " once per author per thread: approve it yourself to answer their newer post")
    return None


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def hold(session: Session, row: OutboxRow, verdict: Hold, *, now: datetime) -> bool:
    """Hold an approved reply (conditional on it still being approved). Its
    approval is kept, so a window-only hold can be released by itself."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.status == "approved")
        .values(status="held", hold_code=verdict.code, hold_reason=verdict.reason,
                not_before=verdict.release_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    details: dict[str, Any] = {
        "code": verdict.code,
        "reason": verdict.reason,
        "codes": [v.code for v in verdict.violations],
        "previous_status": "approved",
    }
    if verdict.release_at is not None:
        details["release_at"] = verdict.release_at.isoformat()
    audit.record(session, at=now, actor=audit.SYSTEM, action="reply.held", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details=details)
    return True


def release_due_holds(session: Session, *, now: datetime) -> list[int]:
    """Put replies held only by a window (cooldown, quiet hours, caps) whose
    window has passed back to ``approved``; they are checked again when
    claimed. Only replies that still carry their approval (a person's edit
    withdraws it)."""
    window_only = (
        OutboxRow.status == "held",
        OutboxRow.hold_code.in_(sorted(RELEASED_AUTOMATICALLY)),
        OutboxRow.approved_by.is_not(None),
        OutboxRow.not_before.is_not(None),
        OutboxRow.not_before <= now,
    )
    due = {i: (code, reason) for i, code, reason in session.execute(
        select(OutboxRow.id, OutboxRow.hold_code, OutboxRow.hold_reason).where(*window_only)
    )}
    if not due:
        return []
    ids = sorted(session.scalars(
        update(OutboxRow)
        .where(OutboxRow.id.in_(sorted(due)), *window_only)
        .values(status="approved", hold_code=None, hold_reason=None, not_before=None, updated_at=now)
        .returning(OutboxRow.id)
        .execution_options(synchronize_session=False)
    ).all())
    audit.record_many(session, [
        {"at": now, "actor": audit.SYSTEM, "action": "reply.released", "entity_type": AUDIT_ENTITY,
         "entity_id": outbox_id, "details": {"code": due[outbox_id][0], "reason": due[outbox_id][1]}}
        for outbox_id in ids
    ])
    return ids


# ---------------------------------------------------------------------------
# Waivers
# ---------------------------------------------------------------------------


def waive(session: Session, outbox_id: int, code: str, *, actor: str, now: datetime, reason: str | None = None) -> OutboxRow:
    """A person waives one safeguard for one reply (audited ``reply.waived``).
    The reply still needs approving (``brandpulse replies approve``) if it is
    not approved already; every other safeguard still applies."""
    if code not in WAIVABLE:
        why = ("it is decided by the author or the configuration" if code in CODES
               else f"unknown safeguard (known: {', '.join(CODES)})")
        raise SafeguardError(f"cannot waive {code!r}: {why}; waivable: {', '.join(sorted(WAIVABLE))}")
    row = session.get(OutboxRow, outbox_id, populate_existing=True)
    if row is None:
        raise SafeguardError(f"no reply with id {outbox_id}")
    if row.status not in WAIVABLE_FROM:
        raise SafeguardError(f"cannot waive a safeguard for reply {outbox_id}: it is {row.status}"
                             f" (waive works on: {', '.join(WAIVABLE_FROM)})")
    waived = sorted({*(row.waived or ()), code})
    changed = session.execute(
        update(OutboxRow).where(OutboxRow.id == outbox_id, OutboxRow.status == row.status)
        .values(waived=waived, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise SafeguardError(f"reply {outbox_id} changed while you were working on it; look at it again")
    audit.record(session, at=now, actor=actor, action="reply.waived", entity_type=AUDIT_ENTITY, entity_id=outbox_id,
                 details={"safeguard": code, "reason": reason})
    session.refresh(row)
    return row


# ---------------------------------------------------------------------------
# Opt-outs
# ---------------------------------------------------------------------------

# Scripts written without spaces between words (CJK, kana; Hangul, whose words
# take particles): their opt-out words are matched wherever they appear.
_UNSPACED = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


class OptOutMatcher:
    """Finds an opt-out word or phrase in a text: two compiled alternations
    (words with spaces between them, matched whole; CJK, matched as written),
    a few microseconds per post."""

    def __init__(self, words: Iterable[str]) -> None:
        self.words = tuple(dict.fromkeys(normalise_text(w).strip() for w in words if w.strip()))
        ordered = sorted(self.words, key=len, reverse=True)  # longest first: "stop replying" before "stop"
        spaced = [_phrase(w) for w in ordered if not _UNSPACED.search(w)]
        unspaced = [re.escape(w) for w in ordered if _UNSPACED.search(w)]
        # Whole words: not inside a word, nor joined to one by a hyphen ("non-stop").
        self._spaced = re.compile(r"(?<![\w\-])(?:" + "|".join(spaced) + r")(?![\w\-])") if spaced else None
        self._unspaced = re.compile("|".join(unspaced)) if unspaced else None
        self._canonical = {_canonical(w): w for w in self.words}

    def find(self, text: str) -> str | None:
        """The opt-out word found in ``text`` (as configured), or None."""
        normalised = normalise_text(text)
        for pattern in (self._spaced, self._unspaced):
            match = pattern.search(normalised) if pattern is not None else None
            if match is not None:
                return self._canonical.get(_canonical(match.group(0)), match.group(0))
        return None


def _phrase(word: str) -> str:
    """A word or phrase as a pattern: any run of spaces or hyphens between its
    parts, either apostrophe."""
    parts = [re.escape(p).replace("'", "['’]") for p in re.split(r"[\s\-]+", word)]
    return r"[\s\-]+".join(parts)


def _canonical(found: str) -> str:
    return re.sub(r"[\s\-]+", " ", found).replace("’", "'")


@functools.lru_cache(maxsize=16)
def _matcher(words: tuple[str, ...]) -> OptOutMatcher:
    return OptOutMatcher(words)


def matcher_for(settings: Settings) -> OptOutMatcher:
    return _matcher(tuple(settings.safeguards.opt_out_words))


_ADDRESS = re.compile(r"(?<![\w/])(?:@\w{1,15}|/?u/[\w-]{3,20})")
_URL = re.compile(r"https?://\S+")
_NOT_WORDS = re.compile(r"[\W_]+")


def only_says(text: str, word: str) -> bool:
    """True when ``text`` is the opt-out ``word`` and nothing else (handles,
    links, punctuation, emoji and case aside)."""
    rest = _URL.sub(" ", text)
    rest = _ADDRESS.sub(" ", rest)
    return _NOT_WORDS.sub("", normalise_text(rest)) == _NOT_WORDS.sub("", word)


def _insert_ignore(dialect: str):
    table = OptOutRow.__table__
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=["brand", "platform", "author_id"])
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["brand", "platform", "author_id"])
    raise NotImplementedError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")


@functools.lru_cache(maxsize=16)
def _ascii_longest_parts(words: tuple[str, ...]) -> tuple[str, ...]:
    """The longest part of each ASCII opt-out word, for record_opt_outs' quick test."""
    return tuple(dict.fromkeys(max(re.split(r"[\s\-'’]+", w), key=len) for w in words if w.isascii()))


def record_opt_outs(
    session: Session, stored: Sequence[tuple[int, Mention]], *, settings: Settings, now: datetime
) -> list[int]:
    """Record the authors of newly stored mentions who answered the brand
    with an opt-out word (see the module docstring). ``stored``: (mention row
    id, mention) pairs. Runs in the caller's transaction; returns the ids of
    the opt-outs recorded (an author already opted out is not recorded
    again). Costs one regular-expression search per mention, and two queries
    only when a mention contains an opt-out word."""
    matcher = matcher_for(settings)
    ascii_parts = _ascii_longest_parts(matcher.words)
    candidates: list[tuple[int, Mention, str]] = []
    for row_id, mention in stored:
        text = mention.text
        if text.isascii():
            # ASCII text normalises to its lower case, and only ASCII words can
            # match it; a match holds every part of its word (the pieces between
            # spaces, hyphens and apostrophes): none of the words' longest parts
            # in the text, no opt-out.
            lowered = text.lower()
            for part in ascii_parts:
                if part in lowered:
                    break
            else:
                continue
        word = matcher.find(text)
        if word is None:
            continue
        try:
            own = {a.lower() for a in settings.brand(mention.brand).accounts.for_platform(str(mention.platform))}
        except KeyError:
            continue
        if mention.author.handle.lower() in own:
            continue  # the brand's own post
        candidates.append((row_id, mention, word))
    if not candidates:
        return []

    targets = {(str(m.platform), m.reply_to_id) for _, m, _ in candidates if m.reply_to_id}
    ours: set[tuple[str, str]] = set()
    if targets:
        ids = sorted({t[1] for t in targets})
        ours |= {(p, e) for p, e in session.execute(
            select(OutboxRow.platform, OutboxRow.external_id)
            .where(OutboxRow.external_id.in_(ids), OutboxRow.status == "sent")
        )}
        ours |= {(p, e) for p, e in session.execute(
            select(MentionRow.platform, MentionRow.external_id)
            .where(MentionRow.external_id.in_(ids), MentionRow.is_own.is_(True))
        )}

    rows: list[dict[str, Any]] = []
    for row_id, mention, word in candidates:
        answers_us = (str(mention.platform), mention.reply_to_id) in ours if mention.reply_to_id else False
        if not (answers_us or only_says(mention.text, word)):
            continue
        rows.append({
            "brand": mention.brand,
            "platform": str(mention.platform),
            "author_id": mention.author.id,
            "author_handle": mention.author.handle,
            "mention_id": row_id,
            "word": word,
            "posted_at": mention.created_at,
            "recorded_at": now,
        })
    if not rows:
        return []
    table = OptOutRow.__table__
    inserted = session.execute(
        _insert_ignore(session.get_bind().dialect.name).returning(
            table.c.id, table.c.brand, table.c.platform, table.c.author_id, table.c.author_handle,
            table.c.word, table.c.mention_id,
        ),
        rows,
    ).all()
    audit.record_many(session, [
        {"at": now, "actor": audit.SYSTEM, "action": "author.opted_out", "entity_type": "author",
         "entity_id": f"{r.platform}:{r.author_id}",
         "details": {"brand": r.brand, "handle": r.author_handle, "word": r.word, "mention_id": r.mention_id}}
        for r in inserted
    ])
    return sorted(r.id for r in inserted)


def list_opt_outs(session: Session, *, brand: str | None = None) -> list[OptOutRow]:
    q = select(OptOutRow)
    if brand:
        q = q.where(OptOutRow.brand == brand)
    return list(session.scalars(q.order_by(OptOutRow.posted_at, OptOutRow.id)))


def clear_opt_out(
    session: Session, *, brand: str, platform: str, handle: str, actor: str, now: datetime, reason: str | None = None
) -> list[OptOutRow]:
    """Lift an author's opt-out (the author asked to hear from the brand
    again). Audited ``author.opt_out_cleared``. Raises SafeguardError when
    there is none."""
    wanted = normalise_handle(handle)
    rows = list(session.scalars(
        select(OptOutRow).where(OptOutRow.brand == brand, OptOutRow.platform == platform,
                                func.lower(OptOutRow.author_handle) == wanted)
    ))
    if not rows:
        raise SafeguardError(f"{_who(platform, wanted)} has not opted out of {brand}'s replies on {platform}")
    session.execute(delete(OptOutRow).where(OptOutRow.id.in_([r.id for r in rows])))
    audit.record_many(session, [
        {"at": now, "actor": actor, "action": "author.opt_out_cleared", "entity_type": "author",
         "entity_id": f"{r.platform}:{r.author_id}",
         "details": {"brand": r.brand, "handle": r.author_handle, "word": r.word, "reason": reason}}
        for r in rows
    ])
    return rows


# ---------------------------------------------------------------------------
# Status
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountUsage:
    platform: str
    account: str | None
    last_hour: int
    last_day: int


@dataclass(frozen=True, slots=True)
class OutreachStatus:
    paused: dict[str, OutreachControlRow]  # scope → row, paused scopes only
    replies_by_status: dict[str, int]  # replies and follow-ups not yet out
    held_by_code: dict[str, int]
    accounts: tuple[AccountUsage, ...]
    quiet_until: datetime | None  # when the current quiet hours end; None: not quiet now
    opt_outs: int


def outreach_status(session: Session, *, settings: Settings, now: datetime) -> OutreachStatus:
    """What the kill switch, the holds and the caps look like now."""
    pending = dict(session.execute(
        select(OutboxRow.status, func.count())
        .where(OutboxRow.status.in_(("drafted", "approved", "held", "sending", "unknown", "manual")))
        .group_by(OutboxRow.status)
    ).all())
    held = dict(session.execute(
        select(func.coalesce(OutboxRow.hold_code, TEMPLATE), func.count())
        .where(OutboxRow.status == "held")
        .group_by(func.coalesce(OutboxRow.hold_code, TEMPLATE))
    ).all())
    out_at = func.coalesce(OutboxRow.sent_at, OutboxRow.claimed_at)
    usage: dict[tuple[str, str | None], list[int]] = {}
    for platform, account, at in session.execute(
        select(OutboxRow.platform, OutboxRow.account, out_at).where(
            OutboxRow.status.in_(OUT_STATUSES),
            or_(OutboxRow.sent_at > now - timedelta(days=1),
                and_(OutboxRow.sent_at.is_(None), OutboxRow.claimed_at > now - timedelta(days=1))),
        )
    ):
        counts = usage.setdefault((platform, account), [0, 0])
        counts[1] += 1
        if at is not None and at > now - timedelta(hours=1):
            counts[0] += 1
    quiet = settings.safeguards.quiet_hours
    return OutreachStatus(
        paused=paused_scopes(session),
        replies_by_status=pending,
        held_by_code=held,
        accounts=tuple(AccountUsage(p, a, h, d) for (p, a), (h, d) in sorted(usage.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))),
        quiet_until=quiet_until(quiet, now) if quiet is not None else None,
        opt_outs=session.scalar(select(func.count()).select_from(OptOutRow)) or 0,
    )
