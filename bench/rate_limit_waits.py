"""Two X accounts, one of them rate-limited: what the send loop does.

    python bench/rate_limit_waits.py

20 approved replies, half to be posted as @AcmeAir and half as @AcmeHelp
(each with its own access token), against the fake X API of the test suite
(tests/fakes: no network). @AcmeHelp's token is refused with 429 for the
first 15 minutes. ``send_approved`` runs once a simulated minute for 20
minutes. Printed per account: POST /2/tweets attempts, how many were refused,
and the minute by which all its replies were sent. Then the same with two
sender processes (threads, each with its own engine on the one SQLite file
and its own X channel) running ``send_approved`` at the same moment every
minute, 20 times: how many 429s @AcmeHelp met per simulation (1 is the least:
the post that learns of the limit).

Measured 2026-12-07: @AcmeAir 10 posts, all sent by minute 0; @AcmeHelp 11
attempts (1 refused), all sent by minute 15. The send loop before per-sender
waits (commit 259712e: it waited per platform, within one run only) gives
@AcmeHelp 20 attempts (10 refused) and @AcmeAir's replies by minute 10:
``git worktree add /tmp/old 259712e``, copy this file and tests/fakes/x_api.py
into it, run it there.

Two processes, measured 2026-12-07 (two runs of the script each): before the
send claim read the waits (a process read them once, at the start of its
run) 40 and 39 429s in 20 simulations (2 in 20 and 19 of them: the second
process spent one more request on a limit the first had recorded); with the
wait read inside the claim transaction 21 and 23 (2 in 1 and 3 of them: the
two requests were on their way at the same moment, which no check before
sending can prevent); a third run, on a machine busy with another bench, 24
(2 in 4 of them): the count varies with the interleaving. @AcmeAir all 10 at minute 0 in every simulation.
"""

from __future__ import annotations

import copy
import logging
import sys
import tempfile
import threading
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
TRIALS = 20  # of the two-process case, whose interleaving varies from run to run


def run_minutes(processes: int) -> tuple[dict[str, int], dict[str, int]]:
    """One simulation; ``processes`` senders (threads, each with its own engine
    on one SQLite file and its own X channel) run ``send_approved`` together
    every minute. Returns the POST /2/tweets attempts and the minute all were
    sent, per account."""
    tmp = Path(tempfile.mkdtemp(prefix="bp-waits-"))
    settings = parse_settings({**copy.deepcopy(BASE_CONFIG), "data_dir": str(tmp)}, path=tmp / "bench.yaml")
    url = f"sqlite:///{tmp / 'bench.db'}"
    engines = [make_engine(url) for _ in range(processes)]
    upgrade(engines[0])
    Session = session_factory(engines[0])
    clock = FakeClock(T0)
    with serve_x(now=clock.now) as x:
        x.set_me("AcmeAir")
        help_token = x.add_account_token("AcmeHelp")
        env = {"X_API_KEY": x.api_key, "X_API_SECRET": "s", "X_ACCESS_TOKEN": x.access_token,
               "X_ACCESS_TOKEN_SECRET": "s", "X_ACCESS_TOKEN__ACMEHELP": help_token,
               "X_ACCESS_TOKEN_SECRET__ACMEHELP": "s"}
        senders = [(session_factory(e), build_x_channel(settings, env=env, clock=clock)) for e in engines]
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
            together = threading.Barrier(processes)

            def send(sender_session, channel) -> None:
                together.wait()
                send_approved(sender_session, channels={"x": channel}, now=clock.now())

            threads = [threading.Thread(target=send, args=sender) for sender in senders]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            with Session() as s:
                for account in ACCOUNTS:
                    unsent = s.scalar(select(func.count()).select_from(OutboxRow)
                                      .where(OutboxRow.account == account, OutboxRow.status != "sent"))
                    if unsent == 0:
                        done_at.setdefault(account, minute)
            clock.advance(timedelta(minutes=1))
        tried = {account: x.posts_tried(account) for account in ACCOUNTS}
    for e in engines:
        e.dispose()
    return tried, done_at


def main() -> None:
    logging.disable(logging.WARNING)  # each 429 logs a warning; the counts below say it
    per_account = REPLIES // len(ACCOUNTS)
    tried, done_at = run_minutes(1)
    print("one process:")
    for account in ACCOUNTS:
        print(f"  @{account}: POST /2/tweets {tried[account]}, refused (429) {tried[account] - per_account},"
              f" all {per_account} sent by minute {done_at.get(account, 'never')}")
    refused: list[int] = []
    late: list[int] = []
    for _ in range(TRIALS):
        tried, done_at = run_minutes(2)
        refused.append(tried["AcmeHelp"] - per_account)
        if done_at.get("AcmeAir") != 0 or tried["AcmeAir"] != per_account:
            late.append(done_at.get("AcmeAir", -1))
    spread = ", ".join(f"{n} refused: {refused.count(n)}" for n in sorted(set(refused)))
    print(f"two processes at once, {TRIALS} runs: @AcmeHelp 429s per run {spread} (total {sum(refused)});"
          f" @AcmeAir not all sent at minute 0 with 10 posts in {len(late)} runs")


if __name__ == "__main__":
    main()
