"""``brandpulse eval``, ``brandpulse train`` and ``brandpulse feedback``:
measuring analyzers, training the per-brand classifier, and telling it what
it missed."""

from __future__ import annotations

from pathlib import Path

import click

from brandpulse.cli.common import RECORD_ID, Context, UserError, actor_option, brand_ids, handle_errors, pass_ctx
from brandpulse.config import Settings, load_settings

_CSV = click.Path(path_type=Path, dir_okay=True)  # existence is checked by the reader, with a clear message
_CONFIG = click.Path(path_type=Path, dir_okay=False)


def _explicit_settings(ctx: Context, config: Path | None) -> Settings | None:
    """The subcommand's --config, else the group's --config if one was given."""
    if config is not None:
        return load_settings(config)
    if ctx.config_path is not None:
        return load_settings(ctx.config_path)
    return None


def _filter(examples, settings: Settings | None, only: tuple[str, ...], exclude: tuple[str, ...]):
    if not only and not exclude:
        return examples
    from rules.evaluation import BrandResolver

    resolve = BrandResolver(settings)

    def key(value: str | None) -> str | None:
        if value is None:
            return None
        b = resolve(value)
        return b.id if b is not None else value.strip().lower()

    only_keys = {key(v) for v in only}
    exclude_keys = {key(v) for v in exclude}
    kept = [ex for ex in examples if (not only_keys or key(ex.brand) in only_keys) and key(ex.brand) not in exclude_keys]
    if not kept:
        raise UserError("no rows left after --only-brand/--exclude-brand (is there a 'brand' column with those values?)")
    return kept


def _brand_options(func):
    func = click.option("--exclude-brand", "exclude", multiple=True, help="Skip rows of this brand (id or name; repeatable).")(func)
    func = click.option("--only-brand", "only", multiple=True, help="Use only rows of this brand (id or name; repeatable).")(func)
    return func


@click.command("eval")
@click.option("--data", "data", type=_CSV, required=True, help="Labelled CSV: header with text,label (negative|neutral|positive); optional brand, lang.")
@click.option("--config", "config", type=_CONFIG, default=None, help="Configuration whose brands (matched to the CSV's brand column by id or name) give domain vocabulary.")
@click.option("--analyzer", "analyzer_name", default=None, help="Analyzer name (default: the config's default_analyzer, else customer-care).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: n, accuracy, macro_f1, posts_per_second, negative, neutral, positive.")
@_brand_options
@pass_ctx
@handle_errors
def eval_(ctx: Context, data: Path, config: Path | None, analyzer_name: str | None, as_json: bool, only, exclude) -> None:
    """Measure an analyzer on labelled posts: per-class precision/recall/F1, macro-F1, accuracy, confusion matrix, throughput."""
    from rules.analyzers.registry import build_analyzer
    from rules.evaluation import LabelledDataError, evaluate, format_json, format_report, read_labelled_csv
    from rules.training import TrainingError

    settings = _explicit_settings(ctx, config)
    name = analyzer_name or (settings.default_analyzer if settings else Settings.model_fields["default_analyzer"].default)
    try:
        examples = _filter(read_labelled_csv(data), settings, only, exclude)
    except LabelledDataError as exc:
        raise UserError(str(exc)) from None
    if settings is None and name.startswith("trained:"):
        settings = ctx.settings  # to find the models directory
    try:
        analyzer = build_analyzer(name, settings=settings)
    except (KeyError, TrainingError) as exc:
        raise UserError(exc.args[0] if exc.args else str(exc)) from None
    report = evaluate(analyzer, examples, settings=settings)
    if as_json:
        click.echo(format_json(report))
        for note in report.notes:
            click.echo(f"note: {note}", err=True)
    else:
        click.echo(format_report(report))


@click.command("train")
@click.option("--data", "data", type=_CSV, default=None, help="Labelled CSV (text,label[,brand]).")
@click.option("--from-feedback", "from_feedback", is_flag=True, help="Also use the team's decisions: alerts dismissed as 'not a complaint', complaints flagged with 'feedback missed'.")
@click.option("--brand", "brand_id", default=None, help="Brand the model is for (its vocabulary; saved under models/<brand>/). Default: the config's only brand.")
@click.option("--name", "model_name", default="complaints", show_default=True, help="Model name (select it as trained:<brand>/<name>).")
@click.option("--config", "config", type=_CONFIG, default=None, help="Configuration (data_dir, brands). Default: the global --config.")
@click.option("--no-cv", "no_cv", is_flag=True, help="Skip cross-validation (faster; no threshold tuning, no metrics in the metadata).")
@_brand_options
@pass_ctx
@handle_errors
def train(ctx: Context, data: Path | None, from_feedback: bool, brand_id: str | None, model_name: str, config: Path | None, no_cv: bool, only, exclude) -> None:
    """Fit the per-brand complaint classifier and save it, versioned, under <data_dir>/models/<brand>/."""
    from rules.evaluation import LabelledDataError, read_labelled_csv
    from rules.training import TrainingError, fit_model, labels_from_feedback, save_model

    if data is None and not from_feedback:
        raise UserError("give --data FILE.csv, --from-feedback, or both")
    settings = load_settings(config) if config is not None else ctx.settings
    if brand_id is None:
        if len(settings.brands) != 1:
            raise UserError(f"--brand is required: the config has {len(settings.brands)} brands ({', '.join(b.id for b in settings.brands)})")
        brand = settings.brands[0]
    else:
        try:
            brand = settings.brand(brand_id)
        except KeyError:
            raise UserError(f"unknown brand {brand_id!r} (known: {', '.join(b.id for b in settings.brands)})") from None
    examples = []
    if data is not None:
        try:
            examples.extend(_filter(read_labelled_csv(data), settings, only, exclude))
        except LabelledDataError as exc:
            raise UserError(str(exc)) from None
    if from_feedback:
        from brandpulse.app import open_database
        from brandpulse.db import session_factory

        engine = open_database(settings)
        try:
            with session_factory(engine)() as session:  # one short read; ingestion keeps writing (WAL)
                feedback = labels_from_feedback(session, brand=brand.id)
        finally:
            engine.dispose()
        click.echo(f"feedback: {len(feedback)} labelled mentions "
                   f"({sum(e.label == 'negative' for e in feedback)} missed complaints, "
                   f"{sum(e.label != 'negative' for e in feedback)} not complaints)")
        examples.extend(feedback)
    try:
        model = fit_model(examples, brand=brand, name=model_name, cross_validate=not no_cv)
    except TrainingError as exc:
        raise UserError(str(exc)) from None
    path = save_model(model, models_root=settings.data_path / "models")
    meta = model.metadata
    click.echo(f"trained on {meta['n_examples']} posts {meta['label_counts']}")
    if meta["metrics"]:
        m = meta["metrics"]
        click.echo(
            f"{m['cross_validated']}-fold cross-validation: negative precision {m['negative']['precision']:.3f}"
            f" recall {m['negative']['recall']:.3f}; macro-F1 {m['macro_f1']:.3f}; accuracy {m['accuracy']:.3f}"
            f" (negative threshold {meta['negative_threshold']})"
        )
    click.echo(f"saved {path}")
    click.echo(f"use it: analyzer: trained:{model.brand}/{model.name}   (this version: trained:{model.brand}/{model.name}@{model.version})")


@click.group()
def feedback() -> None:
    """Teach the classifier: flag complaints brandpulse missed (dismiss false alarms with `alerts dismiss ID --reason 'not a complaint'`)."""


@feedback.command("missed")
@click.argument("mention_id", type=RECORD_ID)
@click.option("--note", default=None, help="Optional note (why it is a complaint).")
@actor_option
@pass_ctx
@handle_errors
def missed(ctx: Context, mention_id: int, note: str | None, actor: str) -> None:
    """Flag a stored mention as a complaint brandpulse missed (a 'negative' label for `train --from-feedback`)."""
    from brandpulse.audit import record
    from brandpulse.db.models import MentionRow
    from brandpulse.types import shown_handle
    from rules.training import MISSED_COMPLAINT_ACTION

    app = ctx.app()
    with app.Session.begin() as s:
        mention = s.get(MentionRow, mention_id)
        if mention is None:
            raise UserError(f"no mention with id {mention_id}")
        if mention.is_own:
            raise UserError(
                f"mention #{mention_id} is the brand's own post ({shown_handle(mention.platform, mention.author_handle)}):"
                " brandpulse never scores or alerts on those, so it cannot have missed a complaint there"
            )
        details = {"brand": mention.brand, **({"note": note} if note else {})}
        record(s, at=app.clock.now(), actor=actor, action=MISSED_COMPLAINT_ACTION, entity_type="mention", entity_id=mention_id, details=details)
    click.echo(f"mention #{mention_id} flagged as a missed complaint (by {actor}); `brandpulse train --from-feedback` will use it")


@feedback.command("list")
@click.option("--brand", default=None, help="Only this brand id.")
@pass_ctx
@handle_errors
def list_feedback(ctx: Context, brand: str | None) -> None:
    """The labels the team's decisions give (what `train --from-feedback` would use)."""
    from rules.training import labels_from_feedback

    app = ctx.app()
    if brand is not None:
        brand_ids(app.settings, brand)  # an unknown brand is an error, not "no feedback yet"
    with app.Session() as s:
        examples = labels_from_feedback(s, brand=brand)
    if not examples:
        click.echo("no feedback yet")
        return
    for ex in examples:
        text = " ".join(ex.text.split())
        click.echo(f"{ex.label:<9} [{ex.brand}] {text[:100]}")
    click.echo(f"{len(examples)} labelled mentions")
