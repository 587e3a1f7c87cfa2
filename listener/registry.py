"""Explicit registry of source kinds: kind → factory. No discovery magic.

A factory validates the kind's own options (the extra keys of a source entry
in the config) and raises ValueError naming the option; it receives the
brand and the resolved settings, never a network connection. Network kinds
read their credentials from the environment (see brandpulse/secrets.py) and
build their clients through brandpulse/netclients.py; nothing in the
configuration can change the API hosts they talk to.

A check (:data:`SOURCE_CHECKS`) validates a source entry without
credentials or network and returns its budget: every entry is checked when
the configuration is loaded, enabled or not, so a typo in a disabled source
fails at load too; credentials are needed only to build the sources that
run (``brandpulse run``).
"""

from __future__ import annotations

from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError

from brandpulse.config import Brand, ConfigError, OptionError, Settings, SourceConfig, validation_problems
from listener.base import Source
from listener.budget import SourceBudget


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
        raise OptionError("path", str(exc)) from None


def _check_replay(config: SourceConfig, *, brand: Brand, settings: Settings) -> SourceBudget | None:
    if config.enabled:
        _build_replay(config, brand=brand, settings=settings)  # reads the file: no credentials needed
    else:
        ReplayOptions.model_validate(config.options)
    return None


SourceFactory = Callable[..., Source]
SourceCheck = Callable[..., "SourceBudget | None"]


def _lazy(module: str, attr: str) -> Callable[..., Any]:
    """A factory (or check) that imports its platform module on first use,
    so tweepy and praw load only when a configuration names them."""

    def factory(config: SourceConfig, *, brand: Brand, settings: Settings) -> Any:
        import importlib

        return getattr(importlib.import_module(module), attr)(config, brand=brand, settings=settings)

    return factory


SOURCE_KINDS: dict[str, SourceFactory] = {
    "replay": _build_replay,
    "x": _lazy("listener.x", "build_x_source"),
    "reddit": _lazy("listener.reddit", "build_reddit_source"),
}

SOURCE_CHECKS: dict[str, SourceCheck] = {
    "replay": _check_replay,
    "x": _lazy("listener.x", "check_x_source"),
    "reddit": _lazy("listener.reddit", "check_reddit_source"),
}


def _call_kind(table: dict[str, Callable[..., Any]], config: SourceConfig, *, settings: Settings, index: int | None) -> Any:
    """Call the kind's entry of ``table``; any problem becomes a ConfigError naming the key path."""
    where = f"sources[{index}]" if index is not None else f"sources[{config.name}]"
    function = table.get(config.kind)
    if function is None:
        raise ConfigError(
            [f"{where}.kind: unknown source kind {config.kind!r} (known: {', '.join(sorted(SOURCE_KINDS))})"],
            path=settings.source_path,
        )
    try:
        return function(config, brand=settings.brand(config.brand), settings=settings)
    except ValidationError as exc:
        raise ConfigError([_at(where, p) for p in validation_problems(exc)], path=settings.source_path) from None
    except OptionError as exc:  # before ValueError: it is one
        raise ConfigError([_at(where, p) for p in exc.problems], path=settings.source_path) from None
    except ValueError as exc:
        raise ConfigError([f"{where}: {exc}"], path=settings.source_path) from None


def _at(where: str, problem: str) -> str:
    """``problem`` (starting with its key path within the source entry) under
    the entry's path: ``sources[2].max_results: …``. A problem of the entry as
    a whole (pydantic's "(top level)") reads ``sources[2]: …``."""
    whole = problem.removeprefix("(top level): ")
    return f"{where}: {whole}" if whole != problem else f"{where}.{problem}"


def build_source(config: SourceConfig, *, settings: Settings, index: int | None = None) -> Source:
    """Build one configured source (credentials are read now). Raises ConfigError naming the key path."""
    return _call_kind(SOURCE_KINDS, config, settings=settings, index=index)


def check_source(config: SourceConfig, *, settings: Settings, index: int | None = None) -> SourceBudget | None:
    """Validate one source entry without credentials or network; return its
    budget (None: it costs nothing). Raises ConfigError naming the key path."""
    return _call_kind(SOURCE_CHECKS, config, settings=settings, index=index)


def check_sources(settings: Settings) -> dict[str, SourceBudget | None]:
    """Check every source entry, enabled or not; all problems in one error.
    Returns each source's budget by name."""
    budgets: dict[str, SourceBudget | None] = {}
    problems: list[str] = []
    for i, config in enumerate(settings.sources):
        try:
            budgets[config.name] = check_source(config, settings=settings, index=i)
        except ConfigError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems, path=settings.source_path)
    return budgets


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


__all__ = [
    "SOURCE_CHECKS", "SOURCE_KINDS", "build_source", "build_sources", "check_source", "check_sources",
    "ReplayOptions", "_lazy",
]
