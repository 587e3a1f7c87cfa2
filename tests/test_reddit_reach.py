"""Reddit reach: a post reaches its subreddit's members, not the author's
"followers" (Reddit has none). Real praw against the fake Reddit API:
submissions carry ``subreddit_subscribers``, comments take their
subreddit's last count, the inbox and the digest say "r/travel, 1.2M
members", and the count weighs in the priority."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import responses
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from brandpulse.cli import main
from brandpulse.communities import fill_community_members
from brandpulse.config import load_settings
from brandpulse.db import make_engine, session_factory
from brandpulse.db.models import AlertRow, CommunityRow, MentionRow
from brandpulse.types import Author, Mention
from tests.conftest import BASE_CONFIG, T0
from tests.fakes import FakeRedditAPI

pytestmark = pytest.mark.usefixtures("no_sleeping")


def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def reddit_world(tmp_path, monkeypatch):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeRedditAPI(mock, now=_now)
        for name, value in {"REDDIT_CLIENT_ID": fake.client_id, "REDDIT_CLIENT_SECRET": fake.client_secret,
                            "REDDIT_USERNAME": fake.username, "REDDIT_PASSWORD": fake.password}.items():
            monkeypatch.setenv(name, value)
        for name in ("BRANDPULSE_DATABASE_URL", "BRANDPULSE_CONFIG"):
            monkeypatch.delenv(name, raising=False)
        config = json.loads(json.dumps(BASE_CONFIG))
        config["data_dir"] = "data"
        config["brands"][0]["query"]["subreddits"] = ["travel", "AcmeFlyers"]
        config["sources"] = [  # submissions first: the comments of the same run take their count
            {"name": "reddit-posts", "kind": "reddit", "brand": "acme", "listing": "submissions"},
            {"name": "reddit-comments", "kind": "reddit", "brand": "acme", "listing": "comments"},
        ]
        path = tmp_path / "brandpulse.yaml"
        path.write_text(yaml.safe_dump(config))
        yield fake, path


def _cli(path, *args):
    result = CliRunner().invoke(main, ["--config", str(path), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_reach_on_reddit_is_the_subreddits_members(reddit_world):
    fake, path = reddit_world
    fake.members.update({"travel": 1_240_000, "acmeflyers": 950})
    t = _now()
    big = fake.add_submission("travel", "Acme Air cancelled my flight, awful and useless support",
                              "Stuck at the airport, nobody answers.", author="redditor1",
                              created_at=t - timedelta(minutes=12))
    other = fake.add_submission("travel", "Best airlines for Europe?", "Looking for advice.", author="planner",
                                created_at=t - timedelta(minutes=11))
    comment = fake.add_comment(other["name"], "acme air customer service is useless and terrible",
                               author="redditor2", created_at=t - timedelta(minutes=10))
    small = fake.add_submission("AcmeFlyers", "Acme Air lost my bag, terrible and useless service",
                                "Nobody answers.", author="redditor3", created_at=t - timedelta(minutes=9))
    assert "subreddit_subscribers" in big and "subreddit_subscribers" not in comment  # as Reddit's listings

    _cli(path, "run", "--once")
    Session = session_factory(make_engine(load_settings(path).effective_database_url()))
    with Session() as s:
        rows = {m.external_id: m for m in s.scalars(select(MentionRow))}
        alerts = {a.author_handle: a for a in s.scalars(select(AlertRow))}
        known = {(c.platform, c.name): c.members for c in s.scalars(select(CommunityRow))}
    assert rows[big["name"]].community_members == 1_240_000
    assert rows[comment["name"]].community_members == 1_240_000  # the subreddit's count, from its submissions
    assert rows[small["name"]].community_members == 950
    assert known == {("reddit", "travel"): 1_240_000, ("reddit", "acmeflyers"): 950}
    # The same complaint words weigh more in a subreddit of 1.2M members than in one of 950.
    assert alerts["redditor1"].priority_score > alerts["redditor3"].priority_score

    shown = _cli(path, "alerts", "show", str(alerts["redditor2"].id))
    # a comment says so: it gets half the reach part (rules.priority.COMMENT_REACH_SHARE)
    assert "u/redditor2 (comment in r/travel, 1.2M members)" in shown and "follower" not in shown.split("Replies")[0]
    assert "u/redditor3 (r/AcmeFlyers, 950 members)" in _cli(path, "alerts", "show", str(alerts["redditor3"].id))
    digest = _cli(path, "digest")
    assert "u/redditor1 (r/travel, 1.2M members)" in digest and "0 followers" not in digest
    assert "u/redditor2 (comment in r/travel, 1.2M members)" in digest
    html = next((path.parent / "data" / "digests").glob("*.html")).read_text()
    assert "r/travel, 1.2M members" in html and "0 followers" not in html
    assert "· comment in r/travel, 1.2M members ·" in html


def _comment(i: int, community: str, *, members: int | None = None, minutes: int = 0) -> Mention:
    return Mention(platform="reddit", external_id=f"t1_c{i}", brand="acme",
                   author=Author(platform="reddit", id=f"t2_{i}", handle=f"user{i}"), text="acme air, terrible",
                   created_at=T0 + timedelta(minutes=minutes), thread_id="t3_x", community=community,
                   community_members=members)


def test_a_comment_takes_the_latest_count_and_stays_unknown_without_one(engine):
    Session = session_factory(engine)
    with Session.begin() as s:
        ids = []
        for i in range(4):
            row = MentionRow(platform="reddit", external_id=f"t1_c{i}", brand="acme", author_id=f"t2_{i}",
                             author_handle=f"user{i}", text="x", created_at=T0, fetched_at=T0)
            s.add(row)
            s.flush()
            ids.append(row.id)
        # A newer count wins; an older post read later does not overwrite it.
        assert fill_community_members(s, [(ids[0], _comment(0, "Travel", members=500, minutes=5))]) == {}
        fill_community_members(s, [(ids[1], _comment(1, "travel", members=400, minutes=1))])
        filled = fill_community_members(s, [(ids[2], _comment(2, "TRAVEL")), (ids[3], _comment(3, "nowhere"))])
    assert {row_id: m.community_members for row_id, m in filled.items()} == {ids[2]: 500}
    with Session() as s:
        assert s.get(MentionRow, ids[2]).community_members == 500
        assert s.get(MentionRow, ids[3]).community_members is None  # shown "r/nowhere, members unknown"


def test_reach_as_people_read_it_and_as_priority_weighs_it(settings):
    from brandpulse.types import Reach, shown_reach
    from rules.priority import PriorityScorer

    assert shown_reach(Reach(4_760, "followers")) == "4,760 followers"
    assert shown_reach(Reach(1, "followers")) == "1 follower"
    assert shown_reach(Reach(1_240_000, "members", "travel")) == "r/travel, 1.2M members"
    assert shown_reach(Reach(120_400, "members", "travel")) == "r/travel, 120k members"
    assert shown_reach(Reach(3_870, "members", "KestrelAir")) == "r/KestrelAir, 3.9k members"
    assert shown_reach(Reach(None, "members", "travel")) == "r/travel, members unknown"
    assert shown_reach(Reach(11_400_000, "members", "travel", comment=True)) == "comment in r/travel, 11.4M members"
    assert shown_reach(Reach(None, "members", None, comment=True)) == "comment in a subreddit, members unknown"
    scorer = PriorityScorer(brand=settings.brands[0], config=settings.priority)
    assert round(scorer.community_reach(1_000), 2) == 0.38
    assert round(scorer.community_reach(100_000), 2) == 0.63
    assert round(scorer.community_reach(10_000_000), 2) == 0.88
    assert scorer.community_reach(100_000_000) == 1.0 and scorer.community_reach(None) == 0.0
    # A Reddit author's "followers" (a replay file may carry some) are not Reddit's reach.
    comment = _comment(1, "travel")
    with_followers = Mention(**{**{f: getattr(comment, f) for f in comment.__slots__},
                                "author": Author(platform="reddit", id="t2_1", handle="u", followers=50_000)})
    assert scorer.mention_reach(with_followers) == 0.0


def test_a_comment_reaches_its_thread_not_the_whole_subreddit(settings):
    """Reddit shows a subreddit's members its submissions (feeds, listings);
    a comment only to those who open its thread: half the reach part, as if
    sqrt(members) read it. Payloads shaped like Reddit's listings (the fake API)."""
    import dataclasses

    from brandpulse.types import mention_reach, shown_reach
    from listener.reddit import thing_to_mention
    from rules.priority import COMMENT_REACH_SHARE, PriorityScorer

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakeRedditAPI(mock, now=_now)
        fake.members["travel"] = 11_400_000
        t = _now()
        sub = fake.add_submission("travel", "Acme Air lost my bag", "", author="op", created_at=t)
        top = fake.add_comment(sub["name"], "acme air lost my bag too", author="c1", created_at=t)
        deep = fake.add_comment(top["name"], "same, acme air lost mine", author="c2", created_at=t)
    scorer = PriorityScorer(brand=settings.brands[0], config=settings.priority)
    submission = thing_to_mention("t3", sub, brand="acme", parent_authors={})
    assert submission.community_members == 11_400_000 and submission.reply_to_id is None
    assert round(scorer.mention_reach(submission), 2) == 0.88
    for payload in (top, deep):  # a comment carries no count: it takes the subreddit's (communities.py)
        comment = dataclasses.replace(thing_to_mention("t1", payload, brand="acme", parent_authors={}),
                                      community_members=11_400_000)
        assert comment.reply_to_id is not None
        assert scorer.mention_reach(comment) == pytest.approx(COMMENT_REACH_SHARE * 0.882, abs=0.001)
        assert round(scorer.mention_reach(comment), 2) == 0.44
        assert shown_reach(mention_reach(comment)) == "comment in r/travel, 11.4M members"  # as the inbox says it
    assert shown_reach(mention_reach(submission)) == "r/travel, 11.4M members"
