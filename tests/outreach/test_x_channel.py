"""X channel specifics: X's reply rule as the platform enforces it, duplicates,
threads, reconciliation of posts that X rewrote, the posting account."""

from __future__ import annotations

from datetime import timedelta

import pytest

from brandpulse.secrets import MissingSecretError
from outreach.channels.base import ManualReplyRequired, OutboundPost, SendError
from outreach.channels.x import XChannel, build_x_channel
from tests.fakes import faults, serve_x

pytestmark = pytest.mark.usefixtures("no_sleeping")


@pytest.fixture
def x(clock):
    with serve_x(now=clock.now) as fake:
        fake.set_me("AcmeAir")
        fake.add_user("AcmeHelp")
        fake.add_user("jane")
        yield fake


def env(fake):
    return {"X_API_KEY": fake.api_key, "X_API_SECRET": "s1", "X_ACCESS_TOKEN": fake.access_token,
            "X_ACCESS_TOKEN_SECRET": "s2"}


@pytest.fixture
def channel(x, settings, clock) -> XChannel:
    return build_x_channel(settings, env=env(x), clock=clock)


def reply(target, text, addressed=("acmeair",), **kw) -> OutboundPost:
    return OutboundPost(outbox_id=1, platform="x", brand="acme", account=kw.pop("account", None), text=text,
                        in_reply_to=target, addressed_handles=addressed, **kw)


def test_unknown_addressing_is_not_an_allowed_reply(x, channel, clock):
    target = x.add_tweet("@AcmeAir help", author="jane", created_at=clock.now() - timedelta(minutes=1))
    with pytest.raises(ManualReplyRequired):
        channel.send(reply(target["id"], "On it!", addressed=None))
    assert x.calls_to("create") == []


def test_a_quote_of_the_brand_may_be_answered(x, channel, clock):
    brand_post = x.add_tweet("New routes to Lisbon!", author="AcmeAir", created_at=clock.now() - timedelta(hours=1))
    quote = x.add_tweet("about time, acme air", author="jane", quote=brand_post["id"],
                        created_at=clock.now() - timedelta(minutes=1))
    assert channel.send(reply(quote["id"], "Glad you like it!")).external_id


def test_xs_own_refusal_becomes_a_manual_reply(x, channel, clock):
    # brandpulse thought the post addressed us; X disagrees: a person answers by hand
    target = x.add_tweet("acme air again late", author="jane", created_at=clock.now() - timedelta(minutes=1))
    with pytest.raises(ManualReplyRequired) as err:
        channel.send(reply(target["id"], "Sorry!", addressed=("acmeair",)))
    assert target["id"] in err.value.url and "reply by hand" in str(err.value)


def test_a_duplicate_is_refused_permanently(x, channel, clock):
    channel.send(OutboundPost(outbox_id=1, platform="x", brand="acme", account=None, text="Service restored.", kind="status"))
    with pytest.raises(SendError) as err:
        channel.send(OutboundPost(outbox_id=2, platform="x", brand="acme", account=None, text="Service restored.", kind="status"))
    assert err.value.permanent and "duplicate" in str(err.value)


def test_find_sent_sees_through_tco_links_and_entities(x, channel, clock):
    target = x.add_tweet("@AcmeAir is the app down?", author="jane", created_at=clock.now() - timedelta(minutes=1))
    post = reply(target["id"], "Yes & we're fixing it: https://status.acme.example/incidents/42 <- updates")
    x.fail(faults.LOST_ACK, endpoint="create")
    with pytest.raises(SendError):
        channel.send(post)
    stored = [t for t in x.tweets.values() if t["author_id"] == x.me_id][0]
    assert "t.co" in stored["text"] and "&amp;" in stored["text"]  # what X gives back
    assert channel.find_sent(post).external_id == stored["id"]


@pytest.mark.parametrize("text", [
    "Sorry! Rebook at acme.com/rebook, or DM us.",  # X links a bare domain and wraps it in t.co too
    "Fixed: see (https://status.acme.example/incidents/42).",  # punctuation X leaves outside the link
    "On it &amp; more at acme.com",  # a literal entity in our text: X escapes it again
])
def test_find_sent_recognises_the_post_whatever_x_did_to_its_links(x, channel, clock, text):
    target = x.add_tweet("@AcmeAir is the app down?", author="jane", created_at=clock.now() - timedelta(minutes=1))
    post = reply(target["id"], text)
    x.fail(faults.LOST_ACK, endpoint="create")
    with pytest.raises(SendError):
        channel.send(post)
    [stored] = [t for t in x.tweets.values() if t["author_id"] == x.me_id]
    assert channel.find_sent(post).external_id == stored["id"]
    assert channel.find_sent(reply(target["id"], f"{text} Thanks!")) is None  # another text is not it


def test_the_account_is_looked_up_once(x, channel, clock):
    for i in range(3):
        channel.send(OutboundPost(outbox_id=i, platform="x", brand="acme", account="AcmeAir", text=f"Update {i}",
                                  kind="status"))
    assert len(x.calls_to("me")) == 1


def test_credentials_of_another_account_are_refused(x, settings, clock):
    channel = build_x_channel(settings, env=env(x), clock=clock, account="AcmeHelp")
    with pytest.raises(SendError) as err:
        channel.send(OutboundPost(outbox_id=1, platform="x", brand="acme", account=None, text="hi", kind="status"))
    assert err.value.permanent and "@AcmeAir" in str(err.value)


def test_posting_as_another_brand_account_is_explained(x, channel):
    with pytest.raises(SendError) as err:
        channel.send(OutboundPost(outbox_id=1, platform="x", brand="acme", account="AcmeHelp", text="hi", kind="status"))
    assert "another of the brand's accounts" in str(err.value)


def test_missing_credentials_are_all_named(settings):
    with pytest.raises(MissingSecretError) as err:
        build_x_channel(settings, env={"X_API_KEY": "k"})
    assert err.value.names == ["X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET"]
