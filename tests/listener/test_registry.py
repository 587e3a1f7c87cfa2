"""The source registry: x and reddit kinds, checked at load without
credentials (enabled or not), built with credentials for ``run``."""

from __future__ import annotations

import pytest
import responses

from brandpulse.config import ConfigError, parse_settings
from listener.budget import SourceBudget
from listener.reddit import RedditSource
from listener.registry import SOURCE_CHECKS, SOURCE_KINDS, build_sources, check_sources
from listener.x import XSource

X_MENTIONS = {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir"}
X_SEARCH = {"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search", "monthly_budget": 20}
REDDIT_POSTS = {"name": "reddit-posts", "kind": "reddit", "brand": "acme", "listing": "submissions"}
REDDIT_COMMENTS = {"name": "reddit-comments", "kind": "reddit", "brand": "acme", "listing": "comments",
                   "subreddits": ["travel", "flying"]}
REDDIT_ENV = {"REDDIT_CLIENT_ID": "cid-123456", "REDDIT_CLIENT_SECRET": "csec-123456",
              "REDDIT_USERNAME": "AcmeAir_Team", "REDDIT_PASSWORD": "pw-123456"}


@pytest.fixture
def make_settings(tmp_path, config_dict):
    def build(**changes):
        return parse_settings({**config_dict, "data_dir": str(tmp_path / "data"), **changes},
                              path=tmp_path / "brandpulse.yaml")

    return build


def test_every_kind_has_a_check():
    assert set(SOURCE_KINDS) == set(SOURCE_CHECKS) >= {"replay", "x", "reddit"}


def test_checks_need_no_credentials_and_return_budgets(make_settings, monkeypatch):
    for name in ("X_BEARER_TOKEN", *REDDIT_ENV):
        monkeypatch.delenv(name, raising=False)
    settings = make_settings(sources=[X_MENTIONS, X_SEARCH, REDDIT_POSTS, REDDIT_COMMENTS])
    with responses.RequestsMock():  # and no network
        budgets = check_sources(settings)
    assert budgets["x-search"] == SourceBudget(price_per_post=0.005, price_per_user=0.01, monthly_budget=20,
                                               max_spend_per_poll=pytest.approx(5 * 100 * 0.015))
    assert budgets["x-mentions"].monthly_budget is None
    assert budgets["reddit-posts"].price_per_post == 0 and budgets["reddit-posts"].max_spend_per_poll == 0


def test_disabled_sources_are_checked_too(make_settings):
    bad = [
        {**X_SEARCH, "enabled": False, "max_results": 500},
        {**REDDIT_POSTS, "enabled": False, "listing": "hot"},
        {**X_MENTIONS, "name": "x-who", "enabled": False, "account": None},  # brand has two X accounts
    ]
    settings = make_settings(sources=bad)
    with pytest.raises(ConfigError) as info:
        check_sources(settings)
    message = str(info.value)
    assert "sources[0].max_results" in message
    assert "sources[1].listing" in message
    assert "sources[2]: brand 'acme' has several X accounts" in message
    assert build_sources(settings) == []  # disabled: never built


def test_building_needs_credentials_and_names_them(make_settings, monkeypatch):
    for name in ("X_BEARER_TOKEN", "X_BEARER_TOKEN_FILE", *REDDIT_ENV):
        monkeypatch.delenv(name, raising=False)
    settings = make_settings(sources=[X_SEARCH, REDDIT_COMMENTS])
    with pytest.raises(ConfigError) as info:
        build_sources(settings)
    message = str(info.value)
    assert "X_BEARER_TOKEN" in message and "x-search" in message
    assert "REDDIT_CLIENT_ID" in message and "REDDIT_PASSWORD" in message


def test_building_with_credentials_from_the_environment(make_settings, monkeypatch):
    monkeypatch.setenv("X_BEARER_TOKEN", "bearer-123456")
    for k, v in REDDIT_ENV.items():
        monkeypatch.setenv(k, v)
    settings = make_settings(sources=[X_MENTIONS, X_SEARCH, REDDIT_POSTS, REDDIT_COMMENTS,
                                      {**REDDIT_POSTS, "name": "off", "enabled": False}])
    with responses.RequestsMock():  # building makes no request
        sources = build_sources(settings)
    assert [type(s) for s in sources] == [XSource, XSource, RedditSource, RedditSource]
    assert sources[1].budget.monthly_budget == 20
    assert sources[3].subreddits == ["travel", "flying"]


def test_a_config_cannot_move_api_hosts(make_settings):
    for options in ({"host": "http://evil.example"}, {"oauth_url": "http://evil.example"},
                    {"reddit_url": "http://evil.example"}, {"base_url": "http://evil.example"}):
        settings = make_settings(sources=[{**REDDIT_POSTS, **options}, {**X_SEARCH, **options}])
        with pytest.raises(ConfigError) as info:
            check_sources(settings)
        key = next(iter(options))
        assert f"sources[0].{key}: unknown key" in str(info.value) or f"sources[0].{key}" in str(info.value)
        assert f"sources[1].{key}" in str(info.value)


def test_the_example_configuration_validates_without_credentials(monkeypatch):
    from brandpulse.app import DEMO_CONFIG
    from brandpulse.config import load_settings
    from brandpulse.wiring import validate_settings

    for name in ("X_BEARER_TOKEN", "X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", *REDDIT_ENV):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)
    settings = load_settings(DEMO_CONFIG.parent / "example.yaml")
    validate_settings(settings)  # every source entry checked, none built
    kinds = {s.kind for s in settings.sources}
    assert {"x", "reddit"} <= kinds and not any(s.enabled for s in settings.sources if s.kind in ("x", "reddit"))
    assert check_sources(settings)["acme-x-mentions"].monthly_budget == 50
