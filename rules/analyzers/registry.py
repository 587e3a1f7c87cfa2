"""Explicit registry of analyzers: name → factory. No discovery magic."""

from __future__ import annotations

from typing import Callable

from rules.analyzers.base import Analyzer


def _vader() -> Analyzer:
    from rules.analyzers.vader import VaderAnalyzer

    return VaderAnalyzer()


ANALYZERS: dict[str, Callable[[], Analyzer]] = {
    "vader": _vader,
}


def build_analyzer(name: str) -> Analyzer:
    try:
        factory = ANALYZERS[name]
    except KeyError:
        raise KeyError(f"unknown analyzer {name!r} (known: {', '.join(sorted(ANALYZERS))})") from None
    return factory()
