"""Incidents: linking complaints when an incident opens, and correcting the links by hand.

Complaints arriving while an incident is open are matched in
:mod:`outreach.incident_matching` and stored by :func:`link_mentions`.

Complaints start before ops open the incident, so opening it also links the
*earlier* ones (:func:`link_earlier_mentions`): the brand's negative mentions
(by their latest label, as trends count them: one re-scored non-negative is
not a complaint) posted from ``since`` (the command line passes the start of the
possible-incident alert's spike window with ``--from-alert``, or ``--since``;
by default ``incidents.lookback`` before opening) to ``until`` (``--until``;
by default now, and from an alert's window at most ``incidents.link_for``
after the alert) that contain a keyword and
whose author's alert is still open or acknowledged, and not already part of
another incident (a conversation is an incident's while it is open: the tag a
resolved one left on the alert does not keep it from a new one, on arrival,
when opening or by hand). They get the same link and tags, and their replies that have
not gone out (drafted, held, approved) are re-drafted from the ``reply``
template; replies already sent stay as they are, and those authors get the
follow-up on resolution like the others. One SELECT finds the candidates;
links, tags and re-drafts are written in bulk, with one ``incident.linked``
audit event carrying the counts, the window and the keywords.
Ops replace the keywords with :func:`outreach.incidents.set_keywords` (``incident keywords``).
Each link keeps how it was made (``how``: ``opening``, ``arrival``,
``hand``) and the keywords its complaint contained then, so what
``incident show`` says about it stays true after the keywords change.

People correct the links. :func:`unlink_mention` (``incident unlink``) takes
a complaint linked by mistake out: the link goes, into ``incident_unlinks``
(no later matching links it to that incident again; only a person can), the
tag leaves the mention and, unless another of its complaints stays linked,
its alert; its incident replies that have not gone out (including one waiting
to be posted by hand, ``manual``) become an ordinary
draft again (the template the incident replaced, from the audit log, else the
one the rules choose now; no approval carries over; with none, held for a
person with the text kept), replies already sent stay sent, replies being
sent or of unknown outcome are left to reconciliation and reported (one it
finds not posted is held for a person at its send claim rather than sent with
the status link: :func:`outreach.incident_replies.unlinked_reply_hold`), and a
follow-up not sent yet is withdrawn. :func:`unlink_mentions` unlinks many at
once exactly so (``incident cancel``: all of them), in a fixed number of
statements. :func:`link_by_hand` (``incident link``) links a
complaint the keywords missed, as opening links the earlier ones (its replies
on their way are listed and left alone, nothing drafted beside them). Both are
audited with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

from brandpulse import audit
from brandpulse.config import Brand, Settings
from brandpulse.db.models import (
    AlertMentionRow,
    AlertRow,
    AuditRow,
    IncidentMentionRow,
    IncidentRow,
    IncidentUnlinkRow,
    MentionRow,
    MentionTagRow,
    OutboxRow,
    ScoreRow,
)
from brandpulse.db.scores import latest_label_is_negative
from brandpulse.types import DraftRequest, Label, Mention, Priority, Score
from outreach.drafts import persons_texts, render_draft
from outreach.incident_matching import (
    OpenIncident,
    answered_posts,
    keyword_text,
    keywords_pattern,
    match_in_context,
    match_incident,
    matched_keywords,
    open_incident_tags,
)
from outreach.incident_records import (
    AUDIT_ENTITY,
    CANCELLED,
    IN_FLIGHT_STATUSES,
    LINKABLE_ALERT_STATUSES,
    LINKED_AT_OPENING,
    LINKED_BY_HAND,
    LINKED_ON_ARRIVAL,
    OPEN_STATUSES,
    PENDING_REPLY_STATUSES,
    IncidentError,
    IncidentSnapshot,
    current_snapshot,
    get_incident,
    incident_tag,
    mention_from_row,
    replies_to,
    withdraw,
)
from outreach.incident_replies import keep_persons_text, redraft, redraft_replies, store_redrafts
from outreach.incident_templates import FOLLOWUP_TEMPLATE, REPLY_TEMPLATE, IncidentTemplates


def link_mentions(session: Session, links: Sequence[tuple[int, int, int | None]], *, now: datetime,
                  how: str = LINKED_ON_ARRIVAL, keywords: Mapping[int, Sequence[str]] | None = None,
                  details: Mapping[str, Any] | None = None) -> list[tuple[int, int, int | None]]:
    """Store (incident id, mention id, alert id or None) links made
    automatically (``how``: as they came in, or when the incident was
    opened), each with the incident's ``keywords`` its mention contained
    (mention id → keywords), in the caller's transaction, with one audit
    event per incident (``details`` added to each). A complaint a person
    took out of that incident (:func:`unlink_mention`) is never linked to it
    again this way. Returns the links stored."""
    if not links:
        return []
    unlinked = {(i, m) for i, m in session.execute(
        select(IncidentUnlinkRow.incident_id, IncidentUnlinkRow.mention_id)
        .where(IncidentUnlinkRow.mention_id.in_(sorted({m for _, m, _ in links})))
    )}
    links = [link for link in links if (link[0], link[1]) not in unlinked]
    if not links:
        return []
    keywords = keywords or {}
    session.execute(
        insert(IncidentMentionRow.__table__),
        [{"incident_id": i, "mention_id": m, "alert_id": a, "linked_at": now, "how": how,
          "keywords": list(keywords.get(m, ())), "linked_by": None} for i, m, a in links],
    )
    by_incident: dict[int, list[int]] = {}
    for incident_id, mention_id, _ in links:
        by_incident.setdefault(incident_id, []).append(mention_id)
    audit.record_many(session, [
        {"at": now, "actor": audit.SYSTEM, "action": "incident.linked", "entity_type": AUDIT_ENTITY,
         "entity_id": incident_id, "details": {"mention_ids": ids, **(details or {})}}
        for incident_id, ids in by_incident.items()
    ])
    return links


@dataclass(frozen=True, slots=True)
class EarlierLinks:
    """What opening an incident did with the complaints posted before it."""

    since: datetime
    until: datetime  # complaints posted in [since, until] were candidates
    mention_ids: list[int]  # linked, oldest first
    alert_ids: list[int]  # their alerts, tagged incident:<id>
    redrafted: list[int]  # their replies not gone out, now from the incident reply template
    answered: list[int]  # their replies already sent (left as they are): follow-ups when it resolves
    # their replies a person had written (replies edit, approve --text): text kept, held for a person
    kept: list[int] = field(default_factory=list)


def link_earlier_mentions(session: Session, row: IncidentRow, *, since: datetime, settings: Settings,
                          templates: IncidentTemplates, now: datetime, message: str | None = None,
                          until: datetime | None = None) -> EarlierLinks:
    """Link to the open incident ``row`` the brand's negative mentions (their
    latest score's label: :func:`brandpulse.db.scores.latest_label_is_negative`) posted
    between ``since`` and ``until`` (default, and at most: ``now``) that
    contain one of its keywords (or answer a post that does:
    :func:`outreach.incident_matching.match_in_context`; also a complaint this opening links), whose
    author's alert is open or acknowledged and is not another open incident's
    (:func:`outreach.incident_matching.open_incident_tags`: a resolved incident's tag claims nothing), and
    that are not linked yet: ``incident_mentions`` rows, the tag
    ``incident:<id>`` on each mention and alert, their pending replies
    re-drafted from the incident reply template, one ``incident.linked``
    audit event with the counts. One SELECT for the candidates, one for their
    replies; bulk writes. Runs in the caller's transaction."""
    until = now if until is None else min(until, now)
    incident = OpenIncident(IncidentSnapshot.of(row, message=message), keywords_pattern(row.keywords or ()))
    nothing = EarlierLinks(since=since, until=until, mention_ids=[], alert_ids=[], redrafted=[], answered=[])
    if not settings.incidents.link_mentions or incident.pattern is None or since >= until:
        return nothing  # linking is off, nothing to match, or an empty window
    negative = latest_label_is_negative()  # by its latest score, as trends and spike detection count it
    linked = select(IncidentMentionRow.mention_id).where(IncidentMentionRow.mention_id == MentionRow.id).exists()
    unlinked = select(IncidentUnlinkRow.mention_id).where(IncidentUnlinkRow.incident_id == row.id,
                                                          IncidentUnlinkRow.mention_id == MentionRow.id).exists()
    candidates = session.execute(
        select(MentionRow, AlertRow.id, AlertRow.tags)
        .join(AlertMentionRow, AlertMentionRow.mention_id == MentionRow.id)
        # the author's own alert, not one that only shows the post (a possible-incident alert's examples)
        .join(AlertRow, and_(AlertRow.id == AlertMentionRow.alert_id, AlertRow.platform == MentionRow.platform,
                             AlertRow.author_id == MentionRow.author_id))
        .where(MentionRow.brand == row.brand, MentionRow.created_at >= since, MentionRow.created_at <= until,
               MentionRow.is_own.is_(False), AlertRow.status.in_(LINKABLE_ALERT_STATUSES), negative, ~linked,
               ~unlinked)
        .order_by(MentionRow.created_at, MentionRow.id, AlertRow.id)
        .options(defer(MentionRow.raw))
        .with_for_update(of=AlertRow)
    ).all()
    links: list[tuple[int, int, int | None]] = []
    alert_tags: dict[int, list[str]] = {}
    found_keywords: dict[int, list[str]] = {}
    seen: set[int] = set()
    taken = open_incident_tags(session, [tag for _, _, tags in candidates for tag in tags or ()])
    mentions = {mention_row.id: mention_from_row(mention_row) for mention_row, _, _ in candidates}
    direct = {i for i, m in mentions.items() if match_incident(m, [incident]) is not None}
    posts_answered = answered_posts(session, [m for i, m in mentions.items() if i not in direct])
    linked_here: set[tuple[str, str]] = set()  # complaints linked by this opening, by (platform, id)
    for mention_row, alert_id, tags in candidates:
        tags = list(tags or [])
        if mention_row.id in seen or taken.intersection(tags):
            continue  # already taken, or the conversation belongs to another incident still open
        mention = mentions[mention_row.id]
        if (mention_row.id not in direct and match_in_context(mention, [incident], posts_answered) is None
                and (mention.platform, str(mention.reply_to_id)) not in linked_here):
            continue  # neither its words nor the post it answers
        seen.add(mention_row.id)
        linked_here.add((mention.platform, mention.external_id))
        found_keywords[mention_row.id] = incident.keywords_in(mention)
        links.append((row.id, mention_row.id, alert_id))
        alert_tags.setdefault(alert_id, [*tags, incident.tag])
    if not links:
        return nothing
    mention_ids = [mention_id for _, mention_id, _ in links]
    alert_ids = list(alert_tags)
    session.execute(insert(MentionTagRow.__table__), [{"mention_id": m, "tag": incident.tag} for m in mention_ids])
    alerts = AlertRow.__table__
    session.execute(
        update(alerts).where(alerts.c.id == bindparam("b_id")).values(tags=bindparam("b_tags")),
        [{"b_id": alert_id, "b_tags": tags} for alert_id, tags in alert_tags.items()],
    )
    replies = replies_to(session, mentions=mention_ids, alerts=alert_ids,
                          statuses=(*PENDING_REPLY_STATUSES, "sent"), lock=True)
    pending = [(reply, mention) for reply, mention in replies if reply.status in PENDING_REPLY_STATUSES]
    answered = [reply.id for reply, _ in replies if reply.status == "sent"]
    kept: list[int] = []
    redrafted = redraft_replies(session, incident.snapshot, pending, reason="linked when the incident was opened",
                                 settings=settings, templates=templates, now=now,
                                 before=f"incident #{row.id} ({row.title}) was opened", kept_ids=kept)
    link_mentions(session, links, now=now, how=LINKED_AT_OPENING, keywords=found_keywords, details={
        "earlier": True, "since": since.isoformat(), "until": until.isoformat(), "keywords": list(row.keywords or ()),
        "counts": {"linked": len(links), "alerts_tagged": len(alert_ids), "redrafted": len(redrafted),
                   "already_answered": len(answered)},
        "alert_ids": alert_ids, "redrafted": redrafted, "kept_held": kept, "answered": answered,
    })
    return EarlierLinks(since=since, until=until, mention_ids=mention_ids, alert_ids=alert_ids, redrafted=redrafted,
                        answered=answered, kept=kept)


# ---------------------------------------------------------------------------
# Correcting links by hand: unlink a complaint linked by mistake, link one missed
# ---------------------------------------------------------------------------


UNLINKED_REASON = "unlinked from the incident"
LINKED_BY_HAND_REASON = "linked to the incident by hand"


def _author_alert(session: Session, mention_row: MentionRow, *, lock: bool = False) -> AlertRow | None:
    """The alert of the mention's author that holds it (not a possible-incident alert showing it), the latest."""
    query = (
        select(AlertRow).join(AlertMentionRow, AlertMentionRow.alert_id == AlertRow.id)
        .where(AlertMentionRow.mention_id == mention_row.id, AlertRow.platform == mention_row.platform,
               AlertRow.author_id == mention_row.author_id)
        .order_by(AlertRow.id.desc()).limit(1)
    )
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def _tag_alert(session: Session, alert_id: int, tag: str, *, add: bool) -> None:
    tags = list(session.scalar(select(AlertRow.tags).where(AlertRow.id == alert_id)) or [])
    changed = [*tags, tag] if add and tag not in tags else [t for t in tags if t != tag]
    if changed != tags:
        session.execute(update(AlertRow).where(AlertRow.id == alert_id).values(tags=changed)
                        .execution_options(synchronize_session=False))


@dataclass(frozen=True, slots=True)
class Unlinking:
    """What :func:`unlink_mention` did."""

    incident_id: int
    mention_id: int
    alert_id: int | None
    alert_untagged: bool  # False: the alert holds other complaints linked to the incident
    how: str | None  # how it had been linked
    keywords: list[str] | None  # the keywords it had matched (None: not recorded)
    redrafted: dict[int, str]  # reply id -> the ordinary template it was re-drafted from
    held: dict[int, str]  # reply id -> why it is held for a person instead (no ordinary text)
    sent: list[int]  # incident replies already sent: they stay sent
    kept: list[int]  # incident replies of its conversation still linked through another complaint
    followups_withdrawn: list[int]  # "it's fixed" follow-ups to it not sent yet, now rejected
    # Incident replies a sender has claimed (``sending``) or whose outcome is
    # unknown: maybe on the platform already; left as they are, reconciliation decides.
    in_flight: dict[int, str] = field(default_factory=dict)  # reply id -> its status
    by_hand: list[int] = field(default_factory=list)  # of ``redrafted``/``held``: were ``manual`` (a person posts them)


def _ordinary_text(renderer: Any, template: str, mention: Mention, *, mention_id: int, alert: AlertRow | None,
                   score: Score | None, brand: Brand) -> tuple[str, str | None]:
    """``template`` rendered for ``mention`` (stored as ``mention_id``) as a
    new draft would be, and why it must be held (None: it may go)."""
    request = DraftRequest(mention_id=mention_id, alert_id=alert.id if alert is not None else None, template=template,
                           mention=mention, score=score,
                           priority=Priority(alert.priority) if alert is not None else None)
    return render_draft(request, renderer=renderer, brand=brand)


def unlink_mention(session: Session, incident_id: int, mention_id: int, *, actor: str, now: datetime,
                   settings: Settings, renderer: Any,
                   rule_template: Callable[[Mention, Score | None], str | None] | None = None,
                   reason: str | None = None) -> Unlinking:
    """Take a complaint linked by mistake out of the incident, in the caller's
    transaction: its link goes (kept in ``incident_unlinks``, so no later
    matching links it to this incident again; :func:`link_by_hand` can), the
    tag ``incident:<id>`` leaves the mention, and its alert unless another of
    the alert's complaints stays linked. Its replies from the incident
    template that have not gone out and are not the incident's through
    another complaint are re-drafted as an ordinary reply: from the template
    the incident replaced (the audit log has it), else the one the rules
    choose now (``rule_template``), rendered by ``renderer`` (the reply
    templates); the approval of the incident text is withdrawn and the reply
    policy decides as for a new draft. With no ordinary template, or one that
    fails, the reply is held for a person with the reason. A reply waiting to
    be posted by hand (``manual``) has not gone out either: it is re-drafted
    the same way (listed in ``by_hand``). A reply already
    sent stays sent (listed); one a sender has claimed (``sending``) or whose
    outcome is unknown may be on the platform: it is not touched (a claimed
    row is its sender's) and is listed in ``in_flight`` for reconciliation to
    settle. A follow-up not sent yet to it, or to an
    earlier post of its conversation when that leaves the incident too, is
    withdrawn (rejected); one of a conversation that stays linked is kept. Audited ``incident.unlinked`` with ``actor`` and ``reason``."""
    [result] = unlink_mentions(session, incident_id, [mention_id], actor=actor, now=now, settings=settings,
                               renderer=renderer, rule_template=rule_template, reason=reason)
    return result


def _template_before(session: Session, reply_ids: Sequence[int], incident_id: int) -> dict[int, str]:
    """For each reply, the template it was drafted from before this incident
    re-drafted it (the latest such re-draft), if it was: one SELECT."""
    found: dict[int, str] = {}
    if not reply_ids:
        return found
    events = session.execute(
        select(AuditRow.entity_id, AuditRow.details)
        .where(AuditRow.entity_type == "outbox", AuditRow.action == "reply.redrafted",
               AuditRow.entity_id.in_([str(i) for i in reply_ids]))
        .order_by(AuditRow.at, AuditRow.id)
    ).all()
    for entity_id, details in events:  # oldest first: the latest wins
        details = details or {}
        if (details.get("incident_id") == incident_id
                and details.get("previous_template") not in (None, REPLY_TEMPLATE, FOLLOWUP_TEMPLATE)):
            found[int(entity_id)] = str(details["previous_template"])
    return found


def _latest_scores(session: Session, mention_ids: Sequence[int]) -> dict[int, Score]:
    """Each mention's latest score: one SELECT."""
    scores: dict[int, Score] = {}
    if not mention_ids:
        return scores
    rows = session.scalars(
        select(ScoreRow).where(ScoreRow.mention_id.in_(sorted(set(mention_ids))))
        .order_by(ScoreRow.mention_id, ScoreRow.scored_at.desc(), ScoreRow.id.desc())
    ).all()
    for row in rows:
        if row.mention_id not in scores:
            scores[row.mention_id] = Score(analyzer=row.analyzer, version=row.version, compound=row.compound,
                                           label=Label(row.label), lang=row.lang)
    return scores


def unlink_mentions(session: Session, incident_id: int, mention_ids: Sequence[int], *, actor: str, now: datetime,
                    settings: Settings, renderer: Any,
                    rule_template: Callable[[Mention, Score | None], str | None] | None = None,
                    reason: str | None = None) -> list[Unlinking]:
    """Unlink these complaints of the incident, in this order, each exactly
    as :func:`unlink_mention` describes (the same re-drafts, holds,
    withdrawn follow-ups, results and audit events, in the same order), with
    a fixed number of statements whatever their number: the links, mentions,
    alerts, replies, scores, earlier templates and follow-ups are each read
    in one SELECT, and the deletes, inserts, tag changes, re-drafts,
    withdrawals and audit events written in one statement each. A reply is
    dealt with by the first complaint of its conversation whose unlink
    leaves its alert unlinked (as one at a time: while another complaint of
    its alert stays linked, it is kept). ``incident cancel`` unlinks all
    the incident's complaints this way. A mention not linked to the
    incident: :class:`IncidentError`, nothing changed."""
    incident_row = get_incident(session, incident_id)
    ids = list(dict.fromkeys(mention_ids))
    if not ids:
        return []
    links = {link.mention_id: link for link in session.scalars(
        select(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id,
                                         IncidentMentionRow.mention_id.in_(ids))
        .with_for_update())}
    missing = next((m for m in ids if m not in links), None)
    if missing is not None:
        raise IncidentError(_not_linked(session, incident_id, missing))
    alert_ids = sorted({link.alert_id for link in links.values() if link.alert_id is not None})
    # How many of the incident's complaints each alert holds: it stays tagged until its last one goes.
    remaining: dict[int, int] = dict(session.execute(
        select(IncidentMentionRow.alert_id, func.count()).where(IncidentMentionRow.incident_id == incident_id,
                                                                 IncidentMentionRow.alert_id.in_(alert_ids))
        .group_by(IncidentMentionRow.alert_id)).all()) if alert_ids else {}
    mention_rows = {row.id: row for row in session.scalars(select(MentionRow).where(MentionRow.id.in_(ids))
                                                           .options(defer(MentionRow.raw)))}
    alerts = {row.id: row for row in session.scalars(select(AlertRow).where(AlertRow.id.in_(alert_ids)))}
    session.execute(delete(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id,
                                                     IncidentMentionRow.mention_id.in_(ids)))
    session.execute(insert(IncidentUnlinkRow), [
        {"incident_id": incident_id, "mention_id": m, "unlinked_at": now, "unlinked_by": actor, "reason": reason}
        for m in ids])
    tag = incident_tag(incident_id)
    session.execute(delete(MentionTagRow).where(MentionTagRow.mention_id.in_(ids), MentionTagRow.tag == tag))

    # ``manual``: the platform would not take it from the bot and a person is
    # to post it by hand; it has not gone out, so it is re-drafted like a
    # drafted one (a person approves the ordinary text, and posts it by hand
    # if the platform refuses it again).
    replies = replies_to(session, mentions=ids, alerts=alert_ids,
                          statuses=(*PENDING_REPLY_STATUSES, "manual", "sent"), template=REPLY_TEMPLATE, lock=True)
    # Claimed by a sender (``sending``) or outcome unknown: maybe posted
    # already. Read without a lock and never changed here, as a claimed row
    # belongs to its sender; reconciliation decides (outreach/outbox.py).
    on_the_way = [reply for reply, _ in replies_to(session, mentions=ids, alerts=alert_ids,
                                                    statuses=IN_FLIGHT_STATUSES, template=REPLY_TEMPLATE)]
    # The follow-up answers the post of theirs we answered last: maybe an
    # earlier post of the conversation, which leaves the incident with it;
    # a conversation that stays linked keeps its follow-up (as its replies).
    followups = list(session.execute(
        select(OutboxRow.id, OutboxRow.mention_id, OutboxRow.alert_id)
        .where(OutboxRow.kind == "followup", OutboxRow.incident_id == incident_id,
               OutboxRow.status.in_(PENDING_REPLY_STATUSES),
               or_(OutboxRow.mention_id.in_(ids), OutboxRow.alert_id.in_(alert_ids)))
        .order_by(OutboxRow.id)
        .with_for_update()
    ).all())

    # Each complaint in turn, as if unlinked one at a time.
    still: dict[int, bool] = {}  # mention id -> its alert stays linked after it
    mine: dict[int, list[tuple[OutboxRow, MentionRow]]] = {}  # mention id -> the replies its unlink deals with
    kept: dict[int, list[int]] = {}
    in_flight: dict[int, dict[int, str]] = {}
    followups_of: dict[int, list[int]] = {}
    taken_replies: set[int] = set()
    taken_flight: set[int] = set()
    taken_followups: set[int] = set()
    for mention_id in ids:
        alert_id = links[mention_id].alert_id
        if alert_id is not None:
            remaining[alert_id] = remaining.get(alert_id, 1) - 1
        alert_still_linked = still[mention_id] = alert_id is not None and remaining[alert_id] > 0

        def of_conversation(reply_mention: int | None, reply_alert: int | None) -> bool:
            return reply_mention == mention_id or (alert_id is not None and reply_alert == alert_id)

        kept[mention_id] = []
        in_flight[mention_id] = {}
        # A reply of a conversation still linked stays the incident's, on its way or not.
        for reply in on_the_way:
            if reply.id in taken_flight or not of_conversation(reply.mention_id, reply.alert_id):
                continue
            if alert_still_linked and reply.alert_id == alert_id:
                kept[mention_id].append(reply.id)
            else:
                in_flight[mention_id][reply.id] = reply.status
                taken_flight.add(reply.id)
        mine[mention_id] = []
        for reply, answered_row in replies:
            if reply.id in taken_replies or not of_conversation(reply.mention_id, reply.alert_id):
                continue
            if alert_still_linked and reply.alert_id == alert_id:
                kept[mention_id].append(reply.id)  # its conversation is still the incident's
                continue
            taken_replies.add(reply.id)
            mine[mention_id].append((reply, answered_row))
        followups_of[mention_id] = []
        for followup_id, f_mention, f_alert in followups:
            if followup_id in taken_followups:
                continue
            if alert_id is not None and not alert_still_linked:
                ours = f_mention == mention_id or f_alert == alert_id
            elif alert_id is not None:
                ours = f_mention == mention_id and (f_alert is None or f_alert != alert_id)
            else:
                ours = f_mention == mention_id
            if ours:
                taken_followups.add(followup_id)
                followups_of[mention_id].append(followup_id)

    to_redraft = [(reply, row) for m in ids for reply, row in mine[m] if reply.status != "sent"]
    before = _template_before(session, [reply.id for reply, _ in to_redraft], incident_id)
    scores = _latest_scores(session, [row.id for _, row in to_redraft])
    edited = persons_texts(session, [reply for reply, _ in to_redraft])  # a person's text: kept, held for them
    unlinked_before = (f"incident #{incident_id} ({incident_row.title}) was cancelled"
                       if incident_row.status == CANCELLED else
                       f"{actor} unlinked the complaint from incident #{incident_id} ({incident_row.title})")
    # A person's text written before a cancellation never goes out as it is
    # (outreach.incident_replies.cancelled_incident_reply): they rewrite it.
    kept_advice = ("it may speak of the outage: edit it (`brandpulse replies edit {reply_id} ...`, without"
                   f" incident #{incident_id}'s status link) and approve it, or reject it"
                   if incident_row.status == CANCELLED else None)
    brand = settings.brand(incident_row.brand)
    policy = settings.reply_policy
    changes: list[dict[str, Any]] = []
    withdrawn_events = {e["entity_id"]: e for e in withdraw(
        session, sorted(taken_followups), reason=f"{UNLINKED_REASON} #{incident_id}", incident_id=incident_id,
        actor=actor, now=now)}
    events: list[dict[str, Any]] = []
    results: list[Unlinking] = []
    for mention_id in ids:
        link, mention_row = links[mention_id], mention_rows.get(mention_id)
        alert_id = link.alert_id
        alert = alerts.get(alert_id) if alert_id is not None else None
        redrafted: dict[int, str] = {}
        held: dict[int, str] = {}
        sent: list[int] = []
        by_hand: list[int] = []
        for reply, answered_row in mine[mention_id]:
            if reply.status == "sent":
                sent.append(reply.id)
                continue
            if reply.id in edited:
                change, event = keep_persons_text(reply, edited[reply.id], before=unlinked_before, link=None,
                                                  incident_id=incident_id, reason=UNLINKED_REASON, actor=actor,
                                                  now=now, advice=kept_advice and kept_advice.format(reply_id=reply.id))
                held[reply.id] = change["hold_reason"]
                if reply.status == "manual":
                    by_hand.append(reply.id)
                changes.append(change)
                events.append(event)
                continue
            answered = mention_from_row(answered_row)
            score = scores.get(answered_row.id)
            template = before.get(reply.id)
            if template is None and rule_template is not None:
                template = rule_template(answered, score)
            if template is None:
                text, hold_reason = reply.text, (f"unlinked from incident #{incident_id}: no rule drafts an ordinary"
                                                 " reply to it; edit the text or reject it")
            else:
                text, hold_reason = _ordinary_text(renderer, template, answered, mention_id=answered_row.id,
                                                      alert=alert, score=score, brand=brand)
                if not text:
                    text = reply.text  # nothing to put instead: a person decides
                    hold_reason = f"unlinked from incident #{incident_id}: {hold_reason}"
            auto = template is not None and (not policy.require_approval or template in policy.auto_send_templates)
            change, event = redraft(reply, text=text, template=template or reply.template, hold_reason=hold_reason,
                                     auto=auto, incident_id=incident_id, reason=UNLINKED_REASON, actor=actor, now=now,
                                     details={"template": template})
            (held if change["status"] == "held" and hold_reason else redrafted)[reply.id] = hold_reason or template or ""
            if reply.status == "manual":
                by_hand.append(reply.id)
            changes.append(change)
            events.append(event)
        events += [withdrawn_events[f] for f in followups_of[mention_id]]
        result = Unlinking(
            incident_id=incident_id, mention_id=mention_id, alert_id=alert_id,
            alert_untagged=alert_id is not None and not still[mention_id], how=link.how,
            keywords=list(link.keywords) if link.keywords is not None else None, redrafted=redrafted, held=held,
            sent=sent, kept=sorted(kept[mention_id]), followups_withdrawn=followups_of[mention_id],
            in_flight=in_flight[mention_id], by_hand=by_hand,
        )
        results.append(result)
        events.append({"at": now, "actor": actor, "action": "incident.unlinked", "entity_type": AUDIT_ENTITY,
                       "entity_id": incident_id, "details": {
                           "mention_id": mention_id, "reason": reason,
                           "author": mention_row.author_handle if mention_row else None,
                           "alert_id": alert_id, "alert_untagged": result.alert_untagged, "how": link.how,
                           "keywords": result.keywords, "linked_at": link.linked_at.isoformat(),
                           "redrafted": sorted(redrafted), "held": sorted(held), "sent": sent, "kept": result.kept,
                           "followups_withdrawn": result.followups_withdrawn, "by_hand": by_hand,
                           "in_flight": [{"id": i, "status": status}
                                         for i, status in sorted(result.in_flight.items())]}})
    store_redrafts(session, changes, replies)
    untagged = [alert for alert_id, alert in alerts.items() if remaining.get(alert_id, 0) <= 0]
    retagged = [(alert, [t for t in alert.tags or [] if t != tag]) for alert in untagged]
    retagged = [(alert, tags) for alert, tags in retagged if tags != list(alert.tags or [])]
    if retagged:
        table = AlertRow.__table__
        session.execute(update(table).where(table.c.id == bindparam("b_id")).values(tags=bindparam("b_tags")),
                        [{"b_id": alert.id, "b_tags": tags} for alert, tags in retagged])
        for alert, _ in retagged:
            session.expire(alert, ["tags"])
    audit.record_many(session, events)
    return results


def _not_linked(session: Session, incident_id: int, mention_id: int) -> str:
    """Why (incident, mention) has no link, for the person who asked."""
    if session.get(MentionRow, mention_id) is None:
        return f"no mention with id {mention_id}"
    unlinked = session.get(IncidentUnlinkRow, (incident_id, mention_id))
    if unlinked is not None:
        return (f"mention {mention_id} is not linked to incident #{incident_id}: {unlinked.unlinked_by} unlinked it"
                f" {unlinked.unlinked_at:%Y-%m-%d %H:%M} UTC")
    other = session.scalar(select(IncidentMentionRow.incident_id).where(IncidentMentionRow.mention_id == mention_id))
    if other is not None:
        return f"mention {mention_id} is not linked to incident #{incident_id} but to incident #{other}"
    return f"mention {mention_id} is not linked to incident #{incident_id}"


@dataclass(frozen=True, slots=True)
class HandLink:
    """What :func:`link_by_hand` did."""

    incident_id: int
    mention_id: int
    alert_id: int | None
    keywords: list[str]  # the incident's keywords it contains (may be none: a person decided)
    was_unlinked: bool  # it had been unlinked from this incident before
    redrafted: list[int]  # its replies not gone out, now from the incident reply template
    answered: list[int]  # its replies already sent (left as they are): a follow-up when it resolves
    # Its replies a sender has claimed (``sending``) or whose outcome is
    # unknown: maybe posted already, so left as they are and nothing is
    # drafted beside them; reconciliation decides (posted: it is the answer,
    # the follow-up answers it; not posted: held at its send claim,
    # re-drafted for this incident if it gave another's link).
    in_flight: dict[int, str] = field(default_factory=dict)  # reply id -> its status
    # its replies a person had written (replies edit, approve --text): text kept, held for a person
    kept: list[int] = field(default_factory=list)


def link_by_hand(session: Session, incident_id: int, mention_id: int, *, actor: str, now: datetime,
                 settings: Settings, templates: IncidentTemplates, reason: str | None = None) -> HandLink:
    """Link a complaint the keywords missed to the open incident, in the
    caller's transaction, as linking does: the link (``how`` ``hand``, with
    ``actor`` and the keywords it contains, if any), the tag on the mention
    and its author's alert, its replies that have not gone out re-drafted from
    the incident reply template (replies already sent stay as they are; the
    author gets the follow-up when it resolves). Refused for a resolved
    incident, a mention of another brand or of the brand's own accounts, one
    linked already, or one whose conversation is another open incident's
    (a resolved incident's tag does not keep it, as on arrival and opening).
    Audited ``incident.linked`` with ``actor`` and ``reason``."""
    # Share-locked (PostgreSQL) as the poller's batch does (open_incidents):
    # an incident being cancelled is waited for, then read cancelled.
    row = session.get(IncidentRow, incident_id, with_for_update={"read": True}, populate_existing=True)
    if row is None:
        raise IncidentError(f"no incident with id {incident_id}")
    if row.status not in OPEN_STATUSES:
        raise IncidentError(f"incident {row.id} is {row.status}: link complaints to an open incident")
    # Locked before anything is checked: two people linking it at the same
    # moment take turns, and the second one sees the first one's link (on
    # PostgreSQL; SQLite serialises writers anyway). NO KEY: the link's
    # foreign key to it still only needs a key share.
    mention_row = session.get(MentionRow, mention_id, with_for_update={"key_share": True}, populate_existing=True)
    if mention_row is None:
        raise IncidentError(f"no mention with id {mention_id}")
    if mention_row.brand != row.brand:
        raise IncidentError(f"mention {mention_id} is about brand {mention_row.brand!r}, incident #{row.id} about"
                            f" {row.brand!r}")
    if mention_row.is_own:
        raise IncidentError(f"mention {mention_id} is a post of the brand's own account, not a complaint")
    other = session.scalar(select(IncidentMentionRow.incident_id).where(IncidentMentionRow.mention_id == mention_id))
    if other == incident_id:
        raise IncidentError(f"mention {mention_id} is linked to incident #{incident_id} already")
    if other is not None:
        raise IncidentError(f"mention {mention_id} is linked to incident #{other}; unlink it there first"
                            f" (brandpulse incident unlink {other} {mention_id})")
    alert = _author_alert(session, mention_row, lock=True)
    tag = incident_tag(incident_id)
    if alert is not None:
        taken = sorted(open_incident_tags(session, [t for t in alert.tags or [] if t != tag]))
        if taken:
            raise IncidentError(f"mention {mention_id}'s conversation (alert #{alert.id}) belongs to {taken[0]},"
                                " which is still open")
    mention = mention_from_row(mention_row)
    keywords = matched_keywords(row.keywords or (), keyword_text(mention))
    was_unlinked = session.execute(
        delete(IncidentUnlinkRow).where(IncidentUnlinkRow.incident_id == incident_id,
                                        IncidentUnlinkRow.mention_id == mention_id)
    ).rowcount > 0
    session.execute(insert(IncidentMentionRow).values(
        incident_id=incident_id, mention_id=mention_id, alert_id=alert.id if alert else None, linked_at=now,
        how=LINKED_BY_HAND, keywords=keywords, linked_by=actor))
    if tag not in set(session.scalars(select(MentionTagRow.tag).where(MentionTagRow.mention_id == mention_id))):
        session.execute(insert(MentionTagRow).values(mention_id=mention_id, tag=tag))
    if alert is not None:
        _tag_alert(session, alert.id, tag, add=True)
    replies = replies_to(session, mentions=[mention_id], alerts=[alert.id] if alert else [],
                          statuses=(*PENDING_REPLY_STATUSES, "sent"), lock=True)
    pending = [(reply, m) for reply, m in replies if reply.status in PENDING_REPLY_STATUSES]
    answered = [reply.id for reply, _ in replies if reply.status == "sent"]
    # Claimed by a sender or of unknown outcome: read without a lock and left alone, as unlinking does.
    in_flight = {reply.id: reply.status for reply, _ in replies_to(
        session, mentions=[mention_id], alerts=[alert.id] if alert else [], statuses=IN_FLIGHT_STATUSES)}
    kept: list[int] = []
    redrafted = redraft_replies(session, current_snapshot(session, incident_id), pending,
                                 reason=LINKED_BY_HAND_REASON, settings=settings, templates=templates, now=now,
                                 actor=actor,
                                 before=f"{actor} linked the complaint to incident #{row.id} ({row.title})",
                                 kept_ids=kept)
    audit.record(session, at=now, actor=actor, action="incident.linked", entity_type=AUDIT_ENTITY,
                 entity_id=incident_id, details={
                     "by_hand": True, "mention_ids": [mention_id], "reason": reason, "keywords": keywords,
                     "alert_id": alert.id if alert else None, "was_unlinked": was_unlinked,
                     "redrafted": redrafted, "kept_held": kept, "answered": answered,
                     "in_flight": [{"id": i, "status": status} for i, status in sorted(in_flight.items())]})
    return HandLink(incident_id=incident_id, mention_id=mention_id, alert_id=alert.id if alert else None,
                    keywords=keywords, was_unlinked=was_unlinked, redrafted=redrafted, answered=answered,
                    in_flight=in_flight, kept=kept)
