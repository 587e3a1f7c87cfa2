"""outreach.drafts skips weighing a short ASCII reply on X only when it fits
for certain: the bound it uses is never below X's count."""

from __future__ import annotations

import random

from outreach.channels.textlength import weighted_length
from outreach.drafts import _surely_fits, ascii_weight_bound
from outreach.templating import length_problem

FRAGMENTS = [
    "Hi @user_1, ", "sorry about this. ", "See ", "https://a.co", "http://x", "https://status.acme.example/incidents/42",
    "a.co", "www.acme.com/help", "acme.io", "x.y", "...", ". ", "e.g. ", "v1.2.3", "mailto:me@a.co ", "#tag ",
    "https://a.b.c.d.e", "foo.bar.baz", "DM us", "!", " ", "(see acme.com)", "1.5", "https://", "ftp://files.acme.org",
]


def random_texts(n: int, seed: int = 7):
    rng = random.Random(seed)
    for _ in range(n):
        yield "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 30)))


def test_the_bound_is_never_below_x_count_for_ascii_text():
    for text in random_texts(3000):
        assert weighted_length(text) <= ascii_weight_bound(text), text


def test_skipping_the_weighing_never_lets_a_long_post_through():
    fitted = 0
    for text in random_texts(3000, seed=11):
        if _surely_fits("x", text):
            fitted += 1
            assert length_problem("x", text) is None, text
    assert fitted > 100  # the shortcut is taken, and checked, often


def test_only_short_ascii_posts_on_x_skip_the_weighing():
    assert _surely_fits("x", "Hi @sam, sorry about this. DM us your booking ref.")
    assert not _surely_fits("x", "Hi @sam 日本語")  # CJK weighs 2: weigh it
    assert not _surely_fits("x", "a" * 281)
    assert not _surely_fits("x", "a" * 260 + " a.co")  # 265 characters, but the domain counts 23: weigh it
    assert not _surely_fits("reddit", "short")  # other platforms count as they count
