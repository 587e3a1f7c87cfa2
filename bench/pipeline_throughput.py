"""Pipeline throughput against bare VADER, measured in the same run.

    python bench/pipeline_throughput.py [--posts N] [--batch 500] [--repeat 3]

Posts: ../shared/data/airline_dev.csv when present (real tweets), else the
bundled demo day (demo/mentions.jsonl), cycled to N posts.

1. Bare VADER: ``polarity_scores`` on every post, nothing else.
2. The pipeline, as ``brandpulse run`` runs it: a source hands batches to the
   poller, which stores mentions + cursor in a SQLite file on disk (WAL),
   scores them with the same VADER analyzer, evaluates the rules, opens or
   joins alerts and drafts replies, one transaction per batch.

Two pipeline variants run on the same posts:
- "alerting": the chain the backbone issue names (ingest → store → score →
  rules → alerts): the rules open alerts and tag, they draft nothing;
- "full": the same plus drafting replies from templates into the outbox (as
  the demo configuration does).

Prints posts/s for each and their ratio to bare VADER (1.0 would mean the
pipeline costs nothing beyond scoring), then where the time went, in µs per
post, for the best run: the poll's stages (fetch; prepare = scoring, outside
the transaction; store = inserting the new mentions; apply = the pipeline;
commit = cursor, source state and usage, and COMMIT; other = the rest of the
poll, mostly its first transaction, reading the source's state) and the
pipeline's own stages (incidents = matching open incidents; rules =
evaluating the rules per mention; scores+tags; opt-outs; alerts; drafts;
incidents+spikes). Wall time and the process's CPU time are both shown.
Best of --repeat runs for each.

bench/profile_pipeline.py profiles the same run; bench/scoring_workers.py
measures scoring in a worker process while other sources' polls write.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy.orm import sessionmaker  # noqa: E402
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer  # noqa: E402

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.config import Settings, parse_settings  # noqa: E402
from brandpulse.db import make_engine, session_factory, upgrade  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import Author, FetchResult, Mention  # noqa: E402
from listener.poller import Poller  # noqa: E402

SHARED_CSV = ROOT.parent / "shared" / "data" / "airline_dev.csv"
T0 = datetime(2026, 3, 10, tzinfo=timezone.utc)


def load_texts(n: int) -> tuple[list[str], str]:
    if SHARED_CSV.exists():
        with SHARED_CSV.open(encoding="utf-8") as fh:
            texts = [html.unescape(row["text"]) for row in csv.DictReader(fh)]
        origin = f"{SHARED_CSV.name} ({len(texts)} real tweets)"
    else:
        with (ROOT / "demo" / "mentions.jsonl").open(encoding="utf-8") as fh:
            texts = [json.loads(line)["text"] for line in fh if line.strip()]
        origin = f"demo/mentions.jsonl ({len(texts)} posts, cycled)"
    return [texts[i % len(texts)] for i in range(n)], origin


def make_mentions(texts: list[str]) -> list[Mention]:
    out = []
    for i, text in enumerate(texts):
        author = i % 1500  # repeat authors, some in the same thread → alert grouping happens
        out.append(
            Mention(
                platform="x", external_id=str(10**18 + i), brand="acme",
                author=Author(platform="x", id=str(author), handle=f"user{author}", followers=(author * 37) % 50000),
                text=text, created_at=T0 + timedelta(seconds=i), lang="en",
                thread_id=str(10**17 + author % 900), addressed_handles=("acmeair",) if i % 3 == 0 else (),
                raw={"id": str(10**18 + i), "text": text},
            )
        )
    return out


CONFIG = {
    "default_analyzer": "vader",
    "brands": [{"id": "acme", "name": "Acme Air", "accounts": {"x": ["AcmeAir"]},
                "vocabulary": {"urgent": ["stranded", "missed my connection"]}}],
    "templates": {
        "apology": {"text": "Hi @{{ author.handle }}, sorry about this. Please DM us your booking reference."},
        "thanks": {"text": "Thank you @{{ author.handle }}!"},
    },
    "rules": [
        {"name": "high-reach", "when": {"label": ["negative"], "min_followers": 10000},
         "then": {"alert": {"priority": "auto"}, "draft": "apology", "tags": ["high-reach"]}, "stop": True},
        {"name": "complaint", "when": {"label": ["negative"]}, "then": {"alert": {"priority": "auto"}, "draft": "apology"}},
        {"name": "praise", "when": {"label": ["positive"], "addresses_brand": True}, "then": {"draft": "thanks", "tags": ["praise"]}},
    ],
    "reply_policy": {"auto_send_templates": ["thanks"]},
}


class ListSource:
    kind = "bench"
    brand = "acme"

    def __init__(self, mentions: list[Mention], batch: int, *, name: str = "bench") -> None:
        self.name = name
        self.mentions = mentions
        self.batch = batch

    def fetch(self, cursor, *, now):
        start = cursor.get("next", 0)
        chunk = self.mentions[start : start + self.batch]
        return FetchResult(chunk, {"next": start + len(chunk)}, posts_read=len(chunk))


def posts_and_vader(*, posts: int, batch: int, repeat: int) -> tuple[list[str], float]:
    """The posts (saying where they come from) and bare VADER's posts/s on them, best of ``repeat``."""
    texts, origin = load_texts(posts)
    print(f"posts: {len(texts)} from {origin}; batch {batch}; best of {repeat}")
    return texts, max(bench_vader(texts) for _ in range(repeat))


def bench_vader(texts: list[str]) -> float:
    sia = SentimentIntensityAnalyzer()
    t = time.perf_counter()
    for text in texts:
        sia.polarity_scores(text)
    return len(texts) / (time.perf_counter() - t)


def without_drafts(config: dict) -> dict:
    rules = []
    for rule in config["rules"]:
        then = {k: v for k, v in rule["then"].items() if k != "draft"}
        rules.append({**rule, "then": then})
    return {**config, "rules": rules, "reply_policy": {}}


@contextmanager
def bench_database(*, drafts: bool) -> Iterator[tuple[Settings, sessionmaker]]:
    """Settings for CONFIG (without its drafted replies unless ``drafts``) and
    sessions on a fresh migrated SQLite file, in a temporary directory removed after."""
    config = CONFIG if drafts else without_drafts(CONFIG)
    with tempfile.TemporaryDirectory() as tmp:
        settings = parse_settings({**config, "data_dir": tmp}, path=Path(tmp) / "bench.yaml")
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        try:
            upgrade(engine)
            yield settings, session_factory(engine)
        finally:
            engine.dispose()


def bench_pipeline(texts: list[str], batch: int, *, drafts: bool) -> tuple[float, dict]:
    with bench_database(drafts=drafts) as (settings, Session):
        pipeline = Pipeline(settings)
        pipeline.analyzer_for("acme")  # build the analyzer before timing, as a running service has
        mentions = make_mentions(texts)
        source = ListSource(mentions, batch)
        poller = Poller(source=source, Session=Session, clock=FakeClock(T0 + timedelta(days=1)), handler=pipeline,
                        own_handles=frozenset({"acmeair"}))
        t, cpu = time.perf_counter(), time.process_time()
        while True:
            outcome = poller.poll_once()
            if outcome.status != "ok":
                raise SystemExit(f"poll failed: {outcome.error}")
            if outcome.fetched == 0:
                break
        elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        stats = pipeline.stats
        return len(texts) / elapsed, {
            "stored": stats.mentions, "alerts_touched": stats.alerts_touched, "drafts": stats.drafts,
            "elapsed": elapsed, "cpu": cpu, "poller": dict(poller.seconds), "apply": dict(stats.seconds),
        }


POLLER_STAGES = ("fetch", "prepare", "store", "apply", "commit")
APPLY_STAGES = ("incidents", "rules", "scores+tags", "opt-outs", "alerts", "drafts", "incidents+spikes")


def stage_lines(stats: dict, n: int) -> list[str]:
    """µs per post for each stage of the poll, and of the pipeline's apply."""
    us = lambda seconds: seconds * 1e6 / n  # noqa: E731
    poller, apply = stats["poller"], stats["apply"]
    other = stats["elapsed"] - sum(poller.values())
    names = {"prepare": "prepare (scoring)"}
    top = "  ".join(f"{names.get(k, k)} {us(poller.get(k, 0.0)):.1f}" for k in POLLER_STAGES)
    inner = "  ".join(f"{k} {us(apply.get(k, 0.0)):.1f}" for k in APPLY_STAGES)
    return [
        f"    µs/post: total {us(stats['elapsed']):.1f} (CPU {us(stats['cpu']):.1f})  = {top}  other {us(other):.1f}",
        f"    apply:   {inner}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts, vader = posts_and_vader(posts=args.posts, batch=args.batch, repeat=args.repeat)
    print(f"bare VADER:                      {vader:10,.0f} posts/s  ({1e6 / vader:.1f} µs/post)")
    for name, drafts in (("alerting (store+score+rules+alerts)", False), ("full (… + drafted replies)", True)):
        runs = [bench_pipeline(texts, args.batch, drafts=drafts) for _ in range(args.repeat)]
        rate, stats = max(runs, key=lambda r: r[0])
        print(
            f"pipeline, {name}: {rate:10,.0f} posts/s  ratio to VADER {rate / vader:.2f}"
            f"  ({stats['stored']} stored, {stats['alerts_touched']} alert updates, {stats['drafts']} drafts)"
        )
        for line in stage_lines(stats, len(texts)):
            print(line)


if __name__ == "__main__":
    main()
