"""Complaint detection: quality and speed of the analyzers, in one run.

    python bench/complaints.py [--shared DIR] [--config config/airline-eval.yaml] [--no-cv] [--skip-training]

Reads ``../shared/data`` (or --shared / $BRANDPULSE_SHARED) when present;
prints what it measured and asserts nothing. Runs pinned to one CPU core
(and one BLAS thread), so posts/s are single-core numbers.

1. ``airline_dev.csv`` with the airline config's vocabulary: plain VADER and
   the default ``customer-care`` analyzer (negative precision/recall,
   macro-F1, accuracy, posts/s), per airline too.
2. TweetEval validation (general tweets, no brand): both analyzers, with
   macro-recall (the issue's yardstick there).
3. Cross-airline: the trained classifier fitted on two airlines and
   evaluated on the third, each way round (with the training command's
   5-fold threshold tuning unless --no-cv), and its posts/s.
4. What the data allows: the same classifier in 5-fold cross-validation
   over all three airlines pooled (in-domain), per airline.
5. Language detection: rules.language vs lingua-language-detector (when
   installed) on the same posts; the Japanese analyzer's posts/s.

Besides each analyzer's operating point, sections 1, 3 and 4 print points of
the negative class's precision/recall curve (threshold swept over the
analyzer's negativity: minus the compound, or P(negative)): precision at a
given recall (P@R), recall at a given precision (R@P) and the breakeven
where the two meet — what any threshold of the same scores could reach.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# One core, one BLAS thread: set before numpy/scikit-learn load.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
try:
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    PINNED = f"pinned to CPU {sorted(os.sched_getaffinity(0))[0]}"
except (AttributeError, OSError):  # pragma: no cover - not Linux
    PINNED = "not pinned (no sched_setaffinity)"

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from brandpulse.config import load_settings  # noqa: E402
from rules.analyzers.registry import build_analyzer  # noqa: E402
from rules.evaluation import (  # noqa: E402
    Example,
    breakeven,
    evaluate,
    negative_curve,
    negativity,
    precision_at_recall,
    read_labelled_csv,
    recall_at_precision,
)

TE_LABELS = {"0": "negative", "1": "neutral", "2": "positive"}
JAPANESE_SAMPLE = [
    "フライトが欠航になった。最悪です",
    "荷物が届かない。返金してほしい",
    "スタッフの対応が丁寧で嬉しかった",
    "ログインできない、何度も試したのに",
    "明日の便は予定通りですか",
    "ありがとうございました！快適なフライトでした",
]


def line(name: str, report, *, extra: str = "") -> str:
    neg = report.per_class["negative"]
    macro_recall = sum(m.recall for m in report.per_class.values()) / 3
    return (
        f"  {name:<34} negative P {neg.precision:.3f} R {neg.recall:.3f} F1 {neg.f1:.3f} | macro-F1 {report.macro_f1:.3f}"
        f" macro-recall {macro_recall:.3f} accuracy {report.accuracy:.3f} | {report.posts_per_second:>8,.0f} posts/s{extra}"
    )


def curve_line(values, labels, *, recalls=(0.75, 0.80, 0.85, 0.88), precisions=(0.85, 0.88)) -> str:
    curve = negative_curve(values, labels)
    parts = []
    for r in recalls:
        pt = precision_at_recall(curve, r)
        parts.append(f"P@R{r:.2f} {pt.precision:.3f}" if pt else f"P@R{r:.2f} -")
    for p in precisions:
        pt = recall_at_precision(curve, p)
        parts.append(f"R@P{p:.2f} {pt.recall:.3f}" if pt else f"R@P{p:.2f} -")
    be = breakeven(curve)
    if be is not None:
        parts.append(f"breakeven {be.precision:.3f}/{be.recall:.3f}")
    return "      curve: " + "  ".join(parts)


def report_curve(report, examples) -> str:
    return curve_line([negativity(s) for s in report.scores], [ex.label for ex in examples])


def best_of(analyzer, examples, settings, repeat: int):
    best = None
    for _ in range(repeat):
        r = evaluate(analyzer, examples, settings=settings)
        if best is None or r.posts_per_second > best.posts_per_second:
            best = r
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", type=Path, default=Path(os.environ.get("BRANDPULSE_SHARED", REPO.parent / "shared")))
    ap.add_argument("--config", type=Path, default=REPO / "config" / "airline-eval.yaml")
    ap.add_argument("--repeat", type=int, default=3, help="throughput: best of N runs")
    ap.add_argument("--no-cv", action="store_true", help="train without the 5-fold threshold tuning (faster)")
    ap.add_argument("--skip-training", action="store_true")
    args = ap.parse_args()

    data = args.shared / "data"
    airline_csv = data / "airline_dev.csv"
    if not airline_csv.exists():
        print(f"no {airline_csv}: nothing to measure (pass --shared DIR)")
        return 0
    settings = load_settings(args.config)
    print(f"complaint detection bench — {PINNED}; config {args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config}")

    vader = build_analyzer("vader")
    care = build_analyzer("customer-care")
    airline = read_labelled_csv(airline_csv)
    print(f"\n1. {airline_csv.name}: {len(airline)} posts (brand column → config brand vocabulary)")
    r_vader = best_of(vader, airline, settings, args.repeat)
    r_care = best_of(care, airline, settings, args.repeat)
    print(line("vader (baseline)", r_vader))
    print(report_curve(r_vader, airline))
    print(line("customer-care (default)", r_care))
    print(report_curve(r_care, airline))
    print(f"  customer-care / vader throughput: {r_care.posts_per_second / r_vader.posts_per_second:.2f}")
    brands = sorted({ex.brand for ex in airline if ex.brand})
    for b in brands:
        subset = [ex for ex in airline if ex.brand == b]
        r = evaluate(care, subset, settings=settings)
        print(line(f"  customer-care, {b} ({len(subset)})", r))
        print(report_curve(r, subset))
    care_nobrand = evaluate(care, [Example(ex.text, ex.label) for ex in airline], settings=None)
    print(line("customer-care without vocabulary", care_nobrand))

    te_text, te_labels = data / "tweeteval_val_text.txt", data / "tweeteval_val_labels.txt"
    if te_text.exists() and te_labels.exists():
        texts = te_text.read_text(encoding="utf-8").split("\n")
        labels = te_labels.read_text(encoding="utf-8").split()
        texts = texts[: len(labels)]
        te = [Example(t, TE_LABELS[l]) for t, l in zip(texts, labels)]
        print(f"\n2. TweetEval validation: {len(te)} general tweets (no brand)")
        print(line("vader (baseline)", best_of(vader, te, None, args.repeat)))
        print(line("customer-care (default)", best_of(care, te, None, args.repeat)))
    else:
        print("\n2. TweetEval files not found: skipped")

    if not args.skip_training:
        from rules.analyzers.trained import TrainedAnalyzer
        from rules.evaluation import BrandResolver
        from rules.training import fit_model

        resolve = BrandResolver(settings)
        print(f"\n3. cross-airline: train on two airlines, evaluate on the third ({'no CV' if args.no_cv else '5-fold CV picks the negative threshold'})")
        for held_out in brands:
            brand = resolve(held_out)
            train = [ex for ex in airline if ex.brand != held_out]
            test = [ex for ex in airline if ex.brand == held_out]
            t0 = time.perf_counter()
            model = fit_model(train, brand=brand, cross_validate=not args.no_cv)
            fit_s = time.perf_counter() - t0
            analyzer = TrainedAnalyzer(model)
            report = best_of(analyzer, test, settings, args.repeat)
            big = test * max(1, 3000 // len(test))  # throughput on ≥ 3,000 posts
            speed = best_of(analyzer, big, settings, args.repeat).posts_per_second
            print(line(f"held out {held_out} ({len(test)})", report, extra=f" ({speed:,.0f} on {len(big)}; fit {fit_s:.0f} s, threshold {model.negative_threshold})"))
            print(report_curve(report, test))

        import numpy as np
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        from rules.training import build_classifier, prepare_text

        print("\n4. what the data allows: the same classifier, 5-fold cross-validation over all airlines pooled (in-domain)")
        vocabulary = resolve(brands[0]).vocabulary.model_dump() if resolve(brands[0]) is not None else None
        texts = [prepare_text(ex.text) for ex in airline]
        labels = np.array([ex.label for ex in airline])
        t0 = time.perf_counter()
        proba = cross_val_predict(
            build_classifier(vocabulary=vocabulary), texts, labels,
            cv=StratifiedKFold(n_splits=5, shuffle=True, random_state=0), method="predict_proba",
        )
        p_neg = proba[:, sorted(set(labels)).index("negative")]
        print(f"  all airlines ({len(airline)}; {time.perf_counter() - t0:.0f} s)")
        print(curve_line(list(p_neg), list(labels)))
        for b in brands:
            idx = [i for i, ex in enumerate(airline) if ex.brand == b]
            print(f"  {b} ({len(idx)})")
            print(curve_line([p_neg[i] for i in idx], [labels[i] for i in idx]))

    print("\n5. language detection and Japanese")
    from rules.language import detect_language

    sample = [ex.text for ex in airline]
    t0 = time.perf_counter()
    for t in sample:
        detect_language(t)
    ours = len(sample) / (time.perf_counter() - t0)
    print(f"  rules.language.detect_language: {ours:>10,.0f} posts/s")
    try:
        from lingua import LanguageDetectorBuilder

        detector = LanguageDetectorBuilder.from_all_languages().build()
        few = sample[:500]
        t0 = time.perf_counter()
        for t in few:
            detector.detect_language_of(t)
        print(f"  lingua (all languages):         {len(few) / (time.perf_counter() - t0):>10,.0f} posts/s (500 posts)")
    except ImportError:
        print("  lingua-language-detector not installed: not compared")
    from rules.analyzers.japanese import japanese_available

    if japanese_available():
        ja = build_analyzer("japanese")
        ja.score_many(JAPANESE_SAMPLE)
        texts = JAPANESE_SAMPLE * 200
        t0 = time.perf_counter()
        ja.score_many(texts)
        print(f"  japanese analyzer:              {len(texts) / (time.perf_counter() - t0):>10,.0f} posts/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
