"""Priority: the formula, its monotonicity, urgency cues and the tiers."""

from __future__ import annotations

import math

import pytest

from brandpulse.config import Brand, PriorityConfig
from brandpulse.types import Priority
from rules.priority import PriorityScorer, priority_for

BRAND = Brand(id="acme", name="Acme Air", vocabulary={"urgent": ["lost bag", "wheelchair"]})
DEFAULT = PriorityConfig()


def scorer(**config) -> PriorityScorer:
    return PriorityScorer(brand=BRAND, config=PriorityConfig(**config))


def test_formula_matches_the_docstring(make_mention, make_score):
    mention, score = make_mention("flight late again", followers=1000), make_score(-0.5)
    negativity = 0.5**0.7
    reach = math.log1p(1000) / math.log1p(100_000)
    expected = 0.5 * negativity + 0.3 * reach + 0.2 * 0.0
    tier, value = priority_for(mention, score, brand=BRAND, config=DEFAULT)
    assert value == pytest.approx(expected)
    assert tier is Priority.P2  # 0.5 * 0.616 + 0.3 * 0.6 = 0.488


def test_public_function_equals_precompiled_scorer(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    for compound, followers, text in [(-0.9, 50, "stranded!!!"), (0.3, 10**6, "nice"), (-0.2, 0, "meh")]:
        m, sc = make_mention(text, followers=followers), make_score(compound)
        assert priority_for(m, sc, brand=BRAND, config=DEFAULT) == s(m, sc)
        assert priority_for(m, sc, brand=BRAND, config=DEFAULT, scorer=s) == s(m, sc)


def test_negativity_part():
    assert PriorityScorer.negativity(0.0) == 0.0
    assert PriorityScorer.negativity(0.8) == 0.0
    assert PriorityScorer.negativity(-1.0) == pytest.approx(1.0)
    mild = PriorityScorer.negativity(-0.05)
    assert 0.05 < mild < 0.2  # mild negatives count a bit, more than linearly


def test_more_negative_never_scores_lower(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    mention = make_mention("my flight", followers=300)
    values = [s.score(mention, make_score(c / 20)) for c in range(20, -21, -1)]  # +1.0 down to -1.0
    assert values == sorted(values)
    assert values[-1] > values[0]


def test_more_followers_never_scores_lower(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    counts = [0, 1, 10, 100, 1_000, 10_000, 99_999, 100_000, 10**6, 10**8]
    values = [s.score(make_mention("late", followers=n), make_score(-0.4)) for n in counts]
    assert values == sorted(values)
    assert s.reach(100_000, False) == pytest.approx(1.0)
    assert s.reach(10**8, False) == 1.0  # capped
    assert s.reach(0, False) == 0.0


def test_verified_adds_a_little_reach(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    plain = s.score(make_mention("late", followers=500), make_score(-0.4))
    verified = s.score(make_mention("late", followers=500, verified=True), make_score(-0.4))
    assert verified == pytest.approx(plain + 0.3 * 0.1)


def test_reach_scale_is_configurable():
    assert scorer(reach_followers_full=1_000).reach(1_000, False) == pytest.approx(1.0)
    assert scorer(reach_followers_full=1_000).reach(100, False) > scorer().reach(100, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my flight was fine", 0.0),
        ("URGENT: need help", 0.6),
        ("I am stranded in Denver", 0.6),
        ("stuck here, need it right   now", 0.8),  # two terms; white space inside a phrase is flexible
        ("stranded, stuck, missed my connection, it's an emergency", 1.0),  # capped
        ("the lost bag desk is closed", 0.6),  # the brand's own urgent vocabulary
        ("Wheelchair never showed up", 0.6),
        ("stuckey's road stop", 0.0),  # whole words only
        ("emergencyexit sign", 0.0),
        ("stranded stranded STRANDED", 0.6),  # distinct terms are counted, not repeats
    ],
)
def test_urgency_words(text, expected):
    assert PriorityScorer(brand=BRAND, config=DEFAULT).urgency(text) == pytest.approx(expected)


def test_shouting_adds_a_little_urgency():
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    assert s.urgency("where is my bag!!!") == pytest.approx(0.15)
    assert s.urgency("where is my bag!!") == 0.0
    assert s.urgency("WHERE IS MY BAG, ACME") == pytest.approx(0.15)
    assert s.urgency("Flying LAX to JFK today") == 0.0  # a few acronyms are not shouting
    assert s.urgency("WHERE IS MY BAG!!! STRANDED") == pytest.approx(0.9)


def test_more_urgent_words_never_score_lower(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    texts = [
        "my flight was cancelled",
        "my flight was cancelled, I'm stuck",
        "my flight was cancelled, I'm stuck and stranded",
        "my flight was cancelled, I'm stuck and stranded, urgent",
        "my flight was cancelled, I'm stuck and stranded, urgent!!!",
    ]
    values = [s.score(make_mention(t, followers=100), make_score(-0.5)) for t in texts]
    assert values == sorted(values)
    assert values[1] > values[0]


def test_urgent_words_in_the_title_count(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    without = s.score(make_mention("see title", platform="reddit", title="Question"), make_score(-0.3))
    with_title = s.score(make_mention("see title", platform="reddit", title="Stranded in Oslo"), make_score(-0.3))
    assert with_title == pytest.approx(without + 0.2 * 0.6)


def test_configured_urgent_words_replace_the_defaults():
    s = scorer(urgent_words=["on fire"])
    assert s.urgency("the kitchen is on fire") == pytest.approx(0.6)
    assert s.urgency("urgent") == 0.0
    assert s.urgency("lost bag") == pytest.approx(0.6)  # brand vocabulary still counts


def test_weights_are_normalised(make_mention, make_score):
    m, sc = make_mention("stranded", followers=1000), make_score(-0.6)
    a = scorer(weights={"negativity": 0.5, "reach": 0.3, "urgency": 0.2}).score(m, sc)
    b = scorer(weights={"negativity": 5, "reach": 3, "urgency": 2}).score(m, sc)
    assert a == pytest.approx(b)
    only_neg = scorer(weights={"negativity": 2}).score(m, sc)
    assert only_neg == pytest.approx(0.6**0.7)
    half = scorer(weights={"negativity": 1, "reach": 1, "urgency": 0}).score(m, sc)
    assert half == pytest.approx((0.6**0.7 + math.log1p(1000) / math.log1p(100_000)) / 2)


def test_unusable_weights_raise():
    with pytest.raises(ValueError, match="at least one"):
        scorer(weights={"negativity": 0.0})
    with pytest.raises(ValueError, match="0 or more"):
        scorer(weights={"negativity": 1.0, "urgency": -1.0})


def test_score_stays_within_0_and_1(make_mention, make_score):
    s = PriorityScorer(brand=BRAND, config=DEFAULT)
    top = s.score(
        make_mention("URGENT!!! STRANDED STUCK EMERGENCY LOST BAG", followers=10**9, verified=True), make_score(-1.0)
    )
    bottom = s.score(make_mention("nice", followers=0), make_score(1.0))
    assert top == pytest.approx(1.0) and top <= 1.0
    assert bottom == 0.0


@pytest.mark.parametrize(
    ("value", "tier"),
    [(1.0, "P1"), (0.65, "P1"), (0.6499, "P2"), (0.45, "P2"), (0.4499, "P3"), (0.25, "P3"), (0.2499, "P4"), (0.0, "P4")],
)
def test_default_tier_thresholds(value, tier):
    assert PriorityScorer(brand=BRAND, config=DEFAULT).tier(value) is Priority(tier)


def test_configured_tiers_and_missing_tiers():
    s = scorer(tiers={"P1": 0.9, "P3": 0.1})  # no P2 threshold: that tier is skipped
    assert s.tier(0.95) is Priority.P1
    assert s.tier(0.5) is Priority.P3
    assert s.tier(0.05) is Priority.P4


def test_tier_follows_the_score(make_mention, make_score):
    cases = [
        (make_mention("nice flight", followers=10), make_score(0.6), Priority.P4),
        (make_mention("bag delayed", followers=50), make_score(-0.4), Priority.P3),
        (make_mention("worst airline, lost my bag", followers=2000), make_score(-0.8), Priority.P2),
        (make_mention("stranded in Oslo, nobody answers!!!", followers=300_000), make_score(-0.8), Priority.P1),
    ]
    for mention, score, expected in cases:
        tier, value = priority_for(mention, score, brand=BRAND, config=DEFAULT)
        assert tier is expected, (mention.text, value)
