"""Pipeline.warm_up: what scoring a replay needs is loaded before the demo's
accelerated clock starts (loading the Japanese analyzer at the first Japanese
post stopped the demo's polls for hours of simulated time)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import rules.analyzers.customer_care as customer_care
from brandpulse.pipeline import Pipeline
from brandpulse.types import Author, Label, Mention, Score
from listener.replay import ReplaySource
from tests.conftest import T0


def post(i: int, text: str, *, lang: str | None, handle: str = "sam") -> Mention:
    return Mention(
        platform="x", external_id=str(7000 + i), brand="acme",
        author=Author(platform="x", id=f"id-{handle}", handle=handle, followers=10),
        text=text, created_at=T0 + timedelta(minutes=i), lang=lang,
    )


class FakeJapanese:
    def score_many(self, texts, *, langs=None, brand=None):
        return [Score("japanese", "test", -0.5, Label.NEGATIVE, "ja", {}) for _ in texts]


@pytest.fixture
def japanese_loads(monkeypatch):
    """Each time the customer-care analyzer loads its Japanese analyzer."""
    loads: list[int] = []

    def load(factory=None):
        loads.append(1)
        return FakeJapanese()

    monkeypatch.setattr(customer_care, "japanese_analyzer", load)
    return loads


def test_warm_up_loads_the_japanese_analyzer_when_a_post_is_japanese(settings, japanese_loads):
    pipeline = Pipeline(settings)
    english = post(1, "my flight was cancelled again", lang="en")
    japanese = post(2, "アプリが開かない", lang=None)  # language detected from the text, as for Reddit posts
    pipeline.warm_up([english, japanese, post(3, "荷物がまだ届かない", lang="ja")])
    assert japanese_loads == [1]
    # scoring the replay's Japanese posts later loads nothing more
    scores = pipeline.prepare([japanese])
    assert japanese_loads == [1] and scores[0].label is Label.NEGATIVE


def test_warm_up_loads_no_japanese_analyzer_for_posts_in_other_languages(settings, japanese_loads):
    pipeline = Pipeline(settings)
    pipeline.warm_up([post(1, "my flight was cancelled again", lang="en"), post(2, "vol annulé, encore", lang="fr")])
    assert japanese_loads == []


def test_warm_up_skips_the_brand_s_own_posts(settings, japanese_loads):
    pipeline = Pipeline(settings)
    own_handle = settings.brand("acme").accounts.x[0]
    pipeline.warm_up([post(1, "お知らせ：アプリを更新しました", lang="ja", handle=own_handle)])
    assert japanese_loads == []  # never scored, so nothing to load for it


def test_the_demo_warms_the_pipeline_up_with_the_replay_s_posts_before_its_clock_starts(tmp_path, monkeypatch):
    """The demo hands warm_up every post it will replay, shifted, before it
    creates the accelerated clock."""
    from brandpulse import clock as clock_module
    from brandpulse.cli import run as run_module
    from tests.cli_helpers import invoke, write_demo_config

    events: list[tuple] = []

    class ClockStarted(Exception):
        """Stops the demo once its clock exists: the replay itself is not under test."""

    def warm_up(self, mentions):
        events.append(("warm_up", len(mentions), min(m.created_at for m in mentions)))

    class RecordingClock(clock_module.AcceleratedClock):
        def __init__(self, start, speed, **kwargs):
            events.append(("clock", start))
            raise ClockStarted

    monkeypatch.setattr(Pipeline, "warm_up", warm_up)
    monkeypatch.setattr(run_module, "AcceleratedClock", RecordingClock)
    path = write_demo_config(tmp_path)
    with pytest.raises(ClockStarted):
        invoke(path, "demo")
    assert [e[0] for e in events] == ["warm_up", "clock"]
    (_, count, first), (_, start) = events
    assert count == 396  # every post the query keeps
    assert start <= first < start + timedelta(hours=1)  # shifted to the day that ends now


def test_replay_source_lists_its_mentions_as_shifted(tmp_path):
    path = tmp_path / "day.jsonl"
    path.write_text(
        '{"platform": "x", "id": "1", "created_at": "2026-03-10T00:39:06Z", "author": {"id": "9", "handle": "amara", '
        '"followers": 5}, "text": "Acme lost my bag", "lang": "en"}\n'
    )
    source = ReplaySource(name="day", brand="acme", path=path)
    source.shift(timedelta(days=2))
    (only,) = source.mentions
    assert only.created_at.isoformat() == "2026-03-12T00:39:06+00:00" and only.text == "Acme lost my bag"
