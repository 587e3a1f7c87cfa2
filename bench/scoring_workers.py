"""Scoring in a worker process while other polls write: what it buys, and what it costs.

    python bench/scoring_workers.py [--posts N] [--batch 500] [--sources 2] [--repeat 3]

The same posts and pipeline as bench/pipeline_throughput.py ("alerting" and
"full"), split between --sources sources, each polled until it has nothing
left by its own thread, as the scheduler's thread pool runs the poll jobs of
several sources in `brandpulse run`. One Pipeline serves every source, as in
`run`. Three ways:

1. in process, one source (the pipeline_throughput number);
2. in process, the sources' polls in threads (the GIL: no overlap expected);
3. scoring in one worker process (a prototype, here only: WorkerAnalyzer
   behind the Analyzer interface, PooledPipeline returning it): while a poll
   waits for its scores, another poll's thread stores and acts on its batch.

Every poll still stores its mentions and cursor in one transaction. Prints
wall-clock posts/s and its ratio to bare VADER, and CPU time per post (this
process plus the worker): parallelism shows in the first, efficiency in the
second. Best of --repeat runs. Needs at least two cores to show anything.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_throughput import (  # noqa: E402
    T0,
    ListSource,
    bench_database,
    make_mentions,
    posts_and_vader,
)

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.config import Brand, Settings  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import Label, Score  # noqa: E402
from listener.poller import Poller  # noqa: E402
from rules.analyzers.base import Analyzer  # noqa: E402
from rules.analyzers.registry import build_analyzer  # noqa: E402

# -- the prototype -------------------------------------------------------------

_worker: dict = {}  # one worker process's settings and analyzers


def _init_worker(settings: Settings) -> None:
    _worker["settings"], _worker["analyzers"] = settings, {}


def _score_in_worker(name: str, brand_id: str, texts: list[str], langs: list) -> list[tuple]:
    settings = _worker["settings"]
    analyzers = _worker["analyzers"]
    if name not in analyzers:
        analyzers[name] = build_analyzer(name, settings=settings)
    scores = analyzers[name].score_many(texts, langs=langs, brand=settings.brand(brand_id))
    # plain tuples: a third of the cost of pickling Score objects
    return [(s.analyzer, s.version, s.compound, s.label.value, s.lang, s.details) for s in scores]


def _worker_cpu() -> float:
    return time.process_time()


class WorkerAnalyzer:
    """An analyzer that scores in the worker process (the same analyzer, built
    there by name from the same settings). Waiting for the answer releases the
    GIL, so another poll's thread runs meanwhile."""

    def __init__(self, name: str, local: Analyzer, executor: ProcessPoolExecutor) -> None:
        self.name, self.version = local.name, local.version
        self._registered = name
        self._executor = executor

    def score(self, text, *, lang=None, brand=None):
        return self.score_many([text], langs=[lang], brand=brand)[0]

    def score_many(self, texts, *, langs=None, brand: Brand | None = None):
        assert brand is not None
        rows = self._executor.submit(_score_in_worker, self._registered, brand.id, list(texts),
                                     list(langs or [None] * len(texts))).result()
        return [Score(a, v, c, Label(label), lang, d) for a, v, c, label, lang, d in rows]


class PooledPipeline(Pipeline):
    def __init__(self, settings: Settings, executor: ProcessPoolExecutor) -> None:
        super().__init__(settings)
        self._executor = executor
        self._remote: dict[str, WorkerAnalyzer] = {}

    def analyzer_for(self, brand_id: str) -> Analyzer:
        name = self.settings.brand(brand_id).analyzer or self.settings.default_analyzer
        if name not in self._remote:
            self._remote[name] = WorkerAnalyzer(name, super().analyzer_for(brand_id), self._executor)
        return self._remote[name]


# -- the bench -------------------------------------------------------------------


def run(texts: list[str], batch: int, *, drafts: bool, sources: int, workers: int) -> dict:
    """One run; ``workers``: 0 (score in process) or 1 (score in a worker process)."""
    with bench_database(drafts=drafts) as (settings, Session):
        pool = None
        if workers:
            # spawn: a fresh interpreter, never a fork of a process with threads and open connections
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(settings,))
        try:
            pipeline = PooledPipeline(settings, pool) if pool is not None else Pipeline(settings)
            pipeline.analyzer_for("acme").score_many(["warm up"], langs=[None], brand=settings.brand("acme"))
            mentions = make_mentions(texts)
            share = -(-len(mentions) // sources)
            pollers = [
                Poller(source=ListSource(mentions[i * share : (i + 1) * share], batch, name=f"bench-{i}"), Session=Session,
                       clock=FakeClock(T0 + timedelta(days=1)), handler=pipeline, own_handles=frozenset({"acmeair"}))
                for i in range(sources)
            ]
            errors: list[str] = []

            def drain(poller: Poller) -> None:
                while True:
                    outcome = poller.poll_once()
                    if outcome.status != "ok":
                        errors.append(f"{poller.source.name}: {outcome.status} {outcome.error}")
                        return
                    if outcome.fetched == 0:
                        return

            worker_cpu = pool.submit(_worker_cpu).result() if pool is not None else 0.0
            t, cpu = time.perf_counter(), time.process_time()
            if sources == 1:
                drain(pollers[0])
            else:
                threads = [threading.Thread(target=drain, args=(p,)) for p in pollers]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
            elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
            worker_cpu = (pool.submit(_worker_cpu).result() - worker_cpu) if pool is not None else 0.0
            if errors:
                raise SystemExit("; ".join(errors))
            stored = pipeline.stats.mentions
        finally:
            if pool is not None:
                pool.shutdown()
    return {"rate": len(texts) / elapsed, "cpu": cpu, "worker_cpu": worker_cpu, "stored": stored, "n": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sources", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    texts, vader = posts_and_vader(posts=args.posts, batch=args.batch, repeat=args.repeat)
    print(f"bare VADER: {vader:,.0f} posts/s ({1e6 / vader:.1f} µs/post)")
    ways = [
        ("in process, 1 source", 1, 0),
        (f"in process, {args.sources} sources in threads", args.sources, 0),
        (f"worker process scores, {args.sources} sources in threads", args.sources, 1),
    ]
    for variant, drafts in (("alerting", False), ("full", True)):
        print(f"pipeline, {variant}:")
        for label, sources, workers in ways:
            runs = [run(texts, args.batch, drafts=drafts, sources=sources, workers=workers) for _ in range(args.repeat)]
            best = max(runs, key=lambda r: r["rate"])
            n = best["n"]
            assert best["stored"] == n, best
            cpu = (best["cpu"] + best["worker_cpu"]) * 1e6 / n
            print(f"  {label:46s} {best['rate']:8,.0f} posts/s  ratio {best['rate'] / vader:.2f}"
                  f"  CPU {cpu:6.1f} µs/post (this process {best['cpu'] * 1e6 / n:.1f}"
                  f" + worker {best['worker_cpu'] * 1e6 / n:.1f})")


if __name__ == "__main__":
    main()
