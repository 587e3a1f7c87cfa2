"""Micro-benchmark of the rules stage on synthetic mentions.

Measures, in one run:
  1. RuleEngine.evaluate on N scored mentions (evaluations/s), with a rule
     set like a real configuration's (labels, keywords, regex, followers,
     addresses_brand, stop);
  2. apply_decisions on the same mentions in batches (mentions/s, and µs
     per mention that asks for an alert), against a SQLite file on disk;
     storing the mentions is not timed, the commit is timed apart.

Prints its numbers; asserts nothing.

    python bench/rules_throughput.py [-n 20000] [--batch 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from brandpulse.config import parse_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import MentionRow
from brandpulse.types import Author, Label, Mention, Score
from rules.alerts import apply_decisions
from rules.analyzers.base import label_for
from rules.engine import RuleEngine

CONFIG = {
    "brands": [
        {
            "id": "acme",
            "name": "Acme Air",
            "accounts": {"x": ["AcmeAir", "AcmeHelp"], "reddit": ["AcmeAir_Team"]},
            "vocabulary": {"urgent": ["stranded", "lost bag"], "negative": ["delayed"]},
        }
    ],
    "templates": {
        "apology": {"text": "Sorry @{{ author.handle }}"},
        "thanks": {"text": "Thanks @{{ author.handle }}"},
        "status": {"text": "See our status page"},
    },
    "rules": [
        {"name": "spam", "when": {"regex": r"(free|cheap) (tickets|flights) .*https?://"}, "then": {"tags": ["spam"]}, "stop": True},
        {"name": "unknown-lang", "when": {"label": ["unknown"]}, "then": {"alert": {"priority": "P3"}, "tags": ["language"]}},
        {"name": "outage", "when": {"keywords_any": ["app down", "website down", "can't log in", "outage"]},
         "then": {"alert": {"priority": "auto"}, "draft": "status", "tags": ["outage"]}},
        {"name": "complaint", "when": {"label": ["negative"], "keywords_none": ["road runner"]},
         "then": {"alert": {"priority": "auto"}, "draft": "apology", "tags": ["complaint"]}},
        {"name": "vip", "when": {"label": ["negative"], "min_followers": 50000}, "then": {"alert": {"priority": "P1"}, "tags": ["vip"]}},
        {"name": "direct-praise", "when": {"label": ["positive"], "addresses_brand": True}, "then": {"draft": "thanks", "tags": ["praise"]}},
        {"name": "reddit", "when": {"platform": ["reddit"]}, "then": {"tags": ["reddit"]}},
        {"name": "spanish", "when": {"lang": ["es"]}, "then": {"tags": ["es"]}},
    ],
}

TEXTS = [
    "@AcmeAir my flight was delayed 4 hours and nobody told us anything",
    "Thanks @AcmeHelp for sorting out my booking, great service!",
    "acme air app down again, can't log in to check in",
    "Stranded in Denver, lost bag, @AcmeAir this is unacceptable!!!",
    "Flying acme air to Oslo tomorrow, any tips?",
    "WORST AIRLINE EVER, NEVER AGAIN ACME",
    "mi vuelo con acme air fue cancelado",
    "free tickets on acme air click https://spam.example",
    "u/AcmeAir_Team the refund never arrived, 3 weeks now",
    "The crew on my acme air flight were lovely",
]


def synthetic(n: int, seed: int = 7) -> list[tuple[Mention, Score]]:
    rng = random.Random(seed)
    t0 = datetime(2026, 3, 10, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        platform = "reddit" if rng.random() < 0.3 else "x"
        author_no = rng.randrange(n // 4 + 1)  # repeat authors
        text = rng.choice(TEXTS)
        compound = max(-1.0, min(1.0, rng.gauss(-0.1, 0.5)))
        label = Label.UNKNOWN if "vuelo" in text and rng.random() < 0.5 else label_for(compound)
        mention = Mention(
            platform=platform,
            external_id=f"bench-{i}",
            brand="acme",
            author=Author(platform, f"a{author_no}", f"user{author_no}", followers=int(rng.paretovariate(0.8) * 20)),
            text=text,
            created_at=t0 + timedelta(seconds=i),
            lang="es" if "vuelo" in text else "en",
            thread_id=f"t{author_no % (n // 10 + 1)}",
            title="Acme question" if platform == "reddit" else None,
        )
        out.append((mention, Score("bench", "1", compound, label, mention.lang)))
    return out


def bench_engine(engine: RuleEngine, data, repeat: int) -> tuple[float, int]:
    best = float("inf")
    alerts = 0
    for _ in range(repeat):
        start = time.perf_counter()
        decisions = [engine.evaluate(m, s) for m, s in data]
        best = min(best, time.perf_counter() - start)
        alerts = sum(1 for d in decisions if d.alert is not None)
    return len(data) / best, alerts


def bench_alerts(settings, engine: RuleEngine, data, batch: int) -> dict[str, float]:
    """Time apply_decisions (and, apart, the commit) per batch; the mentions
    are stored and evaluated first, untimed."""
    with tempfile.TemporaryDirectory() as tmp:
        db = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(db)
        Session = session_factory(db)
        now = datetime(2026, 3, 11, tzinfo=timezone.utc)
        apply_s = commit_s = 0.0
        alerting = touched = 0
        for start in range(0, len(data), batch):
            chunk = data[start : start + batch]
            with Session() as session:
                rows = [
                    {
                        "platform": m.platform, "external_id": m.external_id, "brand": m.brand,
                        "author_id": m.author.id, "author_handle": m.author.handle,
                        "author_followers": m.author.followers, "text": m.text, "thread_id": m.thread_id,
                        "created_at": m.created_at, "fetched_at": now, "addressed_handles": [],
                    }
                    for m, _ in chunk
                ]
                ids = session.scalars(insert(MentionRow).returning(MentionRow.id, sort_by_parameter_order=True), rows).all()
                items = [(i, m, engine.evaluate(m, s)) for i, (m, s) in zip(ids, chunk)]
                session.flush()
                t0 = time.perf_counter()
                result = apply_decisions(session, items, settings=settings, now=now)
                t1 = time.perf_counter()
                session.commit()
                commit_s += time.perf_counter() - t1
                apply_s += t1 - t0
                alerting += len(result)
                touched += len(set(result.values()))
        db.dispose()
    batches = -(-len(data) // batch)
    return {
        "mentions_per_s": len(data) / apply_s,
        "us_per_alerting": apply_s / max(alerting, 1) * 1e6,
        "alerting": alerting,
        "touched": touched,
        "commit_ms": commit_s / batches * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="synthetic mentions (default 20000)")
    parser.add_argument("--batch", type=int, default=500, help="apply_decisions batch size (default 500)")
    parser.add_argument("--repeat", type=int, default=3, help="engine passes; the best is reported (default 3)")
    args = parser.parse_args()

    settings = parse_settings(CONFIG)
    engine = RuleEngine(settings)
    data = synthetic(args.n)
    evals, alerts = bench_engine(engine, data, args.repeat)
    print(f"rules: {len(settings.rules)} rules, {args.n} mentions, {alerts} asking for an alert")
    print(f"RuleEngine.evaluate: {evals:,.0f} evaluations/s (best of {args.repeat})")
    r = bench_alerts(settings, engine, data, args.batch)
    print(
        f"apply_decisions (SQLite file, batches of {args.batch}): {r['mentions_per_s']:,.0f} mentions/s,"
        f" {r['us_per_alerting']:.0f} µs per mention asking for an alert"
        f" ({r['alerting']} such mentions, {r['touched']} alerts opened or joined, summed per batch)"
    )
    print(f"commit (mentions + alerts + audit of one batch): {r['commit_ms']:.1f} ms per batch")


if __name__ == "__main__":
    main()
