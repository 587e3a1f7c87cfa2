"""Crash test: the process that ingests mentions and sends replies is killed
with SIGKILL at random moments, again and again, against a fake platform.
At the end every approved reply was posted exactly once, and every mention
was stored exactly once.

Each run is a forked child (tests/outreach/crash_worker.py) that polls a
replay source through the real poller and pipeline (mentions → scores →
alerts → auto-approved replies) and sends through the real outbox; the fake
platform is a ledger file appended with fsync. Kills land anywhere: inside a
poll's transaction, between a claim and the post, after the platform created
a post and before the bot recorded it (the fake platform answers after a
delay), inside reconciliation. The parent kills a child after a random delay
(seeded), starts the next one, and at the end lets one run to completion.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from brandpulse.config import load_settings
from brandpulse.db import make_engine, session_factory, upgrade
from brandpulse.db.models import AlertRow, AuditRow, MentionRow, OutboxRow
from brandpulse.pipeline import Pipeline
from tests.outreach.crash_worker import read_ledger, work

MENTIONS = 240
KILLS = 24
SEED = 20260310
COMPLAINTS = [
    "@AcmeAir my flight {n} was cancelled, acme air is useless",
    "@AcmeAir lost my bag on flight {n}, terrible acme air",
    "@AcmeAir delayed again (flight {n}), acme air never tells us why",
    "@AcmeAir acme air app crashed during check-in for flight {n}",
]


def _write_world(tmp_path: Path) -> tuple[Path, Path]:
    start = datetime.now(timezone.utc) - timedelta(days=1)
    lines = []
    for i in range(MENTIONS):
        lines.append(json.dumps({
            "platform": "x", "id": str(900_000 + i),
            "created_at": (start + timedelta(seconds=30 * i)).isoformat().replace("+00:00", "Z"),
            "author": {"id": f"a{i}", "handle": f"traveller{i}", "name": None, "followers": 10 + i, "verified": False},
            "text": COMPLAINTS[i % len(COMPLAINTS)].format(n=100 + i), "lang": "en",
            "conversation_id": str(900_000 + i), "in_reply_to_id": None, "quoted_id": None,
            "url": f"https://x.com/traveller{i}/status/{900_000 + i}", "subreddit": None, "title": None,
        }))
    (tmp_path / "mentions.jsonl").write_text("\n".join(lines) + "\n")
    config = {
        "data_dir": "data",
        "default_analyzer": "vader",
        "brands": [{"id": "acme", "name": "Acme Air", "accounts": {"x": ["AcmeAir"]},
                    "query": {"keywords": ["acme air", "acmeair"]}}],
        "sources": [{"name": "replay", "kind": "replay", "brand": "acme", "path": "mentions.jsonl", "batch_limit": 4}],
        # Every mention opens an alert and gets a reply, approved by the policy.
        "rules": [{"name": "everything", "when": {}, "then": {"alert": {"priority": "P2"}, "draft": "apology"}}],
        "templates": {"apology": {"text": "Hi {{ author.mention }}, sorry about this. DM us your booking ref."}},
        "reply_policy": {"require_approval": False},
        "safeguards": {"caps": {"per_hour": 10_000, "per_day": 10_000}},
    }
    path = tmp_path / "brandpulse.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, tmp_path / "platform-ledger.jsonl"


def _child(**kwargs) -> None:
    """Runs in the forked child: never returns into pytest."""
    code = 1
    try:
        work(**kwargs)
        code = 0
    except BaseException:  # noqa: BLE001 - reported, then the child exits
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _start(**kwargs) -> int:
    pid = os.fork()
    if pid == 0:
        _child(**kwargs)
    return pid


def _wait_for_new_post(ledger: Path, *, timeout: float) -> None:
    """Return as soon as the fake platform appends a post to its ledger (it then
    waits ANSWER_LATENCY before answering: a kill now loses the answer)."""
    before = ledger.stat().st_size if ledger.exists() else 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ledger.exists() and ledger.stat().st_size > before:
            return
        time.sleep(0.0005)
    # Nothing left to send in this round: the kill lands wherever the child is.


@pytest.mark.slow
def test_sigkill_at_random_points_never_loses_or_duplicates(tmp_path):
    config, ledger = _write_world(tmp_path)
    settings = load_settings(config)
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    engine = make_engine(db_url)
    upgrade(engine)
    engine.dispose()  # no connection crosses a fork
    pipeline = Pipeline(settings)
    pipeline.analyzer_for("acme")  # built once here; each child inherits it
    rng = random.Random(SEED)

    kills = 0
    for round_ in range(KILLS):
        pid = _start(db_url=db_url, settings=settings, pipeline=pipeline, ledger=ledger, until_done=False)
        if round_ % 4 == 3:
            # A kill in the worst window, whatever the machine's load: the
            # platform has just created a post and has not answered yet.
            _wait_for_new_post(ledger, timeout=10)
        else:
            time.sleep(rng.uniform(0.02, 0.25))  # the kill point: wall time into the child's work
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, f"child ended by itself: {status}"
        kills += 1

    Session = session_factory(make_engine(db_url))
    with Session() as s:
        mentions_before_final = s.scalar(select(func.count()).select_from(MentionRow))
        sent_before_final = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status == "sent"))
    assert mentions_before_final < MENTIONS or sent_before_final < MENTIONS, "the kills did not interrupt any work"

    # Then one run to completion (bounded: a child that hangs fails the test).
    pid = _start(db_url=db_url, settings=settings, pipeline=pipeline, ledger=ledger, until_done=True)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the final run did not finish within 60 s")
        time.sleep(0.05)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, "the final run failed (see its traceback above)"

    posts = read_ledger(ledger)  # raises if any line were torn
    with Session() as s:
        external_ids = list(s.scalars(select(MentionRow.external_id)))
        replies = list(s.scalars(select(OutboxRow).order_by(OutboxRow.id)))
        alerts = s.scalar(select(func.count()).select_from(AlertRow))
        found_by_reconciliation = s.scalar(
            select(func.count()).select_from(AuditRow)
            .where(AuditRow.action == "reply.reconciled", AuditRow.details["outcome"].as_string() == "found")
        )
        reclaimed = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.attempts > 1))

    # No mention lost, none stored twice.
    assert sorted(external_ids) == sorted(str(900_000 + i) for i in range(MENTIONS))
    assert alerts == MENTIONS
    # Every reply approved, and each posted exactly once.
    assert len(replies) == MENTIONS
    assert {r.status for r in replies} == {"sent"}
    posted = [p["outbox_id"] for p in posts]
    assert len(posted) == len(set(posted)), "a reply was posted twice"
    assert sorted(posted) == [r.id for r in replies]
    by_outbox = {p["outbox_id"]: p for p in posts}
    for r in replies:
        assert r.external_id == by_outbox[r.id]["post_id"]  # the row records the post that exists
        assert by_outbox[r.id]["in_reply_to"] == r.in_reply_to
    # Kills landed after the platform created a post and before it was recorded
    # (every fourth kill is aimed there): reconciliation found those posts
    # instead of posting them again.
    assert found_by_reconciliation >= 1
    print(f"\n{kills} SIGKILLs; before the final run {mentions_before_final}/{MENTIONS} mentions stored,"
          f" {sent_before_final} replies sent; posts found by reconciliation: {found_by_reconciliation};"
          f" replies claimed more than once: {reclaimed}")
