"""The configuration file: one YAML document, validated at load.

Every error names the file, the key path and what is wrong, and nothing starts
with a configuration that did not validate. Secrets are never read from here:
they come from environment variables (see :mod:`brandpulse.secrets`).
"""

from __future__ import annotations

import os
import re
import unicodedata
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from brandpulse.durations import format_duration, parse_duration
from brandpulse.types import Priority, shown_handle

PLATFORMS = ("x", "reddit")
DATABASE_URL_ENV = "BRANDPULSE_DATABASE_URL"
DATABASE_URL_FILE_ENV = DATABASE_URL_ENV + "_FILE"  # a file holding the URL (Docker/Kubernetes secrets)


class ConfigError(Exception):
    """A configuration problem, worded for the person who wrote the file."""

    def __init__(self, problems: list[str], *, path: Path | str | None = None) -> None:
        self.problems = problems
        self.path = str(path) if path else None
        where = f"{self.path}: " if self.path else ""
        super().__init__("\n".join(f"{where}{p}" for p in problems))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    return parse_duration(value)


class Accounts(_Model):
    """Handles the brand owns, per network (without '@' or 'u/')."""

    x: list[str] = Field(default_factory=list)
    reddit: list[str] = Field(default_factory=list)

    @field_validator("x", "reddit")
    @classmethod
    def _strip(cls, handles: list[str]) -> list[str]:
        return [h.strip().lstrip("@").removeprefix("u/") for h in handles]

    def for_platform(self, platform: str) -> list[str]:
        return list(getattr(self, platform, []) or [])

    def all_lower(self) -> frozenset[str]:
        return frozenset(h.lower() for h in (*self.x, *self.reddit))


class Query(_Model):
    keywords: list[str] = Field(default_factory=list, description="any of these phrases")
    exclude: list[str] = Field(default_factory=list, description="none of these phrases")
    # Reddit: which subreddits to listen in (without 'r/').
    subreddits: list[str] = Field(default_factory=list)
    # Subreddits about the brand itself: every post there is a mention.
    brand_subreddits: list[str] = Field(default_factory=list)


class Vocabulary(_Model):
    """The brand's own domain words, used by analyzers and priority."""

    negative: list[str] = Field(default_factory=list)
    positive: list[str] = Field(default_factory=list)
    urgent: list[str] = Field(default_factory=list)
    products: list[str] = Field(default_factory=list)


class Brand(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    accounts: Accounts = Field(default_factory=Accounts)
    query: Query = Field(default_factory=Query)
    vocabulary: Vocabulary = Field(default_factory=Vocabulary)
    analyzer: str | None = None  # overrides the default analyzer for this brand


MIN_POLL_INTERVAL = timedelta(seconds=1)


class SourceConfig(BaseModel):
    """Common fields of every source; the rest are the kind's own options,
    validated by that kind (see ``listener.registry``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str
    brand: str
    poll_interval: timedelta = timedelta(minutes=5)
    enabled: bool = True

    _poll = field_validator("poll_interval", mode="before")(classmethod(lambda cls, v: _duration(v)))

    @field_validator("poll_interval")
    @classmethod
    def _often_enough(cls, interval: timedelta) -> timedelta:
        # 0s would poll as fast as the scheduler runs (every 50 ms): a platform's
        # rate limit and, on X, the budget would go in minutes.
        if interval < MIN_POLL_INTERVAL:
            raise ValueError(f"at least {format_duration(MIN_POLL_INTERVAL)} between polls, got"
                             f" {format_duration(interval)}")
        return interval

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Condition(_Model):
    """All given conditions must hold (AND); list values match any element (OR)."""

    label: list[Literal["negative", "neutral", "positive", "unknown"]] | None = None
    min_compound: float | None = Field(default=None, ge=-1, le=1)
    max_compound: float | None = Field(default=None, ge=-1, le=1)
    keywords_any: list[str] | None = None
    keywords_none: list[str] | None = None
    regex: str | None = None
    lang: list[str] | None = None
    platform: list[Literal["x", "reddit", "replay"]] | None = None
    min_followers: int | None = Field(default=None, ge=0)
    max_followers: int | None = Field(default=None, ge=0)
    addresses_brand: bool | None = None
    brand: list[str] | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
        return pattern


class AlertAction(_Model):
    priority: Literal["auto", "P1", "P2", "P3", "P4"] = "auto"


class Actions(_Model):
    alert: AlertAction | None = None
    draft: str | None = None  # template name
    tags: list[str] = Field(default_factory=list)


class Rule(_Model):
    name: str
    when: Condition = Field(default_factory=Condition)
    then: Actions
    stop: bool = False  # later rules are not evaluated for a mention this rule matched


class PriorityConfig(_Model):
    weights: dict[Literal["negativity", "reach", "urgency"], float] = Field(
        default_factory=lambda: {"negativity": 0.5, "reach": 0.3, "urgency": 0.2}
    )
    reach_followers_full: int = Field(default=100_000, gt=1)
    # Reddit has no followers: a post reaches its subreddit's members (rules/priority.py); a
    # member sees far fewer of a subreddit's posts than a follower of an author's, hence the larger scale.
    reach_members_full: int = Field(default=100_000_000, gt=1)
    urgent_words: list[str] = Field(
        default_factory=lambda: [
            "urgent", "asap", "emergency", "immediately", "right now", "stranded",
            "stuck", "missed my", "tonight", "medical", "help!", "lawyer", "scam", "fraud",
        ]
    )
    tiers: dict[Literal["P1", "P2", "P3"], float] = Field(
        default_factory=lambda: {"P1": 0.65, "P2": 0.45, "P3": 0.25}
    )

    @model_validator(mode="after")
    def _tiers_reachable(self) -> "PriorityConfig":
        # The score runs from 0 to 1 and is P1 at or above P1's threshold, else
        # P2 at or above P2's, ... (rules/priority.py; a tier left out is
        # skipped). A threshold out of 0..1 (65 for 65 %) or not below the one
        # above it makes tiers that no score ever gets, silently.
        problems = [f"priority.tiers.{tier}: a threshold of the score, which runs from 0 to 1: got {value:g}"
                    for tier, value in self.tiers.items() if not 0 <= value <= 1]
        given = [(tier, self.tiers[tier]) for tier in ("P1", "P2", "P3") if tier in self.tiers]
        for (upper, high), (lower, low) in zip(given, given[1:]):
            if high <= low:
                problems.append(f"priority.tiers: {upper} ({high:g}) must be above {lower} ({low:g}):"
                                f" no score would ever be {lower}")
        if problems:
            raise _Problems(problems)
        return self


def _default_sla() -> dict[str, timedelta]:
    return {"P1": timedelta(hours=1), "P2": timedelta(hours=6), "P3": timedelta(hours=24), "P4": timedelta(hours=72)}


class TemplateConfig(_Model):
    text: str | None = None
    file: str | None = None
    platforms: list[Literal["x", "reddit", "replay"]] | None = None  # None: any
    description: str | None = None

    @model_validator(mode="after")
    def _one_body(self) -> "TemplateConfig":
        if (self.text is None) == (self.file is None):
            raise ValueError("give exactly one of 'text' or 'file'")
        return self


class ReplyPolicy(_Model):
    require_approval: bool = True
    auto_send_templates: list[str] = Field(default_factory=list)


# Words and phrases that, when an author answers the brand with them, opt the
# author out of automatic replies. Matched as whole words (CJK: as written),
# case-insensitively. "stop" is always included, whatever the configuration.
DEFAULT_OPT_OUT_WORDS: tuple[str, ...] = (
    # English
    "stop", "unsubscribe", "opt out", "opt-out", "leave me alone", "stop replying", "stop messaging me",
    "don't reply", "do not reply", "do not contact me", "don't contact me",
    # French
    "arrête", "arrete", "arrêtez", "arretez", "stoppez", "désabonner", "desabonner", "laissez-moi tranquille",
    "laisse-moi tranquille", "fichez-moi la paix",
    # Spanish, Italian, Portuguese
    "basta", "déjame en paz", "dejame en paz", "no me respondas", "darme de baja", "smettila", "lasciami in pace",
    "me deixe em paz", "me deixa em paz", "parem",
    # German, Dutch
    "hör auf", "hoer auf", "lass mich in ruhe", "lassen sie mich in ruhe", "abmelden", "laat me met rust",
    # Japanese, Chinese, Korean
    "やめて", "やめてください", "ほっといて", "配信停止", "别烦我", "不要再回复", "그만",
)


def normalise_text(text: str) -> str:
    """Compatibility-normalised, case-folded text, for matching words."""
    return unicodedata.normalize("NFKC", text).casefold()


def normalise_handle(handle: str) -> str:
    """``@Sam``, ``u/Sam``, `` sam `` → ``sam``."""
    return handle.strip().lstrip("@").removeprefix("u/").removeprefix("U/").lower()


class QuietHours(_Model):
    """No automatic replies between ``start`` and ``end`` (local time in
    ``timezone``; ``end`` earlier than ``start`` spans midnight)."""

    start: time
    end: time
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)") from None
        return name

    @model_validator(mode="after")
    def _not_empty(self) -> "QuietHours":
        if self.start == self.end:
            raise ValueError("start and end are the same time: give two different times, or remove quiet_hours")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Caps(_Model):
    """At most this many posts per brand account (rolling windows)."""

    per_hour: int = Field(default=60, ge=1)
    per_day: int = Field(default=600, ge=1)


class TemplateSafeguards(_Model):
    """Per-template exceptions to the general safeguards."""

    per_author_cooldown: timedelta | None = None  # None: the general cooldown
    quiet_hours: bool = True  # False: this template may go out during quiet hours

    _cooldown = field_validator("per_author_cooldown", mode="before")(
        classmethod(lambda cls, v: None if v is None else _duration(v))
    )


class Safeguards(_Model):
    """Send-time safeguards: checked when a reply is claimed for sending,
    whatever the rules or the approver said (see outreach/safeguards.py)."""

    per_author_cooldown: timedelta = timedelta(hours=12)
    caps: Caps = Field(default_factory=Caps)
    quiet_hours: QuietHours | None = None
    blocklist: list[str] = Field(default_factory=list)
    opt_out_words: list[str] = Field(default_factory=lambda: list(DEFAULT_OPT_OUT_WORDS))
    templates: dict[str, TemplateSafeguards] = Field(default_factory=dict)

    _cooldown = field_validator("per_author_cooldown", mode="before")(classmethod(lambda cls, v: _duration(v)))

    @field_validator("blocklist")
    @classmethod
    def _blocklist(cls, entries: list[str]) -> list[str]:
        out = []
        for entry in entries:
            platform, sep, handle = entry.strip().partition(":")
            if not sep:
                platform, handle = "", entry
            elif platform.lower() not in (*PLATFORMS, "replay"):
                raise ValueError(f"blocklist entry {entry!r}: unknown platform {platform!r} (use x:handle or reddit:handle)")
            handle = normalise_handle(handle)
            if not handle:
                raise ValueError(f"blocklist entry {entry!r} has no handle")
            out.append(f"{platform.lower()}:{handle}" if platform else handle)
        return out

    @field_validator("opt_out_words")
    @classmethod
    def _words(cls, words: list[str]) -> list[str]:
        cleaned = [normalise_text(w).strip() for w in words]
        if any(not w for w in cleaned):
            raise ValueError("opt-out words must not be empty")
        return list(dict.fromkeys(["stop", *cleaned]))

    def blocked(self, platform: str, handle: str) -> bool:
        h = normalise_handle(handle)
        return h in self.blocklist or f"{platform}:{h}" in self.blocklist

    def cooldown_for(self, template: str | None) -> timedelta:
        policy = self.templates.get(template or "")
        if policy is not None and policy.per_author_cooldown is not None:
            return policy.per_author_cooldown
        return self.per_author_cooldown

    def quiet_hours_for(self, template: str | None) -> QuietHours | None:
        policy = self.templates.get(template or "")
        if policy is not None and not policy.quiet_hours:
            return None
        return self.quiet_hours


class OutreachConfig(_Model):
    channel: Literal["dry-run", "live"] = "dry-run"
    # live: the networks to post on (credentials required for each); default:
    # those of the enabled x/reddit sources, plus any whose credentials are set.
    platforms: list[Literal["x", "reddit"]] | None = None


# -- incidents --------------------------------------------------------------


class XStatusTarget(_Model):
    """Where a brand's status thread goes on X."""

    account: str  # one of brands[].accounts.x

    _strip = field_validator("account")(classmethod(lambda cls, v: v.strip().lstrip("@")))


class RedditStatusTarget(_Model):
    """Where a brand's status submission goes on Reddit."""

    subreddit: str = Field(pattern=r"^(?:r/)?[A-Za-z0-9][A-Za-z0-9_]{1,20}$")
    account: str | None = None  # one of brands[].accounts.reddit; default: the brand's first

    @field_validator("subreddit")
    @classmethod
    def _sub(cls, value: str) -> str:
        return value.removeprefix("r/")

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        return value.strip().removeprefix("u/") if value else value


class IncidentNetworks(_Model):
    """One brand's status updates: the networks they are posted on (none:
    the incident is tracked and complaints are linked, nothing is posted)."""

    x: XStatusTarget | None = None
    reddit: RedditStatusTarget | None = None
    # Shown in replies before a status post exists on the complainer's network.
    status_page: str | None = None


def _incident_template(file: str, description: str) -> Any:
    return Field(default_factory=lambda: TemplateConfig(file=file, description=description))


class IncidentTemplates(_Model):
    """The templates of each incident post. Files are looked up in
    ``templates_dir``, then in brandpulse's own ``templates/``."""

    x_post: TemplateConfig = _incident_template("incident_x_post.txt.j2", "Each status update on X")
    reddit_title: TemplateConfig = _incident_template("incident_reddit_title.txt.j2", "Title of the Reddit status submission")
    reddit_body: TemplateConfig = _incident_template("incident_reddit_body.md.j2", "Body of the Reddit status submission")
    reddit_update: TemplateConfig = _incident_template("incident_reddit_update.md.j2", "Each later update: a comment on the submission")
    reply: TemplateConfig = _incident_template("incident_reply.txt.j2", "Reply to a complaint linked to an open incident")
    followup: TemplateConfig = _incident_template("incident_followup.txt.j2", "Follow-up to an answered author once it is fixed")


class ApprovalPolicy(_Model):
    require_approval: bool


GENERIC_TERMS = (
    "app", "apps", "website", "site", "web", "online", "check", "checking", "check-in", "checkin", "login", "log",
    "account", "service", "customer", "support", "help", "people", "everyone", "phone", "email", "order", "booking",
    "flight", "flights", "com", "www", "working", "work", "issue", "issues", "problem", "problems",
)


class SpikeConfig(_Model):
    """Suggested incidents: a brand's negative mentions in the last ``window``
    against the trailing ``baseline`` (see rules/spikes.py)."""

    enabled: bool = True
    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(hours=24)
    # The hours just before the window: a level that has grown slowly is the
    # new normal, not a spike (expected = max(baseline rate, recent rate)).
    recent: timedelta = timedelta(hours=3)
    # Quiet until this much baseline exists: half a day, so that it holds daytime volume
    # (a morning ramp measured against the night alone looks like a spike).
    min_history: timedelta = timedelta(hours=12)
    min_count: int = Field(default=10, ge=1)  # negatives in the window, at least
    ratio: float = Field(default=3.0, gt=1)  # window count / expected count, at least
    z_score: float = Field(default=3.0, ge=0)  # (count - expected) / sqrt(expected), at least
    check_every: timedelta = timedelta(minutes=5)  # per brand; 0 checks after every batch
    cooldown: timedelta = timedelta(hours=2)  # after a suggestion, before the next one
    top_terms: int = Field(default=5, ge=1, le=20)
    examples: int = Field(default=3, ge=1, le=10)
    # How many keywords the suggested `incident open` command gives: over-represented
    # words and two-word phrases, each adding window posts the ones before did not cover.
    keywords: int = Field(default=5, ge=1, le=20)
    # Words every day's complaints use (what is affected, not what is wrong): never a
    # keyword alone, only in a phrase with another word ("app down", "website down").
    generic_terms: list[str] = Field(default_factory=lambda: list(GENERIC_TERMS))

    _durations = field_validator("window", "baseline", "recent", "min_history", "check_every", "cooldown", mode="before")(
        classmethod(lambda cls, v: _duration(v))
    )

    @model_validator(mode="after")
    def _sizes(self) -> "SpikeConfig":
        if self.window <= timedelta(0):
            raise ValueError("window must be longer than 0")
        if self.baseline < self.window:
            raise ValueError(f"baseline ({self.baseline}) must be at least the window ({self.window})")
        if self.recent < self.window:
            raise ValueError(f"recent ({self.recent}) must be at least the window ({self.window})")
        return self


class IncidentsConfig(_Model):
    # brand id -> where its status updates are posted
    brands: dict[str, IncidentNetworks] = Field(default_factory=dict)
    templates: IncidentTemplates = Field(default_factory=IncidentTemplates)
    # Status posts are ops' own words, posted with one command: no approval by
    # default (the outreach kill switch still stops them).
    status_posts: ApprovalPolicy = Field(default_factory=lambda: ApprovalPolicy(require_approval=False))
    # "It's fixed" follow-ups to the authors who were answered: approved by a person by default.
    followups: ApprovalPolicy = Field(default_factory=lambda: ApprovalPolicy(require_approval=True))
    # Link new negative mentions matching an open incident's keywords to it.
    link_mentions: bool = True
    # Opening an incident also links the matching complaints of this long
    # before it (their alert still open or acknowledged); `incident open
    # --from-alert` uses the spike window instead, `--since` overrides both. 0: none.
    lookback: timedelta = timedelta(hours=2)
    # An open incident links new complaints posted up to this long after its
    # latest step (opened or updated; each update extends it), so one left
    # open does not collect the day's unrelated complaints. `incident open
    # --from-alert` links earlier complaints up to this long after the alert.
    link_for: timedelta = timedelta(hours=2)
    spikes: SpikeConfig = Field(default_factory=SpikeConfig)

    _lookback = field_validator("lookback", "link_for", mode="before")(classmethod(lambda cls, v: _duration(v)))

    @field_validator("link_for")
    @classmethod
    def _link_for(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("link_for must be longer than 0 (set link_mentions: false to link nothing)")
        return value


class Settings(_Model):
    """The whole validated configuration. Paths are resolved against the
    directory of the configuration file."""

    data_dir: Path = Path("data")
    database_url: str | None = None
    templates_dir: Path = Path("../templates")
    default_analyzer: str = "customer-care"
    brands: list[Brand] = Field(min_length=1)
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    priority: PriorityConfig = Field(default_factory=PriorityConfig)
    sla: dict[Literal["P1", "P2", "P3", "P4"], timedelta] = Field(default_factory=_default_sla)
    reply_policy: ReplyPolicy = Field(default_factory=ReplyPolicy)
    templates: dict[str, TemplateConfig] = Field(default_factory=dict)
    outreach: OutreachConfig = Field(default_factory=OutreachConfig)
    safeguards: Safeguards = Field(default_factory=Safeguards)
    incidents: IncidentsConfig = Field(default_factory=IncidentsConfig)
    # Where the file was loaded from (set by load_settings; not a YAML key).
    source_path: Path | None = Field(default=None, exclude=True)

    @field_validator("sla", mode="before")
    @classmethod
    def _sla(cls, value: Any) -> Any:
        if isinstance(value, dict):
            merged: dict[str, Any] = dict(_default_sla())
            problems = []
            for priority, deadline in value.items():
                if isinstance(deadline, (int, float)) and not isinstance(deadline, bool) and deadline < 0:
                    deadline = timedelta(seconds=deadline)  # refused below with the others, not as "negative"
                try:
                    merged[priority] = _duration(deadline)
                except ValueError as exc:  # named by its priority: 'sla.P1: not a duration: …'
                    problems.append(f"sla.{priority}: {exc}")
                    continue
                if merged[priority] <= timedelta(0):  # every alert of the tier would be overdue as it opens
                    problems.append(f"sla.{priority}: must be longer than 0s, got {format_duration(merged[priority])}"
                                    f" (every {priority} alert would be overdue as it opens)")
            if problems:
                raise _Problems(problems)
            return merged
        return value

    @model_validator(mode="after")
    def _references(self) -> "Settings":
        problems: list[str] = []
        brand_ids = [b.id for b in self.brands]
        for dup in {b for b in brand_ids if brand_ids.count(b) > 1}:
            problems.append(f"brands: brand id {dup!r} appears more than once")
        names = [s.name for s in self.sources]
        for dup in {n for n in names if names.count(n) > 1}:
            problems.append(f"sources: source name {dup!r} appears more than once")
        for i, source in enumerate(self.sources):
            if source.brand not in brand_ids:
                problems.append(f"sources[{i}].brand: unknown brand {source.brand!r} (known: {', '.join(brand_ids)})")
        for i, rule in enumerate(self.rules):
            if rule.then.draft and rule.then.draft not in self.templates:
                problems.append(
                    f"rules[{i}].then.draft: unknown template {rule.then.draft!r}"
                    f" (known: {', '.join(sorted(self.templates)) or 'none'})"
                )
            for b in rule.when.brand or []:
                if b not in brand_ids:
                    problems.append(f"rules[{i}].when.brand: unknown brand {b!r}")
        # The reply templates, and the incidents' status-link replies (outreach.incident_templates.REPLY_TEMPLATE,
        # approved by this policy; "it's fixed" follow-ups have incidents.followups.require_approval).
        auto_sendable = sorted({*self.templates, "incident_reply"})
        for name in self.reply_policy.auto_send_templates:
            if name not in auto_sendable:
                problems.append(
                    f"reply_policy.auto_send_templates: unknown template {name!r} (known: {', '.join(auto_sendable)})"
                )
        # Reply templates, and the incident posts' (stored as incident_<role>, e.g. incident_followup).
        known_templates = sorted({*self.templates, *(f"incident_{role}" for role in IncidentTemplates.model_fields)})
        for name in self.safeguards.templates:
            if name not in known_templates:
                problems.append(
                    f"safeguards.templates.{name}: unknown template {name!r} (known: {', '.join(known_templates)})"
                )
        if problems:
            raise _Problems(problems)
        return self

    @model_validator(mode="after")
    def _account_credentials(self) -> "Settings":
        """Two accounts whose own credential variables would have one name
        (u/a-b and u/a_b: REDDIT_PASSWORD__A_B) cannot both post: refused."""
        from brandpulse.netclients import (  # it imports this module
            account_credential_names,
            bare_handle,
            colliding_accounts,
        )

        problems: list[str] = []
        for platform in PLATFORMS:
            brand_of: dict[str, str] = {}
            for brand in self.brands:
                for handle in brand.accounts.for_platform(platform):
                    brand_of.setdefault(bare_handle(handle).lower(), brand.id)  # as colliding_accounts names it
            for first, second in colliding_accounts(
                    h for brand in self.brands for h in brand.accounts.for_platform(platform)):
                names = " and ".join(account_credential_names(platform, first))
                problems.append(
                    f"brands[].accounts.{platform}: {shown_handle(platform, first)} (brand {brand_of[first.lower()]})"
                    f" and {shown_handle(platform, second)} (brand {brand_of[second.lower()]}) would read their"
                    f" credentials from the same variables ({names}): brandpulse cannot tell them apart; keep only one"
                    " of them (the other cannot post through brandpulse)"
                )
        if problems:
            raise _Problems(problems)
        return self

    @model_validator(mode="after")
    def _incident_references(self) -> "Settings":
        problems: list[str] = []
        brands = {b.id: b for b in self.brands}
        for brand_id, networks in self.incidents.brands.items():
            key = f"incidents.brands.{brand_id}"
            brand = brands.get(brand_id)
            if brand is None:
                problems.append(f"{key}: unknown brand {brand_id!r} (known: {', '.join(brands)})")
                continue
            if networks.x is not None:
                owned = {a.lower() for a in brand.accounts.x}
                if networks.x.account.lower() not in owned:
                    problems.append(
                        f"{key}.x.account: {networks.x.account!r} is not one of the brand's X accounts"
                        f" ({', '.join(brand.accounts.x) or 'none configured'})"
                    )
            if networks.reddit is not None:
                owned = {a.lower() for a in brand.accounts.reddit}
                account = networks.reddit.account
                if account is None and not owned:
                    problems.append(f"{key}.reddit.account: the brand has no Reddit account to post as (brands[].accounts.reddit)")
                elif account is not None and account.lower() not in owned:
                    problems.append(
                        f"{key}.reddit.account: {account!r} is not one of the brand's Reddit accounts"
                        f" ({', '.join(brand.accounts.reddit) or 'none configured'})"
                    )
        if problems:
            raise _Problems(problems)
        return self

    # -- derived values -------------------------------------------------
    def brand(self, brand_id: str) -> Brand:
        for b in self.brands:
            if b.id == brand_id:
                return b
        raise KeyError(f"unknown brand {brand_id!r}")

    def sla_for(self, priority: Priority | str) -> timedelta:
        return self.sla[str(priority)]

    @property
    def base_dir(self) -> Path:
        return self.source_path.parent if self.source_path else Path.cwd()

    def resolve(self, path: Path | str) -> Path:
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    @property
    def data_path(self) -> Path:
        return self.resolve(self.data_dir)

    @property
    def templates_path(self) -> Path:
        return self.resolve(self.templates_dir)

    def effective_database_url(self) -> str:
        """The database URL: ``$BRANDPULSE_DATABASE_URL``, else the file named
        by ``$BRANDPULSE_DATABASE_URL_FILE`` (read as a secret: the URL holds
        the password), else ``database_url``, else the SQLite file under
        ``data_dir``. A variable that is set but empty, or a file that cannot
        be read, is a :class:`ConfigError` naming it: never a silent fall back
        to the SQLite default."""
        return self.database_url_and_origin()[0]

    def database_url_and_origin(self) -> tuple[str, str]:
        """:meth:`effective_database_url` and where it comes from, for
        messages: the variable's name, ``database_url`` or ``data_dir``
        (one read of the URL's file)."""
        if DATABASE_URL_ENV in os.environ or DATABASE_URL_FILE_ENV in os.environ:
            from brandpulse.secrets import read_secret  # brandpulse.secrets imports this module

            secret = read_secret(DATABASE_URL_ENV, purpose="unset it to use the configuration's database_url or data_dir")
            return secret.reveal(), (DATABASE_URL_ENV if DATABASE_URL_ENV in os.environ else DATABASE_URL_FILE_ENV)
        return self._configured_database_url(), ("database_url" if self.database_url else "data_dir")

    def _configured_database_url(self) -> str:
        if self.database_url:
            url = self.database_url
            if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
                rel = url.removeprefix("sqlite:///")
                if rel and rel != ":memory:":
                    return "sqlite:///" + str(self.resolve(rel))
            return url
        return "sqlite:///" + str(self.data_path / "brandpulse.db")


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


class _Problems(ValueError):
    """Several problems found by a check across the file, each starting with
    its own key path: reported one per line, not as one "(top level)" line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class OptionError(_Problems):
    """A problem with one option of a section whose options are validated
    outside this module (a source kind's, see ``listener.registry``), named by
    its key: ``OptionError("max_results", "must be between 10 and 100 …")`` is
    reported as ``sources[2].max_results: must be between 10 and 100 …``.
    A ValueError, so it may be raised inside a pydantic validator."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__([f"{key}: {problem}"])


def validation_problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        found = (err.get("ctx") or {}).get("error")
        if isinstance(found, _Problems):
            problems.extend(found.problems)
            continue
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; secrets belong in environment variables, not here)"
        problems.append(f"{_format_loc(loc)}: {msg}")
    return problems


def parse_settings(data: Any, *, path: Path | str | None = None) -> Settings:
    if not isinstance(data, dict):
        raise ConfigError(["(top level): expected a mapping of keys to values"], path=path)
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_problems(exc), path=path) from None
    if path is not None:
        settings = settings.model_copy(update={"source_path": Path(path).resolve()})
    return settings


def _line_of(data: bytes, offset: int) -> int:
    """The 1-based line of byte ``offset`` in ``data``."""
    return data.count(b"\n", 0, offset) + 1


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader that notes every key given twice in a mapping: YAML
    loaders keep the last value and drop the first without a word (a second
    ``rules:`` replaced the first). Keys a merge (``<<: *anchor``) brings in
    may be overridden, as YAML intends."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.duplicates: list[tuple[int, int, str]] = []  # (line, column, problem), 1-based

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, Any] = {}
            for key_node, _value in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                mark = key_node.start_mark
                if key in seen:
                    self.duplicates.append((mark.line + 1, mark.column + 1,
                                            f"key {key!r} given twice (first on line {seen[key].line + 1}); keep one"))
                else:
                    seen[key] = mark
        return super().construct_mapping(node, deep=deep)


def load_settings(path: Path | str) -> Settings:
    """Read and validate a configuration file. Raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(["file not found"], path=path) from None
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], path=path) from None
    except UnicodeDecodeError as exc:
        line = _line_of(path.read_bytes(), exc.start)
        raise ConfigError([f"line {line}: not UTF-8 text ({exc.reason} at byte {exc.start}); save the file as UTF-8"], path=path) from None
    loader = _StrictLoader(text)
    try:
        data = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError([f"{where}invalid YAML: {getattr(exc, 'problem', exc)}"], path=path) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError([f"line {line}, column {column}: {problem}" for line, column, problem in sorted(set(loader.duplicates))],
                          path=path)
    return parse_settings(data, path=path)
