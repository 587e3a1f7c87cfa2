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
from rules.language import resolve_language
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
        if langs is None:
            langs = [None] * len(texts)
        elif len(langs) != len(texts):
            raise ValueError(f"score_many: {len(texts)} texts but {len(langs)} languages")
        out: list[Score | None] = [None] * len(texts)
        english: list[int] = []
        japanese: list[int] = []
        resolved = [resolve_language(t, l) for t, l in zip(texts, langs)]
        for i, lang in enumerate(resolved):
            if lang in self.english_like:
                english.append(i)
            elif lang == "ja":
                japanese.append(i)
            else:
                out[i] = Score(self.name, self.version, 0.0, Label.UNKNOWN, lang, {"reason": f"no analyzer for language {lang!r}"})
        if english:
            proba = self.model.predict_proba([texts[i] for i in english])
            classes = self.model.classes
            labels = decide(proba, classes, self.model.negative_threshold)
            neg = classes.index("negative") if "negative" in classes else None
            pos = classes.index("positive") if "positive" in classes else None
            for row, i, label in zip(proba, english, labels):
                compound = float((row[pos] if pos is not None else 0.0) - (row[neg] if neg is not None else 0.0))
                out[i] = Score(
                    self.name, self.version, compound, Label(label), resolved[i] or "en",
                    {c: round(float(p), 4) for c, p in zip(classes, row)},
                )
        if japanese:
            for i, s in zip(japanese, self._japanese_scores([texts[i] for i in japanese], brand)):
                out[i] = s
        return out  # type: ignore[return-value]

    def _japanese_scores(self, texts: list[str], brand: Brand | None) -> list[Score]:
        from rules.analyzers.japanese import JapaneseAnalyzer, japanese_available

        if self._japanese is None:
            if not japanese_available():
                return [Score(self.name, self.version, 0.0, Label.UNKNOWN, "ja", {"reason": "Japanese analyzer not installed"}) for _ in texts]
            self._japanese = JapaneseAnalyzer()
        return self._japanese.score_many(texts, langs=["ja"] * len(texts), brand=brand)
