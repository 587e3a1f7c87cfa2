"""A fake X API v2 at the HTTP layer, for ``responses``.

Written from X's public API reference; payloads have the real shapes
(``data`` / ``includes`` / ``meta``, string ids, ``edit_history_tweet_ids``),
and the fake honours what a client asks for: ``expansions``, ``tweet.fields``
and ``user.fields`` decide what is in a response, ``since_id`` / ``until_id``
bound the ids (recent search refuses, with X's 400, a ``since_id`` or
``until_id`` older than its 7 days), ``start_time`` / ``end_time`` bound the
creation times (a ``since_id`` overrides ``start_time``; an unreadable time is X's 400), ``max_results`` is checked against the endpoint's range, and
pages follow ``next_token`` (search) or ``pagination_token`` (timelines).
The user timeline (``GET /2/users/:id/tweets``) honours ``exclude``
(``retweets``, ``replies``); a reply carries ``in_reply_to_user_id`` (when
asked for in ``tweet.fields``) and that user is expanded with the
``in_reply_to_user_id`` expansion.

Links are wrapped in t.co as X does, a bare domain (``acme.com/help``) too.

Stateful: posts created with ``POST /2/tweets`` appear in the author's
timeline and in other users' mentions, a duplicate text is refused with 403
as X does, and a reply is refused unless the post replied to mentioned or
quoted the replying account (X's rule for self-serve apps since Feb 2026).

Several accounts: requests in OAuth 1.0a user context act as the user whose
access token (``oauth_token`` in the Authorization header) they carry:
``access_token`` is the account set with :meth:`FakeXAPI.set_me`, and
:meth:`FakeXAPI.add_account_token` gives another account a token of its own,
so ``GET /2/users/me`` answers, and ``POST /2/tweets`` posts as, that account.
An unknown token is refused with 401.

Faults (see :mod:`tests.fakes.faults`) are queued with :meth:`FakeXAPI.fail`
and hit the next matching request. Endpoint names: ``user_by_username``,
``me``, ``mentions``, ``search``, ``user_tweets``, ``tweet``, ``create``.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import requests
import responses

from tests.fakes import faults as F

X_HOST = "https://api.twitter.com"  # tweepy's host (not api.x.com)
PROBLEM = "https://api.twitter.com/2/problems/"

_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("GET", "user_by_username", re.compile(r"^/2/users/by/username/(?P<username>\w+)$")),
    ("GET", "me", re.compile(r"^/2/users/me$")),
    ("GET", "mentions", re.compile(r"^/2/users/(?P<id>\d+)/mentions$")),
    ("GET", "user_tweets", re.compile(r"^/2/users/(?P<id>\d+)/tweets$")),
    ("GET", "search", re.compile(r"^/2/tweets/search/recent$")),
    ("GET", "tweet", re.compile(r"^/2/tweets/(?P<id>\d+)$")),
    ("POST", "create", re.compile(r"^/2/tweets$")),
]
_RANGES = {"search": (10, 100), "mentions": (5, 100), "user_tweets": (5, 100)}
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
# What X links (and wraps in t.co): a URL with a scheme, and a bare domain of a valid top-level
# domain (``acme.com/help``; not ``status.acme.example``, a reserved name, nor an e-mail address).
_LINK = re.compile(r"https?://\S+|(?<![\w@./-])(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|ly|app|help|info|uk|de|fr|es"
                   r"|it|nl|eu)\b(?:/\S*[^\s.,;:!?)\]])?", re.IGNORECASE)
_OAUTH_PARAM = re.compile(r'(oauth_\w+)="([^"]*)"')
DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER_FIELDS = ("id", "name", "username")


def snowflake_time(post_id: int) -> datetime:
    """When a post id was made: its top bits are milliseconds since X's epoch."""
    return datetime.fromtimestamp(((post_id >> 22) + 1288834974657) / 1000, tz=timezone.utc)


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _created(tweet: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00"))


def _parse_time(value: str) -> datetime | None:
    """A ``start_time``/``end_time`` as X takes it: ISO 8601 in UTC
    (``2026-03-10T09:15:00Z``, fractions allowed); None if unreadable."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?(Z|[+-]00:00)", value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class Call:
    method: str
    endpoint: str
    params: dict[str, str]
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""
    acting_user: str | None = None  # POST /2/tweets: the user id its access token acts as


# --------------------------------------------------------------- query
class _Query:
    """X search syntax, the part brandpulse uses: bare words, quoted phrases,
    ``OR``, parentheses, ``-`` negation, ``from:``, ``is:retweet``,
    ``is:reply``, ``lang:``, ``@handle``, ``#tag``. AND binds tighter than OR."""

    _TOKEN = re.compile(r'\s*(\(|\)|-?"[^"]*"|-?[^\s()"]+)')

    def __init__(self, text: str) -> None:
        if text.count('"') % 2:
            raise ValueError("unbalanced quotes")
        self.tokens = [m.group(1) for m in self._TOKEN.finditer(text)]
        self.pos = 0
        self.tree = self._or()
        if self.pos != len(self.tokens):
            raise ValueError(f"unexpected {self.tokens[self.pos]!r}")

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self):
        terms = [self._and()]
        while self._peek() == "OR":
            self.pos += 1
            terms.append(self._and())
        return ("or", terms) if len(terms) > 1 else terms[0]

    def _and(self):
        terms = []
        while self._peek() not in (None, ")", "OR"):
            terms.append(self._unary())
        if not terms:
            raise ValueError("empty clause")
        return ("and", terms) if len(terms) > 1 else terms[0]

    def _unary(self):
        tok = self.tokens[self.pos]
        if tok == "(":
            self.pos += 1
            inner = self._or()
            if self._peek() != ")":
                raise ValueError("unbalanced parentheses")
            self.pos += 1
            return inner
        self.pos += 1
        if tok.startswith("-") and len(tok) > 1:
            return ("not", self._atom(tok[1:]))
        return self._atom(tok)

    @staticmethod
    def _atom(tok: str):
        if tok.startswith('"'):
            return ("phrase", tok.strip('"'))
        if ":" in tok and not tok.startswith(("@", "#")):
            op, _, value = tok.partition(":")
            return ("op", op, value)
        return ("phrase", tok)

    def matches(self, tweet: dict[str, Any], author: dict[str, Any]) -> bool:
        return self._eval(self.tree, tweet, author)

    def _eval(self, node, tweet, author) -> bool:
        kind = node[0]
        if kind == "or":
            return any(self._eval(n, tweet, author) for n in node[1])
        if kind == "and":
            return all(self._eval(n, tweet, author) for n in node[1])
        if kind == "not":
            return not self._eval(node[1], tweet, author)
        if kind == "phrase":
            words = r"\s+".join(re.escape(w) for w in node[1].split())
            return re.search(rf"(?<![\w]){words}(?!\w)", tweet["text"], re.IGNORECASE) is not None
        op, value = node[1], node[2]
        if op == "from":
            return author.get("username", "").lower() == value.lower()
        if op == "is" and value == "retweet":
            return any(r["type"] == "retweeted" for r in tweet.get("referenced_tweets", []))
        if op == "is" and value == "reply":
            return any(r["type"] == "replied_to" for r in tweet.get("referenced_tweets", []))
        if op == "is" and value == "quote":
            return any(r["type"] == "quoted" for r in tweet.get("referenced_tweets", []))
        if op == "lang":
            return tweet.get("lang") == value
        raise ValueError(f"operator {op}: not supported by the fake")


# ---------------------------------------------------------------- fake
class FakeXAPI:
    """Register with a ``responses.RequestsMock``; seed users and posts; read
    ``calls`` to see what the client sent."""

    def __init__(
        self,
        mock: responses.RequestsMock,
        *,
        now: Callable[[], datetime],
        bearer_token: str = "test-x-bearer-token",
        api_key: str = "test-x-api-key",
        access_token: str = "111-test-x-access-token",
    ) -> None:
        self.now = now
        self.bearer_token = bearer_token
        self.api_key = api_key
        self.access_token = access_token
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[int, dict[str, Any]] = {}
        self.faults = F.FaultQueue()
        self.calls: list[Call] = []
        self.rate_limit = 450
        self.rate_remaining: int | None = 449  # None: no rate headers at all
        self.posts_read = 0  # posts served by the reading endpoints (X bills each read)
        self.redeliver_boundary = False  # also return the post whose id == since_id
        self.me_id: str | None = None  # the account behind the access token
        self.user_tokens: dict[str, str] = {}  # other accounts' access tokens → their user ids
        # X's posting limits (POST /2/tweets), per user and per app: until when used up
        self.posting_limits: dict[str, tuple[datetime, bool, bool]] = {}  # user id → (reset, reset header, daily)
        self.app_posting_limit: datetime | None = None  # the app's 24-hour limit
        self._acting = threading.local()  # the user a request in user context acts as
        self._next_id = 0
        self._next_user = 1000
        pattern = re.compile(re.escape(X_HOST) + r"/2/.*")
        mock.add_callback(responses.GET, pattern, callback=self._handle)
        mock.add_callback(responses.POST, pattern, callback=self._handle)

    # -- seeding ----------------------------------------------------------
    def add_user(self, username: str, *, name: str | None = None, followers: int = 0, verified: bool = False,
                 id: str | None = None) -> dict[str, Any]:
        if id is None:
            self._next_user += 1
            id = str(self._next_user)
        user = {
            "id": id,
            "name": name or username,
            "username": username,
            "verified": verified,
            "public_metrics": {"followers_count": followers, "following_count": 10, "tweet_count": 100, "listed_count": 0},
        }
        self.users[id] = user
        return user

    def user(self, username: str) -> dict[str, Any]:
        for u in self.users.values():
            if u["username"].lower() == username.lstrip("@").lower():
                return u
        raise KeyError(username)

    def set_me(self, username: str) -> dict[str, Any]:
        try:
            me = self.user(username)
        except KeyError:
            me = self.add_user(username)
        self.me_id = me["id"]
        return me

    def add_account_token(self, username: str, token: str | None = None) -> str:
        """Give ``username`` (created if new) an access token of its own, as X's
        3-legged OAuth flow would for the app; returns it."""
        try:
            user = self.user(username)
        except KeyError:
            user = self.add_user(username)
        token = token or f"{user['id']}-test-x-access-token-{user['username'].lower()}"
        self.user_tokens[token] = user["id"]
        return token

    def acting_user(self) -> dict[str, Any]:
        """The user the request being handled acts as (its access token's)."""
        uid = getattr(self._acting, "user_id", None) or self.me_id
        return self.users[uid]

    def _new_id(self, created_at: datetime) -> int:
        """A snowflake: milliseconds since X's epoch, shifted, plus a sequence,
        so ids are chronological whatever order posts are seeded in."""
        self._next_id += 1
        ms = int(created_at.timestamp() * 1000) - 1288834974657
        return (ms << 22) | (self._next_id % 4096)

    def add_tweet(
        self,
        text: str,
        *,
        author: str,
        created_at: datetime | None = None,
        reply_to: str | int | None = None,
        quote: str | int | None = None,
        retweet_of: str | int | None = None,
        lang: str = "en",
    ) -> dict[str, Any]:
        """Store a post as X would; ``author`` is a username (created if new)."""
        try:
            user = self.user(author)
        except KeyError:
            user = self.add_user(author)
        created_at = created_at or self.now()
        tid = self._new_id(created_at)
        refs = []
        conversation = str(tid)
        replied_user = None
        if reply_to is not None:
            parent = self.tweets[int(reply_to)]
            refs.append({"type": "replied_to", "id": parent["id"]})
            conversation = parent["conversation_id"]
            replied_user = parent["author_id"]
        if quote is not None:
            refs.append({"type": "quoted", "id": self.tweets[int(quote)]["id"]})
        if retweet_of is not None:
            refs.append({"type": "retweeted", "id": self.tweets[int(retweet_of)]["id"]})
        urls = []
        for i, m in enumerate(_LINK.finditer(text)):
            short = f"https://t.co/{tid % 10**9:09d}{i}"
            expanded = m.group(0) if "://" in m.group(0) else f"http://{m.group(0)}"  # X adds the scheme
            urls.append({"start": m.start(), "end": m.end(), "url": short, "expanded_url": expanded,
                         "display_url": expanded.split("://", 1)[1][:25]})
        mentions = []
        for m in _MENTION.finditer(text):
            try:
                known = self.user(m.group(1))
            except KeyError:
                continue
            mentions.append({"start": m.start(), "end": m.end(), "username": known["username"], "id": known["id"]})
        # What X gives back: links wrapped in t.co, and &, <, > as HTML entities.
        stored = text
        for u in reversed(urls):
            stored = stored[:u["start"]] + u["url"] + stored[u["end"]:]
        stored = stored.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        tweet: dict[str, Any] = {
            "id": str(tid),
            "text": stored,
            "author_id": user["id"],
            "created_at": _iso(created_at),
            "lang": lang,
            "conversation_id": conversation,
            "edit_history_tweet_ids": [str(tid)],
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0,
                               "bookmark_count": 0, "impression_count": 0},
        }
        if refs:
            tweet["referenced_tweets"] = refs
        if replied_user is not None:
            tweet["in_reply_to_user_id"] = replied_user
        if mentions or urls:
            tweet["entities"] = {k: v for k, v in (("mentions", mentions), ("urls", urls)) if v}
        self.tweets[tid] = tweet
        return tweet

    # -- posting limits --------------------------------------------------------
    def limit_posting(self, username: str, *, until: datetime, reset_header: bool = True, daily: bool = False) -> None:
        """``username``'s posting limit is used up: every post it makes is
        answered 429 until ``until`` (as X does, per user token), with
        ``x-rate-limit-reset`` unless ``reset_header`` is False. ``daily``:
        the user's 24-hour limit is what is used up
        (``x-user-limit-24hour-*``), while ``x-rate-limit-reset`` gives the
        end of the current 15-minute window."""
        self.posting_limits[self.user(username)["id"]] = (until, reset_header, daily)

    def limit_app_posting(self, *, until: datetime) -> None:
        """The app's 24-hour posting limit is used up: every user's post is
        answered 429 until ``until`` (``x-app-limit-24hour-remaining: 0``)."""
        self.app_posting_limit = until

    def posts_tried(self, username: str) -> int:
        """POST /2/tweets requests made as ``username`` (refused ones included)."""
        return sum(1 for c in self.calls_to("create") if c.acting_user == self.user(username)["id"])

    def _posting_limited(self):
        now = self.now()
        uid = self.acting_user()["id"]
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.app_posting_limit is not None and now < self.app_posting_limit:
            reset = str(int(self.app_posting_limit.timestamp()))
            headers.update({"x-app-limit-24hour-limit": "17", "x-app-limit-24hour-remaining": "0",
                            "x-app-limit-24hour-reset": reset})
        elif uid in self.posting_limits and now < self.posting_limits[uid][0]:
            until, reset_header, daily = self.posting_limits[uid]
            window = now + timedelta(minutes=15) if daily else until
            if reset_header:
                headers.update({"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0" if not daily else "99",
                                "x-rate-limit-reset": str(int(window.timestamp()))})
            if daily:
                headers.update({"x-user-limit-24hour-limit": "100", "x-user-limit-24hour-remaining": "0",
                                "x-user-limit-24hour-reset": str(int(until.timestamp()))})
        else:
            return None
        body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
        return 429, headers, json.dumps(body)

    # -- faults -------------------------------------------------------------
    def fail(self, fault: F.Fault | str, *, times: int = 1, endpoint: str | None = None) -> None:
        self.faults.add(fault, times=times, endpoint=endpoint)

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    # -- HTTP -----------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        if self.rate_remaining is None:
            return {}
        reset = int((self.now() + timedelta(minutes=15)).timestamp())
        return {"x-rate-limit-limit": str(self.rate_limit), "x-rate-limit-remaining": str(self.rate_remaining),
                "x-rate-limit-reset": str(reset)}

    def _json(self, status: int, body: Any, extra: dict[str, str] | None = None):
        headers = {"Content-Type": "application/json; charset=utf-8", **self._rate_headers(), **(extra or {})}
        return status, headers, json.dumps(body)

    def _problem(self, status: int, title: str, detail: str, type_: str = "about:blank"):
        return self._json(status, {"title": title, "detail": detail, "type": type_, "status": status})

    def _handle(self, request: requests.PreparedRequest):
        parts = urlsplit(request.url)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        for method, name, pattern in _ROUTES:
            match = pattern.match(parts.path)
            if match and method == request.method:
                break
        else:
            return self._problem(404, "Not Found Error", f"no route {request.method} {parts.path}")
        body = None
        if request.body:
            raw = request.body.decode() if isinstance(request.body, bytes) else request.body
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        self.calls.append(Call(request.method, name, params, body, dict(request.headers), parts.path))

        fault = self.faults.take(name)
        if fault is not None and fault.kind != F.LOST_ACK:
            return self._fault(fault)
        problem = self._check_auth(name, request)
        if problem is not None:
            return problem
        if name == "create":
            self.calls[-1].acting_user = self.acting_user()["id"]
            limited = self._posting_limited()
            if limited is not None:
                return limited
        handler = getattr(self, f"_ep_{name}")
        result = handler(match, params, body)
        if fault is not None:  # LOST_ACK: the work is done, the answer never arrives
            return requests.exceptions.ReadTimeout("Read timed out. (fake: the answer was lost)")
        return result

    def _fault(self, fault: F.Fault):
        if fault.kind == F.RATE_LIMIT:
            if fault.reset_after is None:
                headers: dict[str, str] = {}
            else:
                reset = int((self.now() + fault.reset_after).timestamp())
                headers = {"x-rate-limit-limit": str(self.rate_limit), "x-rate-limit-remaining": "0",
                           "x-rate-limit-reset": str(reset)}
            if fault.body_shape == "problem":
                body: Any = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                             "status": 429}
            else:
                body = {"errors": [{"code": 88, "message": "Rate limit exceeded"}]}
            return 429, {"Content-Type": "application/json", **headers}, json.dumps(body)
        if fault.kind == F.SERVER_ERROR:
            return self._problem(fault.status, "Service Unavailable", "Service Unavailable")
        if fault.kind == F.TIMEOUT:
            return requests.exceptions.ReadTimeout("Read timed out. (fake)")
        if fault.kind == F.CONNECTION:
            return requests.exceptions.ConnectionError("Connection reset by peer (fake)")
        if fault.kind == F.MALFORMED:
            return 200, {"Content-Type": "application/json", **self._rate_headers()}, '{"data": [{"id": "19", "text": "cut of'
        if fault.kind == F.UNAUTHORIZED:
            return self._problem(401, "Unauthorized", "Unauthorized")
        if fault.kind == F.FORBIDDEN:
            return self._json(403, {"client_id": "1", "detail": "When authenticating requests to the Twitter API v2"
                                    " endpoints, you must use keys and tokens from a Twitter developer App that is"
                                    " attached to a Project.", "registration_url": "https://developer.x.com/",
                                    "title": "Client Forbidden", "required_enrollment": "Appropriate Level of API Access",
                                    "reason": "client-not-enrolled", "type": PROBLEM + "client-forbidden"})
        if fault.kind == F.EMPTY:
            return self._json(200, {"meta": {"result_count": 0}})
        raise ValueError(f"fault {fault.kind} does not apply to X")

    def _check_auth(self, name: str, request: requests.PreparedRequest):
        auth = request.headers.get("Authorization", "")
        self._acting.user_id = None
        user_context = False
        if auth.startswith("OAuth "):
            oauth = {k: unquote(v) for k, v in _OAUTH_PARAM.findall(auth)}
            token = oauth.get("oauth_token")
            if oauth.get("oauth_consumer_key") == self.api_key:
                if token == self.access_token:
                    user_context, self._acting.user_id = True, self.me_id
                elif token in self.user_tokens:
                    user_context, self._acting.user_id = True, self.user_tokens[token]
        if name in ("create", "me"):
            if not user_context:
                return self._json(403 if auth.startswith("Bearer ") else 401, {
                    "title": "Unsupported Authentication",
                    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint."
                              "  Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "type": PROBLEM + "unsupported-authentication", "status": 403,
                } if auth.startswith("Bearer ") else {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                                      "detail": "Unauthorized"})
            return None
        if user_context or auth == f"Bearer {self.bearer_token}":
            return None
        return self._problem(401, "Unauthorized", "Unauthorized")

    # -- serialisation ----------------------------------------------------------
    @staticmethod
    def _fields(params: dict[str, str], key: str) -> set[str]:
        return {f for f in params.get(key, "").split(",") if f}

    def _shape_tweet(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in tweet.items() if k in DEFAULT_TWEET_FIELDS or k in fields}

    def _shape_user(self, user: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in user.items() if k in DEFAULT_USER_FIELDS or k in fields}

    def _includes(self, tweets: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        expansions = self._fields(params, "expansions")
        tweet_fields = self._fields(params, "tweet.fields")
        user_fields = self._fields(params, "user.fields")
        user_ids: list[str] = []
        ref_tweets: list[dict[str, Any]] = []
        for t in tweets:
            if "author_id" in expansions:
                user_ids.append(t["author_id"])
            if "entities.mentions.username" in expansions:
                user_ids.extend(m["id"] for m in t.get("entities", {}).get("mentions", []))
            if "in_reply_to_user_id" in expansions and t.get("in_reply_to_user_id"):
                user_ids.append(t["in_reply_to_user_id"])
            for ref in t.get("referenced_tweets", []):
                target = self.tweets.get(int(ref["id"]))
                if target is None:
                    continue
                if "referenced_tweets.id" in expansions:
                    ref_tweets.append(target)
                if "referenced_tweets.id.author_id" in expansions:
                    user_ids.append(target["author_id"])
        includes: dict[str, Any] = {}
        seen_users = list(dict.fromkeys(u for u in user_ids if u in self.users))
        if seen_users:
            includes["users"] = [self._shape_user(self.users[u], user_fields) for u in seen_users]
        if ref_tweets:
            unique = {t["id"]: t for t in ref_tweets}
            includes["tweets"] = [self._shape_tweet(t, tweet_fields) for t in unique.values()]
        return includes

    def _visible(self, tweet: dict[str, Any]) -> bool:
        """A post seeded with a future time does not exist yet."""
        return datetime.fromisoformat(tweet["created_at"].replace("Z", "+00:00")) <= self.now()

    def _page(self, endpoint: str, candidates: list[dict[str, Any]], params: dict[str, str], token_param: str):
        low, high = _RANGES[endpoint]
        try:
            max_results = int(params.get("max_results", "10"))
        except ValueError:
            max_results = -1
        if not low <= max_results <= high:
            return self._json(400, {"errors": [{"parameters": {"max_results": [params.get("max_results")]},
                                                "message": f"The `max_results` query parameter value [{params.get('max_results')}]"
                                                           f" is not between {low} and {high}"}],
                                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                                    "type": PROBLEM + "invalid-request"})
        since = int(params["since_id"]) if params.get("since_id") else None
        until = int(params["until_id"]) if params.get("until_id") else None
        times = {}
        for bound in ("start_time", "end_time"):
            value = params.get(bound)
            if not value:
                continue
            parsed = _parse_time(value)
            if parsed is None:
                return self._json(400, {"errors": [{"parameters": {bound: [value]},
                                                    "message": f"Invalid '{bound}':'{value}'."}],
                                        "title": "Invalid Request",
                                        "detail": "One or more parameters to your request was invalid.",
                                        "type": PROBLEM + "invalid-request"})
            times[bound] = parsed
        if since is not None:
            times.pop("start_time", None)  # X: since_id takes precedence over start_time
        rows = sorted((t for t in candidates if self._visible(t)), key=lambda t: int(t["id"]), reverse=True)
        rows = [t for t in rows if (since is None or int(t["id"]) > since) and (until is None or int(t["id"]) < until)]
        if times:  # X: created at or after start_time, before end_time
            rows = [t for t in rows if ("start_time" not in times or _created(t) >= times["start_time"])
                    and ("end_time" not in times or _created(t) < times["end_time"])]
        token = params.get(token_param)
        if token:
            if not token.startswith("pg") or not token[2:].isdigit():
                return self._json(400, {"errors": [{"message": f"Invalid {token_param}"}], "title": "Invalid Request",
                                        "type": PROBLEM + "invalid-request"})
            below = int(token[2:])
            rows = [t for t in rows if int(t["id"]) < below]
        page, rest = rows[:max_results], rows[max_results:]
        if self.redeliver_boundary and since is not None and since in self.tweets and not token:
            page = page + [self.tweets[since]]  # a duplicate delivery: the boundary post again
        if not page:
            return self._json(200, {"meta": {"result_count": 0}})
        tweet_fields = self._fields(params, "tweet.fields")
        meta: dict[str, Any] = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if rest:
            meta["next_token"] = f"pg{page[-1]['id']}" if rest else None
        self.posts_read += len(page)
        body: dict[str, Any] = {"data": [self._shape_tweet(t, tweet_fields) for t in page]}
        includes = self._includes(page, params)
        if includes:
            body["includes"] = includes
        body["meta"] = meta
        return self._json(200, body)

    # -- endpoints --------------------------------------------------------------
    def _ep_user_by_username(self, match, params, body):
        try:
            user = self.user(match["username"])
        except KeyError:
            return self._json(200, {"errors": [{"value": match["username"], "detail": f"Could not find user with username: [{match['username']}].",
                                                "title": "Not Found Error", "resource_type": "user", "parameter": "username",
                                                "resource_id": match["username"], "type": PROBLEM + "resource-not-found"}]})
        return self._json(200, {"data": self._shape_user(user, self._fields(params, "user.fields"))})

    def _ep_me(self, match, params, body):
        return self._json(200, {"data": self._shape_user(self.acting_user(), self._fields(params, "user.fields"))})

    def _ep_tweet(self, match, params, body):
        tweet = self.tweets.get(int(match["id"]))
        if tweet is None or not self._visible(tweet):
            return self._json(200, {"errors": [{"title": "Not Found Error", "type": PROBLEM + "resource-not-found"}]})
        out = {"data": self._shape_tweet(tweet, self._fields(params, "tweet.fields"))}
        includes = self._includes([tweet], params)
        if includes:
            out["includes"] = includes
        return self._json(200, out)

    def _ep_mentions(self, match, params, body):
        uid = match["id"]
        if uid not in self.users:
            return self._json(200, {"errors": [{"title": "Not Found Error", "type": PROBLEM + "resource-not-found"}]})
        rows = [t for t in self.tweets.values()
                if any(m.get("id") == uid for m in t.get("entities", {}).get("mentions", []))]
        return self._page("mentions", rows, params, "pagination_token")

    def _ep_user_tweets(self, match, params, body):
        uid = match["id"]
        if uid not in self.users:
            return self._json(200, {"errors": [{"title": "Not Found Error", "type": PROBLEM + "resource-not-found"}]})
        exclude = self._fields(params, "exclude")
        if not exclude <= {"retweets", "replies"}:
            return self._json(400, {"errors": [{"parameters": {"exclude": [params["exclude"]]},
                                                "message": f"The `exclude` query parameter value [{params['exclude']}]"
                                                           " is not one of [retweets,replies]"}],
                                    "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
                                    "type": PROBLEM + "invalid-request"})

        def kept(t: dict[str, Any]) -> bool:
            kinds = {r["type"] for r in t.get("referenced_tweets", [])}
            return not (("retweets" in exclude and "retweeted" in kinds) or ("replies" in exclude and "replied_to" in kinds))

        rows = [t for t in self.tweets.values() if t["author_id"] == uid and kept(t)]
        return self._page("user_tweets", rows, params, "pagination_token")

    def _ep_search(self, match, params, body):
        try:
            query = _Query(params.get("query", ""))
        except ValueError as exc:
            return self._json(400, {"errors": [{"message": f"There were errors processing your request: {exc}"}],
                                    "title": "Invalid Request", "type": PROBLEM + "invalid-request"})
        if len(params.get("query", "")) > 512:
            return self._json(400, {"errors": [{"message": "query too long"}], "title": "Invalid Request",
                                    "type": PROBLEM + "invalid-request"})
        week_ago = self.now() - timedelta(days=7)
        too_old = [{"parameters": {bound: [value]},
                    "message": f"Invalid '{bound}':'{value}'. '{bound}' must be a tweet id created after {_iso(week_ago)}."}
                   for bound, value in ((b, params.get(b, "")) for b in ("since_id", "until_id"))
                   if value.isdigit() and snowflake_time(int(value)) < week_ago]
        if too_old:  # recent search refuses ids older than it serves, naming each
            return self._json(400, {"errors": too_old, "title": "Invalid Request",
                                    "detail": "One or more parameters to your request was invalid.",
                                    "type": PROBLEM + "invalid-request"})
        rows = [t for t in self.tweets.values()
                if datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) >= week_ago
                and query.matches(t, self.users.get(t["author_id"], {}))]
        return self._page("search", rows, params, "next_token")

    def _ep_create(self, match, params, body):
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"].strip():
            return self._json(400, {"errors": [{"message": "text is required"}], "title": "Invalid Request",
                                    "type": PROBLEM + "invalid-request"})
        me = self.acting_user()
        text = body["text"]
        if any(t["author_id"] == me["id"] and t.get("_sent_text") == text for t in self.tweets.values()):
            return self._problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        reply_to = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if reply_to is not None:
            target = self.tweets.get(int(reply_to))
            if target is None:
                return self._json(400, {"errors": [{"message": "Your Tweet could not be sent: the post you are replying to does not exist."}],
                                        "title": "Invalid Request", "type": PROBLEM + "invalid-request"})
            mentioned = any(m.get("id") == me["id"] for m in target.get("entities", {}).get("mentions", []))
            quoted = any(r["type"] == "quoted" and self.tweets.get(int(r["id"]), {}).get("author_id") == me["id"]
                         for r in target.get("referenced_tweets", []))
            if not (mentioned or quoted or target["author_id"] == me["id"]):
                return self._problem(403, "Forbidden", "Reply to this conversation is not allowed because you have not"
                                     " been mentioned or otherwise engaged by the author of the post you are replying to.")
        tweet = self.add_tweet(text, author=me["username"], reply_to=reply_to, quote=body.get("quote_tweet_id"))
        tweet["_sent_text"] = text  # the fake's own memory, never served (not a requested field)
        return self._json(201, {"data": {"id": tweet["id"], "text": tweet["text"],
                                         "edit_history_tweet_ids": tweet["edit_history_tweet_ids"]}})
