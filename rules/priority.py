"""How urgent is a mention? A score in 0..1 and a tier P1..P4.

The score is a weighted mean of three parts, each in 0..1::

    negativity = (-compound) ** 0.7          if compound < 0, else 0
                 (0 at >= 0, 1 at -1; the exponent lifts mild negatives a
                 little: -0.05 -> 0.12, -0.3 -> 0.43, -0.6 -> 0.70)
    reach      = min(1, ln(1 + audience) / ln(1 + full)
                        + 0.1 if the author is verified)
                 audience and full depend on the network (brandpulse.types.Reach):
                 X: the author's followers, full = reach_followers_full
                    (10 followers -> 0.21, 1,000 -> 0.60, 100,000 -> 1.0);
                 Reddit, which has no followers: the members of the subreddit
                    the post is in (a submission's subreddit_subscribers, or
                    the last count a submission of that subreddit gave), full
                    = reach_members_full (1,000 members -> 0.38, 100,000 ->
                    0.63, 10 million -> 0.88, 100 million -> 1.0: a member
                    sees far fewer of a subreddit's posts than a follower
                    sees of an author's); 0 when the count is unknown.
                    A comment (a post that replies to another) gets half
                    of that: Reddit shows a subreddit's readers its
                    submissions, in their feeds and its listings, while a
                    comment is read only by those who open its thread
                    (deeper replies folded under "more replies"), so it
                    counts as reaching sqrt(members) readers
                    (COMMENT_REACH_SHARE; r/travel's 11.4M: 0.88 for a
                    submission, 0.44 for a comment)
    urgency    = min(1, words + shouting)
                 words    = 0 with no urgent term, else 0.6 + 0.2 * (k - 1)
                            for k distinct terms from priority.urgent_words
                            and the brand's vocabulary.urgent, matched as
                            whole words/phrases, case-insensitive, in the
                            text and title
                 shouting = 0.15 for "!!!" (three or more '!' in a row)
                          + 0.15 for ALL CAPS (at least 3 words of 3+
                            letters in capitals, and at least half of
                            such words)

    score = (w_neg * negativity + w_reach * reach + w_urg * urgency) / (w_neg + w_reach + w_urg)

The weights come from ``priority.weights`` (a missing weight counts 0; they
are normalised, so they need not sum to 1). The tier comes from
``priority.tiers``: score >= P1 -> P1, >= P2 -> P2, >= P3 -> P3, else P4 (a
tier missing from the mapping is skipped).

Each part only grows with what it measures, so a more negative post, a
bigger audience or more urgent words never lower the score.
"""

from __future__ import annotations

import math
import re
from typing import Iterable

from brandpulse.config import Brand, PriorityConfig
from brandpulse.types import Mention, Priority, Score, mention_reach

NEGATIVITY_EXPONENT = 0.7
VERIFIED_BONUS = 0.1
# A Reddit comment's reach part is this share of its subreddit's (module docstring).
COMMENT_REACH_SHARE = 0.5
FIRST_URGENT_TERM = 0.6
EACH_MORE_URGENT_TERM = 0.2
EXCLAMATIONS_BONUS = 0.15
ALL_CAPS_BONUS = 0.15

_LONG_WORD = re.compile(r"[^\W\d_]{3,}")
_ASCII_CAPS_RUN = re.compile(r"[A-Z]{3,}")
_TIER_ORDER = (Priority.P1, Priority.P2, Priority.P3)


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str] | None:
    """One case-insensitive regex matching any of ``phrases`` as a whole
    word or phrase (not inside a longer word; any run of white space
    between a phrase's words). ``None`` when there are no phrases."""
    alternatives = []
    seen = set()
    for phrase in phrases:
        words = phrase.strip().split()
        if not words:
            continue
        key = " ".join(words).lower()
        if key in seen:
            continue
        seen.add(key)
        alternatives.append(r"\s+".join(re.escape(w) for w in words))
    if not alternatives:
        return None
    # Longest first, so "missed my flight" wins over "missed my" in findall.
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", re.IGNORECASE)


def ascii_first_words(phrases: Iterable[str]) -> tuple[str, ...] | None:
    """The lower-cased first word of each phrase, when every phrase is ASCII
    (else None). On ASCII text a :func:`phrase_pattern` match needs one of them
    as a substring of ``text.lower()``: a few substring tests in C rule out
    most texts faster than the regular expression can."""
    words = [p.split()[0].lower() for p in phrases if p.strip()]
    if not words or not all(p.isascii() for p in phrases):
        return None
    return tuple(dict.fromkeys(words))


def may_match(first_words: tuple[str, ...] | None, text: str) -> bool:
    """False only when a phrase pattern built from the phrases of
    ``first_words`` (:func:`ascii_first_words`) cannot match ``text``."""
    if first_words is None or not text.isascii():
        return True
    lowered = text.lower()
    for word in first_words:
        if word in lowered:
            return True
    return False


def mention_text(mention: Mention) -> str:
    """The text rules and priority look at: the post's text and its title."""
    return f"{mention.title}\n{mention.text}" if mention.title else mention.text


class PriorityScorer:
    """``priority_for`` with everything that depends only on the brand and
    the configuration worked out once: the urgent-word regex, the
    normalised weights and the reach scale. Build one per brand."""

    __slots__ = ("_w_neg", "_w_reach", "_w_urg", "_log_full", "_log_members_full", "_urgent", "_urgent_first",
                 "_tiers")

    def __init__(self, *, brand: Brand, config: PriorityConfig) -> None:
        weights = {k: float(v) for k, v in config.weights.items()}
        negative = {k: v for k, v in weights.items() if v < 0 or math.isnan(v)}
        if negative:
            raise ValueError(f"priority.weights: weights must be 0 or more, got {negative}")
        total = sum(weights.values())
        if total <= 0:
            raise ValueError(
                "priority.weights: at least one of negativity, reach, urgency must be above 0"
                f" (got {weights})"
            )
        self._w_neg = weights.get("negativity", 0.0) / total
        self._w_reach = weights.get("reach", 0.0) / total
        self._w_urg = weights.get("urgency", 0.0) / total
        self._log_full = math.log1p(config.reach_followers_full)
        self._log_members_full = math.log1p(config.reach_members_full)
        urgent = [*config.urgent_words, *brand.vocabulary.urgent]
        self._urgent = phrase_pattern(urgent)
        self._urgent_first = ascii_first_words(urgent)
        self._tiers = tuple((p, float(config.tiers[p.value])) for p in _TIER_ORDER if p.value in config.tiers)

    # -- parts ------------------------------------------------------------
    @staticmethod
    def negativity(compound: float) -> float:
        if compound >= 0 or math.isnan(compound):
            return 0.0
        return min(1.0, -compound) ** NEGATIVITY_EXPONENT

    def reach(self, followers: int, verified: bool) -> float:
        """The reach part for an author with ``followers`` (X)."""
        value = math.log1p(max(0, followers)) / self._log_full
        if verified:
            value += VERIFIED_BONUS
        return min(1.0, value)

    def community_reach(self, members: int | None) -> float:
        """The reach part for a post in a community of ``members`` (Reddit); 0 when unknown."""
        return min(1.0, math.log1p(max(0, members or 0)) / self._log_members_full)

    def mention_reach(self, mention: Mention) -> float:
        reach = mention_reach(mention)
        if reach.unit == "members":
            value = self.community_reach(reach.size)
            return value * COMMENT_REACH_SHARE if reach.comment else value
        return self.reach(reach.size or 0, mention.author.verified)

    def urgency(self, text: str) -> float:
        value = 0.0
        if self._urgent is not None and may_match(self._urgent_first, text):
            terms = {" ".join(m.split()).lower() for m in self._urgent.findall(text)}
            if terms:
                value = FIRST_URGENT_TERM + EACH_MORE_URGENT_TERM * (len(terms) - 1)
        if "!!!" in text:
            value += EXCLAMATIONS_BONUS
        if _shouting(text):
            value += ALL_CAPS_BONUS
        return min(1.0, value)

    # -- whole -------------------------------------------------------------
    def score(self, mention: Mention, score: Score, *, text: str | None = None) -> float:
        total = 0.0
        if self._w_neg:
            total += self._w_neg * self.negativity(score.compound)
        if self._w_reach:
            total += self._w_reach * self.mention_reach(mention)
        if self._w_urg:
            total += self._w_urg * self.urgency(mention_text(mention) if text is None else text)
        return max(0.0, min(1.0, total))

    def tier(self, value: float) -> Priority:
        for priority, threshold in self._tiers:
            if value >= threshold:
                return priority
        return Priority.P4

    def __call__(self, mention: Mention, score: Score, *, text: str | None = None) -> tuple[Priority, float]:
        value = self.score(mention, score, text=text)
        return self.tier(value), value


def _shouting(text: str) -> bool:
    if text.isascii() and len(_ASCII_CAPS_RUN.findall(text)) < 3:
        return False  # ASCII: each all-caps word of 3+ letters is a run of 3+ capitals; fewer than 3 runs
    words = _LONG_WORD.findall(text)
    if len(words) < 3:
        return False
    caps = sum(1 for w in words if w.isupper())
    return caps >= 3 and caps * 2 >= len(words)


def priority_for(
    mention: Mention,
    score: Score,
    *,
    brand: Brand,
    config: PriorityConfig,
    scorer: PriorityScorer | None = None,
) -> tuple[Priority, float]:
    """The mention's priority tier and score (0..1, higher is more urgent).
    See the module docstring for the formula. Pass ``scorer`` (built once per
    brand and configuration) on hot paths; without it one is built here."""
    if scorer is None:
        scorer = PriorityScorer(brand=brand, config=config)
    return scorer(mention, score)
