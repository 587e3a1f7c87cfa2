"""Explicit registry of source kinds: kind → factory. No discovery magic.

A factory validates the kind's own options (the extra keys of a source entry
in the config) and raises ValueError naming the option; it receives the
brand and the resolved settings, never a network connection.
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from brandpulse.config import Brand, ConfigError, Settings, SourceConfig, validation_problems
from listener.base import Source


class ReplayOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str
    batch_limit: int | None = None
    apply_query: bool = True  # release only what the brand's query matches


def _build_replay(config: SourceConfig, *, brand: Brand, settings: Settings) -> Source:
    from listener.query import QueryMatcher
    from listener.replay import ReplayFileError, ReplaySource

    options = ReplayOptions.model_validate(config.options)
    try:
        return ReplaySource(
            name=config.name,
            brand=brand.id,
            path=settings.resolve(options.path),
            batch_limit=options.batch_limit,
            query=QueryMatcher(brand.query) if options.apply_query else None,
        )
    except ReplayFileError as exc:
        raise ValueError(str(exc)) from None


SourceFactory = Callable[..., Source]

SOURCE_KINDS: dict[str, SourceFactory] = {
    "replay": _build_replay,
}


def _lazy(module: str, attr: str) -> SourceFactory:
    def factory(config: SourceConfig, *, brand: Brand, settings: Settings) -> Source:
        import importlib

        return getattr(importlib.import_module(module), attr)(config, brand=brand, settings=settings)

    return factory


def build_source(config: SourceConfig, *, settings: Settings, index: int | None = None) -> Source:
    """Build one configured source. Raises ConfigError naming the key path."""
    where = f"sources[{index}]" if index is not None else f"sources[{config.name}]"
    factory = SOURCE_KINDS.get(config.kind)
    if factory is None:
        raise ConfigError(
            [f"{where}.kind: unknown source kind {config.kind!r} (known: {', '.join(sorted(SOURCE_KINDS))})"],
            path=settings.source_path,
        )
    try:
        return factory(config, brand=settings.brand(config.brand), settings=settings)
    except ValidationError as exc:
        raise ConfigError([f"{where}.{p}" for p in validation_problems(exc)], path=settings.source_path) from None
    except ValueError as exc:
        raise ConfigError([f"{where}: {exc}"], path=settings.source_path) from None


def build_sources(settings: Settings) -> list[Source]:
    sources, problems = [], []
    for i, config in enumerate(settings.sources):
        if not config.enabled:
            continue
        try:
            sources.append(build_source(config, settings=settings, index=i))
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems, path=settings.source_path)
    return sources


__all__ = ["SOURCE_KINDS", "build_source", "build_sources", "ReplayOptions", "_lazy"]
