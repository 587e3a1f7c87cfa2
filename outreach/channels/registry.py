"""Explicit registry of channel kinds: ``outreach.channel`` → factory.

A factory builds one channel per platform it can post on.

* ``dry-run`` (the default): records and prints, posts nothing.
* ``live``: the X channel (tweepy, OAuth 1.0a user context) and the Reddit
  channel (praw, script app) for the networks brandpulse posts on:
  ``outreach.platforms`` when given, else the networks of the enabled x and
  reddit sources plus any network whose posting credentials are set. A
  network it must post on without complete credentials is a configuration
  error naming the missing environment variables; nothing starts. Hosts are
  fixed in brandpulse/netclients.py: no configuration key changes them.

  X posts as several accounts: the app's X_API_KEY and X_API_SECRET, and an
  access token pair per account, X_ACCESS_TOKEN / X_ACCESS_TOKEN_SECRET for
  the default account and X_ACCESS_TOKEN__<HANDLE> /
  X_ACCESS_TOKEN_SECRET__<HANDLE> for any of ``brands[].accounts.x``. X can
  post when the app's credentials and at least one complete pair are set
  (else a configuration error); a pair set by half is an error. Brand
  accounts that certainly cannot post (more of them lack a pair of their own
  than the default pair can stand for: it is one account's), and
  per-account variables naming no brand account, are logged as warnings at
  start-up: the other accounts post, and a reply drafted for an account
  without credentials fails naming the variables to set.

  Reddit the same way: one script app (REDDIT_CLIENT_ID,
  REDDIT_CLIENT_SECRET), REDDIT_USERNAME / REDDIT_PASSWORD for the default
  account and REDDIT_PASSWORD__<HANDLE> for any of
  ``brands[].accounts.reddit``. Brand accounts nothing can post as (neither
  a password of their own nor the default account), and per-account
  variables naming no brand account, are logged as warnings at start-up.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import Any, Callable, Mapping, TextIO

from brandpulse.clock import Clock
from brandpulse.config import ConfigError, Settings
from brandpulse.netclients import (
    PostingCredentials,
    account_credential_names,
    reddit_posting_credentials,
    x_account_credential_names,
    x_posting_credentials,
)
from brandpulse.secrets import MissingSecretError
from outreach.channels.base import Channel, configured_accounts
from outreach.channels.dryrun import DryRunChannel

# What each platform allows, for the dry-run channel (plain character counts;
# the live X channel counts as X does: URLs 23, CJK 2).
DRY_RUN_LIMITS: dict[str, int | None] = {"x": 280, "reddit": 10_000, "replay": None}

# Live posting, per network: which of its posting credentials the
# environment holds (names only, also NAME_FILE: the app's, the default
# account's and each brand account's own), and the module and factory that
# build its channel (imported on use, so tweepy and praw load only when live
# posting is configured).
LIVE_PLATFORMS: dict[str, tuple[Callable[[list[str], Mapping[str, str]], PostingCredentials], str, str]] = {
    "x": (x_posting_credentials, "outreach.channels.x", "build_x_channel"),
    "reddit": (reddit_posting_credentials, "outreach.channels.reddit", "build_reddit_channel"),
}
_NAMES = {"x": "X", "reddit": "Reddit"}

log = logging.getLogger(__name__)


def dry_run_channels(settings: Settings, *, out: TextIO | None = None, **_: Any) -> dict[str, Channel]:
    return {platform: DryRunChannel(platform, out=out, max_length=limit) for platform, limit in DRY_RUN_LIMITS.items()}


def _posting_credentials(platform: str, settings: Settings, env: Mapping[str, str]) -> PostingCredentials:
    """Which of ``platform``'s posting credentials ``env`` holds (names only)."""
    credentials, _module, _factory = LIVE_PLATFORMS[platform]
    return credentials(configured_accounts(settings, platform), env)


def _missing_note(platform: str, settings: Settings, env: Mapping[str, str], missing: list[str]) -> str:
    """When the default account's credentials are missing and no account has
    its own: how to give each account its own instead."""
    plan = _posting_credentials(platform, settings, env)
    if plan.accounts or not set(plan.user) & set(missing):
        return ""
    handle = plan.without[0] if plan.without else "HANDLE"
    own = account_credential_names(platform, handle)
    what = "pair" if platform == "x" else "password"
    return (f"; {' and '.join(plan.user)} are the default account's, or give each account its own {what}"
            f" ({' and '.join(own)})")


def x_account_warnings(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """What a support team should know about posting on X as the brands'
    accounts, when X can post at all: accounts that cannot post (they lack a
    token pair of their own, and the default pair is at most one account's),
    and per-account variables that name no brand account."""
    plan = _posting_credentials("x", settings, env)
    warnings: list[str] = []
    uncovered = list(plan.without)
    if len(uncovered) > (1 if plan.default else 0):
        todo = "; ".join(" and ".join(x_account_credential_names(h)) for h in uncovered)
        handles = ", ".join(f"@{h}" for h in uncovered)
        if plan.default:
            why = "X_ACCESS_TOKEN is one account's, so the replies of the others fail"
        else:
            why = "their replies fail"
        warnings.append(f"X: {handles} (brands[].accounts.x) have no access token of their own; {why} (status"
                        f" failed, naming the variables to set) until they have one: {todo} (each also as NAME_FILE);"
                        " the accounts with a token post as usual")
    for name in plan.unknown:
        warnings.append(f"X: {name} is set but names none of the brands' X accounts (brands[].accounts.x);"
                        " it is not used (a misspelt handle?)")
    return warnings


def reddit_account_warnings(settings: Settings, env: Mapping[str, str], channel: Any) -> list[str]:
    """What a support team should know about posting on Reddit as the
    brands' accounts: accounts the built ``channel`` cannot post as, and
    per-account variables that name no brand account."""
    warnings: list[str] = []
    without = channel.without_credentials()
    if without:
        from outreach.channels.reddit import credentials_hint  # praw loads with the live Reddit channel only

        todo = "; ".join(credentials_hint(h) for h in without)
        warnings.append(f"Reddit: {', '.join(f'u/{h}' for h in without)} (brands[].accounts.reddit) cannot post: no"
                        f" password of their own and REDDIT_USERNAME is another account; their posts fail (status"
                        f" failed, naming the variable to set) until then: {todo}; the other accounts post as usual")
    for name in _posting_credentials("reddit", settings, env).unknown:
        warnings.append(f"Reddit: {name} is set but names none of the brands' Reddit accounts"
                        " (brands[].accounts.reddit); it is not used (a misspelt handle?)")
    return warnings


def live_channels(
    settings: Settings,
    *,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> dict[str, Channel]:
    """The live channels, keyed by platform. Raises ConfigError listing every
    problem (missing credentials per network, replay sources)."""
    env = os.environ if env is None else env
    problems: list[str] = []
    replay = [s.name for s in settings.sources if s.enabled and s.kind == "replay"]
    if replay:
        problems.append(
            f"outreach.channel: 'live' would post real replies to recorded posts of the replay source(s)"
            f" {', '.join(replay)}; disable them or use channel: dry-run"
        )
    if settings.outreach.platforms is not None:
        required = {p: "listed in outreach.platforms" for p in settings.outreach.platforms}
    else:
        listening: dict[str, list[str]] = {}
        for source in settings.sources:
            if source.enabled and source.kind in LIVE_PLATFORMS:
                listening.setdefault(source.kind, []).append(source.name)
        required = {p: f"brandpulse listens there: sources {', '.join(names)}" for p, names in listening.items()}

    wanted: list[str] = []
    for platform in LIVE_PLATFORMS:
        plan = _posting_credentials(platform, settings, env)
        present, missing = plan.present, plan.missing
        if platform in required:
            if missing:
                note = _missing_note(platform, settings, env, missing)
                problems.append(
                    f"outreach.channel: 'live' posts on {_NAMES[platform]} ({required[platform]}) but its credentials"
                    f" are missing: {', '.join(missing)} (set each in the environment, or NAME_FILE to a file holding"
                    f" it; or set outreach.platforms; or use channel: dry-run){note}"
                )
            else:
                wanted.append(platform)
        elif settings.outreach.platforms is None and present:
            if missing:
                problems.append(
                    f"outreach.channel: {_NAMES[platform]} posting credentials are incomplete: {', '.join(present)}"
                    f" set but {', '.join(missing)} missing (set them all, or none)"
                )
            else:
                wanted.append(platform)
    if problems:
        raise ConfigError(problems, path=settings.source_path)
    if "x" in wanted:
        for warning in x_account_warnings(settings, env):
            log.warning("%s", warning)

    channels: dict[str, Channel] = {}
    for platform in wanted:
        _credentials, module, factory = LIVE_PLATFORMS[platform]
        build: Callable[..., Channel] = getattr(importlib.import_module(module), factory)
        try:
            channels[platform] = build(settings, env=env, clock=clock)
        except MissingSecretError as exc:  # e.g. a *_FILE that cannot be read
            raise ConfigError(exc.problems, path=settings.source_path) from None
    if "reddit" in channels:
        for warning in reddit_account_warnings(settings, env, channels["reddit"]):
            log.warning("%s", warning)
    return channels


ChannelFactory = Callable[..., dict[str, Channel]]

CHANNEL_KINDS: dict[str, ChannelFactory] = {
    "dry-run": dry_run_channels,
    "live": live_channels,
}


def build_channels(
    settings: Settings,
    *,
    out: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> dict[str, Channel]:
    """The channels ``settings.outreach.channel`` names, keyed by platform."""
    kind = settings.outreach.channel
    factory = CHANNEL_KINDS.get(kind)
    if factory is None:
        raise ConfigError(
            [f"outreach.channel: {kind!r}: unknown channel kind (known: {', '.join(sorted(CHANNEL_KINDS))})"],
            path=settings.source_path,
        )
    return factory(settings, out=out, env=env, clock=clock)


__all__ = ["CHANNEL_KINDS", "LIVE_PLATFORMS", "build_channels", "dry_run_channels", "live_channels",
           "reddit_account_warnings", "x_account_warnings"]
