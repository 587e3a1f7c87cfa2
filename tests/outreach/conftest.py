"""Fixtures for the outreach tests: rows inserted directly with the models."""

from __future__ import annotations

import itertools
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from brandpulse.config import Settings, parse_settings
from brandpulse.db.models import AlertRow, MentionRow, OutboxRow, ScoreRow
from brandpulse.types import Author, DraftRequest, Label, Mention, Priority, Score
from outreach.templating import TemplateRenderer

PROJECT_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def renderer(settings: Settings) -> TemplateRenderer:
    return TemplateRenderer(settings)


@pytest.fixture
def make_settings(tmp_path: Path, config_dict: dict[str, Any]):
    """Build Settings from the base configuration with some keys replaced."""

    def build(**changes: Any) -> Settings:
        data = {**config_dict, "data_dir": str(tmp_path / "data"), **changes}
        return parse_settings(data, path=tmp_path / "brandpulse.yaml")

    return build


_ids = itertools.count(1000)


@pytest.fixture
def make_mention(Session, clock):
    """Store a mention (and optionally a score); returns (row id, Mention)."""

    def build(
        *,
        text: str = "@AcmeHelp my flight is delayed again",
        handle: str = "sam",
        platform: str = "x",
        at: datetime | None = None,
        followers: int = 100,
        thread_id: str | None = "t1",
        addressed: tuple[str, ...] = ("acmehelp",),
        url: str | None = None,
        label: str | None = "negative",
        compound: float = -0.6,
        brand: str = "acme",
        is_own: bool = False,
        external_id: str | None = None,
        title: str | None = None,
        reply_to_id: str | None = None,
    ) -> tuple[int, Mention]:
        external_id = external_id or str(next(_ids))
        at = at or clock.now()
        mention = Mention(
            platform=platform,
            external_id=external_id,
            brand=brand,
            author=Author(platform=platform, id=f"u-{handle}", handle=handle, name=handle.title(), followers=followers),
            text=text,
            created_at=at,
            lang="en",
            url=url if url is not None else f"https://x.com/{handle}/status/{external_id}",
            thread_id=thread_id,
            addressed_handles=addressed,
            title=title,
            reply_to_id=reply_to_id,
        )
        with Session.begin() as s:
            row = MentionRow(
                platform=platform, external_id=external_id, brand=brand, source="test",
                author_id=mention.author.id, author_handle=handle, author_name=mention.author.name,
                author_followers=followers, author_verified=False, text=text, title=title, lang="en",
                url=mention.url, thread_id=thread_id, reply_to_id=reply_to_id, addressed_handles=list(addressed),
                is_own=is_own,
                created_at=at, fetched_at=at,
            )
            s.add(row)
            s.flush()
            if label is not None:
                s.add(ScoreRow(mention_id=row.id, analyzer="vader", version="3.3.2", compound=compound,
                               label=label, lang="en", scored_at=at))
            return row.id, mention

    return build


@pytest.fixture
def make_alert(Session, settings: Settings):
    """Store an alert opened by a stored mention; returns its id."""

    def build(
        mention_id: int,
        mention: Mention,
        *,
        priority: str = "P2",
        status: str = "open",
        created_at: datetime | None = None,
        sla_due_at: datetime | None = None,
        last_mention_id: int | None = None,
        mention_count: int = 1,
        first_response_at: datetime | None = None,
    ) -> int:
        created = created_at or mention.created_at
        with Session.begin() as s:
            row = AlertRow(
                brand=mention.brand, platform=mention.platform, author_id=mention.author.id,
                author_handle=mention.author.handle, thread_id=mention.thread_id, mention_id=mention_id,
                last_mention_id=last_mention_id or mention_id, mention_count=mention_count, rule="complaint",
                priority=priority, priority_score=0.5, status=status, tags=[], opened_at=mention.created_at,
                created_at=created, sla_due_at=sla_due_at or created + settings.sla_for(priority),
                last_mention_at=mention.created_at, first_response_at=first_response_at,
            )
            s.add(row)
            s.flush()
            return row.id

    return build


def _draft_request(mention_id: int, mention: Mention, alert_id: int | None, template: str = "apology") -> DraftRequest:
    return DraftRequest(
        mention_id=mention_id,
        alert_id=alert_id,
        template=template,
        mention=mention,
        score=Score(analyzer="vader", version="3.3.2", compound=-0.6, label=Label.NEGATIVE),
        priority=Priority.P2,
    )


@pytest.fixture
def draft_request():
    return _draft_request


@pytest.fixture
def make_outbox(Session, clock):
    """Store an outbox row directly; returns its id."""

    def build(*, status: str = "approved", text: str = "Hi @sam, sorry!", platform: str = "x",
              alert_id: int | None = None, mention_id: int | None = None, in_reply_to: str | None = "123",
              claimed_at: datetime | None = None, not_before: datetime | None = None,
              created_at: datetime | None = None, account: str | None = "AcmeHelp") -> int:
        created_at = created_at or clock.now()
        with Session.begin() as s:
            row = OutboxRow(
                kind="reply", brand="acme", platform=platform, alert_id=alert_id, mention_id=mention_id,
                in_reply_to=in_reply_to, account=account, template="apology", text=text, status=status,
                needs_approval=True, claimed_at=claimed_at, not_before=not_before, attempts=0,
                created_at=created_at, updated_at=created_at,
            )
            s.add(row)
            s.flush()
            return row.id

    return build

