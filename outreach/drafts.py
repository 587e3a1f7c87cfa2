"""Drafting replies into the outbox.

The rules stage asks for drafts (:class:`brandpulse.types.DraftRequest`);
this module renders each from its template and writes outbox rows of kind
``reply`` in the caller's transaction, so a mention, its alert and its draft
are stored together or not at all.

One conversation gets one reply: when an alert already has a pending reply
(``drafted``, ``held`` or ``approved`` and not yet sent), a newer mention in
that alert re-drafts that row to answer the newest mention instead of adding a
second reply. The re-drafted text needs approval again (the approval was given
to the old text), and the old text is kept in the audit event. A text a person
wrote (``replies edit``, ``approve --text``: a ``reply.edited`` event whose
text is still the reply's) is never replaced by the template's: the reply
moves to the newest mention with that text, ``held`` (``hold_code``
:data:`WROTE_AGAIN`) with a reason naming who edited it and when the customer
wrote again, so a person checks it still fits before it goes out, and an
approval given before that mention is withdrawn. A reply that is
already on its way (``sending``, ``unknown``) or out (``sent``) is never
touched; a further mention then gets a new draft, and the send-time safeguards
decide whether it may go out.

A template that fails at render time, renders empty, renders over the
platform's length limit, or is not meant for the mention's platform still
produces a row, ``held`` (``hold_code`` ``template``) with the reason, so
nothing is lost and nothing blocks the pipeline. Whether a reply may go out
at all (opt-outs, cooldowns, caps, …) is decided when it is sent
(:mod:`outreach.safeguards`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import String, bindparam, cast, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from brandpulse import audit
from brandpulse.config import Brand, Settings
from brandpulse.db.bulk import insert_rows, update_rows
from brandpulse.db.models import AuditRow, MentionRow, OutboxRow
from brandpulse.types import DraftRequest, Mention
from outreach.channels.textlength import URL_WEIGHT
from outreach.safeguards import POLICY_ACTOR, TEMPLATE
from outreach.templating import (
    PLATFORM_LIMITS,
    TemplateRenderer,
    TemplateRenderError,
    length_problem,
    reply_context,
)

log = logging.getLogger(__name__)

AUDIT_ENTITY = "outbox"
# A reply row in one of these states has not gone out and can still be re-drafted.
PENDING_STATUSES = ("drafted", "held", "approved")
# The hold code of a reply whose text a person wrote (``replies edit``,
# ``approve --text``) and whose customer wrote again before it went out: the
# reply moved to their newer post with the person's text, for a person to check.
WROTE_AGAIN = "wrote_again"


def choose_account(mention: Mention, brand: Brand) -> str | None:
    """The brand account that answers: the one the post addressed, else the
    brand's first account on that platform, else None."""
    accounts = brand.accounts.for_platform(str(mention.platform))
    by_lower = {a.lower(): a for a in accounts}
    for handle in mention.addressed_handles:
        found = by_lower.get(handle.lower().lstrip("@").removeprefix("u/"))
        if found:
            return found
    return accounts[0] if accounts else None


# The outbox columns a draft sets (its values dict, in this order), and on insert also these.
_VALUE_COLUMNS = (
    "mention_id", "in_reply_to", "account", "template", "text", "status", "needs_approval", "hold_reason",
    "hold_code", "waived", "approved_by", "approved_at", "last_error", "not_before", "updated_at",
)
_INSERT_COLUMNS = (*_VALUE_COLUMNS, "kind", "brand", "platform", "alert_id", "attempts", "created_at")


# A person's latest edit of a reply (its ``reply.edited`` event), if any.
_LAST_EDIT = (
    select(func.max(AuditRow.id))
    .where(
        AuditRow.entity_type == "outbox",
        AuditRow.entity_id == cast(OutboxRow.id, String),
        AuditRow.action == "reply.edited",
        AuditRow.actor.not_in((audit.SYSTEM, POLICY_ACTOR)),
    )
    .correlate(OutboxRow)
    .scalar_subquery()
)

# The pending replies of some alerts, with when the mention each answers was
# posted and a person's latest edit; built once (building a statement costs
# more than running it).
_PENDING_REPLIES = (
    select(OutboxRow.id, OutboxRow.alert_id, OutboxRow.mention_id, OutboxRow.text, OutboxRow.status,
           MentionRow.created_at, OutboxRow.template, OutboxRow.approved_by, _LAST_EDIT)
    .outerjoin(MentionRow, MentionRow.id == OutboxRow.mention_id)
    .where(
        OutboxRow.kind == "reply",
        OutboxRow.alert_id.in_(bindparam("alert_ids", expanding=True)),
        OutboxRow.status.in_(PENDING_STATUSES),
    )
    .order_by(OutboxRow.id)
    .with_for_update(of=OutboxRow)
)


@dataclass(frozen=True, slots=True)
class _Pending:
    """A reply of an alert that has not gone out, and when the mention it answers was posted."""

    id: int
    mention_id: int | None
    text: str
    status: str
    answered_at: datetime | None
    template: str | None
    approved_by: str | None
    edited: tuple[str, datetime] | None  # (who, when) a person wrote the text it still has, else None


@dataclass(slots=True)
class _Draft:
    key: tuple[str, int]  # ("alert", alert_id), or ("mention", mention_id) for a request without an alert
    request: DraftRequest
    values: dict[str, Any]  # the outbox columns this draft sets
    hold_reason: str | None
    kept: dict[str, Any] | None = None  # a person's text kept: who wrote it and when (audit details)


def render_draft(request: DraftRequest, *, renderer: TemplateRenderer, brand: Brand) -> tuple[str, str | None]:
    """The reply ``request`` asks for, rendered: (text, why it must be held or
    None). No text when the template is not meant for the mention's platform,
    fails or renders empty; the text when it is too long for the platform."""
    platforms = renderer.platforms(request.template)
    platform = str(request.mention.platform)
    if platforms is not None and platform not in platforms:
        return "", f"template {request.template!r} is not meant for {platform} (only {', '.join(platforms)})"
    context = reply_context(
        mention=request.mention,
        brand=brand,
        alert_id=request.alert_id,
        priority=request.priority,
        score=request.score,
    )
    try:
        text = renderer.render(request.template, context)
    except TemplateRenderError as exc:
        log.warning("reply draft for mention %s held: %s", request.mention_id, exc)
        return "", str(exc)
    if not text:
        return "", f"template {request.template!r} rendered empty text"
    too_long = None if _surely_fits(platform, text) else length_problem(platform, text)
    if too_long:
        return text, f"template {request.template!r} rendered {too_long}; edit it shorter"
    return text, None


def ascii_weight_bound(text: str) -> int:
    """An upper bound of the length X gives an ASCII ``text``, without weighing
    it: X weighs each ASCII character 1, and a URL or domain name at most
    :data:`URL_WEIGHT` more than its own length; each of those holds a ".",
    so there are at most ``text.count(".")`` of them
    (outreach/channels/textlength.py)."""
    return len(text) + URL_WEIGHT * text.count(".")


def _surely_fits(platform: str, text: str) -> bool:
    """True when ``text`` fits ``platform`` for certain (a short ASCII post on
    X), so the full weighing can be skipped; False means "weigh it"."""
    return platform == "x" and text.isascii() and ascii_weight_bound(text) <= PLATFORM_LIMITS["x"]


def draft_replies(
    session: Session,
    requests: Sequence[DraftRequest],
    *,
    renderer: TemplateRenderer,
    settings: Settings,
    now: datetime,
) -> list[int]:
    """Write reply drafts for ``requests`` in the caller's transaction.

    Returns the ids of the outbox rows drafted or re-drafted, each once, in
    the order of the requests. At most three statements whatever the batch
    size: one SELECT for the pending replies of the batch's alerts, one
    INSERT for new rows, one UPDATE for re-drafted rows (plus the audit
    INSERT).
    """
    if not requests:
        return []
    unknown = sorted({r.template for r in requests if r.template not in renderer.names})
    if unknown:
        raise ValueError(
            f"draft requested from unknown template(s) {', '.join(map(repr, unknown))}"
            f" (known: {', '.join(renderer.names) or 'none'})"
        )
    brands: dict[str, Brand] = {}
    for r in requests:
        if r.mention.brand not in brands:
            try:
                brands[r.mention.brand] = settings.brand(r.mention.brand)
            except KeyError:
                raise ValueError(
                    f"draft requested for mention {r.mention_id} of unknown brand {r.mention.brand!r}"
                ) from None

    # One conversation → one reply: within the batch, the newest mention of an
    # alert wins; a mention without an alert gets one reply however often asked.
    by_alert: dict[int, DraftRequest] = {}
    by_mention: dict[int, DraftRequest] = {}
    order: list[tuple[str, int]] = []  # the _Draft keys, in request order
    for r in requests:
        if r.alert_id is None:
            if r.mention_id not in by_mention:
                by_mention[r.mention_id] = r
                order.append(("mention", r.mention_id))
            continue
        current = by_alert.get(r.alert_id)
        if current is None:
            order.append(("alert", r.alert_id))
        if current is None or r.mention.created_at >= current.mention.created_at:
            by_alert[r.alert_id] = r

    existing: dict[int, _Pending] = {}
    if by_alert:
        # FOR UPDATE (PostgreSQL; SQLite serialises writers anyway): a sender
        # cannot claim a draft between this read and its re-draft below. Its
        # conditional claim waits for this transaction, then sees the new state.
        rows = session.execute(_PENDING_REPLIES, {"alert_ids": list(by_alert)}).all()
        edits = _edits(session, [row[-1] for row in rows if row[-1] is not None])
        for outbox_id, alert_id, mention_id, text, status, answered_at, template, approved_by, edit_id in rows:
            edited = _persons(edits.get(edit_id), text)
            # the newest pending row per alert
            existing[alert_id] = _Pending(outbox_id, mention_id, text, status, answered_at, template, approved_by,
                                          edited)

    policy = settings.reply_policy
    new: list[_Draft] = []
    redrafts: list[tuple[_Draft, _Pending]] = []
    ids_by_key: dict[tuple[str, int], int] = {}

    for key in order:
        request = by_alert[key[1]] if key[0] == "alert" else by_mention[key[1]]
        found = existing.get(request.alert_id) if request.alert_id is not None else None
        if found is not None:
            if found.answered_at is not None and request.mention.created_at < found.answered_at:
                ids_by_key[key] = found.id  # the pending draft already answers a newer mention
                continue
        brand = brands[request.mention.brand]
        if found is not None and found.edited is not None:
            draft = _keep_persons_text(key, request, found, brand=brand, now=now)
            redrafts.append((draft, found))
            ids_by_key[key] = found.id
            continue
        text, hold_reason = render_draft(request, renderer=renderer, brand=brand)
        auto = not policy.require_approval or request.template in policy.auto_send_templates
        if hold_reason is not None:
            status, approved_by, approved_at = "held", None, None
        elif auto:
            status, approved_by, approved_at = "approved", POLICY_ACTOR, now
        else:
            status, approved_by, approved_at = "drafted", None, None
        values = {
            "mention_id": request.mention_id,
            "in_reply_to": request.mention.external_id,
            "account": choose_account(request.mention, brand),
            "template": request.template,
            "text": text,
            "status": status,
            "needs_approval": not auto,
            "hold_reason": hold_reason,
            "hold_code": TEMPLATE if hold_reason is not None else None,
            "waived": None,
            "approved_by": approved_by,
            "approved_at": approved_at,
            "last_error": None,
            "not_before": None,
            "updated_at": now,
        }
        draft = _Draft(key=key, request=request, values=values, hold_reason=hold_reason)
        if found is not None:
            redrafts.append((draft, found))
            ids_by_key[key] = found.id
        else:
            new.append(draft)

    if new:
        # RETURNING maps ids back by (alert, mention), unique within the batch, so
        # the rows can go in one multi-row INSERT (no ordering guarantee needed).
        inserted = insert_rows(
            session, OutboxRow.__table__,
            [
                (*[d.values[c] for c in _VALUE_COLUMNS], "reply", d.request.mention.brand,
                 str(d.request.mention.platform), d.request.alert_id, 0, now)
                for d in new
            ],
            columns=_INSERT_COLUMNS, returning=("id", "alert_id", "mention_id"),
        )
        by_target = {(alert_id, mention_id): outbox_id for outbox_id, alert_id, mention_id in inserted}
        for d in new:
            ids_by_key[d.key] = by_target[(d.request.alert_id, d.request.mention_id)]
    # What a re-draft replaces goes into its audit event.
    replaced = [
        (d, row.id, {"mention_id": row.mention_id, "text": row.text, "status": row.status}) for d, row in redrafts
    ]
    if redrafts:
        update_rows(
            session, OutboxRow.__table__,
            [(outbox_id, *[d.values[c] for c in _VALUE_COLUMNS]) for d, outbox_id, _ in replaced],
            columns=("id", *_VALUE_COLUMNS), key=("id",),
        )
        for _, row in redrafts:  # rows the session holds are stale now; reloaded when next used
            held = session.identity_map.get(identity_key(OutboxRow, row.id))
            if held is not None:
                session.expire(held)

    events: list[dict[str, Any]] = []
    for d in new:
        events.extend(_events(d, ids_by_key[d.key], now=now, previous=None))
    for d, outbox_id, before in replaced:
        events.extend(_events(d, outbox_id, now=now, previous=before))
    audit.record_many(session, events)

    result: list[int] = []
    for key in order:
        outbox_id = ids_by_key[key]
        if outbox_id not in result:
            result.append(outbox_id)
    return result


def persons_texts(session: Session, replies: Sequence[Any]) -> dict[int, tuple[str, datetime]]:
    """Of ``replies`` (outbox rows: ``id`` and ``text``), those whose text a
    person wrote (``replies edit``, ``approve --text``: their latest
    ``reply.edited`` event's text is still the reply's), as id → (who, when),
    recognised as :func:`draft_replies` recognises them. Other callers that
    re-draft replies (incidents: :mod:`outreach.incident_replies`) keep such a
    text instead of replacing it. Two SELECTs, none for no replies."""
    texts = {reply.id: reply.text for reply in replies}
    if not texts:
        return {}
    last = session.execute(select(OutboxRow.id, _LAST_EDIT).where(OutboxRow.id.in_(sorted(texts)))).all()
    edits = _edits(session, [edit_id for _, edit_id in last if edit_id is not None])
    found = {outbox_id: _persons(edits.get(edit_id), texts[outbox_id]) for outbox_id, edit_id in last}
    return {outbox_id: edited for outbox_id, edited in found.items() if edited is not None}


def _persons(edit: tuple[str, datetime, Any] | None, text: str) -> tuple[str, datetime] | None:
    """(who, when) when ``edit`` (a person's latest ``reply.edited`` event) wrote ``text``, the reply's text now."""
    return (edit[0], edit[1]) if edit is not None and edit[2] == text else None


def _edits(session: Session, audit_ids: list[int]) -> dict[int, tuple[str, datetime, Any]]:
    """The ``reply.edited`` events ``audit_ids``: id → (who, when, the text they wrote)."""
    if not audit_ids:
        return {}
    rows = session.execute(select(AuditRow.id, AuditRow.actor, AuditRow.at, AuditRow.details)
                           .where(AuditRow.id.in_(audit_ids))).all()
    return {audit_id: (actor, at, (details or {}).get("text")) for audit_id, actor, at, details in rows}


def _keep_persons_text(key: tuple[str, int], request: DraftRequest, found: _Pending, *, brand: Brand,
                       now: datetime) -> _Draft:
    """The re-draft of a pending reply whose text a person wrote, for the
    customer's newer mention: it answers that mention with the person's text
    (never the template's), held for a person to check it still fits; an
    approval given before the customer wrote again is withdrawn."""
    editor, edited_at = found.edited  # type: ignore[misc]
    reason = (f"edited by {editor} before the customer wrote again at {request.mention.created_at:%Y-%m-%d %H:%M} UTC"
              " — check it still fits their newer post, then approve it (or edit or reject it)")
    if found.approved_by not in (None, POLICY_ACTOR):
        reason += f"; {found.approved_by}'s approval was withdrawn"
    values = {
        "mention_id": request.mention_id,
        "in_reply_to": request.mention.external_id,
        "account": choose_account(request.mention, brand),
        "template": found.template,
        "text": found.text,
        "status": "held",
        "needs_approval": True,
        "hold_reason": reason,
        "hold_code": WROTE_AGAIN,
        "waived": None,
        "approved_by": None,
        "approved_at": None,
        "last_error": None,
        "not_before": None,
        "updated_at": now,
    }
    return _Draft(key=key, request=request, values=values, hold_reason=reason,
                  kept={"edited_by": editor, "edited_at": edited_at.isoformat()})


def _events(draft: _Draft, outbox_id: int, *, now: datetime, previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    v = draft.values
    details: dict[str, Any] = {
        "template": v["template"],
        "alert_id": draft.request.alert_id,
        "mention_id": v["mention_id"],
        "status": v["status"],
    }
    if draft.hold_reason:
        details["hold_reason"] = draft.hold_reason
    if previous is not None:
        details["redrafted"] = True
        details["previous"] = previous
    if draft.kept is not None:
        details["text_kept"] = draft.kept
    events = [
        {"at": now, "actor": audit.SYSTEM, "action": "reply.drafted", "entity_type": AUDIT_ENTITY,
         "entity_id": outbox_id, "details": details}
    ]
    if v["status"] == "approved":
        events.append(
            {"at": now, "actor": audit.SYSTEM, "action": "reply.approved", "entity_type": AUDIT_ENTITY,
             "entity_id": outbox_id, "details": {"by": POLICY_ACTOR, "template": v["template"]}}
        )
    return events
