"""A trained per-brand classifier as an analyzer (see ``rules.training``).

Named ``trained:<brand>[/<name>][@<version>]`` in the configuration, e.g.
``default_analyzer: trained:acme`` or, per brand, ``analyzer: trained:acme``.
Without a version the newest saved model is loaded when the analyzer is
built (restart to pick up a newer one; pin ``@<version>`` to stay on one).

English-like posts go to the model; Japanese to the Japanese analyzer; any
other language is ``Label.UNKNOWN``, as with the customer-care analyzer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from brandpulse.config import Brand
from brandpulse.types import Label, Score
from rules.analyzers.by_language import japanese_analyzer, score_by_language
from rules.training import ComplaintModel, decide, find_model, load_model, parse_model_ref

PREFIX = "trained:"


class TrainedAnalyzer:
    english_like = frozenset({"en", None})

    def __init__(self, model: ComplaintModel, *, path: Path | None = None) -> None:
        self.model = model
        self.path = path
        self.name = f"{PREFIX}{model.brand}/{model.name}"
        self.version = model.version
        self._japanese = None

    @classmethod
    def from_name(cls, name: str, *, models_root: Path) -> "TrainedAnalyzer":
        ref = parse_model_ref(name.removeprefix(PREFIX))
        path = find_model(models_root, ref)
        return cls(load_model(path), path=path)

    def score(self, text: str, *, lang: str | None = None, brand: Brand | None = None) -> Score:
        return self.score_many([text], langs=[lang], brand=brand)[0]

    def score_many(
        self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None, brand: Brand | None = None
    ) -> list[Score]:
        return score_by_language(self, texts, langs=langs, brand=brand, score_english=self._score_english,
                                 japanese=self._japanese_analyzer)

    def _score_english(self, texts: list[str], langs: list[str | None]) -> list[Score]:
        proba = self.model.predict_proba(texts)
        classes = self.model.classes
        labels = decide(proba, classes, self.model.negative_threshold)
        neg = classes.index("negative") if "negative" in classes else None
        pos = classes.index("positive") if "positive" in classes else None
        scores = []
        for row, lang, label in zip(proba, langs, labels):
            compound = float((row[pos] if pos is not None else 0.0) - (row[neg] if neg is not None else 0.0))
            scores.append(Score(
                self.name, self.version, compound, Label(label), lang or "en",
                {c: round(float(p), 4) for c, p in zip(classes, row)},
            ))
        return scores

    def _japanese_analyzer(self):
        if self._japanese is None:
            self._japanese = japanese_analyzer()
        return self._japanese
