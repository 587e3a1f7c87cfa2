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
    assert "sources[2].account: brand 'acme' has several X accounts" in message
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


X_OWN = {"name": "x-own", "kind": "x", "brand": "acme", "endpoint": "own_replies", "account": "AcmeAir"}
REPLAY = {"name": "replay", "kind": "replay", "brand": "acme", "path": "no-such-day.jsonl"}


@pytest.mark.parametrize(("source", "problem"), [
    # x search
    ({**X_SEARCH, "max_results": 5}, "max_results: must be between 10 and 100 for endpoint 'search'"),
    ({**X_SEARCH, "max_results": 500}, "max_results: Input should be less than or equal to 100"),
    ({**X_SEARCH, "account": "AcmeAir"}, "account: applies to endpoints 'mentions' and 'own_replies' only"),
    ({**X_SEARCH, "max_pages": 0}, "max_pages: Input should be greater than or equal to 1"),
    ({**X_SEARCH, "endpoint": "timeline"}, "endpoint: Input should be 'mentions', 'search' or 'own_replies'"),
    ({**X_SEARCH, "query": "q" * 600}, "query: String should have at most 512 characters"),
    ({**X_SEARCH, "brand": "bare"}, "query: brand 'bare' has no query.keywords to search for (or give the source a 'query')"),
    ({**X_SEARCH, "brand": "wordy"}, "query: the X query for brand 'wordy' is "),
    # x mentions
    ({**X_MENTIONS, "max_results": 2}, "max_results: Input should be greater than or equal to 5"),
    ({**X_MENTIONS, "query": "acme"}, "query: applies to endpoint 'search' only"),
    ({**X_MENTIONS, "account": None}, "account: brand 'acme' has several X accounts (AcmeAir, AcmeHelp); give each mentions source an 'account'"),
    ({**X_MENTIONS, "brand": "bare", "account": None}, "account: brand 'bare' has no X account; give the source an 'account'"),
    # x own_replies
    ({**X_OWN, "account": "nobody"}, "account: 'nobody' is not an X account of brand 'acme' (brands[].accounts.x: AcmeAir, AcmeHelp)"),
    ({**X_OWN, "query": "acme"}, "query: applies to endpoint 'search' only"),
    # reddit
    ({**REDDIT_POSTS, "listing": "hot"}, "listing: Input should be 'submissions' or 'comments'"),
    ({**REDDIT_POSTS, "page_size": 500}, "page_size: Input should be less than or equal to 100"),
    ({**REDDIT_POSTS, "account": "nobody"}, "account: u/nobody is not a Reddit account of brand 'acme'"),
    ({**REDDIT_POSTS, "account": ""}, "account: empty; name one of the brand's Reddit accounts"),
    ({**REDDIT_COMMENTS, "subreddits": ["travel", "not a sub!"]}, "subreddits: not a subreddit name: 'not a sub!'"),
    ({**REDDIT_POSTS, "brand": "bare"}, "subreddits: brand 'bare' has no query.subreddits to listen in (or give the source 'subreddits')"),
    # replay
    (REPLAY, "path: "),
    ({**REPLAY, "enabled": False, "batch_limit": "many"}, "batch_limit: Input should be a valid integer"),
    # any kind
    ({**X_SEARCH, "max_result": 50}, "max_result: unknown key"),
])
def test_an_option_error_is_named_by_its_key_path(make_settings, config_dict, source, problem):
    # 'sources[2].(top level): max_results …' and 'sources[2]: account: …' left the reader to find the key.
    brands = [*config_dict["brands"], {"id": "bare", "name": "Bare"},
              {"id": "wordy", "name": "Wordy", "query": {"keywords": [f"keyword number {i}" for i in range(40)]}}]
    settings = make_settings(brands=brands, sources=[{**X_SEARCH, "name": "a"}, {**REDDIT_POSTS, "name": "b"}, source])
    with pytest.raises(ConfigError) as info:
        check_sources(settings)
    [message] = info.value.problems
    assert message.startswith(f"sources[2].{problem}"), message
    assert "(top level)" not in message
