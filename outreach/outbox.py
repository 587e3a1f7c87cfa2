"""The outbox: people's decisions on drafted posts, and sending at most once.

Life of an outbox row::

    drafted ──approve──▶ approved ──claim──▶ sending ──▶ sent
       │  ▲                 │  ▲                 │
       │  └──edit───────────┘  └─ retry_at ──────┤  (deferred: not_before)
       │                                         ├──▶ failed    (permanent; edit/approve to try again)
       └──reject──▶ rejected                     └──▶ unknown   (the post may exist; looked for,
                                                                 held when it cannot be settled)
    held: kept back with a reason (``hold_code``, ``hold_reason``): by its
          template when drafted, or by a send-time safeguard when claimed
          (see outreach/safeguards.py: a hold on a window — cooldown, quiet
          hours, caps — goes back to approved by itself when it passes);
          a person may edit, approve or reject it.
    manual: the platform does not let the bot post it (X's reply rule);
          a person answers by hand at the link in ``last_error``.

**Safeguards.** The send claim runs every safeguard in its transaction,
under the claim lock and before the conditional update (see
:func:`claim_for_send`): a paused switch leaves the row approved, a failed check holds
it. Audit events: ``reply.drafted``, ``reply.edited``, ``reply.approved``,
``reply.rejected`` (people or the reply policy), ``reply.held``,
``reply.released``, ``reply.sent``, ``reply.failed``, ``reply.deferred``,
``reply.unknown``, ``reply.manual``, ``reply.reconciled`` (the system).

**At most once.** Public posts cannot be undone, so a row is *claimed* before
the network is touched: ``UPDATE outbox SET status='sending', claimed_at=now
WHERE id=:id AND status='approved'`` in its own committed transaction, and
only the one process whose update changed one row calls the channel. Whatever
happens after the claim that is not a clear answer from the platform (a
timeout, a 5xx, a crash, a bug) leaves the row ``sending`` or ``unknown``;
such a row is never sent again blindly. :func:`send_approved` first
*reconciles* it: it asks the channel whether the post exists
(``find_sent``); found → ``sent``, not found → back to ``approved``.
A look-up that fails leaves it ``unknown``: after a rate limit until the
platform's reset, after another passing failure 1 minute, then twice as long
each time up to an hour (audited once, when the failures begin); a look-up
refused for good (credentials, permissions: 401/403) holds the reply for a
person (``lookup_failed``) with the error, which names the variables to check.
A resend refused as a duplicate of a post the account already has, after an
earlier send of it had an unknown outcome, is evidence that send went out: the
reply becomes ``unknown`` again and is looked for (since its first uncertain
attempt), and when still not found, held for a person (``platform_duplicate``),
never failed with advice to edit it (which would post it twice).
A post found is recorded as sent when the platform says it created it,
between the send attempt and the finding (:func:`posted_at`): that is the
first response the KPIs count, not the moment it was found.
An incident reply whose complaint a person unlinked meanwhile
(``incident unlink`` leaves replies on their way alone) is then held at its
send claim rather than posted with the incident's text
(:func:`outreach.incident_replies.unlinked_reply_hold`). An incident reply
giving the link of an incident cancelled since is held there whoever
approved it (``incident_cancelled``), and :func:`approve` refuses it unless
given a text of the person's own
(:func:`outreach.incident_replies.cancelled_incident_reply`); so is a second
incident reply to an author already pointed to that incident
(``incident_answered``, :func:`outreach.incident_replies.repeated_incident_reply`)
unless a person waived that hold for it; one written
before its incident resolved is re-drafted as "it's fixed"
(:func:`outreach.incident_replies.resolved_incident_redraft`).

A row is considered abandoned once it has been ``sending`` longer than the
grace period (:data:`SENDING_GRACE`); channels must bound their own network
timeouts well below it.

**Waiting.** A deferral (``SendError(retry_at=...)``, e.g. a 429) is the
platform's "not now" for the *sender*, not only for that reply: the reply
gets ``not_before``, and its sender's rate-limit key
(:func:`outreach.channels.base.rate_limit_key`: on X the access token, so
each brand account waits alone and accounts posting with the default token
wait together; on Reddit the account; a channel that names none waits as a
whole platform; an error may name a wider limit, as X's app-wide daily one
or Reddit's per-app request limit) waits
until then in ``send_waits``, in the same transaction, with the accounts
whose posts it holds back as this process's channel knows them (for readers
without channels: the digest, ``outreach status``). Every later run, in
any process and after a restart, leaves the replies of a waiting sender
approved and untouched (``waiting`` in the report; they are not counted
against the run's ``limit``) and logs who waits until when; other senders
go on. The send claim reads the waits again under the claim lock
(:func:`claim_for_send`), so a wait another process records during a run
holds this run's later posts of that sender too. A wait that is over is deleted at the start of the next send run
(:func:`forget_expired_waits`), or overwritten when the same limit is met again.

People's changes (:func:`approve`, :func:`reject`, :func:`edit`) run in the
caller's transaction, are conditional updates too (so they cannot overwrite a
row a sender has just claimed), and each records an audit event with the
actor and time. A change that is not allowed raises :class:`OutboxError`
saying why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import and_, delete, func, not_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.config import Settings
from brandpulse.db.models import AlertRow, AuditRow, MentionRow, OutboxRow, SendWaitRow
from brandpulse.types import shown_handle
from outreach import hand_replies, incident_replies, incidents, safeguards
from outreach.channels.base import (Channel, ManualReplyRequired, OutboundPost, SendError, SentPost, limited_accounts,
                                    rate_limit_key, waiting_account, x_reply_allowed)
from outreach.templating import length_problem

log = logging.getLogger(__name__)

AUDIT_ENTITY = "outbox"
SENDING_GRACE = timedelta(minutes=5)
# Reconciliation look-ups that fail for a while (5xx, no answer): tried again
# after LOOKUP_RETRY, then twice as long each time, up to LOOKUP_RETRY_MAX.
LOOKUP_RETRY = timedelta(minutes=1)
LOOKUP_RETRY_MAX = timedelta(hours=1)
# Hold codes set by reconciliation (a person decides; never released by itself):
DUPLICATE_HOLD = "platform_duplicate"  # refused as a duplicate after an uncertain send, and not found
LOOKUP_HOLD = "lookup_failed"  # the look-up itself is refused for good (credentials, permissions)

# Which states a person may act on.
APPROVABLE = ("drafted", "held", "failed")
REJECTABLE = ("drafted", "held", "approved", "failed")
EDITABLE = ("drafted", "held", "approved", "failed")

_WHY_NOT = {
    "sending": "it is being sent right now",
    "unknown": "it may already be posted (the platform did not confirm); it will be reconciled before anything else happens",
    "sent": "it has already been posted",
    "rejected": "it was rejected",
    "approved": "it is already approved",
    "manual": "it is marked to be answered by hand on the platform",
}


class OutboxError(Exception):
    """A state change on an outbox row that is not allowed, or a missing row."""


@dataclass(frozen=True, slots=True)
class SendReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0
    unknown: int = 0
    reconciled: int = 0
    held: int = 0  # stopped by a safeguard at claim time
    released: int = 0  # window holds put back to approved
    paused: int = 0  # due but left approved: the kill switch is on
    manual: int = 0  # the platform will not take it from the bot: answer by hand
    waiting: int = 0  # due but left approved: its sender waits for the platform (send_waits)

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, failed {self.failed}, deferred {self.deferred},"
            f" unknown {self.unknown}, reconciled {self.reconciled}, held {self.held},"
            f" released {self.released}, paused {self.paused}, manual {self.manual}, waiting {self.waiting}"
        )


# ---------------------------------------------------------------------------
# Changes by people
# ---------------------------------------------------------------------------


def _load(session: Session, outbox_id: int) -> OutboxRow:
    row = session.get(OutboxRow, outbox_id, populate_existing=True)
    if row is None:
        raise OutboxError(f"no reply with id {outbox_id}")
    return row


def _refuse(row: OutboxRow, verb: str, allowed: Iterable[str]) -> OutboxError:
    why = _WHY_NOT.get(row.status, f"it is {row.status}")
    return OutboxError(
        f"cannot {verb} reply {row.id}: {why} (status {row.status!r};"
        f" {verb} works on: {', '.join(allowed)})"
    )


def _change(session: Session, row: OutboxRow, verb: str, values: dict[str, Any]) -> None:
    """Apply ``values`` only if the row still has the status and text we read:
    a sender or another person may have acted in between."""
    seen_status, seen_text = row.status, row.text
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.status == seen_status, OutboxRow.text == seen_text)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        current = _load(session, row.id)
        raise OutboxError(
            f"cannot {verb} reply {row.id}: it changed while you were working on it"
            f" (was {seen_status!r}, now {current.status!r}); look at it again"
        )
    session.refresh(row)


def _clean_text(text: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise OutboxError("the reply text must not be empty")
    return cleaned


def text_problem(row: OutboxRow, text: str) -> str | None:
    """Why ``text`` cannot be posted as ``row`` (None: it fits): longer than
    its network takes (X as X counts, a Reddit comment 10,000; an incident's
    Reddit submission is a post, 40,000)."""
    if row.kind == "status" and row.platform == "reddit" and row.title is not None:
        limit = incidents.REDDIT_BODY_MAX
        over = len(text) - limit
        return f"{len(text)} characters, over the reddit post limit of {limit} by {over}" if over > 0 else None
    return length_problem(row.platform, text)


def _check_text(row: OutboxRow, text: str) -> None:
    """A text the network would refuse is never approved or stored: the
    person shortens it now rather than find it failed or held at send time."""
    problem = text_problem(row, text)
    if problem:
        raise OutboxError(f"reply {row.id}: the text is {problem}; shorten it (nothing was changed)")


def _check_incident_text(session: Session, row: OutboxRow, verb: str, text: str | None) -> None:
    """A reply giving a cancelled incident's link is never approved as it is
    (:func:`outreach.incident_replies.cancelled_incident_reply`): the person
    gives it a text of their own (``text``: ``approve --text``, or edited
    first), which must not give that incident's status link either. Nor is
    a second incident reply to an author already pointed to that incident
    (:func:`outreach.incident_replies.repeated_incident_reply`, hold code
    ``incident_answered``): approved as it is, the send claim would only hold
    it again, so approve refuses it, saying how to send it (its own text, or
    ``outreach waive ID incident_answered`` first)."""
    if text is None or text == row.text:
        if verb != "approve":
            return
        problem = incident_replies.cancelled_incident_reply(session, row)
        if problem is None:
            repeated = incident_replies.repeated_incident_reply(session, row)
            problem = repeated[0] if repeated is not None else None
        if problem is not None:
            raise OutboxError(f"cannot approve reply {row.id}: {problem} (nothing was changed)")
        return
    problem = incident_replies.cancelled_link_in(session, row, text)
    if problem is not None:
        raise OutboxError(f"cannot {verb} reply {row.id}: {problem} (nothing was changed)")


def approve(session: Session, outbox_id: int, *, actor: str, now: datetime, text: str | None = None) -> OutboxRow:
    """Approve a reply for sending; with ``text``, edit it first (both
    recorded). A text too long for its network is refused
    (:func:`text_problem`), given or stored."""
    row = _load(session, outbox_id)
    if row.status not in APPROVABLE:
        raise _refuse(row, "approve", APPROVABLE)
    previous_status, previous_text = row.status, row.text
    values: dict[str, Any] = {
        "status": "approved",
        "approved_by": actor,
        "approved_at": now,
        "hold_code": None,
        "hold_reason": None,
        "last_error": None,
        "not_before": None,
        "updated_at": now,
    }
    edited = False
    if text is not None:
        new_text = _clean_text(text)
        edited = new_text != previous_text
        values["text"] = new_text
    elif not previous_text.strip():
        reason = f" ({row.hold_reason})" if row.hold_reason else ""
        raise OutboxError(f"cannot approve reply {row.id}: it has no text{reason}; give the text to approve")
    _check_text(row, values.get("text", previous_text))
    _check_incident_text(session, row, "approve", values.get("text"))
    _change(session, row, "approve", values)
    if edited:
        audit.record(
            session, at=now, actor=actor, action="reply.edited", entity_type=AUDIT_ENTITY, entity_id=row.id,
            details={"previous_text": previous_text, "text": row.text, "previous_status": previous_status},
        )
    audit.record(
        session, at=now, actor=actor, action="reply.approved", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"previous_status": previous_status},
    )
    return row


def reject(session: Session, outbox_id: int, *, actor: str, now: datetime, reason: str | None = None) -> OutboxRow:
    """Reject a reply: it will never be sent."""
    row = _load(session, outbox_id)
    if row.status not in REJECTABLE:
        raise _refuse(row, "reject", REJECTABLE)
    previous_status = row.status
    _change(session, row, "reject", {"status": "rejected", "updated_at": now})
    audit.record(
        session, at=now, actor=actor, action="reply.rejected", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"previous_status": previous_status, "reason": reason},
    )
    return row


def edit(session: Session, outbox_id: int, *, actor: str, now: datetime, text: str) -> OutboxRow:
    """Change a reply's text. An approval is withdrawn (it was given to the old
    text): an approved or failed reply goes back to ``drafted``; a held one
    stays held. A text too long for its network is refused (:func:`text_problem`)."""
    row = _load(session, outbox_id)
    if row.status not in EDITABLE:
        raise _refuse(row, "edit", EDITABLE)
    new_text = _clean_text(text)
    _check_text(row, new_text)
    _check_incident_text(session, row, "edit", new_text)
    previous_status, previous_text = row.status, row.text
    status = "held" if previous_status == "held" else "drafted"
    _change(
        session, row, "edit",
        {"text": new_text, "status": status, "approved_by": None, "approved_at": None, "updated_at": now},
    )
    audit.record(
        session, at=now, actor=actor, action="reply.edited", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"previous_text": previous_text, "text": new_text, "previous_status": previous_status, "status": status},
    )
    return row


# ---------------------------------------------------------------------------
# Sending
# ---------------------------------------------------------------------------


def _post_for(row: OutboxRow, mention: MentionRow | None = None) -> OutboundPost:
    addressed = tuple(h.lower() for h in (mention.addressed_handles or ())) if mention is not None else None
    return OutboundPost(
        outbox_id=row.id,
        platform=row.platform,
        brand=row.brand,
        account=row.account,
        text=row.text,
        in_reply_to=row.in_reply_to,
        kind=row.kind,
        title=row.title,  # Reddit submissions (incident status posts)
        community=row.community,
        addressed_handles=addressed,
    )


def x_reply_by_hand_note(session: Session, row: OutboxRow) -> str | None:
    """What a person deciding on ``row`` should know when X's reply rule
    (:func:`~outreach.channels.base.x_reply_allowed`, as the send path applies
    it to the post it would send) will not let the bot post it: the reply
    becomes ``manual``, with the link to answer by hand, only when a send run
    reaches it. None for a reply the rule allows, one not waiting for a
    decision or a send, and one whose account is not known yet."""
    if row.platform != "x" or row.status not in ("drafted", "held", "approved") or not row.account:
        return None
    mention = session.get(MentionRow, row.mention_id) if row.mention_id is not None else None
    if x_reply_allowed(_post_for(row, mention), account=row.account):
        return None
    account = shown_handle(row.platform, row.account)
    then = ("the next send run gives its link, then post it by hand" if row.status == "approved"
            else "approve it to get its link, then post it by hand")
    return f"X lets no app answer this post (it does not @mention or quote {account}): {then}"


@dataclass(frozen=True, slots=True)
class ClaimResult:
    """What a send claim came to: a post to send, a hold, a pause, or nothing
    (another process or a person got there first, or it is not due)."""

    post: OutboundPost | None = None
    hold: safeguards.Hold | None = None
    paused_by: str | None = None  # the paused scope ("*" or a brand id)
    waits_until: datetime | None = None  # left approved: its sender waits for the platform (send_waits)


def claim_for_send(
    session_factory: Callable[[], Session],
    outbox_id: int,
    *,
    now: datetime,
    settings: Settings | None = None,
    channel: Channel | None = None,
) -> ClaimResult:
    """Claim an approved, due row for sending, in one committed transaction:
    take the claim lock, read the row and the mention it answers, check the
    kill switch, that its sender does not wait for the platform (with
    ``channel``, the one that would send it: its
    :func:`~outreach.channels.base.rate_limit_key` for the row's account, or
    the platform's, has no live wait in ``send_waits``) and every safeguard
    (:func:`outreach.safeguards.check`), then claim it by conditional update.
    A paused switch or a waiting sender leaves the row as it is; a failed
    safeguard holds it (``reply.held``). ``settings`` gives the configured
    safeguards and the brand's accounts; without it the defaults apply and
    the brand's own posts are known only by the stored mention's ``is_own``
    flag.

    The wait is read under the claim lock: a wait another process recorded
    before this claim began is seen, however long ago this process read the
    waits for its run, so no process spends a request against a limit the
    platform has already reported (only requests already on their way when
    the answer came can still meet it)."""
    with session_factory() as session, session.begin():
        safeguards.lock_claims(session)
        found = session.execute(
            select(OutboxRow, MentionRow)
            .outerjoin(MentionRow, MentionRow.id == OutboxRow.mention_id)
            .where(OutboxRow.id == outbox_id)
        ).first()
        if found is None:
            return ClaimResult()
        row, mention = found
        if row.status != "approved" or (row.not_before is not None and row.not_before > now):
            return ClaimResult()
        pause = safeguards.pause_for(session, row.brand)
        if pause is not None:
            return ClaimResult(paused_by=pause.scope)
        if channel is not None:
            until = wait_until(session, row.platform, key=rate_limit_key(channel, account=row.account), now=now)
            if until is not None:
                return ClaimResult(waits_until=until)
        # A status post of an incident cancelled while it was on its way (found not posted): withdrawn.
        cancelled = incidents.cancelled_status_post(session, row)
        if cancelled is not None:
            _withdraw(session, row, cancelled, now=now)
            return ClaimResult()
        # Incident status posts: wait for the earlier one, then reply to it (outreach/incidents.py).
        thread = incidents.thread_values(session, outbox_id)
        if thread is None:
            return ClaimResult()
        # An incident reply giving the link of an incident cancelled since:
        # never sent as it is, whoever approved it, whenever.
        cancelled_reply = incident_replies.cancelled_incident_reply(session, row)
        if cancelled_reply is not None:
            verdict = safeguards.Hold((safeguards.Violation(incident_replies.CANCELLED_HOLD, cancelled_reply),))
            _hold_unlinked(session, row, verdict, now=now, details={"cancelled": True, "incident_id": row.incident_id})
            return ClaimResult(hold=verdict)
        # An incident reply whose complaint was unlinked while it was on its
        # way (reconciliation found it not posted): not sent with the incident's text.
        unlinked = incident_replies.unlinked_reply_hold(session, row, settings=settings, now=now)
        if unlinked is not None:
            verdict = safeguards.Hold((safeguards.Violation(incident_replies.MOVED_HOLD, unlinked),))
            _hold_unlinked(session, row, verdict, now=now)
            return ClaimResult(hold=verdict)
        # An incident reply written before its incident resolved ("we're on
        # it"), on its way then: re-drafted as "it's fixed"; the reply policy
        # decides whether the new text goes now.
        resolved = incident_replies.resolved_incident_redraft(session, row, settings=settings, now=now)
        if resolved is not None:
            what, reason = resolved
            if what == "hold":
                verdict = safeguards.Hold((safeguards.Violation(incident_replies.MOVED_HOLD, reason),))
                _hold_unlinked(session, row, verdict, now=now, details={"resolved": True})
                return ClaimResult(hold=verdict)
            if what == "changed" or row.status != "approved":
                return ClaimResult()  # a person changed it meanwhile, or the new text waits for one
        # A second incident reply to an author already pointed to that incident
        # (another thread, another post): held for a person, not sent again.
        repeated = incident_replies.repeated_incident_reply(session, row)
        if repeated is not None:
            reason, earlier_id = repeated
            verdict = safeguards.Hold((safeguards.Violation(incident_replies.REPEATED_HOLD, reason),))
            _hold_unlinked(session, row, verdict, now=now,
                           details={"incident_id": row.incident_id, "earlier_reply": earlier_id})
            return ClaimResult(hold=verdict)
        verdict = safeguards.check(session, row, mention, settings=settings, now=now)
        if verdict is not None:
            safeguards.hold(session, row, verdict, now=now)
            return ClaimResult(hold=verdict)
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.status == "approved")
            .values(status="sending", claimed_at=now, updated_at=now, attempts=OutboxRow.attempts + 1, **thread)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return ClaimResult()
        session.refresh(row)
        return ClaimResult(post=_post_for(row, mention))


def _withdraw(session: Session, row: OutboxRow, reason: str, *, now: datetime) -> None:
    """Reject an approved row at its send claim (audited ``reply.rejected``
    by brandpulse, with ``reason``): what it says is no longer true."""
    result = session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.status == "approved")
        .values(status="rejected", updated_at=now).execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        audit.record(session, at=now, actor=audit.SYSTEM, action="reply.rejected", entity_type=AUDIT_ENTITY,
                     entity_id=row.id, details={"previous_status": "approved", "reason": reason})


def _held(code: str, reason: str, *, now: datetime) -> dict[str, Any]:
    """The columns that hold a reply for a person (``code``, ``reason``),
    any approval withdrawn: the send claim's incident holds and
    reconciliation's (:data:`DUPLICATE_HOLD`, :data:`LOOKUP_HOLD`) set them."""
    return {"status": "held", "hold_code": code, "hold_reason": reason, "not_before": None, "approved_by": None,
            "approved_at": None, "needs_approval": True, "updated_at": now}


def _hold_unlinked(session: Session, row: OutboxRow, verdict: safeguards.Hold, *, now: datetime,
                   details: Mapping[str, Any] | None = None) -> None:
    """Hold an approved incident reply whose complaint was unlinked
    (:func:`outreach.incident_replies.unlinked_reply_hold`), whose incident
    was cancelled (:func:`outreach.incident_replies.cancelled_incident_reply`),
    or whose author was already pointed to its incident
    (:func:`outreach.incident_replies.repeated_incident_reply`),
    its approval withdrawn as an unlink's re-draft does: it was given to the
    incident's text, so a person decides. Audited ``reply.held`` (with
    ``details``; default ``unlinked``)."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == row.id, OutboxRow.status == "approved")
        .values(**_held(verdict.code, verdict.reason, now=now))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return
    audit.record(session, at=now, actor=audit.SYSTEM, action="reply.held", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details={"code": verdict.code, "reason": verdict.reason, "codes": [verdict.code],
                                            "previous_status": "approved", "previous_approved_by": row.approved_by,
                                            **(details or {"unlinked": True})})


def claim(
    session_factory: Callable[[], Session],
    outbox_id: int,
    *,
    now: datetime,
    from_status: str = "approved",
    stale_before: datetime | None = None,
    settings: Settings | None = None,
) -> OutboundPost | None:
    """Claim one row for sending (or reconciling) in its own committed
    transaction. Returns the post to send, or None when another process got
    there first (the conditional update changed no row), the kill switch is
    on, or a safeguard held it.

    ``from_status="approved"`` is the send claim (respects ``not_before``,
    the kill switch and the safeguards, counts an attempt: see
    :func:`claim_for_send`); ``"unknown"`` and ``"sending"`` (with
    ``stale_before``) are reconciliation claims, which post nothing.
    """
    if from_status == "approved":
        return claim_for_send(session_factory, outbox_id, now=now, settings=settings).post
    conditions = [OutboxRow.id == outbox_id, OutboxRow.status == from_status]
    values: dict[str, Any] = {"status": "sending", "claimed_at": now, "updated_at": now}
    if from_status == "sending":
        if stale_before is None:
            raise ValueError("re-claiming a row that is sending needs stale_before")
        conditions.append(or_(OutboxRow.claimed_at.is_(None), OutboxRow.claimed_at <= stale_before))
    with session_factory() as session, session.begin():
        result = session.execute(
            update(OutboxRow).where(*conditions).values(**values).execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        row, mention = session.execute(
            select(OutboxRow, MentionRow)
            .outerjoin(MentionRow, MentionRow.id == OutboxRow.mention_id)
            .where(OutboxRow.id == outbox_id)
        ).one()
        return _post_for(row, mention)


def _event(action: str, outbox_id: int, now: datetime, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"at": now, "actor": audit.SYSTEM, "action": action, "entity_type": AUDIT_ENTITY,
            "entity_id": outbox_id, "details": details}


def _mark_sent(session: Session, post: OutboundPost, sent: SentPost, *, now: datetime,
               settings: Settings | None = None, posted_at: datetime | None = None) -> bool:
    """Record ``post`` as sent at ``posted_at`` (default ``now``: the platform
    has just answered; reconciliation gives when the post went out, see
    :func:`posted_at`), and make it the first response of the customer
    message its alert awaits."""
    posted_at = now if posted_at is None else posted_at
    # Whatever state a late answer finds the row in, the post exists: record it.
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == post.outbox_id, OutboxRow.status != "sent")
        .values(status="sent", external_id=sent.external_id, external_url=sent.url, sent_at=posted_at,
                last_error=None, not_before=None, hold_code=None, hold_reason=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        log.error("outbox %s: posted as %s but the row was already marked sent", post.outbox_id, sent.external_id)
        return False
    alert_id, written_at = session.execute(
        select(OutboxRow.alert_id, MentionRow.created_at)
        .outerjoin(MentionRow, MentionRow.id == OutboxRow.mention_id)
        .where(OutboxRow.id == post.outbox_id)
    ).one()
    if alert_id is not None and post.kind == "reply":
        # The first response of the customer message the alert awaits (its
        # round, rules/alerts.py), unless the reply answers a post written
        # before that message (a person waived one_per_thread): an earlier
        # round, which was answered before it ended.
        awaited = [AlertRow.id == alert_id, AlertRow.first_response_at.is_(None)]
        if written_at is not None:
            awaited.append(or_(AlertRow.round_opened_at.is_(None), AlertRow.round_opened_at <= written_at))
        answered = session.execute(
            update(AlertRow)
            .where(*awaited)
            .values(first_response_at=posted_at)
            .execution_options(synchronize_session=False)
        ).rowcount == 1
        if answered and posted_at < now and settings is not None:
            # Found late (reconciliation): a post the customer wrote after it went
            # out, read meanwhile, is a new message waiting for a reply.
            hand_replies.restart_if_wrote_again(session, alert_id, answered_at=posted_at, settings=settings, now=now)
    if post.kind == "status":
        # The incident's link on this network; its first post there re-drafts the linked replies to give it.
        incidents.record_sent(session, post.outbox_id, sent, now=now, settings=settings)
    return True


def _settle(session: Session, post: OutboundPost, *, claimed_at: datetime, values: dict[str, Any]) -> bool:
    """Record the outcome of our own claim, unless someone has re-claimed the row since."""
    result = session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == post.outbox_id, OutboxRow.status == "sending", OutboxRow.claimed_at == claimed_at)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        log.warning("outbox %s: outcome %s not recorded: the row was re-claimed meanwhile", post.outbox_id, values)
        return False
    return True


@dataclass(frozen=True, slots=True)
class SendWait:
    """A platform's "not now" for one sending identity (see the module's
    docstring, *Waiting*)."""

    platform: str
    identity: str  # the channel's rate-limit key; the platform's name: every identity on it
    until: datetime
    account: str | None  # the account whose post got the answer
    reason: str | None  # the platform's answer
    # the accounts whose posts wait with it (limited_accounts; None: recorded before migration 0010)
    accounts: tuple[str, ...] | None = None

    def holds(self, platform: str, account: str | None) -> bool:
        """Whether this wait holds back a post as ``account`` (None: naming
        none) on ``platform``: every post on it when the whole platform
        waits, else the posts of the accounts recorded with it (a wait
        recorded without them: the answered account's)."""
        if platform != self.platform:
            return False
        covered = self.accounts if self.accounts is not None else (waiting_account(self.account),)
        return self.identity == self.platform or waiting_account(account) in covered

    def also_held(self) -> list[str]:
        """The other accounts recorded as waiting with it, as people read
        them (``@AcmeCargo``, ``posts naming no account``)."""
        others = [a for a in self.accounts or () if a != waiting_account(self.account)]
        return [shown_handle(self.platform, a) if a else "posts naming no account" for a in others]

    def who(self) -> str:
        """The waiting sender, for people: the account whose post got the
        answer, and the limit (every account that posts with it waits)."""
        handle = _handle(self.platform, self.account)
        if self.identity == self.platform:
            return f"{self.platform}, every account (answered to {handle})"
        if self.identity == handle.lower():  # the account's own limit (Reddit)
            return f"{self.platform} {handle}"
        return f"{self.platform} {handle} (token {self.identity})"


def _handle(platform: str, account: str | None) -> str:
    if not account:
        return "(default account)"
    return shown_handle(platform, account)


def current_waits(session: Session, *, now: datetime) -> list[SendWait]:
    """The senders that wait for their platform now, soonest first."""
    rows = session.scalars(
        select(SendWaitRow).where(SendWaitRow.until > now).order_by(SendWaitRow.until, SendWaitRow.platform,
                                                                     SendWaitRow.identity)
    ).all()
    return [SendWait(r.platform, r.identity, r.until, r.account, r.reason,
                     None if r.accounts is None else tuple(r.accounts)) for r in rows]


def forget_expired_waits(session: Session, *, now: datetime) -> int:
    """Delete the waits that are over (``until`` reached): nothing reads them
    any more. Runs at the start of every send run (the only place waits are
    recorded); returns how many were deleted."""
    return session.execute(
        delete(SendWaitRow).where(SendWaitRow.until <= now).execution_options(synchronize_session=False)
    ).rowcount or 0


def wait_until(session: Session, platform: str, *, key: str, now: datetime) -> datetime | None:
    """Until when a post on ``platform`` whose sender's rate-limit key is
    ``key`` waits, as the database says now (None: it may go): the latest
    live wait recorded for that key or for the whole platform."""
    return session.scalar(
        select(func.max(SendWaitRow.until))
        .where(SendWaitRow.platform == platform, SendWaitRow.identity.in_((platform, key)), SendWaitRow.until > now)
    )


def _record_wait(session: Session, *, platform: str, identity: str, until: datetime, account: str | None,
                 reason: str, now: datetime, accounts: list[str]) -> None:
    """Remember, for every sender (process) of this database, that
    ``identity`` may not post on ``platform`` before ``until`` (the latest
    answer from the platform wins), holding back the posts of ``accounts``
    (:func:`~outreach.channels.base.limited_accounts`). Waits that are over
    are deleted once per send run, at its start (:func:`send_approved`), not
    here."""
    dialect = session.get_bind().dialect.name
    make = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}.get(dialect)
    if make is None:
        raise NotImplementedError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")
    values = {"until": until, "account": account, "reason": reason, "updated_at": now, "accounts": accounts}
    stmt = make(SendWaitRow).values(platform=platform, identity=identity, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["platform", "identity"], set_=values))


def _send_one(session_factory, post: OutboundPost, channel: Channel, *, now: datetime,
              settings: Settings | None = None) -> tuple[str, datetime | None, str | None]:
    """Send a claimed post and record the outcome. Returns (outcome,
    retry_at, the rate-limit key that waits until retry_at). A deferral
    also records, in the same transaction, that the limit it hit waits
    (the post's sender's, :func:`rate_limit_key`, unless the error names
    another)."""
    manual_url: str | None = None
    waits: str | None = None
    try:
        sent = channel.send(post)
    except ManualReplyRequired as exc:
        message = str(exc) or type(exc).__name__
        manual_url = exc.url
        outcome, values, retry_at = "manual", {"status": "manual", "last_error": message}, None
    except SendError as exc:
        message = str(exc) or type(exc).__name__
        if exc.duplicate and not exc.outcome_unknown:
            # A duplicate of a post the account has: after an earlier send of this
            # reply whose outcome was unknown, most likely that post. Looked for,
            # never edited and posted a second time.
            with session_factory() as session:
                earlier = first_uncertain_attempt(session, post.outbox_id)
            if earlier is not None:
                outcome, retry_at = "unknown", None
                values = {"status": "unknown", "hold_code": DUPLICATE_HOLD, "not_before": None,
                          "last_error": f"{message}; an earlier send of this reply had an unknown outcome, so it is"
                                        f" most likely that post: it is looked for on {post.platform} before anything"
                                        " else, never posted again"}
            else:
                outcome, retry_at = "failed", None
                values = {"status": "failed", "last_error": f"{message}; edit the text to post it"}
        elif exc.outcome_unknown or not (exc.permanent or exc.retry_at):
            outcome, values, retry_at = "unknown", {"status": "unknown", "last_error": message, "not_before": None}, None
        elif exc.permanent:
            outcome, values, retry_at = "failed", {"status": "failed", "last_error": message}, None
        else:
            retry_at = exc.retry_at
            waits = exc.limit_key or rate_limit_key(channel, account=post.account)
            outcome, values = "deferred", {"status": "approved", "not_before": retry_at, "last_error": message}
    except Exception as exc:  # noqa: BLE001 - after a claim, any surprise means "may have been posted"
        log.exception("outbox %s: unexpected error while sending on %s", post.outbox_id, post.platform)
        outcome, values, retry_at = "unknown", {"status": "unknown", "last_error": f"{type(exc).__name__}: {exc}",
                                                "not_before": None}, None
    else:
        with session_factory() as session, session.begin():
            if _mark_sent(session, post, sent, now=now, settings=settings):
                audit.record_many(session, [_event("reply.sent", post.outbox_id, now,
                                                   {"external_id": sent.external_id, "url": sent.url})])
        return "sent", None, None
    with session_factory() as session, session.begin():
        if waits is not None:  # a deferral: retry_at is set
            # The limit is the sender's, whatever became of this reply meanwhile:
            # everything it posts waits, in every process, until the platform said.
            _record_wait(session, platform=post.platform, identity=waits, until=retry_at, account=post.account,
                         reason=values["last_error"], now=now,
                         accounts=limited_accounts(channel, waits, account=post.account))
        if _settle(session, post, claimed_at=now, values={**values, "updated_at": now}):
            details: dict[str, Any] = {"error": values["last_error"]}
            if manual_url is not None:
                details["url"] = manual_url
            if retry_at is not None:
                details["retry_at"] = retry_at.isoformat()
            if waits is not None:
                details.update(account=post.account, waits=waits)
            audit.record_many(session, [_event(f"reply.{outcome}", post.outbox_id, now, details)])
    _log_outcome(post, outcome, values["last_error"])
    if waits is not None:
        wait = SendWait(post.platform, waits, retry_at, post.account, values["last_error"])
        log.warning("%s: waits until %s UTC, with every reply it posts (reply %s: %s)", wait.who(),
                    retry_at.strftime("%Y-%m-%d %H:%M:%S"), post.outbox_id, values["last_error"])
    return outcome, retry_at, waits


# What a person must know about a reply that did not go out, as `brandpulse run` logs it
# (warnings only reach its terminal): the audit trail alone is not read while it runs.
_OUTCOME_LOG = {
    "failed": "failed, not retried",
    "manual": "is for a person to post",
    "unknown": "may have been posted; it is looked for on the platform before any resend",
}


def _log_outcome(post: OutboundPost, outcome: str, message: str) -> None:
    """Log a failed, manual or unknown send as a warning naming the reply, its
    network and account, and the channel's reason (which names credential
    variables, never their values)."""
    says = _OUTCOME_LOG.get(outcome)
    if says is not None:
        log.warning("reply %s (%s as %s) %s: %s", post.outbox_id, post.platform, _handle(post.platform, post.account),
                    says, message)


def posted_at(found: SentPost, *, attempted_at: datetime | None, now: datetime) -> datetime:
    """When a post that reconciliation found went out: the time the platform
    says it created it (``found.created_at``), no earlier than the send
    attempt (``attempted_at``, the send claim; a clock skewed between us and
    the platform, or X's whole seconds, may put it a little before) and no
    later than ``now``, when it was found; ``now`` when the platform gave no
    time."""
    if found.created_at is None:
        return now
    at = min(found.created_at, now)
    return at if attempted_at is None else max(at, min(attempted_at, now))


def first_uncertain_attempt(session: Session, outbox_id: int) -> datetime | None:
    """When the first send of this reply whose outcome was uncertain was
    attempted (:func:`first_uncertain_attempts`), None if there was none."""
    return first_uncertain_attempts(session, [outbox_id]).get(outbox_id)


def first_uncertain_attempts(session: Session, outbox_ids: Iterable[int]) -> dict[int, datetime]:
    """For each of ``outbox_ids`` that had one, when the first send of that
    reply whose outcome was uncertain was attempted (its ``reply.unknown``
    events, and the attempts that reconciliations recorded: a send cut short
    by a crash). Any post of it on the platform is no older. One SELECT,
    none for no ids."""
    keys = sorted({str(outbox_id) for outbox_id in outbox_ids})
    if not keys:
        return {}
    events = session.execute(
        select(AuditRow.entity_id, AuditRow.action, AuditRow.at, AuditRow.details)
        .where(AuditRow.entity_type == AUDIT_ENTITY, AuditRow.entity_id.in_(keys),
               AuditRow.action.in_(("reply.unknown", "reply.reconciled")))
    ).all()
    first: dict[int, datetime] = {}
    for entity_id, action, at, details in events:
        attempted = (details or {}).get("attempted_at") if action == "reply.reconciled" else None
        try:
            when = datetime.fromisoformat(attempted) if attempted else at
        except (TypeError, ValueError):
            when = at
        outbox_id = int(entity_id)
        if outbox_id not in first or when < first[outbox_id]:
            first[outbox_id] = when
    return first


def _lookup_failed(session_factory, post: OutboundPost, exc: Exception, *, now: datetime,
                   attempted_at: datetime | None, previous_delay: timedelta | None,
                   duplicate: bool) -> datetime | None:
    """Record a reconciliation look-up that failed; the reply stays uncertain.
    A rate limit (``retry_at``) waits until the platform's reset; another
    passing failure is tried again after :data:`LOOKUP_RETRY`, then twice as
    long each time up to :data:`LOOKUP_RETRY_MAX` (``previous_delay``: the
    wait after the previous failure, None if the last look-up did not fail);
    a permanent one (credentials, permissions) holds the reply for a person
    with the error, which names the variables to check. Audited once per
    change of state, not per attempt. Returns the rate limit's ``retry_at``."""
    error = str(exc) or type(exc).__name__
    message = f"reconciliation failed: {type(exc).__name__}: {error}"
    values: dict[str, Any] = {"last_error": message, "updated_at": now}
    if attempted_at is not None:
        values["claimed_at"] = attempted_at
    retry_at = None
    if isinstance(exc, SendError) and exc.permanent:
        why = (f"{post.platform} refused a resend as a duplicate of a post the account already has, and"
               if duplicate else "an earlier send had an unknown outcome, so it may already be posted, and")
        reason = (f"{why} looking for it on {post.platform} is refused: {error}. Fix that, then look for this reply on"
                  f" {post.platform}: if it is there, reject it here; if not, approve it to send it")
        values.update(_held(LOOKUP_HOLD, reason, now=now))
        event = _event("reply.held", post.outbox_id, now, {"code": LOOKUP_HOLD, "reason": reason, "error": message,
                                                           "previous_status": "unknown"})
        log.warning("reply %s (%s as %s) held for a person: %s", post.outbox_id, post.platform,
                    _handle(post.platform, post.account), reason)
    else:
        if isinstance(exc, SendError) and exc.retry_at is not None:
            retry_at = max(exc.retry_at, now + timedelta(seconds=1))
            not_before = retry_at
        elif previous_delay is None:
            not_before = now + LOOKUP_RETRY
        else:
            not_before = now + min(max(2 * previous_delay, LOOKUP_RETRY), LOOKUP_RETRY_MAX)
        values.update(status="unknown", not_before=not_before)
        details = {"error": message, "retry_at": not_before.isoformat()}
        event = _event("reply.reconcile_failed", post.outbox_id, now, details) if previous_delay is None else None
        (log.warning if previous_delay is None else log.info)(
            "outbox %s: reconciliation failed (looked for again at %s UTC): %s", post.outbox_id,
            not_before.strftime("%Y-%m-%d %H:%M:%S"), message)
    with session_factory() as session, session.begin():
        if _settle(session, post, claimed_at=now, values=values) and event is not None:
            audit.record_many(session, [event])
    return retry_at


def _reconcile_one(session_factory, post: OutboundPost, channel: Channel, *, now: datetime,
                   settings: Settings | None = None, attempted_at: datetime | None = None,
                   previous_delay: timedelta | None = None, duplicate: bool = False) -> tuple[bool, datetime | None]:
    """Look for a claimed post on the platform. Returns whether the row was
    settled, and until when the look-up's rate limit waits (None: it did not
    meet one). ``attempted_at``: when the send whose outcome is uncertain
    was claimed (the row's ``claimed_at`` before this reconciliation claimed
    it); ``post.first_attempt_at``, when the first uncertain send was (the
    channel reads only posts since then). A post found is recorded as sent
    when it went out (:func:`posted_at`, no earlier than the first uncertain
    attempt), so the first-response KPIs do not count the time until it was
    found. A failed look-up puts ``attempted_at`` back, so the next
    reconciliation still has it (:func:`_lookup_failed`; ``previous_delay``:
    the wait after the previous failed look-up). ``duplicate``: the platform
    refused a resend as a duplicate (hold code :data:`DUPLICATE_HOLD`): not
    found, it is held for a person, not sent again."""
    try:
        found = channel.find_sent(post)
    except Exception as exc:  # noqa: BLE001 - cannot tell yet: stays unknown (or held when it cannot be looked for)
        return False, _lookup_failed(session_factory, post, exc, now=now, attempted_at=attempted_at,
                                     previous_delay=previous_delay, duplicate=duplicate)
    earliest = post.first_attempt_at or attempted_at
    with session_factory() as session, session.begin():
        if found is not None:
            went_out = posted_at(found, attempted_at=earliest, now=now)
            if not _mark_sent(session, post, found, now=now, settings=settings, posted_at=went_out):
                return False, None
            audit.record_many(session, [
                _event("reply.reconciled", post.outbox_id, now, {"outcome": "found", "external_id": found.external_id}),
                _event("reply.sent", post.outbox_id, now, {"external_id": found.external_id, "url": found.url,
                                                           "via": "reconciliation", "posted_at": went_out.isoformat()}),
            ])
            return True, None
        not_found: dict[str, Any] = {"outcome": "not_found"}
        if attempted_at is not None:
            not_found["attempted_at"] = attempted_at.isoformat()
        if duplicate:
            reason = (f"{post.platform} reports this reply as a duplicate of a post the account already has (it refused"
                      " to post it again after an earlier send whose outcome was unknown), but that post was not found"
                      f" among the account's posts since the first attempt: look for it on {post.platform}; if it is"
                      " there, reject this reply; approving it again only asks the platform again")
            values = _held(DUPLICATE_HOLD, reason, now=now)
            if attempted_at is not None:
                values["claimed_at"] = attempted_at
            if not _settle(session, post, claimed_at=now, values=values):
                return False, None
            audit.record_many(session, [
                _event("reply.reconciled", post.outbox_id, now, not_found),
                _event("reply.held", post.outbox_id, now, {"code": DUPLICATE_HOLD, "reason": reason,
                                                           "previous_status": "unknown"}),
            ])
            log.warning("reply %s (%s as %s) held for a person: %s", post.outbox_id, post.platform,
                        _handle(post.platform, post.account), reason)
            return True, None
        if not _settle(session, post, claimed_at=now, values={"status": "approved", "not_before": None, "updated_at": now}):
            return False, None
        audit.record_many(session, [_event("reply.reconciled", post.outbox_id, now, not_found)])
        return True, None


def _waits(waiting: Mapping[tuple[str, str], datetime], platform: str, channel: Channel,
           account: str | None) -> datetime | None:
    """Until when a post as ``account`` on ``platform`` waits (None: it may
    go): its sender's limit, or one every sender on the platform shares."""
    untils = [u for u in (waiting.get((platform, rate_limit_key(channel, account=account))),
                          waiting.get((platform, platform))) if u is not None]
    return max(untils) if untils else None


def send_approved(
    session_factory: Callable[[], Session],
    *,
    channels: Mapping[str, Channel],
    now: datetime,
    limit: int = 50,
    sending_grace: timedelta = SENDING_GRACE,
    settings: Settings | None = None,
) -> SendReport:
    """Release window holds that have passed, reconcile uncertain rows, then
    send up to ``limit`` approved rows that are due, each claimed first with
    the kill switch and every safeguard checked (``settings`` gives the
    configured safeguards; see :func:`claim_for_send`; and the incident
    templates: an incident's first status post on a network re-drafts its
    linked replies to give the thread's link, see
    :func:`outreach.incidents.record_sent`). Rows for a platform
    without a channel are left as they are (and logged), and so are a paused
    brand's (counted ``paused``): neither takes any of the run's ``limit``
    places, so they cannot hold back the brands that may post. After a platform
    asks a sender to wait (``retry_at``), every row that sender would post
    waits until then, in this run and later ones (module docstring,
    *Waiting*); other senders' rows go on. While the kill switch is on,
    nothing is claimed for sending (uncertain rows are still looked up: that
    posts nothing)."""
    counts = {k: 0 for k in SendReport.__dataclass_fields__}
    stale_before = now - sending_grace

    with session_factory() as session, session.begin():
        counts["released"] = len(safeguards.release_due_holds(session, now=now))
        forget_expired_waits(session, now=now)  # housekeeping: a wait that is over is never read again

    with session_factory() as session:
        uncertain = session.execute(
            select(OutboxRow.id, OutboxRow.status, OutboxRow.platform, OutboxRow.account, OutboxRow.claimed_at,
                   OutboxRow.not_before, OutboxRow.updated_at, OutboxRow.hold_code)
            .where(
                or_(
                    # a failed look-up waits (not_before) before the next one
                    (OutboxRow.status == "unknown") & or_(OutboxRow.not_before.is_(None), OutboxRow.not_before <= now),
                    (OutboxRow.status == "sending")
                    & or_(OutboxRow.claimed_at.is_(None), OutboxRow.claimed_at <= stale_before),
                )
            )
            .order_by(OutboxRow.id)
            .limit(limit)
        ).all()
        firsts = first_uncertain_attempts(session, [row[0] for row in uncertain])
    lookups_wait: dict[tuple[str, str], datetime] = {}  # look-ups rate limited in this run: not tried again in it
    for outbox_id, status, platform, account, attempted_at, not_before, updated_at, hold_code in uncertain:
        channel = channels.get(platform)
        if channel is None:
            log.warning("outbox %s: no channel for platform %r; cannot reconcile", outbox_id, platform)
            continue
        key = rate_limit_key(channel, account=account)
        if any(lookups_wait.get((platform, k), now) > now for k in (key, platform)):
            continue  # its look-up would meet the same limit: next run
        post = claim(session_factory, outbox_id, now=now, from_status=status,
                     stale_before=stale_before if status == "sending" else None)
        if post is None:
            continue  # another process is on it
        first = firsts.get(outbox_id)
        if attempted_at is not None and (first is None or attempted_at < first):
            first = attempted_at
        previous_delay = (not_before - updated_at if status == "unknown" and not_before is not None
                          and updated_at is not None and not_before > updated_at else None)
        settled, lookup_wait = _reconcile_one(
            session_factory, replace(post, first_attempt_at=first), channel, now=now, settings=settings,
            attempted_at=attempted_at, previous_delay=previous_delay, duplicate=hold_code == DUPLICATE_HOLD)
        if settled:
            counts["reconciled"] += 1
        if lookup_wait is not None:
            lookups_wait[(platform, key)] = lookup_wait

    with session_factory() as session:
        paused = safeguards.paused_scopes(session)
        is_due = and_(OutboxRow.status == "approved",
                      or_(OutboxRow.not_before.is_(None), OutboxRow.not_before <= now))
        waiting: dict[tuple[str, str], datetime] = {
            (w.platform, w.identity): w.until for w in current_waits(session, now=now)
        }
        # Accounts whose sender waits are left out of this run's rows, so they
        # cannot take the places of accounts that may post.
        senders = session.execute(
            select(OutboxRow.platform, OutboxRow.account, func.count())
            .where(is_due)
            .group_by(OutboxRow.platform, OutboxRow.account)
        ).all()
        held_back = [(platform, account, n, until) for platform, account, n in senders if platform in channels
                     for until in [_waits(waiting, platform, channels[platform], account)] if until is not None]
        # Nor do the replies of a paused brand, or those for a network no channel
        # posts on: they stay approved, and the run's places go to those that may go.
        missing = sorted({platform for platform, _, _ in senders if platform not in channels})
        paused_brands = sorted(scope for scope in paused if scope != safeguards.GLOBAL_SCOPE)
        may_go = and_(is_due, OutboxRow.platform.in_(list(channels)))
        if held_back:
            may_go = and_(may_go, not_(or_(*(
                and_(OutboxRow.platform == platform,
                     OutboxRow.account.is_(None) if account is None else OutboxRow.account == account)
                for platform, account, _, _ in held_back
            ))))
        due_query = select(OutboxRow.id, OutboxRow.platform, OutboxRow.brand, OutboxRow.account).where(may_go)
        if paused_brands:
            counts["paused"] = session.scalar(
                select(func.count()).select_from(OutboxRow).where(may_go, OutboxRow.brand.in_(paused_brands))
            ) or 0
            due_query = due_query.where(OutboxRow.brand.not_in(paused_brands))
        due = session.execute(due_query.order_by(OutboxRow.created_at, OutboxRow.id).limit(limit)).all()
    for platform in missing:
        log.warning("no channel for platform %r: its approved replies wait", platform)
    if safeguards.GLOBAL_SCOPE in paused:
        counts["paused"] += len(due)
        return SendReport(**counts)
    for platform, account, n, until in held_back:
        counts["waiting"] += n
        log.info("%s %s: %d approved %s wait for the platform until %s UTC", platform, _handle(platform, account), n,
                 "reply" if n == 1 else "replies", until.strftime("%Y-%m-%d %H:%M:%S"))
    for outbox_id, platform, brand, account in due:
        channel = channels[platform]
        if _waits(waiting, platform, channel, account):
            counts["waiting"] += 1  # its sender was told to wait earlier in this run
            continue
        result = claim_for_send(session_factory, outbox_id, now=now, settings=settings, channel=channel)
        if result.paused_by is not None:
            counts["paused"] += 1
            continue
        if result.waits_until is not None:  # another process learned of the limit after this run read the waits
            counts["waiting"] += 1
            waiting[(platform, rate_limit_key(channel, account=account))] = result.waits_until
            continue
        if result.hold is not None:
            counts["held"] += 1
            continue
        if result.post is None:
            continue  # another sender claimed it, or a person changed it
        outcome, retry_at, waits = _send_one(session_factory, result.post, channel, now=now, settings=settings)
        counts[outcome] += 1
        if waits is not None:
            waiting[(platform, waits)] = retry_at
    return SendReport(**counts)
