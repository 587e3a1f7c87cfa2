"""The Analyzer contract."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

from brandpulse.config import Brand
from brandpulse.types import Score


@runtime_checkable
class Analyzer(Protocol):
    name: str
    version: str

    def score(self, text: str, *, lang: str | None = None, brand: Brand | None = None) -> Score: ...

    def score_many(
        self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None, brand: Brand | None = None
    ) -> list[Score]: ...


def label_for(compound: float, *, threshold: float = 0.05):
    """VADER's conventional thresholds: ≥ +0.05 positive, ≤ −0.05 negative."""
    from brandpulse.types import Label

    if compound >= threshold:
        return Label.POSITIVE
    if compound <= -threshold:
        return Label.NEGATIVE
    return Label.NEUTRAL
