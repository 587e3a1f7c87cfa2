"""Scoring in a worker process while other polls write: what it buys, and what it costs.

    python bench/scoring_workers.py [--posts N] [--batch 500] [--sources 2] [--repeat 3] [--no-freeze]

The same posts and pipeline as bench/pipeline_throughput.py ("alerting" and
"full"), split between --sources sources, each polled until it has nothing
left by its own thread, as the scheduler's thread pool runs the poll jobs of
several sources in `brandpulse run`. One Pipeline serves every source, as in
`run`. Five ways:

1. in process, one source (the pipeline_throughput number);
2. in process, the sources' polls in threads (VADER holds the GIL; SQLite
   releases it while a statement runs or commits, the only overlap);
3. scoring in one worker process (a prototype, here only: WorkerAnalyzer
   behind the Analyzer interface, PooledPipeline returning it): while a poll
   waits for its scores, another poll's thread stores and acts on its batch;
4. and 5. one source drained by PipelinedDrain (a prototype, here only):
   batch N+1 is fetched and scored (the pipeline's own ``prepare``, in a
   thread) while this thread stores and acts on batch N; the scoring runs in
   that thread (4) or, with the PooledPipeline, in the worker process (5).
   With two free cores the wall time per post tends to max(this process's
   CPU, the worker's) instead of their sum: the CPU columns show which side
   bounds it.

Every poll still stores its mentions and cursor in one transaction, and every
way does the same work: the run asserts, for every run of every way, the same
numbers of stored and scored mentions, alert updates and drafts, the same row
counts (mentions, scores, tags, alerts, outbox), and, between ways with the
same number of sources, the same cursors, source states and usage. As in
pipeline_throughput.py the start-up objects are frozen (brandpulse.heap; in
the worker process too) unless --no-freeze, and the timed part ends with a
WAL checkpoint. Prints wall-clock posts/s and its ratio to bare VADER, and
CPU time per post (this process plus the worker): parallelism shows in the
first, efficiency in the second; best of --repeat runs, each run's posts/s
after it. Needs at least two free cores to show anything. Results, and
whether the pipelined drain is worth building: bench/pipeline_throughput.py.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

from sqlalchemy.orm import sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_throughput import (  # noqa: E402
    T0,
    ListSource,
    bench_database,
    checkpoint,
    make_mentions,
    posts_and_vader,
    start_up_heap,
)

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.config import Brand, Settings  # noqa: E402
from brandpulse.pipeline import Pipeline  # noqa: E402
from brandpulse.types import FetchResult, Label, Score  # noqa: E402
from listener.budget import over_budget  # noqa: E402
from listener.poller import (  # noqa: E402
    Poller,
    billed_reads,
    load_state,
    prune_billed_reads,
    record_success,
    record_usage,
    store_mentions,
    usage_for_month,
)
from rules.analyzers.base import Analyzer  # noqa: E402
from rules.analyzers.registry import build_analyzer  # noqa: E402

# -- the prototype -------------------------------------------------------------

_worker: dict = {}  # one worker process's settings and analyzers


def _init_worker(settings: Settings, freeze: bool) -> None:
    """The worker's settings and analyzers, built before any batch arrives;
    then its start-up objects frozen (brandpulse.heap), as in the main process."""
    _worker["settings"], _worker["analyzers"] = settings, {}
    for name in {b.analyzer or settings.default_analyzer for b in settings.brands}:
        _worker["analyzers"][name] = build_analyzer(name, settings=settings)
    gc.collect()
    if freeze:
        gc.freeze()  # the worker lives as long as the run: never unfrozen


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
    """The pipeline with its analyzers in the worker process."""

    def __init__(self, settings: Settings, executor: ProcessPoolExecutor) -> None:
        super().__init__(settings)
        self._executor = executor
        self._remote: dict[str, WorkerAnalyzer] = {}

    def analyzer_for(self, brand_id: str) -> Analyzer:
        name = self.settings.brand(brand_id).analyzer or self.settings.default_analyzer
        if name not in self._remote:
            self._remote[name] = WorkerAnalyzer(name, super().analyzer_for(brand_id), self._executor)
        return self._remote[name]


PrepareAsync = Callable[[list], Callable[[], Any]]


def prepare_in_thread(pipeline: Pipeline, executor: ThreadPoolExecutor) -> PrepareAsync:
    """The pipeline's own ``prepare`` in a thread of this process; returns at
    once a function that waits for its result. With the Pipeline, VADER runs in
    that thread and holds the GIL but while SQLite executes a statement or
    commits in this one; with the PooledPipeline the thread only sends the
    texts to the worker process and waits for the scores there."""

    def prepare_async(mentions: list) -> Callable[[], Any]:
        return executor.submit(pipeline.prepare, mentions).result

    return prepare_async


class PipelinedDrain:
    """Prototype: drain one source with batch N+1 fetched and being scored
    (``prepare_async``) while this thread stores and acts on batch N.

    Each batch is one transaction doing what a poll's do: the checks of the
    source's state and month's budget (a poll makes them in a first
    transaction of their own), its mentions, what the pipeline does with them,
    its cursor, state, billed reads and usage; batches commit in order, and
    the last, empty fetch is committed as the poll that finds nothing is. So
    the database ends the same as after the normal polls. Batch N+1 is fetched
    from batch N's cursor before N commits: had N's transaction failed, N+1
    would have to be dropped and fetched again, and a budget check would have
    to count N's reads before N commits; the prototype stops instead (it
    raises), which is why it lives here only. One ``now`` for the drain (the
    bench's clock stands still)."""

    def __init__(self, poller: Poller, pipeline: Pipeline, prepare_async: PrepareAsync) -> None:
        self.poller, self.pipeline, self.prepare_async = poller, pipeline, prepare_async
        self._pruned = False

    def drain(self) -> None:
        poller = self.poller
        now = poller.clock.now()
        pending: tuple[FetchResult, Callable[[], Any] | None] | None = self._fetch(poller.cursor(), now)
        while pending is not None:
            result, wait = pending
            # N+1, from N's uncommitted cursor; after the empty fetch, nothing
            pending = self._fetch(result.cursor, now) if result.mentions else None
            self._commit(result, wait() if wait is not None else None, now=now)

    def _fetch(self, cursor: dict, now: datetime) -> tuple[FetchResult, Callable[[], Any] | None]:
        result = self.poller.source.fetch(cursor, now=now)
        return result, (self.prepare_async(result.mentions) if result.mentions else None)

    def _commit(self, result: FetchResult, prepared: Any, *, now: datetime) -> None:
        poller, source = self.poller, self.poller.source
        with poller.Session.begin() as session:
            state = load_state(session, source)
            usage = usage_for_month(session, source.name, now)
            stop = over_budget(poller.budget, spent=usage.spend if usage else 0.0,
                               posts_read=usage.posts_read if usage else 0, now=now)
            if state.status == "failing" or (state.next_poll_at is not None and now < state.next_poll_at) or stop:
                raise SystemExit(f"source {source.name}: a poll would not run now ({state.status}; {stop})")
            stored = store_mentions(session, result.mentions, source=source.name, now=now, own_handles=poller.own_handles)
            if stored:
                self.pipeline.apply(session, stored, prepared, now=now)
            record_success(session, source, result, stored=len(stored), now=now)
            billed = None
            if result.post_ids is not None or result.user_ids is not None:
                billed = billed_reads(session, platform=poller.platform, result=result, started=now, ended=now)
                if not self._pruned:
                    prune_billed_reads(session, platform=poller.platform, now=now)
                    self._pruned = True
            record_usage(session, source=source.name, result=result, budget=poller.budget, now=now, billed=billed)


# -- the bench -------------------------------------------------------------------


SUMMED_TABLES = ("mentions", "scores", "mention_tags", "alerts", "alert_mentions", "outbox")


def database_summary(Session: sessionmaker) -> dict:
    """What the run left in the database: rows per table, and each source's
    cursor, state and month's usage (to check that every way did the same)."""
    with Session() as session:
        sql = lambda statement: session.connection().exec_driver_sql(statement).all()  # noqa: E731
        rows = {table: sql(f"SELECT count(*) FROM {table}")[0][0] for table in SUMMED_TABLES}
        state = sql("SELECT source, cursor, status, posts_read, mentions_stored FROM source_state ORDER BY source")
        usage = sql("SELECT source, month, polls, posts_read, spend FROM source_usage ORDER BY source")
    return {"rows": rows, "sources": [tuple(r) for r in state] + [tuple(r) for r in usage]}


def run(texts: list[str], batch: int, *, drafts: bool, sources: int, workers: int, pipelined: bool = False,
        freeze: bool = True) -> dict:
    """One run; ``workers``: 0 (score in process) or 1 (score in a worker process);
    ``pipelined``: each source drained by PipelinedDrain (scoring in the worker
    process, or with no worker in a thread of this process); ``freeze``: the
    start-up objects frozen (brandpulse.heap), in the worker process too."""
    with bench_database(drafts=drafts) as (settings, Session):
        pool = None
        if workers:
            # spawn: a fresh interpreter, never a fork of a process with threads and open connections
            pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                       initializer=_init_worker, initargs=(settings, freeze))
        try:
            pipeline = PooledPipeline(settings, pool) if pool is not None else Pipeline(settings)
            pipeline.analyzer_for("acme").score_many(["warm up"], langs=[None], brand=settings.brand("acme"))

            def make_pollers() -> list[Poller]:
                mentions = make_mentions(texts)
                share = -(-len(mentions) // sources)
                return [
                    Poller(source=ListSource(mentions[i * share : (i + 1) * share], batch, name=f"bench-{i}"),
                           Session=Session, clock=FakeClock(T0 + timedelta(days=1)), handler=pipeline,
                           own_handles=frozenset({"acmeair"}))
                    for i in range(sources)
                ]

            errors: list[str] = []

            def drain(poller: Poller) -> None:
                try:
                    if pipelined:
                        with ThreadPoolExecutor(max_workers=1) as scorer:
                            PipelinedDrain(poller, pipeline, prepare_in_thread(pipeline, scorer)).drain()
                        return
                    while True:
                        outcome = poller.poll_once()
                        if outcome.status != "ok":
                            errors.append(f"{poller.source.name}: {outcome.status} {outcome.error}")
                            return
                        if outcome.fetched == 0:
                            return
                except BaseException as exc:  # a thread's failure must fail the run, not vanish
                    errors.append(f"{poller.source.name}: {type(exc).__name__}: {exc}")

            worker_cpu = pool.submit(_worker_cpu).result() if pool is not None else 0.0
            with start_up_heap(freeze=freeze):  # as in pipeline_throughput.py: the bench's posts are made after
                pollers = make_pollers()
                t, cpu = time.perf_counter(), time.process_time()
                if sources == 1:
                    drain(pollers[0])
                else:
                    threads = [threading.Thread(target=drain, args=(p,)) for p in pollers]
                    for th in threads:
                        th.start()
                    for th in threads:
                        th.join()
                checkpoint(Session)
                elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
            worker_cpu = (pool.submit(_worker_cpu).result() - worker_cpu) if pool is not None else 0.0
            if errors:
                raise SystemExit("; ".join(errors))
            stats = pipeline.stats
            done = {"stored": stats.mentions, "scored": stats.scored, "alert updates": stats.alerts_touched,
                    "drafts": stats.drafts, **database_summary(Session)}
        finally:
            if pool is not None:
                pool.shutdown()
    return {"rate": len(texts) / elapsed, "cpu": cpu, "worker_cpu": worker_cpu, "n": len(texts), "done": done}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--sources", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-freeze", action="store_true",
                        help="do not freeze the start-up objects (brandpulse.heap) as `brandpulse run` does")
    args = parser.parse_args()
    freeze = not args.no_freeze
    texts, vader = posts_and_vader(posts=args.posts, batch=args.batch, repeat=args.repeat, freeze=freeze)
    rate_vader = vader["rate"]
    print(f"bare VADER: {rate_vader:,.0f} posts/s ({1e6 / rate_vader:.1f} µs/post; CPU {vader['cpu'] * 1e6:.1f})")
    ways = [
        ("in process, 1 source", 1, 0, False),
        (f"in process, {args.sources} sources in threads", args.sources, 0, False),
        (f"worker process scores, {args.sources} sources in threads", args.sources, 1, False),
        ("thread scores batch N+1 while N is written, 1 source", 1, 0, True),
        ("worker scores batch N+1 while N is written, 1 source", 1, 1, True),
    ]
    for variant, drafts in (("alerting", False), ("full", True)):
        print(f"pipeline, {variant}:")
        reference: dict | None = None  # the first way's work; every run of every way must match it
        sources_reference: dict[int, list] = {}  # cursors, states and usage, per number of sources
        for label, sources, workers, pipelined in ways:
            runs = [run(texts, args.batch, drafts=drafts, sources=sources, workers=workers, pipelined=pipelined,
                        freeze=freeze) for _ in range(args.repeat)]
            for r in runs:  # checked, not asserted: python -O must not skip it
                done = {k: v for k, v in r["done"].items() if k != "sources"}
                reference = reference if reference is not None else done
                expected = sources_reference.setdefault(sources, r["done"]["sources"])
                if done["stored"] != r["n"] or done != reference or r["done"]["sources"] != expected:
                    raise SystemExit(f"{label} did other work than {ways[0][0]}: {r['done']}"
                                     f" != {reference}, sources {expected}")
            best = max(runs, key=lambda r: r["rate"])
            n = best["n"]
            cpu = (best["cpu"] + best["worker_cpu"]) * 1e6 / n
            print(f"  {label:54s} {best['rate']:8,.0f} posts/s  ratio {best['rate'] / rate_vader:.2f}"
                  f"  CPU {cpu:6.1f} µs/post (this process {best['cpu'] * 1e6 / n:.1f}"
                  f" + worker {best['worker_cpu'] * 1e6 / n:.1f})"
                  f"  runs: {', '.join(format(r['rate'], ',.0f') for r in runs)}")
        print(f"  every way: {reference['stored']} stored, {reference['alert updates']} alert updates,"
              f" {reference['drafts']} drafts; rows {reference['rows']}")


if __name__ == "__main__":
    main()
