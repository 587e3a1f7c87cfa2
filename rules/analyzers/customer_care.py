"""The customer-care analyzer: VADER plus what a support team listens for.

Plain VADER reads "still waiting for my refund" or "flight cancelled again"
as neutral and "please help me rebook" as praise. This analyzer keeps VADER
as its base and adds complaint evidence from general customer-care language:

* **cue families** (see ``COMPLAINT_CUES``): service failures, waiting and
  delays, refunds and billing, cancellations and lost items, "can't / won't /
  doesn't", repeated contact, churn threats, sarcasm markers, complaint
  questions ("why is…", "where is my…"), demands for a fix ("you owe me",
  "tell your staff"), understated criticism ("not very helpful", "should be
  easier", "too long", "hire more agents"), what staff said or did as the
  customer reports it ("the agent said…", "according to your app…") and the
  angry vocabulary of complaints;
* **praise cues** that look like complaints to a naive reader ("can't wait",
  "no problem", "can't thank you enough", "problem solved");
* **negation** ("not delayed" stops counting as a delay, "not on time" turns
  the brand's positive word into a complaint) and **intensifiers** ("so",
  "extremely", capitals, "!!");
* **emoji** (😡 👎 🙄 … and 😍 👍 🎉 …; 😭 is intensity, not grief) and **hashtags** (#PoorService is read
  as words; #neverflyingagain by its stems);
* the **brand's vocabulary** from the configuration: ``negative`` and
  ``urgent`` words count as complaint cues, ``positive`` ones as praise,
  and ``products`` are the things that can be "down" or "not working";
* **discourse structure** (``rules.analyzers.discourse``): an event named in
  a question that asks for information or permission ("will my flight be
  cancelled?", "can I get a refund?") weighs a third of a reported one, and
  nothing when the post only asks or its other sentences hold no complaint
  evidence ("flying out tomorrow. should I expect delays?"); a complaint question ("where is my
  bag?", "seriously?", "can't you just…?") counts as a complaint; in a
  post that both states and asks, VADER reads the statements only; after
  "but" / "however" the cues weigh more than before it; "??" / "?!"
  strengthen complaint evidence but are none of their own;
* **thanks for something done** ("thank you for the refund") as praise,
  text emoticons glued to words ("landed:)") and elongated words ("sooo");
* **eagerness** said with negative words ("want to go so badly", "would
  die to see them", "obsessed with…"), **owning a mistake** ("my bad") and
  the customer's **own apology** ("oops, sorry, done"): VADER does not
  read those words;
* a **shared headline** (a link with no word in the first or second
  person, no negation, no "!") is not the author's complaint, and a
  **wink** (";)", 😉) says a complaint cue is teasing: it weighs half.

When complaint evidence is present, VADER's positive reading (polite
"thanks", "please help", sarcastic "great job") is discounted by it: each
unit of complaint evidence cancels ``POSITIVE_CANCELLED_PER_UNIT`` units of
VADER's positive reading, from the first cue on. A complaint said politely
is still a complaint, while strong praise with one ambiguous cue
("seriously, the best crew!") stays praise. Without any, VADER's negative
reading counts for less (``VADER_ALONE_FACTOR``): its negative words name a
topic ("my sick mother", "the storm") about as often as a grievance. Non-English text goes to the
Japanese analyzer (``ja``) or is scored ``Label.UNKNOWN`` — never silently
neutral — so rules can route it to a person.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Callable, Sequence

from brandpulse.config import Brand
from brandpulse.types import Label, Score
from rules.analyzers.by_language import japanese_analyzer, score_by_language
from rules.analyzers.vader import _VADER_VERSION
from rules.analyzers.discourse import COMPLAINT_QUESTION, INFO_QUESTION, OTHER_QUESTION, STATEMENT, index_sentences

ANALYZER_VERSION = "1.8"

# ---------------------------------------------------------------------------
# Cue lists. Patterns are matched against lower-cased text with typographic
# apostrophes straightened; weights are in VADER-like valence units.
# ---------------------------------------------------------------------------

_NEG = (
    r"(?:can'?t|cannot|can not|couldn'?t|could not|won'?t|wouldn'?t|would not|doesn'?t|does not|didn'?t|did not|"
    r"don'?t|do not|isn'?t|is not|aren'?t|are not|wasn'?t|was not|weren'?t|haven'?t|hasn'?t|have not|has not|"
    r"unable to|not able to|never)"
)
_NEG_T = "n't|nt |not|never|unable"
_DURATION = (
    r"(?:\d+(?:\.\d+)?|an?|one|two|three|four|five|six|seven|eight|nine|ten|twelve|several|many|multiple|few)\+? ?"
    r"(?:hours?|hrs?|mins?|minutes|days|weeks|months)\b"
)
_DURATION_T = "hour|hr|min|day|week|month"
_THINGS = (
    r"(?:website|web ?site|site|app|application|system|link|page|phone lines?|line|kiosk|wi-?fi|internet|portal|"
    r"checkout|payment|server|account|login|log-?in|password|email|online check-?in|check-?in)"
)
_BELONGINGS = r"(?:bags?|baggage|luggage|suitcases?|packages?|parcels?|orders?|items?|stroller|car ?seat|belongings|delivery)"
_BELONGINGS_T = "bag|luggage|suitcase|package|parcel|order|item|stroller|seat|belonging|deliver"

# family -> [(triggers, pattern, weight)]. ``triggers`` are substrings of which
# at least one must occur in the lower-cased text for the pattern to be tried
# (a cheap pre-filter: most posts trigger only a few patterns).
COMPLAINT_CUES: dict[str, list[tuple[str, str, float]]] = {
    # Something the customer relies on does not work.
    "service_failure": [
        ("working", r"\b(?:not|isn'?t|aren'?t|wasn'?t|stopped|stop|quit|keeps? not|barely|never|hardly) working\b", 1.6),
        (_NEG_T, rf"\b{_NEG} (?:even |seem to |seem to be |let me |allow me to )?(?:work|load|open|connect|log ?in|sign ?in|access|process|go through|get through|accept|recogni[sz]e|print|update|complete|submit|send|save)\b", 1.4),
        ("down|offline|broke|crash|freez|frozen|fail|glitch|unavailable", r"\b(?:is|are|was|were|been|keeps?|kept|still|went|goes|going|currently) (?:down|offline|broken|crashing|freezing|frozen|failing|glitching|unavailable)\b", 1.5),
        ("down|broke|dead|useless|mess|crash|glitch", rf"\b{_THINGS}s? (?:is |are |was |keeps? |still )?(?:down|broken|dead|useless|a mess|crash\w*|glitch\w*)\b", 1.3),
        ("crash|glitch|bug|outage|error|malfunction|fail|fault|defective|broke|barely work|out", r"\b(?:crash(?:ed|es|ing)|glitch(?:es|y|ed)?|bugg?y|outage|errors?|malfunction\w*|failed|failure|faulty|defective|broken|broke down|barely works?|gr[ae]yed out)\b", 1.0),
        ("hung|hang|disconnect|dropped", r"\b(?:hung up|hangs? up on|disconnected|dropped (?:my|the|our) call|call dropped)\b", 1.4),
        ("service|support|help|communication|info|update|explanation|organi|assistance", r"\b(?:no|not any|zero|poor|bad|terrible|horrible|awful|lousy|non-?existent) (?:customer )?(?:service|support|help|communication|info(?:rmation)?|updates?|explanation|organi[sz]ation|assistance)\b", 1.6),
        ("tank", r"\b(?:has|have|totally|really) tanked\b", 1.2),
        ("bug", r"\b(?:a|the|another|new|same|this) bugs?\b|\bbugs? (?:in|on|with)\b", 1.0),
        ("out of order|out of service", r"\bout of (?:order|service)\b", 1.2),
        ("n't|not", r"\b(?:doesn'?t|does not|don'?t|do not|didn'?t|did not|won'?t|wouldn'?t|isn'?t|aren'?t) (?:recline|charge|turn on|switch on|start|show up|fit|flush|close|lock|print|scan|sync|play|stream)\b", 1.2),
        ("no ", r"\bno (?:wi-?fi|internet|power|outlets?|food|water|snacks|drinks|blankets|pillows|entertainment|tv|movies|seats?|room|space|leg ?room|chairs?|staff|agents?|gate agents?|crew|pilot|plane|heat|heating|air|a/?c|signal|service)\b(?! (?:problem|issue|worries|complaints)s?\b)", 0.9),
        ("not enough|too few|too many|short ?staff|understaff", r"\b(?:not enough|too few) (?:staff|agents|people|employees|workers|seats|space|room|time|info(?:rmation)?|chairs|planes|flights|options)\b|\bshort[ -]?staffed\b|\bunderstaffed\b|\boverworked\b", 1.2),
        ("slow|forever|eternity|snail|ages", r"\b(?:so|too|very|really|painfully|incredibly|ridiculously|extremely|super) slow\b|\bslow(?:est)? (?:service|response|responses|line|lines|boarding|process|website|app|site|wifi|wi-fi|internet)\b|\b(?:takes?|taking|took) (?:forever|an eternity|ages)\b|\beternity\b|\bsnail'?s? pace\b", 1.2),
    ],
    # Waiting, delays, silence.
    "waiting": [
        ("still", r"\bstill (?:waiting|no\b|not\b|nothing|haven'?t|hasn'?t|don'?t|doesn'?t|can'?t|didn'?t|on hold|stuck|sitting|delayed|missing|unresolved|broken|no word|no sign)", 1.6),
        ("waiting", r"\b(?:been |keep |kept |left |now |currently )?waiting (?:for|on|since|in|at|over|almost|nearly|around|\d)", 1.0),
        ("hold|wait|queue|line", r"\b(?:on hold|hold times?|wait times?|waited|queue|line (?:is|was) (?:long|huge)|long (?:long )?waits?)\b", 1.1),
        (_DURATION_T, rf"\b(?:over|almost|nearly|more than|for|after|another|an extra|wasted) {_DURATION}", 1.1),
        # A duration alone is weak evidence, and none in plans ("in two
        # weeks", "3 months ago", "8 hours between flights", "24 hrs before").
        (_DURATION_T, rf"(?<!\bin )(?<!within )(?<!next )(?<!every )(?<!about )\b{_DURATION}(?! (?:ago|before|between|in advance|from now|to go|away|early|out)\b)", 0.4),
        ("busy", r"\b(?:lines?|phones?|numbers?) (?:are|is|were|was|been|have been|has been) (?:so |super |very |too |always |constantly |still )?busy\b|\bbusy signals?\b", 1.1),
        ("sitting", r"\bsitting (?:on|in) (?:the |a )?(?:plane|runway|tarmac|airport|terminal|car|line|queue)", 0.8),
        ("one|body", r"\b(?:no ?one|nobody|no body)\b", 1.3),
        ("no ", r"\bno (?:update|updates|response|reply|answer|answers|info|information|word|news|call ?back|explanation|communication|notice|confirmation|follow-?up|resolution|way|announcements?)\b", 1.3),
        (_NEG_T + "|still not", r"\b(?:haven'?t|hasn'?t|have not|has not|never|didn'?t|did not|still not) (?:heard|received|gotten|got|arrived|shown|been (?:contacted|refunded|called|fixed|resolved)|responded|replied|answered|called|come|showed|shipped|gotten back|get back)\b", 1.5),
        ("yet to", r"\byet to (?:hear|receive|get|see|be)\b", 1.3),
        ("never|still", r"\b(?:never|still (?:hasn'?t|haven'?t|hasnt|havent|not)) (?:arrives?|comes?|shows? up|gets? (?:back|through|answered|resolved|fixed)|responds?|answers?|calls? back|works?|loads?|goes through|receives?)\b", 1.4),
        ("it's been|its been|it has been|been", r"\b(?:it'?s|it has|it'?s now|now it'?s) been (?:over |almost |nearly |more than )?(?:\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|several|many|multiple|few)\+? ?(?:hours?|hrs?|days|weeks|months)\b|\b(?:it'?s|it has) been (?:forever|ages|too long|long enough)\b", 1.2),
        ("long", r"\bhow (?:much )?long (?:do|does|will|should|is|are|am|must|has|have|can|until)\b", 0.9),
        ("where|happened", r"\b(?:where(?:'s| is| are)|what happened to|where the hell is) (?:my|our)\b", 1.0),
        (_BELONGINGS_T, rf"\b(?:where(?:'s| is| are)|what happened to|lost|lose|losing|missing|damaged|broke|broken) (?:my|our|the|his|her|their)? ?(?:\w+ )?{_BELONGINGS}\b", 1.4),
    ],
    # Events that happen to customers (an inquiry about one is not a complaint).
    "delay": [
        ("delay|late|stuck|strand", r"\b(?:delay(?:ed|s|ing)?|late|stuck|stranded)\b", 1.1),
    ],
    # What the customer was made to do or told.
    "burden": [
        ("had to|have to", r"\b(?:i|we|they|he|she|you) (?:had|have) to (?:now |just |still |also )?(?:pay|wait|rebook|buy|sleep|rent|drive|call|cancel|book|spend|sit|stand|miss|leave|find|take|re-?book|fly|stay|get|reschedule|redo)\b|\b(?:i|we) (?:had|have) to (?:now |just |still |also )?change\b|\bhad to\b", 0.8),
        ("told", r"\b(?:was|were|been|being|get|got|keep getting) told\b|\btold (?:me|us|my|our|him|her|them)\b", 0.8),
        # What staff said or did, reported by the customer ("the agent said…",
        # "your crew didn't…", "according to your app…", "supposedly").
        ("said|told|claimed|insisted|refused|would not|wouldn|didn|did not|according|supposedly|allegedly",
         r"\b(?:your|the|an?|one|another) (?:agent|staff|employee|crew|pilot|gate agent|rep|representative|supervisor|attendant|flight attendant|person|lady|guy|woman|man)s? (?:said|told|says|claimed|insisted|refused|would not|wouldn'?t|didn'?t|did not)\b"
         r"|\baccording to (?:your|the) (?:agent|staff|employees?|crew|pilot|rep|representative|supervisor|app|website|site|system|ground staff|desk)\b|\b(?:supposedly|allegedly)\b", 0.8),
    ],
    # Money: refunds, charges.
    "money": [
        ("refund|reimburs|compensat|money back|chargeback|voucher", r"\b(?:refund(?:ed|s)?|reimburs\w*|compensat\w*|money back|chargeback|voucher)\b", 1.0),
        ("charg", r"\b(?:double|over|wrongly|twice)[ -]?charg\w*|\bcharged (?:me )?(?:twice|again|double|extra|for nothing|without)|\bovercharg\w*|\bhidden (?:fees?|charges?)\b", 1.5),
        ("rip|scam|fraud|stole|theft|goug", r"\b(?:rip ?off|ripped off|scam\w*|fraud\w*|stole|stolen|theft|price goug\w*)\b", 2.0),
        ("fee|charg|paid|pay", r"\b(?:fees?|charged|paid|paying|pay) (?:for|extra|more|\$)", 0.4),
    ],
    # Cancellations, missed connections, lost things.
    "cancellation": [
        ("cancel", r"\bcancel+(?:ed|ing|ation|ations)?\b", 1.2),
        # The bus or train *to the airport* is the customer's own journey
        # there, not something the brand made them miss.
        ("miss", r"\b(?:missed|miss|missing|will miss|going to miss|gonna miss) (?:my|our|the|a|his|her|their) (?:\w+ )?(?:connection|connecting|flight|meeting|appointment|wedding|funeral|event|delivery|(?:train|bus)(?! to (?:the )?airport\b)|interview|cruise)", 1.6),
        # "my bag didn't make it", "soaking wet" suitcases.
        ("make it|soak|drench", r"\b(?:didn'?t|did not|never|won'?t|will not|doesn'?t|does not) make it\b|\b(?:soaked|soaking wet|drenched)\b", 1.0),
        ("book|oversold|bump|downgrad|divert|rerout|lost|los|misplac|mishandl|damag|ruin", r"\b(?:overbook\w*|oversold|bumped|downgraded|diverted|rerouted|lost|losing|lose|misplaced|mishandled|damaged|ruined)\b", 1.0),
    ],
    # "can't / won't / doesn't": generic inability and refusal.
    "inability": [
        ("can|couldn|could not|unable|not able", r"\b(?:can'?t|cannot|can not|couldn'?t|could not|unable to|not able to)\b(?! wait\b| thank| recommend| say enough| be happier| complain\b| beat\b| go wrong| miss\b| believe how (?:good|great|nice|easy|fast)| .{0,30}\bany ?more\b)", 0.8),
        ("letting", r"\b(?:not|n'?t|never) letting (?:me|us)\b", 1.3),
        ("won|wouldn|refus|will not", r"\b(?:won'?t|wouldn'?t|refuse[sd]? to|refusing to|will not)\b (?:let|allow|help|give|refund|honou?r|accept|answer|respond|reply|fix|change|waive|rebook|accommodate|even|work|load|tell|call|budge|compensate|transfer)", 1.3),
        ("n't|nt |not", r"\b(?:doesn'?t|does not|didn'?t|did not|don'?t|do not)\b (?:work|help|care|respond|answer|reply|call|listen|understand|matter|make (?:any )?sense|even|bother|honou?r|accept|allow|have (?:any|a clue|enough)|give a|know what|seem to care|tell)", 1.2),
        # "nothing we can do", "got nothing", "nothing on the website".
        ("nothing", r"\bnothing (?:happens|happened|was done|has been done|is being done|works|worked|changed|available|on (?:the|your))\b"
                    r"|\b(?:got|get|getting|received|heard|offered|offering|said|did|done|do|shows?|showing|showed|there(?:'s| is| was)|still) nothing\b(?! but\b)"
                    r"|\bnothing (?:we|you|they|i|he|she|anyone|anybody|one|that can) (?:can|could)\b|\bnothing but (?:problems|trouble|issues|excuses|delays|headaches|lies)\b", 1.0),
        ("not|nothing|one|body|happy|satisf", r"\b(?:not|nothing|no one|nobody) (?:helpful|being done|resolved|fixed|acceptable|good enough|okay|ok|fair|right|happy|pleased|impressed|satisfied|amused)\b|\b(?:unhappy|dissatisfied|unsatisfied)\b", 1.5),
    ],
    # Contacting again and again.
    "repeated_contact": [
        ("again|over and over|every|time after time|time", r"\byet again\b|(?<!thanks )(?<!thank you )(?<!thx )(?<!ty )(?<!fly )(?<!flying )\b(?:once )?again(?:\s*[!?.]|$)|\b(?:over and over|every (?:single )?time|time after time|for the (?:second|third|fourth|fifth|\d+(?:nd|rd|th)) time)\b", 1.0),
        ("dropped|delayed|cancel|changed|rebooked|called|tried|bumped|moved|rescheduled|happened", r"\b(?:dropped|delayed|cancel+ed|changed|rebooked|called|tried|bumped|moved|rescheduled|happened)\b.{0,20}?\b\d+ ?x\b", 1.0),
        ("second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th", r"\b(?:second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th) (?:time|call|email|tweet|attempt|day|delay|flight)\b", 0.8),
        ("time|people|agent|rep|call|email|message|day|week|morning|night", r"\b(?:called|calling|emailed|tweeted|messaged|contacted|dm'?d|asked|tried|written|wrote|spoke(?: to)?|talked to|been (?:calling|trying|emailing|asking))\b.{0,30}?\b(?:\d+|two|three|four|five|six|several|multiple|many|numerous|countless|dozens? of|all) (?:times|people|agents|reps|representatives|calls|emails|messages|days|day|week|morning|night)", 1.6),
        ("tried|trying|attempt", r"\b(?:tried|trying|been trying|keep trying|kept trying|attempt(?:ed|ing)?) (?:to |for )?(?:call|reach|contact|get through|get ahold|get a hold|get someone|dm|email|speak|talk|get an answer|get help|get a refund|book|change|check ?in|log ?in)", 1.1),
        ("keep|kept", r"\b(?:keep|keeps|kept) (?:getting|telling|saying|happening|asking|sending|calling|being|putting|changing|delaying|cancel+ing)\b", 1.2),
    ],
    # Threats to leave.
    "churn": [
        ("never", r"\bnever (?:again|fly(?:ing)?|book(?:ing)?|use|using|buy(?:ing)?|order(?:ing)?|shop(?:ping)?|recommend(?:ing)?|coming back|going back|travel(?:l?ing)? with|choose|choosing)\b", 2.2),
        ("last time|business|money|lost|done with|bye|cancel|close my|switch|won|will not", r"\b(?:last time (?:i|we)(?:'ll| will)?|take (?:my|our) (?:money|business)|taking (?:my|our) (?:money|business)|lost (?:a|my|our|another) (?:loyal )?(?:customer|business|flyer)|done with (?:you|your|this)|good ?bye|cancel+(?:ing)? my (?:account|subscription|membership|card|credit card|rewards|loyalty)|close my account|switch(?:ing|ed)? (?:airlines|carriers|providers|companies|to (?:another|a different|other|a new|the competition))|won'?t be (?:flying|back|using|booking|buying|returning|ordering|recommending|choosing)|will not be (?:flying|back|using|booking|recommending))\b", 2.0),
        ("another|someone else|elsewhere|competition|different", r"\b(?:fly(?:ing)?|book(?:ing)?|go(?:ing)?|stick(?:ing)?) (?:with )?(?:another airline|another company|someone else|elsewhere|the competition|a different)\b", 1.8),
        ("anymore|any more", r"\b(?:no (?:need|reason)|not|won'?t|never|can'?t|cannot|don'?t|wouldn'?t) .{0,30}\b(?:any ?more)\b", 1.2),
        ("loyal|longtime|long-time|frequent|faithful|valued|customer", r"\b(?:loyal|longtime|long-time|frequent|faithful|valued) (?:customer|flyer|flier|member|client|guest)s?\b|\bcustomer (?:for|since) (?:\d+|years|over|a decade)", 1.0),
    ],
    # Praise that is not meant: "thanks for nothing", "great job losing my bag".
    "sarcasm": [
        ("nothing|sarcasm|#not|(not)|right|so much for|just what|gotta love", r"\bthanks? (?:you )?(?:for nothing|a lot for nothing)\b|#sarcasm\b|#not\b|\byeah,? right\b|(?<!you )(?<!thanks )(?<!thx )\bso much for\b|\bjust what (?:i|we) (?:needed|wanted)\b|\bgotta love\b|\(not\)", 2.5),
        ("thank|thx", r"\b(?:thanks?|thank you|thx) (?:you )?(?:for|4) (?:ruining|losing|cancel+ing|delaying|wasting|nothing|making (?:me|us) (?:wait|miss|sit|late)|leaving (?:me|us)|the (?:delay|wait|runaround|headache|hassle|cancel+ation)|not\b|never\b)"
         r"|\b(?:thanks?|thank you) (?:you )?for (?:the|a|my|our|yet) (?:second|third|fourth|fifth|another|\d+(?:nd|rd|th))\b"
         r"|\b(?:thanks?|thank you) (?:you )?for (?:making|turning) .{0,40}?\b(?:a nightmare|hell|miserable|worse|a disaster|horrible|terrible|awful|stressful)\b", 2.5),
        ("job|work|going|one|way to", r"\b(?:great|good|nice|fantastic|awesome|excellent|wonderful|stellar|amazing|brilliant|fabulous) (?:job|work|going|one|way to)\b(?=.{0,40}?\b(?:los(?:e|t|ing)|delay|cancel|strand|wait|hours|broke|no one|nobody|never|again|not|n't|without|miss|forget|forgot|ignor|leav))", 2.5),
        ("lov|way to go|what a|joke|kidding|joking", r"\b(?:love|loving|lovin'?) (?:how|that|when) (?:you|your|the|my|i|we|it|they)\b|(?<!the )(?<!a )\bway to go\b|\bwhat a (?:great|wonderful|fantastic|fun|nice) (?:way|start)\b|\b(?:is|was) (?:this|that) a joke\b|\byou(?:'re| are) (?:kidding|joking)\b", 1.5),
        ("apparently", r"\bapparently\b", 0.6),
    ],
    # Thanks for something done: a satisfied customer (after "sarcasm", so
    # "thanks for nothing" / "thanks for losing my bag" are read first).
    "gratitude": [
        ("thank|thx|ty for|ty to", r"\b(?:thanks?|thank you|thx|ty)(?: (?:so|very) much| again| a lot)? (?:for|to) (?:the |your |a |all |that |everything|getting|taking|helping|making|being|such|quick|fast|great|responding|reply|replying|response|update|info|help|letting|checking|looking|fixing|resolving|sorting|reaching|following|answering|assist|accommodat|rebooking|refunding|understanding|listening|your help|being so)", -1.2),
        ("thank|thx|appreciate", r"\b(?:thanks?|thank you|thx)(?: (?:so|very) much)?(?: guys| again| all)?\s*(?:[!.]|$)|\b(?:i|we) (?:really |truly |so |greatly )?appreciate (?:it|that|this|you|your|the)\b", -0.8),
    ],
    # The words of an unhappy customer (VADER knows some, not all).
    "anger": [
        ("unaccept|inexcus|incompet|unprofess|rude|terribl|horribl|horrend|awful|atroc|worst|pathetic|ridicul|absurd|joke|disgrace|shame|appall|outrag|useless|clueless|hopeless|careless|lousy|subpar|mediocre|dreadful|abysmal|garbage|trash",
         r"\b(?:unacceptable|inexcusable|incompetent|incompetence|unprofessional|rude(?:ly|ness)?|terrible|terribly|horrible|horribly|horrendous|awful|atrocious|worst|pathetic|ridiculous|absurd|joke|disgrace(?:ful)?|shameful|shame on|appalling|outrageous|useless|clueless|hopeless|careless|lousy|subpar|mediocre|dreadful|abysmal|garbage|trash)\b", 1.0),
        ("disappoint|frustrat|annoy|angry|furious|livid|upset|irritat|infuriat|disgust|fed up|sick|tired of|over it|ugh|smh|wtf|ffs|hassle|nightmare|disaster|fiasco|mess|screwed|chaos|shambles|headache|suck|crap|lame|poor|fail|lied|liar|lying|misle|dishonest|ignor|excuse|confus|nonsense|stress|miserable|exhausted|insult|embarrass|unreliable|uncomfortable|dirty|filthy|cramped|unwilling|disrespect|inconsisten|inconvenien|stink|stunk|overpriced|incorrect|organi|unresponsive|misinform|miscommunicat|patroniz|condescend|stubborn|extort|petty|spotty|maddening|courteous|false hope",
         r"\b(?:disappoint\w*|frustrat\w*|annoy\w*|angry|furious|livid|upset|irritat\w*|infuriat\w*|disgust\w*|fed up|sick (?:and tired )?of|tired of|over it|ugh+|smh|wtf|ffs|hassle|nightmare|disaster|fiasco|mess|messed up|screwed(?: up)?|chaos|shambles|headache|sucks?|sucked|crap|crappy|lame|poor(?:ly)?|fail(?:ed|s|ure)?|lied|liars?|lying|misled|misleading|dishonest|ignored|ignoring|ignore|excuses?|confus\w*|nonsense|stress\w*|miserable|exhausted|insult\w*|embarrass\w*|unreliable|uncomfortable|dirty|filthy|cramped|unwilling|disrespect\w*|inconsisten\w*|inconvenien\w*|stinks?|stunk|overpriced|incorrect(?:ly)?|disorgani[sz]ed|unorgani[sz]ed|unresponsive|misinform\w*|miscommunicat\w*|patroniz\w*|condescend\w*|stubborn|extort\w*|petty|spotty|maddening|(?:un|dis)courteous|no excuse|false hope)\b", 0.9),
        # Exasperation ("really?", "seriously?"): not sarcasm, so a post's
        # sincere praise ("seriously, the best crew") still counts.
        ("really?|seriously", r"\breally\?+|(?<!as )(?<!too )(?<!so )\bseriously\b", 1.5),
        ("what the|serious|kidding|come on|break|enough|act together|do better|step|sort it|make|fix", r"\b(?:what the (?:hell|heck|f\w*)|are you (?:serious|kidding)|come on|give me a break|enough is enough|get your act together|do better|step (?:it )?up|sort it out|make (?:this|it) right|fix (?:this|it|your))\b", 1.5),
        ("complain|grievance|escalat|supervisor|manager|bbb|lawyer|sue|lawsuit|report you", r"\b(?:complain\w*|complaint|grievance|escalat\w*|supervisor|manager|bbb|lawyer|sue|lawsuit|report you)\b", 1.2),
        ("clue", r"\b(?:no|zero|not a|without a) clue\b|\bclueless\b", 1.2),
        ("answer|solution|option|excuse|acceptable|okay|ok|good|fair", r"\b(?:that'?s|that is|this is|is|was|not) not (?:an?|the|good|acceptable|ok|okay|fair|right|good enough)? ?(?:answer|solution|option|excuse|acceptable|ok|okay|fair|right|good enough)\b|\bnot (?:an?|the) (?:answer|solution|option|excuse)\b", 1.2),
        ("owe|tell your", r"\byou owe (?:me|us|them|him|her|all)\b|\btell your (?:employees|staff|agents|crew|pilots|people|team|workers|reps|representatives|managers)\b", 1.1),
        ("together|boo|get it|do better|need to|needs to|have to|has to|ought to", r"\bget (?:it|your (?:act|stuff|shit|sh\*t|crap)|its act|their act) together\b|\bboo+\b|\byou (?:guys |all |people )?(?:need|needs|have|has|ought) to (?:fix|do better|get|hire|train|improve|update|start|stop|learn|figure|communicate|tell|let|be more|be better|change|step up|take care|respond|answer|own|honou?r)\b", 1.1),
    ],
    # Understated complaints: faint praise denied, what should have been,
    # what the company should do ("not very helpful", "should be easier",
    # "would be nice if you answered", "too long", "hire more agents").
    "criticism": [
        # What should have been ("supposed to", "should have"): asked about
        # ("is it supposed to change?") it is an inquiry. "If only…" is left
        # out: it wishes ("if only you flew from Denver", "if only that was
        # me!") as often as it regrets.
        ("expect|should|could|would|supposed", r"\b(?:expected (?:more|better)|should(?:n'?t)? have|could have|could be more|supposed to)\b", 0.9),
        ("not|n't|wasnt|isnt", r"\b(?:not|n'?t|wasnt|isnt|werenot) (?:very |so |that |at all |really |particularly |exactly |always )?(?:good|great|cool|nice|ideal|fun|helpful|professional|friendly|polite|courteous|accommodating|easy|clear|fair|enough|impressed|the best|your (?:best|finest)|living up|trying to (?:help|accommodate))\b", 1.2),
        ("not|never|n't|again|behind", r"\b(?:not|never|n'?t|none of \w+)\b(?: \w+){0,8} on time\b|\b(?:late|delayed) again\b|\bbehind schedule\b", 1.2),
        ("too", r"(?<!never )(?<!not )(?<!n't )\btoo (?:long|late|slow|crowded|complicated|difficult|hard|little|small)\b", 1.0),
        ("hire|train|employ|more|better|proper", r"\b(?:hire|train|retrain|employ) (?:more|your|some|better|the)\b|\b(?:more|better|proper) (?:training|staffing|communication|organi[sz]ation)\b", 1.2),
        ("nice|would have been|would've been", r"\bwould (?:sure |really |certainly |have )?(?:be|been) nice\b|\bwould(?:'ve| have) been (?:nice|good|helpful)\b", 1.2),
        ("should", r"\b(?:should(?:n'?t| not)?) (?:be|have to|need to|take|cost)\b(?! (?:a |an |so |really )?(?:fun|great|good|interesting|exciting|awesome|amazing|fine|ok|okay|interesting|here|there|on|in|at|able|arriving|landing|leaving|home)\b)", 0.9),
    ],
    # Questions a support team recognises as complaints.
    "complaint_question": [
        ("why", r"\bwhy (?:is|are|was|were|did|do|does|would|can'?t|won'?t|isn'?t|aren'?t|haven'?t|hasn'?t|don'?t|doesn'?t|didn'?t|wasn'?t|weren'?t|no|not|on earth|the hell|is it|would you|should|must|has|have|am|can|cant|wont|dont)\b|\bwhy\s*\?", 1.1),
        ("how", r"\bhow (?:come|is it (?:possible|that|ok|okay|acceptable|fair)|hard is it|difficult is it|do you expect|could you|can you (?:not|possibly|justify|expect)|does (?:s?he|this|that) still)\b", 1.0),
        ("anyone|anybody|someone|somebody", r"\b(?:is|does) (?:anyone|anybody|someone|somebody) (?:there|home|listening|working|answering|going to|gonna|at|even|know|care)\b|\banyone (?:there|home|listening|answering)\b", 1.2),
        ("what", r"\bwhat(?:'s| is) (?:going on|happening|up with|the (?:deal|point|holdup|hold up|problem|issue|excuse|real reason))\b", 1.1),
    ],
    # Calls for help a team must answer.
    "help_request": [
        ("someone|somebody|anyone|anybody", r"\b(?:can|could|will|would) (?:someone|somebody|anyone|anybody) (?:please )?(?:help|call|respond|answer|explain|tell|get back|look)", 0.9),
        ("please|pls|plz", r"\b(?:please|pls|plz) (?:help|fix|respond|answer|reply|call|get back|assist|refund|look into|do something|explain|contact)\b", 0.8),
        ("need|help|sos", r"\b(?:need|needs|needed) (?:help|assistance|answers|a refund|an answer|a solution|someone to)\b|\bhelp(?:\s*!|\s*$)|\bhelp me\b|\bsos\b", 0.7),
    ],
}

# Phrases that read as complaints but praise (or at least do not complain).
PRAISE_CUES: list[tuple[str, str, float]] = [
    ("wait", r"\b(?:can'?t|cannot|can not) wait\b", 1.6),
    ("can|couldn", r"\b(?:can'?t|cannot|couldn'?t) (?:thank (?:you|u|them|y'all|you guys) enough|recommend (?:you |them |it )?enough|say enough|be happier|ask for (?:more|better|a better)|complain|beat|go wrong)\b", 2.0),
    ("problem|worries|complaint|issues", r"\bno (?:problem|problems|worries|complaints|issues)\b|\bnot a problem\b", 1.0),
    ("disappoint|never had a bad", r"\b(?:never|didn'?t|doesn'?t|won'?t|don'?t) disappoint|\bnot disappointed\b|\bnever had a bad\b", 1.6),
    ("fixed|resolved|sorted|taken care|solved|found|returned|delivered|refunded|processed", r"\b(?:problem|issue|it|everything|all|bag|bags|luggage|refund) (?:is |was |has been |have been |got |were )?(?:fixed|resolved|sorted(?: out)?|taken care of|solved|found|returned|delivered|refunded|processed)\b", 1.6),
    ("found|got|received|returned|delivered", r"\b(?:found|got|received|returned|delivered) (?:my|our) (?:\w+ )?(?:bags?|luggage|suitcase|refund|money|package|order)\b", 1.4),
    ("again|soon", r"(?<!never )(?<!not )(?<!n't )\b(?:fly|flying|travel(?:l?ing)?|book(?:ing)?|see you|use|using|choose|choosing) (?:with )?(?:(?:you|u|y'all|you guys|them|it) )?(?:once )?(?:again|soon)\b", 1.2),
    ("kudos|shout|props|hats off|thumbs up|well done|above and beyond|top notch|first class|stars|10/10|a+|appreciate",
     r"\b(?:kudos|shout ?out|props to|hats off|thumbs up|well done|above and beyond|top notch|first class service|5 stars|five stars|10/10|a\+|much appreciated|appreciate (?:it|you|the|your|all))", 1.5),
]

# "n't" needs its apostrophe: without one only the whole contraction counts
# ("dont", "wasnt"), so that "went", "agent" or "front" negate nothing.
NEGATORS = re.compile(
    r"(?:\bnot|\bno|\bnever|n't|\b(?:cant|dont|wont|didnt|doesnt|isnt|wasnt|arent|werent|havent|hasnt|hadnt|couldnt|wouldnt|shouldnt|aint)"
    r"|\bwithout|\bhardly|\bbarely|\bzero)\s+(?:\w+\s+){0,2}$"
)
INTENSIFIERS = re.compile(r"(?:\bso|\bvery|\breally|\bextremely|\btotally|\babsolutely|\bcompletely|\bsuper|\bincredibly|\bseriously|\butterly|\bbeyond|\bsuch an?|\bmost)\s+$")
# Cue families whose match is one event that a negator in front can undo
# ("not delayed", "no cancellations"); the others carry negation inside.
_NEGATABLE = {"cancellation", "delay", "anger"}
# Cue families that name an event; asked about ("will my flight be cancelled?")
# they are an inquiry, not a complaint.
_EVENTS = {"cancellation", "delay", "money", "brand_negative", "brand_urgent"}
_INQUIRY_START = re.compile(r"\W*(?:are|is|will|would|should|can|could|do|does|did|any|how|what|when|if|has|have|am|may|might)\b")
_HYPOTHETICAL = re.compile(r"\b(?:will|would|might|may|going to|gonna|if|in case|chances?|possible|possibility|likely|expect(?:ed|ing)?|predict\w*|forecast|risk|worried|afraid|hope)\b")
# Cue families discounted inside an information question ("is the site down?",
# "can I get a refund?", "will my flight be cancelled?").
_ASKABLE = _EVENTS | {"service_failure", "waiting", "inability", "burden", "help_request", "brand_product_failure", "criticism"}
# A post containing a complaint question ("where is my bag?", "seriously?",
# "can't you just…?") that no complaint_question cue has read yet.
CQ_SENTENCE_WEIGHT = 0.9
# A wink (";)", ";-)", ";p", 😉 😜) says the post is teasing: its complaint
# evidence weighs this share. (Not the smirk 😏: as often sarcastic as playful.)
_WINK = re.compile(r"(?<![\w;]);-?[)pP](?![\w)(])|[\U0001F609\U0001F61C]")
JEST_FACTOR = 0.5
# "X, but Y": cue weights before the contrast and after it.
CONTRAST_BEFORE = 0.6
CONTRAST_AFTER = 1.2
# A letter written three or more times in a row: emphasis ("sooo slow").
_ELONGATED = re.compile(r"([A-Za-z])\1{2,}")
# "??", "?!": emphasis of a complaint (or of an eager question): it
# strengthens complaint evidence found elsewhere, it is none of its own.
_EMPHATIC = re.compile(r"\?{2,}|\?!|!\?")
# "but", "however", "although", "though" open the clause the author means.
_CONTRAST = re.compile(r"\b(?:but|however|although|though|except)\b")
# Text emoticons. VADER scores them only as separate tokens; these are counted
# when glued to a word ("day:)", "again:(") so VADER did not see them.
_EMOTICON = re.compile(r"(?<![\w:;=])(?:[:;=]'?-?[()\[\]/\\|DPp]|\(-?[:;]|</?3|-_-|>:-?\()(?![\w)(])|(?<=\w)(?:[:;=]'?-?[()\[\]/\\|DPp]|</?3)(?![\w)(])")
_EMOTICON_CHARS = re.compile(r"[:;=<-][-'/()\[\]\\|DPp3_]")
_EMOTICON_VALUES = {")": -0.9, "]": -0.9, "D": -1.0, "P": -0.6, "p": -0.6, "(": 1.0, "[": 1.0, "/": 0.7, "\\": 0.7, "|": 0.4}


def _emoticons(text: str) -> float:
    """Complaint (> 0) or praise (< 0) from text emoticons VADER cannot see."""
    total = 0.0
    for m in _EMOTICON.finditer(text):
        a, b = m.span()
        if (a == 0 or text[a - 1].isspace()) and (b == len(text) or text[b].isspace()):
            continue  # a token of its own: VADER's lexicon has it
        e = m.group()
        if e in ("<3",):
            total -= 1.0
        elif e in ("</3", "-_-"):
            total += 0.9
        elif e.startswith(">:"):
            total += 1.2
        elif e[0] == "(":
            total -= 0.9  # "(:" smile written backwards
        else:
            total += _EMOTICON_VALUES.get(e[-1], 0.0)
    return total

NEGATIVE_EMOJI = {
    "😡": 1.4, "😠": 1.2, "🤬": 1.6, "😤": 1.0, "😒": 0.9, "😞": 0.9, "😔": 0.8, "😟": 0.7, "😢": 0.8,
    "😩": 1.0, "😫": 1.0, "😖": 0.8, "😣": 0.8, "😕": 0.6, "🙁": 0.7, "☹": 0.9, "👎": 1.4,
    "💔": 0.8, "🙄": 1.1, "🤦": 1.1, "😑": 0.6, "😐": 0.4, "🤢": 1.0, "🤮": 1.2, "💩": 1.0, "😪": 0.5,
    "😓": 0.6, "😰": 0.6, "😱": 0.5, "🤯": 0.6, "😬": 0.5, "😿": 0.7,
}
POSITIVE_EMOJI = {
    "😀": 1.0, "😃": 1.0, "😄": 1.0, "😁": 1.0, "😆": 0.8, "😊": 1.0, "🙂": 0.6, "😍": 1.4, "🥰": 1.4,
    "😘": 1.0, "❤": 1.2, "💕": 1.2, "💖": 1.2, "💗": 1.2, "💙": 1.1, "💚": 1.0, "💛": 1.0, "💜": 1.0,
    "👍": 1.1, "👏": 1.0, "🙌": 1.1, "🎉": 1.0, "✨": 0.6, "😎": 0.8, "🤗": 1.0, "💯": 0.8, "⭐": 0.6,
    "🌟": 0.7, "😻": 1.0, "🥳": 1.1, "☺": 1.0, "😉": 0.5, "♥": 1.2,
}

_NEG_TAG_STEMS = (
    "fail", "worst", "suck", "poor", "bad", "never", "fixit", "delay", "cancel", "lost", "strand", "ripoff",
    "disappoint", "unacceptable", "shame", "angry", "frustrat", "annoy", "horribl", "terribl", "awful", "hate",
    "broken", "nothanks", "nothappy", "notcool", "wtf", "smh", "ugh", "nightmare", "mess", "joke", "boycott",
    "noservice", "nohelp", "stuck", "waiting", "ridiculous", "pathetic", "unhappy", "sad", "wasted", "rude",
)
_POS_TAG_STEMS = (
    "love", "best", "great", "awesome", "happy", "thank", "amazing", "kudos", "excellent", "beautiful",
    "goodjob", "welldone", "winning", "impressed", "grateful", "blessed",
)

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<![\w@])@\w+")
# Negative words that voice no grievance, as (phrase, its negative words):
# eagerness ("want to go so badly", "would die to", "dying to", "desperate
# for", "obsessed with", "love … to death"), owning a mistake ("my bad") and
# the customer's own apology ("oops, sorry").
_NOT_GRIEVANCE_TRIGGER = re.compile(r"bad|desperat|die|dying|obsess|death|mistake|fault|sorry|oops")
_NOT_GRIEVANCE = (
    (re.compile(
        r"\b(?:want|wanted|wanna|need|needed)\b[^.!?]{0,40}?\b(?:so bad|badly|desperately)\b"
        r"|\b(?:would|'d|i) die (?:to|for)\b|\bdying to\b"
        r"|\b(?:i am|i'm|im) (?:so |really )?desperate\b|\bdesperate (?:to|for)\b"
        r"|\bobsessed with\b|\blove\b[^.!?]{0,30}?\bto death\b"
     ), re.compile(r"\b(?:so bad|badly|desperately|desperate|die|dying|obsessed|to death)\b")),
    # Said on its own ("my bad.", "my mistake!"), not "my bad luck", not
    # "my fault for flying with you".
    (re.compile(r"\bmy (?:bad|mistake|fault)\b(?=\s*(?:[.!,;:)]|$))"), re.compile(r"\b(?:bad|mistake|fault)\b")),
    # The customer's own apology opening a sentence ("oops, sorry, done",
    # "sorry! thought I did", "I'm so sorry, should have said…"), not the
    # brand's "sorry" they report ("just said sorry", "generic sorry").
    (re.compile(r"(?:^|[.!?,;:]\s*)\s*(?:(?:oops|whoops)\b|(?:i'?m |i am )?(?:so |very |really )?sorry\b)"),
     re.compile(r"\b(?:oops|whoops|sorry)\b")),
)


def _without_unmeant_words(text: str, low: str) -> str:
    """``text`` with the negative words of the ``_NOT_GRIEVANCE`` phrases blanked
    (``low`` is its lower-cased form; when lower-casing changed the length,
    ``low`` is used)."""
    base = text if len(text) == len(low) else low
    spans = sorted((m.start() + w.start(), m.start() + w.end())
                   for phrase, words in _NOT_GRIEVANCE
                   for m in phrase.finditer(low) for w in words.finditer(m.group(0)))
    if not spans:
        return text
    out, last = [], 0
    for start, end in spans:
        if start < last:
            continue
        out.append(base[last:start])
        out.append(" " * (end - start))
        last = end
    out.append(base[last:])
    return "".join(out)


_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_EMOJI_CHARS = frozenset(NEGATIVE_EMOJI) | frozenset(POSITIVE_EMOJI)
_HAS_EMOJI_RANGE = re.compile("[\u2600-\u27bf\U0001f300-\U0001faff]")

# VADER's lexicon, adjusted for customer-care talk: requests for help are not
# praise, "customer care" is not affection, "lol" in a complaint is not joy.
LEXICON_ADJUSTMENTS = {
    "help": 0.0, "helps": 0.0, "please": 0.0, "care": 0.0, "want": 0.0, "like": 0.4, "free": 0.6, "hope": 0.6,
    "hopefully": 0.4, "lol": 0.5, "ok": 0.0, "okay": 0.0, "sure": 0.3, "yes": 0.6, "win": 1.0, "credit": 0.0,
    "fun": 1.5, "chance": 0.0, "pretty": 0.3, "well": 0.0, "matter": 0.0, "true": 0.0, "ready": 0.3,
    "delayed": -1.6, "delay": -1.3, "delays": -1.3, "cancelled": -1.6, "canceled": -1.6, "stranded": -2.2,
    "stuck": -1.5, "rude": -2.4, "lost": -1.5, "waiting": -0.3, "refund": -0.3, "unhelpful": -2.0,
    "worst": -3.2, "hold": 0.0, "supposed": -0.5, "excuse": -0.8, "excuses": -1.2,
}

# VADER reads an emoji by its description. "Loudly crying face" 😭 says how
# strongly the author feels, not what: on social media it comes with
# excitement, laughter and longing ("lemme win those tickets 😭") as often as
# with grief, so it is no sentiment of its own (the words around it are).
EMOJI_ADJUSTMENTS = {"😭": ""}

_SCALE_VADER = 2.5  # compound 1.0 ≈ 2.5 valence units
_ALPHA = 4.0  # normalisation of the summed valence into (-1, 1)
INQUIRY_FACTOR = 0.35  # an event asked about or hypothetical, next to statements
ASKED_ONLY_FACTOR = 0.0  # ... in a post that only asks questions for information
ASKED_WITHOUT_COMPLAINT = 0.0  # ... share kept when the post's other sentences hold no complaint evidence
LINK_SHARE_FACTOR = 0.5
POSITIVE_CANCELLED_PER_UNIT = 0.25  # VADER's positive units cancelled per unit of complaint evidence
VADER_ALONE_FACTOR = 0.6
NEGATIVE_THRESHOLD = -0.05
POSITIVE_THRESHOLD = 0.05


@dataclass(frozen=True, slots=True)
class _Cue:
    family: str
    triggers: tuple[str, ...]
    regex: re.Pattern[str]
    weight: float  # > 0 complaint, < 0 praise


def _compile(families: dict[str, list[tuple[str, str, float]]]) -> tuple[_Cue, ...]:
    """Cues in priority order: praise first (at one position "can't wait" must
    win over "can't"), then sarcasm, then the other families in the order given."""
    cues = [_Cue("praise", tuple(t.split("|")), re.compile(p), -w) for t, p, w in PRAISE_CUES]
    # Sarcasm next: "thanks for making me miss my flight" is read as a whole,
    # before "miss my flight" alone (and "thanks for" as gratitude).
    ordered = sorted(families.items(), key=lambda item: item[0] != "sarcasm")
    for family, entries in ordered:
        for triggers, pattern, weight in entries:
            cues.append(_Cue(family, tuple(triggers.split("|")), re.compile(pattern), weight))
    return tuple(cues)


def _vocab(words: Sequence[str]) -> tuple[str, str] | None:
    """(triggers, pattern) matching any of ``words`` as whole words."""
    cleaned = sorted({w.strip().lower().translate(_APOSTROPHES) for w in words if w and w.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    triggers = "|".join(sorted({w.split()[0] for w in cleaned}))
    pattern = r"(?<!\w)(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in cleaned) + r")(?!\w)"
    return triggers, pattern


def _brand_cues(brand: Brand) -> dict[str, list[tuple[str, str, float]]]:
    vocab = brand.vocabulary
    families: dict[str, list[tuple[str, str, float]]] = {}
    if neg := _vocab(vocab.negative):
        families["brand_negative"] = [(*neg, 1.3)]
    if urgent := _vocab(vocab.urgent):
        families["brand_urgent"] = [(*urgent, 1.3)]
    if pos := _vocab(vocab.positive):
        families["brand_positive"] = [(*pos, -0.9)]
    if products := _vocab(vocab.products):
        triggers, p = products
        families["brand_product_failure"] = [
            (triggers, rf"{p}\s+(?:is |are |was |keeps? |still |has been )?(?:down|broken|dead|not working|crash\w*|fail\w*|glitch\w*|useless|won'?t \w+|doesn'?t \w+|isn'?t working|freez\w*)", 1.6),
            (triggers, rf"\b(?:can'?t|cannot|unable to|couldn'?t|won'?t let me) (?:use|access|open|load|get (?:into|on)|log ?in(?:to)?|connect to|find) (?:the |your |my |our )?{p}", 1.6),
        ]
    return families


def _hashtag_words(match: re.Match[str]) -> str:
    body = match.group(1)
    return " " + _CAMEL.sub(" ", body) + " "


@dataclass(slots=True)
class Evidence:
    """What the analyzer found in one text (for ``Score.details`` and for features)."""

    vader: float
    complaint: float
    praise: float
    families: dict[str, float]
    emoji: float
    hashtags: float
    sarcasm: bool
    # Structure, for the trained classifier's features: VADER's share of
    # negative and positive words, and the share of the post's sentences that
    # ask for information / complain in a question / ask otherwise.
    vader_negative: float = 0.0
    vader_positive: float = 0.0
    asks: float = 0.0
    complaint_questions: float = 0.0
    other_questions: float = 0.0


class CustomerCareAnalyzer:
    """VADER + customer-care complaint cues + brand vocabulary; Japanese via
    :class:`rules.analyzers.japanese.JapaneseAnalyzer`; other languages → UNKNOWN."""

    name = "customer-care"
    version = f"{ANALYZER_VERSION}+vader{_VADER_VERSION}"
    # Languages scored here; ``None`` (no letters: emoji, links) is read as English-compatible.
    english_like = frozenset({"en", None})

    def __init__(self, *, japanese: Callable[[], object] | None = None) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._sia = SentimentIntensityAnalyzer()
        self._sia.lexicon = {**self._sia.lexicon, **LEXICON_ADJUSTMENTS}
        self._sia.emojis = {**self._sia.emojis, **EMOJI_ADJUSTMENTS}
        self._generic = _compile(COMPLAINT_CUES)
        self._brand_cache: dict[tuple, tuple[_Cue, ...]] = {}
        self._japanese_factory = japanese
        self._japanese = None

    # -- public API -------------------------------------------------------
    def score(self, text: str, *, lang: str | None = None, brand: Brand | None = None) -> Score:
        return self.score_many([text], langs=[lang], brand=brand)[0]

    def score_many(
        self, texts: Sequence[str], *, langs: Sequence[str | None] | None = None, brand: Brand | None = None
    ) -> list[Score]:
        def score_english(english: list[str], english_langs: list[str | None]) -> list[Score]:
            compiled = self._compiled_for(brand)
            return [self._score_english(text, lang=lang, compiled=compiled) for text, lang in zip(english, english_langs)]

        return score_by_language(self, texts, langs=langs, brand=brand, score_english=score_english,
                                 japanese=self._japanese_analyzer)

    def evidence(self, text: str, *, brand: Brand | None = None) -> Evidence:
        """The complaint and praise evidence found in an English text."""
        return self._evidence(text, self._compiled_for(brand))

    # -- internals --------------------------------------------------------
    def _japanese_analyzer(self):
        if self._japanese is None:
            self._japanese = japanese_analyzer(self._japanese_factory)
        return self._japanese

    def _compiled_for(self, brand: Brand | None) -> tuple[_Cue, ...]:
        if brand is None:
            return self._generic
        v = brand.vocabulary
        key = (tuple(v.negative), tuple(v.positive), tuple(v.urgent), tuple(v.products))
        compiled = self._brand_cache.get(key)
        if compiled is None:
            compiled = _compile({**_brand_cues(brand), **COMPLAINT_CUES})
            self._brand_cache[key] = compiled
        return compiled

    def _score_english(self, text: str, *, lang: str | None, compiled: tuple[_Cue, ...]) -> Score:
        ev = self._evidence(text, compiled)
        compound = combine(ev)
        if compound <= NEGATIVE_THRESHOLD:
            label = Label.NEGATIVE
        elif compound >= POSITIVE_THRESHOLD:
            label = Label.POSITIVE
        else:
            label = Label.NEUTRAL
        details = {"vader": ev.vader, "cues": ev.families} if ev.families else {"vader": ev.vader}
        return Score(self.name, self.version, compound, label, lang or "en", details)

    def _evidence(self, text: str, compiled: tuple[_Cue, ...]) -> Evidence:
        text = html.unescape(text) if "&" in text else text
        shares_link = "http" in text or "www." in text
        text = _URL.sub(" ", text)
        text = _HANDLE.sub(" ", text)
        hashtags = 0.0
        if "#" in text:
            for tag in _HASHTAG.findall(text):
                low = tag.lower()
                if any(s in low for s in _NEG_TAG_STEMS):
                    hashtags += 1.0
                elif any(s in low for s in _POS_TAG_STEMS):
                    hashtags -= 0.8
            text = _HASHTAG.sub(_hashtag_words, text)
        emoji = 0.0
        if not text.isascii() and _HAS_EMOJI_RANGE.search(text):
            for ch in text:
                if ch in _EMOJI_CHARS:
                    emoji += NEGATIVE_EMOJI.get(ch, 0.0) - POSITIVE_EMOJI.get(ch, 0.0)
        if _ELONGATED.search(text):
            text = _ELONGATED.sub(r"\1", text)  # "sloooow" → "slow", "noooo" → "no"
        if _EMOTICON_CHARS.search(text):
            emoji += _emoticons(text)
        caps = len(_CAPS_WORD.findall(text))
        low = text.lower().translate(_APOSTROPHES)
        contrast = _CONTRAST.search(low)
        pivot = contrast.start() if contrast is not None else -1

        index = index_sentences(low) if "?" in low else None
        only_asks = index is not None and index.only(INFO_QUESTION)
        complaint = 0.0
        praise = 0.0
        sarcasm = False
        families: dict[str, float] = {}
        taken: list[tuple[int, int]] = []
        asked: list[tuple[str, float]] = []  # complaint cues read inside information questions
        for cue in compiled:
            for t in cue.triggers:
                if t in low:
                    break
            else:
                continue
            for m in cue.regex.finditer(low):
                start, end = m.span()
                if any(start < e and s < end for s, e in taken):
                    continue  # a cue earlier in priority order already read this text
                taken.append((start, end))
                family, weight = cue.family, cue.weight
                before = low[max(0, start - 24):start]
                kind_asks = False
                if weight > 0 and family in _ASKABLE:
                    kind = index.kind_at(start) if index is not None else STATEMENT
                    if kind == INFO_QUESTION:
                        kind_asks = not only_asks
                        weight *= ASKED_ONLY_FACTOR if only_asks else INQUIRY_FACTOR
                    elif (kind == OTHER_QUESTION and family in _EVENTS) or (family in _EVENTS and _HYPOTHETICAL.search(before)):
                        weight *= INQUIRY_FACTOR
                if weight > 0 and family in _NEGATABLE and NEGATORS.search(before):
                    weight = -0.3 * weight  # "not delayed", "no cancellations"
                elif family in ("brand_positive", "praise") and NEGATORS.search(before):
                    weight = -weight  # "not on time" is a complaint
                elif INTENSIFIERS.search(before):
                    weight *= 1.3
                if pivot >= 0:
                    # "X, but Y": what follows the contrast is what the author means.
                    weight *= CONTRAST_BEFORE if start < pivot else CONTRAST_AFTER
                if family == "sarcasm":
                    sarcasm = True
                if weight > 0 and kind_asks:
                    asked.append((family, weight))
                if weight > 0:
                    complaint += weight
                else:
                    praise -= weight
                families[family] = families.get(family, 0.0) + weight
        if index is not None and "complaint_question" not in families and index.has(COMPLAINT_QUESTION):
            # "where is my bag?", "seriously?", "can't you just…?", "do you even read these?"
            complaint += CQ_SENTENCE_WEIGHT
            families["complaint_question"] = CQ_SENTENCE_WEIGHT
        if asked and not (hashtags > 0 or emoji > 0) and complaint - sum(w for _, w in asked) <= 0:
            # Context and a question ("flying out tomorrow. should I expect
            # delays?"): with no complaint evidence outside its questions, the
            # post asks, as a post that only asks does.
            for family, w in asked:
                complaint -= w * (1.0 - ASKED_WITHOUT_COMPLAINT)
                families[family] -= w * (1.0 - ASKED_WITHOUT_COMPLAINT)
        if hashtags > 0:
            complaint += min(hashtags, 2.0)
        elif hashtags < 0:
            praise += min(-hashtags, 2.0)
        if emoji > 0:
            complaint += min(emoji, 2.5)
        elif emoji < 0:
            praise += min(-emoji, 2.5)
        if complaint and _WINK.search(text):
            complaint *= JEST_FACTOR  # "knowing you, you will fix this ;)": teasing
            families = {f: w * JEST_FACTOR if w > 0 else w for f, w in families.items()}
        if complaint and (caps >= 2 or "!!" in text or _EMPHATIC.search(text)):
            complaint *= 1.15
        if _NOT_GRIEVANCE_TRIGGER.search(low):
            # "I want to go so badly", "would die to see them", "my bad":
            # eagerness or owning a mistake, not a grievance; VADER reads
            # their words as negative.
            text = _without_unmeant_words(text, low)
        polarity = self._sia.polarity_scores(text)
        vader = polarity["compound"]
        if vader < 0 and index is not None and not only_asks and index.has(INFO_QUESTION):
            # Statements and information questions ("on flight 12 tomorrow.
            # will it be delayed?"): VADER reads the statements only, for the
            # same reason as below.
            rest = index.without(INFO_QUESTION, text if len(text) == len(low) else low)
            vader = self._sia.polarity_scores(rest)["compound"] if rest.strip() else 0.0
        if vader < 0 and only_asks:
            # A post that only asks ("is flight 12 delayed?", "will I be charged
            # a fee?"): VADER's negative words name the topic, not a grievance.
            # What still counts are the cues no question undoes (anger, churn…).
            vader = 0.0
        if shares_link and not complaint and vader < 0:
            # A shared headline's wording is not the author's complaint; a link
            # shared with no word in the first or second person, no negation and
            # no "!" is the headline alone ("CEO battles to please Wall St").
            vader *= 0.0 if _impersonal(low) else LINK_SHARE_FACTOR
        shares = index.shares() if index is not None else (0.0, 0.0, 0.0)
        return Evidence(vader, complaint, praise, families, emoji, hashtags, sarcasm, polarity["neg"], polarity["pos"], *shares)


# Words of a post written by someone to someone ("I", "my", "you", "y'all"),
# and what makes a shared link the author's own reaction ("no", "never", "!").
_PERSONAL = re.compile(r"\b(?:i|i'm|im|i've|ive|i'd|i'll|me|my|mine|myself|we|we're|we've|our|ours|us|you|your|yours|you're|youre|u|ur|y'all|yall)\b")
_OWN_REACTION = re.compile(r"\b(?:no|not|never|nobody|nothing|boo+)\b|n't|!")


def _impersonal(low: str) -> bool:
    """Does ``low`` (without its links and handles) read as a headline, not as someone's own words?"""
    return _PERSONAL.search(low) is None and _OWN_REACTION.search(low) is None


def combine(ev: Evidence) -> float:
    """Sum VADER's reading and the cue evidence into a compound in (-1, 1)."""
    units = ev.vader * _SCALE_VADER
    complaint = min(ev.complaint, 6.0)
    if units < 0 and not complaint:
        # VADER's negative words with no complaint evidence name a topic
        # ("sick", "storm", "cancer") as often as a grievance.
        units *= VADER_ALONE_FACTOR
    if units > 0:
        if ev.sarcasm:
            units = 0.0  # "great job losing my bag"
        else:
            # A complaint said politely is still a complaint: each unit of
            # complaint evidence cancels part of VADER's positive reading,
            # from the first cue on ("thanks, still no bag"). A fixed amount
            # per unit, not a share: mild politeness next to a cue is cancelled,
            # strong praise next to one ambiguous cue is not.
            units = max(0.0, units - POSITIVE_CANCELLED_PER_UNIT * complaint)
    raw = units + ev.praise - complaint
    return raw / math.sqrt(raw * raw + _ALPHA)
