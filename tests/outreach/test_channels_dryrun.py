"""The dry-run channel and the channel registry."""

from __future__ import annotations

import io

import pytest

from brandpulse.config import ConfigError
from outreach.channels.base import Channel, ManualReplyRequired, OutboundPost, SendError, SentPost
from outreach.channels.dryrun import DryRunChannel
from outreach.channels.registry import build_channels


def post(**changes) -> OutboundPost:
    values = dict(outbox_id=7, platform="x", brand="acme", account="AcmeHelp", text="Hi @sam!", in_reply_to="123",
                  addressed_handles=("acmehelp",))
    values.update(changes)
    return OutboundPost(**values)


def test_records_prints_and_finds_what_it_would_post():
    out = io.StringIO()
    channel = DryRunChannel("x", out=out, max_length=280)
    assert isinstance(channel, Channel)
    assert channel.find_sent(post()) is None
    assert channel.send(post()) == SentPost(external_id="dry-run-7")
    assert channel.sent == [post()]
    assert out.getvalue() == "[dry-run] would post on x as @AcmeHelp in reply to 123: Hi @sam!\n"
    assert channel.find_sent(post()) == SentPost(external_id="dry-run-7")
    assert channel.find_sent(post(outbox_id=8)) is None


def test_reddit_standalone_and_accountless_lines():
    out = io.StringIO()
    DryRunChannel("reddit", out=out).send(post(platform="reddit", account="AcmeAir_Team", in_reply_to=None))
    DryRunChannel("replay", out=out).send(post(platform="replay", account=None))
    assert out.getvalue().splitlines() == [
        "[dry-run] would post on reddit as u/AcmeAir_Team: Hi @sam!",
        "[dry-run] would post on replay (no brand account configured) in reply to 123: Hi @sam!",
    ]


def test_terminal_escape_sequences_are_not_printed():
    out = io.StringIO()
    DryRunChannel("x", out=out).send(post(text="hi \x1b[2J\x1b]0;pwned\x07 there\nline two"))
    assert out.getvalue() == "[dry-run] would post on x as @AcmeHelp in reply to 123: hi [2J]0;pwned there\nline two\n"


@pytest.mark.parametrize("addressed", [(), ("acmeair",), None])
def test_x_reply_rule_is_applied_as_the_live_channel_applies_it(addressed):
    """A dry run shows what going live would do: X lets an app reply only to a post that
    @mentioned or quoted the replying account, so any other reply is for a person to write."""
    out = io.StringIO()
    channel = DryRunChannel("x", out=out, max_length=280)
    with pytest.raises(ManualReplyRequired) as info:
        channel.send(post(addressed_handles=addressed))
    assert info.value.permanent and info.value.url == "https://x.com/i/web/status/123"
    assert str(info.value) == ("reply by hand: https://x.com/i/web/status/123 (X lets an app reply only to posts"
                               " that @mention or quote @AcmeHelp)")
    assert channel.sent == [] and channel.find_sent(post()) is None
    assert out.getvalue() == ("[dry-run] would not post on x as @AcmeHelp in reply to 123: reply by hand:"
                              " https://x.com/i/web/status/123 (X lets an app reply only to posts that @mention or"
                              " quote @AcmeHelp)\n")


def test_x_posts_the_rule_allows_are_posted():
    channel = DryRunChannel("x", max_length=280)
    channel.send(post(addressed_handles=("jane", "acmehelp")))  # addressed with another account too
    channel.send(post(outbox_id=8, kind="status", in_reply_to="456", addressed_handles=None))  # the brand's own thread
    channel.send(post(outbox_id=9, in_reply_to=None, kind="status", addressed_handles=None))  # a standalone post
    channel.send(post(outbox_id=10, account=None, addressed_handles=("acmeair",)))  # which account posts: unknown here
    DryRunChannel("reddit").send(post(platform="reddit", in_reply_to="t3_abc", addressed_handles=()))  # X's rule only
    assert [p.outbox_id for p in channel.sent] == [7, 8, 9, 10]


def test_length_limit_and_platform_mismatch_are_permanent_errors():
    channel = DryRunChannel("x", max_length=10)
    with pytest.raises(SendError) as info:
        channel.send(post(text="x" * 11))
    assert info.value.permanent and "11 characters; x allows 10" in str(info.value)
    with pytest.raises(SendError) as info:
        channel.send(post(platform="reddit"))
    assert info.value.permanent
    assert channel.sent == []


def test_registry_builds_dry_run_channels_per_platform(settings):
    out = io.StringIO()
    channels = build_channels(settings, out=out)
    assert {p: (type(c), c.platform, c.max_length) for p, c in channels.items()} == {
        "x": (DryRunChannel, "x", 280),
        "reddit": (DryRunChannel, "reddit", 10_000),
        "replay": (DryRunChannel, "replay", None),
    }
    channels["x"].send(post())
    assert out.getvalue().startswith("[dry-run] would post on x")


def test_live_channels_without_credentials_are_refused_clearly(make_settings, tmp_path):
    sources = [{"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search"}]
    settings = make_settings(outreach={"channel": "live"}, sources=sources)
    with pytest.raises(ConfigError) as info:
        build_channels(settings, env={})
    message = str(info.value)
    assert str(tmp_path / "brandpulse.yaml") in message
    assert "outreach.channel" in message and "X_API_KEY" in message and "x-search" in message
