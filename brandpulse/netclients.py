"""The one place brandpulse builds network clients for X and Reddit.

Both the listener (reading) and outreach (posting) talk to the same two
platforms, but must not import each other; they both get their clients from
here. Every builder accepts the ``requests`` session to use, so tests hand in
a session that the ``responses`` fake sees, and every client is configured to
fail fast rather than wait:

* tweepy: ``wait_on_rate_limit`` off (it would sleep until the reset and then
  call itself again; without a reset header it recurses), a timeout on every
  request (tweepy sets none), and ``return_type=requests.Response`` so the
  caller sees status, headers and the raw body and converts JSON to our own
  types itself.
* praw/prawcore: no update check, no proactive sleeping in prawcore's rate
  limiter, no automatic retries (prawcore retries POSTs on 5xx and timeouts,
  which can create a reply twice; brandpulse retries on a later poll or
  reconciles an outbox row instead), and a ``ratelimit_seconds`` below zero so
  praw never sleeps on a ``RATELIMIT`` answer either.

Platform types do not leave the modules that use these clients; this module
only builds them (a Reddit client also from the REDDIT_* credentials, which
reading and posting share). tweepy and praw are imported lazily, inside the
builders.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import requests

import brandpulse
from brandpulse.secrets import MissingSecretError, Secret, read_secrets, redact_in_logs

X_API_HOST = "https://api.twitter.com"  # tweepy's hard-coded host
REDDIT_OAUTH_URL = "https://oauth.reddit.com"
REDDIT_URL = "https://www.reddit.com"
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 30.0)  # (connect, read) seconds
APP_ID = "brandpulse"
# Reddit: one script app (client id and secret) and the accounts it logs in
# as (password grant). REDDIT_USERNAME and REDDIT_PASSWORD are the default
# account's (a source reads as it unless it names an ``account``); another
# brand account's password is named after its handle (see
# reddit_account_password_name), for posting and reading alike.
REDDIT_APP_CREDENTIALS = ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET")
REDDIT_USER_CREDENTIALS = ("REDDIT_USERNAME", "REDDIT_PASSWORD")
REDDIT_CREDENTIALS = (*REDDIT_APP_CREDENTIALS, *REDDIT_USER_CREDENTIALS)
REDDIT_ACCOUNT_PASSWORD_PREFIX = "REDDIT_PASSWORD__"

# X posting (OAuth 1.0a user context): one app (consumer key and secret) and
# one access token and secret per account it posts as. X_ACCESS_TOKEN and
# X_ACCESS_TOKEN_SECRET are the default account's; another account's pair is
# named after its handle (see x_account_credential_names).
X_APP_CREDENTIALS = ("X_API_KEY", "X_API_SECRET")
X_USER_CREDENTIALS = ("X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
X_ACCOUNT_TOKEN_PREFIX = "X_ACCESS_TOKEN__"
X_ACCOUNT_SECRET_PREFIX = "X_ACCESS_TOKEN_SECRET__"


class HttpSession(requests.Session):
    """A ``requests.Session`` with a default timeout that remembers the last
    response it received (per thread), so callers can read rate-limit headers
    and the raw body even when the client library raised or hid them."""

    def __init__(self, *, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT, enforce: bool = False) -> None:
        """``enforce``: use ``timeout`` even when the caller passes its own
        (prawcore always passes its module constant, 16 s)."""
        super().__init__()
        self.default_timeout = timeout
        self.enforce = enforce
        self._local = threading.local()

    @property
    def last_response(self) -> requests.Response | None:
        return getattr(self._local, "response", None)

    def forget_last_response(self) -> None:
        self._local.response = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.enforce or kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        self._local.response = None
        response = super().request(method, url, *args, **kwargs)
        self._local.response = response
        return response


# ---------------------------------------------------------------------- X
def make_x_client(
    *,
    bearer_token: Secret | None = None,
    api_key: Secret | None = None,
    api_secret: Secret | None = None,
    access_token: Secret | None = None,
    access_token_secret: Secret | None = None,
    session: requests.Session | None = None,
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
):
    """A ``tweepy.Client`` that returns raw ``requests.Response`` objects,
    never sleeps and never recurses on a 429, and times out."""
    import tweepy

    secrets = [s for s in (bearer_token, api_key, api_secret, access_token, access_token_secret) if s is not None]
    redact_in_logs(secrets)

    def reveal(secret: Secret | None) -> str | None:
        return secret.reveal() if secret is not None else None

    client = tweepy.Client(
        bearer_token=reveal(bearer_token),
        consumer_key=reveal(api_key),
        consumer_secret=reveal(api_secret),
        access_token=reveal(access_token),
        access_token_secret=reveal(access_token_secret),
        return_type=requests.Response,
        wait_on_rate_limit=False,
    )
    if session is None:
        session = HttpSession(timeout=timeout)
    elif isinstance(session, HttpSession):
        session.default_timeout = timeout
    client.session = session
    client.user_agent = f"{client.user_agent} {APP_ID}/{brandpulse.__version__}"
    return client


def bare_handle(handle: str) -> str:
    """A handle without its platform's prefix ('@' on X, 'u/' or '/u/' on Reddit)."""
    return handle.strip().lstrip("@").removeprefix("/u/").removeprefix("u/")


def account_key(handle: str) -> str:
    """The suffix of an account's own credential variables: the handle
    without '@' (X) or 'u/' (Reddit), upper-cased, every character other than
    A-Z and 0-9 replaced by '_' (``@KestrelAir_Help`` → ``KESTRELAIR_HELP``).
    Handles are compared without case on X and Reddit, and so are these names."""
    bare = bare_handle(handle)
    if not bare:
        raise ValueError("a handle is needed to name its credentials")
    return re.sub(r"[^A-Z0-9]", "_", bare.upper())


def x_account_credential_names(handle: str) -> tuple[str, str]:
    """The environment variables holding the access token and secret of the X
    account ``handle`` (each also readable from NAME_FILE), e.g.
    ``X_ACCESS_TOKEN__KESTRELAIRHELP`` and ``X_ACCESS_TOKEN_SECRET__KESTRELAIRHELP``."""
    key = account_key(handle)
    return f"{X_ACCOUNT_TOKEN_PREFIX}{key}", f"{X_ACCOUNT_SECRET_PREFIX}{key}"


def reddit_account_password_name(handle: str) -> str:
    """The environment variable holding the password of the Reddit account
    ``handle`` (also readable from NAME_FILE), e.g. ``REDDIT_PASSWORD__KESTREL_CARE``
    for u/Kestrel_Care; it logs in through the app of REDDIT_CLIENT_ID."""
    return f"{REDDIT_ACCOUNT_PASSWORD_PREFIX}{account_key(handle)}"


def account_credential_names(platform: str, handle: str) -> tuple[str, ...]:
    """The variables holding the posting credentials of ``platform``'s
    account ``handle``: its X token pair, or its Reddit password."""
    if platform == "x":
        return x_account_credential_names(handle)
    return (reddit_account_password_name(handle),)


def colliding_accounts(handles: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of different accounts among ``handles`` (compared without case,
    '@' and 'u/') whose credential variables would be the same
    (:func:`account_key`: u/a-b and u/a_b both read REDDIT_PASSWORD__A_B), so
    one of them could never post; each with the first account of that key."""
    first: dict[str, str] = {}
    pairs: list[tuple[str, str]] = []
    for handle in handles:
        bare = bare_handle(handle)
        if not bare:
            continue
        seen = first.setdefault(account_key(bare), bare)
        if seen.lower() != bare.lower() and not any(b.lower() == bare.lower() for _, b in pairs):
            pairs.append((seen, bare))
    return pairs


def _is_set(name: str, env: Mapping[str, str]) -> bool:
    return bool(env.get(name) or env.get(f"{name}_FILE"))


@dataclass(frozen=True)
class PostingCredentials:
    """Which posting credentials of one network the environment holds, by
    name only (no value is read): what its live channel will read and the
    start-up check reports. A variable counts as set when NAME or NAME_FILE
    is. The network's app credentials (``app``: X_API_KEY, X_API_SECRET;
    REDDIT_CLIENT_ID, REDDIT_CLIENT_SECRET), its default account's (``user``:
    X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET; REDDIT_USERNAME, REDDIT_PASSWORD)
    and each brand account's own (X: a token pair; Reddit: a password)."""

    app: tuple[str, ...]
    user: tuple[str, ...]
    app_missing: tuple[str, ...]  # of app
    default: bool  # one of user is set
    default_missing: tuple[str, ...]  # of user, when it is (partly) set or nothing else is
    accounts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # handle → its own names, when (partly) set
    incomplete: dict[str, tuple[str, ...]] = field(default_factory=dict)  # handle → names missing from its own
    without: tuple[str, ...] = ()  # the brands' accounts none of whose own names is set
    unknown: tuple[str, ...] = ()  # per-account variables naming no brand account

    @property
    def any_user(self) -> bool:
        """Some account's token pair is (at least partly) set."""
        return self.default or bool(self.accounts)

    @property
    def present(self) -> list[str]:
        names = [n for n in self.app if n not in self.app_missing]
        if self.default:
            names += [n for n in self.user if n not in self.default_missing]
        for pair in self.accounts.values():
            names += list(pair)
        return names

    @property
    def missing(self) -> list[str]:
        """What must still be set before the channel can be built: the app's
        credentials, and the default pair when no account has a pair of its
        own (or the missing halves of pairs that are partly set)."""
        names = list(self.app_missing)
        if self.default or not self.accounts:
            names += list(self.default_missing)
        for missing in self.incomplete.values():
            names += list(missing)
        return names

    def names_to_read(self) -> list[str]:
        names = list(self.app)
        if self.default or not self.accounts:
            names += list(self.user)
        for pair in self.accounts.values():
            names += list(pair)
        return names


def posting_credentials(handles: Iterable[str], env: Mapping[str, str], *, app: tuple[str, ...],
                        user: tuple[str, ...], own_names: Callable[[str], tuple[str, ...]],
                        prefixes: tuple[str, ...]) -> PostingCredentials:
    """What ``env`` holds of one network's posting credentials for the brand
    accounts ``handles`` (duplicates, '@', 'u/' and case ignored):
    ``own_names(handle)`` names an account's own variables, all starting with
    one of ``prefixes``."""
    unique: dict[str, str] = {}
    for handle in handles:
        bare = bare_handle(handle)
        if bare:
            unique.setdefault(account_key(bare), bare)
    accounts: dict[str, tuple[str, ...]] = {}
    incomplete: dict[str, tuple[str, ...]] = {}
    without: list[str] = []
    expected: set[str] = set()
    for handle in unique.values():
        names = own_names(handle)
        expected.update((*names, *(f"{n}_FILE" for n in names)))
        set_ = [n for n in names if _is_set(n, env)]
        if not set_:
            without.append(handle)
            continue
        accounts[handle] = names
        if len(set_) < len(names):
            incomplete[handle] = tuple(n for n in names if n not in set_)
    default_set = [n for n in user if _is_set(n, env)]
    unknown = sorted(k for k in env if k.startswith(prefixes) and k not in expected)
    return PostingCredentials(
        app=app,
        user=user,
        app_missing=tuple(n for n in app if not _is_set(n, env)),
        default=bool(default_set),
        default_missing=tuple(n for n in user if n not in default_set),
        accounts=accounts,
        incomplete=incomplete,
        without=tuple(without),
        unknown=tuple(unknown),
    )


def x_posting_credentials(handles: Iterable[str], env: Mapping[str, str]) -> PostingCredentials:
    """What ``env`` holds of the X posting credentials for the brand accounts
    ``handles``: the app's, X_ACCESS_TOKEN / X_ACCESS_TOKEN_SECRET, and the
    accounts' own pairs (:func:`x_account_credential_names`)."""
    return posting_credentials(handles, env, app=X_APP_CREDENTIALS, user=X_USER_CREDENTIALS,
                               own_names=x_account_credential_names,
                               prefixes=(X_ACCOUNT_TOKEN_PREFIX, X_ACCOUNT_SECRET_PREFIX))


def reddit_posting_credentials(handles: Iterable[str], env: Mapping[str, str]) -> PostingCredentials:
    """What ``env`` holds of the Reddit posting credentials for the brand
    accounts ``handles``: the app's, REDDIT_USERNAME / REDDIT_PASSWORD (the
    default account), and the accounts' own passwords
    (:func:`reddit_account_password_name`)."""
    return posting_credentials(handles, env, app=REDDIT_APP_CREDENTIALS, user=REDDIT_USER_CREDENTIALS,
                               own_names=lambda handle: (reddit_account_password_name(handle),),
                               prefixes=(REDDIT_ACCOUNT_PASSWORD_PREFIX,))


# ----------------------------------------------------------------- Reddit
def reddit_user_agent(username: str, *, app_id: str = APP_ID, version: str | None = None) -> str:
    """The User-Agent Reddit requires: ``<platform>:<app id>:<version> (by /u/<username>)``."""
    return f"python:{app_id}:{version or brandpulse.__version__} (by /u/{username})"


def _no_retry_strategy_class():
    from prawcore.sessions import RetryStrategy

    class NoRetry(RetryStrategy):
        """One attempt, no sleeping: a failure surfaces at once."""

        def _sleep_seconds(self) -> float | None:
            return None

        def consume_available_retry(self) -> "NoRetry":
            return self

        def should_retry_on_failure(self) -> bool:
            return False

    return NoRetry


def _non_sleeping_rate_limiter(window_size: int):
    from prawcore.rate_limit import RateLimiter

    class HeaderOnlyRateLimiter(RateLimiter):
        """Keeps prawcore's bookkeeping of the ``x-ratelimit-*`` headers but
        never sleeps: the caller reads the headers and schedules the next
        poll or send itself."""

        def delay(self) -> None:
            return None

    return HeaderOnlyRateLimiter(window_size=window_size)


def make_reddit_client(
    *,
    client_id: Secret,
    client_secret: Secret,
    username: str,
    password: Secret,
    user_agent: str | None = None,
    session: requests.Session | None = None,
    oauth_url: str = REDDIT_OAUTH_URL,
    reddit_url: str = REDDIT_URL,
    timeout: float = 30.0,
):
    """A script-app ``praw.Reddit`` that never sleeps and never retries."""
    import praw

    redact_in_logs([client_id, client_secret, password])
    if session is None:
        session = HttpSession(timeout=timeout, enforce=True)
    elif isinstance(session, HttpSession):
        session.default_timeout, session.enforce = timeout, True
    reddit = praw.Reddit(
        client_id=client_id.reveal(),
        client_secret=client_secret.reveal(),
        username=username,
        password=password.reveal(),
        user_agent=user_agent or reddit_user_agent(username),
        oauth_url=oauth_url,
        reddit_url=reddit_url,
        check_for_updates=False,
        check_for_async=False,
        ratelimit_seconds=-1,  # praw sleeps when the wait is <= this; never
        timeout=int(timeout),
        requestor_kwargs={"session": session, "timeout": timeout},
    )
    no_retry = _no_retry_strategy_class()
    cores = {id(c): c for c in (getattr(reddit, "_core", None), getattr(reddit, "_authorized_core", None),
                                getattr(reddit, "_read_only_core", None)) if c is not None}
    if not cores:  # pragma: no cover - a praw release changed its internals
        raise RuntimeError("cannot configure praw: no prawcore session found (unsupported praw version?)")
    for core in cores.values():
        if not hasattr(core, "_retry_strategy_class") or not hasattr(core, "_rate_limiter"):  # pragma: no cover
            raise RuntimeError("cannot configure prawcore retries/rate limiter (unsupported prawcore version?)")
        core._retry_strategy_class = no_retry
        core._rate_limiter = _non_sleeping_rate_limiter(core._rate_limiter.window_size)
    return reddit


def reddit_login_names(account: str | None, env: Mapping[str, str]) -> tuple[str, ...]:
    """The variables whose values log in as the Reddit account ``account``
    (None: the default account), the app's first: REDDIT_USERNAME and
    REDDIT_PASSWORD for the default account; for a named one REDDIT_USERNAME
    and REDDIT_PASSWORD when REDDIT_USERNAME is that account (compared without
    'u/' and case) and it has no password of its own, else its own password
    (REDDIT_PASSWORD__<HANDLE>), as the posting channel decides. Only names
    are looked at, and REDDIT_USERNAME's value (not a secret: it is in every
    User-Agent)."""
    if account is None:
        return REDDIT_CREDENTIALS
    own = reddit_account_password_name(account)
    default_user = (env.get(REDDIT_USER_CREDENTIALS[0]) or "").strip()
    if not _is_set(own, env) and default_user and bare_handle(default_user).lower() == bare_handle(account).lower():
        return REDDIT_CREDENTIALS
    return (*REDDIT_APP_CREDENTIALS, own)


def reddit_client_from_env(
    *,
    purpose: str,
    env: Mapping[str, str] | None = None,
    app_id: str = APP_ID,
    account: str | None = None,
    session: requests.Session | None = None,
    timeout: float = 30.0,
    oauth_url: str | None = None,
    reddit_url: str | None = None,
) -> tuple[Any, str, tuple[str, ...]]:
    """:func:`make_reddit_client` for the script app whose credentials are in
    REDDIT_CLIENT_ID and REDDIT_CLIENT_SECRET, logged in as ``account`` (its
    password in REDDIT_PASSWORD__<HANDLE>, or REDDIT_USERNAME/REDDIT_PASSWORD
    when those are its own; see :func:`reddit_login_names`) or, without one,
    as REDDIT_USERNAME with REDDIT_PASSWORD (each variable also readable from
    NAME_FILE; ``env`` defaults to the process environment). Returns the
    client, the account's username and the variables its login came from
    (for error messages). Raises MissingSecretError (a ConfigError) naming
    every missing credential and ``purpose``."""
    env = os.environ if env is None else env
    names = reddit_login_names(account, env)
    try:
        secrets = read_secrets(names, env=env, purpose=purpose)
    except MissingSecretError as exc:
        own = reddit_account_password_name(account) if account is not None else None
        if own not in exc.names:
            raise
        default_user = (env.get(REDDIT_USER_CREDENTIALS[0]) or "").strip()
        hint = (f": the password of u/{bare_handle(account or '')}, which logs in through the app of"
                f" {REDDIT_APP_CREDENTIALS[0]}" + (f" ({REDDIT_USER_CREDENTIALS[0]} is u/{bare_handle(default_user)})"
                                                  if default_user else ""))
        problems = [p + hint if n == own else p for n, p in zip(exc.names, exc.problems)]
        raise MissingSecretError(problems, names=exc.names) from None
    if REDDIT_USER_CREDENTIALS[0] in secrets:
        username, password = secrets[REDDIT_USER_CREDENTIALS[0]].reveal(), secrets[REDDIT_USER_CREDENTIALS[1]]
    else:
        username, password = bare_handle(account or ""), secrets[names[-1]]
    client = make_reddit_client(
        client_id=secrets["REDDIT_CLIENT_ID"],
        client_secret=secrets["REDDIT_CLIENT_SECRET"],
        username=username,
        password=password,
        user_agent=reddit_user_agent(username, app_id=app_id),
        session=session,
        oauth_url=oauth_url or REDDIT_OAUTH_URL,
        reddit_url=reddit_url or REDDIT_URL,
        timeout=timeout,
    )
    return client, username, names


def http_session_of(client: Any) -> HttpSession | None:
    """The :class:`HttpSession` under a tweepy or praw client, if it uses one."""
    session = getattr(client, "session", None)  # tweepy
    if isinstance(session, HttpSession):
        return session
    try:  # praw: Reddit._core._authorizer._authenticator._requestor._http
        http = client._core._authorizer._authenticator._requestor._http
    except AttributeError:
        return None
    return http if isinstance(http, HttpSession) else None
