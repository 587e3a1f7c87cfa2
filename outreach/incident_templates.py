"""Incidents: their templates, checked at load, and what the templates see.

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

from dataclasses import replace
from datetime import datetime, timezone
from typing import Any, Mapping

from jinja2 import TemplateError

from brandpulse.config import Brand, ConfigError, IncidentNetworks, Settings, TemplateConfig
from brandpulse.resources import resource_dir
from brandpulse.types import Mention
from outreach.incident_records import STATUS_LABELS, IncidentError, IncidentSnapshot
from outreach.templating import TemplateRenderError, make_environment, reply_context, sample_contexts, static_problems
from outreach.templating import VARIABLES as REPLY_VARIABLES
from outreach.templating import (
    length_problem as platform_length_problem,  # the reader's platform; channels.textlength's is X only
)

ROLES = ("x_post", "reddit_title", "reddit_body", "reddit_update", "reply", "followup")
STATUS_ROLES = ("x_post", "reddit_title", "reddit_body", "reddit_update")
TEMPLATE_NAMES = {role: f"incident_{role}" for role in ROLES}  # as stored in outbox.template
REPLY_TEMPLATE = TEMPLATE_NAMES["reply"]
FOLLOWUP_TEMPLATE = TEMPLATE_NAMES["followup"]
BUNDLED_TEMPLATES = resource_dir("templates")
INCIDENT_KEYS = (
    "id", "title", "status", "status_label", "message", "components", "opened_at", "at",
    "update_number", "first", "resolved", "url", "x_url", "reddit_url", "status_page", "account",
)
STATUS_VARIABLES: dict[str, tuple[str, ...]] = {"brand": ("id", "name"), "incident": INCIDENT_KEYS}
AUTHOR_VARIABLES: dict[str, tuple[str, ...]] = {**REPLY_VARIABLES, "incident": INCIDENT_KEYS}
_ROLE_VARIABLES = {role: STATUS_VARIABLES if role in STATUS_ROLES else AUTHOR_VARIABLES for role in ROLES}


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


def brand_context(brand: Brand) -> dict[str, Any]:
    return {"id": brand.id, "name": brand.name}


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
                    ("sample status data", {"brand": brand_context(brand),
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


def author_context(incident: IncidentSnapshot, mention: Mention, *, alert_id: int | None, brand: Brand,
                    settings: Settings) -> dict[str, Any]:
    """What the ``reply`` and ``followup`` templates see when answering ``mention``."""
    context = reply_context(mention=mention, brand=brand, alert_id=alert_id, priority=None, score=None)
    context["incident"] = incident_context(incident, settings=settings, platform=mention.platform)
    return context


def author_text(templates: IncidentTemplates, role: str, context: Mapping[str, Any]) -> tuple[str, str | None]:
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
