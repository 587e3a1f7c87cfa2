"""Plain VADER: the baseline analyzer, and the base of the customer-care one."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version as _pkg_version
from typing import Sequence

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from brandpulse.config import Brand
from brandpulse.types import Score
from rules.analyzers.base import label_for

try:
    _VADER_VERSION = _pkg_version("vaderSentiment")
except PackageNotFoundError:  # pragma: no cover
    _VADER_VERSION = "unknown"


class VaderAnalyzer:
    name = "vader"
    version = _VADER_VERSION

    def __init__(self) -> None:
        self._sia = SentimentIntensityAnalyzer()

    def score(self, text: str, *, lang: str | None = None, brand: Brand | None = None) -> Score:
        compound = self._sia.polarity_scores(text)["compound"]
        return Score(self.name, self.version, compound, label_for(compound), lang)

    def score_many(
        self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None, brand: Brand | None = None
    ) -> list[Score]:
        langs = langs or [None] * len(texts)
        return [self.score(t, lang=l, brand=brand) for t, l in zip(texts, langs)]
