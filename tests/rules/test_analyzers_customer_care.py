"""The customer-care analyzer: each cue family, negation, intensity, emoji,
hashtags, brand vocabulary, languages. Small hand-written examples only."""

from __future__ import annotations

import pytest

from brandpulse.config import Brand, Vocabulary
from brandpulse.types import Label
from rules.analyzers.base import Analyzer
from rules.analyzers.customer_care import POSITIVE_CANCELLED_PER_UNIT, CustomerCareAnalyzer, Evidence, combine
from rules.analyzers.registry import ANALYZERS, build_analyzer, is_known
from rules.analyzers.vader import VaderAnalyzer


@pytest.fixture(scope="module")
def care() -> CustomerCareAnalyzer:
    return CustomerCareAnalyzer()


@pytest.fixture(scope="module")
def vader() -> VaderAnalyzer:
    return VaderAnalyzer()


def label(analyzer, text: str, **kw) -> Label:
    return analyzer.score(text, **kw).label


# One complaint per family that plain VADER reads as neutral or positive.
FAMILY_EXAMPLES = [
    ("service_failure", "The app is not working since the update"),
    ("service_failure", "your website won't load on my phone"),
    ("waiting", "Still waiting for someone to call me back"),
    ("waiting", "been on hold for 2 hours"),
    ("delay", "flight delayed again, gate says nothing"),
    ("money", "I was charged twice for one ticket"),
    ("cancellation", "They cancelled my order without telling me"),
    ("service_failure", "I can't log in to my account"),
    ("inability", "I can't find my booking anywhere"),
    ("inability", "the agent won't let me change the date"),
    ("repeated_contact", "I have called three times about this"),
    ("churn", "never flying with you again"),
    ("sarcasm", "thanks for nothing"),
    ("sarcasm", "great job losing my bag"),
    ("anger", "this is ridiculous, fix it"),
    ("complaint_question", "why is the line always this long?"),
    ("burden", "I had to pay for a hotel myself"),
]


@pytest.mark.parametrize("family,text", FAMILY_EXAMPLES)
def test_each_cue_family_makes_a_complaint(care, vader, family, text):
    score = care.score(text)
    assert score.label is Label.NEGATIVE, (text, score)
    assert family in (score.details or {}).get("cues", {}), score.details
    assert score.compound < 0


def test_vader_misses_what_customer_care_catches(care, vader):
    missed_by_vader = [t for _, t in FAMILY_EXAMPLES if label(vader, t) is not Label.NEGATIVE]
    assert len(missed_by_vader) >= 8  # the point of the analyzer
    assert all(label(care, t) is Label.NEGATIVE for t in missed_by_vader)


@pytest.mark.parametrize(
    "text",
    [
        "Thank you so much, the crew was lovely and the flight was great!",
        "Can't wait to fly with you again!",
        "No problem at all, the refund was processed quickly. Thanks!",
        "I can't thank you enough for the help today",
        "love you guys 😍",
    ],
)
def test_praise_stays_positive(care, text):
    assert label(care, text) is Label.POSITIVE, care.score(text)


@pytest.mark.parametrize("text", ["What time does the store open on Sunday?", "Flying to Denver next week", "ok"])
def test_plain_questions_and_statements_stay_neutral(care, text):
    assert label(care, text) is Label.NEUTRAL, care.score(text)


def test_negation_undoes_an_event_and_flips_praise():
    care = CustomerCareAnalyzer()
    brand = Brand(id="acme", name="Acme", vocabulary=Vocabulary(positive=["on time"]))
    delayed = care.score("my flight was delayed")
    not_delayed = care.score("my flight was not delayed")
    assert delayed.label is Label.NEGATIVE
    assert not_delayed.label is not Label.NEGATIVE
    assert not_delayed.compound > delayed.compound
    assert care.score("arrived on time", brand=brand).label is Label.POSITIVE
    assert care.score("not on time, again", brand=brand).label is Label.NEGATIVE


def test_intensifiers_and_emphasis_strengthen_a_complaint(care):
    plain = care.score("the service was disappointing")
    strong = care.score("the service was SO disappointing!!")
    assert plain.label is strong.label is Label.NEGATIVE
    assert strong.compound < plain.compound


def test_inquiry_about_an_event_is_weaker_than_reporting_it(care):
    report = care.score("my flight got cancelled")
    question = care.score("will flights be cancelled tomorrow?")
    assert report.label is Label.NEGATIVE
    assert question.compound > report.compound


def test_emoji_carry_sentiment(care, vader):
    assert label(vader, "my order 😡😡") is not Label.NEGATIVE
    assert label(care, "my order 😡😡") is Label.NEGATIVE
    assert label(care, "👎") is Label.NEGATIVE
    assert label(care, "new seats 👍🎉") is Label.POSITIVE


def test_hashtags_are_read(care):
    assert label(care, "checking in at the airport #PoorService") is Label.NEGATIVE
    assert label(care, "boarding now #neverflyingagain") is Label.NEGATIVE
    assert label(care, "home at last #bestcrew") is Label.POSITIVE


def test_brand_vocabulary_from_config_counts():
    care = CustomerCareAnalyzer()
    plain = "the widget sync is down again today"
    brand = Brand(
        id="acme",
        name="Acme",
        vocabulary=Vocabulary(negative=["on backorder"], urgent=["data loss"], products=["widget sync", "Acme Cloud"], positive=["synced instantly"]),
    )
    assert care.score("my sofa is on backorder").label is Label.NEUTRAL
    assert care.score("my sofa is on backorder", brand=brand).label is Label.NEGATIVE
    assert care.score("possible data loss here", brand=brand).label is Label.NEGATIVE
    assert care.score("I can't open Acme Cloud", brand=brand).details["cues"].get("brand_product_failure")
    assert care.score(plain, brand=brand).details["cues"].get("brand_product_failure")
    assert care.score("everything synced instantly", brand=brand).label is Label.POSITIVE


def test_html_entities_links_and_handles_are_cleaned(care):
    s = care.score("@AcmeAir lost my bag &amp; nobody answers https://t.co/xyz")
    assert s.label is Label.NEGATIVE


def test_unsupported_language_is_unknown_never_neutral(care):
    for text, lang in [("El vuelo está retrasado y nadie nos ayuda", None), ("비행기가 늦었어요", None), ("Рейс задержан", None), ("any text", "de")]:
        s = care.score(text, lang=lang)
        assert s.label is Label.UNKNOWN, (text, s)
        assert s.lang not in (None, "en")
        assert "no analyzer" in s.details["reason"]


def test_platform_language_is_preferred_but_pseudo_codes_are_detected(care):
    assert care.score("my bag is lost", lang="en-GB").lang == "en"
    assert care.score("my bag is lost", lang="und").label is Label.NEGATIVE  # X's "undetermined"
    assert care.score("my bag is lost", lang="qme").lang == "en"


def test_japanese_is_scored_by_the_japanese_analyzer(care):
    scores = care.score_many(
        ["フライトが欠航になった。最悪です", "スタッフの対応が丁寧で嬉しかった", "ログインできない"],
        langs=[None, "ja", None],
    )
    assert [s.label for s in scores] == [Label.NEGATIVE, Label.POSITIVE, Label.NEGATIVE]
    assert all(s.lang == "ja" for s in scores)
    assert scores[0].analyzer == "japanese"


def test_score_many_matches_score_and_checks_lengths(care):
    texts = ["thanks for nothing", "great flight!", "what time is boarding", "El vuelo está retrasado, gracias por nada"]
    many = care.score_many(texts)
    assert [s.label for s in many] == [care.score(t).label for t in texts]
    assert [round(s.compound, 6) for s in many[:3]] == [round(care.score(t).compound, 6) for t in texts[:3]]
    with pytest.raises(ValueError, match="2 texts but 1 languages"):
        care.score_many(["a", "b"], langs=["en"])


def test_registry_default_and_vader_by_name():
    care = build_analyzer("customer-care")
    assert isinstance(care, Analyzer)
    assert care.name == "customer-care"
    assert build_analyzer("vader").name == "vader"
    assert {"customer-care", "vader", "japanese"} <= set(ANALYZERS)
    assert is_known("trained:acme") and is_known("trained:acme/complaints@20260310T090000Z")
    assert not is_known("trained:Bad Brand") and not is_known("nonsense")
    with pytest.raises(KeyError, match="unknown analyzer 'nonsense'"):
        build_analyzer("nonsense")
    with pytest.raises(KeyError, match="needs settings"):
        build_analyzer("trained:acme")


def test_default_analyzer_setting_is_customer_care(settings):
    assert settings.default_analyzer == "customer-care"


# -- discourse structure and the cues added with it -----------------------------
NEW_FAMILY_EXAMPLES = [
    ("service_failure", "the seats in row 8 don't recline"),
    ("service_failure", "there is a bug in the booking form"),
    ("service_failure", "no wifi and no power on a five hour flight"),
    ("service_failure", "the line is so slow"),
    ("service_failure", "not enough agents at the counter"),
    ("waiting", "the confirmation email never arrives"),
    ("waiting", "it's been 15 days since I asked"),
    ("anger", "that's not an answer"),
    ("anger", "you need to fix your website"),
    ("anger", "get it together"),
    ("churn", "can't fly with you anymore"),
]


@pytest.mark.parametrize(
    "text",
    [
        "is flight 1202 delayed?",
        "will flights be cancelled tomorrow?",
        "can I get a refund if I change my flight?",
        "is the website down?",
        "any delays today out of Denver?",
        "when can I book my flight to Hawaii??",
    ],
)
def test_questions_asking_for_information_are_not_complaints(care, text):
    assert label(care, text) is not Label.NEGATIVE, care.score(text)


def test_an_asked_event_weighs_less_than_a_reported_one_in_any_sentence(care):
    reported = care.score("Hi. My flight was delayed.")
    asked = care.score("Hi. Was my flight delayed?")  # the question is not the first sentence
    assert reported.label is Label.NEGATIVE
    assert asked.compound > reported.compound
    assert asked.details["cues"]["delay"] < reported.details["cues"]["delay"]


def test_complaint_questions_count_as_complaints(care):
    for text in ["Where is my bag?", "seriously? three hours at the gate", "do you even read these?"]:
        s = care.score(text)
        assert s.label is Label.NEGATIVE, (text, s)
        assert "complaint_question" in s.details["cues"], s.details


def test_thanks_for_something_done_is_praise_but_sarcasm_is_not(care):
    thanks = care.score("thank you for the refund of the change fee, excellent service")
    assert thanks.label is Label.POSITIVE, thanks
    assert "gratitude" in thanks.details["cues"]
    assert label(care, "thanks for losing my bag") is Label.NEGATIVE


def test_what_follows_but_is_what_the_author_means(care):
    praise_then_complaint = care.score("never had a bad flight before, but this one was a disaster")
    assert praise_then_complaint.label is Label.NEGATIVE, praise_then_complaint


def test_glued_emoticons_and_elongated_words_are_read(care, vader):
    for text, expected in [("we landed:)", Label.POSITIVE), ("see you in march:D", Label.POSITIVE), ("gate changed again:/", Label.NEGATIVE)]:
        assert label(vader, text) is Label.NEUTRAL  # glued to the word, VADER cannot see it
        assert label(care, text) is expected, text
    assert label(care, "the app is sooooo slow") is Label.NEGATIVE
    assert care.score("at 10:30 tomorrow").label is Label.NEUTRAL  # a time is not an emoticon


# -- emphasis, sarcasm first, mixed posts, understated complaints ---------------
@pytest.mark.parametrize("text", ["any seats left on the Friday flight??", "how do I join the rewards program?!"])
def test_double_question_marks_alone_are_no_complaint(care, text):
    s = care.score(text)
    assert s.label is not Label.NEGATIVE, s
    assert "emphatic_question" not in (s.details or {}).get("cues", {})


def test_double_question_marks_strengthen_a_complaint(care):
    plain = care.score("why is the app not working?")
    emphatic = care.score("why is the app not working??")
    assert plain.label is emphatic.label is Label.NEGATIVE
    assert emphatic.compound < plain.compound


def test_sarcastic_thanks_is_read_before_the_event_it_names(care):
    s = care.score("Thanks for making me miss my connection")
    assert s.label is Label.NEGATIVE, s
    assert "sarcasm" in s.details["cues"] and "gratitude" not in s.details["cues"], s.details


def test_vader_reads_the_statements_of_a_post_that_also_asks(care, vader):
    text = "Booked on the 7am to Boston. Will the storm be a problem for my flight?"
    assert label(vader, text) is Label.NEGATIVE  # "problem" is in the question
    s = care.score(text)
    assert s.label is not Label.NEGATIVE, s
    # a complaint in a statement still counts next to a question
    assert label(care, "The crew was rude and unhelpful. Who do I write to?") is Label.NEGATIVE


CRITICISM_EXAMPLES = [
    "the staff at the counter were not very helpful",
    "not one of my last four trips has been on time",
    "an hour is too long to wait for a bag",
    "you should hire more agents for the phone line",
    "it would be nice if someone answered the phone",
    "changing a seat should be a one step thing",
    "the agent was disrespectful and the process was disorganized",
]


@pytest.mark.parametrize("text", CRITICISM_EXAMPLES)
def test_understated_complaints(care, vader, text):
    s = care.score(text)
    assert s.label is Label.NEGATIVE, (text, s)


@pytest.mark.parametrize("text", ["it's never too late to travel", "tomorrow's trip should be fun!", "the crew was not bad at all"])
def test_understated_complaint_cues_keep_their_guards(care, text):
    assert label(care, text) is not Label.NEGATIVE, care.score(text)


def test_exasperation_is_a_complaint_but_not_sarcasm(care):
    assert label(care, "a third delay today, seriously?") is Label.NEGATIVE
    assert label(care, "flight 12 moved to 6am. really?") is Label.NEGATIVE
    # sincere praise with "seriously" / "the way to go" stays praise
    assert label(care, "Seriously, the best cabin crew I have ever had. Amazing service!") is Label.POSITIVE
    assert label(care, "they never take themselves too seriously, love it") is Label.POSITIVE
    assert label(care, "Flying with you is the way to go!") is not Label.NEGATIVE


# -- error-analysis pass (analyzer 1.4): negation, questions, sarcasm, demands ----
def test_only_a_real_negation_undoes_an_event(care):
    # "went", "agent", "front" end in "nt" but negate nothing
    for text in ["the agent delayed our boarding for an hour", "we went through a cancelled connection"]:
        s = care.score(text)
        assert s.label is Label.NEGATIVE, (text, s)
        assert all(w > 0 for w in s.details["cues"].values()), s.details
    assert label(care, "my flight wasnt delayed at all") is not Label.NEGATIVE
    assert label(care, "the crew member went above and beyond for my kids") is Label.POSITIVE


def test_asking_what_should_happen_is_an_inquiry(care):
    asked = care.score("is the boarding time supposed to change next month?")
    said = care.score("the boarding time was supposed to change last month")
    assert asked.label is not Label.NEGATIVE, asked
    assert said.label is Label.NEGATIVE, said


def test_asking_permission_with_is_it_ok_is_not_a_complaint(care):
    assert label(care, "is it ok to bring a guitar as carry on?") is not Label.NEGATIVE
    assert label(care, "two hours on the tarmac. is this ok?") is Label.NEGATIVE


def test_switching_flights_is_not_switching_companies(care):
    assert label(care, "can I switch to the earlier flight tomorrow?") is not Label.NEGATIVE
    s = care.score("after this trip I am switching to another airline")
    assert s.label is Label.NEGATIVE and "churn" in s.details["cues"], s


ERROR_ANALYSIS_EXAMPLES = [
    ("inability", "the agent said there is nothing they can do"),
    ("inability", "called the store and got nothing"),
    ("anger", "what a patronizing reply to a fair question"),
    ("anger", "you owe me a night in a hotel"),
    ("anger", "tell your staff at the front desk to read their own rules"),
    ("repeated_contact", "the departure time changed 3x today"),
    ("burden", "the agent said my ticket was the wrong kind"),
    ("burden", "your crew didn't let us use the front restroom"),
    ("burden", "according to your app the bag is in Denver"),
    ("burden", "they told us to go to another counter"),
    ("service_failure", "the phone system hangs up on me every time"),
    ("complaint_question", "what's up with the checkout page today"),
    ("cancellation", "my suitcase didn't make it to Lisbon"),
    ("cancellation", "every bag came off the belt soaking wet"),
    ("inability", "the form is not letting me add a second name"),
    ("sarcasm", "thx for not answering my email"),
    ("sarcasm", "thanks for the third gate change tonight"),
    ("sarcasm", "thank you for making my birthday trip a nightmare"),
]


def test_nothing_as_a_figure_of_speech_is_no_complaint_cue(care):
    for text in ["wishing you nothing but the best on your new route!", "nothing beats a window seat at sunrise"]:
        assert "inability" not in (care.score(text).details or {}).get("cues", {}), text


def test_again_in_thanks_and_plans_to_return_is_not_repeated_contact(care):
    for text in ["Thanks again!", "excited to fly again in June"]:
        s = care.score(text)
        assert s.label is Label.POSITIVE, (text, s)
        assert "repeated_contact" not in (s.details or {}).get("cues", {}), (text, s.details)
    assert label(care, "amazing service, once again!") is Label.POSITIVE
    assert "repeated_contact" in care.score("my bag is missing again!").details["cues"]
    assert label(care, "I don't want to fly again after this") is Label.NEGATIVE


def test_negative_words_alone_weigh_less_than_a_complaint(care):
    # A topic VADER reads as negative, with no complaint evidence, stays
    # weaker than the same words with a complaint cue.
    topic = care.score("flying home to see my sick grandmother")
    complaint = care.score("flying home to see my sick grandmother and the flight is delayed")
    assert complaint.compound < topic.compound
    assert complaint.label is Label.NEGATIVE


# -- cue pre-filters: a pattern must be tried wherever it can match ---------------
PREFILTER_EXAMPLES = [
    ("criticism", "the last five flights all ran behind schedule"),
    ("criticism", "a heads-up would have been good"),
    ("service_failure", "the page took ages to load"),
    ("burden", "now we have to wait for the next shuttle"),
    ("anger", "you have to change this policy"),
    ("sarcasm", "loving the new seats (not)"),
]


@pytest.mark.parametrize("family,text", NEW_FAMILY_EXAMPLES + ERROR_ANALYSIS_EXAMPLES + PREFILTER_EXAMPLES)
def test_added_complaint_cues(care, family, text):
    s = care.score(text)
    assert s.label is Label.NEGATIVE, (text, s)
    assert family in (s.details or {}).get("cues", {}), (text, s.details)


def test_every_cue_prefilter_covers_its_pattern_on_the_written_examples(care):
    from rules.analyzers.customer_care import _APOSTROPHES

    texts = [t for _, t in FAMILY_EXAMPLES + NEW_FAMILY_EXAMPLES + ERROR_ANALYSIS_EXAMPLES + PREFILTER_EXAMPLES]
    texts += CRITICISM_EXAMPLES
    for cue in care._compiled_for(None):
        for text in texts:
            low = text.lower().translate(_APOSTROPHES)
            if cue.regex.search(low):
                assert any(t in low for t in cue.triggers), (cue.family, cue.regex.pattern[:60], text)


# -- analyzer 1.5: context plus a question, told apart from a complaint ------------
@pytest.mark.parametrize(
    "text",
    [
        "Flying to Denver on Friday. Should I expect delays with the snow?",
        "I see the morning train is fine. Any cancellations for the evening one?",
        "quick question, to pay for an extra bag, can I do it at the counter?",
        "if my flight shows delayed, can I still check in late?",
        "booked a trip for my mum, is there a way to add a wheelchair?",
        "heading to the coast tomorrow any chance the ferry is cancelled for wind?",
    ],
)
def test_context_and_a_question_without_complaint_evidence_is_an_inquiry(care, text):
    s = care.score(text)
    assert s.label is not Label.NEGATIVE, s


@pytest.mark.parametrize(
    "text",
    [
        "My flight was cancelled twice this week. Can I get a refund?",
        "been on hold for an hour - any chance someone can help me here?",
        "Where is my suitcase?? Should I file a claim?",
        "The rebooking button is greyed out. How do I change my cancelled flight?",
        "I have to now change my whole trip. Can we get some compensation?",
        "Called the help line, long long waits. How do I find my bag?",
        "Is there another number? Your phone lines are always busy.",
        "got a busy signal three times, can someone call me?",
    ],
)
def test_a_question_next_to_complaint_evidence_still_complains(care, text):
    s = care.score(text)
    assert s.label is Label.NEGATIVE, s


# -- ranking (analyzer 1.6): VADER's praise words next to complaint evidence -------
def test_a_single_cue_already_cancels_mild_politeness(care, vader):
    # One waiting cue next to "nice": before 1.6 the discount started above
    # one cue and the post read as neutral.
    text = "nice, another 2 hours at the gate"
    assert label(vader, text) is Label.POSITIVE
    assert label(care, text) is Label.NEGATIVE, care.score(text)
    # Strong praise next to one ambiguous cue stays praise.
    assert label(care, "Seriously, the best cabin crew I have ever had. Amazing service!") is Label.POSITIVE


def _compound(vader: float, complaint: float, *, sarcasm: bool = False) -> float:
    return combine(Evidence(vader=vader, complaint=complaint, praise=0.0, families={}, emoji=0.0,
                            hashtags=0.0, sarcasm=sarcasm))


def test_complaint_evidence_cancels_a_fixed_amount_of_vaders_positive_reading():
    complaint = 2.0
    cancelled = POSITIVE_CANCELLED_PER_UNIT * complaint  # in VADER units (compound x 2.5)
    mild = 0.8 * cancelled / 2.5
    # Positive words worth less than the cancelled amount count for nothing ...
    assert _compound(mild, complaint) == pytest.approx(_compound(0.0, complaint))
    # ... more positive words still count, and more evidence cancels more of them.
    assert _compound(0.9, complaint) > _compound(0.0, complaint)
    assert _compound(0.9, 1.0) - _compound(0.0, 1.0) > _compound(0.9, 3.0) - _compound(0.0, 3.0) > 0
    # Sarcasm cancels all of them.
    assert _compound(0.9, complaint, sarcasm=True) == pytest.approx(_compound(0.0, complaint))


# -- analyzer 1.7: a wish is not criticism ------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "If only you had direct flights out of Tulsa.",
        "if only you guys served breakfast on the morning shuttle!",
        "if only I could win those concert tickets",
    ],
)
def test_if_only_alone_is_a_wish_not_a_complaint(care, text):
    s = care.score(text)
    assert s.label is not Label.NEGATIVE, s
    assert "criticism" not in (s.details or {}).get("cues", {}), s.details


def test_what_should_have_been_is_still_criticism(care):
    s = care.score("the crew should have told us about the gate change")
    assert "criticism" in s.details["cues"], s.details
    assert s.label is Label.NEGATIVE, s


@pytest.mark.parametrize(
    "text",
    [
        "I want to see the new lounge so badly!!",
        "we need a direct route to Boise so bad",
        "I would die to get tickets for the finale",
        "I'm obsessed with the new cabin lights",
        "desperate for a beach trip, any spring deals?",
    ],
)
def test_eagerness_said_with_negative_words_is_no_complaint(care, vader, text):
    assert label(vader, text) is Label.NEGATIVE  # what VADER reads
    assert label(care, text) is not Label.NEGATIVE, care.score(text)


def test_negative_words_outside_eagerness_still_count(care):
    assert label(care, "the wifi on this flight is so bad") is Label.NEGATIVE
    assert label(care, "I want to go home so badly, we have been stuck here since noon") is Label.NEGATIVE
    # Only the words of the eagerness phrase are left out.
    eager = care.score("I want a window seat so badly")
    both = care.score("I want a window seat so badly but the staff were rude")
    assert both.label is Label.NEGATIVE and both.compound < eager.compound


@pytest.mark.parametrize("text", ["oh I see it now. My bad!", "found it on the app, my mistake"])
def test_owning_a_mistake_is_no_complaint(care, vader, text):
    assert label(vader, text) is Label.NEGATIVE  # what VADER reads
    assert label(care, text) is not Label.NEGATIVE, care.score(text)


def test_a_mistake_that_is_not_the_customers_still_counts(care):
    assert label(care, "your mistake cost me a night in a hotel") is Label.NEGATIVE
    assert label(care, "my bad luck: the gate agent was rude again") is Label.NEGATIVE
    assert care.score("my fault for trusting you").compound < care.score("trusting you, my fault.").compound


# -- analyzer 1.8: a shared headline, a wink, the customer's own apology -----------
@pytest.mark.parametrize(
    "text",
    [
        "Carrier battles rivals for the coastal route http://t.co/abc123",
        "Airline stock slumps after weak quarter - Daily Wire http://t.co/xyz",
        "Regional airline cuts winter routes amid fuel fight https://t.co/q1",
    ],
)
def test_a_shared_headline_is_not_the_authors_complaint(care, vader, text):
    assert label(vader, text) is Label.NEGATIVE  # what VADER reads
    s = care.score(text)
    assert s.label is Label.NEUTRAL, s


@pytest.mark.parametrize(
    "text",
    [
        "this is what I hate http://t.co/abc123",  # the author's own words
        "No. Stop this nonsense http://t.co/abc123",
        "Boo, airline cuts winter routes http://t.co/q1",
        "Airline cuts winter routes! http://t.co/q1",
    ],
)
def test_a_link_shared_with_the_authors_own_reaction_still_counts(care, text):
    assert label(care, text) is Label.NEGATIVE, care.score(text)


def test_a_wink_makes_a_complaint_cue_teasing(care):
    assert label(care, "should have tweeted you sooner") is Label.NEGATIVE
    assert label(care, "should have tweeted you sooner ;)") is not Label.NEGATIVE
    teasing = care.score("you need to hire my cousin, she would fix it 😉")
    plain = care.score("you need to hire my cousin, she would fix it")
    assert plain.compound < teasing.compound
    # A complaint with enough evidence stays one; a smirk is no wink.
    assert label(care, "my flight is delayed 3 hours and nobody tells us anything ;)") is Label.NEGATIVE
    assert label(care, "should have tweeted you sooner 😏") is Label.NEGATIVE
    # Emoticons that are not winks are not read as one.
    assert label(care, "should have tweeted you sooner :(") is Label.NEGATIVE


@pytest.mark.parametrize(
    "text",
    ["Oops, sorry, followed you now", "Sorry! Thought I had sent it. Done now.", "sorry, meant the later flight"],
)
def test_the_customers_own_apology_is_no_complaint(care, vader, text):
    assert label(vader, text) is Label.NEGATIVE  # what VADER reads
    assert label(care, text) is Label.NEUTRAL, care.score(text)


def test_an_apology_next_to_a_complaint_or_reported_still_counts(care):
    assert label(care, "Sorry but this is ridiculous, three hours on the tarmac") is Label.NEGATIVE
    assert label(care, "sorry, but the crew was rude") is Label.NEGATIVE
    # The brand's "sorry" as the customer reports it keeps VADER's reading.
    reported = care.score("the agent just said sorry")
    own = care.score("sorry, the agent just said it")
    assert reported.compound < own.compound


@pytest.mark.parametrize("text", ["lemme come to the season finale 😭😭", "this playlist on board 😭😭😭"])
def test_loudly_crying_face_alone_is_no_complaint(care, vader, text):
    assert label(vader, text) is Label.NEGATIVE  # VADER reads "loudly crying face"
    assert label(care, text) is Label.NEUTRAL, care.score(text)


def test_loudly_crying_face_leaves_the_words_around_it(care):
    assert label(care, "you guys are the best 😭") is Label.POSITIVE
    assert label(care, "the flight got cancelled again 😭😭") is Label.NEGATIVE
    assert label(care, "so sad to leave Maui 😭") is Label.NEGATIVE
    # Other sad faces still count.
    assert label(care, "this playlist on board 😩😩") is Label.NEGATIVE


def test_missing_the_bus_or_train_to_the_airport_is_not_the_brands_doing(care):
    # The customer's own trip to the airport: no "missed" complaint cue.
    for text in ("Missed my bus to the airport but they put me on the evening flight for free",
                 "missed the train to airport, my own fault"):
        details = care.score(text).details
        assert "cancellation" not in details.get("cues", {}), text
    # Missing a train or bus because of the flight is still one.
    details = care.score("Flight delayed three hours so I missed my train home").details
    assert details["cues"]["cancellation"] >= 1.6
    assert label(care, "Flight delayed three hours so I missed my train home") is Label.NEGATIVE
