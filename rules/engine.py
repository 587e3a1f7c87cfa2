"""The rule engine: rules from the configuration, applied to a scored mention.

Rules are data (``Settings.rules``). A rule matches when every condition it
gives holds (AND); a condition given as a list holds when any element does
(OR). Rules are evaluated in order, and the actions of every matching rule
are merged until a matching rule with ``stop: true``:

* alert: the first matching rule with an alert action names the alert's
  rule. ``priority: auto`` takes the tier from :func:`rules.priority.priority_for`;
  a fixed tier ("P1".."P4") is taken as given. When several matching rules
  ask for an alert, the most urgent tier wins. The priority score (0..1) is
  computed in every case: ``auto`` takes the tier from it, and the alert
  keeps it (the highest of its posts', recorded in its audit events). It
  does not order alerts within a tier: the inbox and the digest put those
  still waiting for a reply first, then the earliest SLA deadline
  (:func:`brandpulse.inbox.urgency_order`).
* draft: the first matching rule's template.
* tags: the union of all matching rules' tags, in order, without repeats.

Posts by the brand's own accounts never match anything (no reply loops).

Conditions (see :class:`brandpulse.config.Condition`):

``label``
    the score's label; "unknown" (no analyzer for the language) is a label
    like the others, so such mentions can be routed to a person.
``min_compound`` / ``max_compound``
    bounds, inclusive, on the compound score.
``keywords_any`` / ``keywords_none``
    phrases matched case-insensitively as whole words (not inside a longer
    word; any white space between a phrase's words) in the text and title.
``regex``
    ``re.search``, case-insensitive, on the text and title.
``lang``
    the mention's language (or, when the source gave none, the language the
    analyzer detected), case-insensitive; "en" also matches "en-GB".
``platform``, ``brand``
    the mention's platform and brand id.
``min_followers`` / ``max_followers``
    bounds, inclusive, on the author's follower count.
``addresses_brand``
    whether the post @mentions, replies to or quotes one of the brand's own
    accounts on its platform: a handle in ``Mention.addressed_handles``, or
    "@handle" (X) / "u/handle" (Reddit) in the text, case-insensitive. On a
    platform other than X and Reddit, accounts and forms of both count.

A list condition given empty (``label: []``) could never hold and a range
whose minimum is above its maximum is empty: both are configuration errors,
raised when the engine is built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from brandpulse.config import Brand, ConfigError, Condition, Rule, Settings
from brandpulse.types import AlertDecision, Decision, Label, Mention, Priority, Score
from rules.priority import PriorityScorer, mention_text, phrase_pattern

_NO_DECISION = Decision()
_KNOWN_PLATFORMS = ("x", "reddit")


def _normalise_handle(handle: str) -> str:
    return handle.strip().lstrip("@").removeprefix("u/").removeprefix("/u/").lower()


def _handle_pattern(x_handles: list[str], reddit_handles: list[str]) -> re.Pattern[str] | None:
    parts = []
    if x_handles:
        names = "|".join(re.escape(h) for h in sorted(set(x_handles), key=len, reverse=True))
        parts.append(r"(?<![\w@])@(?:" + names + r")(?!\w)")
    if reddit_handles:
        names = "|".join(re.escape(h) for h in sorted(set(reddit_handles), key=len, reverse=True))
        parts.append(r"(?<![\w/])/?u/(?:" + names + r")(?![\w-])")
    if not parts:
        return None
    return re.compile("|".join(parts), re.IGNORECASE)


class _BrandInfo:
    """What the engine needs to know about one brand, worked out once."""

    __slots__ = ("brand", "own", "mentions_pattern", "scorer")

    def __init__(self, brand: Brand, settings: Settings) -> None:
        self.brand = brand
        x = [_normalise_handle(h) for h in brand.accounts.x if h.strip()]
        reddit = [_normalise_handle(h) for h in brand.accounts.reddit if h.strip()]
        everyone = frozenset(x) | frozenset(reddit)
        # platform -> (own handles, pattern for "@handle"/"u/handle" in the text)
        self.own: dict[str, frozenset[str]] = {"x": frozenset(x), "reddit": frozenset(reddit)}
        self.mentions_pattern: dict[str, re.Pattern[str] | None] = {
            "x": _handle_pattern(x, []),
            "reddit": _handle_pattern([], reddit),
        }
        self.own["*"] = everyone
        self.mentions_pattern["*"] = _handle_pattern(x, reddit)
        self.scorer = PriorityScorer(brand=brand, config=settings.priority)

    def own_handles(self, platform: str) -> frozenset[str]:
        return self.own[platform if platform in _KNOWN_PLATFORMS else "*"]

    def is_own(self, mention: Mention) -> bool:
        own = self.own_handles(mention.platform)
        return bool(own) and _normalise_handle(mention.author.handle) in own

    def addresses(self, mention: Mention, text: str) -> bool:
        own = self.own_handles(mention.platform)
        if not own:
            return False
        for handle in mention.addressed_handles:
            if _normalise_handle(handle) in own:
                return True
        pattern = self.mentions_pattern[mention.platform if mention.platform in _KNOWN_PLATFORMS else "*"]
        return pattern is not None and pattern.search(text) is not None


class _Context:
    """One evaluation: the mention, its score, and values computed lazily
    (and at most once) for the conditions that need them."""

    __slots__ = ("mention", "score", "info", "_text", "_addresses", "_lang")

    def __init__(self, mention: Mention, score: Score, info: _BrandInfo) -> None:
        self.mention = mention
        self.score = score
        self.info = info
        self._text: str | None = None
        self._addresses: bool | None = None
        self._lang: str | None | bool = False  # False: not computed yet

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = mention_text(self.mention)
        return self._text

    @property
    def addresses_brand(self) -> bool:
        if self._addresses is None:
            self._addresses = self.info.addresses(self.mention, self.text)
        return self._addresses

    @property
    def lang(self) -> str | None:
        if self._lang is False:
            lang = self.mention.lang or self.score.lang
            self._lang = lang.strip().lower() if lang else None
        return self._lang  # type: ignore[return-value]


Check = Callable[[_Context], bool]


def _compile_condition(cond: Condition, where: str, path) -> list[Check]:
    """Turn a condition into a list of checks, cheapest first."""
    problems: list[str] = []
    for key in ("label", "keywords_any", "lang", "platform", "brand"):
        value = getattr(cond, key)
        if value is not None and not [v for v in value if str(v).strip()]:
            problems.append(f"{where}.{key}: an empty list never matches; remove the key or give values")
    if cond.min_compound is not None and cond.max_compound is not None and cond.min_compound > cond.max_compound:
        problems.append(
            f"{where}: min_compound {cond.min_compound} is above max_compound {cond.max_compound}; nothing can match"
        )
    if (
        cond.min_followers is not None
        and cond.max_followers is not None
        and cond.min_followers > cond.max_followers
    ):
        problems.append(
            f"{where}: min_followers {cond.min_followers} is above max_followers {cond.max_followers};"
            " nothing can match"
        )
    if problems:
        raise ConfigError(problems, path=path)

    checks: list[Check] = []
    if cond.label is not None:
        # Label members and their string values: a str-valued Enum hashes by
        # name, so both are kept to match either form without .value lookups.
        labels = frozenset([*cond.label, *(Label(v) for v in cond.label)])
        checks.append(lambda c: c.score.label in labels)
    if cond.platform is not None:
        platforms = frozenset(cond.platform)
        checks.append(lambda c: c.mention.platform in platforms)
    if cond.brand is not None:
        brands = frozenset(cond.brand)
        checks.append(lambda c: c.mention.brand in brands)
    if cond.min_compound is not None:
        lo = cond.min_compound
        checks.append(lambda c: c.score.compound >= lo)
    if cond.max_compound is not None:
        hi = cond.max_compound
        checks.append(lambda c: c.score.compound <= hi)
    if cond.min_followers is not None:
        fmin = cond.min_followers
        checks.append(lambda c: c.mention.author.followers >= fmin)
    if cond.max_followers is not None:
        fmax = cond.max_followers
        checks.append(lambda c: c.mention.author.followers <= fmax)
    if cond.lang is not None:
        langs = frozenset(v.strip().lower() for v in cond.lang if v.strip())

        def lang_check(c: _Context) -> bool:
            lang = c.lang
            return lang is not None and (lang in langs or lang.split("-", 1)[0] in langs)

        checks.append(lang_check)
    if cond.keywords_any is not None:
        any_pattern = phrase_pattern(cond.keywords_any)
        assert any_pattern is not None  # empty lists were refused above
        checks.append(lambda c: any_pattern.search(c.text) is not None)
    if cond.keywords_none:
        none_pattern = phrase_pattern(cond.keywords_none)
        if none_pattern is not None:
            checks.append(lambda c: none_pattern.search(c.text) is None)
    if cond.regex is not None:
        regex = re.compile(cond.regex, re.IGNORECASE)
        checks.append(lambda c: regex.search(c.text) is not None)
    if cond.addresses_brand is not None:
        wanted = cond.addresses_brand
        checks.append(lambda c: c.addresses_brand is wanted)
    return checks


@dataclass(frozen=True, slots=True)
class _CompiledRule:
    name: str
    checks: tuple[Check, ...]
    alert_tier: Priority | None  # fixed tier; None with alert_auto for "auto"
    alert_auto: bool
    wants_alert: bool
    draft: str | None
    tags: tuple[str, ...]
    stop: bool

    def matches(self, ctx: _Context) -> bool:
        for check in self.checks:
            if not check(ctx):
                return False
        return True


def _compile_rule(rule: Rule, index: int, path) -> _CompiledRule:
    alert = rule.then.alert
    return _CompiledRule(
        name=rule.name,
        checks=tuple(_compile_condition(rule.when, f"rules[{index}].when", path)),
        alert_tier=None if alert is None or alert.priority == "auto" else Priority(alert.priority),
        alert_auto=alert is not None and alert.priority == "auto",
        wants_alert=alert is not None,
        draft=rule.then.draft,
        tags=tuple(dict.fromkeys(t for t in rule.then.tags if t)),
        stop=rule.stop,
    )


class RuleEngine:
    """Evaluates the configured rules on scored mentions. Build it once per
    configuration: regexes, keyword patterns, brand account sets and each
    brand's priority scorer are compiled here, not per mention."""

    def __init__(self, settings: Settings) -> None:
        path = settings.source_path
        self._rules = tuple(_compile_rule(rule, i, path) for i, rule in enumerate(settings.rules))
        try:
            self._brands = {b.id: _BrandInfo(b, settings) for b in settings.brands}
        except ValueError as exc:  # e.g. unusable priority weights
            raise ConfigError([str(exc)], path=path) from None

    def scorer_for(self, brand_id: str) -> PriorityScorer:
        """The precompiled priority scorer of one brand."""
        return self._brand(brand_id).scorer

    def _brand(self, brand_id: str) -> _BrandInfo:
        info = self._brands.get(brand_id)
        if info is None:
            raise ValueError(
                f"mention is for brand {brand_id!r}, which the configuration does not define"
                f" (known: {', '.join(sorted(self._brands))})"
            )
        return info

    def is_own_post(self, mention: Mention) -> bool:
        """True when one of the brand's own accounts wrote the mention."""
        return self._brand(mention.brand).is_own(mention)

    def evaluate(self, mention: Mention, score: Score) -> Decision:
        info = self._brand(mention.brand)
        if info.is_own(mention):
            return _NO_DECISION
        ctx = _Context(mention, score, info)
        matched: list[str] = []
        tags: list[str] = []
        draft: str | None = None
        alert_rule: str | None = None
        fixed_tiers: list[Priority] = []
        auto = False
        for rule in self._rules:
            if not rule.matches(ctx):
                continue
            matched.append(rule.name)
            if rule.wants_alert:
                if alert_rule is None:
                    alert_rule = rule.name
                if rule.alert_auto:
                    auto = True
                elif rule.alert_tier is not None:
                    fixed_tiers.append(rule.alert_tier)
            if draft is None and rule.draft is not None:
                draft = rule.draft
            tags.extend(rule.tags)
            if rule.stop:
                break
        if not matched:
            return _NO_DECISION
        alert = None
        if alert_rule is not None:
            computed_tier, value = info.scorer(mention, score, text=ctx.text)
            tiers = fixed_tiers + [computed_tier] if auto else fixed_tiers
            tier = min(tiers, key=lambda p: p.rank)
            alert = AlertDecision(rule=alert_rule, priority=tier, priority_score=value)
        return Decision(
            matched=tuple(matched),
            alert=alert,
            draft_template=draft,
            tags=tuple(dict.fromkeys(tags)),
        )
