"""Incidents: a status page on the networks, and the complaints it answers.

Lifecycle
=========

An incident goes ``investigating → identified → monitoring → resolved``, as
on a status page. Each step (:func:`open_incident`, :func:`update_incident`,
:func:`resolve_incident`) stores an ``incident_updates`` row, an audit event
with who and when, and queues the step's posts. Allowed steps
(:data:`TRANSITIONS`): forward, skipping stages if need be; a further update
in the same status; ``monitoring → identified`` (the fix did not hold).
Nothing follows ``resolved``: a new problem is a new incident. Anything else
raises :class:`IncidentError` saying what is allowed.

An incident opened by mistake is cancelled (:func:`cancel_incident`,
``incident cancel``): status ``cancelled``, after which nothing follows
either. It is not an incident any more: its status posts that have not gone
out are withdrawn (one on its way is withdrawn at its send claim if
reconciliation finds it was not posted: :func:`cancelled_status_post`), every
complaint it held is unlinked as :func:`unlink_mention` does, it links no new
complaint and holds no conversation, and the spike detector no longer takes
it for an open incident. Status posts already sent are public: a careful
team does not leave "we're investigating an outage" standing, so the
cancellation then needs a correction, posted as one more step (status
``cancelled``) in the threads where a post is public, or an explicit
``without_correction`` (they correct or delete the posts by hand).

Posting
=======

Each step is posted on the networks configured for the brand
(``incidents.brands.<brand>``) from the ``incidents.templates`` templates,
through the outbox, as rows of kind ``status``: the same claim-then-send,
at-most-once and reconciliation as replies, and the outreach kill switch
stops them. They are ops' own words posted with one command, so they need no
approval unless ``incidents.status_posts.require_approval`` says so.

* **X:** a thread. The first post stands alone; each later one replies to
  the previous status post.
* **Reddit:** a submission (title and body) in the configured subreddit;
  each later step is a comment on it.

A reply's target is known only once the post before it is out, so it is
resolved when the row is claimed (:func:`thread_values`, called by
:func:`outreach.outbox.claim`): a status post is not claimed while an earlier
status post of the same incident on the same network is still on its way
(drafted, held, approved, sending, unknown or failed); a rejected one is
skipped. Then a post with a title (a submission) stands alone, a post
without one replies to the incident's submission on that network if there is
one, else to the latest status post sent there (a thread), else it stands
alone. When the first post on a network is sent, its id and link are kept on
the incident (:func:`record_sent`): that is the link complainers are given.

Proactive outreach
==================

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

Complaints start before ops open the incident, so opening it also links the
*earlier* ones (:func:`link_earlier_mentions`): the brand's negative mentions
posted from ``since`` (the command line passes the start of the
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
Ops replace the keywords with :func:`set_keywords` (``incident keywords``).
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
the status link: :func:`unlinked_reply_hold`), and a
follow-up not sent yet is withdrawn. :func:`link_by_hand` (``incident link``) links a
complaint the keywords missed, as opening links the earlier ones (its replies
on their way are listed and left alone, nothing drafted beside them). Both are
audited with who and why.

Each incident reply records the incident whose link its text gives
(``outbox.incident_id``: set when drafted on arrival,
:func:`mark_incident_replies`, and by every re-draft; cleared when an unlink
makes it ordinary). A complaint moved from incident A to B (unlinked, then
linked by hand) while A's reply was on its way and not posted is therefore
not sent with A's link: the send claim re-drafts it for B and holds it for a
person (:func:`unlinked_reply_hold`).

A reply drafted before the incident's first status post on a network is out
(when the incident was opened, or for a complaint linked in the minutes
before the post went out) can only give the status page or the account to
follow. So when that first post is recorded as sent (:func:`record_sent`, in
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

A re-draft (:func:`_redraft_replies`, all three cases) withdraws an approval a
person gave to the old text (an approved reply goes back to ``drafted``, a held
one stays held without it, so a safeguard's window cannot release it); the
reply policy decides for the new text as for a new draft; a text too long for
the platform is held (``hold_code`` ``template``). Each is audited as
``reply.redrafted`` with the previous text, template and status.

Template variables
==================

Status posts (``x_post``, ``reddit_title``, ``reddit_body``,
``reddit_update``) see ``brand.id``, ``brand.name`` and ``incident.*``; the
``reply`` and ``followup`` templates see every reply variable (see
:mod:`outreach.templating`) and ``incident.*``:

=========================  ================  ==============================================================
variable                   type              meaning
=========================  ================  ==============================================================
``incident.id``            int               the incident's number
``incident.title``         str               its title
``incident.status``        str               ``investigating``, ``identified``, ``monitoring``, ``resolved``;
                                             ``cancelled`` (status posts only: the correction)
``incident.status_label``  str               the same, capitalised
``incident.message``       str or none       this step's message (status posts); the latest (replies)
``incident.components``    str               affected components, comma-separated ("" when none)
``incident.opened_at``     datetime (UTC)    when it was opened
``incident.at``            datetime (UTC)    when this step was posted (replies: the latest step)
``incident.update_number`` int               1 for the opening post, then 2, 3, …
``incident.first``         bool              the opening post
``incident.resolved``      bool              the status is ``resolved``
``incident.url``           str or none       where to follow it: the status post on the reader's
                                             network, else the other network's, else ``status_page``
``incident.x_url``         str or none       the X thread, once posted
``incident.reddit_url``    str or none       the Reddit submission, once posted
``incident.status_page``   str or none       ``incidents.brands.<brand>.status_page``
``incident.account``       str or none       the account posting updates, as the reader's network writes
                                             it (``@KestrelAir``), else the X account
=========================  ================  ==============================================================

Template files are looked up in ``templates_dir``, then in brandpulse's own
``templates/`` directory, so a configuration that does not ship them still
gets the defaults. Every template is checked and rendered with sample data
when :class:`IncidentTemplates` is built (the pipeline builds it at start-up).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from jinja2 import TemplateError
from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, defer

from brandpulse import audit
from brandpulse.config import Brand, ConfigError, IncidentNetworks, Settings, TemplateConfig
from brandpulse.db.models import (
    AlertMentionRow,
    AlertRow,
    IncidentMentionRow,
    IncidentRow,
    IncidentUnlinkRow,
    IncidentUpdateRow,
    MentionRow,
    MentionTagRow,
    OutboxRow,
    ScoreRow,
)
from brandpulse.resources import resource_dir
from brandpulse.types import Author, DraftRequest, Label, Mention, Priority, Score
from outreach.channels.base import SentPost
from outreach.channels.textlength import length_problem
from outreach.drafts import render_draft
from outreach.safeguards import POLICY_ACTOR
from outreach.safeguards import TEMPLATE as TEMPLATE_HOLD
from outreach.templating import (
    VARIABLES as REPLY_VARIABLES,
    TemplateRenderError,
    make_environment,
    reply_context,
    sample_contexts,
    static_problems,
)
from outreach.templating import (
    length_problem as platform_length_problem,  # the reader's platform; channels.textlength's is X only
)

log = logging.getLogger(__name__)

STATUSES = ("investigating", "identified", "monitoring", "resolved")
OPEN_STATUSES = STATUSES[:3]
CANCELLED = "cancelled"  # opened by mistake: withdrawn, not a step (cancel_incident)
ALL_STATUSES = (*STATUSES, CANCELLED)
STATUS_LABELS = {s: s.capitalize() for s in ALL_STATUSES}
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "investigating": ("investigating", "identified", "monitoring", "resolved"),
    "identified": ("identified", "monitoring", "resolved"),
    "monitoring": ("identified", "monitoring", "resolved"),  # identified again: the fix did not hold
    "resolved": (),
    CANCELLED: (),
}

ROLES = ("x_post", "reddit_title", "reddit_body", "reddit_update", "reply", "followup")
STATUS_ROLES = ("x_post", "reddit_title", "reddit_body", "reddit_update")
TEMPLATE_NAMES = {role: f"incident_{role}" for role in ROLES}  # as stored in outbox.template
REPLY_TEMPLATE = TEMPLATE_NAMES["reply"]
FOLLOWUP_TEMPLATE = TEMPLATE_NAMES["followup"]
TAG_PREFIX = "incident:"
BUNDLED_TEMPLATES = resource_dir("templates")

AUDIT_ENTITY = "incident"
# Platform limits checked before anything is queued (X is counted as X counts).
REDDIT_TITLE_MAX = 300
REDDIT_BODY_MAX = 40_000
REDDIT_COMMENT_MAX = 10_000
# An earlier status post in one of these states lets the next one go.
SETTLED = ("sent", "rejected")
PENDING_REPLY_STATUSES = ("drafted", "held", "approved")
# A sender claimed it, or the platform's answer was lost: it may be posted already (reconciliation decides).
IN_FLIGHT_STATUSES = ("sending", "unknown")
# Earlier complaints are linked when opening only while their alert is still being worked on.
LINKABLE_ALERT_STATUSES = ("open", "acknowledged")
# How a complaint was linked (incident_mentions.how).
LINKED_AT_OPENING = "opening"  # posted before the incident, linked when it was opened
LINKED_ON_ARRIVAL = "arrival"  # linked by the pipeline as it came in
LINKED_BY_HAND = "hand"  # incident link

INCIDENT_KEYS = (
    "id", "title", "status", "status_label", "message", "components", "opened_at", "at",
    "update_number", "first", "resolved", "url", "x_url", "reddit_url", "status_page", "account",
)
STATUS_VARIABLES: dict[str, tuple[str, ...]] = {"brand": ("id", "name"), "incident": INCIDENT_KEYS}
AUTHOR_VARIABLES: dict[str, tuple[str, ...]] = {**REPLY_VARIABLES, "incident": INCIDENT_KEYS}
_ROLE_VARIABLES = {role: STATUS_VARIABLES if role in STATUS_ROLES else AUTHOR_VARIABLES for role in ROLES}


class IncidentError(Exception):
    """Something the person running the incident can fix: an unknown incident
    or brand, a step the lifecycle does not allow, a post that is too long."""


# ---------------------------------------------------------------------------
# What templates see
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    """The facts about an incident that posts and replies are written from."""

    id: int
    brand: str
    title: str
    status: str
    components: tuple[str, ...]
    keywords: tuple[str, ...]
    opened_at: datetime
    updated_at: datetime
    message: str | None = None  # the latest step's message
    x_root_url: str | None = None
    reddit_root_url: str | None = None

    @classmethod
    def of(cls, row: IncidentRow, *, message: str | None = None) -> "IncidentSnapshot":
        return cls(
            id=row.id, brand=row.brand, title=row.title, status=row.status,
            components=tuple(row.components or ()), keywords=tuple(row.keywords or ()),
            opened_at=row.opened_at, updated_at=row.updated_at, message=message,
            x_root_url=row.x_root_url, reddit_root_url=row.reddit_root_url,
        )


def _status_account(networks: IncidentNetworks | None, platform: str | None) -> str | None:
    if networks is None:
        return None
    if platform == "reddit" and networks.reddit is not None and networks.reddit.account:
        return f"u/{networks.reddit.account}"
    if networks.x is not None:
        return f"@{networks.x.account}"
    return None


def incident_context(
    incident: IncidentSnapshot,
    *,
    settings: Settings,
    platform: str | None = None,
    update_number: int = 1,
    at: datetime | None = None,
) -> dict[str, Any]:
    """``incident.*`` for a template: ``platform`` is the reader's network
    (it decides ``url`` and ``account``)."""
    networks = settings.incidents.brands.get(incident.brand)
    links = {"x": incident.x_root_url, "reddit": incident.reddit_root_url}
    url = links.get(platform or "") or incident.x_root_url or incident.reddit_root_url
    if url is None and networks is not None:
        url = networks.status_page
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "status_label": STATUS_LABELS.get(incident.status, incident.status),
        "message": incident.message,
        "components": ", ".join(incident.components),
        "opened_at": incident.opened_at,
        "at": at or incident.updated_at,
        "update_number": update_number,
        "first": update_number == 1,
        "resolved": incident.status == "resolved",
        "url": url,
        "x_url": incident.x_root_url,
        "reddit_url": incident.reddit_root_url,
        "status_page": networks.status_page if networks is not None else None,
        "account": _status_account(networks, platform),
    }


def _brand_context(brand: Brand) -> dict[str, Any]:
    return {"id": brand.id, "name": brand.name}


# ---------------------------------------------------------------------------
# Templates, checked at load
# ---------------------------------------------------------------------------


def _sample_incidents(brand: Brand, opened: datetime) -> list[IncidentSnapshot]:
    full = IncidentSnapshot(
        id=7, brand=brand.id, title="Check-in errors in the app", status="investigating",
        components=("app", "check-in"), keywords=("app", "check-in"), opened_at=opened, updated_at=opened,
        message="We're seeing errors when checking in on the app and are looking into it.",
        x_root_url="https://x.com/i/web/status/1880000000000000009",
        reddit_root_url="https://www.reddit.com/r/travel/comments/abc123/",
    )
    bare = replace(full, status="resolved", components=(), message=None, x_root_url=None, reddit_root_url=None)
    return [full, bare]


class IncidentTemplates:
    """The ``incidents.templates``, compiled, checked and rendered with sample
    data once. Raises ConfigError naming ``incidents.templates.<role>``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        search = [settings.templates_path]
        if BUNDLED_TEMPLATES != settings.templates_path and BUNDLED_TEMPLATES.is_dir():
            search.append(BUNDLED_TEMPLATES)
        self._env = make_environment(html=False, search_path=search)
        self._templates: dict[str, Any] = {}
        problems: list[str] = []
        configs: Mapping[str, TemplateConfig] = {role: getattr(settings.incidents.templates, role) for role in ROLES}
        for role, config in configs.items():
            key = f"incidents.templates.{role}"
            try:
                template = self._load(role, config)
            except _Problem as exc:
                problems.append(f"{key}{exc}")
                continue
            problem = self._try_samples(role, template)
            if problem:
                problems.append(f"{key}: {problem}")
                continue
            self._templates[role] = template
        if problems:
            raise ConfigError(problems, path=settings.source_path)

    def _load(self, role: str, config: TemplateConfig):
        if config.file is not None:
            found = [p / config.file for p in (self._settings.templates_path, BUNDLED_TEMPLATES) if (p / config.file).is_file()]
            if not found:
                raise _Problem(f".file: template file not found: {config.file} (looked in {self._settings.templates_path}"
                               f" and {BUNDLED_TEMPLATES})")
            filename = str(found[0])
            try:
                source = found[0].read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise _Problem(f".file: cannot read {filename}: {exc}") from None
        else:
            filename, source = f"<incidents.templates.{role}>", config.text or ""
        try:
            ast = self._env.parse(source, TEMPLATE_NAMES[role], filename)
        except TemplateError as exc:
            raise _Problem(f": line {getattr(exc, 'lineno', '?')}: syntax error: {exc}") from None
        static = static_problems(self._env, ast, _ROLE_VARIABLES[role])
        if static:
            raise _Problem(": " + "; ".join(static))
        return self._env.from_string(source)

    def _try_samples(self, role: str, template) -> str | None:
        brand = self._settings.brands[0]
        opened = datetime(2026, 1, 15, 8, 30, tzinfo=timezone.utc)
        for incident in _sample_incidents(brand, opened):
            if role in STATUS_ROLES:
                contexts = [
                    ("sample status data", {"brand": _brand_context(brand),
                                            "incident": incident_context(incident, settings=self._settings, platform=p, update_number=n)})
                    for p in ("x", "reddit") for n in (1, 3)
                ]
            else:
                contexts = [
                    (label, {**ctx, "incident": incident_context(incident, settings=self._settings, platform=ctx["mention"]["platform"])})
                    for label, ctx in sample_contexts(brand, ("x", "reddit"))
                ]
            for label, context in contexts:
                try:
                    template.render(context)
                except Exception as exc:  # noqa: BLE001 - any failure here is a template problem
                    return f"{type(exc).__name__}: {exc} (rendering {label})"
        return None

    def render(self, role: str, context: Mapping[str, Any]) -> str:
        """Render the ``role`` template; surrounding whitespace stripped.
        Raises IncidentError naming the template on a failure."""
        try:
            return self._templates[role].render(context).strip()
        except KeyError:
            raise IncidentError(f"unknown incident template role {role!r} (known: {', '.join(ROLES)})") from None
        except Exception as exc:  # noqa: BLE001 - reported with the template's name
            raise IncidentError(f"incidents.templates.{role}: {type(exc).__name__}: {exc}") from exc

    def reply_renderer(self, incident: IncidentSnapshot) -> "IncidentReplyRenderer":
        return IncidentReplyRenderer(self, incident, self._settings)


class _Problem(Exception):
    pass


class IncidentReplyRenderer:
    """What :func:`outreach.drafts.draft_replies` needs of a renderer, for the
    one template ``incident_reply`` bound to one incident: the reply
    variables plus ``incident.*`` for the author's network."""

    def __init__(self, templates: IncidentTemplates, incident: IncidentSnapshot, settings: Settings) -> None:
        self._templates = templates
        self._incident = incident
        self._settings = settings
        self.names = [REPLY_TEMPLATE]

    def platforms(self, name: str) -> list[str] | None:
        return None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        if name != REPLY_TEMPLATE:
            raise TemplateRenderError(name, f"unknown template (known: {REPLY_TEMPLATE})")
        platform = context["mention"]["platform"]
        try:
            return self._templates.render(
                "reply", {**context, "incident": incident_context(self._incident, settings=self._settings, platform=platform)}
            )
        except IncidentError as exc:
            raise TemplateRenderError(name, str(exc)) from exc


# ---------------------------------------------------------------------------
# Lifecycle
# ---------------------------------------------------------------------------


def _clean_list(values: Iterable[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or ():
        for part in str(value).split(","):
            part = " ".join(part.split())
            if part and part.lower() not in (o.lower() for o in out):
                out.append(part)
    return out


def _checked_keywords(keywords: list[str]) -> list[str]:
    """``keywords``, unless one has no letter or digit (a stray '-' or '?'
    would match the punctuation of any complaint): IncidentError naming it."""
    for keyword in keywords:
        if not any(c.isalnum() for c in keyword):
            raise IncidentError(f"keyword {keyword!r} has no letter or digit: it would match any complaint with that"
                                " punctuation; leave it out")
    return keywords


def get_incident(session: Session, incident_id: int) -> IncidentRow:
    row = session.get(IncidentRow, incident_id, populate_existing=True)
    if row is None:
        raise IncidentError(f"no incident with id {incident_id}")
    return row


def open_incident(
    session: Session,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    brand: str,
    title: str,
    actor: str,
    now: datetime,
    components: Iterable[str] = (),
    keywords: Iterable[str] | None = None,
    message: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Opening:
    """Open an incident (status investigating), queue its first posts and
    link the complaints posted from ``since`` (default:
    ``incidents.lookback`` before ``now``) to ``until`` (default: ``now``;
    see :func:`link_earlier_mentions`). ``keywords`` default to the
    components. Runs in the caller's transaction."""
    try:
        settings.brand(brand)
    except KeyError:
        raise IncidentError(f"unknown brand {brand!r} (known: {', '.join(b.id for b in settings.brands)})") from None
    title = " ".join((title or "").split())
    if not title:
        raise IncidentError("an incident needs a title")
    components_list = _clean_list(components)
    keyword_list = _checked_keywords(_clean_list(keywords) if keywords is not None else list(components_list))
    since = now - settings.incidents.lookback if since is None else since
    if since > now:
        raise IncidentError(f"complaints to link must be from before now: since {since:%Y-%m-%d %H:%M} UTC is later")
    if until is not None and until < since:
        raise IncidentError(f"complaints to link: until {until:%Y-%m-%d %H:%M} UTC is before since"
                            f" {since:%Y-%m-%d %H:%M} UTC")
    row = IncidentRow(
        brand=brand, title=title, components=components_list, keywords=keyword_list, status="investigating",
        opened_at=now, opened_by=actor, updated_at=now,
    )
    session.add(row)
    session.flush()
    posts = _step(session, row, status="investigating", message=message, actor=actor, now=now,
                  settings=settings, templates=templates)
    audit.record(
        session, at=now, actor=actor, action="incident.opened", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"brand": brand, "title": title, "components": components_list, "keywords": keyword_list,
                 "message": message, "posts": posts},
    )
    earlier = link_earlier_mentions(session, row, since=since, until=until, settings=settings, templates=templates,
                                    now=now, message=message)
    return Opening(incident=row, posts=posts, earlier=earlier)


def set_keywords(session: Session, incident_id: int, *, keywords: Iterable[str], actor: str, now: datetime) -> IncidentRow:
    """Replace an open incident's keywords (audited ``incident.keywords_changed``
    with the old and new ones). New complaints are matched against them;
    complaints already linked stay linked. Not a step: the linking window
    (``incidents.link_for`` after the latest step) does not move."""
    row = get_incident(session, incident_id)
    if row.status not in OPEN_STATUSES:
        raise IncidentError(f"incident {row.id} is {row.status}: its keywords no longer link anything")
    cleaned = _checked_keywords(_clean_list(keywords))
    if not cleaned:
        raise IncidentError("give at least one keyword (to link nothing more, resolve the incident)")
    previous = list(row.keywords or [])
    row.keywords = cleaned
    session.flush()
    audit.record(session, at=now, actor=actor, action="incident.keywords_changed", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details={"from": previous, "to": cleaned})
    return row


def update_incident(
    session: Session,
    incident_id: int,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    status: str,
    message: str,
    actor: str,
    now: datetime,
) -> IncidentRow:
    """Post a further step (``identified``, ``monitoring``, or a further
    update in the same status). Resolving is :func:`resolve_incident`."""
    if status == "resolved":
        raise IncidentError("to resolve an incident use resolve (it also drafts the follow-ups)")
    row = _checked_transition(session, incident_id, status)
    message = _required_message(message)
    previous = row.status
    _set_status(session, row, status=status, now=now, resolved_by=None)
    posts = _step(session, row, status=status, message=message, actor=actor, now=now, settings=settings, templates=templates)
    audit.record(
        session, at=now, actor=actor, action="incident.updated", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"from": previous, "status": status, "message": message, "posts": posts},
    )
    return row


@dataclass(frozen=True, slots=True)
class Opening:
    incident: IncidentRow
    posts: list[int]
    earlier: EarlierLinks


@dataclass(frozen=True, slots=True)
class Resolution:
    incident: IncidentRow
    posts: list[int]
    followups: list[int]
    redrafted: list[int]


def resolve_incident(
    session: Session,
    incident_id: int,
    *,
    settings: Settings,
    templates: IncidentTemplates,
    message: str,
    actor: str,
    now: datetime,
) -> Resolution:
    """Resolve: post the last step, draft the follow-ups to the authors who
    were answered, re-draft incident replies still waiting to go out."""
    row = _checked_transition(session, incident_id, "resolved")
    message = _required_message(message)
    previous = row.status
    _set_status(session, row, status="resolved", now=now, resolved_by=actor)
    posts = _step(session, row, status="resolved", message=message, actor=actor, now=now,
                  settings=settings, templates=templates)
    snapshot = IncidentSnapshot.of(row, message=message)
    followups = _draft_followups(session, snapshot, settings=settings, templates=templates, now=now)
    pending = [(reply, mention) for reply, mention in _linked_replies(session, row.id, PENDING_REPLY_STATUSES, lock=True)
               if reply.template == REPLY_TEMPLATE]
    redrafted = _redraft_replies(session, snapshot, pending, reason="incident resolved", settings=settings,
                                 templates=templates, now=now)
    audit.record(
        session, at=now, actor=actor, action="incident.resolved", entity_type=AUDIT_ENTITY, entity_id=row.id,
        details={"from": previous, "message": message, "posts": posts, "followups": followups, "redrafted": redrafted},
    )
    return Resolution(incident=row, posts=posts, followups=followups, redrafted=redrafted)


def _required_message(message: str | None) -> str:
    cleaned = (message or "").strip()
    if not cleaned:
        raise IncidentError("an update needs a message (what is known now, what happens next)")
    return cleaned


def _checked_transition(session: Session, incident_id: int, status: str) -> IncidentRow:
    if status not in STATUSES:
        raise IncidentError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    row = get_incident(session, incident_id)
    allowed = TRANSITIONS[row.status]
    if status not in allowed:
        if row.status in ("resolved", CANCELLED):
            raise IncidentError(f"incident {row.id} is {row.status}: nothing follows {row.status}; open a new incident")
        raise IncidentError(
            f"incident {row.id} is {row.status}: it cannot go to {status} (from {row.status}: {', '.join(allowed)})"
        )
    return row


def _set_status(session: Session, row: IncidentRow, *, status: str, now: datetime, resolved_by: str | None) -> None:
    """Conditional on the status we read: two people cannot both move it."""
    seen = row.status
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status == "resolved":
        values.update(resolved_at=now, resolved_by=resolved_by)
    changed = session.execute(
        update(IncidentRow).where(IncidentRow.id == row.id, IncidentRow.status == seen).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        current = get_incident(session, row.id)
        raise IncidentError(f"incident {row.id} changed meanwhile (was {seen}, now {current.status}); look at it again")
    session.refresh(row)


def _step(
    session: Session,
    row: IncidentRow,
    *,
    status: str,
    message: str | None,
    actor: str,
    now: datetime,
    settings: Settings,
    templates: IncidentTemplates,
    platforms: Iterable[str] | None = None,
) -> list[int]:
    """Store one step and queue its posts (only on ``platforms`` when
    given); returns the outbox ids."""
    number = 1 + (session.scalar(
        select(func.count()).select_from(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == row.id)
    ) or 0)
    posts = _render_posts(session, row, message=message, number=number, now=now, settings=settings, templates=templates)
    if platforms is not None:
        posts = [post for post in posts if post.platform in set(platforms)]
    session.add(IncidentUpdateRow(incident_id=row.id, status=status, message=message, actor=actor, at=now))
    return _queue(session, row, posts, actor=actor, now=now, settings=settings)


@dataclass(frozen=True, slots=True)
class _Post:
    platform: str
    account: str | None
    template: str
    text: str
    title: str | None = None
    community: str | None = None


def _render_posts(
    session: Session, row: IncidentRow, *, message: str | None, number: int, now: datetime,
    settings: Settings, templates: IncidentTemplates,
) -> list[_Post]:
    """Everything this step posts, rendered and checked before anything is stored."""
    networks = settings.incidents.brands.get(row.brand)
    if networks is None:
        return []
    brand = settings.brand(row.brand)
    snapshot = IncidentSnapshot.of(row, message=message)
    posts: list[_Post] = []
    problems: list[str] = []

    def context(platform: str) -> dict[str, Any]:
        return {"brand": _brand_context(brand),
                "incident": incident_context(snapshot, settings=settings, platform=platform, update_number=number, at=now)}

    if networks.x is not None:
        text = templates.render("x_post", context("x"))
        problem = "rendered empty" if not text else length_problem(text)
        if problem:
            problems.append(f"the X post {problem}")
        posts.append(_Post("x", networks.x.account, TEMPLATE_NAMES["x_post"], text))
    if networks.reddit is not None:
        account = networks.reddit.account or (brand.accounts.reddit[0] if brand.accounts.reddit else None)
        has_submission = session.scalar(
            select(OutboxRow.id).where(
                OutboxRow.incident_id == row.id, OutboxRow.platform == "reddit", OutboxRow.kind == "status",
                OutboxRow.title.is_not(None), OutboxRow.status != "rejected",
            ).limit(1)
        ) is not None
        if has_submission:
            text = templates.render("reddit_update", context("reddit"))
            if not text:
                problems.append("the Reddit comment rendered empty")
            elif len(text) > REDDIT_COMMENT_MAX:
                problems.append(f"the Reddit comment is {len(text)} characters, over the limit of {REDDIT_COMMENT_MAX}")
            posts.append(_Post("reddit", account, TEMPLATE_NAMES["reddit_update"], text))
        else:
            title = " ".join(templates.render("reddit_title", context("reddit")).split())
            body = templates.render("reddit_body", context("reddit"))
            if not title or not body:
                problems.append("the Reddit submission's title or body rendered empty")
            elif len(title) > REDDIT_TITLE_MAX:
                problems.append(f"the Reddit title is {len(title)} characters, over the limit of {REDDIT_TITLE_MAX}")
            elif len(body) > REDDIT_BODY_MAX:
                problems.append(f"the Reddit post is {len(body)} characters, over the limit of {REDDIT_BODY_MAX}")
            posts.append(_Post("reddit", account, TEMPLATE_NAMES["reddit_body"], body, title=title,
                               community=networks.reddit.subreddit))
    if problems:
        raise IncidentError("; ".join(problems) + "; shorten the message or the title (nothing was posted or saved)")
    return posts


def _queue(session: Session, row: IncidentRow, posts: Sequence[_Post], *, actor: str, now: datetime,
           settings: Settings) -> list[int]:
    if not posts:
        return []
    needs_approval = settings.incidents.status_posts.require_approval
    ids = []
    events = []
    for post in posts:
        outbox_id = session.execute(
            insert(OutboxRow).returning(OutboxRow.id).values(
                kind="status", brand=row.brand, platform=post.platform, incident_id=row.id, account=post.account,
                template=post.template, text=post.text, title=post.title, community=post.community,
                in_reply_to=None,  # resolved when claimed: see thread_values
                status="drafted" if needs_approval else "approved", needs_approval=needs_approval,
                approved_by=None if needs_approval else actor, approved_at=None if needs_approval else now,
                attempts=0, created_at=now, updated_at=now,
            )
        ).scalar_one()
        ids.append(outbox_id)
        events.append({"at": now, "actor": actor, "action": "status.queued", "entity_type": "outbox",
                       "entity_id": outbox_id, "details": {"incident_id": row.id, "template": post.template,
                                                            "needs_approval": needs_approval}})
    audit.record_many(session, events)
    return ids


# ---------------------------------------------------------------------------
# Sending: the thread structure, resolved when a status post is claimed
# ---------------------------------------------------------------------------


def thread_values(session: Session, outbox_id: int) -> dict[str, Any] | None:
    """For :func:`outreach.outbox.claim`: the values a status post takes when
    it is claimed (``in_reply_to``), or None while it must wait for an earlier
    status post of its incident on its network. ``{}`` for any other post."""
    row = session.execute(
        select(OutboxRow.kind, OutboxRow.incident_id, OutboxRow.platform, OutboxRow.title).where(OutboxRow.id == outbox_id)
    ).one_or_none()
    if row is None or row.kind != "status" or row.incident_id is None:
        return {}
    earlier = session.execute(
        select(OutboxRow.status, OutboxRow.external_id, OutboxRow.title)
        .where(OutboxRow.incident_id == row.incident_id, OutboxRow.platform == row.platform,
               OutboxRow.kind == "status", OutboxRow.id < outbox_id)
        .order_by(OutboxRow.id)
    ).all()
    if any(e.status not in SETTLED for e in earlier):
        return None
    if row.title is not None:
        return {"in_reply_to": None}  # a submission stands alone
    sent = [e for e in earlier if e.status == "sent" and e.external_id]
    submission = next((e for e in sent if e.title is not None), None)
    if submission is not None:
        return {"in_reply_to": submission.external_id}
    return {"in_reply_to": sent[-1].external_id if sent else None}


def waiting_for(session: Session, outbox_id: int) -> OutboxRow | None:
    """The earlier status post a status post waits for, if any (for display)."""
    row = session.get(OutboxRow, outbox_id)
    if row is None or row.kind != "status" or row.incident_id is None:
        return None
    return session.scalars(
        select(OutboxRow)
        .where(OutboxRow.incident_id == row.incident_id, OutboxRow.platform == row.platform,
               OutboxRow.kind == "status", OutboxRow.id < outbox_id, OutboxRow.status.not_in(SETTLED))
        .order_by(OutboxRow.id).limit(1)
    ).first()


def record_sent(session: Session, outbox_id: int, sent: SentPost, *, now: datetime,
                settings: Settings | None = None, templates: IncidentTemplates | None = None) -> list[int]:
    """Called when an outbox row is marked sent, in that transaction: the
    first status post on a network becomes the incident's link there (a
    Reddit submission only), and the incident's linked replies still waiting
    to go out are re-drafted to give it (:func:`_redraft_for_thread`).
    ``templates`` default to ``IncidentTemplates(settings)``, built only when
    there is something to re-draft. Returns the re-drafted reply ids."""
    row = session.execute(
        select(OutboxRow.kind, OutboxRow.incident_id, OutboxRow.platform, OutboxRow.title).where(OutboxRow.id == outbox_id)
    ).one_or_none()
    if row is None or row.kind != "status" or row.incident_id is None:
        return []
    if row.platform == "x":
        values, unset = {"x_root_id": sent.external_id, "x_root_url": sent.url}, IncidentRow.x_root_id
    elif row.platform == "reddit" and row.title is not None:
        values, unset = {"reddit_root_id": sent.external_id, "reddit_root_url": sent.url}, IncidentRow.reddit_root_id
    else:
        return []
    first = session.execute(
        update(IncidentRow).where(IncidentRow.id == row.incident_id, unset.is_(None)).values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if not first or not sent.url:
        return []  # not the first post there, or no link to give (the replies would not change)
    return _redraft_for_thread(session, row.incident_id, platform=row.platform, outbox_id=outbox_id, url=sent.url,
                               now=now, settings=settings, templates=templates)


THREAD_POSTED = "status thread posted"  # the reason of the re-drafts when the first status post is out


def _redraft_for_thread(session: Session, incident_id: int, *, platform: str, outbox_id: int, url: str,
                        now: datetime, settings: Settings | None, templates: IncidentTemplates | None) -> list[int]:
    """The incident's first status post on ``platform`` is out at ``url``:
    re-draft its linked replies from the ``reply`` template that have not
    gone out and whose text changes with the link, in a savepoint (a failure
    is logged; the post stays recorded as sent), and record one
    ``incident.thread_posted`` event."""
    details: dict[str, Any] = {"platform": platform, "outbox_id": outbox_id, "url": url}
    redrafted: list[int] = []
    try:
        with session.begin_nested():
            pending = _linked_replies(session, incident_id, PENDING_REPLY_STATUSES, template=REPLY_TEMPLATE, lock=True)
            if pending and settings is None:
                details["not_redrafted"] = [reply.id for reply, _ in pending]
                log.warning("incident %s: its status thread on %s is out (%s), but %d linked replies waiting to go out"
                            " keep their text: re-drafting them needs the settings (send_approved(settings=...))",
                            incident_id, platform, url, len(pending))
            elif pending and settings is not None:
                snapshot = _current_snapshot(session, incident_id)
                redrafted = _redraft_replies(session, snapshot, pending, reason=THREAD_POSTED, settings=settings,
                                             templates=templates or IncidentTemplates(settings), now=now)
    except Exception as exc:  # noqa: BLE001 - the post exists: recording it must not depend on the re-draft
        log.exception("incident %s: re-drafting its linked replies for the status thread on %s failed; they keep"
                      " their text", incident_id, platform)
        details["redraft_error"] = f"{type(exc).__name__}: {exc}"
        redrafted = []
    details["redrafted"] = redrafted
    audit.record(session, at=now, actor=audit.SYSTEM, action="incident.thread_posted", entity_type=AUDIT_ENTITY,
                 entity_id=incident_id, details=details)
    return redrafted


def _current_snapshot(session: Session, incident_id: int) -> IncidentSnapshot:
    """The incident as it is now, with its latest step's message (what replies see)."""
    row = get_incident(session, incident_id)
    message = session.scalar(
        select(IncidentUpdateRow.message).where(IncidentUpdateRow.incident_id == incident_id)
        .order_by(IncidentUpdateRow.id.desc()).limit(1)
    )
    return IncidentSnapshot.of(row, message=message)


# ---------------------------------------------------------------------------
# Proactive outreach: linking complaints, follow-ups
# ---------------------------------------------------------------------------


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


def _phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """Any of ``phrases`` as whole words, case-insensitive, any white space
    between words, either apostrophe (' or ’) for one; the last word in its
    singular or plural (:func:`_plural`)."""
    alternatives = sorted(
        {_APOSTROPHE.sub(_APOSTROPHE.pattern, r"\s+".join([*(re.escape(w) for w in p.split()[:-1]),
                                                           _plural(p.split()[-1])]))
         for p in phrases if p.split()},
        key=len, reverse=True,
    )
    if not alternatives:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


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
    return _phrase_pattern([keyword])


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
        return f"{TAG_PREFIX}{self.snapshot.id}"

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
        OpenIncident(IncidentSnapshot.of(r, message=latest.get(r.id)), _phrase_pattern(r.keywords or ()),
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
    (:func:`_open_incident_tags`, as when opening and by hand), or a mention of
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
        taken = _open_incident_tags(session, [tag for _, tags in found for tag in tags])
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


def mention_from_row(row: MentionRow) -> Mention:
    return Mention(
        platform=row.platform, external_id=row.external_id, brand=row.brand,
        author=Author(platform=row.platform, id=row.author_id, handle=row.author_handle, name=row.author_name,
                      followers=row.author_followers or 0, verified=bool(row.author_verified)),
        text=row.text, created_at=row.created_at, lang=row.lang, url=row.url, thread_id=row.thread_id,
        reply_to_id=row.reply_to_id, quoted_id=row.quoted_id, title=row.title, community=row.community,
        addressed_handles=tuple(row.addressed_handles or ()),
    )


def _replies_to(session: Session, *, mentions, alerts, statuses: Sequence[str] | None, template: str | None = None,
                lock: bool = False):
    """Our replies (kind reply) to these mentions or to these alerts (lists of
    ids, or SELECTs of them), each with the mention it answers; by sent_at;
    only those drafted from ``template`` when given.
    ``lock``: FOR UPDATE (PostgreSQL; SQLite serialises writers anyway), so no
    sender claims one before this transaction has re-drafted it: its
    conditional claim waits, then sees the new state."""
    query = (
        select(OutboxRow, MentionRow)
        .join(MentionRow, MentionRow.id == OutboxRow.mention_id)
        .where(OutboxRow.kind == "reply", or_(OutboxRow.mention_id.in_(mentions), OutboxRow.alert_id.in_(alerts)))
        .order_by(OutboxRow.sent_at, OutboxRow.id)
    )
    if statuses is not None:
        query = query.where(OutboxRow.status.in_(statuses))
    if template is not None:
        query = query.where(OutboxRow.template == template)
    if lock:
        query = query.with_for_update(of=OutboxRow)
    return session.execute(query).all()


def _linked_replies(session: Session, incident_id: int, statuses: Sequence[str], *, template: str | None = None,
                    lock: bool = False):
    """Our replies (kind reply) to the incident's linked mentions or their alerts."""
    linked_mentions = select(IncidentMentionRow.mention_id).where(IncidentMentionRow.incident_id == incident_id)
    linked_alerts = select(IncidentMentionRow.alert_id).where(
        IncidentMentionRow.incident_id == incident_id, IncidentMentionRow.alert_id.is_not(None)
    )
    return _replies_to(session, mentions=linked_mentions, alerts=linked_alerts, statuses=statuses, template=template,
                       lock=lock)


def _author_context(incident: IncidentSnapshot, mention: Mention, *, alert_id: int | None, brand: Brand,
                    settings: Settings) -> dict[str, Any]:
    """What the ``reply`` and ``followup`` templates see when answering ``mention``."""
    context = reply_context(mention=mention, brand=brand, alert_id=alert_id, priority=None, score=None)
    context["incident"] = incident_context(incident, settings=settings, platform=mention.platform)
    return context


def _author_text(templates: IncidentTemplates, role: str, context: Mapping[str, Any]) -> tuple[str, str | None]:
    """The ``reply`` or ``followup`` text for one author, and why it must be
    held (None: it may go): no text when it fails or renders empty, the text
    when it is too long for the author's platform."""
    name = TEMPLATE_NAMES[role]
    try:
        text = templates.render(role, context)
    except IncidentError as exc:
        return "", str(exc)
    if not text:
        return "", f"template {name!r} rendered empty text"
    problem = platform_length_problem(context["mention"]["platform"], text)
    if problem:
        return text, f"template {name!r} rendered {problem}; shorten it"
    return text, None


def _draft_followups(session: Session, incident: IncidentSnapshot, *, settings: Settings,
                     templates: IncidentTemplates, now: datetime) -> list[int]:
    """One follow-up per linked author who was answered, in answer to the post
    of theirs we answered last."""
    latest: dict[tuple[str, str], tuple[OutboxRow, MentionRow]] = {}
    for reply, mention in _linked_replies(session, incident.id, ("sent",)):
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
        context = _author_context(incident, mention, alert_id=reply.alert_id, brand=brand, settings=settings)
        text, hold_reason = _author_text(templates, "followup", context)
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


def _redraft_replies(session: Session, incident: IncidentSnapshot, replies: Sequence[tuple[OutboxRow, MentionRow]], *,
                     reason: str, settings: Settings, templates: IncidentTemplates, now: datetime,
                     actor: str = audit.SYSTEM) -> list[int]:
    """Re-draft ``replies`` (not gone out yet, read with ``lock``) from the
    incident ``reply`` template as the incident is now, in one UPDATE, each
    audited as ``reply.redrafted`` with ``reason`` (by ``actor``: the person
    whose action re-drafts them, else brandpulse). A reply whose new text
    fails to render keeps its old one (logged)."""
    brand = settings.brand(incident.brand)
    policy = settings.reply_policy
    auto = not policy.require_approval or REPLY_TEMPLATE in policy.auto_send_templates
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    unchanged: list[int] = []
    for reply, mention_row in replies:
        context = _author_context(incident, mention_from_row(mention_row), alert_id=reply.alert_id, brand=brand,
                                  settings=settings)
        text, hold_reason = _author_text(templates, "reply", context)
        if not text:
            log.warning("incident %s: reply %s keeps its text, re-drafting it failed: %s",
                        incident.id, reply.id, hold_reason)
            continue
        if text == reply.text and reply.template == REPLY_TEMPLATE:
            if reply.incident_id != incident.id:
                unchanged.append(reply.id)  # the same words (no status link yet): it is this incident's now
            continue
        change, event = _redraft(reply, text=text, template=REPLY_TEMPLATE, hold_reason=hold_reason, auto=auto,
                                 incident_id=incident.id, reason=reason, actor=actor, now=now)
        changes.append(change)
        events.append(event)
    _store_redrafts(session, changes, replies)
    mark_incident_replies(session, unchanged, incident.id)
    audit.record_many(session, events)
    return [c["id"] for c in changes]


def _redraft(reply: OutboxRow, *, text: str, template: str, hold_reason: str | None, auto: bool, incident_id: int,
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


def _store_redrafts(session: Session, changes: Sequence[Mapping[str, Any]],
                    loaded: Sequence[tuple[OutboxRow, MentionRow]]) -> None:
    """Write the re-drafts (:func:`_redraft`) in one UPDATE; the ``loaded``
    replies are stale then (expired: reloaded when next used)."""
    if not changes:
        return
    session.execute(update(OutboxRow), changes, execution_options={"synchronize_session": False})
    for reply, _ in loaded:
        session.expire(reply)


@dataclass(frozen=True, slots=True)
class EarlierLinks:
    """What opening an incident did with the complaints posted before it."""

    since: datetime
    until: datetime  # complaints posted in [since, until] were candidates
    mention_ids: list[int]  # linked, oldest first
    alert_ids: list[int]  # their alerts, tagged incident:<id>
    redrafted: list[int]  # their replies not gone out, now from the incident reply template
    answered: list[int]  # their replies already sent (left as they are): follow-ups when it resolves


def link_earlier_mentions(session: Session, row: IncidentRow, *, since: datetime, settings: Settings,
                          templates: IncidentTemplates, now: datetime, message: str | None = None,
                          until: datetime | None = None) -> EarlierLinks:
    """Link to the open incident ``row`` the brand's negative mentions posted
    between ``since`` and ``until`` (default, and at most: ``now``) that
    contain one of its keywords (or answer a post that does:
    :func:`match_in_context`; also a complaint this opening links), whose
    author's alert is open or acknowledged and is not another open incident's
    (:func:`_open_incident_tags`: a resolved incident's tag claims nothing), and
    that are not linked yet: ``incident_mentions`` rows, the tag
    ``incident:<id>`` on each mention and alert, their pending replies
    re-drafted from the incident reply template, one ``incident.linked``
    audit event with the counts. One SELECT for the candidates, one for their
    replies; bulk writes. Runs in the caller's transaction."""
    until = now if until is None else min(until, now)
    incident = OpenIncident(IncidentSnapshot.of(row, message=message), _phrase_pattern(row.keywords or ()))
    nothing = EarlierLinks(since=since, until=until, mention_ids=[], alert_ids=[], redrafted=[], answered=[])
    if not settings.incidents.link_mentions or incident.pattern is None or since >= until:
        return nothing  # linking is off, nothing to match, or an empty window
    negative = select(ScoreRow.id).where(ScoreRow.mention_id == MentionRow.id, ScoreRow.label == "negative").exists()
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
    taken = _open_incident_tags(session, [tag for _, _, tags in candidates for tag in tags or ()])
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
    replies = _replies_to(session, mentions=mention_ids, alerts=alert_ids,
                          statuses=(*PENDING_REPLY_STATUSES, "sent"), lock=True)
    pending = [(reply, mention) for reply, mention in replies if reply.status in PENDING_REPLY_STATUSES]
    answered = [reply.id for reply, _ in replies if reply.status == "sent"]
    redrafted = _redraft_replies(session, incident.snapshot, pending, reason="linked when the incident was opened",
                                 settings=settings, templates=templates, now=now)
    link_mentions(session, links, now=now, how=LINKED_AT_OPENING, keywords=found_keywords, details={
        "earlier": True, "since": since.isoformat(), "until": until.isoformat(), "keywords": list(row.keywords or ()),
        "counts": {"linked": len(links), "alerts_tagged": len(alert_ids), "redrafted": len(redrafted),
                   "already_answered": len(answered)},
        "alert_ids": alert_ids, "redrafted": redrafted, "answered": answered,
    })
    return EarlierLinks(since=since, until=until, mention_ids=mention_ids, alert_ids=alert_ids, redrafted=redrafted,
                        answered=answered)


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


def _open_incident_tags(session: Session, tags: Iterable[Any]) -> set[str]:
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


def _template_before_incident(session: Session, reply_id: int, incident_id: int) -> str | None:
    """The template a reply was drafted from before this incident re-drafted
    it (the latest such re-draft), if it was."""
    for event in reversed(audit.history(session, "outbox", reply_id)):
        details = event.details or {}
        if (event.action == "reply.redrafted" and details.get("incident_id") == incident_id
                and details.get("previous_template") not in (None, REPLY_TEMPLATE, FOLLOWUP_TEMPLATE)):
            return str(details["previous_template"])
    return None


def _latest_score(session: Session, mention_id: int) -> Score | None:
    row = session.scalars(
        select(ScoreRow).where(ScoreRow.mention_id == mention_id).order_by(ScoreRow.scored_at.desc(), ScoreRow.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return Score(analyzer=row.analyzer, version=row.version, compound=row.compound, label=Label(row.label), lang=row.lang)


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
    incident_row = get_incident(session, incident_id)
    link = session.get(IncidentMentionRow, (incident_id, mention_id), with_for_update=True)
    if link is None:
        raise IncidentError(_not_linked(session, incident_id, mention_id))
    mention_row = session.get(MentionRow, mention_id)
    alert_id, how, linked_at = link.alert_id, link.how, link.linked_at
    keywords = list(link.keywords) if link.keywords is not None else None
    session.execute(delete(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id,
                                                     IncidentMentionRow.mention_id == mention_id))
    session.execute(insert(IncidentUnlinkRow).values(incident_id=incident_id, mention_id=mention_id, unlinked_at=now,
                                                     unlinked_by=actor, reason=reason))
    tag = f"{TAG_PREFIX}{incident_id}"
    session.execute(delete(MentionTagRow).where(MentionTagRow.mention_id == mention_id, MentionTagRow.tag == tag))
    alert_still_linked = alert_id is not None and session.scalar(
        select(func.count()).select_from(IncidentMentionRow)
        .where(IncidentMentionRow.incident_id == incident_id, IncidentMentionRow.alert_id == alert_id)
    ) > 0
    if alert_id is not None and not alert_still_linked:
        _tag_alert(session, alert_id, tag, add=False)
    alert = session.get(AlertRow, alert_id) if alert_id is not None else None

    # ``manual``: the platform would not take it from the bot and a person is
    # to post it by hand; it has not gone out, so it is re-drafted like a
    # drafted one (a person approves the ordinary text, and posts it by hand
    # if the platform refuses it again).
    replies = _replies_to(session, mentions=[mention_id], alerts=[alert_id] if alert_id else [],
                          statuses=(*PENDING_REPLY_STATUSES, "manual", "sent"), template=REPLY_TEMPLATE, lock=True)
    # Claimed by a sender (``sending``) or outcome unknown: maybe posted
    # already. Read without a lock and never changed here, as a claimed row
    # belongs to its sender; reconciliation decides (outreach/outbox.py).
    on_the_way = [reply for reply, _ in _replies_to(session, mentions=[mention_id],
                                                    alerts=[alert_id] if alert_id else [],
                                                    statuses=IN_FLIGHT_STATUSES, template=REPLY_TEMPLATE)]
    brand = settings.brand(incident_row.brand)
    policy = settings.reply_policy
    scores: dict[int, Score | None] = {}
    redrafted: dict[int, str] = {}
    held: dict[int, str] = {}
    sent: list[int] = []
    # A reply of a conversation still linked stays the incident's, on its way or not.
    kept: list[int] = [r.id for r in on_the_way if alert_still_linked and r.alert_id == alert_id]
    in_flight = {r.id: r.status for r in on_the_way if r.id not in kept}
    by_hand: list[int] = []
    changes: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for reply, answered_row in replies:
        if alert_still_linked and reply.alert_id == alert_id:
            kept.append(reply.id)  # its conversation is still the incident's
            continue
        if reply.status == "sent":
            sent.append(reply.id)
            continue
        answered = mention_from_row(answered_row)
        if answered_row.id not in scores:
            scores[answered_row.id] = _latest_score(session, answered_row.id)
        score = scores[answered_row.id]
        template = _template_before_incident(session, reply.id, incident_id)
        if template is None and rule_template is not None:
            template = rule_template(answered, score)
        if template is None:
            text, hold_reason = reply.text, (f"unlinked from incident #{incident_id}: no rule drafts an ordinary reply"
                                             " to it; edit the text or reject it")
        else:
            text, hold_reason = _ordinary_text(renderer, template, answered, mention_id=answered_row.id, alert=alert,
                                                  score=score, brand=brand)
            if not text:
                text = reply.text  # nothing to put instead: a person decides
                hold_reason = f"unlinked from incident #{incident_id}: {hold_reason}"
        auto = template is not None and (not policy.require_approval or template in policy.auto_send_templates)
        change, event = _redraft(reply, text=text, template=template or reply.template, hold_reason=hold_reason,
                                 auto=auto, incident_id=incident_id, reason=UNLINKED_REASON, actor=actor, now=now,
                                 details={"template": template})
        (held if change["status"] == "held" and hold_reason else redrafted)[reply.id] = hold_reason or template or ""
        if reply.status == "manual":
            by_hand.append(reply.id)
        changes.append(change)
        events.append(event)
    _store_redrafts(session, changes, replies)

    # The follow-up answers the post of theirs we answered last: maybe an
    # earlier post of the conversation, which leaves the incident with it;
    # a conversation that stays linked keeps its follow-up (as its replies).
    of_this = OutboxRow.mention_id == mention_id
    if alert_id is not None and not alert_still_linked:
        of_this = or_(of_this, OutboxRow.alert_id == alert_id)
    elif alert_id is not None:
        of_this = and_(of_this, or_(OutboxRow.alert_id.is_(None), OutboxRow.alert_id != alert_id))
    followups = list(session.scalars(
        select(OutboxRow.id).where(OutboxRow.kind == "followup", OutboxRow.incident_id == incident_id, of_this,
                                   OutboxRow.status.in_(PENDING_REPLY_STATUSES))
        .order_by(OutboxRow.id)
        .with_for_update()
    ))
    if followups:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(followups))
                        .values(status="rejected", updated_at=now).execution_options(synchronize_session=False))
        events += [{"at": now, "actor": actor, "action": "reply.rejected", "entity_type": "outbox", "entity_id": f,
                    "details": {"reason": f"{UNLINKED_REASON} #{incident_id}", "incident_id": incident_id}}
                   for f in followups]
    result = Unlinking(
        incident_id=incident_id, mention_id=mention_id, alert_id=alert_id,
        alert_untagged=alert_id is not None and not alert_still_linked, how=how,
        keywords=keywords, redrafted=redrafted, held=held,
        sent=sent, kept=sorted(kept), followups_withdrawn=followups, in_flight=in_flight, by_hand=by_hand,
    )
    events.append({"at": now, "actor": actor, "action": "incident.unlinked", "entity_type": AUDIT_ENTITY,
                   "entity_id": incident_id, "details": {
                       "mention_id": mention_id, "reason": reason, "author": mention_row.author_handle if mention_row else None,
                       "alert_id": alert_id, "alert_untagged": result.alert_untagged, "how": how,
                       "keywords": result.keywords, "linked_at": linked_at.isoformat(),
                       "redrafted": sorted(redrafted), "held": sorted(held), "sent": sent, "kept": result.kept,
                       "followups_withdrawn": followups, "by_hand": by_hand,
                       "in_flight": [{"id": i, "status": status} for i, status in sorted(in_flight.items())]}})
    audit.record_many(session, events)
    return result


MOVED_REASON = "moved to another incident while on its way"  # the reason of the claim's re-draft
# The hold code of an incident reply held at its send claim because its
# complaint left the incident its text speaks for (unlinked, or moved to
# another incident) while it was on its way: only a person releases it
# (approve, edit or reject); re-drafts keep it held (_redrafted_state).
MOVED_HOLD = "incident_changed"


def unlinked_reply_hold(session: Session, row: OutboxRow, *, settings: Settings | None = None,
                        now: datetime | None = None) -> str | None:
    """Why an incident reply about to be claimed for sending must be held for
    a person instead (None: it may go). :func:`unlink_mention` and
    :func:`link_by_hand` leave a reply being sent or of unknown outcome
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
    of_conversation = IncidentMentionRow.mention_id == row.mention_id
    unlinked_of = IncidentUnlinkRow.mention_id == row.mention_id
    if row.alert_id is not None:
        of_conversation = or_(of_conversation, IncidentMentionRow.alert_id == row.alert_id)
        unlinked_of = or_(unlinked_of, IncidentUnlinkRow.mention_id.in_(
            select(AlertMentionRow.mention_id).where(AlertMentionRow.alert_id == row.alert_id)))
    links = session.scalars(select(IncidentMentionRow).where(of_conversation)
                            .order_by(IncidentMentionRow.linked_at.desc())).all()
    if row.incident_id is None and links:
        return None  # still an incident's (which one its text gives was not recorded)
    if any(link.incident_id == row.incident_id for link in links):
        # The incident its text speaks for still holds the conversation,
        # unless it was cancelled: a link made meanwhile (a batch that read it open).
        return _cancelled_incident_hold(session, row)
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
    snapshot = _current_snapshot(session, incident_id)
    try:
        brand = settings.brand(snapshot.brand)
    except KeyError:  # taken out of the configuration: held saying so, not a crash of every send run
        return False, f"brand {snapshot.brand!r} is not configured"
    context = _author_context(snapshot, mention_from_row(mention_row), alert_id=row.alert_id, brand=brand,
                              settings=settings)
    text, problem = _author_text(IncidentTemplates(settings), "reply", context)
    if not text:
        return False, problem
    _, event = _redraft(row, text=text, template=REPLY_TEMPLATE, hold_reason=problem or MOVED_REASON, auto=False,
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
    tag = f"{TAG_PREFIX}{incident_id}"
    if alert is not None:
        taken = sorted(_open_incident_tags(session, [t for t in alert.tags or [] if t != tag]))
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
    replies = _replies_to(session, mentions=[mention_id], alerts=[alert.id] if alert else [],
                          statuses=(*PENDING_REPLY_STATUSES, "sent"), lock=True)
    pending = [(reply, m) for reply, m in replies if reply.status in PENDING_REPLY_STATUSES]
    answered = [reply.id for reply, _ in replies if reply.status == "sent"]
    # Claimed by a sender or of unknown outcome: read without a lock and left alone, as unlinking does.
    in_flight = {reply.id: reply.status for reply, _ in _replies_to(
        session, mentions=[mention_id], alerts=[alert.id] if alert else [], statuses=IN_FLIGHT_STATUSES)}
    redrafted = _redraft_replies(session, _current_snapshot(session, incident_id), pending,
                                 reason=LINKED_BY_HAND_REASON, settings=settings, templates=templates, now=now,
                                 actor=actor)
    audit.record(session, at=now, actor=actor, action="incident.linked", entity_type=AUDIT_ENTITY,
                 entity_id=incident_id, details={
                     "by_hand": True, "mention_ids": [mention_id], "reason": reason, "keywords": keywords,
                     "alert_id": alert.id if alert else None, "was_unlinked": was_unlinked,
                     "redrafted": redrafted, "answered": answered,
                     "in_flight": [{"id": i, "status": status} for i, status in sorted(in_flight.items())]})
    return HandLink(incident_id=incident_id, mention_id=mention_id, alert_id=alert.id if alert else None,
                    keywords=keywords, was_unlinked=was_unlinked, redrafted=redrafted, answered=answered,
                    in_flight=in_flight)


# ---------------------------------------------------------------------------
# Cancelling an incident opened by mistake
# ---------------------------------------------------------------------------

WITHDRAWABLE_POST_STATUSES = (*PENDING_REPLY_STATUSES, "failed")  # not gone out: withdrawn (rejected)


@dataclass(frozen=True, slots=True)
class Cancellation:
    """What :func:`cancel_incident` did."""

    incident: IncidentRow
    withdrawn: list[int]  # its status posts that had not gone out, now rejected
    in_flight: dict[int, str]  # status posts being sent or of unknown outcome (id -> status): reconciliation decides
    public: list[OutboxRow]  # its status posts already sent: public, they stay up
    correction: list[int]  # the correction queued in those threads (outbox ids)
    unlinked: list[Unlinking]  # each complaint it held, taken out as `incident unlink` does


def cancel_incident(session: Session, incident_id: int, *, settings: Settings, templates: IncidentTemplates,
                    renderer: Any, rule_template: Callable[[Mention, Score | None], str | None] | None,
                    actor: str, now: datetime, reason: str | None = None, correction: str | None = None,
                    without_correction: bool = False) -> Cancellation:
    """Cancel an open incident opened by mistake, in the caller's
    transaction: status ``cancelled`` (no further step; it links nothing
    more, it holds no conversation, the spike detector no longer counts it);
    its status posts that have not gone out are withdrawn (rejected), those
    being sent or of unknown outcome are left to reconciliation (found not
    posted, they are withdrawn at their send claim:
    :func:`cancelled_status_post`); every complaint linked to it is unlinked
    as :func:`unlink_mention` does (its incident replies become ordinary
    drafts or are held for a person, those on their way are held at their
    claim if not posted). Status posts already sent are public and cannot
    be withdrawn: ``correction`` is then posted in their threads (the
    networks where one is public, as a further step with the status
    ``cancelled``, under ``incidents.status_posts.require_approval``);
    without it the cancellation is refused unless ``without_correction``
    (ops correct or delete them by hand). Audited ``incident.cancelled``."""
    row = get_incident(session, incident_id)
    if row.status not in OPEN_STATUSES:
        raise IncidentError(f"incident {row.id} is {row.status}: only an open incident can be cancelled")
    posts = session.scalars(select(OutboxRow).where(OutboxRow.incident_id == row.id, OutboxRow.kind == "status")
                            .order_by(OutboxRow.id).with_for_update()).all()
    public = [post for post in posts if post.status == "sent"]
    correction = " ".join((correction or "").split()) or None
    if public and correction is None and not without_correction:
        shown = ", ".join(f"#{p.id} {p.platform} {p.external_url or p.external_id}" for p in public)
        raise IncidentError(
            f"incident {row.id}'s status posts are public already ({shown}): customers were told of an outage."
            " Give --message with a correction to post in those threads (e.g. \"Please disregard: this was posted"
            " by mistake, there is no outage.\"), or --no-correction if you correct or delete them on the"
            " platform yourself; nothing was changed")
    if correction is not None and not public:
        correction = None  # nothing public to correct
    _set_status(session, row, status=CANCELLED, now=now, resolved_by=None)
    withdrawn = [post.id for post in posts if post.status in WITHDRAWABLE_POST_STATUSES]
    in_flight = {post.id: post.status for post in posts if post.status in IN_FLIGHT_STATUSES}
    events: list[dict[str, Any]] = []
    if withdrawn:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(withdrawn)).values(status="rejected", updated_at=now)
                        .execution_options(synchronize_session=False))
        events += [{"at": now, "actor": actor, "action": "reply.rejected", "entity_type": "outbox", "entity_id": i,
                    "details": {"reason": f"incident #{row.id} cancelled", "incident_id": row.id}}
                   for i in withdrawn]
    audit.record_many(session, events)
    why = f"incident #{row.id} cancelled" + (f": {reason}" if reason else "")
    mention_ids = session.scalars(select(IncidentMentionRow.mention_id)
                                  .where(IncidentMentionRow.incident_id == row.id)
                                  .order_by(IncidentMentionRow.mention_id)).all()
    unlinked = [unlink_mention(session, row.id, mention_id, actor=actor, now=now, settings=settings, renderer=renderer,
                               rule_template=rule_template, reason=why) for mention_id in mention_ids]
    corrections: list[int] = []
    if correction is not None:
        corrections = _step(session, row, status=CANCELLED, message=correction, actor=actor, now=now,
                            settings=settings, templates=templates, platforms={p.platform for p in public})
    else:
        session.add(IncidentUpdateRow(incident_id=row.id, status=CANCELLED, message=None, actor=actor, at=now))
    session.refresh(row)
    audit.record(session, at=now, actor=actor, action="incident.cancelled", entity_type=AUDIT_ENTITY,
                 entity_id=row.id, details={
                     "reason": reason, "correction": correction, "correction_posts": corrections,
                     "withdrawn": withdrawn, "public": [p.id for p in public],
                     "in_flight": [{"id": i, "status": status} for i, status in sorted(in_flight.items())],
                     "mention_ids": list(mention_ids)})
    return Cancellation(incident=row, withdrawn=withdrawn, in_flight=in_flight, public=public,
                        correction=corrections, unlinked=unlinked)


def _cancelled_incident_hold(session: Session, row: OutboxRow) -> str | None:
    """Why an incident reply still linked to a cancelled incident is held
    (None: its incident is not cancelled, or a person approved it since).
    Cancelling unlinks every complaint; a batch that read the incident open
    just before can still link one as it commits."""
    incident = session.execute(select(IncidentRow.status, IncidentRow.updated_at)
                               .where(IncidentRow.id == row.incident_id)).one_or_none()
    if incident is None or incident.status != CANCELLED:
        return None
    if row.approved_at is not None and row.approved_by not in (None, POLICY_ACTOR) and row.approved_at > incident.updated_at:
        return None  # a person approved it after the cancellation: their decision
    return (f"incident #{row.incident_id} was cancelled {incident.updated_at:%Y-%m-%d %H:%M} UTC and this reply gives"
            f" its link: `brandpulse incident unlink {row.incident_id} {row.mention_id}` makes it an ordinary draft;"
            " or edit it, approve it as it is, or reject it")


def cancelled_status_post(session: Session, row: OutboxRow) -> str | None:
    """Why a status post about to be claimed for sending is withdrawn instead
    (None: it may go): its incident was cancelled after it was queued. One
    that was being sent or of unknown outcome when the incident was
    cancelled is left to reconciliation; found not posted, it is approved
    again and must not go out then. The correction queued by the
    cancellation itself goes."""
    if row.kind != "status" or row.incident_id is None:
        return None
    incident = session.execute(select(IncidentRow.status, IncidentRow.updated_at)
                               .where(IncidentRow.id == row.incident_id)).one_or_none()
    if incident is None or incident.status != CANCELLED or row.created_at >= incident.updated_at:
        return None
    return (f"incident #{row.incident_id} was cancelled {incident.updated_at:%Y-%m-%d %H:%M} UTC while this status"
            " post was on its way, and it was not posted")


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------


def list_incidents(session: Session, *, statuses: Sequence[str] = OPEN_STATUSES, brand: str | None = None,
                   limit: int = 50) -> list[IncidentRow]:
    q = select(IncidentRow).where(IncidentRow.status.in_(statuses))
    if brand:
        q = q.where(IncidentRow.brand == brand)
    return list(session.scalars(q.order_by(IncidentRow.opened_at.desc(), IncidentRow.id.desc()).limit(limit)))


@dataclass
class IncidentView:
    incident: IncidentRow
    updates: list[IncidentUpdateRow]
    posts: list[tuple[OutboxRow, OutboxRow | None]]  # status posts, each with the post it waits for
    linked: list[tuple[IncidentMentionRow, MentionRow]]
    linked_total: int
    linked_when_opened: int  # complaints from before the incident, linked when it was opened
    replies: dict[int, OutboxRow]  # linked mention id -> our reply to its conversation, the latest
    followups: list[OutboxRow]
    events: list
    unlinked: list[tuple[IncidentUnlinkRow, MentionRow]] = field(default_factory=list)  # taken out by a person
    # linked mention id -> the post it answers, for those linked by it (no keyword of their own)
    answered: dict[int, AnsweredPost] = field(default_factory=dict)


def incident_view(session: Session, incident_id: int, *, linked_limit: int = 20) -> IncidentView:
    incident = get_incident(session, incident_id)
    updates = list(session.scalars(
        select(IncidentUpdateRow).where(IncidentUpdateRow.incident_id == incident_id).order_by(IncidentUpdateRow.id)
    ))
    rows = list(session.scalars(
        select(OutboxRow).where(OutboxRow.incident_id == incident_id).order_by(OutboxRow.id)
    ))
    posts = []
    for row in rows:
        if row.kind == "status":
            blocker = waiting_for(session, row.id) if row.status == "approved" else None
            posts.append((row, blocker))
    linked = list(session.execute(
        select(IncidentMentionRow, MentionRow).join(MentionRow, MentionRow.id == IncidentMentionRow.mention_id)
        .where(IncidentMentionRow.incident_id == incident_id)
        .order_by(MentionRow.created_at.desc()).limit(linked_limit)
    ).all())
    total, when_opened = session.execute(
        select(func.count(), func.count(case((or_(
            IncidentMentionRow.how == LINKED_AT_OPENING,
            and_(IncidentMentionRow.how.is_(None), IncidentMentionRow.linked_at <= incident.opened_at)), 1))))
        .where(IncidentMentionRow.incident_id == incident_id)
    ).one()
    replies: dict[int, OutboxRow] = {}
    if linked:
        by_alert: dict[int, OutboxRow] = {}
        by_mention: dict[int, OutboxRow] = {}
        found_replies = _replies_to(session, mentions=[m.id for _, m in linked],
                                    alerts=[link.alert_id for link, _ in linked if link.alert_id is not None],
                                    statuses=None)
        for reply, _ in sorted(found_replies, key=lambda r: r[0].id):
            by_mention[reply.mention_id] = reply
            if reply.alert_id is not None:
                by_alert[reply.alert_id] = reply  # the last one wins
        for link, mention in linked:
            found = by_mention.get(mention.id) or by_alert.get(link.alert_id or -1)
            if found is not None:
                replies[mention.id] = found
    unlinked = list(session.execute(
        select(IncidentUnlinkRow, MentionRow).join(MentionRow, MentionRow.id == IncidentUnlinkRow.mention_id)
        .where(IncidentUnlinkRow.incident_id == incident_id).order_by(IncidentUnlinkRow.unlinked_at)
    ).all())
    by_context = {m.id: mention_from_row(m) for link, m in linked
                  if link.keywords == [] and link.how != LINKED_BY_HAND and m.reply_to_id}
    posts_answered = answered_posts(session, by_context.values())
    return IncidentView(
        incident=incident, updates=updates, posts=posts, linked=linked, linked_total=total or 0,
        linked_when_opened=when_opened or 0, replies=replies,
        followups=[r for r in rows if r.kind == "followup"],
        events=audit.history(session, AUDIT_ENTITY, incident_id),
        unlinked=unlinked,
        answered={i: post for i, m in by_context.items()
                  if (post := posts_answered.get((m.platform, str(m.reply_to_id)))) is not None},
    )


def linked_count(session: Session, incident_id: int) -> int:
    return session.scalar(
        select(func.count()).select_from(IncidentMentionRow).where(IncidentMentionRow.incident_id == incident_id)
    ) or 0
