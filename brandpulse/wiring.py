"""Builds the running parts from validated settings: sources, pollers, the
pipeline, channels. Also the start-up checks that need those parts."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from brandpulse.clock import Clock
from brandpulse.config import ConfigError, Settings
from brandpulse.pipeline import Pipeline
from listener.poller import Poller
from listener.registry import build_sources, check_sources
from outreach.incident_templates import IncidentTemplates
from outreach.templating import TemplateRenderer
from rules.analyzers.registry import ANALYZERS, is_known


def validate_settings(settings: Settings) -> None:
    """Everything that must be right before anything starts. Raises ConfigError."""
    problems = []
    for name in sorted({settings.default_analyzer, *(b.analyzer for b in settings.brands if b.analyzer)}):
        if not is_known(name):
            problems.append(
                f"analyzer {name!r} is unknown (known: {', '.join(sorted(ANALYZERS))}, or trained:<brand>[/<name>][@<version>])"
            )
    if problems:
        raise ConfigError(problems, path=settings.source_path)
    TemplateRenderer(settings)  # renders every reply template once with sample data
    IncidentTemplates(settings)  # and every incident template
    # Every source's options, enabled or not; credentials are read when `run` builds them.
    check_sources(settings)


def build_pollers(settings: Settings, *, Session: sessionmaker[Session], clock: Clock, pipeline: Pipeline) -> list[Poller]:
    pollers = []
    for source in build_sources(settings):
        brand = settings.brand(source.brand)
        pollers.append(
            Poller(source=source, Session=Session, clock=clock, handler=pipeline, own_handles=brand.accounts.all_lower())
        )
    return pollers
