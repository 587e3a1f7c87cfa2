"""Cheap language identification for short social posts.

Two steps, both plain Python and a few microseconds per post:

1. **Script.** Letters are counted by Unicode block: kana (with or without
   kanji) → ``ja``, Hangul → ``ko``, Han without kana → ``zh``, Cyrillic →
   ``ru``, Arabic → ``ar``, Hebrew → ``he``, Greek → ``el``, Thai → ``th``,
   Devanagari → ``hi``.
2. **Latin-script text** is told apart by counting very frequent function
   words (stop words) of English, Spanish, French, German, Portuguese,
   Italian and Dutch. Another language must beat English clearly; short or
   ambiguous Latin text is taken to be English, the language most brand
   mentions arrive in, and text without any letters (only emoji, numbers or
   links) is ``None`` ("no linguistic content").

The platform's own language tag is preferred when it names a language
(:func:`resolve_language`); X's pseudo-codes such as ``und`` (undetermined),
``qme`` (media only) or ``zxx`` (no linguistic content) fall back to detection.

Why not a library: lingua-language-detector is accurate but costs far more
per post than the analyzers themselves (``bench/complaints.py`` measures
both); what the analyzers need is only "English, Japanese, or something no
analyzer supports", which this answers cheaply.
"""

from __future__ import annotations

import re

# Platform tags that do not name a language (X: und, zxx, qme, qht, qam, qct, qst, art).
NOT_A_LANGUAGE = frozenset({"", "und", "zxx", "qme", "qht", "qam", "qct", "qst", "art", "mul", "unknown", "none"})
# Old or alias codes some platforms still send.
_ALIASES = {"iw": "he", "in": "id", "ji": "yi", "jw": "jv", "nb": "no", "nn": "no"}

_KANA = re.compile(r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]")
_OTHER_SCRIPTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff\u0750-\u077f]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
)
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
# Handles, links and hashtags say nothing about the language of the sentence.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#]\w+")
_WORD = re.compile(r"[a-z\u00e0-\u00ff]+(?:'[a-z]+)?")

_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the and is are was were to of you your my for in on it this that with have has not be at i me we "
        "can will but just from what why how so get do don't i'm it's can't won't been they our out about "
        "there would could should when all any again still after now please thanks thank".split()
    ),
    "es": frozenset(
        "el los las del que y en un una es por con para mi pero muy está esta gracias hola al lo se como "
        "más mas porque todo nos les su sus hay ya también tengo estoy vuelo fue ser sin".split()
    ),
    "fr": frozenset(
        "le les des et est une pour pas que qui dans je vous mon avec sur ce c'est merci très mais au du "
        "ne nous votre vos suis été aussi toujours encore bonjour avez sont fait j'ai".split()
    ),
    "de": frozenset(
        "der das und ist nicht ich du ein eine mit für auf den dem zu von mein aber sehr danke es wir "
        "auch noch wie ihr sind bin hat habe schon kein keine nach bei warum".split()
    ),
    "pt": frozenset(
        "os que não um uma para com por meu minha muito obrigado obrigada mas está é do da na em "
        "você vocês isso foi ser sem já também tem estou voo olá".split()
    ),
    "it": frozenset(
        "il gli di che è non un una per con mio mia ma molto grazie sono del della nel alla ho hai anche "
        "questo questa perché ciao ancora sempre volo".split()
    ),
    "nl": frozenset(
        "de het een en niet ik je van op met voor dat die maar heel bedankt zijn er ook nog wat mijn "
        "jullie geen naar wel dank hoe waarom".split()
    ),
}
_LATIN_LANGS = tuple(_STOPWORDS)


def normalize_tag(tag: str | None) -> str | None:
    """A platform language tag as a bare ISO 639-1 code, or None when it names no language."""
    if tag is None:
        return None
    code = tag.strip().lower().replace("_", "-").split("-", 1)[0]
    if code in NOT_A_LANGUAGE:
        return None
    return _ALIASES.get(code, code)


def detect_language(text: str) -> str | None:
    """Best guess at the language of ``text``; None when it has no letters."""
    if text.isascii():
        return _latin_guess(text) if _LATIN_LETTER.search(_NOISE.sub(" ", text)) else None
    kana = len(_KANA.findall(text))
    han = len(_HAN.findall(text))
    if kana or han:
        latin = len(_LATIN_LETTER.findall(_NOISE.sub(" ", text)))
        if kana >= 2 or (kana and kana + han >= latin):
            return "ja"
        if han and not kana and han >= latin / 4:
            return "zh"
    hangul = len(_HANGUL.findall(text))
    if hangul >= 2:
        return "ko"
    cleaned = _NOISE.sub(" ", text)
    latin = len(_LATIN_LETTER.findall(cleaned))
    best, best_count = None, 0
    for code, pattern in _OTHER_SCRIPTS:
        n = len(pattern.findall(cleaned))
        if n > best_count:
            best, best_count = code, n
    if best is not None and best_count >= max(2, latin):
        return best
    if latin:
        return _latin_guess(text)
    if hangul:
        return "ko"
    return best


def _latin_guess(text: str) -> str:
    words = _WORD.findall(_NOISE.sub(" ", text).lower())
    if not words:
        return "en"
    counts = {code: 0 for code in _LATIN_LANGS}
    for w in words:
        for code in _LATIN_LANGS:
            if w in _STOPWORDS[code]:
                counts[code] += 1
    en = counts.pop("en")
    other, n = max(counts.items(), key=lambda kv: kv[1])
    # Another language wins only with clear evidence over English. Words that
    # are also common English ("is", "no", "die", "as") are left out of the
    # other languages' lists above.
    if n >= 2 and n > en * 1.5:
        return other
    if n >= 1 and en == 0 and len(words) <= 3:
        return other
    return "en"


def resolve_language(text: str, platform_lang: str | None = None) -> str | None:
    """The platform's tag when it names a language, else :func:`detect_language`."""
    tag = normalize_tag(platform_lang)
    return tag if tag is not None else detect_language(text)
