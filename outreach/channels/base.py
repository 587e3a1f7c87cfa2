"""The Channel contract.

``send`` either returns what the platform created or raises ``SendError``
saying whether the failure is permanent (never retry), deferrable (retry
after ``retry_at``), or of unknown outcome (the post may exist: reconcile by
``find_sent`` before any resend). Public posts cannot be undone, so sending is
at most once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class OutboundPost:
    outbox_id: int
    platform: str
    brand: str
    account: str | None
    text: str
    in_reply_to: str | None = None  # platform id of the post answered (None: a standalone post)
    kind: str = "reply"
    title: str | None = None  # Reddit submissions
    community: str | None = None  # Reddit subreddit for submissions
    # Handles (lower-case) the answered post addressed: Mention.addressed_handles
    # of the mention replied to. X lets an app reply only to a post that
    # @mentions or quotes the replying account; None means "not known", which
    # an X channel treats as not allowed.
    addressed_handles: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class SentPost:
    external_id: str
    url: str | None = None


class SendError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        outcome_unknown: bool = False,
        retry_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.outcome_unknown = outcome_unknown
        self.retry_at = retry_at


class ManualReplyRequired(SendError):
    """The platform does not let brandpulse post this reply (X: the post did
    not @mention or quote the replying account); a person may answer by hand
    at ``url``. Permanent: never retried automatically."""

    def __init__(self, message: str, *, url: str | None) -> None:
        super().__init__(message, permanent=True)
        self.url = url


@runtime_checkable
class Channel(Protocol):
    platform: str
    max_length: int | None

    def send(self, post: OutboundPost) -> SentPost: ...

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """Look on the platform for ``post`` having been created already."""
        ...
