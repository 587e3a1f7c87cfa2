"""Suggested incidents: spike detection on synthetic series, top terms, and
the check the pipeline runs against the database."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, select, update

from brandpulse import audit
from brandpulse.config import SpikeConfig, parse_settings
from brandpulse.db.models import AlertMentionRow, AlertRow, IncidentRow, MentionRow, ScoreRow
from brandpulse.inbox import change_state
from brandpulse.pipeline import Pipeline
from brandpulse.types import Label, Score
from listener.poller import StoredMention
from rules.spikes import (
    RULE,
    SpikeMonitor,
    brand_words,
    check_brand,
    detect_in_series,
    detect_spike,
    first_firing,
    suggest_keywords,
    tokens,
    top_terms,
)
from tests.conftest import BASE_CONFIG, T0

CONFIG = SpikeConfig()  # window 1h, baseline 24h, recent 3h, min_count 10, ratio 3, z 3, min_history 12h


def poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method: fine for the small means used here."""
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# ---------------------------------------------------------------------------
# Pure detection on synthetic hourly series
# ---------------------------------------------------------------------------


def test_fires_on_a_burst():
    series = [5] * 30 + [32]
    verdict = detect_in_series(series, config=CONFIG)
    assert verdict.fired, verdict.reason
    assert verdict.count == 32 and verdict.expected == pytest.approx(5.0) and verdict.ratio == pytest.approx(6.4)


def test_fires_on_a_burst_over_noise():
    rng = random.Random(7)
    series = [poisson(rng, 6) for _ in range(48)]
    assert first_firing(series, config=CONFIG) is None
    assert first_firing(series + [40], config=CONFIG) == 48


def test_quiet_on_steady_volume_with_noise_for_a_week():
    for seed in range(5):
        rng = random.Random(seed)
        series = [poisson(rng, mean) for mean in [8.0] * (24 * 7)]
        assert first_firing(series, config=CONFIG) is None, seed


def test_quiet_on_a_daily_cycle():
    rng = random.Random(3)
    day = [2, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 12, 13, 12, 11, 12, 13, 12, 11, 10, 8, 6, 4, 3]
    series = [poisson(rng, m) for m in day * 7]
    assert first_firing(series, config=CONFIG) is None


@pytest.mark.parametrize(
    "series",
    [
        [round(4 + 0.8 * h) for h in range(60)],  # linear: 4 → 51 negatives an hour over 2.5 days
        [round(3 * 1.08**h) for h in range(48)],  # 8 % more every hour: 3 → 120
        [round(2 * 1.25**h) for h in range(20)],  # 25 % more every hour
    ],
    ids=["linear", "8%-per-hour", "25%-per-hour"],
)
def test_quiet_on_slowly_growing_volume(series):
    assert first_firing(series, config=CONFIG) is None


def test_fast_growth_is_a_spike():
    series = [6] * 24 + [6, 12, 24, 48]  # doubling every hour
    assert first_firing(series, config=CONFIG) == 26


def test_a_small_burst_is_not_an_incident():
    verdict = detect_in_series([1] * 24 + [8], config=CONFIG)  # 8x, but only 8 posts
    assert not verdict.fired and "min_count" in verdict.reason


def test_too_little_history_keeps_it_quiet():
    verdict = detect_in_series([2] * 6 + [30], config=CONFIG)
    assert not verdict.fired and "min_history" in verdict.reason
    assert detect_in_series([2] * 12 + [30], config=CONFIG).fired


def test_the_recent_level_is_the_new_normal():
    # The baseline alone (3/h) would call 30 a spike; the last three hours were 12/h.
    verdict = detect_spike(count=30, baseline_count=72, baseline_windows=24, recent_count=36, recent_windows=3,
                           config=CONFIG)
    assert not verdict.fired and verdict.expected == 12 and "ratio" in verdict.reason


def test_thresholds_come_from_the_config():
    strict = SpikeConfig(min_count=50)
    assert detect_in_series([5] * 30 + [40], config=CONFIG).fired
    assert not detect_in_series([5] * 30 + [40], config=strict).fired
    half_hour = SpikeConfig(window=timedelta(minutes=30), recent=timedelta(hours=1))
    assert detect_in_series([3] * 48 + [20], config=half_hour).fired


def test_empty_series_is_an_error():
    with pytest.raises(ValueError, match="empty series"):
        detect_in_series([], config=CONFIG)


# ---------------------------------------------------------------------------
# Terms
# ---------------------------------------------------------------------------


def test_tokens_drop_links_handles_and_stopwords():
    assert tokens("@AcmeHelp The APP is down!! https://t.co/x #outage u/someone check-in won't work") == [
        "app", "down", "outage", "check-in", "work"]


def test_top_terms_are_over_represented_in_the_window():
    window = ["Acme app down, error 503", "app won't load: 503", "the app crashes, 503 again", "lost bag at Acme",
              "Acme Air app error"]
    baseline = ["Acme lost my bag", "bag delayed again", "refund still missing", "Acme Air lost bag", "app is fine"] * 4
    brand = parse_settings(BASE_CONFIG).brands[0]
    terms = [t for t, _ in top_terms(window, baseline, limit=3, extra_stopwords=brand_words(brand))]
    assert terms == ["503", "app", "error"]
    assert {"acme", "air", "acmeair", "acmehelp"} <= brand_words(brand)


GENERIC = ("app", "website", "check", "check-in", "online", "people")


def test_suggested_keywords_say_what_is_wrong_not_only_what_is_affected():
    # The spike: the app and website are down. Every day's complaints also name the app and check-in.
    window = ["the app is down, cannot check in", "website down, 503 everywhere", "app down for everyone",
              "website down here too", "503 on the website", "kiosks are dead, app too",
              "all the kiosks are dead at the airport", "my check-in failed, app is slow"]
    baseline = ["app logs me out again", "can't check in online, the app is slow", "lost my bag", "refund missing",
                "check-in queue was huge", "the app crashed on my booking"] * 3
    keywords = suggest_keywords(window, baseline, limit=5, generic=GENERIC)
    assert keywords[:3] == ["down", "503", "dead"]
    assert not set(keywords) & set(GENERIC)  # a generic word is never a keyword alone
    # Without the generic list, "website" (in half the window's posts, never in the baseline) is suggested.
    assert "website" in suggest_keywords(window, baseline, limit=5)


def test_a_generic_word_makes_a_keyword_in_a_phrase():
    window = ["the app keeps crashing", "app crashing again", "app crashing on login", "the app crashing now"]
    baseline = ["the app is slow", "app crashed once last year", "lost my bag", "refund missing"] * 3
    assert suggest_keywords(window, baseline, limit=3, generic=["app"]) == ["crashing"]  # "app crashing": no new post
    window = ["the website froze", "the website froze again", "website froze", "lost my bag"]
    baseline = ["the website is slow", "website froze once", "lost my bag", "refund missing"] * 3
    assert suggest_keywords(window, baseline, limit=3, generic=["website"]) == ["froze"]
    window = ["website down again", "our website down?", "app down too", "app down here"]
    baseline = ["the website is slow", "the app is slow", "I sat down", "down to the wire", "lost my bag"] * 3
    # "down" is common in the baseline, the phrases are not; after them, "down" adds no post
    assert suggest_keywords(window, baseline, limit=3, generic=["website", "app"]) == ["app down", "website down"]


def test_suggested_keywords_each_add_posts_up_to_the_limit():
    window = ["error 503 now", "error 503 again", "error 503 here", "kiosk dead", "kiosk dead too"]
    baseline = ["lost my bag", "refund missing"] * 5
    # "error" and "503" are in the same posts: the second adds none and is skipped
    assert suggest_keywords(window, baseline, limit=5) == ["503", "dead"]
    assert suggest_keywords(window, baseline, limit=1) == ["503"]
    assert suggest_keywords([], baseline) == []
    assert suggest_keywords(["only once"], baseline) == []  # in fewer than two posts


# ---------------------------------------------------------------------------
# The database check and the pipeline
# ---------------------------------------------------------------------------


@pytest.fixture
def spike_settings(tmp_path):
    return parse_settings({**BASE_CONFIG, "data_dir": str(tmp_path / "data")}, path=tmp_path / "brandpulse.yaml")


def _store(Session, items):
    """items: (minutes after T0, text, label, handle, platform); returns the row ids."""
    ids = []
    with Session.begin() as s:
        for n, (minutes, text, label, handle, platform) in enumerate(items):
            at = T0 + timedelta(minutes=minutes)
            row = MentionRow(platform=platform, external_id=f"{platform}-{minutes}-{n}-{handle}", brand="acme",
                             author_id=f"id-{handle}", author_handle=handle, author_followers=10, author_verified=False,
                             text=text, created_at=at, fetched_at=at, addressed_handles=[], is_own=False)
            s.add(row)
            s.flush()
            s.add(ScoreRow(mention_id=row.id, analyzer="t", version="1", compound=-0.6 if label == "negative" else 0.5,
                           label=label, scored_at=at))
            ids.append(row.id)
    return ids


def _day(Session, *, hours=14, per_hour=3, burst=0, burst_text="the acme app is down, error 503"):
    """``hours`` of steady complaints (and praise), then ``burst`` complaints in the last hour."""
    items = []
    for h in range(hours):
        for k in range(per_hour):
            items.append((h * 60 + k * (60 // per_hour), ["lost my bag", "flight delayed", "refund missing"][k % 3],
                          "negative", f"u{h}-{k}", "x"))
        items.append((h * 60 + 30, "great crew", "positive", f"p{h}", "x"))
    for k in range(burst):
        items.append((hours * 60 + k * (55 / max(burst, 1)), f"{burst_text} #{k}", "negative", f"b{k}",
                      "reddit" if k % 4 == 0 else "x"))
    return _store(Session, items)


def test_a_spike_opens_one_possible_incident_alert_with_terms_examples_and_the_command(Session, spike_settings):
    _day(Session, burst=30)
    now = T0 + timedelta(hours=15)
    brand = spike_settings.brand("acme")
    with Session.begin() as s:
        suggestion = check_brand(s, brand, settings=spike_settings, now=now)
    assert suggestion is not None and suggestion.verdict.count == 30
    assert suggestion.terms[:4] == ["503", "app", "down", "error"]  # in every burst post, none before; ties by name
    with Session() as s:
        alert = s.get(AlertRow, suggestion.alert_id)
        assert (alert.rule, alert.priority, alert.status, alert.tags) == (RULE, "P1", "open", ["possible-incident"])
        assert alert.sla_due_at == now + spike_settings.sla_for("P1")
        examples = s.scalars(select(AlertMentionRow.mention_id).where(AlertMentionRow.alert_id == alert.id)).all()
        assert len(examples) == 3 and alert.mention_count == 3
        texts = s.scalars(select(MentionRow.text).where(MentionRow.id.in_(examples))).all()
        assert all("503" in t for t in texts)
        assert "30 negative mentions of Acme Air in the last hour" in alert.note
        assert "brandpulse incident open --brand acme" in alert.note and f"--from-alert {alert.id}" in alert.note
        # "app" is generic and every burst post has "503": one keyword links them all
        assert suggestion.keywords == ["503"] and "--keywords 503 --from-alert" in suggestion.command
        assert "Suggested keywords: 503 (edit them in the command;" in alert.note
        [event_] = audit.history(s, "alert", alert.id)
        assert event_.action == "alert.opened" and event_.details["command"] == suggestion.command
        assert event_.details["keywords"] == ["503"]

    # It does not fire again while that alert is open, nor just after it was dismissed, nor during an incident.
    with Session.begin() as s:
        assert check_brand(s, brand, settings=spike_settings, now=now + timedelta(minutes=10)) is None
        change_state(s, alert.id, "dismiss", actor="ops", now=now + timedelta(minutes=10), note="not an incident")
    with Session.begin() as s:
        assert check_brand(s, brand, settings=spike_settings, now=now + timedelta(minutes=20)) is None
    with Session.begin() as s:
        s.add(IncidentRow(brand="acme", title="App down", components=[], keywords=[], status="identified",
                          opened_at=now, opened_by="ops", updated_at=now))
    with Session.begin() as s:
        assert check_brand(s, brand, settings=spike_settings, now=now + timedelta(hours=3)) is None


def test_a_burst_after_a_quiet_day_fires_for_a_brand_monitored_for_days(Session, spike_settings):
    """A small brand: a few mentions two and three days ago, nothing in the
    last 24 h, then 30 complaints in an hour. It has days of history (none of
    it in the baseline's 24 h, so 0 expected): an incident, not "too little
    history" as when the history was counted from its first post of the last
    25 hours only."""
    _store(Session, [(-72 * 60 + k * 60, "lost my bag", "negative", f"old{k}", "x") for k in range(3)]
           + [(-48 * 60, "great crew", "positive", "fan", "x")])
    _store(Session, [(k * 2, f"the acme app is down, error 503 #{k}", "negative", f"b{k}", "x") for k in range(30)])
    with Session.begin() as s:
        suggestion = check_brand(s, spike_settings.brand("acme"), settings=spike_settings,
                                 now=T0 + timedelta(minutes=60))
    assert suggestion is not None and suggestion.verdict.count == 30 and suggestion.verdict.expected == 0
    # A brand first heard of an hour ago still has too little history to tell.
    with Session.begin() as s:
        s.execute(update(AlertRow).values(status="dismissed", created_at=T0 - timedelta(days=1)))
        s.execute(delete(ScoreRow).where(ScoreRow.mention_id.in_(select(MentionRow.id).where(MentionRow.created_at < T0))))
        s.execute(delete(MentionRow).where(MentionRow.created_at < T0))
    with Session.begin() as s:
        assert check_brand(s, spike_settings.brand("acme"), settings=spike_settings,
                           now=T0 + timedelta(minutes=65)) is None


def _rescore(Session, ids, label, *, at, version="2"):
    """A later score (a trained analyzer, a rescoring) for each of ``ids``."""
    with Session.begin() as s:
        for mention_id in ids:
            s.add(ScoreRow(mention_id=mention_id, analyzer="trained", version=version, label=label, scored_at=at,
                           compound=-0.6 if label == "negative" else 0.1))


def test_a_spike_counts_each_mention_by_its_latest_label(Session, spike_settings):
    """Complaints re-scored non-negative (by a trained analyzer, or rescoring) are not counted,
    as trends count them; and posts first read as neutral, re-scored negative, are."""
    ids = _day(Session, burst=30)
    burst = ids[-30:]
    now = T0 + timedelta(hours=15)
    _rescore(Session, burst[:25], "neutral", at=now - timedelta(minutes=2))
    with Session.begin() as s:
        assert check_brand(s, spike_settings.brand("acme"), settings=spike_settings, now=now) is None
    _rescore(Session, burst[:20], "negative", at=now - timedelta(minutes=1), version="3")  # and back again: 25 negatives
    with Session.begin() as s:
        suggestion = check_brand(s, spike_settings.brand("acme"), settings=spike_settings, now=now)
    assert suggestion is not None and suggestion.verdict.count == 25
    with Session() as s:
        examples = s.scalars(select(AlertMentionRow.mention_id)
                             .where(AlertMentionRow.alert_id == suggestion.alert_id)).all()
    assert not set(examples) & set(burst[20:25])  # the ones now neutral are no examples


def test_the_generic_terms_and_the_number_of_keywords_come_from_the_config(Session, tmp_path):
    settings = parse_settings({**BASE_CONFIG, "data_dir": str(tmp_path / "data"),
                               "incidents": {"spikes": {"generic_terms": ["503"], "keywords": 2}}})
    _day(Session, burst=30)
    with Session.begin() as s:
        suggestion = check_brand(s, settings.brand("acme"), settings=settings, now=T0 + timedelta(hours=15))
    # The list replaces the defaults: "app" is not generic any more. Every burst post has app, down, error and
    # 503 (tied scores go by name), so app alone covers them; "503" is only part of the phrase "error 503".
    assert suggestion.keywords == ["app"]
    assert settings.incidents.spikes.keywords == 2


def test_steady_complaints_open_nothing(Session, spike_settings):
    _day(Session, hours=20, per_hour=6)
    with Session.begin() as s:
        assert check_brand(s, spike_settings.brand("acme"), settings=spike_settings, now=T0 + timedelta(hours=20)) is None
        assert s.scalars(select(AlertRow)).all() == []


def test_the_monitor_is_throttled_and_costs_one_query(Session, engine, spike_settings):
    _day(Session, burst=0)
    monitor = SpikeMonitor(spike_settings)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    start = T0 + timedelta(hours=14, minutes=1)
    with Session.begin() as s:
        assert monitor.after_batch(s, ["acme"], now=start) == []
    assert len(statements) == 1  # one aggregate query when nothing fires
    _store(Session, [(14 * 60 + 1.5 + k / 12, f"app down 503 #{k}", "negative", f"b{k}", "x") for k in range(30)])
    with Session.begin() as s:
        assert monitor.after_batch(s, ["acme"], now=start + timedelta(minutes=3)) == []  # checked 3 min ago
        [suggestion] = monitor.after_batch(s, ["acme"], now=start + timedelta(minutes=6))
    assert suggestion.verdict.count == 32  # the burst and two steady complaints from 13:20 and 13:40


def test_the_pipeline_checks_after_each_batch(Session, spike_settings, make_mention):
    _day(Session, burst=0)
    pipeline = Pipeline(spike_settings)
    now = T0 + timedelta(hours=14, minutes=50)
    stored, prepared = [], []
    with Session.begin() as s:
        for k in range(25):
            m = make_mention(f"@AcmeHelp app down, 503 again #{k}", handle=f"b{k}", created_at=T0,
                             minutes=14 * 60 + k)
            row = MentionRow(platform="x", external_id=m.external_id, brand="acme", author_id=m.author.id,
                             author_handle=m.author.handle, text=m.text, created_at=m.created_at,
                             fetched_at=m.created_at, addressed_handles=[], is_own=False, author_followers=10,
                             author_verified=False)
            s.add(row)
            s.flush()
            stored.append(StoredMention(row_id=row.id, mention=m, index=k))
            prepared.append(Score("t", "1", -0.7, Label.NEGATIVE))
        pipeline.apply(s, stored, prepared, now=now)
    assert pipeline.stats.possible_incidents == 1
    with Session() as s:
        [alert] = s.scalars(select(AlertRow).where(AlertRow.rule == RULE)).all()
        assert alert.brand == "acme" and "app" in alert.note


def test_disabled_detection_checks_nothing(Session):
    settings = parse_settings({**BASE_CONFIG, "incidents": {"spikes": {"enabled": False}}})
    _day(Session, burst=30)
    with Session.begin() as s:
        assert SpikeMonitor(settings).after_batch(s, ["acme"], now=T0 + timedelta(hours=15)) == []
