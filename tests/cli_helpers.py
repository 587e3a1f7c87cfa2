"""Helpers for command-line tests: recorded posts, a config around them, and
invoking ``brandpulse`` in-process."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from brandpulse.app import DEMO_CONFIG
from brandpulse.cli import main
from brandpulse.config import load_settings
from brandpulse.db import make_engine, session_factory
from tests.conftest import BASE_CONFIG, T0


def x_post(
    i: int, text: str, *, handle: str, minutes: float = 0, followers: int = 100,
    thread: str | None = None, reply_to: str | None = None, base_id: int = 5000,
) -> dict[str, Any]:
    """One recorded X post in the replay format (listener/replay.py)."""
    post_id = str(base_id + i)
    return {
        "platform": "x", "id": post_id,
        "created_at": (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "author": {"id": f"id-{handle}", "handle": handle, "name": handle.title(), "followers": followers, "verified": False},
        "text": text, "lang": "en", "conversation_id": thread or post_id, "in_reply_to_id": reply_to,
        "quoted_id": None, "url": f"https://x.com/{handle}/status/{post_id}", "subreddit": None, "title": None,
    }


def write_config(directory: Path, posts: list[dict[str, Any]], **overrides: Any) -> Path:
    """BASE_CONFIG with one replay source over ``posts``, plus top-level ``overrides``."""
    (directory / "mentions.jsonl").write_text("\n".join(json.dumps(p) for p in posts) + "\n")
    data = copy.deepcopy(BASE_CONFIG)
    data["data_dir"] = "data"
    data["sources"] = [{"name": "replay", "kind": "replay", "brand": "acme", "poll_interval": "1m", "path": "mentions.jsonl"}]
    data.update(copy.deepcopy(overrides))
    path = directory / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def write_demo_config(directory: Path) -> Path:
    """The demo's own configuration (``brandpulse demo``: the recorded day in
    demo/mentions.jsonl, the project's templates) with its data and database
    under ``directory``."""
    project = DEMO_CONFIG.parent.parent
    config = yaml.safe_load(DEMO_CONFIG.read_text())
    config["data_dir"] = str(directory / "data")
    config["database_url"] = f"sqlite:///{directory / 'data' / 'demo.db'}"
    config["templates_dir"] = str(project / "templates")
    config["sources"][0]["path"] = str(project / "demo" / "mentions.jsonl")
    path = directory / "demo.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def invoke(config: Path, *args: str, ok: bool = True) -> Result:
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def db(config: Path):
    """A session factory on the configuration's database."""
    return session_factory(make_engine(load_settings(config).effective_database_url()))


def config_after_one_run(tmp_path: Path, monkeypatch, posts: list[dict[str, Any]]) -> Path:
    """A config replaying ``posts`` (no database or config taken from the
    environment), after one ``brandpulse run --once`` has read them all."""
    monkeypatch.delenv("BRANDPULSE_DATABASE_URL", raising=False)
    monkeypatch.delenv("BRANDPULSE_CONFIG", raising=False)
    path = write_config(tmp_path, posts)
    invoke(path, "run", "--once")
    return path
