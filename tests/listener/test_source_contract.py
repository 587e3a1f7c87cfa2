"""One contract, every source.

The same scenarios run against each source kind: X mentions, X recent
search, X own replies (the brand account's replies written by hand), Reddit submissions, Reddit comments (real tweepy / praw code against
the fake platforms in ``tests/fakes``), and the replay source. Posts are
seeded with their creation times; a fake platform shows a post only once the
(fake) clock has reached it, so "new posts arrive" is just moving the clock.
Network faults do not apply to the replay source, which reads a local file.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import responses

from brandpulse.clock import FakeClock
from brandpulse.config import Brand, Settings, SourceConfig
from brandpulse.types import FetchResult, Mention
from listener.base import RateLimited, Source, SourceError
from listener.ratelimit import DEFAULT_BACKOFF
from tests.conftest import T0
from tests.fakes import FakeRedditAPI, FakeXAPI, faults

PAGE = 5  # page size every harness asks for, so a dozen posts span pages
X_ENV_TOKEN = "X_BEARER_TOKEN"


# ----------------------------------------------------------------- harnesses
class Harness:
    """Seeds posts on one platform and builds the source under test."""

    id: str
    network = True  # False: faults and rate limits do not apply

    def __init__(self, *, mock: responses.RequestsMock, clock: FakeClock, brand: Brand, tmp_path: Path) -> None:
        self.mock, self.clock, self.brand, self.tmp_path = mock, clock, brand, tmp_path
        self.max_pages = 5
        self.page_size = PAGE
        self._n = 0

    def seed(self, at: list[datetime]) -> list[str]:
        """Matching posts created at these times; returns their external ids."""
        raise NotImplementedError

    def seed_noise(self, at: datetime) -> None:
        """A post at this time that the source must not return."""
        raise NotImplementedError

    def build(self) -> Source:
        raise NotImplementedError

    def fault(self, fault: faults.Fault | str) -> None:
        raise NotImplementedError

    def set_rate_remaining(self, remaining: int) -> None:
        raise NotImplementedError

    def redeliver(self) -> None:
        """Make the platform deliver an already delivered post again."""

    def list_requests(self) -> int | None:
        return None

    def secrets(self) -> list[str]:
        return []

    def credential_names(self) -> list[str]:
        return []

    def next_text(self, template: str) -> str:
        self._n += 1
        return template.format(n=self._n)


class XHarness(Harness):
    endpoint = "search"
    account: str | None = None

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fake = FakeXAPI(self.mock, now=self.clock.now)
        self.fake.add_user("AcmeAir", followers=250_000, verified=True)
        self.fake.add_user("AcmeHelp", followers=8_000)

    def build(self) -> Source:
        from listener.x import build_x_source

        options: dict[str, Any] = {"endpoint": self.endpoint, "max_results": self.page_size, "max_pages": self.max_pages}
        if self.account:
            options["account"] = self.account
        config = SourceConfig(name=f"x-{self.endpoint}", kind="x", brand=self.brand.id, **options)
        return build_x_source(config, brand=self.brand, env={X_ENV_TOKEN: self.fake.bearer_token})

    @property
    def fake_endpoint(self) -> str:
        """The fake's name for the endpoint this source reads."""
        return {"own_replies": "user_tweets"}.get(self.endpoint, self.endpoint)

    def fault(self, fault: faults.Fault | str) -> None:
        self.fake.fail(fault, endpoint=self.fake_endpoint)

    def set_rate_remaining(self, remaining: int) -> None:
        self.fake.rate_remaining = remaining

    def redeliver(self) -> None:
        self.fake.redeliver_boundary = True

    def list_requests(self) -> int:
        return len(self.fake.calls_to(self.fake_endpoint))

    def secrets(self) -> list[str]:
        return [self.fake.bearer_token]

    def credential_names(self) -> list[str]:
        return [X_ENV_TOKEN]


class XMentionsHarness(XHarness):
    id = "x-mentions"
    endpoint = "mentions"
    account = "AcmeAir"

    def seed(self, at: list[datetime]) -> list[str]:
        return [self.fake.add_tweet(self.next_text("@AcmeAir my bag is late again ({n})"), author=f"flyer{self._n}",
                                    created_at=t)["id"] for t in at]

    def seed_noise(self, at: datetime) -> None:
        self.fake.add_tweet("@SomeoneElse lovely weather", author="noisy", created_at=at)


class XSearchHarness(XHarness):
    id = "x-search"
    endpoint = "search"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.page_size = 10  # recent search pages hold 10 to 100 posts

    def seed(self, at: list[datetime]) -> list[str]:
        return [self.fake.add_tweet(self.next_text("Flying Acme Air today, seat {n} is broken"), author=f"flyer{self._n}",
                                    created_at=t)["id"] for t in at]

    def seed_noise(self, at: datetime) -> None:
        self.fake.add_tweet("acme air and the road runner, a cartoon classic", author="toons", created_at=at)
        self.fake.add_tweet("Acme Air: we are on it", author="AcmeAir", created_at=at)  # the brand itself


class XOwnRepliesHarness(XHarness):
    """The brand account's own timeline: the matching posts are its replies to
    customers; its standalone posts, replies within the brand's own threads
    and retweets are the noise."""

    id = "x-own-replies"
    endpoint = "own_replies"
    account = "AcmeHelp"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.page_size = 10  # room on the first page for the noise a brand timeline holds

    def seed(self, at: list[datetime]) -> list[str]:
        out = []
        for t in at:
            n = self._n + 1
            asked = self.fake.add_tweet(f"@AcmeHelp my bag is lost ({n})", author=f"flyer{n}", created_at=t - timedelta(seconds=5))
            out.append(self.fake.add_tweet(self.next_text("@flyer{n} so sorry, Acme Air is tracing your bag ({n})"),
                                           author="AcmeHelp", created_at=t, reply_to=asked["id"])["id"])
        return out

    def seed_noise(self, at: datetime) -> None:
        news = self.fake.add_tweet("Acme Air news: Lisbon from May", author="AcmeHelp", created_at=at - timedelta(seconds=3))
        self.fake.add_tweet("Acme Air: and Porto in June", author="AcmeHelp", created_at=at - timedelta(seconds=2),
                            reply_to=news["id"])  # a thread of its own
        sibling = self.fake.add_tweet("Acme Air status: all flights on time", author="AcmeAir", created_at=at - timedelta(seconds=1))
        self.fake.add_tweet("@AcmeAir acme air great job team", author="AcmeHelp", created_at=at, reply_to=sibling["id"])
        fan = self.fake.add_tweet("acme air is the best", author="fan", created_at=at - timedelta(seconds=4))
        self.fake.add_tweet("RT @fan: acme air is the best", author="AcmeHelp", created_at=at, retweet_of=fan["id"])


class RedditHarness(Harness):
    listing = "submissions"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fake = FakeRedditAPI(self.mock, now=self.clock.now)
        self.thread = self.fake.add_submission("travel", "Weekly travel chat", "", author="automod",
                                               created_at=T0 - timedelta(days=1))

    def build(self) -> Source:
        from listener.reddit import build_reddit_source

        config = SourceConfig(name=f"reddit-{self.listing}", kind="reddit", brand=self.brand.id, listing=self.listing,
                              page_size=self.page_size, max_pages=self.max_pages)
        return build_reddit_source(config, brand=self.brand, env=self.env())

    def env(self) -> dict[str, str]:
        return {"REDDIT_CLIENT_ID": self.fake.client_id, "REDDIT_CLIENT_SECRET": self.fake.client_secret,
                "REDDIT_USERNAME": self.fake.username, "REDDIT_PASSWORD": self.fake.password}

    def fault(self, fault: faults.Fault | str) -> None:
        # A token Reddit refuses is refused again after the fresh login the source tries.
        times = 2 if fault == faults.UNAUTHORIZED else 1
        self.fake.fail(fault, times=times, endpoint="new" if self.listing == "submissions" else "comments")

    def set_rate_remaining(self, remaining: int) -> None:
        self.fake.rate_remaining = float(remaining)

    def list_requests(self) -> int:
        return len(self.fake.calls_to("new" if self.listing == "submissions" else "comments"))

    def secrets(self) -> list[str]:
        return [self.fake.client_secret, self.fake.password, *sorted(self.fake.tokens)]

    def credential_names(self) -> list[str]:
        return ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"]


class RedditSubmissionsHarness(RedditHarness):
    id = "reddit-submissions"
    listing = "submissions"

    def seed(self, at: list[datetime]) -> list[str]:
        return [self.fake.add_submission("travel", self.next_text("Acme Air lost my bag ({n})"), "Anyone else?",
                                         author=f"redditor{self._n}", created_at=t)["name"] for t in at]

    def seed_noise(self, at: datetime) -> None:
        self.fake.add_submission("travel", "Best beaches in Lisbon?", "", author="sunny", created_at=at)


class RedditCommentsHarness(RedditHarness):
    id = "reddit-comments"
    listing = "comments"

    def seed(self, at: list[datetime]) -> list[str]:
        return [self.fake.add_comment(self.thread["name"], self.next_text("acme air cancelled my flight ({n})"),
                                      author=f"redditor{self._n}", created_at=t)["name"] for t in at]

    def seed_noise(self, at: datetime) -> None:
        self.fake.add_comment(self.thread["name"], "anyone been to Porto?", author="sunny", created_at=at)


class ReplayHarness(Harness):
    id = "replay"
    network = False

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.path = self.tmp_path / "replay.jsonl"
        self.records: list[dict[str, Any]] = []

    def _record(self, text: str, at: datetime, handle: str) -> dict[str, Any]:
        self._n += 1
        record = {"platform": "x", "id": str(9_000_000 + self._n), "created_at": at.isoformat().replace("+00:00", "Z"),
                  "author": {"id": f"u{self._n}", "handle": handle, "followers": 10}, "text": text, "lang": "en",
                  "conversation_id": str(9_000_000 + self._n), "url": f"https://x.com/{handle}/status/{9_000_000 + self._n}"}
        self.records.append(record)
        return record

    def seed(self, at: list[datetime]) -> list[str]:
        return [self._record(f"acme air lost my bag ({self._n + 1})", t, f"flyer{self._n + 1}")["id"] for t in at]

    def seed_noise(self, at: datetime) -> None:
        self._record("nothing to see here", at, "noisy")

    def build(self) -> Source:
        from listener.query import QueryMatcher
        from listener.replay import ReplaySource

        self.path.write_text("".join(json.dumps(r) + "\n" for r in self.records), encoding="utf-8")
        return ReplaySource(name="replay", brand=self.brand.id, path=self.path, query=QueryMatcher(self.brand.query))


def _replay_available() -> bool:
    try:
        import listener.replay  # noqa: F401
    except ImportError:
        return False
    return True


HARNESSES = [XMentionsHarness, XSearchHarness, XOwnRepliesHarness, RedditSubmissionsHarness, RedditCommentsHarness]
if _replay_available():
    HARNESSES.append(ReplayHarness)


# ------------------------------------------------------------------ fixtures
@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    """A source must never sleep (tweepy's and prawcore's waits are off)."""
    def refuse(seconds: float) -> None:
        raise AssertionError(f"a source tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


@pytest.fixture(params=HARNESSES, ids=lambda h: h.id)
def h(request, mock, clock, settings: Settings, tmp_path) -> Harness:
    return request.param(mock=mock, clock=clock, brand=settings.brands[0], tmp_path=tmp_path)


def network_only(h: Harness) -> None:
    if not h.network:
        pytest.skip(f"{h.id} reads a local file: network faults do not apply")


def ago(minutes: float) -> datetime:
    return T0 - timedelta(minutes=minutes)


def later(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ids(result: FetchResult) -> list[str]:
    return [m.external_id for m in result.mentions]


def roundtrip(cursor: dict[str, Any]) -> dict[str, Any]:
    """What the poller stores and reads back (a JSON column)."""
    return json.loads(json.dumps(cursor))


# ------------------------------------------------------------------ scenarios
def test_first_poll_returns_matching_posts_as_mentions(h: Harness, clock):
    seeded = h.seed([ago(30), ago(20), ago(10)])
    h.seed_noise(ago(15))
    source = h.build()
    assert isinstance(source, Source)
    result = source.fetch({}, now=clock.now())
    assert sorted(ids(result)) == sorted(seeded)
    assert len(set(ids(result))) == len(ids(result))
    for m in result.mentions:
        assert isinstance(m, Mention)
        assert m.brand == "acme" and m.platform in ("x", "reddit")
        assert m.author.handle and m.author.id
        assert m.created_at.tzinfo is not None and ago(31) < m.created_at <= clock.now()
        assert "acme" in m.text.lower()
        assert m.url and m.url.startswith("https://")
        assert m.thread_id
        assert isinstance(m.raw, dict)
    assert [m.created_at for m in result.mentions] == sorted(m.created_at for m in result.mentions)
    assert result.posts_read >= len(seeded)
    assert roundtrip(result.cursor) == result.cursor  # JSON as it is stored


def test_incremental_poll_returns_only_what_is_new(h: Harness, clock):
    old = h.seed([ago(30), ago(20), ago(10)])
    new = h.seed([later(1), later(2)])
    source = h.build()
    first = source.fetch({}, now=clock.now())
    assert sorted(ids(first)) == sorted(old)
    clock.set(later(5))
    second = source.fetch(roundtrip(first.cursor), now=clock.now())
    assert sorted(ids(second)) == sorted(new)


def test_pagination_follows_page_tokens(h: Harness, clock):
    old = h.seed([ago(10)])
    new = h.seed([later(1 + i * 0.25) for i in range(2 * h.page_size + 2)])  # three pages' worth
    source = h.build()
    first = source.fetch({}, now=clock.now())
    assert ids(first) == old
    before = h.list_requests()
    clock.set(later(30))
    second = source.fetch(roundtrip(first.cursor), now=clock.now())
    assert sorted(ids(second)) == sorted(new)
    if before is not None:
        assert h.list_requests() - before == 3


def test_more_than_a_polls_page_budget_is_read_on_later_polls(h: Harness, clock):
    network_only(h)
    h.max_pages = 2
    old = h.seed([ago(10)])
    new = h.seed([later(1 + i * 0.25) for i in range(3 * h.page_size - 1)])  # more than 2 pages
    source = h.build()
    first = source.fetch({}, now=clock.now())
    assert ids(first) == old
    cursor = first.cursor
    clock.set(later(30))
    polls: list[list[str]] = []
    for _ in range(4):
        result = source.fetch(roundtrip(cursor), now=clock.now())
        polls.append(ids(result))
        cursor = result.cursor
    assert len(polls[0]) == 2 * h.page_size  # the newest two pages first
    seen = [i for poll in polls for i in poll]
    assert sorted(seen) == sorted(new)  # the rest on the next poll: nothing missed, nothing twice
    assert len(seen) == len(set(seen))


def test_a_poll_with_nothing_new_is_empty_not_an_error(h: Harness, clock):
    old = h.seed([ago(5)])
    new = h.seed([later(10)])
    source = h.build()
    first = source.fetch({}, now=clock.now())
    assert ids(first) == old
    empty = source.fetch(roundtrip(first.cursor), now=clock.now())
    assert empty.mentions == [] and empty.not_before is None
    clock.set(later(15))
    assert ids(source.fetch(roundtrip(empty.cursor), now=clock.now())) == new


def test_an_empty_page_from_the_platform_is_a_normal_poll(h: Harness, clock):
    network_only(h)
    h.seed([ago(5)])
    source = h.build()
    h.fault(faults.EMPTY)
    result = source.fetch({}, now=clock.now())
    assert result.mentions == []
    again = source.fetch(roundtrip(result.cursor), now=clock.now())
    assert len(again.mentions) == 1


def test_a_post_delivered_twice_is_returned_once(h: Harness, clock):
    old = h.seed([ago(20), ago(10)])
    new = h.seed([later(1)])
    source = h.build()
    first = source.fetch({}, now=clock.now())
    h.redeliver()
    clock.set(later(5))
    second = source.fetch(roundtrip(first.cursor), now=clock.now())
    assert ids(second) == new
    assert not set(ids(second)) & set(old)


def test_restart_from_the_stored_cursor_neither_misses_nor_repeats(h: Harness, clock):
    old = h.seed([ago(20), ago(10)])
    new = h.seed([later(1), later(2), later(3)])
    stored = roundtrip(h.build().fetch({}, now=clock.now()).cursor)
    clock.set(later(10))
    restarted = h.build()  # a new process: nothing but the stored cursor
    result = restarted.fetch(stored, now=clock.now())
    assert sorted(ids(result)) == sorted(new)
    assert not set(ids(result)) & set(old)


def test_429_with_reset_header_defers_until_the_reset(h: Harness, clock):
    network_only(h)
    seeded = h.seed([ago(5)])
    source = h.build()
    h.fault(faults.rate_limit(reset_after=timedelta(minutes=12)))
    with pytest.raises(RateLimited) as err:
        source.fetch({}, now=clock.now())
    assert err.value.retry_at == clock.now() + timedelta(minutes=12)
    assert not err.value.permanent
    assert ids(source.fetch({}, now=clock.now())) == seeded  # nothing lost


def test_429_without_reset_header_backs_off_by_default(h: Harness, clock):
    network_only(h)
    h.seed([ago(5)])
    source = h.build()
    h.fault(faults.rate_limit(reset_after=None))
    with pytest.raises(RateLimited) as err:
        source.fetch({}, now=clock.now())
    assert err.value.retry_at == clock.now() + DEFAULT_BACKOFF


def test_window_used_up_sets_not_before(h: Harness, clock):
    network_only(h)
    seeded = h.seed([ago(5)])
    source = h.build()
    h.set_rate_remaining(0)
    result = source.fetch({}, now=clock.now())
    assert ids(result) == seeded
    assert result.not_before is not None and result.not_before > clock.now()


@pytest.mark.parametrize("fault", [faults.server_error(503), faults.server_error(500), faults.TIMEOUT, faults.CONNECTION],
                         ids=["503", "500", "timeout", "connection"])
def test_server_errors_and_timeouts_are_temporary(h: Harness, clock, fault):
    network_only(h)
    seeded = h.seed([ago(5)])
    source = h.build()
    h.fault(fault)
    with pytest.raises(SourceError) as err:
        source.fetch({}, now=clock.now())
    assert not isinstance(err.value, RateLimited)
    assert not err.value.permanent
    assert ids(source.fetch({}, now=clock.now())) == seeded  # the next poll gets it all


def test_malformed_json_is_a_temporary_error_that_points_at_the_body(h: Harness, clock):
    network_only(h)
    h.seed([ago(5)])
    source = h.build()
    h.fault(faults.MALFORMED)
    with pytest.raises(SourceError) as err:
        source.fetch({}, now=clock.now())
    message = str(err.value)
    assert not err.value.permanent
    assert "malformed" in message.lower()
    assert "bytes" in message and ('{"data"' in message or '{"kind"' in message)


@pytest.mark.parametrize("fault", [faults.UNAUTHORIZED, faults.FORBIDDEN], ids=["401", "403"])
def test_auth_failures_are_permanent_and_name_the_credential(h: Harness, clock, fault):
    network_only(h)
    h.seed([ago(5)])
    source = h.build()
    h.fault(fault)
    with pytest.raises(SourceError) as err:
        source.fetch({}, now=clock.now())
    assert err.value.permanent
    if fault == faults.UNAUTHORIZED:
        assert any(name in str(err.value) for name in h.credential_names())


def test_wrong_credentials_are_permanent_and_name_the_credential(h: Harness, clock):
    network_only(h)
    h.seed([ago(5)])
    source = h.build()  # with the credentials the platform no longer accepts:
    if isinstance(h, XHarness):
        h.fake.bearer_token = "a-new-token"
    else:
        h.fake.client_secret = "a-rotated-secret"
    with pytest.raises(SourceError) as err:
        source.fetch({}, now=clock.now())
    assert err.value.permanent
    assert any(name in str(err.value) for name in h.credential_names())


def test_credentials_never_appear_in_logs(h: Harness, clock, caplog):
    network_only(h)
    h.seed([ago(5)])
    caplog.set_level(logging.DEBUG)  # root logger, every library's debug output
    source = h.build()
    source.fetch({}, now=clock.now())
    h.fault(faults.UNAUTHORIZED)
    with pytest.raises(SourceError):
        source.fetch({}, now=clock.now())
    assert caplog.text  # the libraries did log at DEBUG
    for secret in h.secrets():
        assert secret not in caplog.text
