"""The ``live`` channel kind: X and Reddit channels for the networks
brandpulse posts on, or a configuration error naming what is missing."""

from __future__ import annotations

import pytest
import responses

from brandpulse.config import ConfigError
from outreach.channels.base import configured_accounts
from outreach.channels import reddit as reddit_channel
from outreach.channels import x as x_channel
from outreach.channels.reddit import RedditAccountsChannel
from outreach.channels.registry import LIVE_PLATFORMS, build_channels
from outreach.channels.x import XAccountsChannel

X_ENV = {"X_API_KEY": "k-123456", "X_API_SECRET": "s-123456", "X_ACCESS_TOKEN": "111-tok-123456",
         "X_ACCESS_TOKEN_SECRET": "ts-123456"}
REDDIT_ENV = {"REDDIT_CLIENT_ID": "cid-123456", "REDDIT_CLIENT_SECRET": "csec-123456",
              "REDDIT_USERNAME": "AcmeAir_Team", "REDDIT_PASSWORD": "pw-123456"}
X_SOURCE = {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir"}
REDDIT_SOURCE = {"name": "reddit-posts", "kind": "reddit", "brand": "acme", "listing": "submissions"}


def live(make_settings, *, sources, **outreach):
    return make_settings(outreach={"channel": "live", **outreach}, sources=sources)


def problems(settings, env) -> str:
    with pytest.raises(ConfigError) as info:
        build_channels(settings, env=env)
    return str(info.value)


def test_credential_names_match_the_channel_modules(make_settings):
    """Without per-account credentials, the start-up check reads what each
    channel module names (the app's and the default account's)."""
    settings = make_settings(brands=[{"id": "solo", "name": "Solo", "query": {"keywords": ["solo"]}}])
    for platform, module in (("x", x_channel), ("reddit", reddit_channel)):
        credentials, _, _ = LIVE_PLATFORMS[platform]
        assert credentials(configured_accounts(settings, platform), {}).names_to_read() == list(module.CREDENTIALS)


def test_builds_a_channel_per_network_listened_to_without_touching_the_network(make_settings):
    settings = live(make_settings, sources=[X_SOURCE, REDDIT_SOURCE])
    with responses.RequestsMock() as mock:  # any request would fail: none may be made
        channels = build_channels(settings, env={**X_ENV, **REDDIT_ENV})
        assert len(mock.calls) == 0
    assert set(channels) == {"x", "reddit"}
    assert isinstance(channels["x"], XAccountsChannel) and isinstance(channels["reddit"], RedditAccountsChannel)
    assert channels["reddit"].channel_for(None).username == "AcmeAir_Team"
    assert {"acmeair", "acmehelp"} <= channels["x"].brand_accounts


def test_missing_credentials_of_a_network_listened_to_are_named(make_settings):
    settings = live(make_settings, sources=[X_SOURCE, REDDIT_SOURCE])
    env = {**X_ENV, "REDDIT_CLIENT_ID": "cid-123456", "REDDIT_USERNAME": "AcmeAir_Team"}
    message = problems(settings, env)
    assert "Reddit" in message and "reddit-posts" in message
    assert "REDDIT_CLIENT_SECRET, REDDIT_PASSWORD" in message
    assert "X_API_KEY" not in message  # X is complete
    assert "cid-123456" not in message  # values never appear


def test_a_credential_file_counts(make_settings, tmp_path):
    secret = tmp_path / "x_secret"
    secret.write_text("s-from-file-123\n")
    env = {**X_ENV}
    del env["X_API_SECRET"]
    env["X_API_SECRET_FILE"] = str(secret)
    channels = build_channels(live(make_settings, sources=[X_SOURCE]), env=env)
    assert set(channels) == {"x"}


def test_an_unreadable_credential_file_is_a_clear_error(make_settings, tmp_path):
    env = {**X_ENV}
    del env["X_API_SECRET"]
    env["X_API_SECRET_FILE"] = str(tmp_path / "missing")
    message = problems(live(make_settings, sources=[X_SOURCE]), env)
    assert "X_API_SECRET_FILE" in message and "cannot be read" in message


def test_other_networks_get_a_channel_only_with_complete_credentials(make_settings):
    settings = live(make_settings, sources=[X_SOURCE])
    assert set(build_channels(settings, env=X_ENV)) == {"x"}
    assert set(build_channels(settings, env={**X_ENV, **REDDIT_ENV})) == {"x", "reddit"}
    message = problems(settings, {**X_ENV, "REDDIT_USERNAME": "AcmeAir_Team"})
    assert "incomplete" in message and "REDDIT_CLIENT_ID" in message


def test_outreach_platforms_chooses_the_networks(make_settings):
    settings = live(make_settings, sources=[X_SOURCE, REDDIT_SOURCE], platforms=["reddit"])
    channels = build_channels(settings, env=REDDIT_ENV)  # no X posting credentials: not needed
    assert set(channels) == {"reddit"}
    message = problems(live(make_settings, sources=[X_SOURCE], platforms=["reddit"]), X_ENV)
    assert "outreach.platforms" in message and "REDDIT_CLIENT_ID" in message


def test_live_refuses_to_answer_recorded_posts(make_settings, tmp_path):
    (tmp_path / "m.jsonl").write_text("")
    replay = {"name": "replay", "kind": "replay", "brand": "acme", "path": str(tmp_path / "m.jsonl")}
    message = problems(live(make_settings, sources=[replay, X_SOURCE]), X_ENV)
    assert "replay" in message and "dry-run" in message


def test_dry_run_stays_the_default(make_settings):
    settings = make_settings(sources=[X_SOURCE])
    assert settings.outreach.channel == "dry-run"
    channels = build_channels(settings, env={**X_ENV, **REDDIT_ENV})
    assert all(type(c).__name__ == "DryRunChannel" for c in channels.values())


def test_the_reason_to_post_on_a_network_reads_as_one_parenthesis(make_settings):
    """The message once read '(brandpulse listens there (sources x-mentions))'."""
    message = problems(live(make_settings, sources=[X_SOURCE]), {})
    assert ("outreach.channel: 'live' posts on X (brandpulse listens there: sources x-mentions) but its credentials"
            " are missing: X_API_KEY") in message
    assert "((" not in message and "))" not in message
    message = problems(live(make_settings, sources=[X_SOURCE], platforms=["x"]), {})
    assert "'live' posts on X (listed in outreach.platforms) but its credentials are missing" in message
