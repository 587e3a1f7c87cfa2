"""Fitting, saving and loading the per-brand complaint classifier.

The model (:class:`StackedClassifier`) has three feature blocks — TF-IDF
word 1–2-grams, character 2–5-grams (within words), and the customer-care
analyzer's evidence (VADER, complaint and praise sums, one number per cue
family, the post's structure) — each in its own multinomial logistic
regression, and a second logistic regression that combines their
out-of-fold class log-probabilities with the evidence. It trains in well
under a minute on a few thousand posts (cross-validation included) and
scores thousands of posts per second on one core. Models saved before it
(one logistic regression over all three blocks, :func:`build_pipeline`) still
load and predict; their metadata has no ``model`` key.

Saved models live under ``<data_dir>/models/<brand>/``:

* ``<name>-<version>.joblib`` — the fitted :class:`ComplaintModel`;
* ``<name>-<version>.json`` — metadata: version, brand, training data hash
  (sha256 over the sorted (label, text) pairs), label counts, cross-validated
  metrics, library versions and when it was trained.

``version`` is the UTC training time, ``YYYYmmddTHHMMSSZ``, so the newest
model sorts last. Analyzer names select them (see ``rules.analyzers.trained``):
``trained:<brand>`` is the newest model named ``complaints`` for that brand,
``trained:<brand>/<name>`` the newest with that name, and
``trained:<brand>/<name>@<version>`` (or ``trained:<brand>@<version>``) one
exact version.

Training only reads: labelled CSVs, or the team's feedback from the database
(:func:`labels_from_feedback`) in one short read transaction. It runs as its
own command and process, so ingestion never waits for it.
"""

from __future__ import annotations

import hashlib
import html
import json
import pickle
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin

from brandpulse.config import Brand
from rules.evaluation import LABELS, Example, compute_metrics

DEFAULT_MODEL_NAME = "complaints"
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VERSION_FORMAT = "%Y%m%dT%H%M%SZ"
NOT_A_COMPLAINT = "not a complaint"
MISSED_COMPLAINT_ACTION = "feedback.missed_complaint"

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"(?<![\w@])@\w+")
# Cue families of the customer-care analyzer used as features, in a fixed order.
CARE_FAMILIES = (
    "service_failure", "waiting", "delay", "money", "cancellation", "inability", "burden", "repeated_contact",
    "churn", "sarcasm", "anger", "complaint_question", "help_request", "praise", "brand_negative",
    "brand_positive", "brand_urgent", "brand_product_failure", "emphatic_question", "gratitude",
    "criticism",
)
# Models saved before feature layout 2 used these families and no structure features.
LEGACY_CARE_FAMILIES = CARE_FAMILIES[:18]
# A fitted model stores the families it was trained with (``families_``), so
# families added here (layout 3: "criticism") change only newly trained models.
CARE_LAYOUT = 3
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i've|i'd|i'll|me|my|mine|we|we're|we've|us|our)\b")
_SECOND_PERSON = re.compile(r"\b(?:you|you're|you've|your|u|ur|y'all)\b")
_CAPS = re.compile(r"\b[A-Z]{3,}\b")


class TrainingError(Exception):
    """Training cannot proceed (too few examples, one class only, bad model name…)."""


def prepare_text(text: str) -> str:
    """What the n-gram features see: entities unescaped, links and handles generalised."""
    text = html.unescape(text) if "&" in text else text
    return _HANDLE.sub(" @user ", _URL.sub(" httpurl ", text))


class CareFeatures(BaseEstimator, TransformerMixin):
    """scikit-learn transformer: the customer-care analyzer's evidence as numbers.

    Holds the brand vocabulary it was trained with; the analyzer itself (VADER
    and compiled cues) is rebuilt after unpickling rather than stored.

    Layout 2 (models trained since) adds the post's structure: VADER's shares
    of negative and positive words, the shares of sentences that ask for
    information, complain in a question or ask otherwise, "!" and "?" counts,
    words in capitals, a shared link, first- and second-person words, length.
    A model saved with layout 1 keeps computing layout 1's columns.
    """

    def __init__(self, vocabulary: dict | None = None) -> None:
        self.vocabulary = vocabulary

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("_analyzer", None)
        state.pop("_brand", None)
        return state

    def fit(self, texts, y=None) -> "CareFeatures":
        self.layout_ = CARE_LAYOUT
        self.families_ = CARE_FAMILIES
        return self

    def _ready(self):
        analyzer = getattr(self, "_analyzer", None)
        if analyzer is None:
            from rules.analyzers.customer_care import CustomerCareAnalyzer

            analyzer = self._analyzer = CustomerCareAnalyzer()
            self._brand = Brand(id="model", name="model", vocabulary=self.vocabulary) if self.vocabulary else None
        return analyzer

    def transform(self, texts):
        from scipy import sparse

        from rules.analyzers.customer_care import combine

        analyzer = self._ready()
        layout = getattr(self, "layout_", 1)
        families = getattr(self, "families_", LEGACY_CARE_FAMILIES)
        width = 7 + len(families) + (_STRUCTURE_WIDTH if layout >= 2 else 0)
        rows = np.zeros((len(texts), width), dtype=np.float64)
        for i, text in enumerate(texts):
            ev = analyzer.evidence(text, brand=self._brand)
            fam = ev.families
            rows[i, :7] = (
                ev.vader, combine(ev), min(ev.complaint, 6.0) / 3, min(ev.praise, 6.0) / 3,
                ev.emoji / 2, ev.hashtags / 2, float(ev.sarcasm),
            )
            for j, f in enumerate(families):
                v = fam.get(f)
                if v:
                    rows[i, 7 + j] = v / 2
            if layout >= 2:
                rows[i, 7 + len(families):] = _structure(text, ev)
        return sparse.csr_matrix(rows)

    def fit_transform(self, texts, y=None):
        return self.fit(texts, y).transform(texts)


_STRUCTURE_WIDTH = 12


def _structure(text: str, ev) -> tuple[float, ...]:
    """The post's shape, each roughly in [0, 1] (see :class:`CareFeatures`)."""
    low = text.lower()
    return (
        ev.vader_negative, ev.vader_positive, ev.asks, ev.complaint_questions, ev.other_questions,
        min(text.count("!"), 3) / 3, min(text.count("?"), 3) / 3, min(len(_CAPS.findall(text)), 5) / 5,
        float("http" in low), float(bool(_FIRST_PERSON.search(low))),
        float(bool(_SECOND_PERSON.search(low))), min(len(low.split()), 40) / 40,
    )


_WORD_TOKENS = r"(?u)\b\w[\w']*\b|[!?]"


def _words_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=_WORD_TOKENS)


def _chars_vectorizer():
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True)


def build_pipeline(*, vocabulary: dict | None = None, C: float = 1.0):
    """The single linear model (models saved before :data:`MODEL_KIND` ``stacked``):
    all three feature blocks in one logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    features = FeatureUnion(
        [("words", _words_vectorizer()), ("chars", _chars_vectorizer()), ("care", CareFeatures(vocabulary))]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(C=C, max_iter=3000))])


MODEL_KIND = "stacked"
# Each base model sees one feature block; (block, C of its logistic regression).
STACK_BASES = (("words", 2.0), ("chars", 2.0), ("care", 10.0))


class StackedClassifier(BaseEstimator, ClassifierMixin):
    """Words, characters and the customer-care evidence, each in its own
    logistic regression; a second logistic regression over their class
    log-probabilities (out-of-fold on the training set) and the evidence
    itself gives the final probabilities.

    Each feature block is computed once per post; the extra cost over one
    linear model is three small matrix products. Measured against that single
    model (``bench/complaints.py``, trained on two airlines and tested on the
    third), it raises precision at a given recall on each held-out airline.
    With fewer than two examples of some class in the training data there are
    no out-of-fold predictions to learn from: the second stage then learns
    from the base models' in-sample probabilities.
    """

    def __init__(self, vocabulary: dict | None = None, folds: int = 5, meta_C: float = 1.0, random_state: int = 1) -> None:
        self.vocabulary = vocabulary
        self.folds = folds
        self.meta_C = meta_C
        self.random_state = random_state

    def _blocks(self, texts) -> dict:
        return {
            "words": self.words_.transform(texts),
            "chars": self.chars_.transform(texts),
            "care": self.care_.transform(texts),
        }

    def _meta_features(self, log_probas: list, care) -> np.ndarray:
        return np.hstack(log_probas + [care.toarray()])

    def fit(self, texts, y) -> "StackedClassifier":
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold

        texts = list(texts)
        y = np.asarray(y)
        self.words_ = _words_vectorizer().fit(texts)
        self.chars_ = _chars_vectorizer().fit(texts)
        self.care_ = CareFeatures(self.vocabulary).fit(texts)
        blocks = self._blocks(texts)
        self.classes_, counts = np.unique(y, return_counts=True)
        k = min(self.folds, int(counts.min()))
        self.bases_ = []
        log_probas = []
        for block, C in STACK_BASES:
            X = blocks[block]
            if k >= 2:
                oof = np.zeros((len(y), len(self.classes_)))
                for train, test in StratifiedKFold(k, shuffle=True, random_state=self.random_state).split(X, y):
                    part = LogisticRegression(C=C, max_iter=3000).fit(X[train], y[train])
                    oof[np.ix_(test, np.searchsorted(self.classes_, part.classes_))] = part.predict_proba(X[test])
            base = LogisticRegression(C=C, max_iter=3000).fit(X, y)
            if k < 2:
                oof = base.predict_proba(X)
            self.bases_.append((block, base))
            log_probas.append(np.log(np.clip(oof, 1e-4, 1.0)))
        self.meta_ = LogisticRegression(C=self.meta_C, max_iter=3000).fit(self._meta_features(log_probas, blocks["care"]), y)
        self.stacked_folds_ = k if k >= 2 else 0
        return self

    def predict_proba(self, texts) -> np.ndarray:
        blocks = self._blocks(list(texts))
        log_probas = [np.log(np.clip(base.predict_proba(blocks[block]), 1e-4, 1.0)) for block, base in self.bases_]
        return self.meta_.predict_proba(self._meta_features(log_probas, blocks["care"]))

    def predict(self, texts) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(texts), axis=1)]


def build_classifier(*, vocabulary: dict | None = None) -> StackedClassifier:
    """What :func:`fit_model` trains (and ``bench/complaints.py`` measures)."""
    return StackedClassifier(vocabulary)


@dataclass
class ComplaintModel:
    """A fitted classifier and what it needs to predict."""

    pipeline: object
    brand: str
    name: str
    version: str
    negative_threshold: float | None = None  # predict negative when P(negative) ≥ this
    metadata: dict = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]  # type: ignore[attr-defined]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.pipeline.predict_proba([prepare_text(t) for t in texts])  # type: ignore[attr-defined]

    def predict(self, texts: Sequence[str]) -> list[str]:
        return decide(self.predict_proba(texts), self.classes, self.negative_threshold)


def decide(proba: np.ndarray, classes: Sequence[str], negative_threshold: float | None) -> list[str]:
    classes = list(classes)
    best = [classes[i] for i in np.argmax(proba, axis=1)]
    if negative_threshold is None or "negative" not in classes:
        return best
    neg = classes.index("negative")
    out = []
    for row, label in zip(proba, best):
        if row[neg] >= negative_threshold:
            out.append("negative")
        elif label == "negative":
            masked = row.copy()
            masked[neg] = -1.0
            out.append(classes[int(np.argmax(masked))])
        else:
            out.append(label)
    return out


def data_hash(examples: Sequence[Example]) -> str:
    h = hashlib.sha256()
    for label, text in sorted((ex.label, ex.text) for ex in examples):
        h.update(label.encode())
        h.update(b"\x1f")
        h.update(text.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def fit_model(
    examples: Sequence[Example],
    *,
    brand: Brand | None,
    name: str = DEFAULT_MODEL_NAME,
    now: datetime | None = None,
    cross_validate: bool = True,
    folds: int = 5,
) -> ComplaintModel:
    """Fit the classifier. With ``cross_validate``, out-of-fold predictions pick
    the negative-class threshold (best negative F1) and give honest metrics."""
    if not MODEL_NAME_RE.match(name):
        raise TrainingError(f"model name {name!r}: use letters, digits, '.', '_' or '-'")
    texts = [prepare_text(ex.text) for ex in examples]
    labels = np.array([ex.label for ex in examples])
    counts = {label: int((labels == label).sum()) for label in LABELS}
    present = [label for label, n in counts.items() if n]
    if len(present) < 2:
        raise TrainingError(f"need examples of at least two labels, got {counts}")
    if len(examples) < 6:
        raise TrainingError(f"need at least 6 labelled examples, got {len(examples)}")
    vocabulary = brand.vocabulary.model_dump() if brand is not None else None
    metrics: dict = {}
    threshold = None
    smallest = min(n for n in counts.values() if n)
    k = min(folds, smallest)
    if cross_validate and k >= 2 and "negative" in present:
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=0)
        proba = cross_val_predict(build_classifier(vocabulary=vocabulary), texts, labels, cv=cv, method="predict_proba")
        classes = sorted(present)
        threshold = _best_negative_threshold(proba, classes, labels)
        report = compute_metrics(list(labels), decide(proba, classes, threshold))
        metrics = {"cross_validated": k, **report.to_json_dict()}
        metrics.pop("posts_per_second", None)
    pipeline = build_classifier(vocabulary=vocabulary)
    pipeline.fit(texts, labels)
    now = now or datetime.now(timezone.utc)
    version = now.astimezone(timezone.utc).strftime(VERSION_FORMAT)
    import sklearn

    metadata = {
        "name": name,
        "brand": brand.id if brand is not None else None,
        "version": version,
        "trained_at": now.astimezone(timezone.utc).isoformat(),
        "n_examples": len(examples),
        "label_counts": counts,
        "data_sha256": data_hash(examples),
        "negative_threshold": threshold,
        "metrics": metrics,
        "model": MODEL_KIND,
        "features": (
            f"tfidf words 1-2, chars_wb 2-5, customer-care evidence and post structure (layout {CARE_LAYOUT}),"
            f" each in a logistic regression (C {', '.join(f'{b} {c:g}' for b, c in STACK_BASES)});"
            f" stacked by a logistic regression over their out-of-fold log-probabilities ({pipeline.stacked_folds_} folds) and the evidence"
        ),
        "sklearn": sklearn.__version__,
    }
    return ComplaintModel(pipeline, brand.id if brand is not None else "default", name, version, threshold, metadata)


def _best_negative_threshold(proba: np.ndarray, classes: list[str], labels: np.ndarray) -> float | None:
    if "negative" not in classes:
        return None
    neg = classes.index("negative")
    is_neg = labels == "negative"
    best, best_f1 = None, -1.0
    for t in np.arange(0.25, 0.66, 0.025):
        pred = proba[:, neg] >= t
        tp = int((pred & is_neg).sum())
        if not tp:
            continue
        p, r = tp / pred.sum(), tp / is_neg.sum()
        f1 = 2 * p * r / (p + r)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(round(t, 3)), f1
    return best


# -- storage ------------------------------------------------------------------
def model_dir(models_root: Path, brand_id: str) -> Path:
    return Path(models_root) / brand_id


def save_model(model: ComplaintModel, *, models_root: Path) -> Path:
    """Write ``<name>-<version>.joblib`` and its ``.json`` metadata; returns the model path."""
    import joblib

    directory = model_dir(models_root, model.brand)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{model.name}-{model.version}"
    path = directory / f"{stem}.joblib"
    tmp = path.with_suffix(".joblib.tmp")
    joblib.dump(model, tmp, compress=3)
    tmp.replace(path)  # readers never see a half-written model
    (directory / f"{stem}.json").write_text(json.dumps(model.metadata, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class ModelRef:
    brand: str
    name: str = DEFAULT_MODEL_NAME
    version: str | None = None  # None: the newest


def parse_model_ref(spec: str) -> ModelRef:
    """``<brand>[/<name>][@<version>]`` (the part after ``trained:``)."""
    m = re.fullmatch(r"([a-z0-9][a-z0-9_-]*)(?:/([A-Za-z0-9][A-Za-z0-9_.-]*))?(?:@(\d{8}T\d{6}Z))?", spec)
    if not m:
        raise TrainingError(f"bad trained model reference {spec!r}: expected <brand>[/<name>][@<version YYYYmmddTHHMMSSZ>]")
    return ModelRef(m.group(1), m.group(2) or DEFAULT_MODEL_NAME, m.group(3))


def find_model(models_root: Path, ref: ModelRef) -> Path:
    directory = model_dir(models_root, ref.brand)
    if ref.version:
        path = directory / f"{ref.name}-{ref.version}.joblib"
        if not path.exists():
            raise TrainingError(f"no model {ref.name!r} version {ref.version} for brand {ref.brand!r} in {directory}")
        return path
    candidates = sorted(directory.glob(f"{ref.name}-*.joblib")) if directory.is_dir() else []
    candidates = [p for p in candidates if re.fullmatch(re.escape(ref.name) + r"-\d{8}T\d{6}Z", p.stem)]
    if not candidates:
        raise TrainingError(
            f"no trained model {ref.name!r} for brand {ref.brand!r} in {directory}"
            f" (train one: brandpulse train --data FILE.csv --brand {ref.brand})"
        )
    return candidates[-1]


def load_model(path: Path) -> ComplaintModel:
    import joblib

    try:
        model = joblib.load(path)
    except (pickle.UnpicklingError, AttributeError, ImportError, EOFError, ValueError, TypeError, KeyError, IndexError) as exc:
        # pickle names classes by module path: a model saved by code this
        # version no longer has (or a damaged file) cannot be rebuilt.
        raise TrainingError(
            f"{path}: cannot load this model ({type(exc).__name__}: {exc}); it was saved by an incompatible"
            " brandpulse or scikit-learn version, or the file is damaged — train a new one (brandpulse train)"
        ) from exc
    if not isinstance(model, ComplaintModel) or not hasattr(model.pipeline, "predict_proba"):
        raise TrainingError(f"{path}: not a brandpulse complaint model")
    return model


# -- labels from the team's decisions -------------------------------------------
def labels_from_feedback(session, *, brand: str | None = None) -> list[Example]:
    """Labels the team gave by working alerts:

    * an alert **dismissed** with the note "not a complaint" → each of its
      mentions is labelled ``neutral`` (not negative);
    * ``brandpulse feedback missed MENTION_ID`` (audit action
      ``feedback.missed_complaint`` on a mention) → ``negative``.

    When one mention has both, the later decision wins. Reads only.
    """
    from sqlalchemy import select

    from brandpulse.db.models import AlertMentionRow, AlertRow, AuditRow, MentionRow

    decided: dict[int, tuple[datetime, str]] = {}

    def put(mention_id: int, at: datetime | None, label: str) -> None:
        at = at or datetime.min.replace(tzinfo=timezone.utc)
        old = decided.get(mention_id)
        if old is None or at >= old[0]:
            decided[mention_id] = (at, label)

    q = select(AlertRow.id, AlertRow.mention_id, AlertRow.resolved_at, AlertRow.resolution_note).where(AlertRow.status == "dismissed")
    if brand:
        q = q.where(AlertRow.brand == brand)
    dismissed = [r for r in session.execute(q) if (r.resolution_note or "").strip().lower().rstrip(".!").startswith(NOT_A_COMPLAINT)]
    if dismissed:
        by_alert = {r.id: r for r in dismissed}
        members: dict[int, set[int]] = {r.id: {r.mention_id} for r in dismissed}
        for alert_id, mention_id in session.execute(
            select(AlertMentionRow.alert_id, AlertMentionRow.mention_id).where(AlertMentionRow.alert_id.in_(list(by_alert)))
        ):
            members[alert_id].add(mention_id)
        for alert_id, mention_ids in members.items():
            for mid in mention_ids:
                put(mid, by_alert[alert_id].resolved_at, "neutral")
    for ev in session.scalars(
        select(AuditRow).where(AuditRow.action == MISSED_COMPLAINT_ACTION, AuditRow.entity_type == "mention")
    ):
        try:
            put(int(ev.entity_id), ev.at, "negative")
        except ValueError:
            continue
    if not decided:
        return []
    q = select(MentionRow.id, MentionRow.text, MentionRow.title, MentionRow.brand, MentionRow.lang).where(
        MentionRow.id.in_(list(decided))
    )
    if brand:
        q = q.where(MentionRow.brand == brand)
    out = []
    for row in session.execute(q.order_by(MentionRow.id)):
        text = f"{row.title}\n{row.text}" if row.title else row.text
        out.append(Example(text, decided[row.id][1], row.brand, row.lang))
    return out
