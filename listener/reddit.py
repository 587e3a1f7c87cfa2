"""Reddit (through praw) as a Source.

One source reads, for one brand, either the new submissions or the new
comments of its subreddits (``query.subreddits`` and ``query.brand_subreddits``
unless the source names its own), and keeps those the brand's query matches
(:class:`listener.query.QueryMatcher`: any keyword, none of the exclusions;
everything in a brand subreddit).

Why ``/r/{sub}/new`` and not search: Reddit's search index lags behind by
minutes and is not guaranteed complete, and its results are ranked, so a
cursor over them can skip posts. ``/r/{sub}/new`` and ``/r/{sub}/comments``
are complete, immediate and newest-first, which makes an exact cursor
possible; the query is applied here, on our side, exactly as for comments
(which search cannot return at all). The cost is reading the whole
subreddit's traffic, bounded by ``max_pages`` per poll.

Cursor, per subreddit: the newest ``created_utc`` seen and the fullnames seen
at that second, so a restart neither misses nor repeats a post (several posts
can share a second)::

    {"subreddits": {"travel": {"utc": 1773133200.0, "names": ["t3_abc"],
                               "gaps": [{"after": "t3_xyz", "utc": 1773130000.0, "names": ["t3_old"]}]}}}

Each poll walks the listing newest first and stops at the stored position.
When the page budget runs out (or the rate-limit window does) before reaching
it, the rest is kept as a *gap* (continue ``after`` the oldest post read,
down to the old position) and read on the next polls. A new source's first
poll reads one page and does not backfill. Posts that Reddit shows late with
an older ``created_utc`` (approved from the spam filter) are not seen.

A subreddit Reddit refuses (403 private or quarantined, 404 banned, a
redirect for one that does not exist) or that fails this poll (5xx, timeout,
malformed body) is skipped, its position kept, and named in the result's
``problems`` (the source's last error) while the others are read; only when
every subreddit fails does the poll fail (permanently when all are refused).

praw is configured never to sleep nor retry (see :mod:`brandpulse.netclients`);
this module raises :class:`~listener.base.RateLimited` on a 429 and returns
``not_before`` when ``x-ratelimit-remaining`` reaches 0.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, Mapping

import prawcore
import requests
from praw.exceptions import PRAWException
from pydantic import BaseModel, ConfigDict, Field

from brandpulse.config import Brand, OptionError, Query
from brandpulse.netclients import (
    REDDIT_APP_CREDENTIALS,
    REDDIT_CREDENTIALS,
    bare_handle,
    http_session_of,
    reddit_client_from_env,
)
from brandpulse.types import Author, FetchResult, Mention
from listener.base import RateLimited, SourceError
from listener.budget import SourceBudget
from listener.query import QueryMatcher
from listener.ratelimit import (
    DEFAULT_BACKOFF,
    RateLimitState,
    StopForNow,
    body_excerpt,
    exception_for_429,
    not_before,
    reddit_rate_limit,
)

log = logging.getLogger(__name__)

PLATFORM = "reddit"
REDDIT_BASE = "https://www.reddit.com"
MAX_GAPS = 10
_USER_MENTION = re.compile(r"(?<![\w/])/?u/([A-Za-z0-9_-]{3,20})")


class Refused(SourceError):
    """Reddit refuses one listing (a subreddit that is private, quarantined,
    banned or gone): permanent for that subreddit, not for the source."""

    def __init__(self, message: str) -> None:
        super().__init__(message, permanent=True)


def _refusal_reason(response: Any) -> str | None:
    """Reddit's ``{"reason": "private"}`` (or "quarantined", "banned") of a
    refused listing, in words; None when the body gives none."""
    try:
        reason = response.json().get("reason")
    except (ValueError, AttributeError):
        return None
    return f"the subreddit is {reason}" if isinstance(reason, str) and reason.isidentifier() else None


# ------------------------------------------------------------- conversion
def thing_to_mention(kind: str, data: Mapping[str, Any], *, brand: str, parent_authors: Mapping[str, str]) -> Mention:
    """One listing child (``t3`` submission or ``t1`` comment) → Mention.
    Raises KeyError/ValueError/TypeError on a malformed child."""
    name = str(data["name"])
    author_name = str(data.get("author") or "[deleted]")
    author = Author(platform=PLATFORM, id=str(data.get("author_fullname") or author_name), handle=author_name)
    created = datetime.fromtimestamp(float(data["created_utc"]), tz=timezone.utc)
    permalink = data.get("permalink")
    url = f"{REDDIT_BASE}{permalink}" if isinstance(permalink, str) and permalink.startswith("/") else permalink
    addressed: list[str] = []
    if kind == "t3":
        title = str(data.get("title") or "")
        body = str(data.get("selftext") or "").strip()
        text = f"{title}\n\n{body}" if body else title
        thread, reply_to, post_title = name, None, title
    elif kind == "t1":
        text = str(data["body"])
        thread = str(data["link_id"])
        reply_to = str(data["parent_id"]) if data.get("parent_id") else None
        post_title = None
        parent_author = parent_authors.get(reply_to or "")
        if parent_author is None and reply_to and reply_to.startswith("t3_"):
            parent_author = data.get("link_author")
        if parent_author and parent_author != "[deleted]":
            addressed.append(parent_author)
    else:
        raise ValueError(f"unexpected kind {kind!r}")
    addressed.extend(_USER_MENTION.findall(text))
    return Mention(
        platform=PLATFORM,
        external_id=name,
        brand=brand,
        author=author,
        text=text,
        created_at=created,
        lang=None,
        url=url,
        thread_id=thread,
        reply_to_id=reply_to,
        title=post_title,
        community=str(data.get("subreddit") or "") or None,
        community_members=_members(data) if kind == "t3" else None,
        addressed_handles=tuple(dict.fromkeys(h.lower() for h in addressed)),
        raw=dict(data),
    )


def _members(data: Mapping[str, Any]) -> int | None:
    """A submission's ``subreddit_subscribers`` (its subreddit's members when
    read), None when missing or not a count. Reddit has no follower count on a
    listing; this is what a post can reach (brandpulse.types.Reach). Comment
    listings do not carry it."""
    value = data.get("subreddit_subscribers")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        return None
    return int(value)


# ----------------------------------------------------------------- cursor
@dataclass
class _Position:
    """Where a newest-first walk stops: the newest second seen and the names seen in it."""

    utc: float
    names: list[str]

    def reached_by(self, utc: float, name: str) -> bool:
        return utc < self.utc or (utc == self.utc and name in self.names)


@dataclass
class _Gap:
    after: str
    until: _Position


@dataclass
class _SubCursor:
    position: _Position | None = None
    gaps: list[_Gap] = field(default_factory=list)

    @classmethod
    def load(cls, data: Mapping[str, Any]) -> "_SubCursor":
        pos = _Position(float(data["utc"]), [str(n) for n in data.get("names") or []]) if "utc" in data else None
        gaps = [_Gap(str(g["after"]), _Position(float(g["utc"]), [str(n) for n in g.get("names") or []]))
                for g in data.get("gaps") or []]
        return cls(pos, gaps)

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.position is not None:
            out["utc"] = self.position.utc
            out["names"] = list(self.position.names)
        if self.gaps:
            out["gaps"] = [{"after": g.after, "utc": g.until.utc, "names": list(g.until.names)} for g in self.gaps]
        return out


@dataclass
class _Walk:
    things: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    complete: bool = False
    not_before: datetime | None = None
    read: int = 0


# ------------------------------------------------------------------ source
class RedditSource:
    """Reads brand mentions from Reddit listings. See the module docstring."""

    kind = "reddit"
    platform = PLATFORM

    def __init__(
        self,
        *,
        name: str,
        brand: Brand,
        client: Any,
        listing: Literal["submissions", "comments"],
        subreddits: list[str] | None = None,
        query: Query | None = None,
        page_size: int = 100,
        max_pages: int = 3,
        match_thread_title: bool = True,
        resolve_parent_authors: bool = True,
        default_backoff: timedelta = DEFAULT_BACKOFF,
        price_per_post: float = 0.0,
        monthly_budget: float | None = None,
        account: str | None = None,
        login: tuple[str, ...] = REDDIT_CREDENTIALS,
    ) -> None:
        """``account``: the Reddit account the client reads as (None: the
        default, REDDIT_USERNAME); ``login``: the variables its credentials
        came from, named in error messages (never their values)."""
        # listing, page_size and max_pages come checked by RedditSourceOptions.
        subs = subreddits if subreddits is not None else [*brand.query.subreddits, *brand.query.brand_subreddits]
        subs = list(dict.fromkeys(s.strip().removeprefix("r/").removeprefix("/r/") for s in subs if s.strip()))
        if not subs:
            raise OptionError("subreddits", f"brand {brand.id!r} has no query.subreddits to listen in (or give the source"
                                            " 'subreddits')")
        bad = [s for s in subs if not re.fullmatch(r"\w{2,21}", s)]
        if bad:
            raise OptionError("subreddits", f"not a subreddit name: {', '.join(map(repr, bad))}")
        self.name = name
        self.brand = brand.id
        self.brand_config = brand
        self.client = client
        self.account = account
        self.login = login
        self.listing = listing
        self.subreddits = subs
        self.matcher = QueryMatcher(query or brand.query)
        self.page_size = page_size
        self.max_pages = max_pages
        self.match_thread_title = match_thread_title
        self.resolve_parent_authors = resolve_parent_authors
        self.default_backoff = default_backoff
        self._path = "new" if listing == "submissions" else "comments"
        # Reddit's free tier costs nothing; with billed access, give a price per post read.
        self.budget = SourceBudget(
            price_per_post=price_per_post,
            monthly_budget=monthly_budget,
            max_spend_per_poll=len(subs) * max_pages * page_size * price_per_post,
        )

    def __repr__(self) -> str:
        as_ = f" as u/{self.account}" if self.account else ""
        return (f"<RedditSource {self.name} ({self.brand}): {self.listing} in"
                f" {', '.join('r/' + s for s in self.subreddits)}{as_}>")

    # -- the Source protocol ---------------------------------------------
    def fetch(self, cursor: dict[str, Any], *, now: datetime) -> FetchResult:
        try:
            stored = {sub: _SubCursor.load(c) for sub, c in (cursor.get("subreddits") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SourceError(f"stored cursor is not a Reddit cursor ({exc!r}): {cursor!r}", permanent=True) from None
        out_cursor = {sub: c.dump() for sub, c in stored.items()}  # subreddits no longer configured are kept
        things: list[tuple[str, dict[str, Any]]] = []
        read = 0
        wait: datetime | None = None
        first_request = [True]
        failed: list[SourceError] = []
        for sub in self.subreddits:
            state = stored.get(sub, _SubCursor())
            try:
                walked, state, sub_wait = self._poll_subreddit(sub, state, now=now, first_request=first_request)
            except StopForNow as stop:  # rate limited after earlier subreddits were read: keep those
                wait = stop.retry_at
                break
            except RateLimited:  # the poll's first request: nothing read
                raise
            except SourceError as exc:
                if exc.permanent and not isinstance(exc, Refused):  # the login: every subreddit alike
                    raise
                # This subreddit only (refused, or a 5xx, timeout or broken body):
                # its position is kept, the others are read.
                failed.append(exc)
                continue
            things.extend(walked.things)
            read += walked.read
            out_cursor[sub] = state.dump()
            if sub_wait is not None:
                wait = sub_wait
                break
        if failed and len(failed) == len(self.subreddits):
            raise SourceError("; ".join(str(e) for e in failed), permanent=all(e.permanent for e in failed))
        problems = tuple(f"{e}; skipped, the other subreddits are read" for e in failed)
        mentions = self._to_mentions(things, now=now)
        return FetchResult(mentions=mentions, cursor={"subreddits": out_cursor}, posts_read=read, not_before=wait,
                           problems=problems)

    # -- walking -----------------------------------------------------------
    def _poll_subreddit(self, sub: str, state: _SubCursor, *, now: datetime, first_request: list[bool]):
        pages_left = [1 if state.position is None else self.max_pages]
        head = self._walk(sub, after=None, stop_at=state.position, pages_left=pages_left, now=now,
                          first_request=first_request)
        result = _Walk(things=list(head.things), read=head.read, not_before=head.not_before)
        new_gaps: list[_Gap] = []
        if not head.complete and state.position is not None and head.things:
            new_gaps.append(_Gap(after=head.things[-1][1]["name"], until=state.position))
        position = state.position
        if head.things:
            newest = max(float(d["created_utc"]) for _, d in head.things)
            names = [d["name"] for _, d in head.things if float(d["created_utc"]) == newest]
            if position is not None and position.utc == newest:
                names = list(dict.fromkeys([*position.names, *names]))
            position = _Position(newest, names)
        remaining: list[_Gap] = []
        for gap in state.gaps:  # stored newest first
            if result.not_before is not None or pages_left[0] <= 0:
                remaining.append(gap)
                continue
            walk = self._walk(sub, after=gap.after, stop_at=gap.until, pages_left=pages_left, now=now,
                              first_request=first_request)
            result.things.extend(walk.things)
            result.read += walk.read
            result.not_before = walk.not_before
            if not walk.complete:
                remaining.append(_Gap(after=walk.things[-1][1]["name"], until=gap.until) if walk.things else gap)
        gaps = new_gaps + remaining
        if len(gaps) > MAX_GAPS:
            for lost in gaps[MAX_GAPS:]:
                log.error("source %s: r/%s has more than %d unread ranges; giving up on the posts after %s",
                          self.name, sub, MAX_GAPS, lost.after)
            gaps = gaps[:MAX_GAPS]
        return result, _SubCursor(position, gaps), result.not_before

    def _walk(self, sub: str, *, after: str | None, stop_at: _Position | None, pages_left: list[int],
              now: datetime, first_request: list[bool]) -> _Walk:
        walk = _Walk()
        seen: set[str] = set()
        while pages_left[0] > 0:
            params: dict[str, Any] = {"limit": self.page_size}
            if after:
                params["after"] = after
            raise_rl = first_request[0]
            first_request[0] = False
            try:
                payload, limits = self._get(f"/r/{sub}/{self._path}", params, now=now, what=f"r/{sub} {self.listing}",
                                            raise_rate_limit=raise_rl)
            except StopForNow as stop:
                walk.not_before = stop.retry_at
                return walk
            pages_left[0] -= 1
            data = payload.get("data") if isinstance(payload, dict) else None
            children = data.get("children") if isinstance(data, dict) else None
            if not isinstance(children, list):
                raise SourceError(f"Reddit r/{sub} {self.listing}: not a listing: {body_excerpt(str(payload))}")
            reached = False
            for child in children:
                walk.read += 1
                try:
                    kind, thing = child["kind"], child["data"]
                    name, utc = str(thing["name"]), float(thing["created_utc"])
                except (KeyError, TypeError, ValueError):
                    log.warning("source %s: skipping a malformed listing child in r/%s: %.200r", self.name, sub, child)
                    continue
                if stop_at is not None and stop_at.reached_by(utc, name):
                    reached = True
                    break
                if name not in seen:
                    seen.add(name)
                    walk.things.append((kind, thing))
            after = data.get("after")
            walk.not_before = not_before(limits, now=now)
            if reached or not after or not children:
                walk.complete = True
                return walk
            if walk.not_before is not None:
                return walk
        return walk

    # -- conversion --------------------------------------------------------
    def _to_mentions(self, things: list[tuple[str, dict[str, Any]]], *, now: datetime) -> list[Mention]:
        kept: list[tuple[str, dict[str, Any]]] = []
        for kind, data in things:
            if kind == "t3":
                ok = self.matcher.matches(str(data.get("selftext") or ""), title=str(data.get("title") or ""),
                                          community=data.get("subreddit"))
            else:
                title = data.get("link_title") if self.match_thread_title else None
                ok = self.matcher.matches(str(data.get("body") or ""), title=title, community=data.get("subreddit"))
            if ok:
                kept.append((kind, data))
        parents = self._parent_authors(kept, now=now) if self.resolve_parent_authors else {}
        mentions: dict[str, Mention] = {}
        for kind, data in kept:
            try:
                mention = thing_to_mention(kind, data, brand=self.brand, parent_authors=parents)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("source %s: skipping malformed %s (%r): %.200r", self.name, kind, exc, data)
                continue
            mentions[mention.external_id] = mention
        return sorted(mentions.values(), key=lambda m: (m.created_at, m.external_id))

    def _parent_authors(self, kept: list[tuple[str, dict[str, Any]]], *, now: datetime) -> dict[str, str]:
        """Authors of the comments that kept comments answer (one /api/info
        request per 100), so a reply to the brand's comment addresses the brand."""
        wanted = list(dict.fromkeys(str(d.get("parent_id")) for k, d in kept
                                    if k == "t1" and str(d.get("parent_id") or "").startswith("t1_")))
        found: dict[str, str] = {}
        for i in range(0, len(wanted), 100):
            chunk = wanted[i:i + 100]
            try:
                payload, _ = self._get("/api/info/", {"id": ",".join(chunk)}, now=now, what="parent lookup",
                                       raise_rate_limit=False)
            except (SourceError, StopForNow) as exc:
                log.warning("source %s: could not look up parent comments (%s); their authors stay unknown", self.name, exc)
                break
            for child in ((payload.get("data") or {}).get("children") or []) if isinstance(payload, dict) else []:
                d = child.get("data") or {}
                if d.get("name") and d.get("author"):
                    found[str(d["name"])] = str(d["author"])
        return found

    # -- HTTP through praw ---------------------------------------------------
    def _get(self, path: str, params: dict[str, Any], *, now: datetime, what: str,
             raise_rate_limit: bool) -> tuple[Any, RateLimitState]:
        what = f"Reddit {what}"
        http = http_session_of(self.client)
        try:
            try:
                payload = self.client.request(method="GET", path=path, params=params)
            except prawcore.InvalidToken:
                # Reddit ended the access token (it expired: prawcore uses one 10 s
                # past its expires_in; or it was revoked). prawcore has dropped it,
                # so asking again logs in afresh: the retry prawcore itself makes,
                # which brandpulse's no-retry setting turns off. A refused login
                # or a second refusal is for a person to fix (below).
                log.info("source %s: Reddit no longer accepts the access token; logging in again", self.name)
                payload = self.client.request(method="GET", path=path, params=params)
        except prawcore.TooManyRequests as exc:
            headers = exc.response.headers
            raise exception_for_429(reddit_rate_limit(headers, now=now), headers, now=now, default=self.default_backoff,
                                    what=what, network="Reddit", raise_rate_limit=raise_rate_limit) from None
        except prawcore.BadJSON as exc:
            raise SourceError(f"{what}: malformed JSON (HTTP {exc.response.status_code}, "
                              f"{body_excerpt(exc.response.content)}); skipped") from None
        except prawcore.OAuthException as exc:
            raise SourceError(f"{what}: Reddit refused the login{self._as()} ({exc.error}); check"
                              f" {' and '.join(self._user_login())}", permanent=True) from None
        except (prawcore.InvalidToken, prawcore.InsufficientScope) as exc:
            raise SourceError(f"{what}: Reddit rejected the access token{self._as()} ({exc}); check"
                              f" {', '.join(self.login)} and that the app is a script app", permanent=True) from None
        except prawcore.Forbidden as exc:
            why = _refusal_reason(exc.response) or "private or quarantined subreddit, or an account without access"
            raise Refused(f"{what}: forbidden (403: {why}{self._as()})") from None
        except prawcore.NotFound as exc:
            why = _refusal_reason(exc.response) or "no such subreddit or listing"
            raise Refused(f"{what}: not found (404: {why})") from None
        except prawcore.Redirect as exc:
            raise Refused(f"{what}: no such subreddit (Reddit redirects to {exc.path})") from None
        except prawcore.ServerError as exc:
            raise SourceError(f"{what}: Reddit server error ({exc}); will retry") from None
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            if status == 401:  # the token endpoint refused the client id/secret
                raise SourceError(f"{what}: Reddit refused the app credentials (401); check REDDIT_CLIENT_ID and"
                                  " REDDIT_CLIENT_SECRET", permanent=True) from None
            raise SourceError(f"{what}: unexpected answer (HTTP {status}, {body_excerpt(exc.response.content)})",
                              permanent=400 <= status < 500 and status not in (408, 409, 425)) from None
        except prawcore.RequestException as exc:
            original = exc.original_exception
            if isinstance(original, requests.Timeout):
                raise SourceError(f"{what}: timed out ({type(original).__name__}); will retry") from None
            raise SourceError(f"{what}: network error ({type(original).__name__}: {original}); will retry") from None
        except KeyError as exc:
            # prawcore maps a 401/403 through the www-authenticate header; without one it raises KeyError.
            last = http.last_response if http is not None else None
            if last is not None and last.status_code in (401, 403):
                raise SourceError(f"{what}: Reddit answered {last.status_code}{self._as()} without saying why;"
                                  f" check {', '.join(self.login)}", permanent=True) from None
            raise SourceError(f"{what}: unexpected error inside praw (KeyError {exc})") from None
        except (PRAWException, prawcore.PrawcoreException) as exc:
            raise SourceError(f"{what}: {type(exc).__name__}: {exc}") from None
        headers = http.last_response.headers if http is not None and http.last_response is not None else {}
        return payload, reddit_rate_limit(headers, now=now)

    def _as(self) -> str:
        return f" (reading as u/{self.account})" if self.account else ""

    def _user_login(self) -> tuple[str, ...]:
        """The variables of the account's login (not the app's)."""
        return tuple(n for n in self.login if n not in REDDIT_APP_CREDENTIALS)


# ----------------------------------------------------------------- factory
class RedditSourceOptions(BaseModel):
    """The options of a source of kind ``reddit`` in the configuration file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listing: Literal["submissions", "comments"]
    subreddits: list[str] | None = Field(default=None, description="default: the brand's query.subreddits and brand_subreddits")
    page_size: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=3, ge=1, le=10)
    match_thread_title: bool = True
    resolve_parent_authors: bool = True
    account: str | None = Field(
        default=None,
        description="the brand's Reddit account to read as (one of brands[].accounts.reddit; its password in"
                    " REDDIT_PASSWORD__<HANDLE>, or REDDIT_USERNAME/REDDIT_PASSWORD when it is that account);"
                    " default: REDDIT_USERNAME",
    )
    app_id: str = Field(default="brandpulse", pattern=r"^[A-Za-z0-9_.-]+$")
    timeout: float = Field(default=30.0, gt=0, le=300)
    price_per_post: float = Field(default=0.0, ge=0, description="USD per post read (free tier: 0)")
    monthly_budget: float | None = Field(default=None, ge=0, description="USD per UTC month; None: no limit")


def build_reddit_source(
    config: Any,
    *,
    brand: Brand,
    settings: Any = None,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    oauth_url: str | None = None,
    reddit_url: str | None = None,
) -> RedditSource:
    """Build a source of kind ``reddit`` from its configuration (a
    :class:`~brandpulse.config.SourceConfig`). Credentials come from
    REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET, REDDIT_USERNAME, REDDIT_PASSWORD
    (or their ``_FILE`` variants); a source with an ``account`` reads as
    that account, with its own password (REDDIT_PASSWORD__<HANDLE>), or the
    default login when REDDIT_USERNAME is that account. Raises pydantic's
    ValidationError or ValueError for bad options (the source registry words
    them with the key path) and MissingSecretError (a ConfigError) for
    missing credentials, naming the variables, never a value."""
    opts = RedditSourceOptions.model_validate(config.options)
    account = _own_account(brand, opts.account)
    as_ = f" as u/{account}" if account else ""
    client, _, login = reddit_client_from_env(
        purpose=f"source {config.name!r} reads Reddit{as_}", env=env, app_id=opts.app_id, account=account,
        session=session, timeout=opts.timeout, oauth_url=oauth_url, reddit_url=reddit_url)
    return _source(config, opts, brand=brand, client=client, account=account, login=login)


def check_reddit_source(config: Any, *, brand: Brand, settings: Any = None) -> SourceBudget:
    """Validate a source of kind ``reddit`` (options, subreddits) without
    credentials or network; return its budget. Raises like
    :func:`build_reddit_source`, except for credentials."""
    opts = RedditSourceOptions.model_validate(config.options)
    return _source(config, opts, brand=brand, client=None, account=_own_account(brand, opts.account)).budget


def _own_account(brand: Brand, account: str | None) -> str | None:
    """``account`` as the brand lists it in ``brands[].accounts.reddit``
    (compared without 'u/' and case); None stays None (the default login).
    Raises ValueError naming the brand's accounts when it is not one."""
    if account is None:
        return None
    wanted = bare_handle(account)
    if not wanted:
        raise OptionError("account", "empty; name one of the brand's Reddit accounts, or leave it out to read as"
                                     " REDDIT_USERNAME")
    for own in brand.accounts.reddit:
        if bare_handle(own).lower() == wanted.lower():
            return bare_handle(own)
    known = ", ".join(f"u/{bare_handle(a)}" for a in brand.accounts.reddit) or "none"
    raise OptionError("account", f"u/{wanted} is not a Reddit account of brand {brand.id!r} (brands[].accounts.reddit:"
                                 f" {known}); a source reads as one of the brand's accounts, or as REDDIT_USERNAME"
                                 " without 'account'")


def _source(config: Any, opts: RedditSourceOptions, *, brand: Brand, client: Any, account: str | None,
            login: tuple[str, ...] = REDDIT_CREDENTIALS) -> RedditSource:
    return RedditSource(
        name=config.name,
        brand=brand,
        client=client,
        listing=opts.listing,
        subreddits=opts.subreddits,
        page_size=opts.page_size,
        max_pages=opts.max_pages,
        match_thread_title=opts.match_thread_title,
        resolve_parent_authors=opts.resolve_parent_authors,
        price_per_post=opts.price_per_post,
        monthly_budget=opts.monthly_budget,
        account=account,
        login=login,
    )
