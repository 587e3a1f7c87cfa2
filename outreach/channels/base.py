"""The Channel contract.

``send`` either returns what the platform created or raises ``SendError``
saying whether the failure is permanent (never retry), deferrable (retry
after ``retry_at``), or of unknown outcome (the post may exist: reconcile by
``find_sent`` before any resend). Public posts cannot be undone, so sending is
at most once.

A channel that posts as several identities with limits of their own (X: one
access token per account) may also say which one a post goes out as:
``rate_limit_key(*, account) -> str``, the same key for every account that
shares one limit. After a ``retry_at``, the outbox holds back every post with
that key until then; a channel without the method has one limit for the whole
platform (:func:`rate_limit_key`). A ``SendError`` may name the limit that
was hit instead (``limit_key``): the platform's name stands for a limit every
identity shares (X: the app's daily posting limit).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from brandpulse.netclients import bare_handle
from brandpulse.types import shown_handle


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
    # Reconciliation only: when the first send of this post whose outcome is
    # uncertain was attempted. The post cannot be older, so ``find_sent``
    # need read only the account's posts since a little before it (None: not known).
    first_attempt_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SentPost:
    external_id: str
    url: str | None = None
    # When the platform says it created the post (X created_at, Reddit
    # created_utc), if it says: ``find_sent`` gives it, so a post found by
    # reconciliation counts from when it went out, not from when it was found.
    created_at: datetime | None = None


class SendError(Exception):
    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        outcome_unknown: bool = False,
        retry_at: datetime | None = None,
        limit_key: str | None = None,
        duplicate: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.outcome_unknown = outcome_unknown
        self.retry_at = retry_at
        # With retry_at: the limit that was hit when it is not the post's own
        # (rate_limit_key), e.g. the platform name for an app-wide limit.
        self.limit_key = limit_key
        # The platform refused the post as a duplicate of one the account
        # already has (X's 403 "duplicate content"): after an earlier send of
        # the same post with an unknown outcome, evidence that it went out.
        self.duplicate = duplicate


class ManualReplyRequired(SendError):
    """The platform does not let brandpulse post this reply (X: the post did
    not @mention or quote the replying account); a person may answer by hand
    at ``url``. Permanent: never retried automatically."""

    def __init__(self, message: str, *, url: str | None) -> None:
        super().__init__(message, permanent=True)
        self.url = url


def x_status_url(post_id: str, handle: str | None = None) -> str:
    """The link of the X post ``post_id`` (by ``handle`` when known)."""
    return f"https://x.com/{handle}/status/{post_id}" if handle else f"https://x.com/i/web/status/{post_id}"


def x_reply_allowed(post: OutboundPost, *, account: str) -> bool:
    """X's rule for self-serve apps (since 23 Feb 2026): an API reply only to
    a post whose author @mentioned or quoted the replying ``account``, as the
    post's ``addressed_handles`` say (None: not known, so not allowed). A
    status post (the brand's own thread) and a standalone post are always
    allowed. Shared by the live X channel and the dry-run channel, so a dry
    run shows what going live would do."""
    if post.in_reply_to is None or post.kind == "status":
        return True
    return post.addressed_handles is not None and bare_handle(account).lower() in post.addressed_handles


def x_reply_by_hand(post: OutboundPost, *, account: str | None) -> ManualReplyRequired:
    """The error for a reply X's rule (:func:`x_reply_allowed`) does not let
    the bot post: a person answers by hand at the post's link."""
    url = x_status_url(str(post.in_reply_to))
    who = f"@{bare_handle(account)}" if account else "the replying account"
    return ManualReplyRequired(f"reply by hand: {url} (X lets an app reply only to posts that @mention or quote {who})",
                               url=url)


@runtime_checkable
class Channel(Protocol):
    platform: str
    max_length: int | None

    def send(self, post: OutboundPost) -> SentPost: ...

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """Look on the platform for ``post`` having been created already."""
        ...


def rate_limit_key(channel: object, *, account: str | None) -> str:
    """Which of ``channel``'s rate limits a post as ``account`` counts
    against: the channel's own ``rate_limit_key``, or its platform when it
    has none (one limit for the whole platform)."""
    key_for = getattr(channel, "rate_limit_key", None)
    if key_for is None:
        return str(getattr(channel, "platform"))
    return str(key_for(account=account))


def configured_accounts(settings: object, platform: str) -> list[str]:
    """The brands' accounts on ``platform`` (``brands[].accounts.<platform>``),
    in configuration order; none without settings."""
    return [a for brand in getattr(settings, "brands", ()) for a in brand.accounts.for_platform(platform)]


def limited_accounts(channel: object, key: str, *, account: str | None) -> list[str]:
    """The accounts whose posts wait while ``key`` waits, as
    :func:`waiting_account` writes them: those the channel knows (its
    ``brand_accounts`` and the accounts it holds credentials for, if it says)
    and ``account`` (the post that met the limit), each whose
    :func:`rate_limit_key` is ``key``; "" stands for posts naming no account.
    Recorded with the wait, so a reader without channels (the digest,
    ``outreach status``) need not rebuild the channel's credential logic from
    its own environment."""
    known = {*getattr(channel, "brand_accounts", ()), *getattr(channel, "accounts", {}), account or "", ""}
    handles = {waiting_account(a) for a in known}
    return sorted(h for h in handles if rate_limit_key(channel, account=h or None) == key)


def waiting_account(account: str | None) -> str:
    """An account as :func:`limited_accounts` lists it: bare, lower-case
    (``acmehelp``, ``beta_care``); "" for a post naming no account."""
    return bare_handle(account or "").lower()


def account_limit_key(platform: str, account: str | None) -> str:
    """The rate-limit key of a limit that belongs to the account itself
    (Reddit's RATELIMIT): its handle as shown, lower-case (``u/acmeair_team``).
    It needs no credentials, so a reader without channels (the digest) finds
    the channel's key from the handle alone."""
    return shown_handle(platform, bare_handle(account or "")).lower()
