"""Scoring posts by their language, for the analyzers that cover more than
one (customer-care, trained): English-like posts go to the analyzer's own
model, Japanese posts to the Japanese analyzer (``Label.UNKNOWN`` when it is
not installed), any other language is ``Label.UNKNOWN`` with the reason."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from brandpulse.config import Brand
from brandpulse.types import Label, Score
from rules.language import resolve_language


def checked_langs(texts: Sequence[str], langs: Sequence[str | None] | None) -> Sequence[str | None]:
    """One language (or ``None``: detect it) per text."""
    if langs is None:
        return [None] * len(texts)
    if len(langs) != len(texts):
        raise ValueError(f"score_many: {len(texts)} texts but {len(langs)} languages")
    return langs


def japanese_analyzer(factory: Callable[[], Any] | None = None) -> Any | None:
    """``factory()`` when given, else a :class:`~rules.analyzers.japanese.JapaneseAnalyzer`,
    or ``None`` when that is not installed."""
    if factory is not None:
        return factory()
    from rules.analyzers.japanese import JapaneseAnalyzer, japanese_available

    return JapaneseAnalyzer() if japanese_available() else None


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
                out[i] = Score(analyzer.name, analyzer.version, 0.0, Label.UNKNOWN, "ja",
                               {"reason": "Japanese analyzer not installed"})
        else:
            scores = ja.score_many([texts[i] for i in japanese_idx], langs=["ja"] * len(japanese_idx), brand=brand)
            for i, score in zip(japanese_idx, scores):
                out[i] = score
    return out  # type: ignore[return-value]
