"""The trained classifier: fit → save → load → predict, versions and names,
labels from the team's feedback, and `brandpulse train` / `feedback missed`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from brandpulse.cli import main
from brandpulse.config import Brand, Vocabulary
from brandpulse.db.models import AlertMentionRow, AlertRow, AuditRow
from brandpulse.types import Label
from rules.analyzers.registry import build_analyzer
from rules.analyzers.trained import TrainedAnalyzer
from rules.evaluation import Example
from rules.training import (
    MISSED_COMPLAINT_ACTION,
    ModelRef,
    TrainingError,
    data_hash,
    find_model,
    fit_model,
    labels_from_feedback,
    load_model,
    parse_model_ref,
    save_model,
)

T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)

NEGATIVE = [
    "my order never arrived and nobody answers",
    "still waiting for a refund after three weeks",
    "the app keeps crashing when I pay",
    "worst support ever, I was on hold for an hour",
    "you charged me twice, fix it",
    "cancelled my booking without telling me",
    "I can't log in and the reset link is broken",
    "delivery is late again, so annoying",
    "lost my parcel, this is unacceptable",
    "nobody called me back, terrible service",
    "the website is down again",
    "third time I write about this, no reply",
]
NEUTRAL = [
    "what time do you open on sunday",
    "do you ship to canada",
    "is there a store in lisbon",
    "how do I change my address",
    "which plan includes the extra storage",
    "where can I find the user manual",
    "are you open on public holidays",
    "can I pay with a gift card",
    "when does the summer sale start",
    "what is the size of the large box",
    "do you have an office in berlin",
    "how many items fit in one order",
]
POSITIVE = [
    "thank you, the parcel came early",
    "love the new app, so fast",
    "great support, solved in minutes",
    "amazing service as always, thanks",
    "the team was lovely and helpful",
    "best delivery experience ever",
    "thanks for the quick refund, great job",
    "really happy with my order",
    "wonderful staff, thank you so much",
    "the new design is beautiful",
    "fast shipping and great quality",
    "you made my day, thanks",
]
EXAMPLES = (
    [Example(t, "negative") for t in NEGATIVE] + [Example(t, "neutral") for t in NEUTRAL] + [Example(t, "positive") for t in POSITIVE]
)
BRAND = Brand(id="acme", name="Acme Air", vocabulary=Vocabulary(negative=["parcel lost"], products=["app"]))


@pytest.fixture(scope="module")
def model():
    return fit_model(EXAMPLES, brand=BRAND, now=T0)


def test_fit_records_version_hash_and_cross_validated_metrics(model):
    assert model.version == "20260310T090000Z"
    assert model.brand == "acme" and model.name == "complaints"
    meta = model.metadata
    assert meta["n_examples"] == 36
    assert meta["label_counts"] == {"negative": 12, "neutral": 12, "positive": 12}
    assert meta["data_sha256"] == data_hash(EXAMPLES) == data_hash(list(reversed(EXAMPLES)))
    assert meta["metrics"]["cross_validated"] == 5
    assert set(meta["metrics"]) >= {"accuracy", "macro_f1", "negative", "neutral", "positive"}
    assert model.negative_threshold is not None


def test_save_load_predict_round_trip(model, tmp_path):
    path = save_model(model, models_root=tmp_path)
    assert path == tmp_path / "acme" / "complaints-20260310T090000Z.joblib"
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["version"] == "20260310T090000Z" and meta["data_sha256"] == model.metadata["data_sha256"]
    loaded = load_model(path)
    texts = ["my parcel never arrived, nobody answers", "thanks, great support and lovely team", "what time do you open"]
    assert loaded.predict(texts) == model.predict(texts)
    assert loaded.predict(texts) == ["negative", "positive", "neutral"]


def test_trained_analyzer_by_name_newest_or_pinned(model, tmp_path):
    save_model(model, models_root=tmp_path)
    newer = fit_model(EXAMPLES[:30] + EXAMPLES[-3:], brand=BRAND, now=T0 + timedelta(days=1), cross_validate=False)
    save_model(newer, models_root=tmp_path)
    analyzer = build_analyzer("trained:acme", models_dir=tmp_path)
    assert isinstance(analyzer, TrainedAnalyzer)
    assert analyzer.name == "trained:acme/complaints" and analyzer.version == "20260311T090000Z"
    pinned = build_analyzer("trained:acme/complaints@20260310T090000Z", models_dir=tmp_path)
    assert pinned.version == "20260310T090000Z"
    scores = pinned.score_many(
        ["the app keeps crashing, still waiting for a refund", "thank you, lovely team", "Il pacco non è mai arrivato, grazie per niente"],
        langs=[None, "en", None],
    )
    assert [s.label for s in scores] == [Label.NEGATIVE, Label.POSITIVE, Label.UNKNOWN]
    assert scores[0].compound < 0 < scores[1].compound
    assert scores[2].lang == "it"
    with pytest.raises(KeyError, match="no trained model 'other' for brand 'acme'"):
        build_analyzer("trained:acme/other", models_dir=tmp_path)
    with pytest.raises(KeyError, match="version 20250101T000000Z"):
        build_analyzer("trained:acme@20250101T000000Z", models_dir=tmp_path)


def test_model_references_parse_and_refuse_nonsense(tmp_path):
    assert parse_model_ref("acme") == ModelRef("acme")
    assert parse_model_ref("acme/fast@20260310T090000Z") == ModelRef("acme", "fast", "20260310T090000Z")
    with pytest.raises(TrainingError, match="bad trained model reference"):
        parse_model_ref("Acme Air")
    with pytest.raises(TrainingError, match="no trained model"):
        find_model(tmp_path, ModelRef("acme"))


def test_training_refuses_what_it_cannot_learn_from():
    with pytest.raises(TrainingError, match="at least two labels"):
        fit_model([Example(t, "negative") for t in NEGATIVE], brand=None)
    with pytest.raises(TrainingError, match="at least 6"):
        fit_model([Example("bad", "negative"), Example("good", "positive")], brand=None)
    with pytest.raises(TrainingError, match="model name"):
        fit_model(EXAMPLES, brand=None, name="../evil")


# -- feedback -------------------------------------------------------------------
def _alert(session, mention_id: int, *, status: str, note: str | None, at: datetime, brand: str = "acme") -> int:
    row = AlertRow(
        brand=brand, platform="x", author_id="a1", author_handle="sam", thread_id=None, mention_id=mention_id,
        last_mention_id=mention_id, mention_count=1, rule="complaint", priority="P2", priority_score=0.5, status=status,
        opened_at=at, created_at=at, sla_due_at=at + timedelta(hours=6), last_mention_at=at,
        resolved_at=at if status in ("dismissed", "resolved") else None, resolution_note=note,
    )
    session.add(row)
    session.flush()
    return row.id


def test_labels_from_feedback(Session, make_mention, store_mention):
    with Session.begin() as s:
        false_alarm = store_mention(s, make_mention("the new lounge is wild lol"))
        thread_reply = store_mention(s, make_mention("seriously, it is wild"))
        missed = store_mention(s, make_mention("ok so my card got charged for nothing"))
        other_reason = store_mention(s, make_mention("already fixed by phone"))
        changed_mind = store_mention(s, make_mention("terrible seats again"))
        other_brand = store_mention(s, make_mention("meh", brand="globex"))
        a1 = _alert(s, false_alarm, status="dismissed", note="Not a complaint.", at=T0)
        s.add(AlertMentionRow(alert_id=a1, mention_id=thread_reply))
        _alert(s, other_reason, status="dismissed", note="duplicate", at=T0)
        _alert(s, changed_mind, status="dismissed", note="not a complaint", at=T0)
        _alert(s, other_brand, status="dismissed", note="not a complaint", at=T0, brand="globex")
        for mid, at in ((missed, T0), (changed_mind, T0 + timedelta(hours=1))):
            s.add(AuditRow(at=at, actor="kim", action=MISSED_COMPLAINT_ACTION, entity_type="mention", entity_id=str(mid)))
    with Session() as s:
        labels = {ex.text: ex.label for ex in labels_from_feedback(s, brand="acme")}
        everything = labels_from_feedback(s)
    assert labels == {
        "the new lounge is wild lol": "neutral",
        "seriously, it is wild": "neutral",
        "ok so my card got charged for nothing": "negative",
        "terrible seats again": "negative",  # flagged missed after it was dismissed: the later decision wins
    }
    assert len(everything) == 5


# -- the commands -----------------------------------------------------------------
@pytest.fixture
def cli_config(tmp_path: Path, config_dict, engine, monkeypatch) -> Path:
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    config_dict["data_dir"] = str(tmp_path / "data")
    config_dict["database_url"] = f"sqlite:///{tmp_path / 'test.db'}"
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(config_dict))
    return path


def _csv(tmp_path: Path) -> Path:
    lines = ["text,label,brand"] + [f'"{ex.text}",{ex.label},Acme Air' for ex in EXAMPLES]
    p = tmp_path / "train.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_train_command_saves_a_model_that_eval_can_use(tmp_path, cli_config):
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(cli_config), "train", "--data", str(_csv(tmp_path)), "--no-cv"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "trained on 36 posts" in result.output and "trained:acme/complaints" in result.output
    saved = list((tmp_path / "data" / "models" / "acme").glob("complaints-*.joblib"))
    assert len(saved) == 1 and saved[0].with_suffix(".json").exists()
    result = runner.invoke(main, ["--config", str(cli_config), "eval", "--data", str(_csv(tmp_path)), "--analyzer", "trained:acme", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 36


def test_train_needs_data_and_a_known_brand(tmp_path, cli_config):
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(cli_config), "train"])
    assert result.exit_code == 2 and "give --data" in result.output
    result = runner.invoke(main, ["--config", str(cli_config), "train", "--data", str(_csv(tmp_path)), "--brand", "nope"])
    assert result.exit_code == 2 and "unknown brand 'nope'" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text\nhello\n")
    result = runner.invoke(main, ["--config", str(cli_config), "train", "--data", str(bad)])
    assert result.exit_code == 2 and "missing column 'label'" in result.output


def test_feedback_missed_then_train_from_feedback(tmp_path, cli_config, Session, make_mention, store_mention):
    with Session.begin() as s:
        ids = [store_mention(s, make_mention(ex.text)) for ex in EXAMPLES]
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(cli_config), "feedback", "missed", str(ids[0]), "--as", "kim"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["--config", str(cli_config), "feedback", "missed", "99999"])
    assert result.exit_code == 2 and "no mention with id 99999" in result.output
    with Session() as s:
        event = s.scalars(select(AuditRow).where(AuditRow.action == MISSED_COMPLAINT_ACTION)).one()
        assert (event.actor, event.entity_type, event.entity_id) == ("kim", "mention", str(ids[0]))
    result = runner.invoke(main, ["--config", str(cli_config), "feedback", "list"])
    assert "negative" in result.output and "1 labelled mentions" in result.output
    # One feedback label is too few alone; with the CSV it trains.
    result = runner.invoke(main, ["--config", str(cli_config), "train", "--from-feedback"])
    assert result.exit_code == 2 and "feedback: 1 labelled mentions" in result.output
    result = runner.invoke(main, ["--config", str(cli_config), "train", "--from-feedback", "--data", str(_csv(tmp_path)), "--no-cv"])
    assert result.exit_code == 0, result.output
    assert "trained on 37 posts" in result.output


# -- features ---------------------------------------------------------------------
def test_care_features_layout_and_models_saved_with_the_old_layout():
    from rules.training import CARE_FAMILIES, LEGACY_CARE_FAMILIES, CareFeatures

    texts = ["is my flight delayed?", "WHY is my bag lost again?! you never answer", "thanks for the quick refund :)"]
    fitted = CareFeatures().fit(texts)
    rows = fitted.transform(texts).toarray()
    assert rows.shape == (3, 7 + len(CARE_FAMILIES) + 12)
    structure = rows[:, 7 + len(CARE_FAMILIES):]
    asks, complaint_questions = structure[:, 2], structure[:, 3]
    assert asks[0] == 1.0 and complaint_questions[0] == 0.0  # only asks for information
    assert complaint_questions[1] > 0 and structure[1, 5] > 0 and structure[1, 7] > 0  # "why…?!", "!", capitals
    gratitude = 7 + CARE_FAMILIES.index("gratitude")
    assert rows[2, gratitude] < 0 and rows[0, gratitude] == 0
    # A transformer unpickled from a model trained before layout 2 has no
    # layout_/families_ attributes: it must keep producing its 25 columns.
    old = CareFeatures()
    assert old.transform(texts).shape == (3, 7 + len(LEGACY_CARE_FAMILIES)) == (3, 25)
    # A layout-2 model stored its 20 families; families added since ("criticism")
    # are features of newly trained models only.
    layout2 = CareFeatures().fit(texts)
    layout2.layout_, layout2.families_ = 2, CARE_FAMILIES[:20]
    assert layout2.transform(texts).shape == (3, 7 + 20 + 12)
    criticism = 7 + CARE_FAMILIES.index("criticism")
    assert fitted.transform(["the agent was not very helpful"]).toarray()[0, criticism] > 0


def test_pipeline_scores_with_a_trained_analyzer_named_in_the_config(model, tmp_path, config_dict):
    """`default_analyzer: trained:acme` finds the model under <data_dir>/models."""
    from brandpulse.config import parse_settings
    from brandpulse.pipeline import Pipeline
    from brandpulse.types import Author, Mention

    config_dict["data_dir"] = str(tmp_path / "data")
    config_dict["default_analyzer"] = "trained:acme"
    settings = parse_settings(config_dict, path=tmp_path / "brandpulse.yaml")
    save_model(model, models_root=settings.data_path / "models")
    pipeline = Pipeline(settings)
    mention = Mention(platform="x", external_id="1", brand="acme", author=Author(platform="x", id="u", handle="sam"),
                      text="my parcel is lost and nobody answers", created_at=T0)
    [score] = pipeline.prepare([mention])
    assert score.analyzer.startswith("trained")
    assert score.label.value in ("negative", "neutral", "positive")


# -- the stacked classifier, and models saved before it -------------------------------
def test_fit_trains_the_stacked_classifier(model):
    from rules.training import MODEL_KIND, STACK_BASES, StackedClassifier

    assert isinstance(model.pipeline, StackedClassifier)
    assert model.metadata["model"] == MODEL_KIND == "stacked"
    assert [block for block, _ in model.pipeline.bases_] == [block for block, _ in STACK_BASES] == ["words", "chars", "care"]
    assert model.pipeline.stacked_folds_ == 5  # 12 examples per class: five out-of-fold predictions each
    proba = model.predict_proba(["my parcel never arrived", "thank you so much", "do you ship to canada"])
    assert proba.shape == (3, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert model.classes == ["negative", "neutral", "positive"]
    # the second stage sees each base model's log-probabilities and the evidence
    care_width = model.pipeline.care_.transform(["x"]).shape[1]
    assert model.pipeline.meta_.coef_.shape == (3, 3 * 3 + care_width)


def test_stacked_classifier_with_two_labels_or_a_lone_example():
    from rules.training import StackedClassifier, prepare_text

    texts = [prepare_text(t) for t in NEGATIVE + NEUTRAL]
    two = StackedClassifier().fit(texts, ["negative"] * 12 + ["neutral"] * 12)
    assert list(two.classes_) == ["negative", "neutral"]
    assert two.predict(["still waiting for a refund, terrible service"])[0] == "negative"
    # One example of a class: no out-of-fold predictions are possible, the second
    # stage learns from the base models' in-sample probabilities instead.
    lone = StackedClassifier().fit(texts[:12] + texts[12:20] + [prepare_text(POSITIVE[0])], ["negative"] * 12 + ["neutral"] * 8 + ["positive"])
    assert lone.stacked_folds_ == 0 and list(lone.classes_) == ["negative", "neutral", "positive"]
    assert lone.predict_proba(["the app keeps crashing"]).shape == (1, 3)


def test_models_saved_before_the_stacked_classifier_still_load_and_predict(tmp_path):
    """A model of the earlier kind (one logistic regression over all the features)."""
    from rules.training import ComplaintModel, build_pipeline, prepare_text

    pipeline = build_pipeline(vocabulary=BRAND.vocabulary.model_dump())
    pipeline.fit([prepare_text(ex.text) for ex in EXAMPLES], [ex.label for ex in EXAMPLES])
    old = ComplaintModel(pipeline, "acme", "complaints", "20250101T000000Z", 0.4, {"version": "20250101T000000Z"})
    path = save_model(old, models_root=tmp_path)
    analyzer = build_analyzer("trained:acme", models_dir=tmp_path)
    assert analyzer.version == "20250101T000000Z" and "model" not in analyzer.model.metadata
    scores = analyzer.score_many(["my parcel never arrived and nobody answers", "thank you, lovely team"], langs=["en", "en"])
    assert [s.label for s in scores] == [Label.NEGATIVE, Label.POSITIVE]
    assert load_model(path).predict(["worst support ever"]) == ["negative"]


def test_a_model_file_that_cannot_be_loaded_is_refused_clearly(tmp_path):
    import joblib

    damaged = tmp_path / "acme" / "complaints-20260310T090000Z.joblib"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a pickle at all")
    with pytest.raises(TrainingError, match="cannot load this model .*train a new one"):
        load_model(damaged)
    other = tmp_path / "other.joblib"
    joblib.dump({"pipeline": "something else"}, other)
    with pytest.raises(TrainingError, match="not a brandpulse complaint model"):
        load_model(other)
    with pytest.raises(KeyError, match="cannot load this model"):
        build_analyzer("trained:acme", models_dir=tmp_path)
