"""Incidents: the replies to their complaints (re-drafts, follow-ups, holds at the send claim).

Each incident reply records the incident whose link its text gives
(``outbox.incident_id``: set when drafted on arrival,
:func:`mark_incident_replies`, and by every re-draft; cleared when an unlink
makes it ordinary; replies drafted before it was recorded got it from
migration 0013 where one incident is certain). A complaint moved from incident A to B (unlinked, then
linked by hand) while A's reply was on its way and not posted is therefore
not sent with A's link: the send claim re-drafts it for B and holds it for a
person (:func:`unlinked_reply_hold`).

A reply whose text gives the link of an incident that was cancelled is never
sent as it is (:func:`cancelled_incident_reply`): the send claim holds it
(hold code ``incident_cancelled``) whoever approved it and whenever, and a
person cannot approve it without giving it a text of their own (which must
not give the cancelled incident's status link either). A reply on its way
when its incident resolved, found not posted, is re-drafted at its claim as
"it's fixed" (:func:`resolved_incident_redraft`).

A reply drafted before the incident's first status post on a network is out
(when the incident was opened, or for a complaint linked in the minutes
before the post went out) can only give the status page or the account to
follow. So when that first post is recorded as sent (:func:`outreach.incidents.record_sent`, in
the transaction that marks it sent), the incident's linked replies still
waiting to go out (drafted, held, approved) from the ``reply`` template whose
text changes with the new link are re-drafted (reason ``status thread
posted``): one SELECT, one bulk UPDATE, and one ``incident.thread_posted``
audit event with the link and the re-drafted ids. The re-draft runs in a
savepoint: if it fails, the post is still recorded as sent (and the failure
logged and put in that event), since the post exists whatever happens.
Without the settings (``send_approved`` called without them) nothing can be
rendered: the replies keep their text, and the event lists them as
``not_redrafted``.

When the incident resolves, every linked author who *was* answered (a reply
of ours sent to a linked mention or its alert) gets one follow-up (kind
``followup``, the ``followup`` template) in answer to the post we answered,
under the reply safeguards and ``incidents.followups.require_approval``
(default: a person approves). Incident replies still waiting to go out are
re-drafted from the same template with the incident resolved, so nobody is
told "we're on it" after the fix.

A re-draft (:func:`redraft_replies`, all three cases) withdraws an approval a
person gave to the old text (an approved reply goes back to ``drafted``, a held
one stays held without it, so a safeguard's window cannot release it); the
reply policy decides for the new text as for a new draft; a text too long for
the platform is held (``hold_code`` ``template``). Each is audited as
``reply.redrafted`` with the previous text, template and status. A reply
whose text a person wrote (``replies edit``, ``approve --text``; recognised by
:func:`outreach.drafts.persons_texts`, as when the customer writes again) is
never re-drafted, by these nor by an unlink or the send claim's re-drafts: it
keeps its text and is held for them (:func:`keep_persons_text`, hold code
:data:`EDITED_HOLD`; at the claim :data:`MOVED_HOLD`) with a reason naming who
edited it, the incident and where its update is, its approval withdrawn,
audited ``reply.held``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Mapping, Sequence

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.orm import Session

from brandpulse import audit
from brandpulse.config import Settings
from brandpulse.db.models import (
    AlertMentionRow,
    AuditRow,
    IncidentMentionRow,
    IncidentRow,
    IncidentUnlinkRow,
    IncidentUpdateRow,
    MentionRow,
    OutboxRow,
)
from outreach.drafts import persons_texts
from outreach.incident_records import CANCELLED, IncidentSnapshot, current_snapshot, linked_replies, mention_from_row
from outreach.incident_templates import (
    FOLLOWUP_TEMPLATE,
    REPLY_TEMPLATE,
    IncidentTemplates,
    author_context,
    author_text,
    incident_context,
)
from outreach.safeguards import INCIDENT_ANSWERED, OUT_STATUSES, POLICY_ACTOR
from outreach.safeguards import TEMPLATE as TEMPLATE_HOLD

log = logging.getLogger(__name__)


def mark_incident_replies(session: Session, reply_ids: Sequence[int], incident_id: int) -> None:
    """Record on replies just drafted from the incident ``reply`` template
    (the pipeline's, as complaints arrive) the incident their text speaks
    for (``outbox.incident_id``; re-drafts record it themselves). The send
    claim compares it with the incident that holds the conversation then
    (:func:`unlinked_reply_hold`). One UPDATE."""
    if reply_ids:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(sorted(set(reply_ids))),
                                                OutboxRow.template == REPLY_TEMPLATE)
                        .values(incident_id=incident_id).execution_options(synchronize_session=False))


def draft_followups(session: Session, incident: IncidentSnapshot, *, settings: Settings,
                     templates: IncidentTemplates, now: datetime) -> list[int]:
    """One follow-up per linked author who was answered, in answer to the post
    of theirs we answered last."""
    latest: dict[tuple[str, str], tuple[OutboxRow, MentionRow]] = {}
    for reply, mention in linked_replies(session, incident.id, ("sent",)):
        latest[(mention.platform, mention.author_id)] = (reply, mention)  # ordered by sent_at: the last wins
    if not latest:
        return []
    already = set(session.execute(
        select(MentionRow.platform, MentionRow.author_id)
        .join(OutboxRow, OutboxRow.mention_id == MentionRow.id)
        .where(OutboxRow.kind == "followup", OutboxRow.incident_id == incident.id)
    ).all())
    needs_approval = settings.incidents.followups.require_approval
    brand = settings.brand(incident.brand)
    ids, events = [], []
    for key, (reply, mention_row) in latest.items():
        if key in already:
            continue
        mention = mention_from_row(mention_row)
        context = author_context(incident, mention, alert_id=reply.alert_id, brand=brand, settings=settings)
        text, hold_reason = author_text(templates, "followup", context)
        if hold_reason:
            status = "held"
        else:
            status = "drafted" if needs_approval else "approved"
        values: dict[str, Any] = dict(
            kind="followup", brand=incident.brand, platform=mention.platform, incident_id=incident.id,
            alert_id=reply.alert_id, mention_id=reply.mention_id, in_reply_to=reply.in_reply_to,
            account=reply.account, template=FOLLOWUP_TEMPLATE, text=text, status=status,
            needs_approval=needs_approval, hold_reason=hold_reason,
            approved_by=POLICY_ACTOR if status == "approved" else None,
            approved_at=now if status == "approved" else None, attempts=0, created_at=now, updated_at=now,
        )
        if hold_reason:
            values["hold_code"] = TEMPLATE_HOLD
        outbox_id = session.execute(insert(OutboxRow).returning(OutboxRow.id).values(**values)).scalar_one()
        ids.append(outbox_id)
        details: dict[str, Any] = {"incident_id": incident.id, "template": FOLLOWUP_TEMPLATE, "status": status,
                                   "answered_reply": reply.id, "mention_id": reply.mention_id}
        if hold_reason:
            details["hold_reason"] = hold_reason
        events.append({"at": now, "actor": audit.SYSTEM, "action": "followup.drafted", "entity_type": "outbox",
                       "entity_id": outbox_id, "details": details})
        if status == "approved":
            events.append({"at": now, "actor": audit.SYSTEM, "action": "followup.approved", "entity_type": "outbox",
                           "entity_id": outbox_id, "details": {"by": POLICY_ACTOR}})
    audit.record_many(session, events)
    return ids


_NEW_TEXT_PROBLEM = "; and the new text: "  # joins a moved reply's hold reason and its re-drafted text's problem


def _redrafted_state(reply: OutboxRow, *, hold_reason: str | None, auto: bool, now: datetime) -> dict[str, Any]:
    """Status, hold and approval of a re-drafted reply. A person's approval
    was given to the old text: it never carries over; the reply policy
    (``auto``) approves the new text as it would a new draft. A reply held
    because its complaint moved to another incident while it was on its way
    (:data:`MOVED_HOLD`) stays held for a person, whatever the policy: a
    later re-draft (the new incident's thread posted, resolved) changes the
    link it gives, not the fact that nobody has looked at it."""
    policy_approval = {"approved_by": POLICY_ACTOR if auto else None, "approved_at": now if auto else None}
    if reply.status == "held" and reply.hold_code == MOVED_HOLD:
        moved = (reply.hold_reason or "").split(_NEW_TEXT_PROBLEM)[0]  # without an earlier text's problem
        reason = f"{moved}{_NEW_TEXT_PROBLEM}{hold_reason}" if hold_reason else moved
        return {"status": "held", "hold_code": MOVED_HOLD, "hold_reason": reason, "approved_by": None,
                "approved_at": None, "needs_approval": True}
    if hold_reason:
        return {"status": "held", "hold_code": TEMPLATE_HOLD, "hold_reason": hold_reason,
                "approved_by": None, "approved_at": None}
    if reply.status == "held" and reply.hold_code not in (None, TEMPLATE_HOLD):
        # A safeguard held it and will judge it again when it is claimed;
        # without an approval, a window's end does not release it by itself.
        return {"status": "held", "hold_code": reply.hold_code, "hold_reason": reply.hold_reason, **policy_approval}
    return {"status": "approved" if auto else "drafted", "hold_code": None, "hold_reason": None, **policy_approval}


def redraft_replies(session: Session, incident: IncidentSnapshot, replies: Sequence[tuple[OutboxRow, MentionRow]], *,
                     reason: str, settings: Settings, templates: IncidentTemplates, now: datetime,
                     actor: str = audit.SYSTEM, before: str | None = None,
                     kept_ids: list[int] | None = None) -> list[int]:
    """Re-draft ``replies`` (not gone out yet, read with ``lock``) from the
    incident ``reply`` template as the incident is now, in one UPDATE, each
    audited as ``reply.redrafted`` with ``reason`` (by ``actor``: the person
    whose action re-drafts them, else brandpulse). A reply whose new text
    fails to render keeps its old one (logged). A reply whose text a person
    wrote (:func:`outreach.drafts.persons_texts`) keeps it and is held for
    them instead (:func:`keep_persons_text`; ``before`` says what happened,
    e.g. "incident #3 (…) was opened"); those are not in the ids returned
    but appended to ``kept_ids`` (when given), for the caller to tell the
    person running the command."""
    brand = settings.brand(incident.brand)
    policy = settings.reply_policy
    auto = not policy.require_approval or REPLY_TEMPLATE in policy.auto_send_templates
    edited = persons_texts(session, [reply for reply, _ in replies])
    before = before or f"incident #{incident.id} ({incident.title}): {reason}"
    changes: list[dict[str, Any]] = []
    kept: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    unchanged: list[int] = []
    for reply, mention_row in replies:
        context = author_context(incident, mention_from_row(mention_row), alert_id=reply.alert_id, brand=brand,
                                  settings=settings)
        text, hold_reason = author_text(templates, "reply", context)
        if reply.id in edited and text != reply.text:
            change, event = keep_persons_text(reply, edited[reply.id], before=before,
                                              link=context["incident"]["url"], incident_id=incident.id,
                                              reason=reason, actor=actor, now=now, template_text=text or None)
            kept.append(change)
            events.append(event)
            if kept_ids is not None:
                kept_ids.append(reply.id)
            continue
        if not text:
            log.warning("incident %s: reply %s keeps its text, re-drafting it failed: %s",
                        incident.id, reply.id, hold_reason)
            continue
        if text == reply.text and reply.template == REPLY_TEMPLATE:
            if reply.incident_id != incident.id:
                unchanged.append(reply.id)  # the same words (no status link yet): it is this incident's now
            continue
        change, event = redraft(reply, text=text, template=REPLY_TEMPLATE, hold_reason=hold_reason, auto=auto,
                                 incident_id=incident.id, reason=reason, actor=actor, now=now)
        changes.append(change)
        events.append(event)
    store_redrafts(session, [*changes, *kept], replies)
    mark_incident_replies(session, unchanged, incident.id)
    audit.record_many(session, events)
    return [c["id"] for c in changes]


# The hold code of a reply whose text a person wrote (``replies edit``,
# ``approve --text``) and that an incident would have re-drafted: the text is
# kept, held until a person approves it (adding the incident's link or not).
EDITED_HOLD = "incident_edited"


def kept_text_reason(edited: tuple[str, datetime], *, before: str, link: str | None,
                     advice: str | None = None) -> str:
    """The hold reason of a reply whose text ``edited`` = (who, when) wrote,
    kept instead of an incident's re-draft: "edited by alice before incident
    #3 (…) was opened — its update is at <link>; add it or approve as is"
    (``advice`` instead of what follows the dash)."""
    who, _ = edited
    if advice:
        return f"edited by {who} before {before} — {advice}"
    if link:
        return f"edited by {who} before {before} — its update is at {link}; add it or approve as is (or reject it)"
    return f"edited by {who} before {before} — check it still fits, then approve it as is, edit or reject it"


def keep_persons_text(reply: OutboxRow, edited: tuple[str, datetime], *, before: str, link: str | None,
                      incident_id: int, reason: str, actor: str, now: datetime, template_text: str | None = None,
                      advice: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The UPDATE values (the same columns as :func:`redraft`'s) that keep
    ``reply``'s text, which a person wrote (``edited`` = who, when), where an
    incident re-draft (``reason``) would have replaced it: its text, template
    and incident stay, it is held (:data:`EDITED_HOLD`) for a person with a
    reason naming who edited it, what happened (``before``) and the
    incident's ``link``, and an approval is withdrawn (it was given before).
    Its ``reply.held`` audit event records the kept text's author, and the
    text the template would have given (``template_text``)."""
    hold_reason = kept_text_reason(edited, before=before, link=link, advice=advice) + _withdrawn(reply)
    change = {"id": reply.id, "text": reply.text, "template": reply.template, "needs_approval": True,
              "updated_at": now, "incident_id": reply.incident_id, "status": "held", "hold_code": EDITED_HOLD,
              "hold_reason": hold_reason, "approved_by": None, "approved_at": None}
    who, at = edited
    event = {"at": now, "actor": actor, "action": "reply.held", "entity_type": "outbox", "entity_id": reply.id,
             "details": {"code": EDITED_HOLD, "reason": hold_reason, "codes": [EDITED_HOLD],
                         "incident_id": incident_id, "redraft_reason": reason, "link": link,
                         "text_kept": {"edited_by": who, "edited_at": at.isoformat()},
                         "not_redrafted_text": template_text, "previous_status": reply.status,
                         "previous_approved_by": reply.approved_by}}
    return change, event


def _withdrawn(reply: OutboxRow) -> str:
    """What a hold reason adds when a person's approval of ``reply`` is withdrawn."""
    return f"; {reply.approved_by}'s approval was withdrawn" if reply.approved_by not in (None, POLICY_ACTOR) else ""


def update_link(session: Session, incident_id: int, platform: str, settings: Settings | None) -> str | None:
    """Where a customer on ``platform`` reads incident ``incident_id``'s
    updates: its status thread there (else on the other network), else the
    brand's status page (with ``settings``)."""
    snapshot = current_snapshot(session, incident_id)
    if settings is not None:
        return incident_context(snapshot, settings=settings, platform=platform)["url"]
    links = {"x": snapshot.x_root_url, "reddit": snapshot.reddit_root_url}
    return links.get(platform) or snapshot.x_root_url or snapshot.reddit_root_url


def redraft(reply: OutboxRow, *, text: str, template: str, hold_reason: str | None, auto: bool, incident_id: int,
             reason: str, actor: str, now: datetime,
             details: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The UPDATE values that re-draft ``reply`` to ``text`` from ``template``
    (status, hold and approval: :func:`_redrafted_state`; ``incident_id``, the
    incident its text speaks for, when ``template`` is the incident reply's,
    else none: :func:`mark_incident_replies`) and its
    ``reply.redrafted`` audit event, with the previous text, template, status
    and approver, ``reason`` and ``details``."""
    state = _redrafted_state(reply, hold_reason=hold_reason, auto=auto, now=now)
    change = {"id": reply.id, "text": text, "template": template, "needs_approval": not auto, "updated_at": now,
              "incident_id": incident_id if template == REPLY_TEMPLATE else None, **state}
    event_details: dict[str, Any] = {
        "incident_id": incident_id, "reason": reason, "previous_text": reply.text,
        "previous_template": reply.template, "previous_status": reply.status,
        "previous_approved_by": reply.approved_by, **(details or {}), "status": state["status"],
        "approved_by": state["approved_by"],
    }
    if hold_reason:
        event_details["hold_reason"] = hold_reason
    event = {"at": now, "actor": actor, "action": "reply.redrafted", "entity_type": "outbox", "entity_id": reply.id,
             "details": event_details}
    return change, event


def store_redrafts(session: Session, changes: Sequence[Mapping[str, Any]],
                    loaded: Sequence[tuple[OutboxRow, MentionRow]]) -> None:
    """Write the re-drafts (:func:`redraft`) in one UPDATE; the ``loaded``
    replies are stale then (expired: reloaded when next used)."""
    if not changes:
        return
    session.execute(update(OutboxRow), changes, execution_options={"synchronize_session": False})
    for reply, _ in loaded:
        session.expire(reply)


MOVED_REASON = "moved to another incident while on its way"  # the reason of the claim's re-draft
# The hold code of an incident reply held at its send claim because its
# complaint left the incident its text speaks for (unlinked, or moved to
# another incident) while it was on its way: only a person releases it
# (approve, edit or reject); re-drafts keep it held (_redrafted_state).
MOVED_HOLD = "incident_changed"


def _conversation_link_filters(row: OutboxRow) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions selecting the links (``IncidentMentionRow``) and the
    unlinks (``IncidentUnlinkRow``) of ``row``'s conversation: its complaint,
    and, for a reply to an alert, the alert's other complaints."""
    of_conversation = IncidentMentionRow.mention_id == row.mention_id
    unlinked_of = IncidentUnlinkRow.mention_id == row.mention_id
    if row.alert_id is not None:
        of_conversation = or_(of_conversation, IncidentMentionRow.alert_id == row.alert_id)
        unlinked_of = or_(unlinked_of, IncidentUnlinkRow.mention_id.in_(
            select(AlertMentionRow.mention_id).where(AlertMentionRow.alert_id == row.alert_id)))
    return of_conversation, unlinked_of


def unlinked_reply_hold(session: Session, row: OutboxRow, *, settings: Settings | None = None,
                        now: datetime | None = None) -> str | None:
    """Why an incident reply about to be claimed for sending must be held for
    a person instead (None: it may go). :func:`outreach.incident_links.unlink_mention` and
    :func:`outreach.incident_links.link_by_hand` leave a reply being sent or of unknown outcome
    alone, as it may be on the platform; when reconciliation finds it was not
    posted it is approved again, still with the text of the incident it was
    drafted for (``outbox.incident_id``). So at the send claim
    (:func:`outreach.outbox.claim_for_send`), a reply from the incident
    ``reply`` template whose conversation (its complaint, or another of its
    alert's) is no longer linked to that incident is held:

    * linked to no incident (unlinked): its text points to an incident the
      complaint is not part of; a person edits, approves or rejects it;
    * linked to another incident meanwhile (unlinked, then linked by hand):
      with ``settings``, it is first re-drafted in place from the ``reply``
      template for the incident that holds the conversation now (its status
      link, as that incident is now), audited ``reply.redrafted`` (reason
      :data:`MOVED_REASON`); the customer gets that one reply once a person
      approves it. Without settings, or when the text cannot be rendered, it
      keeps its text and the reason says to edit it.

    A person who approved it after the unlink (and after the link to the
    other incident) has decided: it may go. A reply that records no incident
    (drafted before brandpulse recorded it) is held only when its
    conversation is linked to no incident, as before."""
    if row.kind != "reply" or row.template != REPLY_TEMPLATE or row.mention_id is None:
        return None
    of_conversation, unlinked_of = _conversation_link_filters(row)
    links = session.scalars(select(IncidentMentionRow).where(of_conversation)
                            .order_by(IncidentMentionRow.linked_at.desc())).all()
    if row.incident_id is None and links:
        return None  # still an incident's (which one its text gives was not recorded)
    if any(link.incident_id == row.incident_id for link in links):
        # The incident its text speaks for still holds the conversation (one
        # cancelled meanwhile is cancelled_incident_reply's, checked first).
        return None
    unlinks = session.scalars(select(IncidentUnlinkRow).where(unlinked_of)
                              .order_by(IncidentUnlinkRow.unlinked_at.desc())).all()
    if not unlinks:
        return None
    moved_to = links[0] if links else None
    decided_after = max(unlinks[0].unlinked_at, moved_to.linked_at) if moved_to is not None else unlinks[0].unlinked_at
    if row.approved_at is not None and row.approved_by not in (None, POLICY_ACTOR) and row.approved_at > decided_after:
        return None
    # Named: the unlink from the incident whose link the text gives (moved A → B → C: A's, not B's).
    unlink = next((u for u in unlinks if u.incident_id == row.incident_id), unlinks[0])
    when = f"{unlink.unlinked_at:%Y-%m-%d %H:%M} UTC"
    if moved_to is None:
        return (f"unlinked from incident #{unlink.incident_id} by {unlink.unlinked_by} {when} while this reply was"
                " on its way, and it was not posted: its text points to the incident; edit it into an ordinary reply,"
                " approve it as it is, or reject it")
    old, new = unlink.incident_id, moved_to.incident_id
    by = f"by {moved_to.linked_by} " if moved_to.linked_by else ""
    moved = (f"moved from incident #{old} (unlinked by {unlink.unlinked_by} {when}) to incident #{new} (linked {by}"
             f"{moved_to.linked_at:%Y-%m-%d %H:%M} UTC) while this reply was on its way, and it was not posted")
    edited = persons_texts(session, [row]).get(row.id)
    if edited is not None:  # a person's text: kept, never replaced by incident #new's
        return f"{moved}: " + kept_text_reason(
            edited, before=f"it moved to incident #{new}",
            link=update_link(session, new, row.platform, settings)) + _withdrawn(row)
    if settings is None:
        redrafted, problem = False, "the send run was given no settings to render it"
    else:
        outcome = _redraft_moved(session, row, new, settings=settings, now=now or moved_to.linked_at)
        if outcome is None:
            return None  # a person changed it meanwhile: theirs stands, and the claim's conditional update fails
        redrafted, problem = outcome
    if not redrafted:
        return (f"{moved}: its text still points to incident #{old} and could not be re-drafted ({problem});"
                f" edit it to give incident #{new}'s status link, or reject it")
    return (f"{moved}: re-drafted with incident #{new}'s status link instead of #{old}'s"
            + (f", but {problem}" if problem else "") + "; approve it, edit it or reject it")


def _redraft_moved(session: Session, row: OutboxRow, incident_id: int, *, settings: Settings,
                   now: datetime) -> tuple[bool, str | None] | None:
    """Re-draft ``row`` (approved, under the send claim's lock) in place with
    the incident ``reply`` text for ``incident_id`` as it is now, audited
    ``reply.redrafted``; its status and approval are left to the claim, which
    holds it. Returns whether it was re-drafted, and the text's problem
    (it failed, or is too long for the platform) if any; None when the row
    is no longer approved with the text the claim read: people's changes do
    not take the claim lock (PostgreSQL), and an edit or rejection made
    meanwhile is theirs to keep, so nothing is written."""
    mention_row = session.get(MentionRow, row.mention_id)
    snapshot = current_snapshot(session, incident_id)
    try:
        brand = settings.brand(snapshot.brand)
    except KeyError:  # taken out of the configuration: held saying so, not a crash of every send run
        return False, f"brand {snapshot.brand!r} is not configured"
    context = author_context(snapshot, mention_from_row(mention_row), alert_id=row.alert_id, brand=brand,
                              settings=settings)
    text, problem = author_text(IncidentTemplates(settings), "reply", context)
    if not text:
        return False, problem
    _, event = redraft(row, text=text, template=REPLY_TEMPLATE, hold_reason=problem or MOVED_REASON, auto=False,
                        incident_id=incident_id, reason=MOVED_REASON, actor=audit.SYSTEM, now=now,
                        details={"from_incident_id": row.incident_id})
    changed = session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.status == "approved", OutboxRow.text == row.text)
        .values(text=text, template=REPLY_TEMPLATE, incident_id=incident_id, needs_approval=True, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return None
    session.expire(row, ["text", "template", "incident_id", "needs_approval", "updated_at"])
    audit.record_many(session, [event])
    return True, problem


CANCELLED_HOLD = "incident_cancelled"  # the hold code of a reply giving a cancelled incident's link
RESOLVED_REASON = "incident resolved while on its way"  # the reason of the claim's re-draft as "it's fixed"


def cancelled_incident_reply(session: Session, row: OutboxRow) -> str | None:
    """Why ``row`` must never go out as it is (None: this does not stop it):
    an incident reply (the ``reply`` template) whose text gives the title and
    link of an incident that was cancelled, and that no person has rewritten
    since the cancellation. Cancelling makes the replies of its complaints
    ordinary drafts, but some keep the incident's text: one no rule drafts an
    ordinary reply for (held), one on its way then and found not posted, one
    linked by a batch that read the incident open as it was cancelled. The
    send claim holds it (:data:`CANCELLED_HOLD`) whoever approved it, and
    :func:`outreach.outbox.approve` refuses to approve it unless given a new
    text. A reply that records no incident (drafted before brandpulse
    recorded it) counts as a cancelled incident's when its conversation was
    linked to or unlinked from one and is now linked to no other incident."""
    if row.kind != "reply" or row.template != REPLY_TEMPLATE or row.mention_id is None:
        return None
    incident = _incident_of_text(session, row)
    if incident is None or incident.status != CANCELLED:
        return None
    if _rewritten_since(session, row.id, incident.updated_at):
        return None  # a person's own text, written after the cancellation
    who = session.scalar(select(IncidentUpdateRow.actor).where(IncidentUpdateRow.incident_id == incident.id,
                                                              IncidentUpdateRow.status == CANCELLED)
                         .order_by(IncidentUpdateRow.id.desc()).limit(1))
    by = f" by {who}" if who else ""
    still_linked = session.scalar(select(IncidentMentionRow.mention_id).where(
        IncidentMentionRow.incident_id == incident.id, IncidentMentionRow.mention_id == row.mention_id))
    fix = (f"`brandpulse incident unlink {incident.id} {row.mention_id}` makes it an ordinary draft, or give it"
           if still_linked is not None else "give it")
    return (f"incident #{incident.id} ({incident.title}) was cancelled {incident.updated_at:%Y-%m-%d %H:%M} UTC{by}"
            " and this reply points the customer to it; it never goes out as it is: "
            f"{fix} an ordinary text (`brandpulse replies approve {row.id} --text ...` or `replies edit`), or reject it")


REPEATED_HOLD = INCIDENT_ANSWERED  # the hold code of a second incident reply to one author for one incident


def repeated_incident_reply(session: Session, row: OutboxRow) -> tuple[str, int] | None:
    """Why ``row`` must not go out now, and the reply that already went (None:
    this does not stop it): an incident reply (the ``reply`` template) to an
    author who was already pointed to the same incident by another of its
    replies (sent, being sent, or of unknown outcome), in another thread or
    for another of their posts: a customer who complained twice about the
    outage (two alerts, both linked) gets the link once, and the "it's
    fixed" follow-up once (:func:`draft_followups`). The per-author cooldown
    would only delay the second (12 h later, the same link again). The send
    claim holds it for a person: they reject it, give it a text of their own
    (``replies approve ID --text``), or waive :data:`REPEATED_HOLD` to send it
    as it is."""
    if row.kind != "reply" or row.template != REPLY_TEMPLATE or row.incident_id is None or row.mention_id is None:
        return None
    if REPEATED_HOLD in (row.waived or ()):
        return None
    author = session.execute(select(MentionRow.platform, MentionRow.author_id, MentionRow.author_handle)
                             .where(MentionRow.id == row.mention_id)).first()
    if author is None:
        return None
    platform, author_id, handle = author
    out_at = func.coalesce(OutboxRow.sent_at, OutboxRow.claimed_at)
    earlier = session.execute(
        select(OutboxRow.id, OutboxRow.status, out_at, MentionRow.created_at)
        .join(MentionRow, MentionRow.id == OutboxRow.mention_id)
        .where(OutboxRow.kind == "reply", OutboxRow.incident_id == row.incident_id, OutboxRow.brand == row.brand,
               OutboxRow.status.in_(OUT_STATUSES), OutboxRow.id != row.id,
               MentionRow.platform == platform, MentionRow.author_id == author_id)
        .order_by(out_at, OutboxRow.id).limit(1)
    ).first()
    if earlier is None:
        return None
    earlier_id, status, went_at, answered_post_at = earlier
    if went_at is not None and _rewritten_since(session, row.id, went_at):
        return None  # a person's own text, written once the first had gone
    incident = session.get(IncidentRow, row.incident_id)
    title = f" ({incident.title})" if incident is not None else ""
    who = ("u/" if platform == "reddit" else "@") + handle.lstrip("@")
    when = f" {went_at:%Y-%m-%d %H:%M} UTC" if went_at is not None else ""
    return (f"{who} was already pointed to incident #{row.incident_id}{title} by reply {earlier_id}"
            f" ({status}{when}, to their post of {answered_post_at:%Y-%m-%d %H:%M} UTC); one incident reply per"
            f" customer and incident (its follow-up tells them when it is fixed): reject this one, give it a text"
            f" of your own (`brandpulse replies approve {row.id} --text ...`), or"
            f" `brandpulse outreach waive {row.id} {REPEATED_HOLD}` and approve it to send it as it is"), earlier_id


def cancelled_link_in(session: Session, row: OutboxRow, text: str) -> str | None:
    """Why ``text``, a person's new text for ``row``, is refused (None: it
    may be used): ``row`` gives a cancelled incident's link
    (:func:`cancelled_incident_reply` would hold it as it is) and ``text``
    still contains that incident's status thread link."""
    if row.kind != "reply" or row.template != REPLY_TEMPLATE or row.mention_id is None:
        return None
    incident = _incident_of_text(session, row)
    if incident is None or incident.status != CANCELLED:
        return None
    for url in (incident.x_root_url, incident.reddit_root_url):
        if url and url in text:
            return (f"it still gives the status link of incident #{incident.id} ({url}), which was cancelled;"
                    " leave the link out")
    return None


def _incident_of_text(session: Session, row: OutboxRow) -> IncidentRow | None:
    """The incident whose link ``row``'s text gives: the one it records; for
    a reply that records none, a cancelled incident that linked or unlinked
    its conversation, unless another incident holds the conversation now."""
    if row.incident_id is not None:
        return session.get(IncidentRow, row.incident_id)
    of_conversation, unlinked_of = _conversation_link_filters(row)
    linked = set(session.scalars(select(IncidentMentionRow.incident_id).where(of_conversation)))
    unlinked = set(session.scalars(select(IncidentUnlinkRow.incident_id).where(unlinked_of)))
    if not linked | unlinked:
        return None
    incidents = session.scalars(select(IncidentRow).where(IncidentRow.id.in_(sorted(linked | unlinked)))
                                .order_by(IncidentRow.updated_at.desc(), IncidentRow.id.desc())).all()
    if any(i.status != CANCELLED for i in incidents if i.id in linked):
        return None  # the conversation is another incident's now (unlinked_reply_hold judges that)
    return next((i for i in incidents if i.status == CANCELLED), None)


def _rewritten_since(session: Session, outbox_id: int, since: datetime) -> bool:
    """Whether a person changed ``outbox_id``'s text at or after ``since``
    (a ``reply.edited`` event: ``replies edit``, or ``approve --text``)."""
    return session.scalar(select(AuditRow.id).where(
        AuditRow.entity_type == "outbox", AuditRow.entity_id == str(outbox_id), AuditRow.action == "reply.edited",
        AuditRow.at >= since, AuditRow.actor.not_in((audit.SYSTEM, POLICY_ACTOR))).limit(1)) is not None


def resolved_incident_redraft(session: Session, row: OutboxRow, *, settings: Settings | None,
                              now: datetime) -> tuple[str, str | None] | None:
    """An approved incident reply about to be claimed whose incident was
    resolved after its text was written ("we're working on it"): it was on
    its way when the incident resolved (resolving re-drafts only the replies
    waiting), and reconciliation found it not posted. The customer should
    read that it is fixed, with the thread's link (where the resolution is
    posted). So it is re-drafted in place as the incident is now, audited
    ``reply.redrafted`` (reason :data:`RESOLVED_REASON`); the approval of the
    old text does not carry over: the reply policy decides for the new one
    as for any re-draft (approved by policy: it goes in this claim; else
    back to ``drafted`` for a person). Returns None when it may go as it is
    (not an incident reply, its incident not resolved, its text already the
    resolved one, or a person approved it after the resolution: their
    decision), else (what happened: ``"redrafted"``, or ``"hold"``, and the
    hold reason when it cannot be re-drafted, or ``"changed"`` when a person
    changed it meanwhile)."""
    if row.kind != "reply" or row.template != REPLY_TEMPLATE or row.mention_id is None or row.incident_id is None:
        return None
    incident = session.get(IncidentRow, row.incident_id)
    if incident is None or incident.status != "resolved" or incident.resolved_at is None:
        return None
    if row.approved_at is not None and row.approved_by not in (None, POLICY_ACTOR) and row.approved_at > incident.resolved_at:
        return None
    when = f"{incident.resolved_at:%Y-%m-%d %H:%M} UTC"
    edited = persons_texts(session, [row]).get(row.id)
    if edited is not None:  # a person's text: kept and held for them, never replaced by "it's fixed"
        before = (f"incident #{incident.id} ({incident.title}) was resolved {when} while this reply was on its way,"
                  " and it was not posted")
        return "hold", (kept_text_reason(edited, before=before,
                                         link=update_link(session, incident.id, row.platform, settings))
                        + _withdrawn(row))
    if settings is None:
        text, problem = None, "the send run was given no settings to render it"
    else:
        snapshot = current_snapshot(session, incident.id)
        try:
            brand = settings.brand(snapshot.brand)
        except KeyError:
            text, problem = None, f"brand {snapshot.brand!r} is not configured"
        else:
            mention_row = session.get(MentionRow, row.mention_id)
            context = author_context(snapshot, mention_from_row(mention_row), alert_id=row.alert_id, brand=brand,
                                      settings=settings)
            text, problem = author_text(IncidentTemplates(settings), "reply", context)
    if text == row.text:
        return None
    if not text:
        return "hold", (f"incident #{incident.id} was resolved {when} while this reply (written before) was on its"
                        f" way, and it was not posted; it could not be re-drafted ({problem}): edit it to say it is"
                        " fixed, approve it as it is, or reject it")
    policy = settings.reply_policy
    auto = not policy.require_approval or REPLY_TEMPLATE in policy.auto_send_templates
    change, event = redraft(row, text=text, template=REPLY_TEMPLATE, hold_reason=problem, auto=auto,
                            incident_id=incident.id, reason=RESOLVED_REASON, actor=audit.SYSTEM, now=now,
                            details={"resolved_at": incident.resolved_at.isoformat()})
    values = {k: v for k, v in change.items() if k != "id"}
    changed = session.execute(
        update(OutboxRow).where(OutboxRow.id == row.id, OutboxRow.status == "approved", OutboxRow.text == row.text)
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        return "changed", None
    session.refresh(row)
    audit.record_many(session, [event])
    return "redrafted", None
