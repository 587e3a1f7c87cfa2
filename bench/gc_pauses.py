"""The garbage collector's share of the pipeline, with and without brandpulse.heap's freeze.

    python bench/gc_pauses.py [--posts 20000] [--batch 500] [--repeat 2]

The pipeline of bench/pipeline_throughput.py ("alerting"), on a fresh SQLite
file, with one difference that matters here: the source builds each batch's
mentions when it is polled, as a real source does, instead of holding every
post of the run (pipeline_throughput's fixture keeps them all alive, so its
full collections walk them too). For each run: how many collections of each
generation ran, how long each took on average (the GIL is held meanwhile:
every thread waits) and their cost per post, with the start-up objects left in
the collector's sight ("as before") and frozen (what `brandpulse run` does,
brandpulse.heap.startup_objects_frozen). Runs alternate.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_throughput import T0, bench_database, load_texts  # noqa: E402

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.heap import startup_objects_frozen  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import Author, FetchResult, Mention  # noqa: E402
from listener.poller import Poller  # noqa: E402


class BuildingSource:
    """pipeline_throughput's posts (same ids, authors, threads), each batch built when fetched."""

    kind = "bench"
    brand = "acme"
    name = "bench"

    def __init__(self, texts: list[str], batch: int) -> None:
        self.texts, self.batch = texts, batch

    def fetch(self, cursor, *, now):
        start = cursor.get("next", 0)
        chunk = []
        for i in range(start, min(start + self.batch, len(self.texts))):
            text, author = self.texts[i], i % 1500
            chunk.append(Mention(
                platform="x", external_id=str(10**18 + i), brand="acme",
                author=Author(platform="x", id=str(author), handle=f"user{author}", followers=(author * 37) % 50000),
                text=text, created_at=T0 + timedelta(seconds=i), lang="en",
                thread_id=str(10**17 + author % 900), addressed_handles=("acmeair",) if i % 3 == 0 else (),
                raw={"id": str(10**18 + i), "text": text},
            ))
        return FetchResult(chunk, {"next": start + len(chunk)}, posts_read=len(chunk))


class Collections:
    """Count and seconds of the collections of each generation while installed."""

    def __init__(self) -> None:
        self.by_generation: dict[int, list[float]] = {0: [0, 0.0], 1: [0, 0.0], 2: [0, 0.0]}
        self._start = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            entry = self.by_generation[info["generation"]]
            entry[0] += 1
            entry[1] += time.perf_counter() - self._start


def run(texts: list[str], batch: int, *, freeze: bool) -> tuple[float, Collections]:
    with bench_database(drafts=False) as (settings, Session):
        pipeline = Pipeline(settings)
        pipeline.analyzer_for("acme")
        with startup_objects_frozen() if freeze else nullcontext():
            poller = Poller(source=BuildingSource(texts, batch), Session=Session, clock=FakeClock(T0 + timedelta(days=1)),
                            handler=pipeline, own_handles=frozenset({"acmeair"}))
            collections = Collections()
            gc.callbacks.append(collections)
            try:
                t = time.perf_counter()
                while poller.poll_once().fetched:
                    pass
                elapsed = time.perf_counter() - t
            finally:
                gc.callbacks.remove(collections)
        assert pipeline.stats.mentions == len(texts)
    return len(texts) / elapsed, collections


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    texts, origin = load_texts(args.posts)
    n = len(texts)
    print(f"posts: {n} from {origin}; batch {args.batch}; alerting pipeline; mentions built per fetch")
    for _ in range(args.repeat):
        for freeze in (False, True):
            rate, collections = run(texts, args.batch, freeze=freeze)
            parts = []
            total = 0.0
            for generation, (count, seconds) in collections.by_generation.items():
                total += seconds
                each = f"{seconds / count * 1e3:.2f} ms" if count else "-"
                parts.append(f"gen{generation} {count:3d} x {each} = {seconds * 1e6 / n:5.2f}")
            label = "frozen   " if freeze else "as before"
            print(f"  {label} {rate:6,.0f} posts/s  GC µs/post: {'  '.join(parts)}  total {total * 1e6 / n:5.2f}")


if __name__ == "__main__":
    main()
