"""End to end on the faked networks: ``brandpulse run --once`` with X
(mentions + recent search) and Reddit (submissions + comments) sources, real
tweepy and praw code against the fake platforms of ``tests/fakes``.

Mentions come in and open alerts; approved replies go out on the live
channels exactly once, even when the platform creates a post and the answer
is lost; an X post that did not address the brand becomes "reply by hand";
a 401 marks one source failing and a 429 defers one source while the others
keep running; ``brandpulse sources`` and the digest say so; credentials
never appear in the output, the DEBUG logs or the database.

The CLI runs on the system clock, so the fakes do too: posts are seeded a
few minutes in the past. Nothing sleeps.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
import responses
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from brandpulse.cli import main
from brandpulse.config import load_settings
from brandpulse.db import make_engine, session_factory
from brandpulse.db.models import AlertRow, AuditRow, MentionRow, OutboxRow, SourceStateRow
from tests.conftest import BASE_CONFIG
from tests.fakes import FakeRedditAPI, FakeXAPI, faults

X_SECRET_ENV = {"X_API_SECRET": "test-x-api-secret-9f2c", "X_ACCESS_TOKEN_SECRET": "test-x-access-secret-7d1e"}
SOURCES = [
    {"name": "x-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeAir", "poll_interval": "1m"},
    {"name": "x-search", "kind": "x", "brand": "acme", "endpoint": "search", "poll_interval": "2m", "monthly_budget": 50},
    {"name": "reddit-posts", "kind": "reddit", "brand": "acme", "listing": "submissions"},
    {"name": "reddit-comments", "kind": "reddit", "brand": "acme", "listing": "comments"},
]


def now() -> datetime:
    return datetime.now(timezone.utc)


class World:
    """The two fake platforms, the seeded conversation and the CLI."""

    def __init__(self, tmp_path: Path, mock: responses.RequestsMock, monkeypatch) -> None:
        self.x = FakeXAPI(mock, now=now)
        self.reddit = FakeRedditAPI(mock, now=now)
        self.env = {
            "X_BEARER_TOKEN": self.x.bearer_token,
            "X_API_KEY": self.x.api_key,
            "X_ACCESS_TOKEN": self.x.access_token,
            **X_SECRET_ENV,
            "REDDIT_CLIENT_ID": self.reddit.client_id,
            "REDDIT_CLIENT_SECRET": self.reddit.client_secret,
            "REDDIT_USERNAME": self.reddit.username,
            "REDDIT_PASSWORD": self.reddit.password,
        }
        for name in ("BRANDPULSE_DATABASE_URL", "BRANDPULSE_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        for name, value in self.env.items():
            monkeypatch.setenv(name, value)
        self.config = json.loads(json.dumps(BASE_CONFIG))
        self.config["data_dir"] = "data"
        self.config["sources"] = SOURCES
        self.path = tmp_path / "brandpulse.yaml"
        self.write()

        t = now()
        self.x.set_me("AcmeAir")
        self.x.add_user("AcmeHelp")
        self.x.add_user("famous", followers=250_000, verified=True)
        self.sam = self.x.add_tweet("@AcmeAir my flight was cancelled and nobody helps. Terrible, awful service.",
                                    author="sam", created_at=t - timedelta(minutes=20))
        self.famous = self.x.add_tweet("Acme Air lost my bag, worst airline ever, I am furious",
                                       author="famous", created_at=t - timedelta(minutes=18))
        self.x.add_tweet("Thank you @AcmeAir, lovely crew, great flight!", author="happy", created_at=t - timedelta(minutes=15))
        self.x.add_tweet("Acme Air news: our new route to Lisbon starts today", author="AcmeAir",
                         created_at=t - timedelta(minutes=14))
        self.post = self.reddit.add_submission("travel", "Acme Air cancelled my flight, awful and useless support",
                                               "Stuck at the airport, nobody answers.", author="redditor1",
                                               created_at=t - timedelta(minutes=12))
        other = self.reddit.add_submission("travel", "Best airlines for Europe?", "Looking for advice.",
                                           author="planner", created_at=t - timedelta(minutes=11))
        self.comment = self.reddit.add_comment(other["name"], "acme air customer service is useless and terrible",
                                               author="redditor2", created_at=t - timedelta(minutes=10))

    def write(self) -> None:
        self.path.write_text(yaml.safe_dump(self.config))

    def go_live(self) -> None:
        self.config["outreach"] = {"channel": "live"}
        self.write()

    def cli(self, *args: str, ok: bool = True):
        result = CliRunner().invoke(main, ["--config", str(self.path), *args], catch_exceptions=False)
        if ok:
            assert result.exit_code == 0, result.output
        self.outputs.append(result.output)
        return result

    outputs: list[str] = []

    def Session(self):
        return session_factory(make_engine(load_settings(self.path).effective_database_url()))

    def secrets(self) -> list[str]:
        """Every credential, and the access tokens Reddit handed out (the
        Reddit username is public: it signs the User-Agent)."""
        return [v for k, v in self.env.items() if k != "REDDIT_USERNAME"] + sorted(self.reddit.tokens)


@pytest.fixture
def world(tmp_path, monkeypatch):
    World.outputs = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield World(tmp_path, mock, monkeypatch)


def reply_for(Session, external_id: str) -> OutboxRow:
    with Session() as s:
        mention = s.scalar(select(MentionRow).where(MentionRow.external_id == external_id))
        assert mention is not None, f"mention {external_id} was not stored"
        return s.scalar(select(OutboxRow).where(OutboxRow.mention_id == mention.id))


def states(Session) -> dict[str, SourceStateRow]:
    with Session() as s:
        return {r.source: r for r in s.scalars(select(SourceStateRow))}


def test_listen_alert_approve_and_post_exactly_once(world, caplog):
    caplog.set_level(logging.DEBUG)

    # 1. Listening (dry-run): every source polls, mentions are stored once, alerts open.
    first = world.cli("run", "--once", "-v").output
    Session = world.Session()
    with Session() as s:
        mentions = {m.external_id: m for m in s.scalars(select(MentionRow))}
        alerts = {a.author_handle: a for a in s.scalars(select(AlertRow))}
    assert world.sam["id"] in mentions and world.famous["id"] in mentions
    assert world.post["name"] in mentions and world.comment["name"] in mentions
    assert mentions[world.sam["id"]].source in ("x-mentions", "x-search")  # found by both, stored once
    assert mentions[world.sam["id"]].addressed_handles == ["acmeair"]
    assert {"sam", "famous", "redditor1", "redditor2"} <= set(alerts)
    assert "happy" not in alerts and "AcmeAir" not in alerts
    assert f"{len(mentions)} mentions stored" in first
    assert {n: st.status for n, st in states(Session).items()} == dict.fromkeys(
        ("x-mentions", "x-search", "reddit-posts", "reddit-comments"), "ok")

    health = world.cli("sources").output
    assert "x-search (x, brand acme): ok" in health and "budget this month" in health
    assert "reddit-comments (reddit, brand acme): ok" in health and "free (no price configured)" in health

    # 2. People approve drafted replies (CLI).
    sam_reply = reply_for(Session, world.sam["id"])
    famous_reply = reply_for(Session, world.famous["id"])
    reddit_reply = reply_for(Session, world.post["name"])
    assert sam_reply.status == "drafted" and sam_reply.account == "AcmeAir"
    for row in (sam_reply, famous_reply, reddit_reply):
        world.cli("replies", "approve", str(row.id), "--as", "alice")

    # 3. Live: each post is created and its answer lost; a 401 on one source, a 429 on another.
    world.go_live()
    world.x.fail(faults.LOST_ACK, endpoint="create")
    world.reddit.fail(faults.LOST_ACK, endpoint="comment")
    world.reddit.fail(faults.UNAUTHORIZED, times=2, endpoint="comments")  # again after the fresh login tried
    world.x.fail(faults.rate_limit(reset_after=timedelta(minutes=15)), endpoint="search")
    ran = world.cli("run", "--once", "-v").output  # exit status 0: the README defines none for a source's health
    assert "sources: 2 of 4 not fully read, complaints may be missing (details: brandpulse sources)" in ran
    assert "  x-search: deferred by the platform's rate limit until " in ran
    assert "  reddit-comments: FAILING, not polled until fixed and `brandpulse sources reset reddit-comments`: " in ran
    with Session() as s:
        assert s.get(OutboxRow, sam_reply.id).status == "unknown"
        assert s.get(OutboxRow, reddit_reply.id).status == "unknown"
        manual = s.get(OutboxRow, famous_reply.id)
    assert manual.status == "manual" and f"reply by hand: https://x.com/i/web/status/{world.famous['id']}" in manual.last_error
    assert len(world.x.calls_to("create")) == 1  # the unaddressed post was never sent to X
    assert len(world.reddit.calls_to("comment")) == 1
    st = states(Session)
    assert st["reddit-comments"].status == "failing" and "REDDIT_CLIENT_ID" in st["reddit-comments"].last_error
    assert st["x-search"].status == "deferred"
    assert st["x-search"].next_poll_at > now() + timedelta(minutes=14)
    assert st["x-mentions"].status == "ok" and st["reddit-posts"].status == "ok"  # the others kept running

    # 4. The next run reconciles: both posts are found on the platforms, not sent again.
    searches_before = len(world.x.calls_to("search"))
    world.cli("run", "--once", "-v")
    with Session() as s:
        sent_x = s.get(OutboxRow, sam_reply.id)
        sent_reddit = s.get(OutboxRow, reddit_reply.id)
        trail = [e.action for e in s.scalars(select(AuditRow).where(
            AuditRow.entity_type == "outbox", AuditRow.entity_id == str(sam_reply.id)).order_by(AuditRow.id))]
    x_copies = [t for t in world.x.tweets.values() if t["author_id"] == world.x.me_id
                and any(r["id"] == world.sam["id"] for r in t.get("referenced_tweets", []))]
    reddit_copies = [c for c in world.reddit.comments_by(world.reddit.username) if c["parent_id"] == world.post["name"]]
    assert len(x_copies) == 1 and len(reddit_copies) == 1  # exactly one copy of each on the platforms
    assert sent_x.status == "sent" and sent_x.external_id == x_copies[0]["id"]
    assert sent_reddit.status == "sent" and sent_reddit.external_id == reddit_copies[0]["name"]
    assert len(world.x.calls_to("create")) == 1 and len(world.reddit.calls_to("comment")) == 1
    assert trail[-4:] == ["reply.approved", "reply.unknown", "reply.reconciled", "reply.sent"]
    assert len(world.x.calls_to("search")) == searches_before  # still deferred: not polled
    with Session() as s:
        alert = s.get(AlertRow, sam_reply.alert_id)
    assert alert.first_response_at is not None

    # 5. What people see: manual replies with their link, source health, the digest.
    manual_list = world.cli("replies", "list", "--status", "manual").output
    assert f"#{famous_reply.id}" in manual_list and "reply by hand: https://x.com/i/web/status/" in manual_list
    health = world.cli("sources").output
    assert "reddit-comments (reddit, brand acme): failing" in health and "sources reset reddit-comments" in health
    assert "x-search (x, brand acme): deferred" in health and "rate limit" in health
    assert "x-mentions (x, brand acme): ok" in health
    rows = [json.loads(line) for line in world.cli("sources", "--json").output.splitlines()]
    by_name = {r["name"]: r for r in rows}
    assert by_name["x-search"]["posts_read_month"] >= 3 and by_name["x-search"]["spend_month"] > 0
    assert by_name["x-search"]["monthly_budget"] == 50
    digest = world.cli("digest").output
    assert "Listening problems: the inbox may be missing complaints" in digest
    assert "reddit-comments (reddit) FAILING" in digest and "x-search (x) DEFERRED until " in digest

    # 6. Credentials fixed: reset, and the source listens again. The brand's
    #    own comment it now reads is stored, never alerted on (no reply loop).
    assert "reset" in world.cli("sources", "reset", "reddit-comments", "--as", "alice").output
    again = world.cli("sources", "reset", "reddit-comments", ok=False)
    assert again.exit_code == 2 and "not failing" in again.output
    world.cli("run", "--once")
    assert states(Session)["reddit-comments"].status == "ok"
    with Session() as s:
        own = s.scalar(select(MentionRow).where(MentionRow.external_id == reddit_copies[0]["name"]))
        own_alerts = s.scalars(select(AlertRow).where(AlertRow.author_handle == world.reddit.username)).all()
    assert own is not None and own.is_own and own_alerts == []
    assert "reddit-comments" not in world.cli("digest").output

    # 7. No credential ever shows: CLI output, DEBUG logs, the database.
    assert any(r.levelno == logging.DEBUG and r.name.startswith(("tweepy", "prawcore", "urllib3"))
               for r in caplog.records)  # the libraries did log at DEBUG
    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    assert "'Authorization': 'Bearer ******'" in logged  # tweepy logged its headers, redacted
    assert world.reddit.tokens  # Reddit handed out access tokens: they are checked below too
    shown = "\n".join(World.outputs)
    data_dir = world.path.parent / "data"
    stored = b"".join(p.read_bytes() for p in data_dir.glob("brandpulse.db*"))
    for secret in world.secrets():
        assert secret not in logged, "a credential leaked into the logs"
        assert secret not in shown, "a credential leaked into the CLI output"
        assert secret.encode() not in stored, "a credential was stored"


def test_missing_credentials_stop_run_before_anything_starts(world, monkeypatch):
    monkeypatch.delenv("X_BEARER_TOKEN")
    world.go_live()
    monkeypatch.delenv("REDDIT_PASSWORD")
    result = world.cli("run", "--once", ok=False)
    assert result.exit_code == 2
    assert "X_BEARER_TOKEN" in result.output and "REDDIT_PASSWORD" in result.output
    assert world.x.calls == [] and world.reddit.calls == []  # not one request
    # Commands that do not poll need no credentials.
    assert world.cli("alerts", "list").exit_code == 0
    assert "never polled" in world.cli("sources").output


def test_rate_limit_headers_schedule_each_source_alone(tmp_path, monkeypatch):
    """Scheduler-free iterations with the real pollers and pipeline on a fake
    clock: the platforms' rate-limit headers and 429s set each source's next
    poll; nothing sleeps and the other sources keep polling."""
    from brandpulse.clock import FakeClock
    from listener.ratelimit import DEFAULT_BACKOFF
    from tests.conftest import T0, listening_pollers, settings_and_database
    from tests.fakes import serve_x_and_reddit

    clock = FakeClock(T0)
    settings, engine, Session = settings_and_database(tmp_path, SOURCES)
    with serve_x_and_reddit(now=clock.now) as (x, reddit):
        pollers = {p.source.name: p for p in listening_pollers(settings, Session, clock, x, reddit, monkeypatch)}

        def poll_all() -> dict[str, str]:
            return {name: p.poll_once().status for name, p in pollers.items()}

        x.add_tweet("@AcmeAir where is my bag? awful", author="sam", created_at=T0 - timedelta(minutes=5))
        reddit.add_submission("travel", "Acme Air lost my bag", author="redditor1", created_at=T0 - timedelta(minutes=5))
        assert set(poll_all().values()) == {"ok"}

        # X says its window is used up (remaining 0, reset in 15 min); Reddit answers 429 with no reset header.
        x.rate_remaining = 0
        reddit.fail(faults.rate_limit(reset_after=None), endpoint="new")
        clock.advance(timedelta(minutes=1))
        statuses = poll_all()
        assert statuses == {"x-mentions": "ok", "x-search": "ok", "reddit-posts": "deferred", "reddit-comments": "ok"}
        reset = datetime.fromtimestamp(int((clock.now() + timedelta(minutes=15)).timestamp()), tz=timezone.utc)
        with Session() as s:
            next_at = {r.source: r.next_poll_at for r in s.scalars(select(SourceStateRow))}
        assert next_at["x-mentions"] == reset and next_at["x-search"] == reset
        assert next_at["reddit-posts"] == clock.now() + DEFAULT_BACKOFF
        assert next_at["reddit-comments"] is None

        x.rate_remaining = 449
        calls = len(x.calls)
        clock.advance(timedelta(minutes=2))
        assert poll_all() == {"x-mentions": "skipped", "x-search": "skipped", "reddit-posts": "ok",
                              "reddit-comments": "ok"}
        assert len(x.calls) == calls  # X was not asked before its reset
        clock.set(reset)
        assert set(poll_all().values()) == {"ok"}
    engine.dispose()


def test_replies_go_out_from_each_brand_account_exactly_once(world, monkeypatch, caplog):
    """Two brand accounts on X, each with its own access token: each reply
    goes out from the account its customer addressed; a lost answer is
    reconciled on that account's timeline; no token shows anywhere."""
    caplog.set_level(logging.DEBUG)
    world.config["sources"] = [
        SOURCES[0],
        {"name": "x-help-mentions", "kind": "x", "brand": "acme", "endpoint": "mentions", "account": "AcmeHelp",
         "poll_interval": "1m"},
    ]
    world.write()
    help_token = world.x.add_account_token("AcmeHelp")
    help_env = {"X_ACCESS_TOKEN__ACMEHELP": help_token, "X_ACCESS_TOKEN_SECRET__ACMEHELP": "test-x-help-secret-4b7e"}
    for name, value in help_env.items():
        monkeypatch.setenv(name, value)
    world.env.update(help_env)
    jane = world.x.add_tweet("@AcmeHelp my bag is lost and nobody answers, terrible service",
                             author="jane", created_at=now() - timedelta(minutes=9))

    world.cli("run", "--once")
    Session = world.Session()
    sam_reply, jane_reply = reply_for(Session, world.sam["id"]), reply_for(Session, jane["id"])
    assert (sam_reply.account, jane_reply.account) == ("AcmeAir", "AcmeHelp")
    for row in (sam_reply, jane_reply):
        world.cli("replies", "approve", str(row.id), "--as", "alice")

    world.go_live()
    original = world.x._ep_create

    def lose_helps_answer(match, params, body):  # AcmeHelp's post is created, its answer lost
        answer = original(match, params, body)
        if world.x.acting_user()["username"] == "AcmeHelp":
            return requests.exceptions.ReadTimeout("Read timed out. (fake: the answer was lost)")
        return answer

    world.x._ep_create = lose_helps_answer
    world.cli("run", "--once", "-v")
    world.x._ep_create = original
    with Session() as s:
        assert s.get(OutboxRow, sam_reply.id).status == "sent"
        assert s.get(OutboxRow, jane_reply.id).status == "unknown"
    world.cli("run", "--once", "-v")

    def replies_by(handle: str, target: dict) -> list[dict]:
        uid = world.x.user(handle)["id"]
        return [t for t in world.x.tweets.values() if t["author_id"] == uid
                and any(r["id"] == target["id"] for r in t.get("referenced_tweets", []))]

    with Session() as s:
        sent_sam, sent_jane = s.get(OutboxRow, sam_reply.id), s.get(OutboxRow, jane_reply.id)
    assert [t["id"] for t in replies_by("AcmeAir", world.sam)] == [sent_sam.external_id]
    assert [t["id"] for t in replies_by("AcmeHelp", jane)] == [sent_jane.external_id]
    assert sent_jane.status == "sent" and sent_jane.external_url.startswith("https://x.com/AcmeHelp/status/")
    assert replies_by("AcmeHelp", world.sam) == [] and replies_by("AcmeAir", jane) == []
    assert len(world.x.calls_to("create")) == 2  # one request per reply: nothing posted twice

    logged = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    shown = "\n".join(World.outputs)
    stored = b"".join(p.read_bytes() for p in (world.path.parent / "data").glob("brandpulse.db*"))
    for secret in world.secrets():
        assert secret not in logged and secret not in shown and secret.encode() not in stored
