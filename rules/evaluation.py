"""Measuring an analyzer against labelled posts.

A labelled CSV has a header with at least ``text`` and ``label`` (negative,
neutral or positive); an optional ``brand`` column selects that brand's
configuration (its vocabulary) by id or name, case-insensitive, and an
optional ``lang`` column is passed to the analyzer as the platform's language
tag. HTML entities in the text (``&amp;``) are unescaped.

Metrics are computed over the three classes; an analyzer's ``unknown`` (a
language it does not support) counts as a wrong answer and shows as its own
column of the confusion matrix.
"""

from __future__ import annotations

import csv
import html
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from brandpulse.config import Brand, Settings

LABELS = ("negative", "neutral", "positive")
REQUIRED_COLUMNS = ("text", "label")
BATCH = 1000  # posts per score_many call, as the pipeline batches them


class LabelledDataError(Exception):
    """A labelled file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    label: str
    brand: str | None = None  # the CSV's brand value, as written
    lang: str | None = None
    line: int = 0


def read_labelled_csv(path: Path | str) -> list[Example]:
    """Read and check a labelled CSV. Raises LabelledDataError naming the problem."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return parse_labelled_rows(csv.reader(f), source=str(path))
    except FileNotFoundError:
        raise LabelledDataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise LabelledDataError(f"{path}: is a directory, not a CSV file") from None
    except UnicodeDecodeError as exc:
        raise LabelledDataError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise LabelledDataError(f"{path}: malformed CSV: {exc}") from None
    except OSError as exc:
        raise LabelledDataError(f"{path}: cannot read: {exc.strerror or exc}") from None


def parse_labelled_rows(rows: Iterable[Sequence[str]], *, source: str = "<input>") -> list[Example]:
    it = iter(rows)
    try:
        header = next(it)
    except StopIteration:
        raise LabelledDataError(f"{source}: empty file (expected a header with columns text,label)") from None
    columns = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise LabelledDataError(
            f"{source}: missing column{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}"
            f" (header has: {', '.join(repr(c) for c in columns) or 'nothing'})"
        )
    i_text, i_label = columns.index("text"), columns.index("label")
    i_brand = columns.index("brand") if "brand" in columns else None
    i_lang = columns.index("lang") if "lang" in columns else None
    examples: list[Example] = []
    bad: list[str] = []
    for line, row in enumerate(it, start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(columns):
            bad.append(f"line {line}: {len(row)} fields, the header has {len(columns)}")
            continue
        label = row[i_label].strip().lower()
        if label not in LABELS:
            bad.append(f"line {line}: unknown label {row[i_label]!r} (expected negative, neutral or positive)")
            continue
        brand = row[i_brand].strip() or None if i_brand is not None else None
        lang = row[i_lang].strip() or None if i_lang is not None else None
        examples.append(Example(html.unescape(row[i_text]), label, brand, lang, line))
    if bad:
        more = f" (and {len(bad) - 5} more)" if len(bad) > 5 else ""
        raise LabelledDataError(f"{source}: " + "; ".join(bad[:5]) + more)
    if not examples:
        raise LabelledDataError(f"{source}: no labelled rows after the header")
    return examples


# -- brands -------------------------------------------------------------------
class BrandResolver:
    """Maps a CSV ``brand`` value to a configured brand by id or name, case-insensitive."""

    def __init__(self, settings: Settings | None) -> None:
        self._by_key: dict[str, Brand] = {}
        if settings is not None:
            for b in settings.brands:
                self._by_key[b.name.strip().lower()] = b
            for b in settings.brands:  # ids win over names
                self._by_key[b.id.lower()] = b
        self.unmatched: Counter[str] = Counter()

    def __call__(self, value: str | None) -> Brand | None:
        if value is None:
            return None
        brand = self._by_key.get(value.strip().lower())
        if brand is None and self._by_key:
            self.unmatched[value] += 1
        return brand


# -- metrics ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ClassMetrics:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class Report:
    n: int
    accuracy: float
    macro_f1: float
    per_class: dict[str, ClassMetrics]
    confusion: dict[str, dict[str, int]]  # true label -> predicted label -> count
    predicted_labels: tuple[str, ...]
    posts_per_second: float = 0.0
    seconds: float = 0.0
    analyzer: str = ""
    notes: list[str] = field(default_factory=list)
    scores: list = field(default_factory=list, repr=False)  # the analyzer's Score per example, in order
    labels: list[str] = field(default_factory=list, repr=False)  # the true label per example, in order

    def to_json_dict(self) -> dict:
        """Exactly the keys of ``brandpulse eval --json``."""
        out: dict = {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "macro_f1": round(self.macro_f1, 4),
            "posts_per_second": round(self.posts_per_second, 1),
        }
        for label in LABELS:
            m = self.per_class[label]
            out[label] = {"precision": round(m.precision, 4), "recall": round(m.recall, 4), "f1": round(m.f1, 4)}
        return out


def _safe_div(a: float, b: float) -> float:
    return a / b if b else 0.0


def compute_metrics(y_true: Sequence[str], y_pred: Sequence[str]) -> Report:
    """Per-class precision/recall/F1, macro-F1 over the three classes, accuracy, confusion matrix."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no examples to score")
    confusion: dict[str, dict[str, int]] = {t: defaultdict(int) for t in LABELS}
    for t, p in zip(y_true, y_pred):
        confusion[t][p] += 1
    predicted = tuple(LABELS) + tuple(sorted({p for p in y_pred} - set(LABELS)))
    per_class: dict[str, ClassMetrics] = {}
    for label in LABELS:
        tp = confusion[label][label]
        predicted_as = sum(confusion[t][label] for t in LABELS)
        support = sum(confusion[label].values())
        precision = _safe_div(tp, predicted_as)
        recall = _safe_div(tp, support)
        f1 = _safe_div(2 * precision * recall, precision + recall)
        per_class[label] = ClassMetrics(precision, recall, f1, support)
    correct = sum(confusion[label][label] for label in LABELS)
    return Report(
        n=len(y_true),
        accuracy=correct / len(y_true),
        macro_f1=sum(m.f1 for m in per_class.values()) / len(LABELS),
        per_class=per_class,
        confusion={t: {p: confusion[t].get(p, 0) for p in predicted} for t in LABELS},
        predicted_labels=predicted,
    )


def evaluate(analyzer, examples: Sequence[Example], *, settings: Settings | None = None, batch: int = BATCH) -> Report:
    """Score every example with ``analyzer`` (batched per brand, as the pipeline
    does) and compare with the labels. Throughput counts scoring time only."""
    resolve = BrandResolver(settings)
    groups: dict[str | None, list[int]] = defaultdict(list)
    brands: dict[str | None, Brand | None] = {}
    for i, ex in enumerate(examples):
        brand = resolve(ex.brand)
        key = brand.id if brand is not None else None
        brands[key] = brand
        groups[key].append(i)
    predicted: list[str] = [""] * len(examples)
    kept: list = [None] * len(examples)
    seconds = 0.0
    for key, idx in groups.items():
        for start in range(0, len(idx), batch):
            chunk = idx[start : start + batch]
            texts = [examples[i].text for i in chunk]
            langs = [examples[i].lang for i in chunk]
            t0 = time.perf_counter()
            scores = analyzer.score_many(texts, langs=langs, brand=brands[key])
            seconds += time.perf_counter() - t0
            for i, s in zip(chunk, scores):
                predicted[i] = str(s.label.value if hasattr(s.label, "value") else s.label)
                kept[i] = s
    report = compute_metrics([ex.label for ex in examples], predicted)
    report.scores = kept
    report.labels = [ex.label for ex in examples]
    report.seconds = seconds
    report.posts_per_second = len(examples) / seconds if seconds > 0 else float("inf")
    report.analyzer = f"{analyzer.name} {analyzer.version}"
    for value, count in sorted(resolve.unmatched.items()):
        report.notes.append(f"brand {value!r} ({count} rows) matches no configured brand: scored without brand vocabulary")
    return report


# -- precision/recall trade-off of the negative class ---------------------------
@dataclass(frozen=True, slots=True)
class CurvePoint:
    threshold: float  # flag "negative" when negativity >= threshold
    precision: float
    recall: float


def negativity(score) -> float:
    """How negative an analyzer found a post: P(negative) when the score carries
    class probabilities (trained models), else minus the compound."""
    details = getattr(score, "details", None) or {}
    p = details.get("negative")
    if isinstance(p, (int, float)) and not isinstance(p, bool):
        return float(p)
    return -float(score.compound)


def negative_curve(values: Sequence[float], y_true: Sequence[str]) -> list[CurvePoint]:
    """Precision and recall of "negative" when every post whose negativity is at
    least a threshold is flagged, for each distinct value (most negative first)."""
    if len(values) != len(y_true):
        raise ValueError(f"{len(y_true)} labels but {len(values)} values")
    total = sum(1 for y in y_true if y == "negative")
    if not total:
        return []
    order = sorted(range(len(values)), key=lambda i: -values[i])
    points: list[CurvePoint] = []
    tp = flagged = 0
    for pos, i in enumerate(order):
        flagged += 1
        tp += y_true[i] == "negative"
        if pos + 1 < len(order) and values[order[pos + 1]] == values[i]:
            continue  # ties are flagged together
        points.append(CurvePoint(values[i], tp / flagged, tp / total))
    return points


def precision_at_recall(curve: Sequence[CurvePoint], recall: float) -> CurvePoint | None:
    """The point of highest precision whose recall is at least ``recall``."""
    ok = [p for p in curve if p.recall >= recall]
    return max(ok, key=lambda p: (p.precision, p.threshold)) if ok else None


def recall_at_precision(curve: Sequence[CurvePoint], precision: float) -> CurvePoint | None:
    """The point of highest recall whose precision is at least ``precision``."""
    ok = [p for p in curve if p.precision >= precision]
    return max(ok, key=lambda p: (p.recall, -p.threshold)) if ok else None


def breakeven(curve: Sequence[CurvePoint]) -> CurvePoint | None:
    """The point where precision and recall are closest."""
    return min(curve, key=lambda p: abs(p.precision - p.recall)) if curve else None


def format_report(report: Report) -> str:
    lines = [f"analyzer: {report.analyzer}", f"posts: {report.n}", ""]
    lines.append(f"{'class':<10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}")
    for label in LABELS:
        m = report.per_class[label]
        lines.append(f"{label:<10} {m.precision:>9.3f} {m.recall:>7.3f} {m.f1:>6.3f} {m.support:>8}")
    lines.append("")
    lines.append(f"macro-F1: {report.macro_f1:.3f}   accuracy: {report.accuracy:.3f}")
    lines.append("")
    cols = report.predicted_labels
    lines.append("confusion matrix (rows: true label, columns: predicted)")
    lines.append(f"{'':<10} " + " ".join(f"{c:>9}" for c in cols))
    for t in LABELS:
        lines.append(f"{t:<10} " + " ".join(f"{report.confusion[t][c]:>9}" for c in cols))
    lines.append("")
    if report.scores and len(report.scores) == len(report.labels) and all(s is not None for s in report.scores):
        curve = negative_curve([negativity(s) for s in report.scores], report.labels)
        if curve:
            parts = []
            for r in (0.7, 0.8, 0.9):
                pt = precision_at_recall(curve, r)
                parts.append(f"P@R{r:.1f} {pt.precision:.3f}" if pt else f"P@R{r:.1f} -")
            be = breakeven(curve)
            parts.append(f"breakeven P {be.precision:.3f} R {be.recall:.3f}")
            lines.append("negative precision/recall at other thresholds of the same scores: " + "  ".join(parts))
            lines.append("")
    lines.append(f"throughput: {report.posts_per_second:,.0f} posts/s ({report.seconds:.2f} s scoring, one process)")
    lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)


def format_json(report: Report) -> str:
    return json.dumps(report.to_json_dict(), sort_keys=False)
