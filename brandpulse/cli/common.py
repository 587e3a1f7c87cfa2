"""What every subcommand shares: loading the app from --config, errors, output."""

from __future__ import annotations

import functools
import os
import re
import sys
from pathlib import Path
from typing import Callable

from datetime import timedelta

import click

from brandpulse.app import CONFIG_ENV, App, default_config_path
from brandpulse.config import ConfigError, Settings, load_settings
from brandpulse.db.engine import SchemaError
from brandpulse.durations import parse_duration
from brandpulse.resources import relocate_bundled_data


class Context:
    """Lazily loads settings and the database so that ``--help`` never needs them."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None
        self._app: App | None = None

    @property
    def path(self) -> Path:
        if self.config_path is not None:
            return self.config_path
        env = os.environ.get(CONFIG_ENV)
        return Path(env) if env else default_config_path()

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                loaded = load_settings(self.path)
            except ConfigError as exc:
                if self.config_path is None and os.environ.get(CONFIG_ENV) and exc.problems == ["file not found"]:
                    # named by a variable set long ago, not by this command line: say so
                    raise ConfigError([f"file not found (named by ${CONFIG_ENV}; correct or unset it, or give --config FILE)"],
                                      path=self.path) from None
                raise
            self._settings = relocate_bundled_data(loaded)
            self.validate_wiring(self._settings)
        return self._settings

    @staticmethod
    def validate_wiring(settings: Settings) -> None:
        """Checks that need the stages: source kinds and their options, templates."""
        from brandpulse.wiring import validate_settings

        validate_settings(settings)

    def app(self, *, migrate: bool = True) -> App:
        if self._app is None:
            self._app = App.open(self.settings, migrate=migrate)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.close()


def handle_errors(func: Callable) -> Callable:
    """Turn expected errors into a clear message and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            click.echo(f"configuration error:\n{exc}", err=True)
            sys.exit(2)
        except UserError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except SchemaError as exc:
            click.echo(f"database error: {exc}", err=True)
            sys.exit(2)

    return wrapper


class UserError(Exception):
    """Something the person typing can fix (unknown id, bad transition)."""


pass_ctx = click.make_pass_decorator(Context)


def brand_ids(settings: Settings, brand: str | None) -> list[str]:
    """The brands a ``--brand`` option selects: that one, or every brand when
    it is None. An unknown brand is a :class:`UserError` naming the known ones."""
    known = [b.id for b in settings.brands]
    if brand is None:
        return known
    if brand not in known:
        raise UserError(f"--brand: unknown brand {brand!r} (known: {', '.join(known)})")
    return [brand]


# How far back a report may look: far more than any database holds, and far
# less than what makes ``now - period`` (or the previous period before it)
# fall off the calendar.
MAX_PERIOD = timedelta(days=36500)


def parse_period(value: str, *, option: str = "--since") -> timedelta:
    """A report's period from ``--since``: a positive duration of at most
    :data:`MAX_PERIOD`, else a :class:`UserError` naming the option and the value."""
    try:
        period = parse_duration(value)
    except ValueError as exc:
        raise UserError(f"{option}: {exc}") from None
    if period <= timedelta(0):
        raise UserError(f"{option}: the period must be positive, got {value!r}")
    if period > MAX_PERIOD:
        raise UserError(f"{option}: {value!r} is too long (at most {MAX_PERIOD.days}d)")
    return period


def limit_option(func: Callable) -> Callable:
    """``--limit N`` (at least 1) for listings; :func:`more_line` says what it left out."""
    return click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
                        help="Show at most this many.")(func)


def more_line(shown: int, total: int, *, one: str, many: str) -> str | None:
    """``… and 181 more alerts (--limit 231 shows them all)`` when a listing was
    cut (``one`` names a single left-out item, ``many`` several)."""
    if total <= shown:
        return None
    left = total - shown
    return f"… and {left} more {one if left == 1 else many} (--limit {total} shows them all)"


def actor_option(func: Callable) -> Callable:
    """``--as NAME`` (default: $BRANDPULSE_USER or $USER) for audited changes."""
    default = os.environ.get("BRANDPULSE_USER") or os.environ.get("USER") or "cli"
    return click.option("--as", "actor", default=default, show_default=True, callback=_named_actor,
                        help="Who is acting (recorded in the audit log).")(func)


def _named_actor(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    """The audit log records who acted: a blank --as would record nobody."""
    name = value.strip()
    if not name:
        raise click.BadParameter("give a name: who acts is recorded in the audit log")
    return name


MAX_RECORD_ID = 2**63 - 1  # ids are 64-bit (BIGINT; SQLite's INTEGER)


class RecordId(click.ParamType):
    """A stored record's id (an alert, a reply, an incident, a mention): a
    whole number from 1. A negative one typed as an argument (``alerts show
    -1``) would be read by click as an unknown option: :class:`IdsGroup`
    names it as a bad id instead."""

    name = "id"

    def convert(self, value, param, ctx) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not an id: ids are whole numbers from 1", param, ctx)
        if number < 1:
            self.fail(f"{number} is not an id: ids are whole numbers from 1", param, ctx)
        if number > MAX_RECORD_ID:  # no row has it, and SQLite cannot even compare it (OverflowError)
            self.fail(f"{number} is not an id: ids are whole numbers from 1 to {MAX_RECORD_ID}", param, ctx)
        return number


RECORD_ID = RecordId()
_NEGATIVE_NUMBER = re.compile(r"-\d+")


class IdsGroup(click.Group):
    """The ``brandpulse`` group: a negative number given to a subcommand
    that takes ids (:data:`RECORD_ID` arguments) is an error naming it, not
    "No such option: -1"."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta["brandpulse.argv"] = list(args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.NoSuchOption as exc:
            raise _negative_id_error(exc, ctx.meta.get("brandpulse.argv", ())) or exc


def _negative_id_error(exc: click.NoSuchOption, args) -> click.BadParameter | None:
    command = exc.ctx.command if exc.ctx is not None else None
    ids = [p for p in getattr(command, "params", ()) if isinstance(p, click.Argument) and isinstance(p.type, RecordId)]
    token = next((a for a in args if _NEGATIVE_NUMBER.fullmatch(a) and a.startswith(exc.option_name)), None)
    if not ids or token is None:
        return None
    if len(ids) == 1:
        return click.BadParameter(f"{token} is not an id: ids are whole numbers from 1", ctx=exc.ctx, param=ids[0])
    names = ", ".join(p.human_readable_name for p in ids)
    return click.BadParameter(f"{token} is not an id: {names} are whole numbers from 1", ctx=exc.ctx)
