"""Rate limits read from response headers, never waited out in place.

Both networks tell every response how much of the current window is left:

* X: ``x-rate-limit-limit``, ``x-rate-limit-remaining``, ``x-rate-limit-reset``
  (the reset as Unix seconds).
* Reddit: ``x-ratelimit-used``, ``x-ratelimit-remaining`` (a float, e.g.
  ``"996.0"``), ``x-ratelimit-reset`` (seconds *until* the reset).

A source turns them into "the earliest time to poll again": on a 429 it raises
``RateLimited(retry_at=...)``; when a successful answer says nothing is left
it returns ``FetchResult(not_before=...)``. The scheduler, not the source,
waits. Values that cannot be parsed are ignored, never fatal.

A 429 once a poll has read some pages does not fail the poll: the source
raises :class:`StopForNow` inside, keeps what it read and returns it with
``not_before`` (:func:`exception_for_429` picks which of the two to raise).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

from brandpulse.durations import format_duration
from listener.base import RateLimited

# When a 429 carries no usable reset time, wait this long (the poller waits
# longer, by its backoff, while the 429s without one go on).
DEFAULT_BACKOFF = timedelta(minutes=1)
# Never schedule "again now" from a reset time at or before now (clock skew).
MIN_WAIT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int | None = None
    remaining: int | None = None
    used: int | None = None
    reset_at: datetime | None = None

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0


def _get(headers: Mapping[str, str] | None, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None:  # plain dicts in tests are case-sensitive; requests' are not
        lower = name.lower()
        for key, val in headers.items():
            if key.lower() == lower:
                return val
    return value


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(float(value.strip()))
    except (ValueError, AttributeError):
        return None


def _float(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except (ValueError, AttributeError):
        return None
    return number if number == number and abs(number) != float("inf") else None  # drop NaN/inf


def x_rate_limit(headers: Mapping[str, str] | None) -> RateLimitState:
    """X's ``x-rate-limit-*`` headers; the reset is absolute (Unix seconds)."""
    reset = _float(_get(headers, "x-rate-limit-reset"))
    reset_at = None
    if reset is not None and reset > 0:
        try:
            reset_at = datetime.fromtimestamp(reset, tz=timezone.utc)
        except (OverflowError, OSError, ValueError):
            reset_at = None
    return RateLimitState(
        limit=_int(_get(headers, "x-rate-limit-limit")),
        remaining=_int(_get(headers, "x-rate-limit-remaining")),
        reset_at=reset_at,
    )


def reddit_rate_limit(headers: Mapping[str, str] | None, *, now: datetime) -> RateLimitState:
    """Reddit's ``x-ratelimit-*`` headers; the reset is relative (seconds from now)."""
    seconds = _float(_get(headers, "x-ratelimit-reset"))
    reset_at = None
    if seconds is not None and 0 <= seconds < 10 * 24 * 3600:
        reset_at = now + timedelta(seconds=seconds)
    remaining = _int(_get(headers, "x-ratelimit-remaining"))
    used = _int(_get(headers, "x-ratelimit-used"))
    return RateLimitState(
        limit=(remaining + used) if remaining is not None and used is not None else None,
        remaining=remaining,
        used=used,
        reset_at=reset_at,
    )


def retry_after(headers: Mapping[str, str] | None, *, now: datetime) -> datetime | None:
    """The standard ``Retry-After`` header: seconds, or an HTTP date."""
    value = _get(headers, "retry-after")
    if value is None:
        return None
    seconds = _float(value)
    if seconds is not None:
        return now + timedelta(seconds=max(seconds, 0)) if seconds < 10 * 24 * 3600 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def at_least_later(moment: datetime, *, now: datetime) -> datetime:
    return max(moment, now + MIN_WAIT)


def retry_at_after_429(
    state: RateLimitState,
    headers: Mapping[str, str] | None,
    *,
    now: datetime,
    default: timedelta = DEFAULT_BACKOFF,
) -> tuple[datetime, bool]:
    """When to try again after a 429, and whether the platform said so
    (``False``: no usable header, ``now + default`` was used)."""
    if state.reset_at is not None:
        return at_least_later(state.reset_at, now=now), True
    after = retry_after(headers, now=now)
    if after is not None:
        return at_least_later(after, now=now), True
    return now + default, False


class StopForNow(Exception):
    """A rate limit mid-poll: keep what was read, stop for now."""

    def __init__(self, retry_at: datetime) -> None:
        self.retry_at = retry_at


def exception_for_429(
    state: RateLimitState,
    headers: Mapping[str, str] | None,
    *,
    now: datetime,
    default: timedelta,
    what: str,
    network: str,
    raise_rate_limit: bool,
) -> RateLimited | StopForNow:
    """What a source raises on a 429: with ``raise_rate_limit``,
    :class:`RateLimited` saying until when and whether ``network`` announced
    it; without, :class:`StopForNow` (the pages read so far are kept)."""
    retry_at, told = retry_at_after_429(state, headers, now=now, default=default)
    if not raise_rate_limit:
        return StopForNow(retry_at)
    how = (f"until the reset {network} announced" if told
           else f"no reset header: waiting at least {format_duration(default)}, longer each time in a row")
    return RateLimited(f"{what}: rate limited (429), {how}", retry_at=retry_at, announced=told)


def not_before(state: RateLimitState, *, now: datetime) -> datetime | None:
    """The earliest next request when the window is used up, else ``None``."""
    if not state.exhausted:
        return None
    if state.reset_at is None:
        return now + DEFAULT_BACKOFF
    return at_least_later(state.reset_at, now=now)


def body_excerpt(body: bytes | str | None, *, limit: int = 200) -> str:
    """A reference to a raw body for an error message: its length and the
    first ``limit`` characters, with control characters escaped."""
    if body is None:
        return "no body"
    if isinstance(body, bytes):
        length = len(body)
        text = body[: limit * 4].decode("utf-8", errors="replace")
    else:
        length = len(body.encode("utf-8", errors="replace"))
        text = body
    more = "…" if len(text) > limit else ""
    return f"{length} bytes, starting {text[:limit]!r}{more}"
