#!/usr/bin/env python3
"""Deterministic generator for the brandpulse demo data set.

"Kestrel Air" is a FICTIONAL small airline invented for brandpulse demos
(X accounts @KestrelAir / @KestrelAirHelp, Reddit u/KestrelAir_Team,
subreddits r/travel and r/KestrelAir).  Every text in this file was written
for brandpulse; nothing is copied from real posts.

The generator builds one simulated day (2026-03-10, UTC) of mentions from the
hand-written phrase pools below and writes demo/mentions.jsonl, one JSON
object per line, sorted by created_at.  Stdlib only, no network, fixed seed:
every run produces byte-identical output.

    python demo/generate.py                 # writes demo/mentions.jsonl
    python demo/generate.py --out /tmp/m.jsonl
"""
from __future__ import annotations

import argparse
import json
import math
import random
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

SEED = 20260310
DAY = datetime(2026, 3, 10, tzinfo=timezone.utc)
DAY_MS = 24 * 3600 * 1000
OUTAGE_WINDOW = ("14:00", "15:30")  # app + check-in website down (UTC)

# How many "ordinary" posts to draw from the pools (special scenes come on top).
X_GENERAL = {"praise": 66, "question": 66, "complaint": 52}
X_USER_REPLIES = 10        # other users answering / "me too"-ing general X posts
X_OUTAGE_FROM_POOL = 47    # + 3 replies to the brand's status post + fr + ja
ADDRESS_BRAND_P = 0.05     # chance a general X post is @-addressed to the brand
URGENCY_P = 0.22           # chance a general complaint gets an urgency tail
LOWERCASE_P = 0.08         # casual all-lowercase posting style

TWITTER_EPOCH_MS = 1288834974657
REDDIT_T3_BASE = int("1r40000", 36)   # submission ids grow ~12 per second
REDDIT_T1_BASE = int("o8k0000", 36)   # comment ids grow ~70 per second

URGENCY_WORDS = ("urgent", "missed my connection", "stranded", "medical", "tonight")

# --------------------------------------------------------------------------
# Accounts
# --------------------------------------------------------------------------

BRAND_X = {"id": "2911458301", "handle": "KestrelAir", "name": "Kestrel Air",
           "followers": 48210, "verified": True}
BRAND_X_HELP = {"id": "3128846702", "handle": "KestrelAirHelp", "name": "Kestrel Air Help",
                "followers": 12754, "verified": True}
BRAND_REDDIT = {"id": "t2_9kq3z7wd", "handle": "KestrelAir_Team", "name": None,
                "followers": 311, "verified": False}
BRAND_HANDLES = {"KestrelAir", "KestrelAirHelp", "KestrelAir_Team"}

# High-follower travel journalist and two mid-size accounts (all invented).
JOURNALIST = {"id": "118830457", "handle": "odile_brannigan", "name": "Odile Brannigan",
              "followers": 250000, "verified": True}
MIDSIZE = [
    {"id": "1354920118", "handle": "gatelounge_pod", "name": "Gate Lounge Podcast",
     "followers": 18400, "verified": False},
    {"id": "740219336", "handle": "ferdinand_pts", "name": "Ferdinand | Points & Miles",
     "followers": 42100, "verified": True},
]

FIRST_NAMES = [
    "Jane", "Tom", "Aoife", "Luis", "Marta", "Sean", "Chloe", "Ravi", "Ines", "Ollie",
    "Beatriz", "Kwame", "Hannah", "Mateo", "Niamh", "Jonas", "Leila", "Callum", "Sofia",
    "Femi", "Grace", "Pedro", "Ewan", "Maya", "Tariq", "Freya", "Diego", "Eilidh", "Noor",
    "Rory", "Lucia", "Ben", "Amara", "Finn", "Rosa", "Yusuf", "Isla", "Tiago", "Kate",
    "Arjun", "Zoe", "Hugo", "Mei", "Conor", "Ana", "Sam", "Elif", "Jack", "Nadia", "Owen",
]
LAST_NAMES = [
    "Doyle", "Ferreira", "Walsh", "Moreno", "Campbell", "Okoye", "Price", "Costa", "Byrne",
    "Singh", "Murray", "Lopes", "Evans", "Navarro", "Fraser", "Kelly", "Almeida", "Reid",
    "Hughes", "Santos", "Quinn", "Patel", "Ross", "Duarte", "Lynch", "Morgan", "Silva",
    "Grant", "Nolan", "Teixeira",
]
X_HANDLE_PATTERNS = [
    "{f}{l}", "{f}_{l}", "{f}{l}{n2}", "{f}_flies", "{f}travels", "{f}_{n2}", "{l}{f}",
    "its{f}{l1}", "{f}{l1}_{n2}", "{f}_on_tour", "the_{f}_{l}", "{f}.{l}",
]
X_NAME_PATTERNS = ["{F} {L}", "{F} {L}", "{F}", "{F} {L1}.", "{F} {L} ✈️", "{F} | {city}",
                   "{f} {l}"]
REDDIT_ADJ = ["Quiet", "Salty", "Curious", "Tired", "Lucky", "Sleepy", "Brave", "Rainy",
              "Grumpy", "Polite", "Windy", "Frugal", "Restless", "Sunny", "Weary"]
REDDIT_NOUN = ["Heron", "Suitcase", "Pilot", "Biscuit", "Gannet", "Passport", "Layover",
               "Runway", "Puffin", "Teapot", "Compass", "Ferry", "Kettle", "Lantern", "Otter",
               "Backpack", "Tern", "Boarding", "Aisle", "Pretzel"]
REDDIT_NAME_PATTERNS = ["{A}{N}{n2}", "{a}_{n}_{n2}", "{A}-{N}-{n4}", "throwaway_{n}{n2}",
                        "{n}_enthusiast", "{A}{N}", "{a}{n}{n4}", "not_a_{n}_{n2}"]

CITIES = ["Bristol", "Porto", "Lisbon", "Dublin", "Cork", "Edinburgh", "Glasgow", "Bilbao",
          "Nantes", "Bordeaux", "Faro", "Shannon", "Inverness", "Brest", "Santander"]
STAFF = ["Aoife", "Tomás", "Bea", "Jamie", "Rui", "Siobhan", "Marco", "Ellen", "Duarte", "Kirsty"]

# --------------------------------------------------------------------------
# Phrase pools.  {slot}s are filled by Builder.fill(); a slot used twice in
# one template gets the same value both times.
# --------------------------------------------------------------------------

BRAND_FORMS = {
    "x": [("Kestrel Air", 55), ("kestrel air", 12), ("#KestrelAir", 12), ("#kestrelair", 8),
          ("KestrelAir", 5), ("Kestrel Air ✈️", 2)],
    "reddit": [("Kestrel Air", 70), ("Kestrel", 12), ("KA", 5), ("kestrel air", 8)],
}

PRAISE_X = [
    "Shoutout to the {brand} crew on {flight} this morning, {praise_detail}.",
    "{brand} landed {mins_early} minutes early into {city}. Didn't even get to finish my coffee.",
    "Genuinely impressed with {brand}. Boarding at {city} took fifteen minutes and the bags were on the belt before I got there.",
    "The gate agent at {city} moved us so I could sit next to my kid, no fuss at all. Thank you {brand}!",
    "First time flying {brand} and the legroom is honestly fine? I'm 6'3\" and my knees survived.",
    "Small airline, big heart. {staff} at the {city} desk found my passport on the floor and ran it to the gate. {brand} you have a gem.",
    "{brand} rebooked me onto the next flight before I'd even opened the app. That's how you handle a delay.",
    "Can we talk about how good the {brand} coffee is? Airline coffee is not supposed to taste like that.",
    "Cheapest fare to {city} and still the nicest flight I've had this year. {brand} 👏",
    "Pilot on {flight} pointed out every island on the way into {city}. Best announcement ever. {brand}",
    "Left my earbuds on a {brand} flight last week and they posted them back to me. Who does that?? Legends.",
    "{brand} crew handled a passenger who fainted on our flight calmly and kindly. Real respect.",
    "on time, clean plane, friendly crew. {brand} just quietly being good at its job",
    "Refund from {brand} landed in my account in 4 days. Didn't have to chase it once.",
    "Flew {route} with {brand} today. Window seat, clear skies, soft landing. No notes.",
    "The {brand} app is so much nicer than the big airlines' ones. Boarding pass in two taps.",
    "Travelling with my 80-year-old dad and the {brand} assistance team at {city} were wonderful from kerb to seat.",
    "Props to {brand} for letting my guitar in the cabin exactly like the website said they would.",
    "Thank you {brand} for holding the door five minutes for our late connection from {city}. You didn't have to.",
    "Bag drop at {city}: zero queue, two minutes, done. {brand} I could cry.",
    "Paid €{small_amount} for extra legroom at the gate and it was worth every cent. Nice one {brand}.",
    "{brand} chat support fixed the typo in my booking in about three minutes. Human, polite, fast.",
    "A {brand} flight attendant gave my nervous daughter a little wings badge and she hasn't stopped grinning. 🥹",
    "Early {route} with {brand}: calm crew, quiet cabin, landed as the sun came up. Perfect start to the week.",
    "Whoever does the {brand} safety demo voiceover deserves a raise. Whole cabin laughed.",
    "Five {brand} flights this year, five on-time arrivals. Not something I can say about anyone else.",
    "Nervous flyer here. The {brand} crew checked on me twice during the bumpy bit over {city}. Thank you.",
    "Missed my bus to the airport and {brand} moved me to the evening flight for free. Didn't expect that.",
]
PRAISE_DETAILS = [
    "funny, fast and kind", "they made the safety demo actually fun", "they found a blanket for everyone who was cold",
    "they handed out biscuits through the turbulence", "they knew the regulars by name",
    "they kept everyone calm during a long taxi",
]

# (topic, template); topics pick a matching answer from ANSWERS_X
QUESTIONS_X = [
    ("bags", "Does {brand} count a laptop bag as a personal item, or do I need to pay for it separately?"),
    ("checkin", "How early does online check-in open with {brand}? Is it 24 or 48 hours before?"),
    ("upgrade", "Anyone know if you can bid for a seat upgrade on {brand} after you've checked in?"),
    ("bags", "What's the checked bag allowance on {brand}, 20kg or 23kg? The website says both 🙃"),
    ("bags", "Can you take a folding pram to the gate for free on {brand}?"),
    ("checkin", "What time does bag drop close at {city} for {brand} flights? Flight's at {time}."),
    ("other", "Is priority boarding on {brand} worth it or does everyone just crowd the gate anyway?"),
    ("other", "Misspelled my surname on a {brand} booking. Can that be fixed for free or is it a new ticket?"),
    ("bags", "Flying {flight} next week with a guitar. Does {brand} let it in the cabin or does it need its own seat?"),
    ("upgrade", "Does {brand} sell seat upgrades at the airport or only in the app?"),
    ("other", "Is there wifi on {brand} flights to {city} or should I download everything first?"),
    ("other", "Do {brand} flights from {city} board by jet bridge or stairs? Asking for a wheelchair user."),
    ("bags", "Can I bring a small dog in the cabin on {brand}? What's the weight limit for dog plus carrier?"),
    ("checkin", "If I check in online with {brand}, do I still need to queue at the desk to show my passport?"),
    ("other", "How many days before departure does {brand} let you change a flight without a fee?"),
    ("upgrade", "Does {brand} have any lounge access at {city} if you upgrade, or is that a myth?"),
    ("bags", "Is the {brand} 8kg cabin limit for the bag only or bag plus coat plus duty free?"),
    ("upgrade", "Are {brand} seat upgrades refundable if the flight gets swapped to a smaller plane?"),
    ("bags", "Can you add a checked bag to a {brand} booking after check-in has opened?"),
    ("other", "How long does {brand} usually take to answer emails? Simple question about an infant ticket."),
    ("checkin", "Does {brand} let you pick a seat for free at check-in or is it random?"),
    ("checkin", "What's the cut-off for {brand} online check-in? Can I still do it 2 hours before?"),
    ("other", "Do {brand} frequent flyer points expire? Can't find it anywhere on the site."),
    ("bags", "Travelling with a CPAP machine on {brand}, does it count towards the cabin allowance?"),
    ("other", "Does {brand} do any hot food on the {route} route or is it snacks only?"),
    ("upgrade", "How much is the extra-legroom upgrade on {brand} usually? Worth it for a 2h flight?"),
    ("checkin", "Does {brand} check-in at {city} open 2 or 3 hours before departure?"),
]
ANSWERS_X = {
    "bags": [
        "{brand} counted my laptop bag as the personal item, no charge. They weighed the big one though.",
        "it's 8kg for the cabin bag on {brand}, they weighed mine at {city} last month",
        "23kg for checked on {brand} as far as I know, the 20kg thing is the old fare",
    ],
    "checkin": [
        "{brand} online check-in opens 24h before, you get an email when it does",
        "bag drop closes 40 min before on {brand}, don't cut it close at {city}",
        "you can do {brand} online check-in up to 2h before, did it from the taxi once",
    ],
    "upgrade": [
        "you can bid in the {brand} app up to 24h before, only charged if it's accepted",
        "{brand} desk at {city} sold me an upgrade at check-in, so yes at the airport too",
    ],
    "other": [
        "{brand} chat fixed a name typo for me for free, took a few minutes",
        "asked {brand} the same last year, they answered by email in about 3 days",
    ],
}
METOO_X = [
    "same thing happened to me last week with {brand}, took five days to sort",
    "exact same on my flight from {city}, nobody told us anything. {brand} needs to sort this",
    "you're not alone, {brand} owes me a refund too",
    "ugh, sorry. {brand} did the same to me in {city} in January",
    "this is why I stopped booking {brand} for anything important",
]

COMPLAINTS_X = {
    "delay": [
        "{flight} delayed again. {hours} hours at {city} and the board still just says 'delayed'. {brand} what is happening",
        "Three flights with {brand}, three delays. Starting to think the timetable is fiction.",
        "Sat on the plane at {city} for {mins} minutes with no announcement. {brand} a quick update costs nothing.",
        "{brand} moved my {time} flight to 'TBC'. TBC?? I have a meeting at noon.",
        "Delayed {hours}h on {route} and the meal voucher is €5. Five euro. At an airport. {brand}",
        "The {brand} app said on time until we were at the gate. Then: {hours} hour delay. Cheers.",
    ],
    "lost_luggage": [
        "{brand} lost my bag somewhere between {city} and {city2}. Nobody at the desk knows where it is.",
        "Landed in {city}, bag did not. {brand} says 'within 48 hours'. I'm only here for two days.",
        "Day {days} without my suitcase. The {brand} tracker just says 'in transit' like it's a philosophy.",
        "My bag has seen more cities this week than I have, thanks to {brand}.",
        "Queue at the {brand} lost baggage desk in {city} is longer than my flight was.",
    ],
    "refund": [
        "Still waiting on a {brand} refund for a flight THEY cancelled in January. {amount} is not a small amount for me.",
        "{brand} refund status: 'processing' for {weeks} weeks. Processing what exactly",
        "Applied for a refund with {brand} in early February. Nothing. Not even an automatic email.",
        "Asked {brand} for a refund and got a voucher I didn't ask for. I want my money, not credit.",
        "{brand} approved my refund a month ago. Approved. Not paid. Those are different words apparently.",
    ],
    "rude_staff": [
        "The {brand} agent at the {city} gate rolled her eyes at a mum travelling with twins. Not ok.",
        "Asked a {brand} staff member at {city} a simple question about my connection and got told to 'read the screen'. Lovely.",
        "Rudest check-in experience I've had in years. {brand} {city}, desk 4, you know who you are.",
        "Crew on {flight} snapped at an elderly man for asking for water twice. {brand} please train your people.",
        "{brand} ground staff at {city} laughed when I asked where my bag was. Genuinely laughed.",
    ],
    "cancelled": [
        "{brand} cancelled {flight} with a text at 5am. No rebooking offered, just a link that doesn't work.",
        "Flight cancelled and the next available {brand} seat is Friday. I need to be in {city} tomorrow.",
        "Cancelled at the gate after boarding was called. {brand} you could have told us an hour ago.",
        "Second cancellation this month on {route}. {brand} are you actually flying this route or not",
        "{brand} cancelled my flight and the 'rebook' button sends me to a page that says 'coming soon'.",
    ],
    "app_login": [
        "Can't log in to the {brand} app. Password reset email never arrives. Tried three times.",
        "{brand} app keeps saying my account doesn't exist. I have 14 flights in it!",
        "The {brand} app logs me out every single time I open my booking. Please fix it.",
        "Two-factor code from {brand} arrives twenty minutes after it expires. Every time.",
        "Updated the {brand} app and now it won't accept my password. Website says it's fine. Which is it.",
    ],
    "hold_time": [
        "{mins} minutes on hold with {brand} so far. The hold music is one song on loop.",
        "On hold with {brand} for an hour and ten minutes and then it hung up on me. Back to the start.",
        "{brand} helpline: 'your call is important to us' for the {nth} time. Is it though.",
        "Called {brand} at 9, still on hold at {hold_end}. I have watched the seasons change.",
        "The {brand} phone line now says the wait is '{mins}+ minutes'. At least it's honest.",
    ],
}
# Urgency tails per complaint topic (topics without an entry never get one).
_TRAVEL_URGENCY = [
    " Urgent: I have a medical appointment tomorrow morning.",
    " I'm going to miss my connection in {city2}.",
    " Now stranded in {city} tonight with two kids and no hotel.",
    " This is urgent, I start a new job tomorrow.",
    " I need to be home tonight for my daughter.",
]
URGENCY_TAILS = {
    "delay": _TRAVEL_URGENCY,
    "cancelled": _TRAVEL_URGENCY + [" Missed my connection because of this."],
    "lost_luggage": [" My medical supplies are in that bag. Urgent.",
                     " Urgent: my suit for tomorrow's wedding is in there.",
                     " I fly home tonight and still nothing."],
    "hold_time": [" It's about a medical assistance booking, this is urgent.",
                  " The flight is tonight and I still can't fix the name on it.",
                  " Urgent, I've been stranded at the airport since this morning."],
}
OPENERS = {
    "complaint": ["", "", "", "", "Unreal. ", "Not again. ", "Ugh. ", "Seriously? ", "Cool cool cool. ",
                  "PSA: ", "Great start to the week. "],
    "praise": ["", "", "", "", "Honestly? ", "Okay, credit where it's due: ", "Wholesome airport moment: "],
    "question": ["", "", "", "", "Quick question: ", "Travel people, help: ", "Hi all, "],
    "outage": ["", "", "", "Uh oh. ", "Great. ", "Help?? ", "So... "],
}
CLOSERS = {
    "complaint": ["", "", "", "", " 🙄", " Do better.", " Never again.", " 😤", " #travel",
                  " Absolute joke."],
    "praise": ["", "", "", " ✈️", " 👏", " 💛", " #travel", " More of this please."],
    "question": ["", "", "", " Thanks in advance!", " 🙏", " Anyone?", " #travel"],
    "outage": ["", "", "", " 😩", " 🙃", " #outage", " anyone??", " 🫠"],
}

OUTAGE_X = [
    "{brand} app won't load. Just a white screen and the little bird logo spinning.",
    "can't check in online with {brand}, it times out at the passport step every time",
    "Is the {brand} website down? Getting error 503 on kestrelair.com",
    "error 503 on kestrelair.com and my flight is at {time}. cool. {brand}",
    "Stuck at the airport kiosk in {city}. Every {brand} kiosk says 'service unavailable'.",
    "{brand} app down, website down, queue at the desk out the door. Brilliant.",
    "Anyone else getting 'Something went wrong' on the {brand} app? Boarding pass won't load.",
    "The {brand} app logged me out and now won't let me back in. My boarding pass is IN there.",
    "website down, app down, phone line says 45 min wait. {brand} what is going on",
    "Flight leaves in {mins} minutes and I can't get my boarding pass. {brand} app completely dead.",
    "{brand} website down for anyone else? Tried three browsers and my phone.",
    "kestrelair.com just returns 'Service Unavailable'. Can't check in, can't add a bag, can't do anything. {brand}",
    "Queue for manual check-in at {city} is about 80 people long because the {brand} kiosks are down.",
    "The {brand} app crashed mid-payment. Was I charged? Who knows! Website's down too.",
    "Staff at {city} telling everyone the {brand} system is down 'everywhere'. Hope the planes still work 😬",
    "Screenshot your boarding passes people, the {brand} app is down.",
    "{brand} check-in closes in {mins} min and the website is throwing 503s. Please tell me there's no desk fee.",
    "Can't check in online, can't get through on the phone. {brand} are you ok?",
    "Is {brand} down or is it my wifi? App just spins.",
    "Afternoon gone refreshing kestrelair.com. Still 503. {brand}",
    "At {city} airport, the kiosk froze with my passport half scanned. Now all the {brand} kiosks are black screens.",
    "tried to check in for tomorrow's {flight}, the {brand} app won't load. guess I'll try later",
    "Love that the {brand} status page is down as well. Very on brand.",
    "Family of five stuck at the {brand} kiosk at {city}. Nothing works. Flight at {time}.",
    "Website: 503. App: spinning bird. Phone line: hold music. {brand}, what happened today? 😩",
    "The {brand} outage is real, half my timeline is people stuck at check-in.",
    "Missed my flight because I couldn't check in online and the desk queue was 40 minutes. {brand} who pays for this?",
    "{brand} app won't open, website says 503. Flying to a funeral tonight. Please fix this.",
    "Trying to check in my mum for her first solo flight and the {brand} site is down. Stressful.",
    "error 503 on kestrelair.com. error 503 on kestrelair.com. error 503 on kestrelair.com. {brand}",
    "Kiosk at {city} says 'contact Kestrel Air staff'. Kestrel Air staff say 'use the kiosk'. Love it.",
    "Tried to add my bag in the {brand} app before the flight: 'Error 503 Service Unavailable'.",
]
OUTAGE_URGENCY_TAILS = [
    " Flight in an hour, this is urgent.",
    " Stranded at the kiosk with a connection to make.",
    " If I miss my connection I'm stuck overnight.",
    " Boarding closes soon, urgent!!",
]

# Reddit comment pools (multi-sentence, a bit longer than tweets)
REDDIT_COMMENTS = {
    "praise": [
        "Flew {brand} {route} last month and it was genuinely fine. On time, friendly crew, bag came out quickly. I'd book again.",
        "I've done maybe a dozen {brand} flights and only one was late by more than half an hour. For the price I can't complain.",
        "The crew are the best thing about {brand}. On my last flight one of them spent ten minutes calming down a kid who was terrified of takeoff.",
        "{brand} customer service sorted my name change in one email. Took a day. Better than some much bigger airlines.",
        "+1 for {brand}. The planes are small but clean, and the seat pitch beats the other cheap options out of {city}.",
        "Had a fainting spell mid-flight once (I'm fine) and the {brand} crew were amazing. Water, oxygen, checked on me the whole way.",
        "Their app is honestly decent when it works. Boarding pass to wallet in one tap.",
        "Got moved to the front row for free on a quiet {brand} flight. Small things, but they add up.",
        "I was skeptical but {brand} was great. The pilot even came out to chat at {city} while we waited for the steps.",
        "Bag drop at {city} took two minutes. Smoothest airport experience I've had in ages, partly down to {brand}.",
        "Honestly the {brand} crew on the {route} run are lovely. Same two attendants every Friday and they remember everyone.",
    ],
    "question": [
        "Related question: does {brand} let you bring a small backpack on top of the 8kg bag?",
        "Does this apply to {route} too or just the longer routes?",
        "How strict are they about the check-in cutoff at {city}? My train gets in 50 minutes before departure.",
        "Anyone know if the upgrade bid is charged straight away or only if you win?",
        "Is it worth paying for seats on {brand} or do they usually keep couples together anyway?",
        "Did you have to print anything or was the app boarding pass enough at {city}?",
        "Do they weigh cabin bags at the gate or only at bag drop?",
        "What's the policy for checking a bike? Looking at {brand} for a cycling trip to {city}.",
        "Does {brand} have any kind of loyalty scheme worth signing up for?",
        "Can you change just the return leg, or does {brand} make you change the whole booking?",
        "How early do you need to be at {city} for a {brand} flight? Is two hours overkill?",
    ],
    "complaint": [
        "My experience was the opposite. {brand} delayed us {hours} hours at {city} and the only update came from the pilot, not the ground staff.",
        "Still waiting on a refund from {brand} for a flight they cancelled in January. Filed every form they asked for.",
        "The helpline is the worst part. I've spent more time on hold with {brand} than actually flying with them.",
        "Their app wouldn't let me log in for a week. Had to do everything at the desk and pay the desk fee, which they then refused to refund.",
        "Lost bag with {brand} last summer. Eleven days to come back and the compensation form was a nightmare.",
        "Staff at {city} were honestly rude to us. Told my partner to 'hurry up' while she was lifting our toddler out of the buggy.",
        "Got cancelled twice on the same route in one month. Switched to the train for {route} after that.",
        "The bag rules are enforced really unevenly. Paid €45 at the gate in {city} while half the queue walked on with bigger bags.",
        "They rebooked me onto a flight two days later and called it 'the next available option'. There were other flights, with other airlines.",
        "Tried for three days to get {brand} to confirm my wheelchair assistance booking. Nobody ever replied.",
        "Cancelled the night before with no explanation and the refund took {weeks} weeks. Never again with {brand}.",
    ],
    "info": [
        "It's 24 hours before departure for online check-in. The desk opens 2 hours before at most airports.",
        "Cabin allowance is one bag up to 8kg plus a small personal item under the seat. They do weigh at {city} sometimes.",
        "The upgrade bid is only charged if it's accepted. You get an email about 24h before departure either way.",
        "You can add a checked bag up until 2 hours before departure in the app. It's cheaper online than at the desk.",
        "They board by stairs at {city} as far as I remember, but assistance staff bring an ambulift if you book it ahead.",
        "Their conditions of carriage are on the website under Help > Travel info. The baggage section is fairly clear.",
        "For delays over 3 hours the compensation claim is a separate form from the normal refund form. Worth doing both.",
        "Pets: small dogs and cats up to 8kg including the carrier, max two per flight, and you have to phone to add them.",
        "Name corrections of up to 3 letters are free if you do it through chat. I did that last year.",
        "Technically the 8kg includes what's in your coat pockets, but I've never seen anyone stopped for a coat.",
    ],
}
REDDIT_PREFIXES = {
    "praise": ["", "", "", "Counterpoint: ", "Honestly, ", "Weirdly, "],
    "question": ["", "", "", "Sorry to hijack, ", "Slightly off topic but ", "Follow-up: "],
    "complaint": ["", "", "", "Same here. ", "Can confirm. ", "Not surprised. ", "Oof. "],
    "info": ["", "", "", "From memory: ", "Last I checked, ", "FWIW "],
}
REDDIT_SUFFIXES = ["", "", "", "", "", "", "\n\nEdit: typo", "\n\nEdit: thanks for the replies, everyone."]

# Hand-written Reddit threads; comment categories are drawn from `mix`.
REDDIT_THREADS = [
    {"sub": "travel", "at": "09:20", "category": "question", "comments": 9,
     "mix": {"praise": 4, "complaint": 3, "info": 2, "question": 1},
     "title": "Anyone flown Kestrel Air recently? Thinking Bristol to Porto in April",
     "body": "Kestrel Air is about €60 cheaper than the alternatives for the dates we want. Is there a catch? "
             "Mostly worried about delays and the bag rules, we're travelling with a toddler."},
    {"sub": "travel", "at": "06:50", "category": "question", "comments": 8,
     "mix": {"info": 4, "question": 2, "complaint": 1, "praise": 1},
     "title": "Kestrel Air cabin bags: is the 8kg limit actually enforced?",
     "body": "Flying Kestrel Air Dublin to Faro on Friday with only a cabin bag. Mine is 8.6kg packed. "
             "Do they actually weigh them at the gate or only at bag drop?"},
    {"sub": "travel", "at": "12:10", "category": "complaint", "comments": 7,
     "mix": {"complaint": 4, "info": 2, "praise": 1},
     "title": "Kestrel Air lost my bag in Dublin, here's what finally worked",
     "body": "Long story short: four days, two phone calls that went nowhere, and one very polite but firm email to "
             "the baggage team with my file reference in the subject line. The email is what worked.\n\n"
             "Posting in case it helps someone. Still annoyed that it took four days for a direct flight."},
    {"sub": "travel", "at": "17:40", "category": "praise", "comments": 8,
     "mix": {"praise": 5, "complaint": 2, "question": 1},
     "title": "Pleasantly surprised by Kestrel Air (small airline appreciation post)",
     "body": "Did Cork to Bordeaux and back with Kestrel Air. Both flights early, crew friendly, nobody fighting over "
             "overhead bins because they actually enforce the one-bag rule. Not sponsored, just happy."},
    {"sub": "travel", "at": "21:15", "category": "question", "comments": 5,
     "mix": {"info": 2, "praise": 2, "question": 1},
     "title": "Kestrel Air or the train for Edinburgh to Inverness?",
     "body": "Kestrel Air has a 45 minute flight, the train is 3.5 hours. With security etc. is flying actually faster? "
             "Never flown with them."},
    {"sub": "travel", "at": "15:50", "category": "question", "comments": 5,
     "mix": {"info": 2, "praise": 2, "question": 1},
     "title": "Infant + car seat on Kestrel Air, anyone done it?",
     "body": "Do they let you bring the car seat on board if you've bought a seat for the baby? "
             "Their FAQ doesn't mention it and the chat has a 40 minute queue."},
    {"sub": "KestrelAir", "at": "10:50", "category": "question", "comments": 6,
     "mix": {"info": 3, "question": 2, "praise": 1},
     "title": "How does the seat upgrade bidding work?",
     "body": "Got an email offering to 'bid' for extra legroom on my flight next week. Minimum bid €15. "
             "Is it charged straight away? Has anyone actually won one?"},
    {"sub": "KestrelAir", "at": "11:30", "category": "praise", "comments": 6,
     "mix": {"praise": 4, "complaint": 1, "question": 1},
     "title": "Crew on KA 118 this morning were brilliant",
     "body": "Elderly passenger next to me got really anxious during the descent and the crew were so gentle with her. "
             "Just wanted to say it somewhere they might see it."},
    {"sub": "KestrelAir", "at": "07:35", "category": "complaint", "comments": 7,
     "mix": {"complaint": 4, "info": 2, "question": 1},
     "title": "Turned away at bag drop 38 minutes before departure",
     "body": "Bag drop at Bristol closed 40 minutes before departure and I got there at 38. Two minutes. "
             "They made me buy a new ticket for the afternoon flight. Is this normal for Kestrel Air?"},
    {"sub": "KestrelAir", "at": "16:20", "category": "complaint", "comments": 6,
     "mix": {"complaint": 4, "info": 1, "question": 1},
     "title": "Hold times on the helpline today are unreal",
     "body": "Been on hold 70 minutes trying to change a name on a booking. Chat is 'unavailable'. "
             "Is there an email address that actually gets answered?"},
    {"sub": "KestrelAir", "at": "20:10", "category": "question", "comments": 5,
     "mix": {"info": 3, "question": 1, "praise": 1},
     "title": "Check-in now opens 30h before?",
     "body": "Could swear online check-in used to open 24 hours before departure but my flight Thursday opened earlier. "
             "Did they change it?"},
    {"sub": "KestrelAir", "at": "12:55", "category": "praise", "comments": 7,
     "mix": {"praise": 5, "complaint": 1, "question": 1},
     "title": "Praise thread: best Kestrel Air crew moment you've had?",
     "body": "This sub gets a lot of (deserved) complaints, so let's balance it. "
             "Mine: a pilot who walked down the aisle handing out stickers on a very delayed Santander flight."},
]

# --------------------------------------------------------------------------
# Hand-written scenes
# --------------------------------------------------------------------------

BRAND_PROMO = ("08:00", "Good morning from Bristol ☀️ Our new Bristol–Bilbao route takes off on 14 May, "
                        "fares from €39 one way at kestrelair.com.")
PROMO_REPLIES = [
    ("08:07", "praise", "@KestrelAir Finally! Been waiting years for Bristol–Bilbao. Booked for May already."),
    ("08:19", "question", "@KestrelAir Is the Bilbao route daily or just at weekends?"),
    ("08:41", "praise", "@KestrelAir Love it. The crew on my Porto flight last week were brilliant too."),
    ("09:02", "question", "@KestrelAir does the €39 fare include a cabin bag or is that extra?"),
]
PROMO_QUOTE = ("08:26", "New routes are lovely, but how about paying the refunds you already owe? @KestrelAir")

OUTAGE_ACK = ("14:22", "We're aware some customers can't use our app or kestrelair.com right now, and airport kiosks "
                       "are affected. Our team is working on it. Airport desks are checking customers in by hand, "
                       "with no fee. Updates here.")
OUTAGE_RESOLVED = ("15:34", "Our app, website and kiosks are working again. Sorry for the disruption this afternoon. "
                            "If you missed a flight because of it, send us a DM and we'll rebook you free of charge.")
OUTAGE_ACK_REPLIES = [
    ("14:31", "@KestrelAirHelp thanks but the desk queue at Porto is enormous, can you send more staff?"),
    ("14:58", "@KestrelAirHelp it's been half an hour since this and still nothing. Flight at 15:50 from Bristol."),
    ("15:12", "@KestrelAirHelp will you refund the bag fee I paid twice because the app crashed mid-payment?"),
]

# Repeat complainers on X: the same author follows up on their own post.
REPEAT_X = [
    {"author": {"id": "1502277310954188801", "handle": "marisol_travels", "name": "Marisol Quintero",
                "followers": 612, "verified": False},
     "topic": "lost_luggage",
     "posts": [
         ("07:42", "Kestrel Air lost my suitcase on the Porto–Dublin flight on Sunday. File ref DUBKA40218. "
                   "Has anyone had luck getting bags back quickly? #kestrelair"),
         ("10:05", "Update: still no bag. The tracker says 'located'. Located WHERE. Kestrel Air please."),
         ("13:20", "Called twice, emailed once, sent the DM they asked for. Still no answer from Kestrel Air. "
                   "Wearing a borrowed jumper to a work conference."),
         ("17:55", "Day 3 of waiting for my suitcase. Kestrel Air, my medication is in that bag. "
                   "This is getting serious."),
         ("21:40", "That's it. Three days, zero answers, one borrowed jumper. I'm switching airlines. "
                   "Kestrel Air can keep the bag at this point. 😡"),
     ]},
    {"author": {"id": "88120455", "handle": "danny_okf", "name": "Danny O.",
                "followers": 1287, "verified": False},
     "topic": "refund",
     "posts": [
         ("09:10", "Hi Kestrel Air, the refund for my cancelled flight (KA 377, 14 Feb) still hasn't arrived. "
                   "That's 24 days. Any update?"),
         ("12:40", "Still no answer. The refund page just says 'processing'. Kestrel Air, is anyone reading these?"),
         ("16:15", "Day 3 of waiting since their email promised an update 'within 48 hours'. "
                   "48 hours came and went. #kestrelair"),
         ("20:05", "Not asking again. I'm switching airlines and filing with the consumer authority tomorrow. "
                   "Kestrel Air: €212, 24 days, zero replies."),
     ]},
    {"author": {"id": "1611904382276345856", "handle": "priyanka_roams", "name": "Priyanka R.",
                "followers": 3404, "verified": False},
     "topic": "cancelled",
     "posts": [
         ("05:55", "Kestrel Air cancelled my 06:40 from Edinburgh and rebooked me onto tomorrow. "
                   "I have a connection in Dublin this afternoon. Urgent, please help."),
         ("06:48", "Missed my connection now, obviously. Still no answer from Kestrel Air on chat or phone. "
                   "Stranded in Edinburgh."),
         ("08:30", "The queue at the Kestrel Air desk in Edinburgh hasn't moved in an hour. Still no answer. "
                   "I need to get home tonight, my mum has a medical procedure tomorrow."),
         ("11:15", "Booked a train and a ferry myself. £240. I'm switching airlines after this. "
                   "Kestrel Air, expect a claim."),
     ]},
]
# The help account answers the first complainer once (a side branch of her thread).
BRAND_HELP_REPLY = ("10:31", "@marisol_travels We're really sorry your bag is delayed. Please DM us your file "
                             "reference and we'll chase the Dublin baggage team for you today. ^Niamh")

# Repeat complainer on Reddit: submission + self-replies in the same thread.
REPEAT_REDDIT = {
    "author": {"id": "t2_5m1xq8rb", "handle": "SoggyBootsTraveler", "name": None,
               "followers": 14, "verified": False},
    "sub": "KestrelAir", "at": "08:35",
    "title": "Refund for cancelled KA 214, six weeks and counting",
    "body": "Kestrel Air cancelled KA 214 (Bristol to Porto) on 27 January. I applied for a refund the same day. "
            "Six weeks later: no money, no email, and the form just says 'processing'.\n\n"
            "Has anyone actually received a refund recently? How long did it take?",
    "others": 5,
    "mix": {"complaint": 3, "info": 2},
    "follow_ups": [
        ("11:50", "Update: called the helpline. 52 minutes on hold, then cut off. Still no answer."),
        ("16:45", "Update 2: got through. They say the refund is 'approved' but can't say when it will be paid. "
                  "Day 3 of waiting for the callback they promised on Saturday."),
        ("22:10", "Final update for today: nobody called. I'm switching airlines. Leaving this here so anyone "
                  "booking knows what happens when they cancel on you."),
    ],
}

JOURNALIST_POST = ("11:12", "Three hours ten minutes on the tarmac in Porto with Kestrel Air. No water after the first "
                            "hour, no announcements after the second. Small airlines can be charming. This was not. "
                            "More in Sunday's column.")
JOURNALIST_REPLIES = [
    ("11:20", "complaint", "@odile_brannigan Same thing happened to me on Kestrel Air in Faro last year. "
                           "Three hours, one cup of water."),
    ("11:34", "complaint", "@odile_brannigan please put the refund backlog in the column too, Kestrel Air has "
                           "owed me since January"),
    ("12:02", "info", "@odile_brannigan oof. Kestrel Air is usually decent on that route, hope it was a one-off 😬"),
]
MIDSIZE_POSTS = [
    ("06:20", "Kestrel Air cancelled our 07:10 to Edinburgh with a 4am text. Recording this week's episode from "
              "the departure lounge instead, I suppose. #kestrelair"),
    ("12:55", "Kestrel Air's refund form has been 'temporarily unavailable' for nine days. At some point that's "
              "not a glitch, it's a policy."),
]

# (time, lang, category, (handle, display name), text); X only
NON_ENGLISH = [
    ("10:40", "es", "complaint", ("lucia_herrero", "Lucía Herrero"), "Tres horas de retraso en Oporto con Kestrel Air y nadie nos explica nada. Una vergüenza."),
    ("18:20", "es", "question", ("javi_viaja", "Javi 🌍"), "¿Alguien sabe cuántos kilos se pueden llevar en cabina con Kestrel Air? En la web no lo encuentro."),
    ("09:45", "fr", "praise", ("camille_lbt", "Camille L."), "Vol Kestrel Air Nantes–Dublin parfait : à l'heure, équipage adorable. Je recommande !"),
    ("14:35", "fr", "outage", ("thomas_gv", "Thomas Giraud"), "Impossible de m'enregistrer sur le site de Kestrel Air, erreur 503. Mon vol part dans deux heures… #kestrelair"),
    ("19:30", "de", "complaint", ("lena_unterwegs", "Lena Brandt"), "Mein Koffer ist seit zwei Tagen verschwunden und Kestrel Air antwortet einfach nicht. #kestrelair"),
    ("14:18", "ja", "outage", ("haruka_trip", "はるか"), "ケストレル航空のアプリが全然開かない。搭乗券が出せない。最悪。"),
    ("03:10", "ja", "praise", ("kenta_sora", "けんた✈️"), "Kestrel Airのリスボン便、客室乗務員さんがとても親切でした。また乗りたいです✈️"),
    ("04:25", "ja", "question", ("mio_travel88", "みお"), "#KestrelAir 預け荷物って何キロまで無料ですか？"),
]

# Texts that exercise HTML escaping, quoting, emoji and URLs.
HOSTILE_X = [
    ("16:48", 'Kestrel Air "customer care" <script>alert(1)</script> 😡✈️ 3 hrs & counting on hold. '
              'Receipts: https://t.co/q8ZrT2kLwA'),
    ("19:52", 'So @KestrelAirHelp says "we value your feedback" & then hangs up?? <b>Bold</b> move 😡✈️ '
              'https://kestrelair.com/help?topic=refunds&lang=en'),
]
HOSTILE_REDDIT = {
    "sub": "travel", "at": "19:05", "comments": 4, "mix": {"complaint": 3, "info": 1},
    "title": "Kestrel Air's \"refund\" page: <script>alert(1)</script> & other mysteries",
    "body": "Went to https://www.kestrelair.com/refunds?step=3&status=pending and the page literally printed "
            "\"undefined\" & a spinner 😡✈️\n\nIs this a \"feature\"? Has anyone's refund actually gone through "
            "this month? <i>asking for me</i>",
}

# Mentions of an unrelated "kestrel" - exclusion keywords must drop these.
UNRELATED_X = [
    ("07:15", "A kestrel hovering over the field behind the old air base this morning, dead still in the wind. "
              "Best bird there is. 🐦"),
    ("16:05", "Finally mounted the Kestrel 4-16x50 scope on my rifle. Glass is clear, turrets click nicely. "
              "Range day Saturday."),
]

OUTAGE_REDDIT = {
    "sub": "KestrelAir", "at": "14:06",
    "title": "Is the app down for everyone?",
    "body": "App is stuck on the loading screen and kestrelair.com gives me 'Error 503 Service Unavailable'. "
            "Tried reinstalling. Is it just me? I need to check in for tonight's flight.",
    # (time, text, reply_to) reply_to: None = submission, "brand" = the brand's comment
    "comments": [
        ("14:09", "Same here, app just shows the loading bird. Website gives a 503.", None),
        ("14:14", "Down for me too. I'm at the airport and the kiosks are dead as well, queue for the desk is huge.", None),
        ("14:19", "Yep. Tried on wifi and on mobile data, nothing. Flight at 16:10, praying.", None),
        ("14:27", "Can't check in online either. Anyone know if they'll charge the airport check-in fee for this?", None),
        ("14:44", "u/KestrelAir_Team any ETA? Trying to check in for a 17:00 departure and I don't want to lose my seat.", "brand"),
        ("14:52", "Status page is also down lol. Stuck at the kiosk in Cork with everyone else.", None),
        ("15:27", "It's back for me as of a minute ago! Got my boarding pass.", None),
    ],
    "brand_comment": ("14:38", "Hi all, Kestrel Air team here. We know the app, website and airport kiosks are "
                               "down and our engineers are on it. Airport desks are checking people in by hand and "
                               "there's no fee for that today. We'll update this thread."),
}

HOUR_WEIGHTS = [0.6, 0.45, 0.35, 0.35, 0.4, 0.8, 1.8, 2.6, 2.8, 2.6, 2.4, 2.3,
                2.3, 2.2, 2.2, 2.3, 2.5, 2.6, 2.6, 2.4, 2.1, 1.7, 1.2, 0.6]

OUTPUT_KEYS = ["platform", "id", "created_at", "author", "text", "lang", "conversation_id",
               "in_reply_to_id", "quoted_id", "url", "subreddit", "title"]
AUTHOR_KEYS = ["id", "handle", "name", "followers", "verified"]
# Reddit has no followers: a submission's listing gives its subreddit's members
# (``subreddit_subscribers``), its comments' listing does not.
SUBREDDIT_MEMBERS = {"travel": 11_400_000, "KestrelAir": 3_870}


# --------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------

@dataclass(eq=False)
class Post:
    platform: str
    ms: int                      # milliseconds since 2026-03-10T00:00:00Z
    author: dict
    text: str
    category: str                # praise/question/complaint/outage/info/brand_own/unrelated
    lang: str | None = "en"
    parent: Post | None = None
    quoted: Post | None = None
    subreddit: str | None = None
    title: str | None = None
    tags: set = field(default_factory=set)
    id: str | None = None

    @property
    def root(self) -> Post:
        return self.parent.root if self.parent else self


def hm(clock: str) -> int:
    """'HH:MM' -> ms since midnight."""
    h, m = clock.split(":")
    return (int(h) * 60 + int(m)) * 60_000


def to_base36(n: int) -> str:
    digits = string.digits + string.ascii_lowercase
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


def slugify(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:50].rstrip("_")


def join_lead(lead: str, core: str) -> str:
    """Join an opener and a sentence; after "Hi all, " the sentence continues in lower case."""
    first = core.split(" ", 1)[0]
    if lead.endswith(", ") and first[:1].isupper() and first[1:2].islower() and first not in ("I", "I'm", "I've"):
        core = core[0].lower() + core[1:]
    return lead + core


def iso(ms: int) -> str:
    return (DAY + timedelta(milliseconds=ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------
# Builder
# --------------------------------------------------------------------------

class Builder:
    def __init__(self, seed: int = SEED):
        self.rng = random.Random(seed)
        self.posts: list[Post] = []
        self.used_texts: set[str] = set()
        self.taken_handles: set[str] = {a["handle"].lower() for a in
                                        (BRAND_X, BRAND_X_HELP, BRAND_REDDIT, JOURNALIST, *MIDSIZE)}
        self.general_x: list[dict] = []
        self.general_reddit: list[dict] = []
        self.template_uses: Counter = Counter()

    # ---- small random helpers ------------------------------------------
    def weighted(self, pairs):
        values, weights = zip(*pairs)
        return self.rng.choices(values, weights=weights)[0]

    def pick(self, pool: list):
        """Random choice among the least-used items of a pool, so templates rotate."""
        fewest = min(self.template_uses[id(x), x] for x in pool)
        item = self.rng.choice([x for x in pool if self.template_uses[id(x), x] == fewest])
        self.template_uses[id(item), item] += 1
        return item

    def at(self, clock: str) -> int:
        """A random moment inside the given minute."""
        return hm(clock) + self.rng.randrange(60_000)

    def general_ms(self) -> int:
        hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return hour * 3_600_000 + self.rng.randrange(3_600_000)

    def outage_ms(self) -> int:
        start, end = (hm(c) for c in OUTAGE_WINDOW)
        return int(self.rng.triangular(start + 60_000, end - 60_000, hm("14:20")))

    def later(self, ms: int, mean_minutes: float, min_s: int = 40) -> int:
        """A time after `ms`, still inside the day."""
        for _ in range(50):
            t = ms + min_s * 1000 + int(self.rng.expovariate(1 / (mean_minutes * 60_000)))
            if t < DAY_MS - 1000:
                return t
        return ms + (DAY_MS - 1000 - ms) // 2

    # ---- text ------------------------------------------------------------
    def slot(self, name: str, ctx: dict, platform: str) -> str:
        r = self.rng
        if name == "brand":
            return self.weighted(BRAND_FORMS[platform])
        if name in ("city", "city2"):
            return r.choice([c for c in CITIES if c not in ctx.values()])
        if name == "route":
            a, b = r.sample(CITIES, 2)
            return f"{a}–{b}"
        if name == "flight":
            return r.choice(["KA {}", "KA{}"]).format(r.randint(101, 899))
        simple = {
            "hours": lambda: str(r.randint(2, 6)),
            "mins": lambda: str(r.choice(range(25, 100, 5))),
            "mins_early": lambda: str(r.randint(10, 35)),
            "days": lambda: str(r.randint(2, 5)),
            "weeks": lambda: str(r.randint(3, 9)),
            "amount": lambda: "€" + str(r.choice([96, 148, 179, 212, 265, 340, 412])),
            "small_amount": lambda: str(r.randint(12, 25)),
            "time": lambda: f"{r.randint(6, 21):02d}:{r.choice([0, 5, 15, 20, 35, 40, 50, 55]):02d}",
            "hold_end": lambda: r.choice(["10:25", "10:40", "11:05", "11:30"]),
            "nth": lambda: r.choice(["9th", "14th", "20th", "31st"]),
            "staff": lambda: r.choice(STAFF),
            "praise_detail": lambda: r.choice(PRAISE_DETAILS),
        }
        return simple[name]()

    def fill(self, template: str, platform: str = "x") -> str:
        ctx: dict[str, str] = {}

        def repl(m):
            name = m.group(1)
            if name not in ctx:
                ctx[name] = self.slot(name, ctx, platform)
            return ctx[name]

        return re.sub(r"\{(\w+)\}", repl, template)

    def unique(self, make) -> str:
        """Call make() until it returns a text not used yet."""
        for _ in range(300):
            text = make()
            if text not in self.used_texts:
                self.used_texts.add(text)
                return text
        raise RuntimeError("phrase pool exhausted; add more templates")

    def compose_x(self, category: str, core: str, tail: str = "", address: bool = False) -> str:
        """opener + core + tail + closer, slots filled; optionally @-addressed to the brand."""
        r = self.rng
        if address:
            lead = r.choice(["@KestrelAirHelp ", "@KestrelAir "])
        else:
            lead = r.choice(OPENERS[category])
        if tail and core[-1] not in ".!?…":
            core += "."
        text = self.fill(join_lead(lead, core) + tail + r.choice(CLOSERS[category]), "x")
        if "#kestrelair" not in text.lower() and r.random() < 0.12:
            text += " #kestrelair"
        if r.random() < LOWERCASE_P:
            text = text.lower()
        return text

    # ---- authors ---------------------------------------------------------
    def new_x_author(self) -> dict:
        r = self.rng
        while True:
            f, l = r.choice(FIRST_NAMES), r.choice(LAST_NAMES)
            handle = r.choice(X_HANDLE_PATTERNS).format(
                f=f.lower(), l=l.lower(), l1=l[0].lower(), n2=r.randint(10, 99)).replace(".", "_")
            if len(handle) <= 15 and handle.lower() not in self.taken_handles:
                break
        self.taken_handles.add(handle.lower())
        name = r.choice(X_NAME_PATTERNS).format(F=f, L=l, L1=l[0], f=f.lower(), l=l.lower(),
                                                city=r.choice(CITIES))
        if r.random() < 0.55:   # pre-2022 account: short numeric id
            uid = str(r.randint(10_000_000, 4_999_999_999))
        else:                   # newer account: snowflake-sized id
            uid = str(r.randint(1_450_000_000_000_000_000, 1_890_000_000_000_000_000))
        followers = min(9500, int(math.exp(r.gauss(5.0, 1.5))))
        return {"id": uid, "handle": handle, "name": name, "followers": followers,
                "verified": r.random() < 0.03}

    def new_reddit_author(self) -> dict:
        r = self.rng
        while True:
            a, n = r.choice(REDDIT_ADJ), r.choice(REDDIT_NOUN)
            handle = r.choice(REDDIT_NAME_PATTERNS).format(
                A=a, N=n, a=a.lower(), n=n.lower(), n2=r.randint(10, 99), n4=r.randint(1000, 9999))
            if handle.lower() not in self.taken_handles:
                break
        self.taken_handles.add(handle.lower())
        uid = "t2_" + "".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(8))
        return {"id": uid, "handle": handle, "name": None,
                "followers": min(400, int(math.exp(r.gauss(1.5, 1.3)))), "verified": False}

    def x_author(self, reuse_p: float = 0.12) -> dict:
        if self.general_x and self.rng.random() < reuse_p:
            return self.rng.choice(self.general_x)
        a = self.new_x_author()
        self.general_x.append(a)
        return a

    def reddit_author(self, reuse_p: float = 0.15, avoid: dict | None = None) -> dict:
        if self.general_reddit and self.rng.random() < reuse_p:
            a = self.rng.choice(self.general_reddit)
            if a is not avoid:
                return a
        a = self.new_reddit_author()
        self.general_reddit.append(a)
        return a

    # ---- post constructors ----------------------------------------------
    def add(self, post: Post) -> Post:
        self.used_texts.add(post.text)
        self.posts.append(post)
        return post

    def x(self, author, ms, text, category, lang="en", parent=None, quoted=None, tags=()):
        return self.add(Post("x", ms, author, text, category, lang, parent, quoted, tags=set(tags)))

    def reddit(self, author, ms, text, category, sub, parent=None, title=None, tags=()):
        return self.add(Post("reddit", ms, author, text, category, None, parent,
                             subreddit=sub, title=title, tags=set(tags)))

    # ---- scenes ----------------------------------------------------------
    def brand_promo(self):
        promo = self.x(BRAND_X, self.at(BRAND_PROMO[0]), BRAND_PROMO[1], "brand_own")
        for clock, cat, text in PROMO_REPLIES:
            self.x(self.x_author(0), self.at(clock), text, cat, parent=promo)
        self.x(self.x_author(0), self.at(PROMO_QUOTE[0]), PROMO_QUOTE[1], "complaint", quoted=promo)

    def repeat_complainers(self):
        for i, scene in enumerate(REPEAT_X):
            prev = None
            chain = []
            for clock, text in scene["posts"]:
                prev = self.x(scene["author"], self.at(clock), text, "complaint", parent=prev,
                              tags={"repeat", scene["topic"]})
                chain.append(prev)
            if i == 0:
                self.x(BRAND_X_HELP, self.at(BRAND_HELP_REPLY[0]), BRAND_HELP_REPLY[1], "brand_own",
                       parent=chain[1])
        s = REPEAT_REDDIT
        sub = self.reddit(s["author"], self.at(s["at"]), s["body"], "complaint", s["sub"],
                          title=s["title"], tags={"repeat", "refund"})
        self.thread_comments(sub, s["others"], s["mix"])
        prev = sub
        for clock, text in s["follow_ups"]:
            prev = self.reddit(s["author"], self.at(clock), text, "complaint", s["sub"], parent=prev,
                               tags={"repeat", "refund"})

    def influencers(self):
        post = self.x(JOURNALIST, self.at(JOURNALIST_POST[0]), JOURNALIST_POST[1], "complaint",
                      tags={"influencer", "delay"})
        for clock, cat, text in JOURNALIST_REPLIES:
            self.x(self.x_author(0.05), self.at(clock), text, cat, parent=post)
        for author, (clock, text) in zip(MIDSIZE, MIDSIZE_POSTS):
            self.x(author, self.at(clock), text, "complaint", tags={"midsize"})

    def outage(self):
        for _ in range(X_OUTAGE_FROM_POOL):
            def make():
                tail = self.rng.choice(OUTAGE_URGENCY_TAILS) if self.rng.random() < 0.12 else ""
                return self.compose_x("outage", self.pick(OUTAGE_X), tail)
            self.x(self.x_author(0.05), self.outage_ms(), self.unique(make), "outage")
        ack = self.x(BRAND_X_HELP, self.at(OUTAGE_ACK[0]), OUTAGE_ACK[1], "brand_own")
        for clock, text in OUTAGE_ACK_REPLIES:
            self.x(self.x_author(0.3), self.at(clock), text, "outage", parent=ack)
        self.x(BRAND_X_HELP, self.at(OUTAGE_RESOLVED[0]), OUTAGE_RESOLVED[1], "brand_own", parent=ack)

        s = OUTAGE_REDDIT
        op = self.reddit(self.reddit_author(0), self.at(s["at"]), s["body"], "outage", s["sub"],
                         title=s["title"])
        brand = self.reddit(BRAND_REDDIT, self.at(s["brand_comment"][0]), s["brand_comment"][1],
                            "brand_own", s["sub"], parent=op)
        for clock, text, reply_to in s["comments"]:
            parent = brand if reply_to == "brand" else op
            self.reddit(self.reddit_author(0.1, avoid=parent.author), self.at(clock),
                        text, "outage", s["sub"], parent=parent)

    def non_english(self):
        for clock, lang, cat, (handle, name), text in NON_ENGLISH:
            author = self.new_x_author()   # random id/followers, then a name that fits the language
            self.taken_handles.add(handle.lower())
            author.update(handle=handle, name=name)
            self.x(author, self.at(clock), text, cat, lang=lang, tags={"non_english"})

    def oddities(self):
        for clock, text in HOSTILE_X:
            self.x(self.x_author(0), self.at(clock), text, "complaint", tags={"hostile"})
        h = HOSTILE_REDDIT
        sub = self.reddit(self.reddit_author(0), self.at(h["at"]), h["body"], "complaint", h["sub"],
                          title=h["title"], tags={"hostile"})
        self.thread_comments(sub, h["comments"], h["mix"])
        for clock, text in UNRELATED_X:
            self.x(self.x_author(0), self.at(clock), text, "unrelated", tags={"unrelated"})

    def x_general(self):
        r = self.rng
        made: dict[str, list[Post]] = {"praise": [], "question": [], "complaint": []}
        for _ in range(X_GENERAL["praise"]):
            text = self.unique(lambda: self.compose_x("praise", self.pick(PRAISE_X)))
            made["praise"].append(self.x(self.x_author(), self.general_ms(), text, "praise"))
        for _ in range(X_GENERAL["question"]):
            topic, core = self.pick(QUESTIONS_X)
            text = self.unique(lambda: self.compose_x("question", core, address=self.address_brand()))
            made["question"].append(self.x(self.x_author(), self.general_ms(), text, "question",
                                           tags={topic}))
        topics = list(COMPLAINTS_X)
        for i in range(X_GENERAL["complaint"]):
            topic = topics[i % len(topics)]

            def make():
                tails = URGENCY_TAILS.get(topic)
                tail = r.choice(tails) if tails and r.random() < URGENCY_P else ""
                return self.compose_x("complaint", self.pick(COMPLAINTS_X[topic]), tail,
                                      address=self.address_brand())
            made["complaint"].append(self.x(self.x_author(), self.general_ms(), self.unique(make),
                                            "complaint", tags={topic}))
        # a few other users answer a question or say "me too"
        for i in range(X_USER_REPLIES):
            if i % 2 == 0:
                parent = r.choice(made["question"])
                topic = next(t for t in parent.tags if t in ANSWERS_X)
                pool, cat = ANSWERS_X[topic], "info"
            else:
                parent = r.choice(made["complaint"])
                pool, cat = METOO_X, "complaint"
            author = self.x_author(0.05)
            text = self.unique(lambda: f"@{parent.author['handle']} " + self.fill(self.pick(pool), "x"))
            self.x(author, self.later(parent.ms, 40), text, cat, parent=parent)

    def address_brand(self) -> bool:
        return self.rng.random() < ADDRESS_BRAND_P

    def reddit_threads(self):
        for t in REDDIT_THREADS:
            sub = self.reddit(self.reddit_author(0.1), self.at(t["at"]), t["body"], t["category"], t["sub"],
                              title=t["title"])
            self.thread_comments(sub, t["comments"], t["mix"])

    def thread_comments(self, sub: Post, n: int, mix: dict):
        r = self.rng
        times = sorted(self.later(sub.ms, 90, min_s=60) for _ in range(n))
        comments: list[Post] = []
        for ms in times:
            cat = self.weighted(mix.items())
            parent = sub if not comments or r.random() < 0.6 else r.choice(comments)

            def make():
                body = join_lead(r.choice(REDDIT_PREFIXES[cat]), self.pick(REDDIT_COMMENTS[cat])) \
                    + r.choice(REDDIT_SUFFIXES)
                return self.fill(body, "reddit")
            author = self.reddit_author(avoid=parent.author)
            comments.append(self.reddit(author, ms, self.unique(make), cat, sub.subreddit, parent=parent))

    # ---- assemble --------------------------------------------------------
    def build(self) -> list[Post]:
        self.brand_promo()
        self.repeat_complainers()
        self.influencers()
        self.outage()
        self.non_english()
        self.oddities()
        self.x_general()
        self.reddit_threads()
        self.posts.sort(key=lambda p: p.ms)
        self.assign_ids()
        for p in self.posts:
            p.tags |= derived_tags(p)
        return self.posts

    def assign_ids(self):
        r = self.rng
        last = {"x": 0, "t3": 0, "t1": 0}
        for p in self.posts:
            epoch_ms = int(DAY.timestamp() * 1000) + p.ms
            if p.platform == "x":
                n = max(((epoch_ms - TWITTER_EPOCH_MS) << 22) | r.randrange(1 << 22), last["x"] + 1)
                last["x"] = n
                p.id = str(n)
            else:
                kind = "t1" if p.parent else "t3"
                base, rate = (REDDIT_T1_BASE, 70) if kind == "t1" else (REDDIT_T3_BASE, 12)
                n = max(base + p.ms // 1000 * rate + r.randrange(rate), last[kind] + 1)
                last[kind] = n
                p.id = f"{kind}_{to_base36(n)}"


def derived_tags(p: Post) -> set:
    tags = set()
    low = p.text.lower()
    brand_parent = (p.parent and p.parent.author["handle"] in BRAND_HANDLES) or \
                   (p.quoted and p.quoted.author["handle"] in BRAND_HANDLES)
    if p.category != "brand_own" and ("@kestrelair" in low or "u/kestrelair_team" in low or brand_parent):
        tags.add("addressed")
    if p.category in ("complaint", "outage") and any(w in low for w in URGENCY_WORDS):
        tags.add("urgent")
    return tags


def to_record(p: Post) -> dict:
    if p.platform == "x":
        url = f"https://x.com/{p.author['handle']}/status/{p.id}"
    else:
        root = p.root
        url = f"https://www.reddit.com/r/{p.subreddit}/comments/{root.id[3:]}/{slugify(root.title)}/"
        if p.parent:
            url += f"{p.id[3:]}/"
    rec = {
        "platform": p.platform,
        "id": p.id,
        "created_at": iso(p.ms),
        "author": {k: p.author[k] for k in AUTHOR_KEYS},
        "text": p.text,
        "lang": p.lang if p.platform == "x" else None,
        "conversation_id": p.root.id,
        "in_reply_to_id": p.parent.id if p.parent else None,
        "quoted_id": p.quoted.id if p.quoted else None,
        "url": url,
        "subreddit": p.subreddit,
        "title": p.title,
    }
    assert list(rec) == OUTPUT_KEYS
    if p.platform == "reddit" and p.parent is None:
        rec["subreddit_subscribers"] = SUBREDDIT_MEMBERS[p.subreddit]
    return rec


# --------------------------------------------------------------------------
# Checks and summary
# --------------------------------------------------------------------------

def validate(records: list[dict]) -> None:
    assert len(records) >= 340, len(records)
    seen: set[str] = set()
    authors: dict[str, tuple] = {}
    handles: dict[tuple, str] = {}
    prev_created, prev_x = "", 0
    for rec in records:
        submission = rec["platform"] == "reddit" and rec["in_reply_to_id"] is None
        assert list(rec) == OUTPUT_KEYS + (["subreddit_subscribers"] if submission else []), rec
        assert list(rec["author"]) == AUTHOR_KEYS, rec
        assert json.loads(json.dumps(rec, ensure_ascii=False)) == rec
        c = rec["created_at"]
        assert c >= prev_created and c.startswith("2026-03-10T") and c.endswith("Z"), c
        prev_created = c
        assert rec["id"] not in seen, rec["id"]
        for ref in (rec["in_reply_to_id"], rec["quoted_id"]):
            assert ref is None or ref in seen, (rec["id"], ref)
        assert rec["conversation_id"] == rec["id"] or rec["conversation_id"] in seen, rec
        seen.add(rec["id"])
        a = rec["author"]
        key = (a["id"], a["handle"], a["name"], a["followers"], a["verified"])
        assert authors.setdefault(a["id"], key) == key, a
        assert handles.setdefault((rec["platform"], a["handle"]), a["id"]) == a["id"], a
        if rec["platform"] == "x":
            assert rec["id"].isdigit() and len(rec["id"]) == 19 and int(rec["id"]) > prev_x
            prev_x = int(rec["id"])
            assert rec["lang"] and rec["subreddit"] is None and rec["title"] is None
            assert len(rec["text"]) <= 280, rec["text"]
            assert rec["url"].endswith(rec["id"])
        else:
            is_sub = rec["id"].startswith("t3_")
            assert rec["lang"] is None and rec["quoted_id"] is None and rec["subreddit"]
            assert rec["conversation_id"].startswith("t3_") and a["id"].startswith("t2_")
            assert (rec["title"] is not None) == is_sub == (rec["in_reply_to_id"] is None)
            assert rec["url"].startswith(f"https://www.reddit.com/r/{rec['subreddit']}/comments/")
    assert len(authors) >= 150, len(authors)


def summary(posts: list[Post], out: Path) -> str:
    n = len(posts)
    plat = Counter(p.platform for p in posts)
    cat = Counter(p.category for p in posts)
    lang = Counter(p.lang for p in posts if p.platform == "x")
    tags = Counter(t for p in posts for t in p.tags)
    start, end = (hm(c) for c in OUTAGE_WINDOW)
    in_window = [p for p in posts if p.category == "outage" and start <= p.ms < end]
    per_author = Counter(p.author["handle"] for p in posts if "repeat" in p.tags)
    authors = {(p.platform, p.author["id"]) for p in posts}
    complaint_topics = Counter(t for p in posts if p.category == "complaint" for t in p.tags
                               if t in COMPLAINTS_X)
    big = sorted({(p.author["followers"], p.author["handle"], p.author["verified"]) for p in posts
                  if p.tags & {"influencer", "midsize"}}, reverse=True)

    def pct(k):
        return f"{k} ({100 * k / n:.0f}%)"

    lines = [
        f"wrote {out}: {n} mentions, {iso(posts[0].ms)} .. {iso(posts[-1].ms)}",
        "platform: " + ", ".join(f"{k}={pct(v)}" for k, v in plat.most_common()),
        "category: " + ", ".join(f"{k}={pct(v)}" for k, v in cat.most_common()),
        "complaint topics: " + ", ".join(f"{k}={v}" for k, v in complaint_topics.most_common()),
        "x lang: " + ", ".join(f"{k}={v}" for k, v in lang.most_common()),
        f"outage {OUTAGE_WINDOW[0]}-{OUTAGE_WINDOW[1]} UTC: {len(in_window)} outage mentions "
        f"(x={sum(p.platform == 'x' for p in in_window)}, reddit={sum(p.platform == 'reddit' for p in in_window)})",
        "repeat complainers: " + ", ".join(f"{h} ({v} posts)" for h, v in per_author.items()),
        "big accounts: " + ", ".join(f"{h} {f} followers{' verified' if v else ''}" for f, h, v in big),
        f"brand's own posts (to ignore): {cat['brand_own']} "
        f"({', '.join(sorted({p.author['handle'] for p in posts if p.category == 'brand_own'}))})",
        f"addressed to brand (@/u/ mention, reply or quote): {tags['addressed']}; "
        f"urgent complaints: {tags['urgent']}",
        f"non-English: {tags['non_english']}; hostile/escaping: {tags['hostile']}; "
        f"unrelated 'kestrel': {tags['unrelated']}",
        f"x: replies={sum(p.platform == 'x' and p.parent is not None for p in posts)}, "
        f"quotes={sum(p.quoted is not None for p in posts)}; "
        f"reddit: submissions={sum(p.platform == 'reddit' and p.parent is None for p in posts)}, "
        f"comments={sum(p.platform == 'reddit' and p.parent is not None for p in posts)}",
        f"distinct authors: {len(authors)} (x={sum(a[0] == 'x' for a in authors)}, "
        f"reddit={sum(a[0] == 'reddit' for a in authors)})",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "mentions.jsonl")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args()

    posts = Builder(args.seed).build()
    records = [to_record(p) for p in posts]
    validate(records)
    with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    try:
        shown = args.out.resolve().relative_to(Path.cwd())
    except ValueError:
        shown = args.out
    print(summary(posts, shown))


if __name__ == "__main__":
    main()
