"""One contract, every posting channel: X and Reddit, real tweepy / praw code
against the fake platforms. Send, length limit, the reply-eligibility rule,
a lost acknowledgement then reconciliation, the rate-limit answer, faults."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import pytest
import responses

from brandpulse.config import Settings
from outreach.channels.base import Channel, ManualReplyRequired, OutboundPost, SendError, SentPost
from tests.fakes import FakeRedditAPI, FakeXAPI, faults


class ChannelHarness:
    id: str
    platform: str
    requires_addressing: bool  # X: an API reply only to posts that address the account
    too_long: str
    post_endpoint: str  # the fake's endpoint name for creating a reply

    def __init__(self, *, mock: responses.RequestsMock, clock, settings: Settings) -> None:
        self.mock, self.clock, self.settings = mock, clock, settings
        self._outbox = 0

    def channel(self) -> Channel:
        raise NotImplementedError

    def addressed_target(self) -> tuple[str, tuple[str, ...]]:
        """A post that addresses the brand account: (id, addressed handles)."""
        raise NotImplementedError

    def unaddressed_target(self) -> tuple[str, tuple[str, ...]]:
        raise NotImplementedError

    def reply(self, target: tuple[str, tuple[str, ...]], text: str, **kw: Any) -> OutboundPost:
        self._outbox += 1
        kw.setdefault("account", None)
        return OutboundPost(outbox_id=self._outbox, platform=self.platform, brand="acme", text=text,
                            in_reply_to=target[0], addressed_handles=target[1], **kw)

    def status(self, text: str) -> OutboundPost:
        raise NotImplementedError

    def replies_on_platform(self, target_id: str) -> list[dict[str, Any]]:
        """The brand account's posts that answer ``target_id``."""
        raise NotImplementedError

    def last_request(self) -> tuple[str, str | None]:
        """(text, id replied to) of the last create request, as it went over the wire."""
        raise NotImplementedError

    def post_requests(self) -> int:
        return len(self.fake.calls_to(self.post_endpoint))

    def fault(self, fault: faults.Fault | str) -> None:
        self.fake.fail(fault, endpoint=self.post_endpoint)

    def secrets(self) -> list[str]:
        raise NotImplementedError

    def credential_names(self) -> list[str]:
        raise NotImplementedError


class XChannelHarness(ChannelHarness):
    id = "x"
    platform = "x"
    requires_addressing = True
    too_long = "遅延" * 70 + "!"  # 141 CJK characters weigh 2 each: 283 > 280
    post_endpoint = "create"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fake = FakeXAPI(self.mock, now=self.clock.now)
        self.fake.set_me("AcmeAir")
        self.fake.add_user("AcmeHelp")
        self.fake.add_user("jane", followers=120)

    def env(self) -> dict[str, str]:
        return {"X_API_KEY": self.fake.api_key, "X_API_SECRET": "test-x-api-secret",
                "X_ACCESS_TOKEN": self.fake.access_token, "X_ACCESS_TOKEN_SECRET": "test-x-access-token-secret"}

    def channel(self) -> Channel:
        from outreach.channels.x import build_x_channel

        return build_x_channel(self.settings, env=self.env(), clock=self.clock)

    def addressed_target(self):
        tweet = self.fake.add_tweet("@AcmeAir my bag never arrived", author="jane",
                                    created_at=self.clock.now() - timedelta(minutes=5))
        return tweet["id"], ("acmeair",)

    def unaddressed_target(self):
        tweet = self.fake.add_tweet("acme air lost my bag, typical", author="jane",
                                    created_at=self.clock.now() - timedelta(minutes=5))
        return tweet["id"], ()

    def status(self, text: str) -> OutboundPost:
        self._outbox += 1
        return OutboundPost(outbox_id=self._outbox, platform="x", brand="acme", account="AcmeAir", text=text,
                            kind="status")

    def replies_on_platform(self, target_id: str):
        me = self.fake.me_id
        return [t for t in self.fake.tweets.values() if t["author_id"] == me
                and any(r["type"] == "replied_to" and r["id"] == target_id for r in t.get("referenced_tweets", []))]

    def last_request(self):
        body = self.fake.calls_to("create")[-1].body  # JSON, as tweepy sends it
        return body["text"], (body.get("reply") or {}).get("in_reply_to_tweet_id")

    def secrets(self) -> list[str]:
        return list(self.env().values())

    def credential_names(self) -> list[str]:
        return ["X_ACCESS_TOKEN"]


class XSecondAccountHarness(XChannelHarness):
    """The X channel posting as the brand's second account, @AcmeHelp, through
    its own access token (X_ACCESS_TOKEN__ACMEHELP) while X_ACCESS_TOKEN is
    @AcmeAir's: replies address @AcmeHelp and are drafted as it."""

    id = "x-second-account"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.help_token = self.fake.add_account_token("AcmeHelp")

    def env(self) -> dict[str, str]:
        return {**super().env(), "X_ACCESS_TOKEN__ACMEHELP": self.help_token,
                "X_ACCESS_TOKEN_SECRET__ACMEHELP": "test-x-help-token-secret"}

    def reply(self, target, text: str, **kw: Any) -> OutboundPost:
        kw.setdefault("account", "AcmeHelp")
        return super().reply(target, text, **kw)

    def addressed_target(self):
        tweet = self.fake.add_tweet("@AcmeHelp my bag never arrived", author="jane",
                                    created_at=self.clock.now() - timedelta(minutes=5))
        return tweet["id"], ("acmehelp",)

    def unaddressed_target(self):
        # addresses the brand's other account: X would not let @AcmeHelp answer it
        tweet = self.fake.add_tweet("@AcmeAir lost my bag, typical", author="jane",
                                    created_at=self.clock.now() - timedelta(minutes=5))
        return tweet["id"], ("acmeair",)

    def status(self, text: str) -> OutboundPost:
        self._outbox += 1
        return OutboundPost(outbox_id=self._outbox, platform="x", brand="acme", account="AcmeHelp", text=text,
                            kind="status")

    def replies_on_platform(self, target_id: str):
        me = self.fake.user("AcmeHelp")["id"]
        return [t for t in self.fake.tweets.values() if t["author_id"] == me
                and any(r["type"] == "replied_to" and r["id"] == target_id for r in t.get("referenced_tweets", []))]

    def credential_names(self) -> list[str]:
        return ["X_ACCESS_TOKEN__ACMEHELP"]


class RedditChannelHarness(ChannelHarness):
    id = "reddit"
    platform = "reddit"
    requires_addressing = False
    too_long = "x" * 10_001
    post_endpoint = "comment"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.fake = FakeRedditAPI(self.mock, now=self.clock.now)

    def env(self) -> dict[str, str]:
        return {"REDDIT_CLIENT_ID": self.fake.client_id, "REDDIT_CLIENT_SECRET": self.fake.client_secret,
                "REDDIT_USERNAME": self.fake.username, "REDDIT_PASSWORD": self.fake.password}

    def channel(self) -> Channel:
        from outreach.channels.reddit import build_reddit_channel

        return build_reddit_channel(self.settings, env=self.env(), clock=self.clock)

    def addressed_target(self):
        sub = self.fake.add_submission("travel", "u/AcmeAir_Team where is my bag?", "Flight AC12",
                                       created_at=self.clock.now() - timedelta(minutes=5))
        return sub["name"], ("acmeair_team",)

    def unaddressed_target(self):
        sub = self.fake.add_submission("travel", "Acme Air lost my bag", "Flight AC12",
                                       created_at=self.clock.now() - timedelta(minutes=5))
        comment = self.fake.add_comment(sub["name"], "same thing happened to me with acme air",
                                        created_at=self.clock.now() - timedelta(minutes=4))
        return comment["name"], ()

    def status(self, text: str) -> OutboundPost:
        self._outbox += 1
        return OutboundPost(outbox_id=self._outbox, platform="reddit", brand="acme", account="AcmeAir_Team",
                            text=text, kind="status", title="[Investigating] Check-in app errors", community="travel")

    def replies_on_platform(self, target_id: str):
        return [c for c in self.fake.comments_by(self.fake.username) if c["parent_id"] == target_id]

    def last_request(self):
        form = self.fake.calls_to("comment")[-1].form  # form-encoded, as praw sends it
        assert form["api_type"] == "json"
        return form["text"], form["thing_id"]

    def secrets(self) -> list[str]:
        return [self.fake.client_secret, self.fake.password, *sorted(self.fake.tokens)]

    def credential_names(self) -> list[str]:
        return ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET"]

    def fault(self, fault: faults.Fault | str) -> None:
        # A token Reddit refuses is refused again after the fresh login the channel tries.
        self.fake.fail(fault, times=2 if fault == faults.UNAUTHORIZED else 1, endpoint=self.post_endpoint)


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch):
    def refuse(seconds: float) -> None:
        raise AssertionError(f"a channel tried to sleep {seconds}s")

    monkeypatch.setattr(time, "sleep", refuse)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as m:
        yield m


@pytest.fixture(params=[XChannelHarness, XSecondAccountHarness, RedditChannelHarness], ids=lambda h: h.id)
def h(request, mock, clock, settings) -> ChannelHarness:
    return request.param(mock=mock, clock=clock, settings=settings)


# ----------------------------------------------------------------- scenarios
def test_send_a_reply(h: ChannelHarness):
    channel = h.channel()
    assert isinstance(channel, Channel) and channel.platform == h.platform
    target = h.addressed_target()
    text = "Sorry about your bag! DM us your booking reference & we'll trace it."
    sent = channel.send(h.reply(target, text))
    assert isinstance(sent, SentPost)
    assert h.last_request() == (text, target[0])
    replies = h.replies_on_platform(target[0])
    assert len(replies) == 1
    assert sent.external_id.endswith(replies[0]["id"])
    assert sent.url and sent.url.startswith("https://")
    assert h.post_requests() == 1


def test_a_standalone_status_post(h: ChannelHarness):
    sent = h.channel().send(h.status("We are investigating check-in errors in the app. Updates here."))
    assert sent.external_id and sent.url.startswith("https://")


def test_length_is_checked_before_anything_is_sent(h: ChannelHarness):
    channel = h.channel()
    with pytest.raises(SendError) as err:
        channel.send(h.reply(h.addressed_target(), h.too_long))
    assert err.value.permanent and "limit" in str(err.value)
    assert h.post_requests() == 0


def test_reply_eligibility(h: ChannelHarness):
    channel = h.channel()
    target = h.unaddressed_target()
    post = h.reply(target, "Sorry to hear that, we're looking into it.")
    if h.requires_addressing:
        with pytest.raises(ManualReplyRequired) as err:
            channel.send(post)
        assert err.value.permanent
        assert "reply by hand" in str(err.value) and target[0] in err.value.url
        assert h.post_requests() == 0
    else:
        assert channel.send(post).external_id
        assert len(h.replies_on_platform(target[0])) == 1


def test_lost_acknowledgement_then_reconciliation(h: ChannelHarness):
    channel = h.channel()
    target = h.addressed_target()
    post = h.reply(target, "We're on it, please check your DMs.")
    assert channel.find_sent(post) is None  # not there yet
    h.fault(faults.LOST_ACK)
    with pytest.raises(SendError) as err:
        channel.send(post)
    assert err.value.outcome_unknown and not err.value.permanent
    assert h.post_requests() == 1  # one attempt: no client-side retry of a POST
    created = h.replies_on_platform(target[0])
    assert len(created) == 1  # the platform did create it
    found = channel.find_sent(post)
    assert found is not None and found.external_id.endswith(created[0]["id"])
    other = h.reply(h.addressed_target(), "We're on it, please check your DMs.")
    assert channel.find_sent(other) is None  # same text, another post answered


@pytest.mark.parametrize("fault", [faults.server_error(503), faults.server_error(502), faults.TIMEOUT],
                         ids=["503", "502", "timeout"])
def test_no_answer_is_an_unknown_outcome_and_is_not_retried(h: ChannelHarness, fault):
    channel = h.channel()
    h.fault(fault)
    with pytest.raises(SendError) as err:
        channel.send(h.reply(h.addressed_target(), "Thanks for flying with us!"))
    assert err.value.outcome_unknown
    assert h.post_requests() == 1


def test_rate_limit_answer_defers_the_send(h: ChannelHarness, clock):
    channel = h.channel()
    target = h.addressed_target()
    if h.platform == "reddit":
        h.fault(faults.Fault(faults.RATELIMIT_ANSWER, wait="9 minutes"))
        expected = clock.now() + timedelta(minutes=9, seconds=1)
    else:
        h.fault(faults.rate_limit(reset_after=timedelta(minutes=7)))
        expected = clock.now() + timedelta(minutes=7)
    with pytest.raises(SendError) as err:
        channel.send(h.reply(target, "Hello again"))
    assert err.value.retry_at == expected
    assert not err.value.permanent and not err.value.outcome_unknown
    assert h.replies_on_platform(target[0]) == []
    assert h.post_requests() == 1  # praw did not sleep and retry


def test_429_without_reset_defers_by_default(h: ChannelHarness, clock):
    channel = h.channel()
    h.fault(faults.rate_limit(reset_after=None))
    with pytest.raises(SendError) as err:
        channel.send(h.reply(h.addressed_target(), "Hello again"))
    assert err.value.retry_at is not None and err.value.retry_at > clock.now()
    assert not err.value.outcome_unknown


def test_rejected_credentials_are_permanent(h: ChannelHarness):
    channel = h.channel()
    h.fault(faults.UNAUTHORIZED)
    with pytest.raises(SendError) as err:
        channel.send(h.reply(h.addressed_target(), "Hello"))
    assert err.value.permanent
    assert any(name in str(err.value) for name in h.credential_names())


def test_posting_as_an_account_without_credentials_is_refused(h: ChannelHarness):
    channel = h.channel()
    post = h.reply(h.addressed_target(), "Hello", account="SomebodyElse")
    with pytest.raises(SendError) as err:
        channel.send(post)
    assert err.value.permanent and "SomebodyElse" in str(err.value)
    assert h.post_requests() == 0


def test_credentials_never_appear_in_logs(h: ChannelHarness, caplog):
    caplog.set_level(logging.DEBUG)
    channel = h.channel()
    target = h.addressed_target()
    post = h.reply(target, "We're on it")
    channel.send(post)
    assert channel.find_sent(post) is not None
    assert caplog.text
    for secret in h.secrets():
        assert secret not in caplog.text
