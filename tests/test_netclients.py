"""Network clients built in one place: timeouts, no waiting, no retries,
hosts that a stray praw.ini cannot change."""

from __future__ import annotations

import time

import pytest
import responses

from brandpulse.netclients import HttpSession, make_reddit_client, make_x_client, reddit_user_agent
from brandpulse.secrets import Secret
from tests.fakes import FakeRedditAPI, FakeXAPI, faults


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: (_ for _ in ()).throw(AssertionError(f"slept {s}s")))


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


def reddit_client(fake: FakeRedditAPI, **kw):
    return make_reddit_client(client_id=Secret("REDDIT_CLIENT_ID", fake.client_id),
                              client_secret=Secret("REDDIT_CLIENT_SECRET", fake.client_secret),
                              username=fake.username, password=Secret("REDDIT_PASSWORD", fake.password), **kw)


def test_user_agent_in_the_form_reddit_requires():
    assert reddit_user_agent("AcmeAir_Team", version="1.2.3") == "python:brandpulse:1.2.3 (by /u/AcmeAir_Team)"


def test_every_x_request_has_a_timeout(mock, clock):
    fake = FakeXAPI(mock, now=clock.now)
    fake.add_user("AcmeAir")
    client = make_x_client(bearer_token=Secret("X_BEARER_TOKEN", fake.bearer_token), timeout=(2, 9))
    assert client.wait_on_rate_limit is False
    client.get_user(username="AcmeAir")
    assert mock.calls[-1].request.req_kwargs["timeout"] == (2, 9)


def test_x_429_without_reset_raises_instead_of_recursing(mock, clock):
    import tweepy

    fake = FakeXAPI(mock, now=clock.now)
    fake.add_user("AcmeAir")
    fake.fail(faults.rate_limit(reset_after=None), times=50)
    client = make_x_client(bearer_token=Secret("X_BEARER_TOKEN", fake.bearer_token))
    with pytest.raises(tweepy.TooManyRequests):
        client.get_user(username="AcmeAir")
    assert len(fake.calls) == 1


def test_praw_makes_one_attempt_and_never_sleeps(mock, clock):
    import prawcore

    fake = FakeRedditAPI(mock, now=clock.now)
    reddit = reddit_client(fake, timeout=11)
    fake.fail(faults.server_error(503), times=3, endpoint="new")
    with pytest.raises(prawcore.ServerError):
        reddit.request(method="GET", path="/r/travel/new", params={"limit": 5})
    assert len(fake.calls_to("new")) == 1  # prawcore alone would have tried 3 times, sleeping in between
    fake.faults.clear()
    fake.rate_remaining = 0.0  # prawcore's limiter would now sleep until the reset
    reddit.request(method="GET", path="/r/travel/new", params={"limit": 5})
    reddit.request(method="GET", path="/r/travel/new", params={"limit": 5})
    assert mock.calls[-1].request.req_kwargs["timeout"] == 11


def test_a_praw_ini_cannot_change_the_hosts(mock, clock, tmp_path, monkeypatch):
    import praw.config

    (tmp_path / "praw.ini").write_text("[DEFAULT]\noauth_url=https://evil.example\nreddit_url=https://evil.example\n"
                                       "ratelimit_seconds=600\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(praw.config.Config, "CONFIG", None)  # make praw read the files again
    fake = FakeRedditAPI(mock, now=clock.now)
    with pytest.warns(UserWarning, match="overrides the oauth_url"):
        reddit = reddit_client(fake)
    assert reddit.config.oauth_url == "https://oauth.reddit.com"
    assert reddit.config.reddit_url == "https://www.reddit.com"
    assert reddit.config.ratelimit_seconds == -1
    monkeypatch.setattr(praw.config.Config, "CONFIG", None)  # leave no trace for other tests


def test_http_session_remembers_the_last_response(mock):
    mock.add(responses.GET, "https://example.test/a", json={"ok": True}, headers={"x-ratelimit-remaining": "5.0"})
    session = HttpSession(timeout=3)
    assert session.last_response is None
    session.get("https://example.test/a")
    assert session.last_response.headers["x-ratelimit-remaining"] == "5.0"
    assert mock.calls[0].request.req_kwargs["timeout"] == 3


def test_x_account_credential_names():
    from brandpulse.netclients import x_account_credential_names

    assert x_account_credential_names("KestrelAirHelp") == ("X_ACCESS_TOKEN__KESTRELAIRHELP",
                                                            "X_ACCESS_TOKEN_SECRET__KESTRELAIRHELP")
    assert x_account_credential_names("@kestrel_air") == ("X_ACCESS_TOKEN__KESTREL_AIR",
                                                          "X_ACCESS_TOKEN_SECRET__KESTREL_AIR")
    assert x_account_credential_names("Kestrel-Air.2") == ("X_ACCESS_TOKEN__KESTREL_AIR_2",
                                                           "X_ACCESS_TOKEN_SECRET__KESTREL_AIR_2")
    with pytest.raises(ValueError):
        x_account_credential_names(" @ ")


def test_x_posting_credentials_reads_names_only(tmp_path):
    from brandpulse.netclients import x_posting_credentials

    env = {"X_API_KEY": "k", "X_ACCESS_TOKEN": "t", "X_ACCESS_TOKEN_SECRET_FILE": str(tmp_path / "absent"),
           "X_ACCESS_TOKEN__ACMEHELP": "t2", "X_ACCESS_TOKEN__NOBODY": "t3"}
    plan = x_posting_credentials(["AcmeAir", "@acmehelp", "AcmeHelp"], env)
    assert plan.app_missing == ("X_API_SECRET",)
    assert plan.default and plan.default_missing == ()  # a _FILE counts as set; it is read later
    assert plan.accounts == {"acmehelp": ("X_ACCESS_TOKEN__ACMEHELP", "X_ACCESS_TOKEN_SECRET__ACMEHELP")}
    assert plan.incomplete == {"acmehelp": ("X_ACCESS_TOKEN_SECRET__ACMEHELP",)}
    assert plan.without == ("AcmeAir",)
    assert plan.unknown == ("X_ACCESS_TOKEN__NOBODY",)
    assert plan.missing == ["X_API_SECRET", "X_ACCESS_TOKEN_SECRET__ACMEHELP"]
    # no default pair: it is needed only when no account has its own
    alone = x_posting_credentials(["AcmeAir"], {"X_API_KEY": "k", "X_API_SECRET": "s"})
    assert alone.missing == ["X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"] and not alone.any_user
    own = x_posting_credentials(["AcmeAir"], {"X_API_KEY": "k", "X_API_SECRET": "s", "X_ACCESS_TOKEN__ACMEAIR": "t",
                                              "X_ACCESS_TOKEN_SECRET__ACMEAIR": "u"})
    assert own.missing == [] and own.names_to_read() == ["X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN__ACMEAIR",
                                                         "X_ACCESS_TOKEN_SECRET__ACMEAIR"]
