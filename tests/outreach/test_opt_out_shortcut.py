"""record_opt_outs skips the opt-out matcher for ASCII text that holds none
of the words' longest parts: never for a text the matcher would flag."""

from __future__ import annotations

import random

from brandpulse.config import DEFAULT_OPT_OUT_WORDS
from outreach.safeguards import OptOutMatcher, _ascii_longest_parts

PIECES = [
    "STOP", "stop", "Stop!", "non-stop", "stopped", "stop-replying", "Stop   Replying", "opt out", "OPT-OUT", "opt",
    "option", "do not reply", "Don't reply", "don't   contact me", "dont reply", "leave me alone", "Leave-Me-Alone",
    "unsubscribe", "basta", "BASTA!", "parem", "hoer auf", "lass mich in ruhe", "laat me met rust", "thanks",
    "@AcmeAir", "https://t.co/x", "my flight", "is late", "again", "!!!", "?", "-", "'", " ", "me", "no", "do",
]


def test_every_ascii_text_the_matcher_flags_holds_a_longest_part():
    matcher = OptOutMatcher(["stop", *DEFAULT_OPT_OUT_WORDS, "go away", "ne plus m'écrire"])
    parts = _ascii_longest_parts(matcher.words)
    rng = random.Random(5)
    flagged = skipped = 0
    for _ in range(5000):
        text = " ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 8)))
        assert text.isascii()
        lowered = text.lower()
        holds = any(p in lowered for p in parts)
        if matcher.find(text) is not None:
            flagged += 1
            assert holds, text
        elif not holds:
            skipped += 1
    assert flagged > 500 and skipped > 100  # both paths were exercised


def test_non_ascii_words_have_no_part_in_the_quick_test():
    parts = _ascii_longest_parts(("arrête", "stop replying", "停止", "don't contact me"))
    assert parts == ("replying", "contact")
