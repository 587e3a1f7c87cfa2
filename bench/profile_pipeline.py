"""Where the pipeline's time goes: cProfile over one run of the pipeline bench.

    python bench/profile_pipeline.py [--posts 5000] [--batch 500] [--alerting] [--sort tottime] [--top 40]

Runs the same pipeline as bench/pipeline_throughput.py ("full" variant unless
--alerting) once to warm up, then once under cProfile, and prints the stage
breakdown (µs/post, measured without the profiler in the warm-up run) and the
profile's top functions. cProfile inflates the cost of many small calls: use
it to see *where* time goes, and pipeline_throughput.py for how much.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pipeline_throughput import bench_pipeline, load_texts, stage_lines  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--alerting", action="store_true", help="the alerting chain only (no drafted replies)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key (tottime, cumulative, ...)")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    texts, origin = load_texts(args.posts)
    drafts = not args.alerting
    rate, stats = bench_pipeline(texts, args.batch, drafts=drafts)
    print(f"posts: {len(texts)} from {origin}; batch {args.batch}; {'full' if drafts else 'alerting'} pipeline")
    print(f"without profiler: {rate:,.0f} posts/s")
    for line in stage_lines(stats, len(texts)):
        print(line)
    profile = cProfile.Profile()
    profile.enable()
    bench_pipeline(texts, args.batch, drafts=drafts)
    profile.disable()
    pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
