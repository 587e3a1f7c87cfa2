"""Suggested incidents: when a brand's negative mentions spike.

Detection (:func:`detect_spike`, pure, over counts)
====================================================

``count`` is the number of negative mentions in the last ``window`` (1 h by
default): those whose latest label is negative, as trends count them (one
re-scored non-negative by a trained analyzer or a rescoring is not). What is *expected* in a window is the larger of two rates, each
scaled to one window:

* the **baseline**: negatives per window over the trailing ``baseline``
  (24 h) before the window, or over as much of it as there is history for;
* the **recent** level: negatives per window over the ``recent`` hours (3 h)
  just before the window. A volume that has grown slowly is the new normal,
  not an incident: when the morning rush or a growing audience lifts the
  level, the recent rate follows it and the ratio stays small.

It fires when all of these hold::

    count >= min_count                                  (10: a handful is never an incident)
    count >= ratio * max(expected, 1)                   (3x what is expected)
    (count - expected) / sqrt(max(expected, 1)) >= z    (3: unlikely as Poisson noise)
    history >= min_history                              (12 h: a baseline with daytime in it)

where *history* is the time from the brand's first mention (ever, not only
in the baseline) to the window, at most ``baseline``: a small brand with no
mention in the last day but days of them before expects nothing, so a burst
fires.

so a burst fires, while a steady volume, noise on it, and slowly growing
volume stay quiet (tests/rules/test_spikes.py runs synthetic series).

Top terms (:func:`top_terms`)
=============================

Simple tokens (lower-case words of two or more letters or digits, ``@handles``
and links dropped, English stopwords and the brand's own name and handles
removed), counted once per post. A term is over-represented when the share of
window posts containing it is above its smoothed share in the baseline::

    lift = (df_window / n_window) / ((df_baseline + 1) / (n_baseline + 2))

Terms in at least two window posts with a lift above 1 are ranked by
``df_window * ln(lift)``.

Suggested keywords (:func:`suggest_keywords`)
=============================================

The keywords of the suggested ``incident open`` command link complaints, so
they must say what is *wrong*, not only what is affected: the words every
day's complaints use (``incidents.spikes.generic_terms``: app, website,
check, ...) are never a keyword alone, only in a two-word phrase with another
word ("app down", "website down", "service unavailable"). Candidates are
those words and phrases, scored as above; going down the ranking, a
candidate is taken only if it adds window posts the ones before it did not
contain, up to ``incidents.spikes.keywords``. (Measured on the demo day with
``bench/incident_linking.py``.)

The check the pipeline calls (:class:`SpikeMonitor`)
====================================================

After each batch, for each brand with new negative mentions, at most once per
``check_every`` of the clock: one aggregate query (counts for the window, the
recent hours and the baseline, and where history starts). Only when that
fires: one query for an open or recent possible-incident alert of the brand
or an open incident (then it stays quiet: the team knows), and one reading
the window's and the baseline's negative posts for the terms and examples.
It then opens a P1 alert (rule ``possible-incident``) with the example posts
as its mentions and a note with the numbers, the top terms and the
``brandpulse incident open`` command to run; the command is also in the
audit event. It runs in the caller's transaction.
"""

from __future__ import annotations

import math
import re
import shlex
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

from sqlalchemy import and_, case, func, insert, or_, select
from sqlalchemy.orm import Session, aliased

from brandpulse.audit import SYSTEM, record_many
from brandpulse.config import Brand, Settings, SpikeConfig
from brandpulse.db.models import AlertMentionRow, AlertRow, IncidentRow, MentionRow, ScoreRow
from brandpulse.db.scores import latest_label_is_negative, latest_score
from brandpulse.types import POSSIBLE_INCIDENT_RULE, Priority

RULE = POSSIBLE_INCIDENT_RULE
TAG = "possible-incident"
AUTHOR_ID = "brandpulse:spike"
AUTHOR_HANDLE = "spike-detector"
_OPEN_ALERT = ("open", "acknowledged")
_OPEN_INCIDENT = ("investigating", "identified", "monitoring")
_BASELINE_SAMPLE = 5000  # baseline posts read for the terms, newest first

# English function words, and chatter. "down", "out", "off" and "up" are kept:
# they carry outages ("app down", "out of service", "cut off", "not up").
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can can't cannot could couldn't did didn't do does doesn't doing don't during each
    few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
    him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't
    my myself no nor not of on once only or other ought our ours ourselves over own same shan't she she'd
    she'll she's should shouldn't so some such than that that's the their theirs them themselves then there there's
    these they they'd they'll they're they've this those through to too under until very was wasn't we we'd
    we'll we're we've were weren't what what's when when's where where's which while who who's whom why why's with
    won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
    just still get got now again also even really anyone anybody one two via im ive dont cant wont its us
    today yesterday tonight hour hours minute minutes min mins day days time times
    rt amp lol omg pls please thanks thank hi hey ok okay yes yeah
    """.split()
)
_TOKEN = re.compile(r"(?<![\w@#/])#?[^\W_](?:[\w'’-]*[^\W_])?", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<!\w)(?:@|/?u/)\w+", re.IGNORECASE)


# ---------------------------------------------------------------------------
# Pure detection
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpikeVerdict:
    fired: bool
    count: int  # negatives in the window
    expected: float  # per window: max(baseline rate, recent rate)
    baseline_rate: float  # per window
    recent_rate: float  # per window
    ratio: float  # count / max(expected, 1)
    z: float  # (count - expected) / sqrt(max(expected, 1))
    reason: str  # why it fired, or the first condition that kept it quiet


def detect_spike(
    *,
    count: int,
    baseline_count: int,
    baseline_windows: float,
    recent_count: int,
    recent_windows: float,
    config: SpikeConfig,
    history_windows: float | None = None,
) -> SpikeVerdict:
    """Does ``count`` negatives in the window make a spike?

    ``baseline_count`` negatives fell in the ``baseline_windows`` windows of
    history before the window (at most ``config.baseline`` of it),
    ``recent_count`` in the ``recent_windows`` windows just before it.
    ``history_windows`` (default ``baseline_windows``) is how much history
    there is at all; below ``config.min_history`` it never fires."""
    baseline_rate = baseline_count / baseline_windows if baseline_windows > 0 else 0.0
    recent_rate = recent_count / recent_windows if recent_windows > 0 else 0.0
    expected = max(baseline_rate, recent_rate)
    floor = max(expected, 1.0)
    ratio = count / floor
    z = (count - expected) / math.sqrt(floor)
    history = baseline_windows if history_windows is None else history_windows
    min_history = config.min_history / config.window

    def verdict(fired: bool, reason: str) -> SpikeVerdict:
        return SpikeVerdict(fired, count, expected, baseline_rate, recent_rate, ratio, z, reason)

    if count < config.min_count:
        return verdict(False, f"{count} negatives in the window, fewer than min_count {config.min_count}")
    if history < min_history:
        return verdict(False, f"{history:.1f} windows of history, less than min_history ({min_history:g})")
    if ratio < config.ratio:
        return verdict(False, f"{count} is {ratio:.1f}x the expected {expected:.1f}, below ratio {config.ratio:g}")
    if z < config.z_score:
        return verdict(False, f"z {z:.1f} below z_score {config.z_score:g}")
    return verdict(True, f"{count} negatives against {expected:.1f} expected: {ratio:.1f}x, z {z:.1f}")


def detect_in_series(counts: Sequence[int], *, config: SpikeConfig) -> SpikeVerdict:
    """:func:`detect_spike` for the last of ``counts`` (negatives per window,
    oldest first) against the ones before it."""
    if not counts:
        raise ValueError("an empty series has no last window")
    per_window = config.window.total_seconds()
    n_baseline = max(1, round(config.baseline.total_seconds() / per_window))
    n_recent = max(1, round(config.recent.total_seconds() / per_window))
    before = list(counts[:-1])
    baseline = before[-n_baseline:]
    recent = before[-n_recent:]
    return detect_spike(
        count=counts[-1], baseline_count=sum(baseline), baseline_windows=len(baseline),
        recent_count=sum(recent), recent_windows=len(recent), config=config,
    )


def first_firing(counts: Sequence[int], *, config: SpikeConfig) -> int | None:
    """The index of the first window of ``counts`` that fires, or None."""
    for i in range(len(counts)):
        if detect_in_series(counts[: i + 1], config=config).fired:
            return i
    return None


# ---------------------------------------------------------------------------
# Terms
# ---------------------------------------------------------------------------


def brand_words(brand: Brand) -> frozenset[str]:
    """The brand's own name and handles: present in nearly every post, never news."""
    words = set()
    for text in (brand.id, brand.name, *brand.accounts.x, *brand.accounts.reddit):
        words.update(tokens(text, stop=frozenset()))
        words.add(text.lower().lstrip("@"))
    return frozenset(words)


def tokens(text: str, *, stop: frozenset[str] = STOPWORDS) -> list[str]:
    """Lower-case words (hashtags without '#'), links and @handles dropped."""
    text = _HANDLE.sub(" ", _URL.sub(" ", text.lower()))
    out = []
    for match in _TOKEN.finditer(text):
        word = match.group(0).lstrip("#").replace("’", "'")
        if word.endswith("'s"):
            word = word[:-2]
        if len(word) < 2 or word in stop:
            continue
        out.append(word)
    return out


def _candidates(text: str, *, stop: frozenset[str], generic: frozenset[str]) -> set[str]:
    """A post's keyword candidates: its words that are neither stop words nor
    generic, and its two-word phrases of adjacent non-stop words with a
    generic one in them."""
    words = tokens(text, stop=frozenset())
    found = {w for w in words if w not in stop and w not in generic}
    for first, second in zip(words, words[1:]):
        if first in stop or second in stop or first == second:
            continue
        if first in generic or second in generic:
            found.add(f"{first} {second}")
    return found


def suggest_keywords(window_texts: Iterable[str], baseline_texts: Iterable[str], *, limit: int = 5,
                     extra_stopwords: Iterable[str] = (), generic: Iterable[str] = ()) -> list[str]:
    """Keywords for an incident from a spike's posts (see the module's doc):
    over-represented words and phrases, best first, each adding posts."""
    stop = STOPWORDS | frozenset(w.lower() for w in extra_stopwords)
    generic_set = frozenset(w.lower() for w in generic)
    window = [_candidates(t, stop=stop, generic=generic_set) for t in window_texts]
    chosen: list[str] = []
    covered: set[int] = set()
    for term, _ in _ranked(window, (_candidates(t, stop=stop, generic=generic_set) for t in baseline_texts)):
        posts = {i for i, found in enumerate(window) if term in found}
        if posts <= covered:
            continue  # every post with it has an earlier keyword already
        chosen.append(term)
        covered |= posts
        if len(chosen) == limit:
            break
    return chosen


def top_terms(window_texts: Iterable[str], baseline_texts: Iterable[str], *, limit: int = 5,
              extra_stopwords: Iterable[str] = ()) -> list[tuple[str, float]]:
    """Terms over-represented in the window against the baseline: [(term, lift)], best first."""
    stop = STOPWORDS | frozenset(w.lower() for w in extra_stopwords)
    window = [set(tokens(text, stop=stop)) for text in window_texts]
    return _ranked(window, (set(tokens(text, stop=stop)) for text in baseline_texts))[:limit]


def _ranked(window: Sequence[set[str]], baseline: Iterable[set[str]]) -> list[tuple[str, float]]:
    """The terms (each post given as its set of terms) in at least two window
    posts with a lift above 1: [(term, lift)], by ``df_window * ln(lift)``
    best first (see the module's doc)."""
    if not window:
        return []
    baseline_df: Counter[str] = Counter()
    n_baseline = 0
    for terms in baseline:
        n_baseline += 1
        baseline_df.update(terms)
    window_df: Counter[str] = Counter(term for terms in window for term in terms)
    scored = []
    for term, df in window_df.items():
        if df < 2:
            continue
        lift = (df / len(window)) / ((baseline_df[term] + 1) / (n_baseline + 2))
        if lift > 1:
            scored.append((df * math.log(lift), term, lift))
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [(term, lift) for _, term, lift in scored]


# ---------------------------------------------------------------------------
# The check the pipeline calls
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suggestion:
    alert_id: int
    brand: str
    verdict: SpikeVerdict
    terms: list[str]
    example_ids: list[int]
    command: str
    keywords: list[str]


def open_incident_command(brand: Brand, keywords: Sequence[str], alert_id: int | None = None) -> str:
    title = f"Problems reported: {', '.join(keywords[:3])}" if keywords else f"Problems reported with {brand.name}"
    parts = ["brandpulse", "incident", "open", "--brand", brand.id, "--title", title]
    if keywords:
        parts += ["--keywords", ",".join(keywords)]
    if alert_id is not None:
        parts += ["--from-alert", str(alert_id)]
    return " ".join(shlex.quote(p) for p in parts) + " --as NAME"


class SpikeMonitor:
    """Runs :func:`check_brand` after each batch, at most once per brand per
    ``check_every``. One per pipeline (it remembers when it last checked)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = settings.incidents.spikes
        self._checked_at: dict[str, datetime] = {}

    def after_batch(self, session: Session, brands: Iterable[str], *, now: datetime) -> list[Suggestion]:
        if not self.config.enabled:
            return []
        out = []
        for brand_id in sorted(set(brands)):
            last = self._checked_at.get(brand_id)
            if last is not None and now - last < self.config.check_every and now >= last:
                continue
            self._checked_at[brand_id] = now
            suggestion = check_brand(session, self.settings.brand(brand_id), settings=self.settings, now=now)
            if suggestion is not None:
                out.append(suggestion)
        return out


def window_counts(session: Session, brand_id: str, *, now: datetime, config: SpikeConfig) -> dict:
    """One aggregate query: negatives in the window, in the recent hours and
    in the baseline before the window, and the brand's first mention ever
    (how much history there is: a brand with no mention in the baseline but
    days of them before has a full baseline of nothing)."""
    window_start = now - config.window
    recent_start = window_start - config.recent
    baseline_start = window_start - config.baseline
    neg = latest_label_is_negative()
    # Since when the brand has been heard of at all (ix_mentions_brand_created): a brand quiet for the
    # whole baseline still has that history, with nothing expected.
    earlier = aliased(MentionRow)
    first_ever = (
        select(func.min(earlier.created_at))
        .where(earlier.brand == brand_id, earlier.is_own.is_(False))
        .correlate(None)
        .scalar_subquery()
    )
    row = session.execute(
        select(
            func.count(case((and_(MentionRow.created_at >= window_start, neg), 1))),
            func.count(case((and_(MentionRow.created_at >= recent_start, MentionRow.created_at < window_start, neg), 1))),
            func.count(case((and_(MentionRow.created_at < window_start, neg), 1))),
            first_ever,
        ).where(
            MentionRow.brand == brand_id,
            MentionRow.created_at >= min(baseline_start, recent_start),
            MentionRow.created_at <= now,
            MentionRow.is_own.is_(False),
        )
    ).one()
    return {"window": row[0], "recent": row[1], "baseline": row[2], "first_at": row[3],
            "window_start": window_start, "recent_start": recent_start, "baseline_start": baseline_start}


def check_brand(session: Session, brand: Brand, *, settings: Settings, now: datetime) -> Suggestion | None:
    """Check one brand now; open a possible-incident alert if it spikes."""
    config = settings.incidents.spikes
    counts = window_counts(session, brand.id, now=now, config=config)
    window_start = counts["window_start"]
    first_at = counts["first_at"]
    if first_at is None or first_at >= window_start:
        return None  # no history before the window at all
    history_start = max(counts["baseline_start"], first_at)
    history_windows = (window_start - history_start) / config.window
    recent_windows = (window_start - max(counts["recent_start"], first_at)) / config.window
    verdict = detect_spike(
        count=counts["window"], baseline_count=counts["baseline"], baseline_windows=history_windows,
        recent_count=counts["recent"], recent_windows=recent_windows, config=config,
    )
    if not verdict.fired:
        return None
    if _already_known(session, brand.id, now=now, cooldown=config.cooldown):
        return None
    return _suggest(session, brand, verdict, settings=settings, now=now, window_start=window_start,
                    baseline_start=counts["baseline_start"])


def _already_known(session: Session, brand_id: str, *, now: datetime, cooldown: timedelta) -> bool:
    """An open (or recent) possible-incident alert, or an open incident."""
    alert = session.scalar(
        select(AlertRow.id).where(
            AlertRow.brand == brand_id, AlertRow.rule == RULE,
            or_(AlertRow.status.in_(_OPEN_ALERT), AlertRow.created_at > now - cooldown),
        ).limit(1)
    )
    if alert is not None:
        return True
    return session.scalar(
        select(IncidentRow.id).where(IncidentRow.brand == brand_id, IncidentRow.status.in_(_OPEN_INCIDENT)).limit(1)
    ) is not None


def _suggest(session: Session, brand: Brand, verdict: SpikeVerdict, *, settings: Settings, now: datetime,
             window_start: datetime, baseline_start: datetime) -> Suggestion:
    config = settings.incidents.spikes
    neg = latest_label_is_negative()
    latest_compound = latest_score(ScoreRow.compound)
    window_posts = session.execute(
        select(MentionRow.id, MentionRow.platform, MentionRow.author_id, MentionRow.title, MentionRow.text,
               MentionRow.created_at, latest_compound)
        .where(MentionRow.brand == brand.id, MentionRow.created_at >= window_start, MentionRow.created_at <= now,
               MentionRow.is_own.is_(False), neg)
        .order_by(MentionRow.created_at, MentionRow.id)
    ).all()
    baseline_texts = session.execute(
        select(MentionRow.title, MentionRow.text)
        .where(MentionRow.brand == brand.id, MentionRow.created_at >= baseline_start,
               MentionRow.created_at < window_start, MentionRow.is_own.is_(False), neg)
        .order_by(MentionRow.created_at.desc()).limit(_BASELINE_SAMPLE)
    ).all()

    def text_of(title: str | None, text: str) -> str:
        return f"{title}\n{text}" if title else text

    window_texts = [text_of(p.title, p.text) for p in window_posts]
    baseline_list = [text_of(t, x) for t, x in baseline_texts]
    terms = [t for t, _ in top_terms(window_texts, baseline_list, limit=config.top_terms,
                                     extra_stopwords=brand_words(brand))]
    keywords = suggest_keywords(window_texts, baseline_list, limit=config.keywords, extra_stopwords=brand_words(brand),
                                generic=config.generic_terms)
    examples = _examples(window_posts, terms, limit=config.examples, text_of=text_of)
    platforms = Counter(p.platform for p in window_posts)
    platform = platforms.most_common(1)[0][0] if platforms else "x"
    sla_due = now + settings.sla_for(Priority.P1)
    alert_id = session.execute(
        insert(AlertRow).returning(AlertRow.id).values(
            brand=brand.id, platform=platform, author_id=AUTHOR_ID, author_handle=AUTHOR_HANDLE, thread_id=None,
            mention_id=examples[0], last_mention_id=examples[-1], mention_count=len(examples), rule=RULE,
            priority=Priority.P1.value, priority_score=1.0, status="open", tags=[TAG], opened_at=now,
            created_at=now, sla_due_at=sla_due, last_mention_at=now,
        )
    ).scalar_one()
    command = open_incident_command(brand, keywords, alert_id)
    by_platform = ", ".join(f"{p} {n}" for p, n in platforms.most_common())
    note = (
        f"Possible incident: {verdict.count} negative mentions of {brand.name} in the last"
        f" {_span(config.window)} ({by_platform}), about {verdict.expected:.1f} expected"
        f" ({verdict.ratio:.1f}x).\n"
        f"Top terms: {', '.join(terms) if terms else '(none stand out)'}\n"
        f"Suggested keywords: {', '.join(keywords) if keywords else '(none)'} (edit them in the command;"
        f" `brandpulse incident keywords` changes them later)\n"
        f"Open an incident: {command}"
    )
    session.execute(
        AlertRow.__table__.update().where(AlertRow.__table__.c.id == alert_id).values(note=note)
    )
    session.execute(insert(AlertMentionRow.__table__), [{"alert_id": alert_id, "mention_id": m} for m in examples])
    record_many(session, [{
        "at": now, "actor": SYSTEM, "action": "alert.opened", "entity_type": "alert", "entity_id": alert_id,
        "details": {"rule": RULE, "priority": Priority.P1.value, "count": verdict.count,
                    "expected": round(verdict.expected, 2), "ratio": round(verdict.ratio, 2), "z": round(verdict.z, 2),
                    "terms": terms, "keywords": keywords, "examples": examples, "command": command},
    }])
    return Suggestion(alert_id=alert_id, brand=brand.id, verdict=verdict, terms=terms, example_ids=examples,
                      command=command, keywords=keywords)


def _examples(posts, terms: Sequence[str], *, limit: int, text_of) -> list[int]:
    """Posts that show the spike best: most top terms, then most negative,
    one per author while there are enough authors."""
    wanted = set(terms)

    def key(p):
        present = len(wanted.intersection(tokens(text_of(p.title, p.text))))
        return (-present, p[6] if p[6] is not None else 0.0, p.created_at)

    ranked = sorted(posts, key=key)
    chosen, authors = [], set()
    for p in ranked:
        if (p.platform, p.author_id) in authors:
            continue
        chosen.append(p.id)
        authors.add((p.platform, p.author_id))
        if len(chosen) == limit:
            return chosen
    for p in ranked:
        if p.id not in chosen:
            chosen.append(p.id)
            if len(chosen) == limit:
                break
    return chosen


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{minutes} minutes"
