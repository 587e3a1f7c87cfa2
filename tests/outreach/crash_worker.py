"""The process the crash test kills: it ingests mentions from a replay source
through the real poller and pipeline, and sends the approved replies through
the real outbox, against a file-backed SQLite database and a fake platform.

The fake platform is a ledger file: "posting" appends one JSON line (one
``write`` call, then ``fsync``), so a post survives the death of the process
that made it, exactly as a post on X survives the crash of the bot that made
it. It answers after some latency, so a kill can land after the platform
created the post and before the bot recorded it; ``find_sent`` reads the
ledger back, which is what reconciliation does against a real platform.

Run by tests/outreach/test_crash.py in a forked child (so each start costs
no imports); ``python -m tests.outreach.crash_worker DB CONFIG LEDGER`` runs it
by hand.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from brandpulse.clock import SystemClock
from brandpulse.config import Settings, load_settings
from brandpulse.db import make_engine, session_factory
from brandpulse.db.models import OutboxRow
from brandpulse.pipeline import Pipeline
from brandpulse.wiring import build_pollers
from outreach.channels.base import OutboundPost, SentPost
from outreach.outbox import send_approved

REQUEST_LATENCY = 0.002  # before the platform creates the post
ANSWER_LATENCY = 0.012  # after: the post exists, the answer has not arrived yet
PENDING = ("approved", "sending", "unknown")  # what a sender still has to do


class LedgerPlatform:
    """A fake X: every post it creates is a line in ``path``."""

    platform = "x"
    max_length = 280

    def __init__(self, path: Path, *, request_latency: float = REQUEST_LATENCY,
                 answer_latency: float = ANSWER_LATENCY) -> None:
        self.path = path
        self.request_latency = request_latency
        self.answer_latency = answer_latency
        self._ids = itertools.count(1)

    def send(self, post: OutboundPost) -> SentPost:
        time.sleep(self.request_latency)
        post_id = f"{os.getpid()}-{next(self._ids)}"
        line = json.dumps({"outbox_id": post.outbox_id, "post_id": post_id, "in_reply_to": post.in_reply_to,
                           "text": post.text}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))  # one write: the line is there whole, or not at all
            os.fsync(fd)
        finally:
            os.close(fd)
        time.sleep(self.answer_latency)
        return SentPost(external_id=post_id, url=f"https://x.example/AcmeAir/status/{post_id}")

    def find_sent(self, post: OutboundPost) -> SentPost | None:
        for entry in read_ledger(self.path):
            if entry["outbox_id"] == post.outbox_id:
                return SentPost(external_id=entry["post_id"])
        return None


def read_ledger(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def work(*, db_url: str, settings: Settings, pipeline: Pipeline, ledger: Path, until_done: bool) -> int:
    """Poll and send in a loop; with ``until_done``, return once every mention
    is in and no reply is left to send. Returns the number of loops."""
    engine = make_engine(db_url)
    Session = session_factory(engine)
    clock = SystemClock()
    pollers = build_pollers(settings, Session=Session, clock=clock, pipeline=pipeline)
    channel = LedgerPlatform(ledger)
    loops = 0
    while True:
        loops += 1
        for poller in pollers:
            poller.poll_once(force=True)
        # Grace 0: only one sender runs at a time here, so a row left "sending"
        # belongs to a process that was killed, and is reconciled at once.
        send_approved(Session, channels={"x": channel}, now=clock.now(), limit=5,
                      sending_grace=timedelta(0), settings=settings)
        if until_done:
            exhausted = all(p.source.exhausted(p.cursor()) for p in pollers)
            with Session() as s:
                left = s.scalar(select(func.count()).select_from(OutboxRow).where(OutboxRow.status.in_(PENDING)))
            if exhausted and not left:
                engine.dispose()
                return loops


def main(argv: list[str]) -> int:  # pragma: no cover - for running by hand
    db, config, ledger = argv
    settings = load_settings(config)
    work(db_url=f"sqlite:///{db}", settings=settings, pipeline=Pipeline(settings), ledger=Path(ledger), until_done=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
