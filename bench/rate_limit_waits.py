"""Two X accounts, one of them rate-limited: what the send loop does.

    python bench/rate_limit_waits.py

20 approved replies, half to be posted as @AcmeAir and half as @AcmeHelp
(each with its own access token), against the fake X API of the test suite
(tests/fakes: no network). @AcmeHelp's token is refused with 429 for the
first 15 minutes. ``send_approved`` runs once a simulated minute for 20
minutes. Printed per account: POST /2/tweets attempts, how many were refused,
and the minute by which all its replies were sent.

Measured 2026-12-07: @AcmeAir 10 posts, all sent by minute 0; @AcmeHelp 11
attempts (1 refused), all sent by minute 15. The send loop before per-sender
waits (commit 259712e: it waited per platform, within one run only) gives
@AcmeHelp 20 attempts (10 refused) and @AcmeAir's replies by minute 10:
``git worktree add /tmp/old 259712e``, copy this file and tests/fakes/x_api.py
into it, run it there.
"""

from __future__ import annotations

import copy
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import func, select  # noqa: E402

from brandpulse.clock import FakeClock  # noqa: E402
from brandpulse.config import parse_settings  # noqa: E402
from brandpulse.db import make_engine, session_factory, upgrade  # noqa: E402
from brandpulse.db.models import MentionRow, OutboxRow  # noqa: E402
from outreach.channels.x import build_x_channel  # noqa: E402
from outreach.outbox import send_approved  # noqa: E402
from tests.conftest import BASE_CONFIG, T0  # noqa: E402
from tests.fakes import serve_x  # noqa: E402

ACCOUNTS = ("AcmeAir", "AcmeHelp")
REPLIES = 20
LIMITED_FOR = timedelta(minutes=15)
MINUTES = 20


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="bp-waits-"))
    settings = parse_settings({**copy.deepcopy(BASE_CONFIG), "data_dir": str(tmp)}, path=tmp / "bench.yaml")
    engine = make_engine(f"sqlite:///{tmp / 'bench.db'}")
    upgrade(engine)
    Session = session_factory(engine)
    clock = FakeClock(T0)
    with serve_x(now=clock.now) as x:
        x.set_me("AcmeAir")
        help_token = x.add_account_token("AcmeHelp")
        env = {"X_API_KEY": x.api_key, "X_API_SECRET": "s", "X_ACCESS_TOKEN": x.access_token,
               "X_ACCESS_TOKEN_SECRET": "s", "X_ACCESS_TOKEN__ACMEHELP": help_token,
               "X_ACCESS_TOKEN_SECRET__ACMEHELP": "s"}
        channel = build_x_channel(settings, env=env, clock=clock)
        for i in range(REPLIES):
            account = ACCOUNTS[(i + 1) % 2]
            author = f"customer{i}"
            x.add_user(author)
            tweet = x.add_tweet(f"@{account} help {i}", author=author, created_at=clock.now() - timedelta(minutes=3))
            with Session.begin() as s:
                mention = MentionRow(platform="x", external_id=tweet["id"], brand="acme", source="bench",
                                     author_id=f"u{i}", author_handle=author, author_followers=1,
                                     author_verified=False, text=tweet["text"], thread_id=tweet["id"],
                                     addressed_handles=[account.lower()], is_own=False, created_at=clock.now(),
                                     fetched_at=clock.now())
                s.add(mention)
                s.flush()
                s.add(OutboxRow(kind="reply", brand="acme", platform="x", mention_id=mention.id,
                                in_reply_to=tweet["id"], account=account, template="apology",
                                text=f"Hi @{author}, sorry {i}", status="approved", needs_approval=True, attempts=0,
                                created_at=clock.now() + timedelta(seconds=i), updated_at=clock.now()))
        x.limit_posting("AcmeHelp", until=T0 + LIMITED_FOR)
        done_at: dict[str, int] = {}
        for minute in range(MINUTES + 1):
            send_approved(Session, channels={"x": channel}, now=clock.now())
            with Session() as s:
                for account in ACCOUNTS:
                    unsent = s.scalar(select(func.count()).select_from(OutboxRow)
                                      .where(OutboxRow.account == account, OutboxRow.status != "sent"))
                    if unsent == 0:
                        done_at.setdefault(account, minute)
            clock.advance(timedelta(minutes=1))
        per_account = REPLIES // len(ACCOUNTS)
        for account in ACCOUNTS:
            tried = x.posts_tried(account)
            print(f"@{account}: POST /2/tweets {tried}, refused (429) {tried - per_account},"
                  f" all {per_account} sent by minute {done_at.get(account, 'never')}")


if __name__ == "__main__":
    main()
