"""The urgency shortcuts (a substring test before the urgent-word regex, a
capitals test before the shouting count) give exactly what the full checks
give, on ASCII and non-ASCII text alike."""

from __future__ import annotations

import random

from brandpulse.config import Brand, PriorityConfig
from rules.priority import (
    _LONG_WORD,
    ALL_CAPS_BONUS,
    EACH_MORE_URGENT_TERM,
    EXCLAMATIONS_BONUS,
    FIRST_URGENT_TERM,
    PriorityScorer,
    ascii_first_words,
    may_match,
    phrase_pattern,
)

BRAND = Brand(id="acme", name="Acme Air", vocabulary={"urgent": ["lost bag", "missed my connection"]})
PIECES = [
    "stranded", "STRANDED", "Stranded!", "help!", "HELP!!!", "help", "missed  my\tconnection", "missed my", "lost bag",
    "LoSt BaG", "urgent", "urgently", "nonurgent", "ASAP", "right now", "right", "now", "FLIGHT", "LATE", "AGAIN",
    "the", "and", "ok", "A", "NO", "WHY", "ÉNORME", "RETARD", "ſtranded", "ſcam", "Kelvin K", "İstanbul", "straße",
    "ΣΟΣ", "日本", "✈️", "!!!", "!!", ",", ".", "@AcmeAir", "#stuck", "stuck-", "-stuck", "fraud_", "lawyer's",
]


def reference_urgency(text: str, pattern, config: PriorityConfig) -> float:
    """PriorityScorer.urgency without its shortcuts (the formula of the module docstring)."""
    value = 0.0
    terms = {" ".join(m.split()).lower() for m in pattern.findall(text)}
    if terms:
        value = FIRST_URGENT_TERM + EACH_MORE_URGENT_TERM * (len(terms) - 1)
    if "!!!" in text:
        value += EXCLAMATIONS_BONUS
    words = _LONG_WORD.findall(text)
    caps = sum(1 for w in words if w.isupper())
    if len(words) >= 3 and caps >= 3 and caps * 2 >= len(words):
        value += ALL_CAPS_BONUS
    return min(1.0, value)


def texts(n: int, seed: int):
    rng = random.Random(seed)
    for _ in range(n):
        yield rng.choice(["", " ", "\n"]).join(rng.choice(PIECES) + rng.choice([" ", "  ", "", "\n"]) for _ in range(rng.randint(1, 12)))


def test_urgency_equals_the_full_checks_on_random_text():
    config = PriorityConfig()
    scorer = PriorityScorer(brand=BRAND, config=config)
    pattern = phrase_pattern([*config.urgent_words, *BRAND.vocabulary.urgent])
    seen = set()
    for text in texts(4000, seed=3):
        got = scorer.urgency(text)
        assert got == reference_urgency(text, pattern, config), text
        seen.add(got)
    assert len(seen) > 5  # terms, shouting and exclamations all occurred


def test_non_ascii_phrases_turn_the_substring_test_off():
    assert ascii_first_words(["ſcam", "help"]) is None
    assert may_match(None, "anything") is True
    words = ascii_first_words(["Missed my", "  help! "])
    assert words == ("missed", "help!")
    assert may_match(words, "I MISSED it") and not may_match(words, "all good")
    assert may_match(words, "ſ non-ASCII text is always searched")


def test_a_scorer_with_non_ascii_urgent_words_still_finds_them():
    scorer = PriorityScorer(brand=Brand(id="b", name="B", vocabulary={"urgent": ["dringend", "très urgent"]}),
                            config=PriorityConfig(urgent_words=["sofort"]))
    assert scorer.urgency("TRÈS URGENT please") == FIRST_URGENT_TERM
    assert scorer.urgency("bitte SOFORT und dringend") == FIRST_URGENT_TERM + EACH_MORE_URGENT_TERM
