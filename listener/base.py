"""The Source contract.

A source is tiny: given the cursor it returned last time (``{}`` on the first
poll) and the current time, it returns the mentions that are new since that
cursor and the next cursor. It holds no database, scheduler or sleep: the
poller stores mentions and cursor in one transaction, and a rate limit comes
back as an exception carrying the earliest time to poll again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from brandpulse.types import FetchResult


@runtime_checkable
class Source(Protocol):
    name: str
    kind: str
    brand: str

    def fetch(self, cursor: dict[str, Any], *, now: datetime) -> FetchResult: ...


class SourceError(Exception):
    """A poll failed. ``permanent`` errors (bad credentials, forbidden) mark the
    source failing until someone fixes it; others are retried on a later poll,
    not before ``retry_at`` when the platform said so."""

    def __init__(self, message: str, *, permanent: bool = False, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_at = retry_at


class RateLimited(SourceError):
    """A 429. ``announced``: the platform said until when (a reset header);
    without one ``retry_at`` is a default guess, and the poller waits longer
    each time the platform refuses again."""

    def __init__(self, message: str, *, retry_at: datetime | None, announced: bool = True) -> None:
        super().__init__(message, permanent=False, retry_at=retry_at)
        self.announced = announced
