"""The rule engine: every condition, every action, merging, stop, and the
brand's own posts."""

from __future__ import annotations

import pytest

from brandpulse.config import ConfigError, parse_settings
from brandpulse.types import AlertDecision, Decision, Label, Priority
from rules.engine import RuleEngine


def engine_with(config_dict, rules, tmp_path, **extra):
    config_dict["rules"] = rules
    config_dict.update(extra)
    settings = parse_settings(config_dict, path=tmp_path / "brandpulse.yaml")
    return RuleEngine(settings)


def tag_rule(name, when, **then):
    return {"name": name, "when": when, "then": {"tags": [name], **then}}


def matches(engine, mention, score) -> bool:
    return engine.evaluate(mention, score).matched != ()


# -- conditions --------------------------------------------------------------


def test_label_condition_matches_any_listed_label(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("neg-or-neutral", {"label": ["negative", "neutral"]})], tmp_path)
    m = make_mention()
    assert matches(eng, m, make_score(-0.6))
    assert matches(eng, m, make_score(0.0))
    assert not matches(eng, m, make_score(0.7))


def test_unknown_label_is_routable(config_dict, tmp_path, make_mention, make_score):
    rules = [{"name": "human-look", "when": {"label": ["unknown"]}, "then": {"alert": {"priority": "P3"}, "tags": ["lang?"]}}]
    eng = engine_with(config_dict, rules, tmp_path)
    d = eng.evaluate(make_mention("アクメ航空の荷物が届かない", lang="ja"), make_score(0.0, Label.UNKNOWN))
    assert d.matched == ("human-look",)
    assert d.alert is not None and d.alert.priority is Priority.P3
    assert d.tags == ("lang?",)
    assert eng.evaluate(make_mention(), make_score(0.0, Label.NEUTRAL)) == Decision()


def test_compound_bounds_are_inclusive(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("band", {"min_compound": -0.5, "max_compound": -0.2})], tmp_path)
    m = make_mention()
    assert matches(eng, m, make_score(-0.5))
    assert matches(eng, m, make_score(-0.2))
    assert matches(eng, m, make_score(-0.3))
    assert not matches(eng, m, make_score(-0.51))
    assert not matches(eng, m, make_score(-0.19))


def test_keywords_any_whole_words_case_insensitive(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("refunds", {"keywords_any": ["refund", "lost bag"]})], tmp_path)
    s = make_score(-0.4)
    assert matches(eng, make_mention("Where is my REFUND?"), s)
    assert matches(eng, make_mention("they lost\n  bag number two"), s)  # any white space inside a phrase
    assert matches(eng, make_mention("refund."), s)
    assert not matches(eng, make_mention("refunded already, thanks"), s)  # not inside a longer word
    assert not matches(eng, make_mention("nonrefund policy"), s)
    assert not matches(eng, make_mention("lost baggage"), s)


def test_keywords_search_the_title_too(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("outage", {"keywords_any": ["app down"]})], tmp_path)
    m = make_mention("Anyone else? Can't check in.", platform="reddit", title="Acme app down again")
    assert matches(eng, m, make_score(-0.3))


def test_keywords_none_excludes(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(
        config_dict,
        [tag_rule("complaint-not-joke", {"label": ["negative"], "keywords_none": ["road runner", "jk"]})],
        tmp_path,
    )
    s = make_score(-0.5)
    assert matches(eng, make_mention("acme air delayed my flight"), s)
    assert not matches(eng, make_mention("Acme anvils vs the Road  Runner, terrible"), s)
    assert not matches(eng, make_mention("worst airline ever JK"), s)
    assert matches(eng, make_mention("jkl keyboards are bad"), s)  # whole words only


def test_regex_is_searched_case_insensitively(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("booking", {"regex": r"booking (ref|reference) [A-Z0-9]{6}"})], tmp_path)
    s = make_score(0.0)
    assert matches(eng, make_mention("My Booking Ref x7k2pq still not working"), s)
    assert not matches(eng, make_mention("no booking here"), s)


def test_lang_uses_mention_language_then_analyzer_language(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("spanish", {"lang": ["ES", "pt"]})], tmp_path)
    assert matches(eng, make_mention("mi maleta", lang="es"), make_score(-0.2))
    assert matches(eng, make_mention("mi maleta", lang="es-MX"), make_score(-0.2))  # primary subtag
    assert matches(eng, make_mention("mi maleta", lang=None), make_score(-0.2, lang="es"))
    assert not matches(eng, make_mention("my bag", lang="en"), make_score(-0.2, lang="es"))  # mention's wins
    assert not matches(eng, make_mention("??", lang=None), make_score(-0.2, lang=None))


def test_platform_condition(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("reddit-only", {"platform": ["reddit"]})], tmp_path)
    assert matches(eng, make_mention(platform="reddit"), make_score())
    assert not matches(eng, make_mention(platform="x"), make_score())


def test_follower_bounds_are_inclusive(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("mid", {"min_followers": 1000, "max_followers": 50_000})], tmp_path)
    s = make_score()
    assert matches(eng, make_mention(followers=1000), s)
    assert matches(eng, make_mention(followers=50_000), s)
    assert not matches(eng, make_mention(followers=999), s)
    assert not matches(eng, make_mention(followers=50_001), s)


@pytest.mark.parametrize(
    ("platform", "text", "addressed", "expected"),
    [
        ("x", "@AcmeAir my bag is gone", (), True),
        ("x", "hey @acmehelp, anyone there?", (), True),  # case-insensitive
        ("x", "my bag is gone", ("acmeair",), True),  # reply/quote reported by the platform
        ("x", "my bag is gone", ("@AcmeHelp",), True),
        ("x", "@AcmeAirlines is a different account", (), False),
        ("x", "write to support@AcmeAir.example", (), False),  # an e-mail address, not a mention
        ("x", "u/AcmeAir_Team on X means nothing", (), False),  # a Reddit account, on X
        ("x", "my bag is gone", ("someoneelse",), False),
        ("reddit", "pinging u/AcmeAir_Team about this", (), True),
        ("reddit", "pinging /u/acmeair_team about this", (), True),
        ("reddit", "pinging u/AcmeAir_Team-fan", (), False),
        ("reddit", "@AcmeAir on reddit is not a mention", (), False),
        ("reddit", "no mention", ("acmeair_team",), True),
        ("replay", "@AcmeAir via replay", (), True),  # other platforms: every account, both forms
        ("replay", "u/AcmeAir_Team via replay", (), True),
    ],
)
def test_addresses_brand(config_dict, tmp_path, make_mention, make_score, platform, text, addressed, expected):
    eng = engine_with(
        config_dict,
        [tag_rule("direct", {"addresses_brand": True}), tag_rule("indirect", {"addresses_brand": False})],
        tmp_path,
    )
    d = eng.evaluate(make_mention(text, platform=platform, addressed=addressed), make_score())
    assert d.matched == (("direct",) if expected else ("indirect",))


def test_brand_condition(config_dict, tmp_path, make_mention, make_score):
    config_dict["brands"].append({"id": "zenith", "name": "Zenith Rail", "accounts": {"x": ["ZenithRail"]}})
    eng = engine_with(config_dict, [tag_rule("zenith", {"brand": ["zenith"]})], tmp_path)
    assert matches(eng, make_mention(brand="zenith"), make_score())
    assert not matches(eng, make_mention(brand="acme"), make_score())


def test_all_conditions_must_hold(config_dict, tmp_path, make_mention, make_score):
    when = {"label": ["negative"], "platform": ["x"], "min_followers": 10_000, "keywords_any": ["delayed"]}
    eng = engine_with(config_dict, [tag_rule("big-delay", when)], tmp_path)
    good = make_mention("flight delayed 5h", followers=20_000)
    assert matches(eng, good, make_score(-0.5))
    assert not matches(eng, good, make_score(0.5))  # label fails
    assert not matches(eng, make_mention("flight delayed 5h", followers=20_000, platform="reddit"), make_score(-0.5))
    assert not matches(eng, make_mention("flight delayed 5h", followers=50), make_score(-0.5))
    assert not matches(eng, make_mention("flight late 5h", followers=20_000), make_score(-0.5))


def test_rule_without_conditions_matches_everything(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("all", {})], tmp_path)
    assert eng.evaluate(make_mention(), make_score(0.9)).tags == ("all",)


# -- actions and merging -----------------------------------------------------


def test_alert_auto_uses_priority_score(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [{"name": "complaint", "when": {"label": ["negative"]}, "then": {"alert": {}}}], tmp_path)
    mention = make_mention("STRANDED at the gate, flight cancelled!!!", followers=200_000, verified=True)
    score = make_score(-0.9)
    d = eng.evaluate(mention, score)
    tier, value = eng.scorer_for("acme")(mention, score)
    assert d.alert == AlertDecision(rule="complaint", priority=tier, priority_score=value)
    assert tier is Priority.P1 and value > 0.65
    mild = eng.evaluate(make_mention("meh, flight a bit late", followers=3), make_score(-0.1))
    assert mild.alert is not None and mild.alert.priority is Priority.P4


def test_fixed_tier_is_taken_as_given_but_score_computed(config_dict, tmp_path, make_mention, make_score):
    rules = [{"name": "vip", "when": {"min_followers": 0}, "then": {"alert": {"priority": "P2"}}}]
    eng = engine_with(config_dict, rules, tmp_path)
    mention, score = make_mention("thanks!", followers=5), make_score(0.8)
    d = eng.evaluate(mention, score)
    assert d.alert is not None and d.alert.priority is Priority.P2
    assert d.alert.priority_score == pytest.approx(eng.scorer_for("acme").score(mention, score))
    assert 0 < d.alert.priority_score < 0.25  # a P4-grade score, kept for ordering within P2


def test_merge_actions_of_all_matching_rules(config_dict, tmp_path, make_mention, make_score):
    rules = [
        {"name": "negative", "when": {"label": ["negative"]}, "then": {"alert": {"priority": "P3"}, "tags": ["complaint"]}},
        {"name": "nomatch", "when": {"platform": ["reddit"]}, "then": {"alert": {"priority": "P1"}, "tags": ["reddit"]}},
        {"name": "bags", "when": {"keywords_any": ["bag"]}, "then": {"draft": "apology", "tags": ["baggage", "complaint"]}},
        {"name": "loud", "when": {"min_followers": 10_000}, "then": {"alert": {"priority": "P2"}, "draft": "thanks", "tags": ["reach"]}},
    ]
    eng = engine_with(config_dict, rules, tmp_path)
    d = eng.evaluate(make_mention("lost my bag", followers=20_000), make_score(-0.2))
    assert d.matched == ("negative", "bags", "loud")
    assert d.alert is not None
    assert d.alert.rule == "negative"  # the first rule with an alert names it
    assert d.alert.priority is Priority.P2  # the most urgent tier of the matching rules
    assert d.draft_template == "apology"  # the first matching rule's template
    assert d.tags == ("complaint", "baggage", "reach")  # union, in order, no repeats


def test_most_urgent_between_auto_and_fixed(config_dict, tmp_path, make_mention, make_score):
    rules = [
        {"name": "auto", "when": {}, "then": {"alert": {"priority": "auto"}}},
        {"name": "floor", "when": {}, "then": {"alert": {"priority": "P3"}}},
    ]
    eng = engine_with(config_dict, rules, tmp_path)
    calm = eng.evaluate(make_mention("ok", followers=1), make_score(0.1))
    assert calm.alert is not None and calm.alert.priority is Priority.P3 and calm.alert.rule == "auto"
    angry = eng.evaluate(make_mention("HELP!!! stranded, urgent", followers=500_000), make_score(-0.95))
    assert angry.alert is not None and angry.alert.priority is Priority.P1


def test_stop_ends_evaluation(config_dict, tmp_path, make_mention, make_score):
    rules = [
        {"name": "first", "when": {"label": ["negative"]}, "then": {"tags": ["a"]}},
        {"name": "stopper", "when": {"keywords_any": ["spam"]}, "then": {"tags": ["b"]}, "stop": True},
        {"name": "after", "when": {}, "then": {"alert": {}, "tags": ["c"]}},
    ]
    eng = engine_with(config_dict, rules, tmp_path)
    stopped = eng.evaluate(make_mention("this is spam"), make_score(-0.3))
    assert stopped.matched == ("first", "stopper") and stopped.tags == ("a", "b") and stopped.alert is None
    # stop only acts when its rule matched
    go_on = eng.evaluate(make_mention("bag lost"), make_score(-0.3))
    assert go_on.matched == ("first", "after") and go_on.alert is not None


def test_draft_only_and_tag_only_rules(config_dict, tmp_path, make_mention, make_score):
    rules = [{"name": "praise", "when": {"label": ["positive"]}, "then": {"draft": "thanks", "tags": ["praise"]}}]
    eng = engine_with(config_dict, rules, tmp_path)
    d = eng.evaluate(make_mention("love acme air"), make_score(0.8))
    assert d == Decision(matched=("praise",), alert=None, draft_template="thanks", tags=("praise",))


def test_no_rule_matches_gives_empty_decision(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("neg", {"label": ["negative"]})], tmp_path)
    assert eng.evaluate(make_mention("love it"), make_score(0.8)) == Decision()


def test_no_rules_at_all(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [], tmp_path)
    assert eng.evaluate(make_mention(), make_score(-0.9)) == Decision()


# -- the brand's own accounts -----------------------------------------------


@pytest.mark.parametrize(
    ("platform", "handle", "own"),
    [
        ("x", "AcmeAir", True),
        ("x", "acmehelp", True),
        ("x", "@ACMEHELP", True),
        ("x", "AcmeAir_Team", False),  # the Reddit account's name, on X: someone else
        ("reddit", "acmeair_team", True),
        ("reddit", "AcmeAir", False),
        ("x", "AcmeAirFan", False),
    ],
)
def test_own_accounts_never_match(config_dict, tmp_path, make_mention, make_score, platform, handle, own):
    rules = [{"name": "everything", "when": {}, "then": {"alert": {"priority": "P1"}, "draft": "apology", "tags": ["t"]}}]
    eng = engine_with(config_dict, rules, tmp_path)
    d = eng.evaluate(make_mention("@AcmeAir outage update: we're on it", platform=platform, handle=handle), make_score(-0.8))
    assert (d == Decision()) is own
    assert eng.is_own_post(make_mention(platform=platform, handle=handle)) is own


# -- errors -------------------------------------------------------------------


def test_unknown_brand_is_a_clear_error(config_dict, tmp_path, make_mention, make_score):
    eng = engine_with(config_dict, [tag_rule("all", {})], tmp_path)
    with pytest.raises(ValueError, match=r"brand 'nobody'.*known: acme"):
        eng.evaluate(make_mention(brand="nobody"), make_score())


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"label": []}, r"rules\[0\]\.when\.label: an empty list never matches"),
        ({"keywords_any": ["  "]}, r"rules\[0\]\.when\.keywords_any: an empty list never matches"),
        ({"min_compound": 0.2, "max_compound": -0.2}, r"rules\[0\]\.when: min_compound 0.2 is above max_compound"),
        ({"min_followers": 10, "max_followers": 5}, r"rules\[0\]\.when: min_followers 10 is above max_followers 5"),
    ],
)
def test_conditions_that_can_never_match_are_config_errors(config_dict, tmp_path, when, message):
    with pytest.raises(ConfigError, match=message) as info:
        engine_with(config_dict, [tag_rule("r", when)], tmp_path)
    assert "brandpulse.yaml" in str(info.value)


def test_unusable_priority_weights_are_config_errors(config_dict, tmp_path):
    with pytest.raises(ConfigError, match=r"priority\.weights: at least one"):
        engine_with(config_dict, [], tmp_path, priority={"weights": {"negativity": 0, "reach": 0, "urgency": 0}})
    with pytest.raises(ConfigError, match=r"priority\.weights: weights must be 0 or more"):
        engine_with(config_dict, [], tmp_path, priority={"weights": {"negativity": 1, "reach": -0.5}})
