"""Domain types shared by every stage.

Platform objects (tweepy, praw, JSON payloads) are converted into these frozen
types at the edge of the one module that adapts each platform; nothing past
that edge sees a platform library's types.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping


class Platform(str, enum.Enum):
    X = "x"
    REDDIT = "reddit"
    REPLAY = "replay"

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


class Label(str, enum.Enum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"
    UNKNOWN = "unknown"  # no analyzer supports the language: a human must look

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


# The rule of the alerts the spike detector opens (rules/spikes.py): a signal for
# ops, not a customer to answer, so it is left out of response KPIs and never
# "answered" by a post.
POSSIBLE_INCIDENT_RULE = "possible-incident"


class Priority(str, enum.Enum):
    """Alert priority tiers, P1 most urgent."""

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"

    @property
    def rank(self) -> int:
        return int(self.value[1])

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.value


@dataclass(frozen=True, slots=True)
class Author:
    platform: str
    id: str
    handle: str
    name: str | None = None
    followers: int = 0
    verified: bool = False


@dataclass(frozen=True, slots=True)
class Mention:
    """One post that names a brand, as any source delivers it."""

    platform: str
    external_id: str
    brand: str
    author: Author
    text: str
    created_at: datetime  # timezone-aware, UTC
    lang: str | None = None
    url: str | None = None
    thread_id: str | None = None  # X conversation id, Reddit submission fullname
    reply_to_id: str | None = None
    quoted_id: str | None = None
    title: str | None = None  # Reddit submissions
    community: str | None = None  # Reddit subreddit
    # Reddit: how many members the subreddit had when the post was read (a
    # submission's ``subreddit_subscribers``); None when the listing does not
    # say (Reddit's comment listings). Reddit has no followers: a post reaches
    # the community it is posted in. See :func:`reach_of`.
    community_members: int | None = None
    # Handles (lower-case, without "@"/"u/") of accounts this post @mentions,
    # replies to or quotes, as the platform reports them.
    addressed_handles: tuple[str, ...] = ()
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Score:
    analyzer: str
    version: str
    compound: float  # -1 .. 1
    label: Label
    lang: str | None = None
    details: Mapping[str, Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a source returns from one poll."""

    mentions: list[Mention]
    cursor: dict[str, Any]
    posts_read: int = 0
    # When the platform asks us to wait (rate limit), the earliest next poll.
    not_before: datetime | None = None
    # User objects the platform returned (X bills them like posts; listener/budget.py).
    users_read: int = 0
    # The ids of the posts and users read, for a platform that bills a resource
    # once per UTC day (X): a re-read that day is not billed again. None: every
    # read is billed; a read without an id here (posts_read beyond them) is too.
    post_ids: tuple[str, ...] | None = None
    user_ids: tuple[str, ...] | None = None
    # What could not be read in a poll that read the rest (a subreddit Reddit
    # refuses): the poller records it as the source's last error.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertDecision:
    """The rule engine's verdict that a mention needs a person."""

    rule: str
    priority: Priority
    priority_score: float  # 0..1, higher is more urgent


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the rules decided about one mention."""

    matched: tuple[str, ...] = ()  # names of the rules that matched, in order
    alert: AlertDecision | None = None
    draft_template: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DraftRequest:
    """Ask outreach to draft a reply to a stored mention."""

    mention_id: int
    alert_id: int | None
    template: str
    mention: Mention
    score: Score | None = None
    priority: Priority | None = None


def shown_handle(platform: str, handle: str) -> str:
    """``handle`` as people read it on ``platform``: ``u/name`` on Reddit,
    ``@name`` elsewhere (a leading "@" in ``handle`` is not doubled)."""
    return ("u/" if platform == "reddit" else "@") + handle.lstrip("@")


def shown_followers(count: int | None) -> str:
    """``1 follower``, ``4,760 followers``: an author's reach as people read it."""
    n = count or 0
    return f"{n:,} follower{'' if n == 1 else 's'}"


@dataclass(frozen=True, slots=True)
class Reach:
    """Who can see a post, as the platform told us when it was read.

    On X it is the author's followers. Reddit has no followers (its listings
    carry no count for a user): a post is seen by the community it is posted
    in, so its reach is the subreddit's members, ``None`` when the listing did
    not say (comment listings do not) and no earlier submission of that
    subreddit told us."""

    size: int | None
    unit: str  # "followers" or "members"
    community: str | None = None  # "travel" for r/travel
    comment: bool = False  # a Reddit comment: fewer of the community read it (rules.priority.COMMENT_REACH_SHARE)

    @property
    def known(self) -> bool:
        return self.size is not None


def reach_of(platform: str, *, followers: int | None, community: str | None,
             community_members: int | None, reply_to_id: str | None = None) -> Reach:
    """The reach of a post by an author with ``followers`` in ``community``;
    on Reddit a post replying to another (``reply_to_id``) is a comment."""
    if platform == "reddit":
        return Reach(community_members, "members", community, comment=bool(reply_to_id))
    return Reach(followers or 0, "followers")


def mention_reach(mention: Mention) -> Reach:
    return reach_of(mention.platform, followers=mention.author.followers, community=mention.community,
                    community_members=mention.community_members, reply_to_id=mention.reply_to_id)


def _compact(n: int) -> str:
    """``980``, ``12.5k``, ``120k``, ``1.2M``: a community's size at a glance."""
    for limit, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            value = n / limit
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return f"{n:,}"


def shown_reach(reach: Reach) -> str:
    """``4,760 followers``; ``r/travel, 120k members``; ``r/travel, members
    unknown``; ``comment in r/travel, 11.4M members`` (a comment counts for
    less than a submission there): a post's reach as a community manager
    reads it."""
    if reach.unit == "followers":
        return shown_followers(reach.size)
    where = f"r/{reach.community}" if reach.community else ("a subreddit" if reach.comment else "subreddit")
    if reach.comment:
        where = f"comment in {where}"
    if reach.size is None:
        return f"{where}, members unknown"
    return f"{where}, {_compact(reach.size)} member{'' if reach.size == 1 else 's'}"
