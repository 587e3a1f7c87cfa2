"""Incidents: which new complaint an open incident takes (keyword matching).

While an incident is open, the pipeline links each new *negative* mention of
its brand whose text or title contains one of its keywords
(:func:`match_incident`; keywords default to the components; a keyword
matches as whole words, the last in its singular or plural) and that was
posted at most ``incidents.link_for`` after the incident's latest step
(:func:`link_until`: opening or an update, so an incident left open does not
collect the day's unrelated complaints) to it — a reply whose own words
contain no keyword is matched by the post it answers (:func:`match_in_context`:
a complaint linked to the incident, one of its status posts, or a post of the
brand's own that contains a keyword) — unless its conversation (the
author's open alert of that thread) already belongs to another open incident
(:func:`match_arrivals`, the rule opening and linking by hand follow):
an ``incident_mentions`` row, the tag ``incident:<id>`` on the mention and its
alert, and, where a rule drafts a reply, the ``reply`` template instead of
the rule's: it points the author to the status thread on their network (else
the other network's, else ``status_page``, else the X account to follow).

Keywords match as whole words or phrases, case-insensitive, either
apostrophe, the last word in its singular or plural, and a keyword in a
script written without spaces (Japanese, Chinese, Korean, Thai) inside the
text's words (:func:`keywords_pattern`); :func:`keyword_text` is what they are looked for
in (a Reddit submission's title and the text).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from brandpulse.db.models import AlertRow, IncidentMentionRow, IncidentRow, IncidentUpdateRow, MentionRow, OutboxRow
from brandpulse.types import Mention
from outreach.incident_records import LINKABLE_ALERT_STATUSES, OPEN_STATUSES, TAG_PREFIX, IncidentSnapshot, incident_tag

_APOSTROPHE = re.compile("['’]")


def _plural(word: str) -> str:
    """``word`` as a pattern that also matches its plural or singular (kiosk,
    kiosks; crash, crashes; 503, 503s). Words ending in -ss, -us and -is, and
    short ones, match as they are."""
    if not word[-1:].isalnum():
        return re.escape(word)
    lower = word.lower()  # matched without case: so are its endings
    if lower.endswith("s"):
        if len(word) < 5 or lower.endswith(("ss", "us", "is")):
            return re.escape(word)
        if lower.endswith(("sses", "shes", "ches", "xes", "zes")):
            return re.escape(word[:-2]) + "(?:es?)?"  # crashes: crash; (cases, case)
        return re.escape(word[:-1]) + "s?"
    return re.escape(word) + "(?:e?s)?"


# Scripts written without spaces between words (Japanese, Chinese; Korean
# and Thai attach particles to words): a keyword's edge in one of them is not
# a word boundary, so it matches there anywhere ("アプリ" in "航空のアプリが").
_UNSPACED = re.compile("[\u0e00-\u0e7f\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
                       "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]")


def _alternative(phrase: str) -> str:
    """One keyword as a pattern: its words with any white space between them,
    either apostrophe for one, the last word in its singular or plural
    (:func:`_plural`; not in an unspaced script), a whole word at each edge
    unless that edge is in an unspaced script (:data:`_UNSPACED`)."""
    words = phrase.split()
    last = words[-1]
    body = _APOSTROPHE.sub(_APOSTROPHE.pattern, r"\s+".join(
        [*(re.escape(w) for w in words[:-1]), re.escape(last) if _UNSPACED.match(last[-1]) else _plural(last)]))
    before = "" if _UNSPACED.match(phrase.strip()[0]) else r"(?<!\w)"
    after = "" if _UNSPACED.match(phrase.strip()[-1]) else r"(?!\w)"
    return f"{before}{body}{after}"


def keywords_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """Any of ``phrases`` as whole words, case-insensitive, any white space
    between words, either apostrophe (' or ’) for one; the last word in its
    singular or plural (:func:`_plural`). A keyword in Japanese, Chinese,
    Korean or Thai matches inside the text's words (:func:`_alternative`)."""
    alternatives = sorted({_alternative(p) for p in phrases if p.split()}, key=len, reverse=True)
    if not alternatives:
        return None
    return re.compile("(?:" + "|".join(alternatives) + ")", re.IGNORECASE)


def matched_keywords(keywords: Iterable[str], text: str) -> list[str]:
    """The ``keywords`` that ``text`` contains, as an incident matches them
    (for showing why a complaint was linked)."""
    found = []
    for keyword in keywords:
        pattern = _keyword_pattern(keyword)
        if pattern is not None and pattern.search(text):
            found.append(keyword)
    return found


@functools.lru_cache(maxsize=1024)
def _keyword_pattern(keyword: str) -> re.Pattern[str] | None:
    return keywords_pattern([keyword])


def keyword_text(mention: Mention | MentionRow) -> str:
    """What keywords are looked for in: the title (Reddit submissions) and the text."""
    return f"{mention.title}\n{mention.text}" if mention.title else mention.text


def link_until(updated_at: datetime, link_for: timedelta) -> datetime:
    """New complaints posted after this are not linked to an open incident
    whose latest step was at ``updated_at`` (``incidents.link_for``)."""
    return updated_at + link_for


@dataclass(frozen=True)
class OpenIncident:
    snapshot: IncidentSnapshot
    pattern: re.Pattern[str] | None  # None: no keywords, nothing is linked
    until: datetime | None = None  # complaints posted later are not linked (None: no end)

    @property
    def id(self) -> int:
        return self.snapshot.id

    @property
    def tag(self) -> str:
        return incident_tag(self.snapshot.id)

    def keywords_in(self, mention: Mention) -> list[str]:
        """The incident's keywords the mention's title or text contains (kept with its link)."""
        return matched_keywords(self.snapshot.keywords, keyword_text(mention))


def open_incidents(session: Session, brands: Iterable[str], *, link_for: timedelta | None = None,
                   lock: bool = False) -> list[OpenIncident]:
    """The brands' open incidents, newest first, each with its latest message
    (one SELECT; a second one only when there are open incidents). With
    ``link_for``, each links complaints posted up to that long after its
    latest step (:func:`link_until`). With ``lock`` (a batch about to link
    complaints to them), their rows are share-locked (FOR SHARE on
    PostgreSQL) until the caller commits: an incident being cancelled or
    resolved is waited for and then no longer read as open, and one read
    open is cancelled only after the links are committed, which the
    cancellation then unlinks."""
    brand_list = sorted(set(brands))
    if not brand_list:
        return []
    query = (select(IncidentRow).where(IncidentRow.brand.in_(brand_list), IncidentRow.status.in_(OPEN_STATUSES))
             .order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()))
    rows = session.scalars(query.with_for_update(read=True) if lock else query,
                           execution_options={"populate_existing": True}).all()
    if not rows:
        return []
    latest: dict[int, str | None] = {}
    for incident_id, message in session.execute(
        select(IncidentUpdateRow.incident_id, IncidentUpdateRow.message)
        .where(IncidentUpdateRow.incident_id.in_([r.id for r in rows]))
        .order_by(IncidentUpdateRow.id)
    ):
        latest[incident_id] = message  # the last one wins
    return [
        OpenIncident(IncidentSnapshot.of(r, message=latest.get(r.id)), keywords_pattern(r.keywords or ()),
                     until=link_until(r.updated_at, link_for) if link_for is not None else None)
        for r in rows
    ]


def match_incident(mention: Mention, incidents: Sequence[OpenIncident]) -> OpenIncident | None:
    """The newest open incident of the mention's brand whose keywords the
    mention's text or title contains, among those still linking when it was
    posted (``until``). The caller decides that it is negative."""
    text = None
    for incident in incidents:
        if incident.snapshot.brand != mention.brand or incident.pattern is None:
            continue
        if incident.until is not None and mention.created_at > incident.until:
            continue
        if text is None:
            text = keyword_text(mention)
        if incident.pattern.search(text):
            return incident
    return None


@dataclass(frozen=True, slots=True)
class AnsweredPost:
    """The post a reply answers, as far as linking cares (:func:`answered_posts`)."""

    mention_id: int | None  # as stored (None: only known as one of our status posts)
    brand: str  # the brand it was stored (or posted) for
    own: bool  # a post of that brand's own accounts
    text: str  # its title and text, where keywords are looked for (own posts)
    incident_ids: frozenset[int]  # incidents it is linked to, or whose status post it is


def answered_posts(session: Session, replies: Iterable[Mention]) -> dict[tuple[str, str], AnsweredPost]:
    """The stored posts the ``replies`` answer, by (platform, id): with the
    incidents they are linked to, and our incidents' status posts among them.
    Two SELECTs, none without a reply."""
    keys = {(m.platform, str(m.reply_to_id)) for m in replies if m.reply_to_id}
    if not keys:
        return {}
    platforms, ids = sorted({p for p, _ in keys}), sorted({i for _, i in keys})
    found: dict[tuple[str, str], AnsweredPost] = {}
    rows = session.execute(
        select(MentionRow.id, MentionRow.platform, MentionRow.external_id, MentionRow.brand, MentionRow.is_own,
               MentionRow.title, MentionRow.text, IncidentMentionRow.incident_id)
        .outerjoin(IncidentMentionRow, IncidentMentionRow.mention_id == MentionRow.id)
        .where(MentionRow.platform.in_(platforms), MentionRow.external_id.in_(ids))
    ).all()
    for row in rows:
        key = (row.platform, row.external_id)
        if key not in keys:
            continue
        linked = found[key].incident_ids if key in found else frozenset()
        found[key] = AnsweredPost(row.id, row.brand, bool(row.is_own), keyword_text(row),
                                  linked | ({row.incident_id} if row.incident_id is not None else set()))
    for platform, external_id, brand, incident_id, text in session.execute(
        select(OutboxRow.platform, OutboxRow.external_id, OutboxRow.brand, OutboxRow.incident_id, OutboxRow.text)
        .where(OutboxRow.kind == "status", OutboxRow.platform.in_(platforms), OutboxRow.external_id.in_(ids))
    ):
        key = (platform, external_id)
        if key in keys:
            post = found.get(key, AnsweredPost(None, brand, True, text, frozenset()))
            found[key] = replace(post, own=True, incident_ids=post.incident_ids | {incident_id})
    return found


def match_in_context(mention: Mention, incidents: Sequence[OpenIncident],
                     answered: Mapping[tuple[str, str], AnsweredPost]) -> OpenIncident | None:
    """:func:`match_incident`, else, for a reply whose own words contain none
    of the keywords, what the post it answers says: a reply to a complaint
    linked to an open incident, or to one of its status posts, is about that
    incident ("can't check in either", "still nothing"); a reply to one of the
    brand's own posts (this brand's: not another brand's it was stored for)
    is matched against that post's title and text (the brand's outage
    announcement). Only incidents still linking when the reply
    was posted (``until``)."""
    incident = match_incident(mention, incidents)
    if incident is not None or not mention.reply_to_id:
        return incident
    post = answered.get((mention.platform, str(mention.reply_to_id)))
    if post is None:
        return None
    linking = [i for i in incidents if i.snapshot.brand == mention.brand
               and (i.until is None or mention.created_at <= i.until)]
    incident = next((i for i in linking if i.id in post.incident_ids), None)
    if incident is None and post.own and post.brand == mention.brand:
        incident = next((i for i in linking if i.pattern is not None and i.pattern.search(post.text)), None)
    return incident


def match_arrivals(session: Session, mentions: Sequence[tuple[int, Mention]],
                   incidents: Sequence[OpenIncident]) -> dict[int, OpenIncident]:
    """The open incident each new negative mention (its row id, the mention)
    is linked to as it comes in (:func:`match_incident`), unless its
    conversation belongs to another open incident: the author's open or
    acknowledged alert of that thread carries the other incident's tag
    (:func:`open_incident_tags`, as when opening and by hand), or a mention of
    the same conversation earlier in the batch was matched to it. Such a
    mention may be linked only to the incident its conversation belongs to,
    if its keywords match that one. A reply whose own words match no
    incident is matched by the post it answers (:func:`match_in_context`;
    also a complaint matched earlier in the batch). One SELECT of the alerts,
    only when a mention with a thread matched; two of the answered posts,
    only when a reply matched nothing by its own words."""
    ordered = sorted(mentions, key=lambda item: (item[1].created_at, item[0]))
    direct = {row_id: match_incident(m, incidents) for row_id, m in ordered}
    answered = answered_posts(session, [m for row_id, m in ordered if direct[row_id] is None])
    matched: list[tuple[int, Mention, OpenIncident]] = []
    in_batch: dict[tuple[str, str], OpenIncident] = {}  # complaints matched earlier in the batch
    for row_id, mention in ordered:
        incident = direct[row_id] or match_in_context(mention, incidents, answered)
        if incident is None and mention.reply_to_id:
            incident = in_batch.get((mention.platform, str(mention.reply_to_id)))
            if incident is not None and incident.until is not None and mention.created_at > incident.until:
                incident = None
        if incident is not None:
            matched.append((row_id, mention, incident))
            in_batch[(mention.platform, mention.external_id)] = incident
    keys = {_conversation(m) for _, m, _ in matched if m.thread_id is not None}
    owners: dict[tuple[str, str, str, str], set[str]] = {}
    if keys:
        rows = session.execute(
            select(AlertRow.platform, AlertRow.thread_id, AlertRow.author_id, AlertRow.brand, AlertRow.tags)
            .where(AlertRow.status.in_(LINKABLE_ALERT_STATUSES), AlertRow.thread_id.in_(sorted({k[1] for k in keys})))
        ).all()
        found = [(key, list(tags or [])) for *parts, tags in rows if (key := tuple(parts)) in keys]
        taken = open_incident_tags(session, [tag for _, tags in found for tag in tags])
        for key, tags in found:
            owners.setdefault(key, set()).update(taken.intersection(tags))
    result: dict[int, OpenIncident] = {}
    for row_id, mention, incident in matched:
        key = _conversation(mention) if mention.thread_id is not None else None
        owned = owners.get(key, set()) if key is not None else set()
        if owned and incident.tag not in owned:
            incident = match_in_context(mention, [i for i in incidents if i.tag in owned], answered)
            if incident is None:
                continue  # the conversation is another open incident's
        result[row_id] = incident
        if key is not None:
            owners.setdefault(key, set()).add(incident.tag)
    return result


def _conversation(mention: Mention) -> tuple[str, str, str, str]:
    """What an author's alert groups by (its conversation): platform, thread, author, brand."""
    return (mention.platform, str(mention.thread_id), mention.author.id, mention.brand)


def open_incident_tags(session: Session, tags: Iterable[Any]) -> set[str]:
    """The ``incident:<id>`` tags among ``tags`` whose incident is still
    open (one SELECT). A conversation belongs to an incident while it is
    open; a resolved incident's tag stays on the alert as history and does
    not keep the conversation from a new incident (on arrival, when opening
    or by hand alike)."""
    ids: dict[int, str] = {}
    for tag in tags:
        number = str(tag).removeprefix(TAG_PREFIX)
        if str(tag).startswith(TAG_PREFIX) and number.isdigit():
            ids[int(number)] = str(tag)
    if not ids:
        return set()
    open_ids = session.scalars(select(IncidentRow.id).where(IncidentRow.id.in_(sorted(ids)),
                                                            IncidentRow.status.in_(OPEN_STATUSES)))
    return {ids[i] for i in open_ids}
