"""What billing X reads once per UTC day costs a poll.

    python bench/billed_reads.py [--polls 200] [--page 100] [--repeat 3] [--postgres URL]

A scripted X-like source hands the poller pages of ``--page`` new posts,
each page with ``--page // 4`` included (referenced) posts and ``--page // 2``
authors drawn from a pool of 500 (so authors repeat across polls, as on a
brand's mentions). The polls run on a fresh migrated database (SQLite file
on disk, WAL; or PostgreSQL with ``--postgres``) with the ids in the result:
each post and user id goes into ``billed_reads`` with ON CONFLICT DO NOTHING,
one batched insert per kind, the new ones counted. No pipeline handler: the
poll stores the mentions, its cursor, state and usage, the least a poll does.

Prints, best of ``--repeat``: the time spent billing (``billed_reads``, timed
around each call inside the poll's transaction) and the whole poll, both in
µs per post read (posts + included), and the billed share of the reads. The
billing time is timed directly rather than as the difference of two runs,
which on a busy machine is mostly noise.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.db import make_engine, session_factory, upgrade  # noqa: E402
from brandpulse.db.models import SourceUsageRow  # noqa: E402
from brandpulse.types import Author, FetchResult, Mention  # noqa: E402
from listener.budget import SourceBudget  # noqa: E402
from listener.poller import Poller  # noqa: E402

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


class PagesSource:
    kind = "x"
    platform = "x"
    brand = "acme"

    def __init__(self, pages: list[FetchResult]) -> None:
        self.name = "bench-x"
        self.pages = list(pages)

    def fetch(self, cursor, *, now):
        return self.pages.pop(0)


def pages(polls: int, page: int, *, seed: int = 7) -> list[FetchResult]:
    rng = random.Random(seed)
    out = []
    next_id = 10**18
    for p in range(polls):
        mentions, post_ids, user_ids = [], [], []
        for i in range(page):
            next_id += 1
            author = f"u{rng.randrange(500)}"
            mentions.append(Mention(
                platform="x", external_id=str(next_id), brand="acme",
                author=Author(platform="x", id=author, handle=author, followers=100),
                text=f"post {next_id} about acme air", created_at=T0 + timedelta(seconds=p * page + i), lang="en",
                raw={"id": str(next_id)}))
            post_ids.append(str(next_id))
        post_ids += [str(10**17 + rng.randrange(5000)) for _ in range(page // 4)]  # referenced posts
        user_ids += list(dict.fromkeys(m.author.id for m in mentions))[: page // 2]
        out.append(FetchResult(mentions, {"since_id": next_id}, posts_read=len(post_ids), users_read=len(user_ids),
                               post_ids=tuple(post_ids), user_ids=tuple(user_ids)))
    return out


def run(url: str | None, polls: int, page: int) -> tuple[float, float, int, int, int]:
    """Seconds polling, seconds billing, posts read, posts billed, users billed."""
    import listener.poller as poller_module

    billing = [0.0]
    real = poller_module.billed_reads

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            billing[0] += time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(url or f"sqlite:///{Path(tmp) / 'bench.db'}")
        if url:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA IF EXISTS bench_billed CASCADE; CREATE SCHEMA bench_billed"))
            engine.dispose()
            engine = make_engine(url, connect_args={"options": "-csearch_path=bench_billed"})
        upgrade(engine)
        Session = session_factory(engine)
        clock = FakeClock(T0)
        work = pages(polls, page)
        read = sum(r.posts_read for r in work)
        poller = Poller(source=PagesSource(work), Session=Session, clock=clock,
                        budget=SourceBudget(price_per_post=0.005, price_per_user=0.01))
        poller_module.billed_reads = timed
        try:
            start = time.perf_counter()
            for _ in range(polls):
                outcome = poller.poll_once()
                assert outcome.status == "ok", outcome
                clock.advance(timedelta(seconds=30))
            seconds = time.perf_counter() - start
        finally:
            poller_module.billed_reads = real
        with Session() as s:
            usage = s.scalars(select(SourceUsageRow)).one()
            posts_billed, users_billed = usage.posts_billed, usage.users_billed
        if url:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA bench_billed CASCADE"))
        engine.dispose()
        return seconds, billing[0], read, posts_billed, users_billed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--page", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    runs = [run(args.postgres, args.polls, args.page) for _ in range(args.repeat)]
    poll_s = min(r[0] for r in runs)
    bill_s = min(r[1] for r in runs)
    _, _, read, posts_billed, users_billed = runs[0]
    backend = "PostgreSQL" if args.postgres else "SQLite (file, WAL)"
    users_read = args.polls * (args.page // 2)
    print(f"{backend}: {args.polls} polls x {args.page} posts + {args.page // 4} included, {args.page // 2} authors;"
          f" {read:,} posts read, best of {args.repeat}")
    print(f"  billing (billed_reads)  {bill_s / read * 1e6:8.1f} µs per post read")
    print(f"  whole poll              {poll_s / read * 1e6:8.1f} µs per post read (no pipeline handler)")
    print(f"  billed: {posts_billed:,} of {read:,} posts, {users_billed:,} of {users_read:,} users")


if __name__ == "__main__":
    main()
