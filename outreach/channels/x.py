"""Posting on X (API v2, through tweepy), as the platform requires.

* **Replies** (``create_tweet`` with ``in_reply_to_tweet_id``) only to a post
  whose author @mentioned or quoted the account that posts: since 23 Feb 2026
  X refuses other API replies from self-serve apps. The outbox passes what the
  answered post addressed (``OutboundPost.addressed_handles``); anything else
  raises :class:`ManualReplyRequired` with the post's link, for a person to
  answer by hand. An X refusal for the same reason is turned into the same
  error.
* **Status updates**: a standalone post, or a reply to the account's previous
  status post (replying to one's own post is always allowed): an incident's
  X thread is built one outbox row per step, each claimed and sent at most
  once (outreach/incidents.py).
* **Length** is checked before anything is sent, as X counts it
  (:mod:`outreach.channels.textlength`).
* **Rate limits** are per access token: a 429 is a clear "not now"
  (``SendError(retry_at=...)``, at ``x-rate-limit-reset`` or the later
  ``x-user-limit-24hour-reset`` when the day's posts are used up; without a
  header, after :data:`DEFAULT_BACKOFF`) for the token that got it, which
  :meth:`XAccountsChannel.rate_limit_key` names (accounts without a token of
  their own share the default account's); the outbox records with the wait
  which accounts post with that token. When the app's daily limit
  (``x-app-limit-24hour-remaining: 0``) is used up, every account waits: the
  error's ``limit_key`` is the platform.
* **At most once**: a 429 is a clear "not now";
  a timeout, a connection error or a 5xx after the request left may have
  created the post, so they raise ``SendError(outcome_unknown=True)`` and the
  outbox calls :meth:`XChannel.find_sent` — the account's posts since a
  little before the first uncertain attempt (``GET /2/users/:id/tweets`` with
  ``start_time``: each post read is billed) — before it may send again. A
  resend refused as duplicate content is ``SendError(duplicate=True)``: after
  an uncertain send, the outbox takes it as a sign that send went out.

* **Several accounts**: a brand usually owns several X accounts, and a reply
  goes out from the one the customer addressed (``OutboundPost.account``).
  X's OAuth 1.0a model is one app (``X_API_KEY``, ``X_API_SECRET``) and one
  access token and secret per account: ``X_ACCESS_TOKEN`` and
  ``X_ACCESS_TOKEN_SECRET`` are the default account's, and any brand account
  may have its own pair, ``X_ACCESS_TOKEN__<HANDLE>`` and
  ``X_ACCESS_TOKEN_SECRET__<HANDLE>`` (the handle upper-cased, see
  :func:`brandpulse.netclients.x_account_credential_names`).
  :class:`XAccountsChannel` is the one X channel the outbox gets: it routes
  each post, and each reconciliation (:meth:`~XAccountsChannel.find_sent`), to
  the :class:`XChannel` of the account that posts (no account: the default).

tweepy is set never to wait on a rate limit (see :mod:`brandpulse.netclients`).
"""

from __future__ import annotations

import html
import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Mapping

import requests
import tweepy

from brandpulse.clock import Clock, SystemClock
from brandpulse.netclients import (
    X_APP_CREDENTIALS,
    X_USER_CREDENTIALS,
    make_x_client,
    x_account_credential_names,
    x_posting_credentials,
)
from brandpulse.secrets import read_secrets
from outreach.channels.base import (ManualReplyRequired, OutboundPost, SendError, SentPost, configured_accounts,
                                    x_reply_allowed, x_reply_by_hand, x_status_url)
from outreach.channels.textlength import MAX_WEIGHTED_LENGTH, length_problem

log = logging.getLogger(__name__)

PLATFORM = "x"
CREDENTIALS = (*X_APP_CREDENTIALS, *X_USER_CREDENTIALS)  # the app's, and the default account's
DEFAULT_BACKOFF = timedelta(minutes=15)  # X's windows are 15 minutes
FIND_PAGES = 2  # find_sent looks through at most 200 of the account's posts (each read is billed)
FIND_SLACK = timedelta(minutes=2)  # find_sent reads posts from this long before the first attempt (clock skew)
LOOKUP_RETRY = timedelta(minutes=1)  # after a failed lookup of the posting account (nothing was posted)
_DUPLICATE = "duplicate content"
_NOT_ALLOWED = ("not been mentioned", "not allowed to reply", "reply to this conversation is not allowed")


def credentials_hint(handle: str) -> str:
    """How to let brandpulse post as ``handle``."""
    token, secret = x_account_credential_names(handle)
    return f"set {token} and {secret} (or {token}_FILE and {secret}_FILE) to @{handle.lstrip('@')}'s access token and secret"


_TCO = re.compile(r"https?://t\.co/\w+", re.IGNORECASE)


def _reduce(text: str) -> str:
    """A post's text without what X may add or change: the leading @handles
    of a reply removed, NFC (the form X counts in), whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    text = re.sub(r"^(?:@\w{1,15}\s+)+", "", text.strip())
    return " ".join(text.split())


def _created_at(value: object) -> datetime | None:
    """A post's ``created_at`` as X gives it (``2026-03-10T09:15:00.000Z``),
    in UTC; None when it is missing or unreadable (the outbox then takes the
    moment the post was found)."""
    if not isinstance(value, str):
        return None
    try:
        created = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return created.astimezone(timezone.utc) if created.tzinfo is not None else None


def _same_post(returned: str, sent: str) -> bool:
    """Whether the text X gives back (``returned``: &, <, > as entities, every
    link it recognised wrapped in t.co, a bare domain such as acme.com/help
    too) is the text we sent. X decides what a link is, so each t.co link in
    ``returned`` stands for any run of non-space characters of ``sent``; the
    rest must be equal."""
    parts = _TCO.split(_reduce(html.unescape(returned)))
    return re.fullmatch(r"\S+?".join(re.escape(part) for part in parts), _reduce(sent)) is not None


@dataclass(frozen=True)
class _Me:
    id: str
    username: str


class XChannel:
    """Posts as one X account (the one whose access token it holds)."""

    platform = PLATFORM
    max_length: int | None = MAX_WEIGHTED_LENGTH

    def __init__(
        self,
        *,
        client: Any,
        account: str | None = None,
        account_id: str | None = None,
        brand_accounts: Iterable[str] = (),
        clock: Clock | None = None,
        default_backoff: timedelta = DEFAULT_BACKOFF,
        token_names: tuple[str, str] = X_USER_CREDENTIALS,
    ) -> None:
        """``account``/``account_id``: the handle and user id the credentials
        belong to; either may be omitted and is then looked up once
        (``GET /2/users/me``). ``brand_accounts``: every X handle a brand
        owns, to tell "posting as another brand account" from a typo.
        ``token_names``: the environment variables the access token and
        secret came from, for error messages."""
        self.client = client
        self.token_names = tuple(token_names)
        self._account = account.lstrip("@") if account else None
        self._account_id = account_id
        self.brand_accounts = frozenset(a.lstrip("@").lower() for a in brand_accounts)
        self.clock = clock or SystemClock()
        self.default_backoff = default_backoff

    def __repr__(self) -> str:
        return f"<XChannel @{self._account or '?'}>"

    def rate_limit_key(self, *, account: str | None = None) -> str:
        """The limit this channel's posts count against: its access token's,
        named by the variable it came from (never the token itself)."""
        return self.token_names[0]

    # -- who we are --------------------------------------------------------------
    def _me(self, *, reconciling: bool = False) -> _Me:
        """The posting account, looked up once (``GET /2/users/me``). A lookup
        that fails for a while (5xx, no answer, an unreadable answer) posted
        nothing: tried again after :data:`LOOKUP_RETRY` (``retry_at``), not
        an unknown outcome to reconcile. ``reconciling``: for
        :meth:`find_sent`, where such a failure is a plain passing one (no
        ``retry_at``), so the outbox backs off as for any failed look-up;
        a 429 still gives X's reset."""
        if self._account and self._account_id:
            return _Me(self._account_id, self._account)
        retry_at = None if reconciling else self.clock.now() + LOOKUP_RETRY
        later = "will retry" if retry_at is None else f"nothing was posted; not before {retry_at.isoformat()}"
        try:
            response = self.client.get_me(user_fields=["username"])
            data = response.json()["data"]
            me = _Me(str(data["id"]), str(data["username"]))
        except tweepy.HTTPException as exc:
            error = self._http_error(exc, "looking up the posting account")
            if error.permanent or error.retry_at is not None:
                raise error from None
            raise SendError(f"{error}; {later}", retry_at=retry_at) from None
        except requests.RequestException as exc:
            raise SendError(f"X: could not look up the posting account ({type(exc).__name__}); {later}",
                            retry_at=retry_at) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SendError(f"X: unexpected answer looking up the posting account ({exc!r}); {later}",
                            retry_at=retry_at) from None
        if self._account and me.username.lower() != self._account.lower():
            raise SendError(f"X: the credentials belong to @{me.username}, not @{self._account};"
                            f" check {' and '.join(self.token_names)}", permanent=True)
        self._account, self._account_id = me.username, me.id
        return me

    # -- rules ---------------------------------------------------------------------
    def reply_allowed(self, post: OutboundPost, *, account: str) -> bool:
        """X's rule: an app may reply only to a post that @mentions or quotes
        the replying account (or to the account's own post: a thread);
        :func:`~outreach.channels.base.x_reply_allowed`."""
        return x_reply_allowed(post, account=account)

    def _check(self, post: OutboundPost) -> None:
        if post.platform != PLATFORM:
            raise SendError(f"the X channel cannot post on {post.platform!r}", permanent=True)
        problem = length_problem(post.text)
        if problem:
            raise SendError(f"X: {problem}; shorten it", permanent=True)

    # -- sending ---------------------------------------------------------------------
    def send(self, post: OutboundPost) -> SentPost:
        self._check(post)
        me = self._me()
        if post.account and post.account.lstrip("@").lower() != me.username.lower():
            handle = post.account.lstrip("@")
            if handle.lower() in self.brand_accounts:
                why, todo = "another of the brand's accounts", f"; to post as it, {credentials_hint(handle)}"
            else:
                why, todo = "not an account these credentials can post as", " (nor one of the brands' X accounts)"
            raise SendError(f"X: cannot post as @{handle} ({why}); the X credentials"
                            f" ({' and '.join(self.token_names)}) are @{me.username}'s{todo}", permanent=True)
        if post.in_reply_to is not None and not self.reply_allowed(post, account=me.username):
            raise x_reply_by_hand(post, account=me.username)
        kwargs: dict[str, Any] = {"text": post.text}
        if post.in_reply_to is not None:
            kwargs["in_reply_to_tweet_id"] = post.in_reply_to
        try:
            response = self.client.create_tweet(**kwargs)
        except tweepy.HTTPException as exc:
            raise self._http_error(exc, "posting", post=post) from None
        except requests.ConnectTimeout:
            raise SendError("X: could not connect (the post was not sent); will retry",
                            retry_at=self.clock.now() + timedelta(minutes=1)) from None
        except requests.RequestException as exc:
            raise SendError(f"X: no answer to the post ({type(exc).__name__}); it may have been created,"
                            " reconcile before sending again", outcome_unknown=True) from None
        try:
            post_id = str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise SendError(f"X: unreadable answer to the post (HTTP {response.status_code}, {response.text[:200]!r});"
                            " it may have been created, reconcile before sending again", outcome_unknown=True) from None
        return SentPost(external_id=post_id, url=x_status_url(post_id, me.username))

    # -- reconciliation ------------------------------------------------------------
    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """The account's own post with this text (replying to the same post),
        among its latest posts; None if it is not there.

        X bills every post read, so with ``post.first_attempt_at`` (when the
        first uncertain send was attempted: the post cannot be older) only
        the posts created since :data:`FIND_SLACK` before it are read
        (``start_time``); at most :data:`FIND_PAGES` pages of 100 either way."""
        me = self._me(reconciling=True)
        token: str | None = None
        since = post.first_attempt_at
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        for _ in range(FIND_PAGES):
            params: dict[str, Any] = {"max_results": 100, "tweet_fields": ["referenced_tweets", "created_at"],
                                      "user_auth": True}
            if since is not None:
                params["start_time"] = since - FIND_SLACK
            if token:
                params["pagination_token"] = token
            try:
                response = self.client.get_users_tweets(me.id, **params)
                payload = response.json()
            except tweepy.HTTPException as exc:
                raise self._http_error(exc, "looking for an earlier post") from None
            except requests.RequestException as exc:
                raise SendError(f"X: could not look for an earlier post ({type(exc).__name__}); will retry") from None
            except ValueError:
                raise SendError("X: unreadable answer looking for an earlier post; will retry") from None
            for tweet in payload.get("data") or []:
                replied_to = next((r.get("id") for r in tweet.get("referenced_tweets") or []
                                   if r.get("type") == "replied_to"), None)
                expected = str(post.in_reply_to) if post.in_reply_to else None
                if (str(replied_to) if replied_to else None) != expected:
                    continue
                if _same_post(str(tweet.get("text", "")), post.text):
                    return SentPost(external_id=str(tweet["id"]), url=x_status_url(str(tweet["id"]), me.username),
                                    created_at=_created_at(tweet.get("created_at")))
            token = (payload.get("meta") or {}).get("next_token")
            if not token:
                break
        return None

    # -- errors ----------------------------------------------------------------------
    def _rate_limited(self, exc: tweepy.TooManyRequests, doing: str) -> SendError:
        """A 429: when to try again, and whose limit it was (this token's, or
        the app's daily one, which every account shares)."""
        headers = exc.response.headers

        def used_up(scope: str) -> datetime | None:
            """The reset of a used-up 24-hour limit (``scope``: app, user)."""
            if headers.get(f"x-{scope}-limit-24hour-remaining", "").strip() != "0":
                return None
            try:
                return datetime.fromtimestamp(int(headers[f"x-{scope}-limit-24hour-reset"]), tz=timezone.utc)
            except (KeyError, ValueError, OverflowError, OSError):
                return None

        now = self.clock.now()
        reset = getattr(exc, "reset_time", None)
        retry_at = datetime.fromtimestamp(reset, tz=timezone.utc) if reset else None
        app_day, user_day = used_up("app"), used_up("user")
        for day in (app_day, user_day):
            if day is not None and (retry_at is None or day > retry_at):
                retry_at = day
        retry_at = max(retry_at or now + self.default_backoff, now + timedelta(seconds=1))
        if app_day is not None:
            return SendError(f"X: the app's 24-hour posting limit is used up (429 while {doing}); no account may post"
                             f" before {retry_at.isoformat()}", retry_at=retry_at, limit_key=PLATFORM)
        return SendError(f"X: rate limited while {doing} (429); not before {retry_at.isoformat()}", retry_at=retry_at)

    def _credentials(self) -> tuple[str, ...]:
        return (*X_APP_CREDENTIALS, *self.token_names)

    def _http_error(self, exc: tweepy.HTTPException, doing: str, *, post: OutboundPost | None = None) -> SendError:
        reason = str(exc).replace("\n", " ").strip()
        status = exc.response.status_code
        if isinstance(exc, tweepy.TooManyRequests):
            return self._rate_limited(exc, doing)
        if isinstance(exc, tweepy.TwitterServerError):
            if post is None:  # a lookup: nothing was created
                return SendError(f"X: server error while {doing} ({reason}); will retry")
            return SendError(f"X: server error while {doing} ({reason}); it may have been created, reconcile before"
                             " sending again", outcome_unknown=True)
        if isinstance(exc, tweepy.Unauthorized):
            return SendError(f"X: credentials rejected while {doing} (401); check {', '.join(self._credentials())}",
                             permanent=True)
        if isinstance(exc, tweepy.Forbidden):
            lowered = reason.lower()
            if post is not None and post.in_reply_to and any(s in lowered for s in _NOT_ALLOWED):
                url = x_status_url(post.in_reply_to)
                return ManualReplyRequired(f"reply by hand: {url} (X refused an API reply: {reason})", url=url)
            if _DUPLICATE in lowered:
                return SendError(f"X refused the post as a duplicate of a post the account already has ({reason})",
                                 permanent=True, duplicate=True)
            return SendError(f"X: forbidden while {doing} (403: {reason}); check that the app has Read and Write"
                             f" permission and {', '.join(self._credentials())} belong to it", permanent=True)
        if 400 <= status < 500:
            return SendError(f"X: refused while {doing} ({reason})", permanent=True)
        return SendError(f"X: unexpected answer while {doing} ({reason})", outcome_unknown=post is not None)


class XAccountsChannel:
    """The X channel: posts as whichever of the brands' accounts a post
    names, each through its own credentials (:class:`XChannel`).

    ``post.account`` picks the account (compared without '@' and case); an
    account without its own credentials, and a post naming none, go to the
    default account (X_ACCESS_TOKEN), whose channel refuses, permanently and
    naming the variables to set, a post for an account it is not. With no
    default account either, such a post fails the same way without touching
    the network. A person has to act in both cases (set the credentials,
    restart, approve again), so neither is retried by itself."""

    platform = PLATFORM
    max_length: int | None = MAX_WEIGHTED_LENGTH

    def __init__(self, *, default: XChannel | None, accounts: Mapping[str, XChannel] | None = None,
                 brand_accounts: Iterable[str] = ()) -> None:
        """``default``: the channel of X_ACCESS_TOKEN's account (None: not
        set); ``accounts``: handle → the channel holding that account's own
        credentials."""
        self.default = default
        self.accounts = {h.lstrip("@").lower(): c for h, c in (accounts or {}).items()}
        self.brand_accounts = frozenset(a.lstrip("@").lower() for a in brand_accounts)
        if default is None and not self.accounts:
            raise ValueError("an X channel needs the credentials of at least one account")

    def __repr__(self) -> str:
        own = ", ".join(repr(c) for c in self.accounts.values())
        return f"<XAccountsChannel default={self.default!r} accounts=[{own}]>"

    def channel_for(self, account: str | None) -> XChannel:
        """The channel that posts as ``account`` (None: the default account).
        Raises a permanent SendError when no credentials can post as it."""
        handle = account.strip().lstrip("@") if account else None
        if handle and handle.lower() in self.accounts:
            return self.accounts[handle.lower()]
        if self.default is not None:
            return self.default  # it checks the handle against its own account
        if handle is None:
            token, secret = X_USER_CREDENTIALS
            raise SendError(f"X: the post names no account and no default X account is set: set {token} and {secret}"
                            " (or give the brand X accounts, brands[].accounts.x)", permanent=True)
        known = "one of the brand's accounts" if handle.lower() in self.brand_accounts else "not one of the brands' X accounts"
        todo = credentials_hint(handle) if handle.lower() in self.brand_accounts else \
            "add it to brands[].accounts.x and " + credentials_hint(handle)
        raise SendError(f"X: cannot post as @{handle} ({known}): no credentials for it; {todo}", permanent=True)

    def rate_limit_key(self, *, account: str | None) -> str:
        """The rate limit a post as ``account`` counts against: the access
        token it goes out with, named by its variable (X_ACCESS_TOKEN for the
        default account and every account without a token of its own). An
        account nothing can post as gets a key of its own (its posts fail
        without a request)."""
        try:
            return self.channel_for(account).rate_limit_key(account=account)
        except SendError:
            return f"@{(account or '').strip().lstrip('@').lower()}"

    def reply_allowed(self, post: OutboundPost, *, account: str) -> bool:
        return self.channel_for(post.account).reply_allowed(post, account=account)

    def send(self, post: OutboundPost) -> SentPost:
        return self.channel_for(post.account).send(post)

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        """Looks on the timeline of the account that posted ``post``."""
        return self.channel_for(post.account).find_sent(post)


def build_x_channel(
    settings: Any,
    *,
    env: Mapping[str, str] | None = None,
    session: requests.Session | None = None,
    clock: Clock | None = None,
    account: str | None = None,
) -> XAccountsChannel:
    """The X channel for ``settings``, from the environment (each variable
    also readable from NAME_FILE):

    * the app: X_API_KEY and X_API_SECRET (always);
    * the default account: X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET (needed
      unless some brand account has its own pair); ``account``, if given, is
      the handle they must belong to;
    * any of the brands' X accounts (``brands[].accounts.x``):
      X_ACCESS_TOKEN__<HANDLE> and X_ACCESS_TOKEN_SECRET__<HANDLE>.

    No request is made: each account's user id is looked up, and checked
    against its handle, on first use. Raises MissingSecretError (a
    ConfigError) naming what is missing, a pair set by half included."""
    env = os.environ if env is None else env
    brand_accounts = configured_accounts(settings, PLATFORM)
    plan = x_posting_credentials(brand_accounts, env)
    secrets = read_secrets(plan.names_to_read(), env=env, purpose="posting on X")

    def channel(handle: str | None, token_names: tuple[str, str]) -> XChannel:
        token, secret = token_names
        client = make_x_client(api_key=secrets["X_API_KEY"], api_secret=secrets["X_API_SECRET"],
                               access_token=secrets[token], access_token_secret=secrets[secret], session=session)
        return XChannel(client=client, account=handle, brand_accounts=brand_accounts, clock=clock,
                        token_names=token_names)

    default = channel(account, X_USER_CREDENTIALS) if X_USER_CREDENTIALS[0] in secrets else None
    own = {handle: channel(handle, pair) for handle, pair in plan.accounts.items()}
    return XAccountsChannel(default=default, accounts=own, brand_accounts=brand_accounts)
