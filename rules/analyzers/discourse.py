"""The discourse structure of a short post, cheaply: which sentences ask for
information and which report or complain.

Customer-care posts mention the same events whether they complain about them
or ask about them: "my flight was cancelled" is a complaint, "will flights be
cancelled tomorrow?" and "can I change my flight?" are questions a support
team answers without anyone being unhappy. What tells them apart is the
sentence, not the word:

* an **information question** opens with an interrogative that asks for
  information or permission ("is", "are", "will … be", "can I", "do you",
  "what time", "how do I", "any chance", "is it possible") and ends with "?";
* a **complaint question** opens the way a complaint does ("why is …",
  "how come", "how is it possible that", "what's going on", "where is my …",
  "are you serious", "seriously?", "can't you …", "do you even …"); "is it ok
  to bring …?" asks permission, "is this ok?" alone complains;
* a question whose main clause, after a leading one, asks for information
  ("flying with an infant, can I bring formula?") is a statement followed by
  an information question — or one information question when the leading
  clause is its condition or purpose ("if my flight is delayed, can I…?");
  "do you know that …?", "how you gonna …?" and "should have …?" report or
  regret, and asking for a failure's reason ("any reason …?", "what caused
  …?", "what's the real reason?") asks "why": these are complaint questions;
* any other sentence ending in "?" ("flight 12 delayed?") is an **other
  question** — often information, sometimes a rhetorical complaint;
* everything else is a **statement**.

The text is expected lower-cased, with handles and links already removed
(the customer-care analyzer does both before it looks for cues).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

STATEMENT = "statement"
INFO_QUESTION = "info_question"
COMPLAINT_QUESTION = "complaint_question"
OTHER_QUESTION = "other_question"

_WORD = re.compile(r"[^\W\d_]")
# A sentence: text up to and including its run of end marks (or the end).
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?\n]+|$)|[.!?\n]+")
# Openers that carry no meaning for the sentence's kind: greetings,
# discourse particles, "quick question:", a leading "so/and/but".
_LEAD = re.compile(
    r"(?:[\s\W_]|\b(?:hi|hey|hello|dear|ok|okay|so|well|also|and|but|um+|hmm+|quick question|question|just|"
    r"yes|yeah|yep|no|nope|thanks|thank you|thx|please|pls|plz|guys|team|folks|there|again|sorry)\b)*"
)
# Complaint questions first: they share their first word with information
# questions ("how come" / "how do I"; "where is my bag" / "where is gate 4").
_COMPLAINT_OPENER = re.compile(
    r"(?:why\b|how come\b|how (?:is|was|can|could) (?:it|this|that) (?:be )?(?:possible|ok|okay|acceptable|fair|legal|right|allowed|even|so|still)\b"
    r"|how (?:could|can|dare|do|did|would|are|were) (?:you|they|your \w+)\b"
    r"(?! (?:get|find|book|change|check|know|make|use|pay|add|apply|request|contact|reach|cancel|transfer|upgrade|select|choose|print|download|update|link|redeem|join|sign|register|claim|go|help|handle|determine|decide|calculate|charge for)\b)"
    r"|how (?:hard|difficult|many (?:more )?times|much longer|long (?:(?:do|will|must|should|am|are|have|has|did) (?:i|we|you|they|people|passengers|customers)|until|before)\b)"
    r"|what(?:'s| is| was) (?:going on|up with|happening|the (?:deal|point|holdup|hold up|problem|issue|excuse|hell|heck))"
    r"|what (?:the (?:hell|heck|f\w*)|gives|happened|a joke|kind of)\b|where(?:'s| is| are| was| were| did) (?:my|our)\b"
    r"|(?:is|was) (?:this|that|it) (?:a joke|serious|normal|acceptable|ok|okay|how|what you call|really)\b(?! (?:to|if|for)\b)"
    r"|are you (?:serious|kidding|joking|for real|even|really)\b|seriously\b|really\b|srsly\b|wtf\b|huh\b"
    r"|(?:is|are|does|do) (?:anyone|anybody|someone|somebody) (?:there|home|listening|working|answering|even|care|read)\b"
    r"|(?:can'?t|cannot|won'?t|don'?t|doesn'?t|didn'?t|isn'?t|aren'?t|wasn'?t|weren'?t|haven'?t|hasn'?t|shouldn'?t|wouldn'?t|couldn'?t)\b"
    r"|(?:do|does|did) (?:you|they|your \w+) (?:even|ever|really|not|actually)\b"
    r"|(?:do|did) you (?:know|reali[sz]e) that\b|are you aware (?:that|your)\b|how (?:you|u) (?:gonna|going to|gon)\b"
    r"|should(?:'ve| have)\b"
    r"|any (?:particular |specific |good )?reason\b|any (?:info|information|idea|explanation|word|update)s? (?:on |as to |about )?(?:why|what caused)\b"
    r"|what (?:is|was) (?:causing|the cause)\b|what caused\b|what(?:'s| is| was) the (?:real )?reason\b"
    r"|(?:is|are|was|were|do|does|did|has|have|will|would|can|could) (?:\w+ ){0,3}(?:not|never|ever going to)\b)"
)
# Openers of a request for information or permission.
_INFO_OPENER = re.compile(
    r"(?:is|are|am|was|were|will|would|shall|should|can|could|may|might|do|does|did|has|have|any|anyone|anybody|"
    r"what|when|where|which|who|whom|whose|how|i was wondering|i'?m wondering|wondering|just wondering|"
    r"curious|i'?d like to know|do you know|does anyone know|is it possible|is there)\b"
)


# A request for information or permission that opens the main clause of a
# question after a leading clause: "flying with an infant, can I bring
# formula?", "my flight is delayed - is there a way to…?", "used my points
# can I get them back?", "…, but what does that mean?". The leading clause
# is read as a statement.
_INFO_CLAUSE = re.compile(
    r"(?:[,;:\-–—]\s*|\b(?:so|and|then|but)\s+|\s)"
    r"(?=(?:(?:can|could|may|should|shall|do|will|would|am) (?:i|we)\b"
    r"|(?:what|how|where|when|who) (?:do|does|can|should|could|would) (?:i|we|that|this|it)\b|what time\b"
    r"|is it possible\b|is there (?:a|any)\b|any (?:chance|way|idea)\b|(?:do|does) (?:you|anyone) know\b))"
)

# A leading clause that sets the question's condition or purpose.
_SUBORDINATE = re.compile(r"(?:if|in case|since|to|for|when|once|after|before|as|while|with|traveling|travelling|flying)\b")


@dataclass(frozen=True, slots=True)
class Sentence:
    start: int
    end: int
    kind: str


def sentence_kind(sentence: str) -> str:
    """The kind of one sentence (lower-case)."""
    if "?" not in sentence:
        return STATEMENT
    body = sentence[_LEAD.match(sentence).end():]
    if _COMPLAINT_OPENER.match(body):
        return COMPLAINT_QUESTION
    if _INFO_OPENER.match(body):
        return INFO_QUESTION
    return OTHER_QUESTION


def index_sentences(low: str) -> "SentenceIndex":
    """:func:`sentences` of ``low``, indexed by position."""
    return SentenceIndex(sentences(low), low)


def sentences(low: str) -> list[Sentence]:
    """The sentences of ``low`` with their kinds, in order, covering the text."""
    out = []
    for m in _SENTENCE.finditer(low):
        kind = sentence_kind(m.group())
        if kind == OTHER_QUESTION and (clause := _INFO_CLAUSE.search(low, m.start(), m.end())) is not None:
            lead_end = m.start() + _LEAD.match(m.group()).end()
            if _SUBORDINATE.match(low, lead_end):
                # "if my flight is delayed, can I…?", "to add a bag, do I…?":
                # the leading clause is the question's condition or purpose.
                out.append(Sentence(m.start(), m.end(), INFO_QUESTION))
            else:
                out.append(Sentence(m.start(), clause.end(), STATEMENT))
                out.append(Sentence(clause.end(), m.end(), INFO_QUESTION))
            continue
        out.append(Sentence(m.start(), m.end(), kind))
    return out


class SentenceIndex:
    """Which sentence a character position falls in (for cue matches)."""

    __slots__ = ("_sentences", "_starts", "_worded")

    def __init__(self, parsed: list[Sentence], text: str) -> None:
        self._sentences = parsed
        self._starts = [s.start for s in parsed]
        self._worded = [s for s in parsed if _WORD.search(text, s.start, s.end)]

    def kind_at(self, position: int) -> str:
        i = bisect_right(self._starts, position) - 1
        return self._sentences[i].kind if i >= 0 else STATEMENT

    def has(self, kind: str) -> bool:
        return any(s.kind == kind for s in self._sentences)

    def shares(self) -> tuple[float, float, float]:
        """Shares of the worded sentences that are information, complaint and other questions."""
        n = len(self._worded)
        if not n:
            return (0.0, 0.0, 0.0)
        kinds = [s.kind for s in self._worded]
        return (kinds.count(INFO_QUESTION) / n, kinds.count(COMPLAINT_QUESTION) / n, kinds.count(OTHER_QUESTION) / n)

    def without(self, kind: str, text: str) -> str:
        """``text`` (the indexed text or one of the same length, e.g. before
        lower-casing) without its sentences of this kind."""
        return "".join(text[s.start:s.end] for s in self._sentences if s.kind != kind)

    def only(self, kind: str) -> bool:
        """Is every sentence with words in it of this kind?"""
        return bool(self._worded) and all(s.kind == kind for s in self._worded)
