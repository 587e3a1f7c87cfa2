"""A fake Reddit API at the HTTP layer, for ``responses``.

Written from Reddit's API documentation. Two hosts, as praw uses them: the
token endpoint on ``www.reddit.com`` (script-app password grant, HTTP basic
auth with the client id and secret) and the API on ``oauth.reddit.com``
(``Authorization: bearer <token>``). Listings have the real shape
(``{"kind": "Listing", "data": {"after", "before", "dist", "children"}}``,
children ``t3`` submissions and ``t1`` comments with their usual fields: a
submission carries its subreddit's member count ``subreddit_subscribers``
(``members``, per subreddit), a comment of ``/r/{sub}/comments`` does not,
as on Reddit; it carries its thread's ``num_comments``) and
page with ``after`` / ``before`` / ``limit`` the way Reddit does: newest
first, ``after`` = older than that fullname, ``before`` = newer than it.

Stateful: ``POST /api/comment/`` creates a comment that appears in the
subreddit's comment listing and in the account's comment history;
``POST /api/submit/`` creates a self post. Responses carry
``x-ratelimit-remaining`` (a float string), ``x-ratelimit-used`` (an int
string) and ``x-ratelimit-reset`` (seconds) as Reddit sends them. A subreddit
in ``closed`` answers its listings as Reddit does a private or quarantined
(403) or banned (404) one, with ``{"reason": ...}``.

Several accounts: ``add_account`` lets another user log in through the same
app (its own password); each access token acts as the user who logged in,
so a comment or submission is that user's and ``fail(..., account=...)``
answers only that user's requests with the fault (e.g. a RATELIMIT).

Access tokens: each login issues a new one, valid until ``tokens`` loses it
(``tokens.clear()``: Reddit revoked them). With ``token_lifetime`` set, a
token says so in its ``expires_in`` and Reddit refuses it (401
``invalid_token``, as for any token it does not accept) once the fake clock
is past its issue time plus that lifetime; prawcore's own notion of expiry
runs on the real monotonic clock, so it keeps sending the token, as it does
for up to 10 s past ``expires_in`` against Reddit.

Endpoint names for faults: ``token``, ``new``, ``comments``, ``info``,
``user_comments``, ``user_submitted``, ``me``, ``comment``, ``submit``.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import requests
import responses

from tests.fakes import faults as F

REDDIT_URL = "https://www.reddit.com"
OAUTH_URL = "https://oauth.reddit.com"
DEFAULT_MEMBERS = 48_210  # a subreddit's members unless ``members`` names it

_API_ROUTES: list[tuple[str, str, re.Pattern[str]]] = [
    ("GET", "new", re.compile(r"^/r/(?P<sub>\w+)/new/?$")),
    ("GET", "comments", re.compile(r"^/r/(?P<sub>\w+)/comments/?$")),
    ("GET", "info", re.compile(r"^/api/info/?$")),
    ("GET", "user_comments", re.compile(r"^/user/(?P<name>[\w-]+)/comments/?$")),
    ("GET", "user_submitted", re.compile(r"^/user/(?P<name>[\w-]+)/submitted/?$")),
    ("GET", "me", re.compile(r"^/api/v1/me/?$")),
    ("POST", "comment", re.compile(r"^/api/comment/?$")),
    ("POST", "submit", re.compile(r"^/api/submit/?$")),
]
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def b36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50] or "post"


@dataclass
class Call:
    method: str
    endpoint: str
    params: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    acting_user: str | None = None  # the user whose access token made the request


class FakeRedditAPI:
    def __init__(
        self,
        mock: responses.RequestsMock,
        *,
        now: Callable[[], datetime],
        client_id: str = "test-reddit-client-id",
        client_secret: str = "test-reddit-client-secret",
        username: str = "AcmeAir_Team",
        password: str = "test-reddit-password",
        reddit_url: str = REDDIT_URL,
        oauth_url: str = OAUTH_URL,
    ) -> None:
        self.now = now
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.passwords: dict[str, str] = {}  # other accounts that may log in (add_account)
        self.names: dict[str, str] = {username.lower(): username}
        self.acting = username  # the user the request being answered acts as
        self.token_users: dict[str, str] = {}  # access token -> username
        self.account_faults: dict[str, F.FaultQueue] = {}  # lower-case username -> faults for its requests only
        self.things: dict[str, dict[str, Any]] = {}  # fullname -> data
        self.kinds: dict[str, str] = {}  # fullname -> "t1" | "t3"
        self.user_ids: dict[str, str] = {}
        # Members per subreddit (lower-case name), as submissions report them in subreddit_subscribers.
        self.members: dict[str, int] = {}
        # Subreddits closed to the API (lower-case name -> Reddit's reason): "private" and
        # "quarantined" answer 403, "banned" 404, each with Reddit's {"reason": ...} body.
        self.closed: dict[str, str] = {}
        self.faults = F.FaultQueue()
        self.calls: list[Call] = []
        self.tokens: set[str] = set()
        self.token_lifetime: timedelta | None = None  # None: tokens say 86400 s and Reddit never ends them by age
        self.token_expires: dict[str, datetime] = {}  # access token -> when Reddit stops accepting it
        self.rate_remaining: float | None = 99.0  # None: no rate headers
        self.rate_used = 1
        self.rate_reset = 300
        self._next_id = 36**5  # ids look like "100000"
        self._token_no = 0
        mock.add_callback(responses.POST, re.compile(re.escape(reddit_url) + r"/api/v1/access_token.*"),
                          callback=self._token)
        api = re.compile(re.escape(oauth_url) + r"/.*")
        mock.add_callback(responses.GET, api, callback=self._handle)
        mock.add_callback(responses.POST, api, callback=self._handle)

    # -- seeding ----------------------------------------------------------
    def _user_fullname(self, name: str) -> str:
        if name not in self.user_ids:
            self.user_ids[name] = "t2_" + b36(10_000_000 + len(self.user_ids) * 7919)
        return self.user_ids[name]

    def _new_id(self) -> str:
        self._next_id += 1
        return b36(self._next_id)

    def _ts(self, created_at: datetime | None) -> float:
        return float(int((created_at or self.now()).timestamp()))

    def add_submission(self, subreddit: str, title: str, selftext: str = "", *, author: str = "alice",
                       created_at: datetime | None = None) -> dict[str, Any]:
        sid = self._new_id()
        permalink = f"/r/{subreddit}/comments/{sid}/{_slug(title)}/"
        data = {
            "id": sid, "name": f"t3_{sid}", "author": author, "author_fullname": self._user_fullname(author),
            "title": title, "selftext": selftext, "created_utc": self._ts(created_at), "created": self._ts(created_at),
            "permalink": permalink, "url": f"https://www.reddit.com{permalink}", "subreddit": subreddit,
            "subreddit_name_prefixed": f"r/{subreddit}", "subreddit_id": "t5_2qh1" + str(len(subreddit) % 10),
            "num_comments": 0, "score": 1, "ups": 1, "is_self": True, "over_18": False, "locked": False,
            "domain": f"self.{subreddit}", "subreddit_type": "public",
            "subreddit_subscribers": self.members.get(subreddit.lower(), DEFAULT_MEMBERS),
            "upvote_ratio": 1.0,
        }
        self.things[data["name"]] = data
        self.kinds[data["name"]] = "t3"
        return data

    def add_comment(self, parent: str, body: str, *, author: str = "bob",
                    created_at: datetime | None = None) -> dict[str, Any]:
        """``parent``: the fullname of a submission (t3_) or comment (t1_)."""
        parent_data = self.things[parent]
        link = parent_data if self.kinds[parent] == "t3" else self.things[parent_data["link_id"]]
        cid = self._new_id()
        data = {
            "id": cid, "name": f"t1_{cid}", "author": author, "author_fullname": self._user_fullname(author),
            "body": body, "created_utc": self._ts(created_at), "created": self._ts(created_at),
            "link_id": link["name"], "parent_id": parent, "link_title": link["title"],
            "link_author": link["author"], "link_permalink": link["url"],
            "permalink": f"{link['permalink']}{cid}/", "subreddit": link["subreddit"],
            "subreddit_name_prefixed": f"r/{link['subreddit']}", "score": 1, "ups": 1, "replies": "",
            "is_submitter": author == link["author"], "stickied": False, "subreddit_type": "public",
            "subreddit_id": link["subreddit_id"], "num_comments": link["num_comments"] + 1, "over_18": False,
            "link_url": link["url"],
        }
        link["num_comments"] += 1
        self.things[data["name"]] = data
        self.kinds[data["name"]] = "t1"
        return data

    def add_account(self, username: str, password: str) -> None:
        """Another account that logs in through this app (script app developers)."""
        self.passwords[username.lower()] = password
        self.names[username.lower()] = username

    # -- faults -----------------------------------------------------------------
    def fail(self, fault: F.Fault | str, *, times: int = 1, endpoint: str | None = None,
             account: str | None = None) -> None:
        """Answer the next request(s) to ``endpoint`` with ``fault``; with
        ``account``, only requests made as that user."""
        queue = self.faults if account is None else self.account_faults.setdefault(account.lower(), F.FaultQueue())
        queue.add(fault, times=times, endpoint=endpoint)

    def calls_to(self, endpoint: str) -> list[Call]:
        return [c for c in self.calls if c.endpoint == endpoint]

    def comments_by(self, author: str) -> list[dict[str, Any]]:
        return [d for n, d in self.things.items() if self.kinds[n] == "t1" and d["author"] == author]

    # -- HTTP -------------------------------------------------------------------
    def _rate_headers(self) -> dict[str, str]:
        if self.rate_remaining is None:
            return {}
        return {"x-ratelimit-remaining": f"{self.rate_remaining:.1f}", "x-ratelimit-used": str(self.rate_used),
                "x-ratelimit-reset": str(self.rate_reset)}

    def _json(self, status: int, body: Any, extra: dict[str, str] | None = None):
        return status, {"Content-Type": "application/json; charset=UTF-8", **self._rate_headers(), **(extra or {})}, json.dumps(body)

    @staticmethod
    def _form(request: requests.PreparedRequest) -> dict[str, str]:
        raw = request.body or ""
        if isinstance(raw, bytes):
            raw = raw.decode()
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}

    def _token(self, request: requests.PreparedRequest):
        form = self._form(request)
        self.calls.append(Call("POST", "token", {}, {k: ("***" if k == "password" else v) for k, v in form.items()}))
        fault = self.faults.take("token")
        if fault is not None:
            return self._fault(fault, "token")
        expected = "Basic " + base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {"Content-Type": "application/json"}, json.dumps({"message": "Unauthorized", "error": 401})
        user = form.get("username", "")
        password = self.password if user == self.username else self.passwords.get(user.lower())
        if form.get("grant_type") != "password" or password is None or form.get("password") != password:
            return 200, {"Content-Type": "application/json"}, json.dumps({"error": "invalid_grant"})
        self._token_no += 1
        token = f"fake-reddit-access-token-{self._token_no}"
        self.tokens.add(token)
        self.token_users[token] = self.names[user.lower()]
        expires_in = 86400
        if self.token_lifetime is not None:
            expires_in = int(self.token_lifetime.total_seconds())
            self.token_expires[token] = self.now() + self.token_lifetime
        return 200, {"Content-Type": "application/json"}, json.dumps(
            {"access_token": token, "token_type": "bearer", "expires_in": expires_in, "scope": "*"})

    def _accepts(self, auth: str) -> bool:
        """Whether Reddit accepts the ``Authorization`` header's access token."""
        token = auth[7:] if auth.startswith("bearer ") else None
        if token not in self.tokens:
            return False
        expires = self.token_expires.get(token)
        return expires is None or self.now() < expires

    def _handle(self, request: requests.PreparedRequest):
        parts = urlsplit(request.url)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        for method, name, pattern in _API_ROUTES:
            match = pattern.match(parts.path)
            if match and method == request.method:
                break
        else:
            return self._json(404, {"message": "Not Found", "error": 404})
        form = self._form(request) if request.method == "POST" else {}
        auth = request.headers.get("Authorization", "")
        acting = self.token_users.get(auth[7:]) if auth.startswith("bearer ") else None
        self.calls.append(Call(request.method, name, params, form, dict(request.headers), acting))
        own = self.account_faults.get((acting or "").lower())
        fault = (own.take(name) if own is not None else None) or self.faults.take(name)
        if fault is not None and fault.kind != F.LOST_ACK:
            return self._fault(fault, name)
        if not self._accepts(auth):
            return 401, {"Content-Type": "application/json", "www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}, \
                json.dumps({"message": "Unauthorized", "error": 401})
        self.acting = acting or self.username
        result = getattr(self, f"_ep_{name}")(match, params, form)
        if fault is not None:
            return requests.exceptions.ReadTimeout("Read timed out. (fake: the answer was lost)")
        return result

    def _fault(self, fault: F.Fault, endpoint: str):
        if fault.kind == F.RATE_LIMIT:
            if fault.reset_after is None:
                headers: dict[str, str] = {}
            else:
                headers = {"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "100",
                           "x-ratelimit-reset": str(int(fault.reset_after.total_seconds()))}
            return 429, {"Content-Type": "text/html", **headers}, "<html><body><h1>whoa there, pardner!</h1>Too Many Requests</body></html>"
        if fault.kind == F.SERVER_ERROR:
            return fault.status, {"Content-Type": "text/html"}, "<html><body><h1>503 Service Unavailable</h1>all our servers are busy</body></html>"
        if fault.kind == F.TIMEOUT:
            return requests.exceptions.ReadTimeout("Read timed out. (fake)")
        if fault.kind == F.CONNECTION:
            return requests.exceptions.ConnectionError("Connection reset by peer (fake)")
        if fault.kind == F.MALFORMED:
            return 200, {"Content-Type": "application/json", **self._rate_headers()}, '{"kind": "Listing", "data": {"after": null, "chil'
        if fault.kind == F.UNAUTHORIZED:
            return 401, {"Content-Type": "application/json", "www-authenticate": 'Bearer realm="reddit", error="invalid_token"'}, \
                json.dumps({"message": "Unauthorized", "error": 401})
        if fault.kind == F.UNAUTHORIZED_BARE:
            return 401, {"Content-Type": "application/json"}, json.dumps({"message": "Unauthorized", "error": 401})
        if fault.kind == F.FORBIDDEN:
            return self._json(403, {"message": "Forbidden", "error": 403})
        if fault.kind == F.EMPTY:
            return self._json(200, self._listing([], more_after=False, more_before=False))
        if fault.kind == F.RATELIMIT_ANSWER:
            return self._json(200, {"json": {"errors": [["RATELIMIT", f"Looks like you've been doing that a lot. Take a break for {fault.wait} before trying again.", "ratelimit"]]}})
        raise ValueError(f"fault {fault.kind} does not apply to Reddit {endpoint}")

    # -- listings ---------------------------------------------------------------
    def _thing(self, name: str) -> dict[str, Any]:
        return {"kind": self.kinds[name], "data": dict(self.things[name])}

    def _listing(self, names: list[str], *, more_after: bool, more_before: bool) -> dict[str, Any]:
        return {"kind": "Listing", "data": {
            "after": names[-1] if names and more_after else None,
            "before": names[0] if names and more_before else None,
            "dist": len(names), "modhash": None, "geo_filter": "",
            "children": [self._thing(n) for n in names],
        }}

    def _order(self, names: list[str]) -> list[str]:
        # newest first; ids grow with time, so they break ties in the same second
        return sorted(names, key=lambda n: (self.things[n]["created_utc"], int(n[3:], 36)), reverse=True)

    def _page(self, names: list[str], params: dict[str, str]):
        try:
            limit = max(1, min(100, int(params.get("limit", "25"))))
        except ValueError:
            limit = 25
        now = self.now().timestamp()  # a post seeded with a future time does not exist yet
        rows = self._order([n for n in names if self.things[n]["created_utc"] <= now])
        after, before = params.get("after"), params.get("before")
        if after:
            if after not in rows:
                return self._json(200, self._listing([], more_after=False, more_before=False))
            i = rows.index(after)
            older = rows[i + 1:]
            page = older[:limit]
            return self._json(200, self._listing(page, more_after=len(older) > limit, more_before=True))
        if before:
            if before not in rows:
                return self._json(200, self._listing([], more_after=False, more_before=False))
            i = rows.index(before)
            newer = rows[:i]
            page = newer[-limit:]
            return self._json(200, self._listing(page, more_after=True, more_before=len(newer) > limit))
        page = rows[:limit]
        return self._json(200, self._listing(page, more_after=len(rows) > limit, more_before=False))

    # -- endpoints --------------------------------------------------------------
    def _in_sub(self, sub: str, kind: str) -> list[str]:
        return [n for n, d in self.things.items() if self.kinds[n] == kind and d["subreddit"].lower() == sub.lower()]

    def _closed(self, sub: str):
        reason = self.closed.get(sub.lower())
        if reason is None:
            return None
        if reason == "banned":
            return self._json(404, {"reason": "banned", "message": "Not Found", "error": 404})
        body = {"reason": reason, "message": "Forbidden", "error": 403}
        if reason == "quarantined":
            body["quarantine_message"] = f"r/{sub} is quarantined"
        return self._json(403, body)

    def _ep_new(self, match, params, form):
        return self._closed(match["sub"]) or self._page(self._in_sub(match["sub"], "t3"), params)

    def _ep_comments(self, match, params, form):
        return self._closed(match["sub"]) or self._page(self._in_sub(match["sub"], "t1"), params)

    def _ep_user_comments(self, match, params, form):
        return self._page([n for n, d in self.things.items() if self.kinds[n] == "t1" and d["author"].lower() == match["name"].lower()], params)

    def _ep_user_submitted(self, match, params, form):
        return self._page([n for n, d in self.things.items() if self.kinds[n] == "t3" and d["author"].lower() == match["name"].lower()], params)

    def _ep_info(self, match, params, form):
        names = [n for n in params.get("id", "").split(",")
                 if n in self.things and self.things[n]["created_utc"] <= self.now().timestamp()]
        return self._json(200, self._listing(names, more_after=False, more_before=False))

    def _ep_me(self, match, params, form):
        return self._json(200, {"name": self.acting, "id": self._user_fullname(self.acting)[3:], "is_suspended": False})

    def _ep_comment(self, match, params, form):
        parent = form.get("thing_id", "")
        text = form.get("text", "")
        if parent not in self.things:
            return self._json(200, {"json": {"errors": [["INVALID_PARENT", "that parent doesn't exist", "parent"]]}})
        if not text.strip():
            return self._json(200, {"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}})
        data = self.add_comment(parent, text, author=self.acting)
        return self._json(200, {"json": {"errors": [], "data": {"things": [self._thing(data["name"])]}}})

    def _ep_submit(self, match, params, form):
        sub, title = form.get("sr", ""), form.get("title", "")
        if not title.strip():
            return self._json(200, {"json": {"errors": [["NO_TEXT", "we need something here", "title"]]}})
        data = self.add_submission(sub, title, form.get("text", ""), author=self.acting)
        return self._json(200, {"json": {"errors": [], "data": {"url": data["url"], "drafts_count": 0,
                                                                 "id": data["id"], "name": data["name"]}}})

