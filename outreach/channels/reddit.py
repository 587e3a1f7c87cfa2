"""Posting on Reddit (through praw), as the platform requires.

* **Replies**: ``reply`` on a submission (``t3_…``) or comment (``t1_…``),
  i.e. ``POST /api/comment/``. Reddit has no rule like X's about who may be
  answered; subreddit rules and locks surface as errors.
* **Status updates**: a new self post (``POST /api/submit/``) in the
  configured subreddit (``OutboundPost.community`` and ``title``); later
  updates are replies (comments) on it.
* **Rate limit**: Reddit answers a post that comes too soon with HTTP 200 and
  ``RATELIMIT`` ("Take a break for 9 minutes…"): the send is deferred
  (``SendError(retry_at=...)``). praw would sleep and retry when the wait is
  short; ``ratelimit_seconds`` is set below zero so it never does.
* **Several accounts**: each brand may post as its own Reddit account
  (``brands[].accounts.reddit``; replies go out as the account the draft
  names, incident posts as ``incidents.brands.<brand>.reddit.account``).
  One script app (REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET) logs in as each:
  REDDIT_USERNAME and REDDIT_PASSWORD are the default account's, and any
  brand account may have its own password, ``REDDIT_PASSWORD__<HANDLE>``
  (:func:`brandpulse.netclients.reddit_account_password_name`).
  :class:`RedditAccountsChannel` is the one Reddit channel the outbox gets:
  it routes each post, and each reconciliation (the account's own history),
  to the :class:`RedditChannel` of the account that posts.
* **Rate limits**: ``RATELIMIT`` is the account's ("you've been doing that a
  lot"), so it holds back that account's posts only
  (:meth:`RedditChannel.rate_limit_key`: ``u/<name>``); an HTTP 429 is the
  app's request limit (per OAuth client), which every account shares: the
  error's ``limit_key`` is the platform.
* **At most once**: prawcore retries a POST by itself after a 5xx or a
  timeout, which can create the same comment twice. The client built by
  :mod:`brandpulse.netclients` makes exactly one attempt; a timeout, a
  connection error, a 5xx or an unreadable answer raise
  ``SendError(outcome_unknown=True)``, and the outbox calls
  :meth:`RedditChannel.find_sent` — the account's comment (or submission)
  history — before it may send again. praw also documents that a reply can
  return nothing although the comment was created; that is an unknown outcome
  too. A 408 is among the statuses prawcore would retry: for a post it is an
  unknown outcome like a 5xx, not a refusal.
* **Logging in**: praw logs in (``POST /api/v1/access_token``) before an
  account's first post and whenever its token expires, inside the same call.
  Reddit may stop accepting a token first (prawcore keeps one 10 s past its
  ``expires_in``; a token can be revoked): it answers 401 with
  ``www-authenticate: Bearer ... error="invalid_token"``, an authentication
  refusal made before acting, so a refused post created nothing. prawcore
  drops the token and would retry after a fresh login, which the no-retry
  client forbids, so :meth:`RedditChannel._call` does it once; a second
  refusal is permanent and names the credential variables.
  When that request fails nothing was posted: a 429 is the app's request
  limit (every account waits until its reset), a 5xx, 408 or a network
  failure is tried again after :data:`LOGIN_RETRY`; neither is a refusal of
  the post nor an unknown outcome.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import prawcore
import requests
from praw.exceptions import PRAWException, RedditAPIException
from prawcore.const import ACCESS_TOKEN_PATH

from brandpulse.clock import Clock, SystemClock
from brandpulse.netclients import (
    REDDIT_APP_CREDENTIALS,
    REDDIT_CREDENTIALS,
    REDDIT_USER_CREDENTIALS,
    bare_handle,
    http_session_of,
    make_reddit_client,
    reddit_account_password_name,
    reddit_posting_credentials,
    reddit_user_agent,
)
from brandpulse.secrets import Secret, read_secrets
from outreach.channels.base import OutboundPost, SendError, SentPost, account_limit_key, configured_accounts

log = logging.getLogger(__name__)

PLATFORM = "reddit"
REDDIT_BASE = "https://www.reddit.com"
CREDENTIALS = REDDIT_CREDENTIALS
MAX_COMMENT = 10_000
MAX_TITLE = 300
MAX_SELFTEXT = 40_000
DEFAULT_RATELIMIT_WAIT = timedelta(minutes=10)
FIND_LIMIT = 100  # find_sent looks through the account's latest 100 comments or submissions
LOGIN_RETRY = timedelta(minutes=1)  # after a failed login (5xx, 408, no answer): nothing was posted
_WAIT = re.compile(r"(\d{1,4})\s*(milliseconds?|seconds?|minutes?|hours?)", re.IGNORECASE)
_UNITS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}


def ratelimit_wait(message: str | None) -> timedelta | None:
    """'Take a break for 9 minutes before trying again.' → 9 minutes."""
    match = _WAIT.search(message or "")
    if not match:
        return None
    unit = match.group(2).lower().rstrip("s")
    return timedelta(seconds=int(match.group(1)) * _UNITS[unit])


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _created_at(thing: Any) -> datetime | None:
    """When Reddit says it created ``thing`` (its ``created_utc``, seconds
    since the epoch, as the listing gave it: read from the fetched object,
    never fetched again), in UTC; None when it is missing or unreadable (the
    outbox then takes the moment the post was found)."""
    value = vars(thing).get("created_utc")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def _login_request(exc: prawcore.PrawcoreException) -> bool:
    """Whether ``exc`` came from the token request (praw's login), which
    prawcore raises as a plain ResponseException or RequestException."""
    if isinstance(exc, prawcore.ResponseException):
        url = getattr(exc.response, "url", None) or ""
    elif isinstance(exc, prawcore.RequestException):
        args = exc.request_args or ()
        url = str(args[1]) if len(args) > 1 else str((exc.request_kwargs or {}).get("url", ""))
    else:
        return False
    return urlsplit(url).path.rstrip("/") == ACCESS_TOKEN_PATH


def _app_limit_wait(response: Any) -> timedelta:
    """How long a 429 asks every account to wait: ``retry-after``, else
    ``x-ratelimit-reset``, else :data:`DEFAULT_RATELIMIT_WAIT` (at least 1 s)."""
    retry_after = response.headers.get("retry-after") or response.headers.get("x-ratelimit-reset")
    try:
        return timedelta(seconds=max(1.0, float(retry_after))) if retry_after else DEFAULT_RATELIMIT_WAIT
    except ValueError:
        return DEFAULT_RATELIMIT_WAIT


class RedditChannel:
    """Posts as one Reddit account (a script app's user)."""

    platform = PLATFORM
    max_length: int | None = MAX_COMMENT

    def __init__(self, *, client: Any, username: str, clock: Clock | None = None,
                 password_name: str = REDDIT_USER_CREDENTIALS[1]) -> None:
        """``password_name``: the environment variable the account's password
        came from, for error messages."""
        self.client = client
        self.username = bare_handle(username)
        self.clock = clock or SystemClock()
        self.password_name = password_name

    def __repr__(self) -> str:
        return f"<RedditChannel u/{self.username}>"

    def rate_limit_key(self, *, account: str | None = None) -> str:
        """The limit this channel's posts count against (Reddit's RATELIMIT
        is per account): ``u/<name>``, lower-case."""
        return account_limit_key(PLATFORM, self.username)

    # -- sending --------------------------------------------------------------------
    def _check(self, post: OutboundPost) -> None:
        if post.platform != PLATFORM:
            raise SendError(f"the Reddit channel cannot post on {post.platform!r}", permanent=True)
        if post.account and bare_handle(post.account).lower() != self.username.lower():
            raise SendError(f"Reddit: cannot post as u/{post.account} (the Reddit credentials are u/{self.username}'s)",
                            permanent=True)
        if not post.text.strip():
            raise SendError("Reddit: the post is empty", permanent=True)
        if post.in_reply_to is not None:
            if not re.fullmatch(r"t[13]_[0-9a-z]+", post.in_reply_to):
                raise SendError(f"Reddit: cannot reply to {post.in_reply_to!r}: not a submission (t3_…) or comment"
                                " (t1_…) fullname", permanent=True)
            if len(post.text) > MAX_COMMENT:
                raise SendError(f"Reddit: the comment is {len(post.text)} characters, over the limit of {MAX_COMMENT}"
                                f" by {len(post.text) - MAX_COMMENT}; shorten it", permanent=True)
            return
        if not post.community or not post.title:
            raise SendError("Reddit: a new post needs a subreddit (community) and a title", permanent=True)
        if len(post.title) > MAX_TITLE:
            raise SendError(f"Reddit: the title is {len(post.title)} characters, over the limit of {MAX_TITLE}",
                            permanent=True)
        if len(post.text) > MAX_SELFTEXT:
            raise SendError(f"Reddit: the post is {len(post.text)} characters, over the limit of {MAX_SELFTEXT}",
                            permanent=True)

    def send(self, post: OutboundPost) -> SentPost:
        self._check(post)
        if post.in_reply_to is not None:
            kind, _, thing_id = post.in_reply_to.partition("_")
            target = self.client.submission(id=thing_id) if kind == "t3" else self.client.comment(id=thing_id)
            comment = self._call(lambda: target.reply(post.text), "replying")
            if comment is None:
                raise SendError("Reddit accepted the reply but returned no comment; it may have been created,"
                                " reconcile before sending again", outcome_unknown=True)
            permalink = getattr(comment, "__dict__", {}).get("permalink")
            url = f"{REDDIT_BASE}{permalink}" if permalink else None
            return SentPost(external_id=f"t1_{comment.id}", url=url)
        subreddit = self.client.subreddit(post.community.removeprefix("r/"))
        submission = self._call(lambda: subreddit.submit(post.title, selftext=post.text), "submitting")
        if submission is None:
            raise SendError("Reddit accepted the submission but returned nothing; reconcile before sending again",
                            outcome_unknown=True)
        sid = submission.id
        return SentPost(external_id=f"t3_{sid}", url=f"{REDDIT_BASE}/r/{post.community.removeprefix('r/')}/comments/{sid}/")

    # -- reconciliation -------------------------------------------------------------
    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """The account's own comment on ``in_reply_to`` with this text (or its
        own submission with this title in this subreddit) among its latest,
        with when Reddit created it (``created_utc``) so that it counts from
        then, not from when it was found."""
        redditor = self.client.redditor(self.username)
        want = _normalise(post.text)

        def look() -> SentPost | None:
            if post.in_reply_to is not None:
                for comment in redditor.comments.new(limit=FIND_LIMIT):
                    if comment.parent_id == post.in_reply_to and _normalise(comment.body) == want:
                        return SentPost(external_id=f"t1_{comment.id}", url=f"{REDDIT_BASE}{comment.permalink}",
                                        created_at=_created_at(comment))
                return None
            community = (post.community or "").removeprefix("r/").lower()
            for submission in redditor.submissions.new(limit=FIND_LIMIT):
                if (str(submission.subreddit).lower() == community and submission.title == post.title
                        and _normalise(submission.selftext) == want):
                    return SentPost(external_id=f"t3_{submission.id}", url=f"{REDDIT_BASE}{submission.permalink}",
                                    created_at=_created_at(submission))
            return None

        try:
            return self._call(look, "looking for an earlier post", lookup=True)
        except SendError as exc:
            # A lookup changes nothing on Reddit: an unknown outcome is just a failed lookup.
            raise SendError(str(exc), permanent=exc.permanent, retry_at=exc.retry_at) from None

    # -- errors ------------------------------------------------------------------------
    def _login_credentials(self) -> tuple[str, ...]:
        """This account's login: REDDIT_USERNAME and REDDIT_PASSWORD (the default account) or its own password."""
        return REDDIT_USER_CREDENTIALS if self.password_name == REDDIT_USER_CREDENTIALS[1] else (self.password_name,)

    def _credentials(self) -> tuple[str, ...]:
        return (*REDDIT_APP_CREDENTIALS, *self._login_credentials())

    def _call(self, action, doing: str, *, lookup: bool = False):
        now = self.clock.now()
        unknown = not lookup  # after a POST left, "no answer" may mean "created"
        try:
            try:
                return action()
            except prawcore.InvalidToken:
                # Reddit no longer accepts the access token (it expired: prawcore sends one up
                # to 10 s past its expires_in; or it was revoked) and refused the request before
                # acting on it: a refused POST created nothing. prawcore has dropped the token, so
                # doing it again logs in afresh: the one retry prawcore itself makes after a 401,
                # which brandpulse's no-retry client turns off. A refused login or a second
                # refusal is for a person to fix (below).
                log.info("Reddit no longer accepts u/%s's access token while %s; logging in again", self.username,
                         doing)
                return action()
        except RedditAPIException as exc:
            for item in exc.items:
                if item.error_type == "RATELIMIT":
                    wait = ratelimit_wait(item.message) or DEFAULT_RATELIMIT_WAIT
                    return_at = now + wait + timedelta(seconds=1)
                    raise SendError(f"Reddit: rate limited while {doing} ({item.message}); not before"
                                    f" {return_at.isoformat()}", retry_at=return_at) from None
            codes = ", ".join(f"{i.error_type}: {i.message}" for i in exc.items)
            raise SendError(f"Reddit refused while {doing} ({codes})", permanent=True) from None
        except prawcore.TooManyRequests as exc:
            wait = _app_limit_wait(exc.response)
            raise SendError(f"Reddit: the app's request limit is used up (429 while {doing}); no account may post"
                            f" before {(now + wait).isoformat()}", retry_at=now + wait, limit_key=PLATFORM) from None
        except prawcore.BadJSON as exc:
            raise SendError(f"Reddit: unreadable answer while {doing} (HTTP {exc.response.status_code},"
                            f" {exc.response.text[:200]!r})" + ("; it may have been created" if unknown else ""),
                            outcome_unknown=unknown) from None
        except prawcore.ServerError as exc:
            raise SendError(f"Reddit: server error while {doing} ({exc})" + ("; it may have been created" if unknown else ""),
                            outcome_unknown=unknown) from None
        except prawcore.OAuthException as exc:
            raise SendError(f"Reddit refused the login of u/{self.username} while {doing} ({exc.error}); check"
                            f" {' and '.join(self._login_credentials())}", permanent=True) from None
        except prawcore.InvalidToken as exc:  # refused again, with the token of a fresh login: nothing was posted
            raise SendError(f"Reddit rejected u/{self.username}'s access token while {doing}, again after logging in"
                            f" afresh ({exc}); check {', '.join(self._credentials())}", permanent=True) from None
        except prawcore.InsufficientScope as exc:
            raise SendError(f"Reddit rejected the access token while {doing} ({exc}); check {', '.join(self._credentials())}",
                            permanent=True) from None
        except prawcore.Forbidden as exc:
            raise SendError(f"Reddit: forbidden while {doing} (403: locked or archived thread, banned account or"
                            f" private subreddit): {exc}", permanent=True) from None
        except (prawcore.NotFound, prawcore.Redirect) as exc:
            raise SendError(f"Reddit: not found while {doing} ({exc})", permanent=True) from None
        except prawcore.ResponseException as exc:
            status = exc.response.status_code
            if _login_request(exc) and (status in (408, 429) or status >= 500):
                raise self._login_failed(f"HTTP {status}", doing, now, response=exc.response) from None
            if status == 408:  # prawcore retries it: transient, and after a POST the outcome is unknown
                raise SendError(f"Reddit: request timeout while {doing} (HTTP 408)"
                                + ("; it may have been created" if unknown else ""), outcome_unknown=unknown) from None
            if status == 401:
                raise SendError(f"Reddit refused the app credentials while {doing} (401); check REDDIT_CLIENT_ID and"
                                " REDDIT_CLIENT_SECRET", permanent=True) from None
            raise SendError(f"Reddit: unexpected answer while {doing} (HTTP {status})",
                            permanent=400 <= status < 500, outcome_unknown=unknown and status >= 500) from None
        except prawcore.RequestException as exc:
            original = exc.original_exception
            if _login_request(exc):
                raise self._login_failed(type(original).__name__, doing, now) from None
            if isinstance(original, requests.ConnectTimeout):
                raise SendError(f"Reddit: could not connect while {doing}; nothing was sent",
                                retry_at=now + timedelta(minutes=1)) from None
            raise SendError(f"Reddit: no answer while {doing} ({type(original).__name__})"
                            + ("; it may have been created, reconcile before sending again" if unknown else ""),
                            outcome_unknown=unknown) from None
        except KeyError as exc:
            http = http_session_of(self.client)
            last = http.last_response if http is not None else None
            if last is not None and last.status_code in (401, 403):
                raise SendError(f"Reddit answered {last.status_code} while {doing} without saying why; check"
                                f" {', '.join(self._credentials())}", permanent=True) from None
            raise SendError(f"Reddit: unexpected error inside praw while {doing} (KeyError {exc})",
                            outcome_unknown=unknown) from None
        except (PRAWException, prawcore.PrawcoreException) as exc:
            raise SendError(f"Reddit: {type(exc).__name__} while {doing}: {exc}", outcome_unknown=unknown) from None

    def _login_failed(self, what: str, doing: str, now, *, response: Any = None) -> SendError:
        """The token request before a post failed (``what``: the status or
        the network error): nothing was posted. A 429 is the app's request
        limit, which every account waits for; anything else is tried again
        after :data:`LOGIN_RETRY`."""
        if response is not None and response.status_code == 429:
            until = now + _app_limit_wait(response)
            return SendError(f"Reddit: the app's request limit is used up (429 logging in as u/{self.username} while"
                             f" {doing}; nothing was sent); no account may post before {until.isoformat()}",
                             retry_at=until, limit_key=PLATFORM)
        until = now + LOGIN_RETRY
        return SendError(f"Reddit: could not log in as u/{self.username} while {doing} ({what}); nothing was sent;"
                         f" not before {until.isoformat()}", retry_at=until)


def credentials_hint(handle: str) -> str:
    """How to let brandpulse post as the Reddit account ``handle``."""
    name = reddit_account_password_name(handle)
    return (f"set {name} (or {name}_FILE) to u/{bare_handle(handle)}'s password (the account logs in through the"
            f" app of {REDDIT_APP_CREDENTIALS[0]}: make it a developer of that app)")


class RedditAccountsChannel:
    """The Reddit channel: posts as whichever of the brands' accounts a post
    names, each through its own login (:class:`RedditChannel`).

    ``post.account`` picks the account (compared without 'u/' and case): one
    with its own password (REDDIT_PASSWORD__<HANDLE>), else the default
    account (REDDIT_USERNAME) when it is that account; a post naming none
    goes out as the default. A post as an account without credentials fails
    permanently, naming the variable to set, without a request; the other
    accounts post as usual."""

    platform = PLATFORM
    max_length: int | None = MAX_COMMENT

    def __init__(self, *, default: RedditChannel | None, accounts: Mapping[str, RedditChannel] | None = None,
                 brand_accounts: Iterable[str] = ()) -> None:
        self.default = default
        self.accounts = {bare_handle(h).lower(): c for h, c in (accounts or {}).items()}
        if default is not None:
            self.accounts.setdefault(default.username.lower(), default)
        self.brand_accounts = tuple(dict.fromkeys(bare_handle(a) for a in brand_accounts))
        if not self.accounts:
            raise ValueError("a Reddit channel needs the credentials of at least one account")

    def __repr__(self) -> str:
        return f"<RedditAccountsChannel default={self.default!r} accounts=[{', '.join(map(repr, self.accounts.values()))}]>"

    def channel_for(self, account: str | None) -> RedditChannel:
        """The channel that posts as ``account`` (None: the default account).
        Raises a permanent SendError when no credentials can post as it."""
        name = bare_handle(account) if account else ""
        if not name:
            if self.default is None:
                user, password = REDDIT_USER_CREDENTIALS
                raise SendError(f"Reddit: the post names no account and no default Reddit account is set: set {user}"
                                f" and {password} (or give the brand Reddit accounts, brands[].accounts.reddit)",
                                permanent=True)
            return self.default
        channel = self.accounts.get(name.lower())
        if channel is not None:
            return channel
        known = name.lower() in {a.lower() for a in self.brand_accounts}
        todo = credentials_hint(name) if known else "add it to brands[].accounts.reddit and " + credentials_hint(name)
        default = f"; {REDDIT_USER_CREDENTIALS[0]} is u/{self.default.username}" if self.default is not None else ""
        which = "one of the brand's accounts" if known else "not one of the brands' Reddit accounts"
        raise SendError(f"Reddit: cannot post as u/{name} ({which}): no credentials for it; {todo}{default}",
                        permanent=True)

    def without_credentials(self) -> list[str]:
        """The brands' Reddit accounts nothing can post as."""
        return [a for a in self.brand_accounts if a.lower() not in self.accounts]

    def rate_limit_key(self, *, account: str | None) -> str:
        """The limit a post as ``account`` counts against: the account's own
        (:func:`~outreach.channels.base.account_limit_key`, ``u/<name>``;
        None: the default account's)."""
        if not account and self.default is not None:
            return self.default.rate_limit_key()
        return account_limit_key(PLATFORM, account)

    def send(self, post: OutboundPost) -> SentPost:
        return self.channel_for(post.account).send(post)

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """Looks in the history of the account that posted ``post``."""
        return self.channel_for(post.account).find_sent(post)


def build_reddit_channel(
    settings: Any = None,
    *,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    clock: Clock | None = None,
    oauth_url: str | None = None,
    reddit_url: str | None = None,
) -> RedditAccountsChannel:
    """The Reddit channel for ``settings``, from the environment (each
    variable also readable from NAME_FILE):

    * the app: REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET (always);
    * the default account: REDDIT_USERNAME and REDDIT_PASSWORD (needed unless
      some brand account has a password of its own);
    * any of the brands' Reddit accounts (``brands[].accounts.reddit``):
      REDDIT_PASSWORD__<HANDLE>.

    No request is made (each account logs in on first use). Raises
    MissingSecretError (a ConfigError) naming what is missing."""
    env = os.environ if env is None else env
    brand_accounts = configured_accounts(settings, PLATFORM)
    plan = reddit_posting_credentials(brand_accounts, env)
    secrets = read_secrets(plan.names_to_read(), env=env, purpose="posting on Reddit")

    def channel(username: str, password: Secret) -> RedditChannel:
        client = make_reddit_client(
            client_id=secrets[REDDIT_APP_CREDENTIALS[0]], client_secret=secrets[REDDIT_APP_CREDENTIALS[1]],
            username=username, password=password, user_agent=reddit_user_agent(username), session=session,
            **{k: v for k, v in (("oauth_url", oauth_url), ("reddit_url", reddit_url)) if v})
        return RedditChannel(client=client, username=username, clock=clock, password_name=password.name)

    user, password = REDDIT_USER_CREDENTIALS
    default = channel(secrets[user].reveal(), secrets[password]) if user in secrets else None
    own = {handle: channel(handle, secrets[names[0]]) for handle, names in plan.accounts.items()}
    return RedditAccountsChannel(default=default, accounts=own, brand_accounts=brand_accounts)
