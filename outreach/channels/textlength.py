"""Post length as X counts it (twitter-text v3 rules).

X does not count characters: it weighs them. With the v3 configuration:

* the text is first normalised to NFC;
* every URL counts as 23, however long (``transformedURLLength``), since X
  wraps it in a t.co link;
* an emoji — including a whole sequence joined by ZWJ, with skin tones,
  variation selectors, a flag or a keycap — counts as 2;
* any other code point in the ranges 0–4351 (Latin, Greek, Cyrillic,
  Hebrew, Arabic, Indic scripts, …), 8192–8205, 8208–8223 and 8242–8247
  (spaces, dashes, quotes, primes) counts as 1; everything else — CJK,
  Hangul, kana, most symbols — counts as 2;
* the limit is 280.

Where we cannot be sure X will see a URL (a bare ``example.com`` without a
scheme, which X recognises only for valid top-level domains), we count the
larger of its own weight and 23, so the estimate never falls below X's count:
a post we accept is never refused by X for its length.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
EMOJI_WEIGHT = 2
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))

# A URL with a scheme and a dotted host: 23, always.
_URL = re.compile(r"https?://[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}]", re.IGNORECASE)
# Something that looks like a domain without a scheme: counted as max(own, 23).
_BARE_DOMAIN = re.compile(
    r"(?<![\w@.\-/])(?:www\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\.[a-z]{2,24}"
    r"(?:/[^\s<>\"'`]*[^\s<>\"'`.,;:!?)\]}])?(?![\w])",
    re.IGNORECASE,
)

_EMOJI_BASE = (
    "\u231a-\u231b\u2328\u23cf\u23e9-\u23f3\u23f8-\u23fa\u24c2\u25aa-\u25ab\u25b6\u25c0\u25fb-\u25fe"
    "\u2600-\u27bf\u2934-\u2935\u2b05-\u2b07\u2b1b-\u2b1c\u2b50\u2b55\u3030\u303d\u3297\u3299"
    "\U0001f000-\U0001faff"
)
_EMOJI_MOD = "\ufe0f\U0001f3fb-\U0001f3ff"
_ONE = f"(?:[{_EMOJI_BASE}]|[\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u2199\u21a9-\u21aa]\ufe0f)[{_EMOJI_MOD}]*"
_EMOJI = re.compile(
    "(?:"
    "[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    "|[#*0-9]\ufe0f?\u20e3"  # a keycap
    f"|{_ONE}(?:\u200d{_ONE})*[\U000e0020-\U000e007f]*"  # ZWJ sequences, tag sequences (subdivision flags)
    ")"
)


def _char_weight(ch: str) -> int:
    cp = ord(ch)
    for low, high in _LIGHT_RANGES:
        if low <= cp <= high:
            return 1
    return 2


def _plain_weight(text: str) -> int:
    total = 0
    pos = 0
    for match in _EMOJI.finditer(text):
        total += sum(_char_weight(c) for c in text[pos:match.start()]) + EMOJI_WEIGHT
        pos = match.end()
    return total + sum(_char_weight(c) for c in text[pos:])


def weighted_length(text: str) -> int:
    """The length X gives ``text`` (never less than X's own count)."""
    text = unicodedata.normalize("NFC", text)
    total = 0
    pos = 0
    for match in _URL.finditer(text):
        total += _bare_weight(text[pos:match.start()])
        host = match.group(0).split("://", 1)[1].split("/", 1)[0]
        total += URL_WEIGHT if "." in host else _plain_weight(match.group(0))
        pos = match.end()
    return total + _bare_weight(text[pos:])


def _bare_weight(text: str) -> int:
    total = 0
    pos = 0
    for match in _BARE_DOMAIN.finditer(text):
        total += _plain_weight(text[pos:match.start()])
        total += max(_plain_weight(match.group(0)), URL_WEIGHT)
        pos = match.end()
    return total + _plain_weight(text[pos:])


def fits(text: str, *, limit: int = MAX_WEIGHTED_LENGTH) -> bool:
    return weighted_length(text) <= limit


def length_problem(text: str, *, limit: int = MAX_WEIGHTED_LENGTH) -> str | None:
    """None when ``text`` fits, else a sentence saying by how much it does not."""
    if not text.strip():
        return "the post is empty"
    n = weighted_length(text)
    if n <= limit:
        return None
    return (f"the post is {n} characters as X counts them (URLs 23, CJK and emoji 2), over the limit of {limit}"
            f" by {n - limit}")
