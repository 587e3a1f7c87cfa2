"""Post length as X weighs it (twitter-text v3): URLs 23, CJK and emoji 2, limit 280."""

from __future__ import annotations

import pytest

from outreach.channels.textlength import MAX_WEIGHTED_LENGTH, fits, length_problem, weighted_length


@pytest.mark.parametrize("text,weight", [
    ("hello", 5),
    ("", 0),
    ("café", 4),
    ("cafe\u0301", 4),  # NFC: e + combining accent is one character
    ("Привет", 6),  # Cyrillic: under U+1100, weight 1
    ("שלום", 4),
    ("—“”‘’", 5),  # dashes and quotes in the light ranges
    ("…", 2),  # U+2026 is outside them
    ("遅延", 4),
    ("ケストレル航空", 14),
    ("한국", 4),
    ("👍", 2),
    ("👍🏽", 2),  # with a skin tone: one emoji
    ("👨\u200d👩\u200d👧", 2),  # a ZWJ family
    ("🇯🇵", 2),  # a flag
    ("1\ufe0f\u20e3", 2),  # a keycap
    ("❤️", 2),
    ("https://example.com", 23),
    ("https://example.com/a/very/long/path/that/would/be/way/over/twenty-three", 23),
    ("see https://status.acme.com.", 4 + 23 + 1),  # the full stop is not part of the URL
    ("two links: https://a.io/x https://b.io/y", 11 + 23 + 1 + 23),
    ("acme.com", 23),  # a bare domain counts at least as a URL
    ("visit www.example.org/status now", 6 + 23 + 4),
    ("U.S. flights", 12),
])
def test_weights(text, weight):
    assert weighted_length(text) == weight


def test_limit():
    assert fits("a" * 280) and not fits("a" * 281)
    assert fits("遅" * 140) and not fits("遅" * 141)
    long_url = " https://example.com/" + "p" * 200  # 221 characters, weighs 1 + 23
    assert fits("x" * 256 + long_url) and weighted_length("x" * 256 + long_url) == 280
    assert not fits("x" * 257 + long_url)


def test_problem_says_by_how_much():
    assert length_problem("ok") is None
    problem = length_problem("遅" * 141)
    assert problem and "282" in problem and f"limit of {MAX_WEIGHTED_LENGTH}" in problem and "by 2" in problem
    assert length_problem("   ") == "the post is empty"
