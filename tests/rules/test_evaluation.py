"""Evaluation: metric arithmetic on a hand-computed example, reading labelled
CSVs (and refusing bad ones clearly), brand matching, and `brandpulse eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from brandpulse.cli import main
from brandpulse.types import Label, Score
from rules.evaluation import (
    BrandResolver,
    CurvePoint,
    Example,
    LabelledDataError,
    breakeven,
    compute_metrics,
    evaluate,
    format_report,
    negative_curve,
    negativity,
    precision_at_recall,
    read_labelled_csv,
    recall_at_precision,
)

JSON_KEYS = {"n", "accuracy", "macro_f1", "posts_per_second", "negative", "neutral", "positive"}


def test_metrics_match_a_hand_computed_example():
    y_true = ["negative", "negative", "negative", "neutral", "neutral", "positive"]
    y_pred = ["negative", "negative", "neutral", "negative", "neutral", "unknown"]
    r = compute_metrics(y_true, y_pred)
    # negative: tp 2, predicted 3, support 3 → P 2/3, R 2/3, F1 2/3
    assert r.per_class["negative"].precision == pytest.approx(2 / 3)
    assert r.per_class["negative"].recall == pytest.approx(2 / 3)
    assert r.per_class["negative"].f1 == pytest.approx(2 / 3)
    # neutral: tp 1, predicted 2, support 2 → P 1/2, R 1/2, F1 1/2
    assert r.per_class["neutral"].precision == pytest.approx(0.5)
    assert r.per_class["neutral"].recall == pytest.approx(0.5)
    # positive: never predicted → P 0, R 0, F1 0; "unknown" counts as wrong
    assert r.per_class["positive"].f1 == 0.0
    assert r.per_class["positive"].support == 1
    assert r.accuracy == pytest.approx(3 / 6)
    assert r.macro_f1 == pytest.approx((2 / 3 + 0.5 + 0.0) / 3)
    assert r.confusion["negative"] == {"negative": 2, "neutral": 1, "positive": 0, "unknown": 0}
    assert r.confusion["neutral"] == {"negative": 1, "neutral": 1, "positive": 0, "unknown": 0}
    assert r.confusion["positive"] == {"negative": 0, "neutral": 0, "positive": 0, "unknown": 1}
    assert r.predicted_labels == ("negative", "neutral", "positive", "unknown")
    d = r.to_json_dict()
    assert set(d) == JSON_KEYS
    assert d["negative"] == {"precision": 0.6667, "recall": 0.6667, "f1": 0.6667}


def test_metrics_refuse_mismatched_or_empty_input():
    with pytest.raises(ValueError, match="2 labels but 1 predictions"):
        compute_metrics(["negative", "neutral"], ["negative"])
    with pytest.raises(ValueError, match="no examples"):
        compute_metrics([], [])


def write(tmp_path: Path, text: str, name: str = "data.csv", encoding: str = "utf-8") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_reads_text_label_brand_lang_and_unescapes_html(tmp_path):
    p = write(tmp_path, 'id,brand,Label,text,lang\n1,Acme Air,Negative,"lost my bag &amp; my coat",en\n2,,neutral,hello,\n\n')
    rows = read_labelled_csv(p)
    assert rows == [
        Example("lost my bag & my coat", "negative", "Acme Air", "en", 2),
        Example("hello", "neutral", None, None, 3),
    ]


@pytest.mark.parametrize(
    "content,message",
    [
        ("id,text\n1,hello\n", "missing column 'label' (header has: 'id', 'text')"),
        ("label\nnegative\n", "missing column 'text'"),
        ("id,body\n1,hi\n", "missing columns 'text', 'label'"),
        ("", "empty file"),
        ("text,label\n", "no labelled rows"),
        ("text,label\nhi,angry\nok,neutral\nyo,2\n", "line 2: unknown label 'angry' (expected negative, neutral or positive); line 4: unknown label '2'"),
        ("text,label,brand\nhi\n", "line 2: 1 fields, the header has 3"),
    ],
)
def test_bad_csv_errors_name_the_problem(tmp_path, content, message):
    p = write(tmp_path, content)
    with pytest.raises(LabelledDataError) as err:
        read_labelled_csv(p)
    assert message in str(err.value)
    assert str(p) in str(err.value)


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(LabelledDataError, match="file not found"):
        read_labelled_csv(tmp_path / "nope.csv")
    with pytest.raises(LabelledDataError, match="is a directory"):
        read_labelled_csv(tmp_path)
    p = tmp_path / "latin1.csv"
    p.write_bytes("text,label\ncafé,neutral\n".encode("latin-1"))
    with pytest.raises(LabelledDataError, match="not UTF-8"):
        read_labelled_csv(p)


def test_brand_column_matches_config_by_id_or_name_case_insensitive(settings):
    resolve = BrandResolver(settings)
    assert resolve("acme").id == "acme"
    assert resolve("ACME AIR").id == "acme"
    assert resolve(" Acme Air ").id == "acme"
    assert resolve("Other Airline") is None
    assert resolve(None) is None
    assert resolve.unmatched == {"Other Airline": 1}


class RecordingAnalyzer:
    """Labels by a keyword; records what it was asked, to check batching and brands."""

    name = "recording"
    version = "1"

    def __init__(self):
        self.calls = []

    def score(self, text, *, lang=None, brand=None):
        return self.score_many([text], langs=[lang], brand=brand)[0]

    def score_many(self, texts, *, langs=None, brand=None):
        self.calls.append((len(texts), brand.id if brand else None, list(langs or [])))
        out = []
        for t in texts:
            label = Label.NEGATIVE if "bad" in t else Label.POSITIVE if "good" in t else Label.UNKNOWN if "??" in t else Label.NEUTRAL
            out.append(Score(self.name, self.version, 0.0, label))
        return out


def test_evaluate_batches_per_brand_and_reports(settings):
    examples = [
        Example("bad", "negative", "Acme Air"),
        Example("good", "positive", "acme"),
        Example("meh", "neutral", None, "en"),
        Example("??", "negative", "Nobody Inc"),
    ]
    analyzer = RecordingAnalyzer()
    report = evaluate(analyzer, examples, settings=settings, batch=1)
    assert sorted(c[1] or "" for c in analyzer.calls) == ["", "", "acme", "acme"]
    assert all(c[0] == 1 for c in analyzer.calls)
    assert report.n == 4 and report.accuracy == pytest.approx(0.75)
    assert report.confusion["negative"]["unknown"] == 1
    assert report.posts_per_second > 0
    assert any("Nobody Inc" in n for n in report.notes)
    text = format_report(report)
    for part in ("negative", "macro-F1", "accuracy", "confusion matrix", "posts/s", "unknown"):
        assert part in text


# -- the command ----------------------------------------------------------------
SAMPLE = """id,brand,label,text
1,Acme Air,negative,still waiting for my refund
2,Acme Air,negative,flight cancelled again
3,acme,negative,"I can't log in, the app keeps crashing"
4,acme,positive,thank you for the lovely flight!
5,Acme Air,positive,great crew &amp; smooth landing
6,acme,neutral,what time does boarding start?
7,Acme Air,neutral,flying to Lisbon tomorrow
8,acme,negative,my flight is delayed and no one tells us why
"""


@pytest.fixture
def eval_config(tmp_path, config_dict) -> Path:
    config_dict["data_dir"] = str(tmp_path / "data")
    path = tmp_path / "eval.yaml"
    path.write_text(yaml.safe_dump(config_dict))
    return path


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_eval_json_prints_exactly_one_object_with_the_keys(tmp_path, eval_config):
    data = write(tmp_path, SAMPLE)
    result = run("eval", "--data", str(data), "--config", str(eval_config), "--json")
    assert result.exit_code == 0, result.output
    obj = json.loads(result.stdout)
    assert set(obj) == JSON_KEYS
    assert obj["n"] == 8
    for label in ("negative", "neutral", "positive"):
        assert set(obj[label]) == {"precision", "recall", "f1"}
    assert obj["negative"]["recall"] == 1.0  # every complaint in the sample is caught
    assert obj["posts_per_second"] > 0


def test_eval_text_report_and_analyzer_choice(tmp_path):
    data = write(tmp_path, SAMPLE)
    result = run("eval", "--data", str(data), "--analyzer", "vader")
    assert result.exit_code == 0, result.output
    assert "analyzer: vader" in result.output
    assert "confusion matrix" in result.output and "throughput:" in result.output
    default = run("eval", "--data", str(data))
    assert "analyzer: customer-care" in default.output


@pytest.mark.parametrize(
    "content,needle",
    [("id,text\n1,hi\n", "missing column 'label'"), ("text,label\nhi,furious\n", "unknown label 'furious'")],
)
def test_eval_bad_input_exits_2_with_the_problem(tmp_path, content, needle):
    data = write(tmp_path, content)
    result = run("eval", "--data", str(data))
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output


def test_eval_missing_file_and_unknown_analyzer_exit_2(tmp_path):
    result = run("eval", "--data", str(tmp_path / "missing.csv"))
    assert result.exit_code == 2 and "file not found" in result.output
    data = write(tmp_path, SAMPLE)
    result = run("eval", "--data", str(data), "--analyzer", "nonsense")
    assert result.exit_code == 2 and "unknown analyzer 'nonsense'" in result.output


def test_eval_only_brand_filter(tmp_path, eval_config):
    data = write(tmp_path, SAMPLE)
    result = run("eval", "--data", str(data), "--config", str(eval_config), "--only-brand", "ACME", "--json")
    assert json.loads(result.stdout)["n"] == 8  # "Acme Air" and "acme" are the same configured brand
    result = run("eval", "--data", str(data), "--config", str(eval_config), "--exclude-brand", "acme")
    assert result.exit_code == 2 and "no rows left" in result.output



def test_negative_curve_by_hand():
    # negativity, most negative first: 0.9 neg, 0.8 neu, 0.7 neg, 0.7 neg (tie), 0.2 pos, 0.1 neg
    values = [0.9, 0.8, 0.7, 0.7, 0.2, 0.1]
    labels = ["negative", "neutral", "negative", "negative", "positive", "negative"]
    curve = negative_curve(values, labels)
    assert curve == [
        CurvePoint(0.9, 1.0, 0.25),
        CurvePoint(0.8, 0.5, 0.25),
        CurvePoint(0.7, 0.75, 0.75),  # both 0.7s flagged together
        CurvePoint(0.2, 0.6, 0.75),
        CurvePoint(0.1, 4 / 6, 1.0),
    ]
    assert precision_at_recall(curve, 0.7) == CurvePoint(0.7, 0.75, 0.75)
    assert precision_at_recall(curve, 0.8) == CurvePoint(0.1, 4 / 6, 1.0)
    assert recall_at_precision(curve, 0.7) == CurvePoint(0.7, 0.75, 0.75)
    assert recall_at_precision(curve, 1.01) is None
    assert breakeven(curve) == CurvePoint(0.7, 0.75, 0.75)
    assert negative_curve([0.5], ["neutral"]) == [] and breakeven([]) is None
    with pytest.raises(ValueError, match="2 labels but 1 values"):
        negative_curve([0.5], ["negative", "neutral"])


def test_negativity_reads_probabilities_or_the_compound_and_evaluate_keeps_scores():
    assert negativity(Score("m", "1", -0.4, Label.NEGATIVE, "en", {"negative": 0.7, "neutral": 0.2, "positive": 0.1})) == 0.7
    assert negativity(Score("care", "1", -0.4, Label.NEGATIVE, "en", {"vader": -0.2})) == 0.4

    class Fixed:
        name, version = "fixed", "1"

        def score_many(self, texts, *, langs=None, brand=None):
            return [Score("fixed", "1", -0.5 if "bad" in t else 0.5, Label.NEGATIVE if "bad" in t else Label.POSITIVE, "en") for t in texts]

    examples = [Example("bad", "negative"), Example("fine", "positive"), Example("bad too", "neutral")]
    report = evaluate(Fixed(), examples)
    assert [negativity(s) for s in report.scores] == [0.5, -0.5, 0.5]
    text = format_report(report)
    # flagging the two "bad" posts: P 1/2, R 1/1
    assert "negative precision/recall at other thresholds" in text and "breakeven P 0.500 R 1.000" in text
