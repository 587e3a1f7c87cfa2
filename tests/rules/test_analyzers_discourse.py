"""Sentence kinds: information questions, complaint questions, other questions, statements."""

from __future__ import annotations

import pytest

from rules.analyzers.discourse import (
    COMPLAINT_QUESTION,
    INFO_QUESTION,
    OTHER_QUESTION,
    STATEMENT,
    index_sentences,
    sentence_kind,
    sentences,
)


@pytest.mark.parametrize(
    "sentence",
    [
        "will flights be cancelled tomorrow?",
        "can i change my flight?",
        "how do i change my seat?",
        "what time is boarding?",
        "is it possible to add a bag?",
        "any chance i can rebook for sunday?",
        "hi, quick question: do you fly to lima?",
        "how long is the flight?",
        "where is gate 4?",
        "just wondering if the lounge is open?",
    ],
)
def test_requests_for_information_or_permission(sentence):
    assert sentence_kind(sentence) == INFO_QUESTION


@pytest.mark.parametrize(
    "sentence",
    [
        "why is my flight delayed again?",
        "how come no one answers the phone?",
        "how is this acceptable?",
        "how could you lose my bag?",
        "where is my refund?",
        "seriously?",
        "are you kidding me?",
        "can't you just refund me?",
        "do you even read these?",
        "is anyone there?",
        "what's going on with the app?",
        "how long do i have to wait?",
        "what the hell happened?",
    ],
)
def test_complaint_questions(sentence):
    assert sentence_kind(sentence) == COMPLAINT_QUESTION


def test_other_questions_and_statements():
    assert sentence_kind("flight 462 delayed?") == OTHER_QUESTION
    assert sentence_kind("my flight was cancelled.") == STATEMENT
    assert sentence_kind("why") == STATEMENT  # no question mark: not a question


def test_sentences_cover_the_post_and_index_by_position():
    low = "my bag never arrived. where is my bag? can i get a refund?"
    parsed = sentences(low)
    assert [s.kind for s in parsed] == [STATEMENT, COMPLAINT_QUESTION, INFO_QUESTION]
    assert parsed[0].start == 0 and parsed[-1].end == len(low)
    index = index_sentences(low)
    assert index.kind_at(low.index("never")) == STATEMENT
    assert index.kind_at(low.index("refund")) == INFO_QUESTION
    assert index.has(COMPLAINT_QUESTION) and not index.only(INFO_QUESTION)
    only_asks = index_sentences("is flt 12 delayed? ... :)")
    assert only_asks.only(INFO_QUESTION)  # punctuation-only pieces are not sentences


def test_without_drops_the_sentences_of_a_kind_from_the_original_text():
    original = "On the 7am to Boston. Will it be Delayed? It was LATE last week!"
    index = index_sentences(original.lower())
    assert index.without(INFO_QUESTION, original) == "On the 7am to Boston. It was LATE last week!"
    assert index.without(COMPLAINT_QUESTION, original) == original  # nothing to drop


@pytest.mark.parametrize(
    "low,kinds",
    [
        # A leading clause, then a request for information: statement + question.
        ("booked the red-eye last night, can i still pick a seat?", [STATEMENT, INFO_QUESTION]),
        ("my connection is tight - is there a way to move me to the earlier one?", [STATEMENT, INFO_QUESTION]),
        # A condition or purpose in front belongs to the question.
        ("if the storm closes the airport, can we fly on monday?", [INFO_QUESTION]),
        ("to add a second suitcase, do i pay online?", [INFO_QUESTION]),
        ("quick question, to add a second suitcase, do i pay online?", [INFO_QUESTION]),
        # No punctuation between the clauses, or "but" between them.
        ("used my miles for it can i get them back?", [STATEMENT, INFO_QUESTION]),
        ("read the notice twice but what does that mean?", [STATEMENT, INFO_QUESTION]),
        ("driving to the airport at 6 any chance the flight gets cancelled?", [STATEMENT, INFO_QUESTION]),
        # Without an information request the sentence stays an other question.
        ("flight 9 late again?", [OTHER_QUESTION]),
    ],
)
def test_a_request_for_information_after_a_leading_clause(low, kinds):
    assert [s.kind for s in sentences(low)] == kinds


@pytest.mark.parametrize(
    "sentence",
    [
        "do you know that your booking page shows an error?",
        "are you aware your phone line hangs up?",
        "how you gonna move my seat without asking?",
        "should have taken the train?",
        # Asking for the reason of a failure asks "why".
        "any particular reason the line has not moved in an hour?",
        "any idea what caused the outage this morning?",
        "what's the real reason for the late departure?",
    ],
)
def test_questions_that_report_or_regret_are_complaint_questions(sentence):
    assert sentence_kind(sentence) == COMPLAINT_QUESTION
