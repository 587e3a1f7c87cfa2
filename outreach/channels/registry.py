"""Explicit registry of channel kinds: ``outreach.channel`` → factory.

A factory builds one channel per platform it can post on. The networks issue
adds the ``live`` kind (X and Reddit channels) to :data:`CHANNEL_KINDS`.
"""

from __future__ import annotations

from typing import Callable, TextIO

from brandpulse.config import ConfigError, Settings
from outreach.channels.base import Channel
from outreach.channels.dryrun import DryRunChannel

# What each platform allows, for the dry-run channel (plain character counts;
# the live X channel counts as X does: URLs 23, CJK 2).
DRY_RUN_LIMITS: dict[str, int | None] = {"x": 280, "reddit": 10_000, "replay": None}


def dry_run_channels(settings: Settings, *, out: TextIO | None = None) -> dict[str, Channel]:
    return {platform: DryRunChannel(platform, out=out, max_length=limit) for platform, limit in DRY_RUN_LIMITS.items()}


ChannelFactory = Callable[..., dict[str, Channel]]

CHANNEL_KINDS: dict[str, ChannelFactory] = {
    "dry-run": dry_run_channels,
}

_NOT_YET = {
    "live": "live channels arrive with the networks issue (X and Reddit); use channel: dry-run for now",
}


def build_channels(settings: Settings, *, out: TextIO | None = None) -> dict[str, Channel]:
    """The channels ``settings.outreach.channel`` names, keyed by platform."""
    kind = settings.outreach.channel
    factory = CHANNEL_KINDS.get(kind)
    if factory is None:
        why = _NOT_YET.get(kind) or f"unknown channel kind (known: {', '.join(sorted(CHANNEL_KINDS))})"
        raise ConfigError([f"outreach.channel: {kind!r}: {why}"], path=settings.source_path)
    return factory(settings, out=out)
