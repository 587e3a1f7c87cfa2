"""Factories for the rules tests: mentions and scores built directly, and
mention rows stored so alerts can point at them."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from brandpulse.db.models import MentionRow
from brandpulse.types import Author, Label, Mention, Score
from rules.analyzers.base import label_for

# The same instant as tests/conftest.py's T0 (the fake clock's start).
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)

_ids = itertools.count(1)


def _mention(
    text: str = "acme air lost my bag",
    *,
    platform: str = "x",
    brand: str = "acme",
    handle: str = "traveller",
    author_id: str | None = None,
    followers: int = 100,
    verified: bool = False,
    thread_id: str | None = None,
    lang: str | None = "en",
    title: str | None = None,
    addressed: tuple[str, ...] = (),
    created_at: datetime = T0,
    minutes: float = 0,
    external_id: str | None = None,
) -> Mention:
    return Mention(
        platform=platform,
        external_id=external_id or f"m{next(_ids)}",
        brand=brand,
        author=Author(platform, author_id or f"id-{handle.lower()}", handle, followers=followers, verified=verified),
        text=text,
        created_at=created_at + timedelta(minutes=minutes),
        lang=lang,
        thread_id=thread_id,
        title=title,
        addressed_handles=addressed,
    )


def _score(compound: float = -0.6, label: Label | str | None = None, *, lang: str | None = None) -> Score:
    if label is None:
        label = label_for(compound)
    return Score("test", "1", compound, Label(label), lang)


@pytest.fixture
def make_mention() -> Callable[..., Mention]:
    return _mention


@pytest.fixture
def make_score() -> Callable[..., Score]:
    return _score


@pytest.fixture
def store_mention() -> Callable[[Any, Mention], int]:
    """Insert a mention row (alerts refer to mentions) and return its id."""

    def store(session, mention: Mention) -> int:
        row = MentionRow(
            platform=mention.platform,
            external_id=mention.external_id,
            brand=mention.brand,
            author_id=mention.author.id,
            author_handle=mention.author.handle,
            author_followers=mention.author.followers,
            text=mention.text,
            thread_id=mention.thread_id,
            lang=mention.lang,
            created_at=mention.created_at,
            fetched_at=mention.created_at,
            addressed_handles=list(mention.addressed_handles),
        )
        session.add(row)
        session.flush()
        return row.id

    return store
