"""X (API v2, through tweepy) as a Source.

One source reads one of three endpoints for one brand:

* ``mentions``: the mentions timeline of one owned account
  (``GET /2/users/:id/mentions``, paged with ``pagination_token``);
* ``search``: recent search with the brand's query
  (``GET /2/tweets/search/recent``, paged with ``next_token``);
* ``own_replies``: the posts of one of the brand's own accounts
  (``GET /2/users/:id/tweets``, ``exclude=retweets``, paged with
  ``pagination_token``), of which only the replies to someone else are
  returned: the answers a community manager wrote by hand on X. Neither of
  the other endpoints delivers them (search excludes ``-from:`` the brand's
  accounts; the mentions timeline does not hold the account's own posts), yet
  brandpulse needs them: stored as the brand's own posts they count as the
  first response of the customer's alert and hold a second, automatic reply
  in that thread (outreach/hand_replies.py). Every post read is billed,
  including the standalone posts and self-thread replies that are dropped.

Cursor (JSON, stored by the poller with the mentions in one transaction)::

    {"since_id": "1900...",            # meta.newest_id of the first page of the last poll with data
     "gaps": [{"since_id": "...", "until_id": "..."}],   # ranges still to read, newest first
     "account": "AcmeAir", "user_id": "123"}             # mentions, own_replies: resolved once, kept

Polling: each poll first reads what is newer than ``since_id`` (the *head*),
newest first, following the page tokens and sending the same ``since_id``
again with each token; the next ``since_id`` is the first page's
``meta.newest_id``. A poll reads at most ``max_pages`` pages. When the head
does not fit (or the rate-limit window runs out mid-poll), the posts between
the old ``since_id`` and the oldest post read are not skipped: they are kept
as a *gap* ``(since_id, until_id)`` and read, newest first, with the remaining
pages of the next polls (X's ``since_id``/``until_id`` are exclusive bounds on
chronological snowflake ids, so a gap is exact). The very first poll of a new
source starts from the newest posts and does not backfill older ones beyond
its page budget. At most ``MAX_GAPS`` gaps are kept; dropping one is logged
as an error, since those posts are then never read.

Faults become :class:`~listener.base.SourceError`: a 429 raises
:class:`~listener.base.RateLimited` with the reset time (``x-rate-limit-reset``,
or now + a default backoff without it) unless some pages were already read, in
which case they are returned with ``not_before``; a window used up
(``x-rate-limit-remaining: 0``) also sets ``not_before``. 5xx, timeouts and
malformed bodies are temporary (once a poll has read something, it keeps it:
the fault ends the poll like a used-up window and is named in the result's
``problems``); 401/403 are permanent and name the credential.
A ``since_id`` or ``until_id`` X refuses as older than it serves (recent search
reaches back 7 days: a source that stood still for longer, e.g. over budget
until the next month) is not an error: the range is read without the refused
``since_id`` (what X still serves of it), or given up, logged, when its
``until_id`` is refused too.
tweepy's own rate-limit waiting is off; this module never sleeps.
"""

from __future__ import annotations

import html
import logging
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Mapping

import requests
import tweepy
from pydantic import BaseModel, ConfigDict, Field, model_validator

from brandpulse.clock import utc
from brandpulse.config import Brand, OptionError, SourceConfig
from brandpulse.netclients import make_x_client
from brandpulse.secrets import read_secret
from brandpulse.types import Author, FetchResult, Mention
from listener.base import SourceError
from listener.budget import SourceBudget
from listener.ratelimit import (
    DEFAULT_BACKOFF,
    RateLimitState,
    StopForNow,
    body_excerpt,
    exception_for_429,
    not_before,
    x_rate_limit,
)

log = logging.getLogger(__name__)

PLATFORM = "x"
BEARER_ENV = "X_BEARER_TOKEN"
# Not "entities.mentions.username": a post's entities already name the users it
# @mentions, and each user object X includes is billed.
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
# own_replies also expands the user replied to, so a reply whose parent post is
# gone (deleted, protected) can still be told apart from a reply to a brand account.
OWN_REPLIES_EXPANSIONS = [*EXPANSIONS, "in_reply_to_user_id"]
TWEET_FIELDS = ["created_at", "lang", "conversation_id", "referenced_tweets", "entities", "author_id", "public_metrics",
                "in_reply_to_user_id"]
USER_FIELDS = ["username", "name", "verified", "public_metrics"]
MAX_QUERY_LENGTH = 512  # recent search, self-serve access
MAX_GAPS = 10
RESULTS_RANGE = {"search": (10, 100), "mentions": (5, 100), "own_replies": (5, 100)}
Endpoint = Literal["mentions", "search", "own_replies"]
TIMELINES = ("mentions", "own_replies")  # endpoints that read one account's timeline by user id


# ------------------------------------------------------------------ query
def _term(phrase: str) -> str:
    phrase = phrase.strip().replace('"', "")
    if re.fullmatch(r"[#@$]?\w+", phrase):
        return phrase
    return f'"{phrase}"'


def build_x_query(brand: Brand) -> str:
    """The brand's query in X search syntax: any keyword (quoted phrases,
    ``OR``), none of the exclusions, nothing from the brand's own accounts,
    no retweets. Raises ValueError when it cannot be built."""
    keywords = [k for k in brand.query.keywords if k.strip()]
    if not keywords:
        raise OptionError("query", f"brand {brand.id!r} has no query.keywords to search for (or give the source a 'query')")
    terms = [_term(k) for k in keywords]
    parts = [terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"]
    parts += [f"-{_term(e)}" for e in brand.query.exclude if e.strip()]
    parts += [f"-from:{a}" for a in brand.accounts.x]
    parts.append("-is:retweet")
    query = " ".join(parts)
    if len(query) > MAX_QUERY_LENGTH:
        raise OptionError("query", f"the X query for brand {brand.id!r} is {len(query)} characters; X allows"
                                   f" {MAX_QUERY_LENGTH} (give the source a shorter 'query')")
    return query


# ------------------------------------------------------------- conversion
def _parse_time(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def tweet_to_mention(
    tweet: Mapping[str, Any],
    *,
    brand: str,
    users: Mapping[str, Mapping[str, Any]],
    tweets: Mapping[str, Mapping[str, Any]],
) -> Mention:
    """One v2 tweet object (with the ``includes`` users/tweets by id) → Mention.
    Raises KeyError/ValueError/TypeError on a malformed tweet."""
    tweet_id = str(tweet["id"])
    text = tweet["text"]
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    text = html.unescape(text)  # X sends &, <, > as HTML entities
    author_id = str(tweet["author_id"])
    user = users.get(author_id) or {}
    metrics = user.get("public_metrics") or {}
    handle = user.get("username") or author_id
    author = Author(
        platform=PLATFORM,
        id=author_id,
        handle=handle,
        name=user.get("name"),
        followers=int(metrics.get("followers_count") or 0),
        verified=bool(user.get("verified", False)),
    )
    reply_to = quoted = None
    addressed: list[str] = []
    for ref in tweet.get("referenced_tweets") or []:
        ref_id = str(ref.get("id"))
        if ref.get("type") == "replied_to":
            reply_to = ref_id
        elif ref.get("type") == "quoted":
            quoted = ref_id
        else:
            continue
        ref_author = (tweets.get(ref_id) or {}).get("author_id")
        ref_user = users.get(str(ref_author)) if ref_author is not None else None
        if ref_user and ref_user.get("username"):
            addressed.append(ref_user["username"])
    for m in ((tweet.get("entities") or {}).get("mentions") or []):
        if m.get("username"):
            addressed.append(m["username"])
    handles = tuple(dict.fromkeys(h.lower() for h in addressed))
    lang = tweet.get("lang")
    return Mention(
        platform=PLATFORM,
        external_id=tweet_id,
        brand=brand,
        author=author,
        text=text,
        created_at=_parse_time(tweet["created_at"]),
        lang=None if lang in (None, "und") else lang,
        url=f"https://x.com/{handle}/status/{tweet_id}",
        thread_id=str(tweet["conversation_id"]) if tweet.get("conversation_id") else None,
        reply_to_id=reply_to,
        quoted_id=quoted,
        addressed_handles=handles,
        raw=dict(tweet),
    )


def _is_retweet(tweet: Mapping[str, Any]) -> bool:
    return any(ref.get("type") == "retweeted" for ref in tweet.get("referenced_tweets") or [])


def replied_to_user(
    tweet: Mapping[str, Any], *, tweets: Mapping[str, Mapping[str, Any]]
) -> tuple[bool, str | None]:
    """Whether ``tweet`` replies to a post, and the id of the user it replies
    to (``in_reply_to_user_id``, else the author of the included parent post;
    None when X tells neither)."""
    parent = next((str(r.get("id")) for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"), None)
    user = tweet.get("in_reply_to_user_id")
    if user is None and parent is not None:
        user = (tweets.get(parent) or {}).get("author_id")
    return (parent is not None or user is not None), (str(user) if user is not None else None)


# ----------------------------------------------------------------- cursor
@dataclass
class _Gap:
    since_id: int
    until_id: int

    def to_json(self) -> dict[str, str]:
        return {"since_id": str(self.since_id), "until_id": str(self.until_id)}


@dataclass
class _Cursor:
    since_id: int | None = None
    gaps: list[_Gap] = field(default_factory=list)
    account: str | None = None
    user_id: str | None = None

    @classmethod
    def load(cls, data: Mapping[str, Any] | None) -> "_Cursor":
        data = data or {}
        try:
            since = int(data["since_id"]) if data.get("since_id") else None
            gaps = [_Gap(int(g["since_id"]), int(g["until_id"])) for g in data.get("gaps") or []]
        except (KeyError, TypeError, ValueError) as exc:
            raise SourceError(f"stored cursor is not an X cursor ({exc!r}): {dict(data)!r}", permanent=True) from None
        return cls(since_id=since, gaps=gaps, account=data.get("account"), user_id=data.get("user_id"))

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.since_id is not None:
            out["since_id"] = str(self.since_id)
        if self.gaps:
            out["gaps"] = [g.to_json() for g in self.gaps]
        if self.user_id:
            out["account"] = self.account
            out["user_id"] = self.user_id
        return out


# ------------------------------------------------------------------ source
@dataclass
class _Walk:
    """The outcome of reading one id range, newest first."""

    tweets: list[tuple[Mapping[str, Any], dict, dict]] = field(default_factory=list)
    first_newest: int | None = None  # meta.newest_id of the first page
    oldest: int | None = None
    complete: bool = False  # no further page
    not_before: datetime | None = None
    posts_read: int = 0
    users_read: int = 0
    post_ids: list[str] = field(default_factory=list)  # of the posts read (data and included), for billing
    user_ids: list[str] = field(default_factory=list)
    failure: str | None = None  # a temporary fault that stopped the walk after the poll's first request
    lost: list[str] = field(default_factory=list)  # posts X no longer serves (older than recent search's 7 days)

    @property
    def problems(self) -> list[str]:
        """What the walk could not read, for FetchResult.problems."""
        return [*self.lost, self.failure] if self.failure is not None else list(self.lost)

    @property
    def stopped(self) -> bool:
        """A rate limit or a fault ended the walk: the poll reads no further."""
        return self.not_before is not None or self.failure is not None


class XSource:
    """Reads brand mentions from X. See the module docstring for the cursor."""

    kind = "x"
    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        brand: Brand,
        client: Any,
        endpoint: Endpoint,
        account: str | None = None,
        query: str | None = None,
        max_results: int = 100,
        max_pages: int = 5,
        price_per_post: float = 0.005,
        price_per_user: float = 0.010,
        monthly_budget: float | None = None,
        default_backoff: timedelta = DEFAULT_BACKOFF,
    ) -> None:
        # endpoint, max_results and max_pages come checked by XSourceOptions.
        self.name = name
        self.brand = brand.id
        self.brand_config = brand
        self.client = client
        self.endpoint = endpoint
        self.max_results = max_results
        self.max_pages = max_pages
        self.price_per_post = price_per_post
        self.price_per_user = price_per_user
        self.monthly_budget = monthly_budget
        # One poll reads at most max_pages pages of max_results posts and their
        # authors (posts X includes because they are quoted or replied to come on top).
        self.budget = SourceBudget(
            price_per_post=price_per_post,
            price_per_user=price_per_user,
            monthly_budget=monthly_budget,
            max_spend_per_poll=max_pages * max_results * (price_per_post + price_per_user),
        )
        self.default_backoff = default_backoff
        self.own_handles = frozenset(a.lower() for a in brand.accounts.x)
        if endpoint == "mentions":
            account = account or _single_account(brand)
            self.account: str | None = account.strip().lstrip("@")
            self.query: str | None = None
        elif endpoint == "own_replies":
            self.account = _own_account(brand, account)
            self.query = None
        else:
            self.account = None
            self.query = query or build_x_query(brand)

    def __repr__(self) -> str:
        what = {"mentions": f"@{self.account} mentions", "own_replies": f"@{self.account}'s own replies"}.get(
            self.endpoint, f"search {self.query!r}")
        return f"<XSource {self.name} ({self.brand}): {what}>"

    # -- the Source protocol ---------------------------------------------
    def fetch(self, cursor: dict[str, Any], *, now: datetime) -> FetchResult:
        state = _Cursor.load(cursor)
        posts_read = users_read = 0
        post_ids: list[str] = []
        user_ids: list[str] = []
        if self.endpoint in TIMELINES and (state.user_id is None or state.account != self.account):
            looked_up = not (self.account or "").isdigit()
            state.user_id, state.account = self._resolve_account(now=now), self.account
            if looked_up:  # the user lookup returns (and X bills) one user object
                users_read += 1
                user_ids.append(state.user_id)
        # A new source starts from the newest page; it does not backfill.
        pages_left = [1 if state.since_id is None and not state.gaps else self.max_pages]
        mentions: dict[str, Mention] = {}

        # 1. The head: everything newer than since_id.
        head = self._walk(state, since_id=state.since_id, until_id=None, pages_left=pages_left, now=now, first=True)
        posts_read += head.posts_read
        users_read += head.users_read
        post_ids += head.post_ids
        user_ids += head.user_ids
        wait: datetime | None = head.not_before
        self._collect(head, mentions, state, since_id=state.since_id, until_id=None)
        new_gaps: list[_Gap] = []
        problems = head.problems
        stopped = head.stopped
        if not head.complete:
            if state.since_id is not None and head.oldest is not None and head.oldest > state.since_id + 1:
                new_gaps.append(_Gap(state.since_id, head.oldest))
        new_since = state.since_id
        if head.first_newest is not None:
            new_since = max(head.first_newest, state.since_id or 0)

        # 2. Older gaps, newest first, with the pages left.
        remaining: list[_Gap] = []
        for gap in sorted(state.gaps, key=lambda g: g.until_id, reverse=True):
            if stopped or pages_left[0] <= 0:
                remaining.append(gap)
                continue
            walk = self._walk(state, since_id=gap.since_id, until_id=gap.until_id, pages_left=pages_left, now=now)
            posts_read += walk.posts_read
            users_read += walk.users_read
            post_ids += walk.post_ids
            user_ids += walk.user_ids
            self._collect(walk, mentions, state, since_id=gap.since_id, until_id=gap.until_id)
            problems += walk.problems
            if walk.not_before is not None:
                wait = walk.not_before
            stopped = walk.stopped
            if not walk.complete:
                until = walk.oldest if walk.oldest is not None else gap.until_id
                if until > gap.since_id + 1:
                    remaining.append(_Gap(gap.since_id, until))
        gaps = sorted(new_gaps + remaining, key=lambda g: g.until_id, reverse=True)
        if len(gaps) > MAX_GAPS:
            for lost in gaps[MAX_GAPS:]:
                log.error(
                    "source %s: more than %d unread ranges; dropping ids %s..%s (those posts will not be read)",
                    self.name, MAX_GAPS, lost.since_id, lost.until_id,
                )
            gaps = gaps[:MAX_GAPS]
        state.since_id, state.gaps = new_since, gaps
        ordered = sorted(mentions.values(), key=lambda m: int(m.external_id))
        return FetchResult(mentions=ordered, cursor=state.dump(), posts_read=posts_read, not_before=wait,
                           users_read=users_read, post_ids=tuple(post_ids), user_ids=tuple(user_ids),
                           problems=tuple(problems))

    # -- internals -------------------------------------------------------
    def _collect(self, walk: _Walk, into: dict[str, Mention], state: _Cursor, *, since_id: int | None,
                 until_id: int | None) -> None:
        for tweet, users, tweets in walk.tweets:
            try:
                tid = int(tweet["id"])
            except (KeyError, TypeError, ValueError):
                log.warning("source %s: skipping a post without a valid id: %.200r", self.name, tweet)
                continue
            # X honours since_id/until_id; a re-delivered post is dropped here anyway.
            if (since_id is not None and tid <= since_id) or (until_id is not None and tid >= until_id):
                continue
            if _is_retweet(tweet):
                continue
            if self.endpoint == "own_replies" and not self._answers_someone_else(tweet, state, users, tweets):
                continue
            try:
                mention = tweet_to_mention(tweet, brand=self.brand, users=users, tweets=tweets)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning("source %s: skipping malformed post %s (%r): %.200r", self.name, tid, exc, tweet)
                continue
            into[mention.external_id] = mention

    def _answers_someone_else(
        self, tweet: Mapping[str, Any], state: _Cursor, users: Mapping[str, Mapping[str, Any]],
        tweets: Mapping[str, Mapping[str, Any]],
    ) -> bool:
        """own_replies: True for a reply to a post of someone who is not one of
        the brand's own accounts. Standalone posts, quotes and replies within
        the brand's own threads (to itself or a sibling account) are dropped."""
        is_reply, user_id = replied_to_user(tweet, tweets=tweets)
        if not is_reply:
            return False
        if user_id is None:
            # X names no one (the parent is gone and the user was not expanded):
            # keep it; it answers an alert only if the parent is a stored customer post.
            return True
        if user_id == state.user_id or user_id == str(tweet.get("author_id")):
            return False
        username = (users.get(user_id) or {}).get("username")
        return not (username and username.lower() in self.own_handles)

    def _walk(
        self,
        state: _Cursor,
        *,
        since_id: int | None,
        until_id: int | None,
        pages_left: list[int],
        now: datetime,
        first: bool = False,
    ) -> _Walk:
        walk = _Walk()
        token: str | None = None
        page_no = 0
        while True:
            if pages_left[0] <= 0:
                return walk
            try:
                payload, limits = self._request(
                    state, since_id=since_id, until_id=until_id, token=token, now=now,
                    # Only the very first request of a poll raises RateLimited;
                    # later ones keep what was read.
                    raise_rate_limit=first and page_no == 0,
                )
            except StopForNow as stop:
                walk.not_before = stop.retry_at
                return walk
            except SourceError as exc:
                if exc.permanent or (first and page_no == 0):  # nothing read yet: the poll fails
                    raise
                # A 5xx, timeout or broken body once something was read (and billed):
                # keep it; the rest is read at the next poll.
                walk.failure = f"{exc}; what was read before it is kept, the rest is read at the next poll"
                return walk
            except _OutOfReach as refused:
                if refused.bound == "until_id":  # the whole range is older than X serves
                    log.error("source %s: X can no longer serve posts older than id %s (%s); the unread posts"
                              " between ids %s and %s are not read", self.name, until_id, refused.reason,
                              since_id, until_id)
                    walk.lost.append(f"X can no longer serve the posts between ids {since_id} and {until_id}"
                                     f" ({refused.reason}): they are not read")
                    walk.complete = True
                    return walk
                # Read what X still serves of the range; the caller drops what is
                # at or below the old since_id, so nothing read twice is returned.
                log.warning("source %s: X can no longer serve posts older than id %s (%s); reading the posts it"
                            " still serves%s", self.name, since_id, refused.reason,
                            f" below id {until_id}" if until_id is not None else "")
                walk.lost.append(f"X can no longer serve posts as old as id {since_id} ({refused.reason}): the posts"
                                 " between it and the oldest X still serves are not read")
                since_id = None
                continue
            pages_left[0] -= 1
            page_no += 1
            data = payload.get("data") or []
            includes = payload.get("includes") or {}
            meta = payload.get("meta") or {}
            if not isinstance(data, list) or not isinstance(includes, dict) or not isinstance(meta, dict):
                raise SourceError(f"X {self.endpoint}: unexpected payload shape: {body_excerpt(str(payload))}")
            users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, dict)}
            included = [t for t in includes.get("tweets") or [] if isinstance(t, dict)]
            tweets = {str(t.get("id")): t for t in included}
            walk.posts_read += len(data) + len(included)
            walk.users_read += len(users)
            # A post without an id is billed at each read (posts_read counts it; its id is not listed).
            walk.post_ids += [str(t["id"]) for t in (*data, *included) if isinstance(t, dict) and t.get("id")]
            walk.user_ids += [i for i in users if i != "None"]
            ids = []
            for tweet in data:
                if isinstance(tweet, dict):
                    walk.tweets.append((tweet, users, tweets))
                    try:
                        ids.append(int(tweet["id"]))
                    except (KeyError, TypeError, ValueError):
                        pass
            newest = _int_or_none(meta.get("newest_id"))
            oldest = _int_or_none(meta.get("oldest_id"))
            if newest is None and ids:
                newest = max(ids)
            if oldest is None and ids:
                oldest = min(ids)
            if page_no == 1 and newest is not None:
                walk.first_newest = newest
            if oldest is not None:
                walk.oldest = oldest if walk.oldest is None else min(walk.oldest, oldest)
            token = meta.get("next_token")
            walk.not_before = not_before(limits, now=now)  # set when no request is left in this window
            if not token or not data:
                walk.complete = True
                return walk
            if walk.not_before is not None:
                return walk

    def _call(self, state: _Cursor, *, since_id: int | None, until_id: int | None, token: str | None):
        params: dict[str, Any] = {
            "max_results": self.max_results,
            "expansions": OWN_REPLIES_EXPANSIONS if self.endpoint == "own_replies" else EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
        }
        if since_id is not None:
            params["since_id"] = str(since_id)
        if until_id is not None:
            params["until_id"] = str(until_id)
        if self.endpoint == "search":
            if token:
                params["next_token"] = token
            return self.client.search_recent_tweets(self.query, **params)
        if token:
            params["pagination_token"] = token
        if self.endpoint == "own_replies":
            # Retweets are not the account's words; replies must stay (they are the point).
            return self.client.get_users_tweets(state.user_id, exclude=["retweets"], **params)
        return self.client.get_users_mentions(state.user_id, **params)

    def _request(
        self,
        state: _Cursor,
        *,
        since_id: int | None,
        until_id: int | None,
        token: str | None,
        now: datetime,
        raise_rate_limit: bool,
    ) -> tuple[dict[str, Any], RateLimitState]:
        what = f"X {self.endpoint}" + (f" of @{self.account}" if self.account else "")
        try:
            response = self._call(state, since_id=since_id, until_id=until_id, token=token)
        except tweepy.TooManyRequests as exc:
            headers = exc.response.headers
            raise exception_for_429(x_rate_limit(headers), headers, now=now, default=self.default_backoff, what=what,
                                    network="X", raise_rate_limit=raise_rate_limit) from None
        except tweepy.BadRequest as exc:
            refused = _refused_bound(exc, since_id=since_id, until_id=until_id)
            if refused is not None:  # an id older than X still serves (recent search: 7 days)
                raise _OutOfReach(refused, _reason(exc)) from None
            raise SourceError(f"{what}: X refused the request (400): {_reason(exc)}", permanent=True) from None
        except tweepy.Unauthorized as exc:
            raise SourceError(
                f"{what}: X rejected the credentials (401: {_reason(exc)}); check {BEARER_ENV}", permanent=True
            ) from None
        except tweepy.Forbidden as exc:
            raise SourceError(
                f"{what}: X forbids this request (403: {_reason(exc)}); check that the app behind {BEARER_ENV}"
                " has access to this endpoint",
                permanent=True,
            ) from None
        except tweepy.NotFound as exc:
            raise SourceError(f"{what}: not found (404: {_reason(exc)})", permanent=True) from None
        except tweepy.TwitterServerError as exc:
            raise SourceError(f"{what}: X server error ({_reason(exc)}); will retry") from None
        except tweepy.HTTPException as exc:
            raise SourceError(f"{what}: unexpected answer ({_reason(exc)})") from None
        except requests.Timeout as exc:
            raise SourceError(f"{what}: timed out ({type(exc).__name__}); will retry") from None
        except requests.RequestException as exc:
            raise SourceError(f"{what}: network error ({type(exc).__name__}: {exc}); will retry") from None
        limits = x_rate_limit(response.headers)
        try:
            payload = response.json()
        except ValueError:
            raise SourceError(
                f"{what}: malformed JSON (HTTP {response.status_code}, {body_excerpt(response.content)}); skipped"
            ) from None
        if not isinstance(payload, dict):
            raise SourceError(f"{what}: expected a JSON object, got {body_excerpt(response.content)}; skipped")
        if payload.get("errors") and not payload.get("data"):
            log.warning("source %s: X answered with errors and no data: %.300s", self.name, payload.get("errors"))
        return payload, limits

    def _resolve_account(self, *, now: datetime) -> str:
        account = self.account or ""
        if account.isdigit():
            return account
        what = f"X user lookup of @{account}"
        try:
            response = self.client.get_user(username=account, user_fields=["username"])
        except tweepy.TooManyRequests as exc:
            headers = exc.response.headers
            raise exception_for_429(x_rate_limit(headers), headers, now=now, default=self.default_backoff, what=what,
                                    network="X", raise_rate_limit=True) from None
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise SourceError(f"{what}: X rejected the credentials ({_reason(exc)}); check {BEARER_ENV}",
                              permanent=True) from None
        except tweepy.HTTPException as exc:
            permanent = 400 <= exc.response.status_code < 500
            raise SourceError(f"{what}: {_reason(exc)}", permanent=permanent) from None
        except requests.RequestException as exc:
            raise SourceError(f"{what}: network error ({type(exc).__name__}); will retry") from None
        try:
            payload = response.json()
        except ValueError:
            raise SourceError(f"{what}: malformed JSON ({body_excerpt(response.content)})") from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, dict) or not data.get("id"):
            raise SourceError(f"{what}: X has no such account ({str(payload)[:200]})", permanent=True)
        return str(data["id"])


class _OutOfReach(Exception):
    """X refused a ``since_id`` or ``until_id`` (``bound``) as older than it
    serves: recent search reaches back 7 days."""

    def __init__(self, bound: str, reason: str) -> None:
        super().__init__(bound)
        self.bound = bound
        self.reason = reason


def _refused_bound(exc: tweepy.BadRequest, *, since_id: int | None, until_id: int | None) -> str | None:
    """Which id bound of the request X's 400 refuses, ``until_id`` before
    ``since_id`` (without an until_id the range is out of reach), or None when
    it refuses something else. X names the parameter in each error."""
    named: set[str] = set()
    for error in exc.api_errors:
        if isinstance(error, dict):
            named.update(error.get("parameters") or {})
            named.update(b for b in ("since_id", "until_id") if f"'{b}'" in str(error.get("message") or ""))
    if until_id is not None and "until_id" in named:
        return "until_id"
    if since_id is not None and "since_id" in named:
        return "since_id"
    return None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _reason(exc: tweepy.HTTPException) -> str:
    return str(exc).replace("\n", " ").strip()


def _own_account(brand: Brand, account: str | None) -> str:
    """own_replies: ``account`` must be one of the brand's X accounts (handle,
    with or without "@", any case); returns it as the brand spells it. With
    no ``account``, the brand's only X account."""
    if not account:
        return _single_account(brand, what="own_replies")
    wanted = account.strip().lstrip("@").lower()
    for own in brand.accounts.x:
        if own.strip().lstrip("@").lower() == wanted:
            return own.strip().lstrip("@")
    known = ", ".join(brand.accounts.x) or "none"
    raise OptionError(
        "account", f"{account!r} is not an X account of brand {brand.id!r} (brands[].accounts.x: {known}); endpoint"
        " 'own_replies' reads the replies the brand's own accounts write on X"
    )


def _single_account(brand: Brand, *, what: str = "mentions") -> str:
    accounts = brand.accounts.x
    if len(accounts) == 1:
        return accounts[0]
    if not accounts:
        raise OptionError("account", f"brand {brand.id!r} has no X account; give the source an 'account'")
    raise OptionError(
        "account", f"brand {brand.id!r} has several X accounts ({', '.join(accounts)}); give each {what} source an 'account'"
    )


# ----------------------------------------------------------------- factory
class XSourceOptions(BaseModel):
    """The options of a source of kind ``x`` in the configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint: Endpoint
    account: str | None = Field(
        default=None,
        description="mentions: the owned account's handle or user id; own_replies: one of the brand's X accounts",
    )
    query: str | None = Field(default=None, max_length=MAX_QUERY_LENGTH, description="search: overrides the brand's query")
    max_results: int = Field(default=100, ge=5, le=100)
    max_pages: int = Field(default=5, ge=1, le=50)
    price_per_post: float = Field(default=0.005, ge=0, description="USD per post read (X: $0.005 in 2026)")
    price_per_user: float = Field(default=0.010, ge=0, description="USD per user object read (X: $0.010 in 2026)")
    monthly_budget: float | None = Field(default=None, ge=0, description="USD per UTC month; None: no limit")
    timeout: float = Field(default=30.0, gt=0, le=300)

    @model_validator(mode="after")
    def _ranges(self) -> "XSourceOptions":
        low, high = RESULTS_RANGE[self.endpoint]
        if not low <= self.max_results <= high:
            raise OptionError("max_results", f"must be between {low} and {high} for endpoint {self.endpoint!r}")
        if self.endpoint == "search" and self.account:
            raise OptionError("account", "applies to endpoints 'mentions' and 'own_replies' only")
        if self.endpoint != "search" and self.query:
            raise OptionError("query", "applies to endpoint 'search' only")
        return self


def build_x_source(
    config: SourceConfig,
    *,
    brand: Brand,
    settings: Any = None,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
) -> XSource:
    """Build a source of kind ``x`` from its configuration. Reads the bearer
    token from ``X_BEARER_TOKEN`` (or ``X_BEARER_TOKEN_FILE``). Raises
    pydantic's ValidationError or ValueError for bad options (the source
    registry words them with the key path) and MissingSecretError (a
    ConfigError) naming the variable for a missing credential."""
    opts = XSourceOptions.model_validate(config.options)
    env = os.environ if env is None else env
    bearer = read_secret(BEARER_ENV, env=env, purpose=f"source {config.name!r} reads X")
    client = make_x_client(bearer_token=bearer, session=session, timeout=opts.timeout)
    return _source(config, opts, brand=brand, client=client)


def check_x_source(config: SourceConfig, *, brand: Brand, settings: Any = None) -> SourceBudget:
    """Validate a source of kind ``x`` (its options, the brand's account or
    query) without credentials or network, as for a disabled source or a
    command that does not poll; return its budget. Raises like
    :func:`build_x_source`, except for credentials."""
    opts = XSourceOptions.model_validate(config.options)
    return _source(config, opts, brand=brand, client=None).budget


def _source(config: SourceConfig, opts: XSourceOptions, *, brand: Brand, client: Any) -> XSource:
    return XSource(
        name=config.name,
        brand=brand,
        client=client,
        endpoint=opts.endpoint,
        account=opts.account,
        query=opts.query,
        max_results=opts.max_results,
        max_pages=opts.max_pages,
        price_per_post=opts.price_per_post,
        price_per_user=opts.price_per_user,
        monthly_budget=opts.monthly_budget,
    )
