"""Reddit source specifics: User-Agent, listings and the query filter,
addressed handles, same-second cursor, auth failures, options."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from pydantic import ValidationError

from brandpulse.config import ConfigError, SourceConfig, parse_settings
from brandpulse.secrets import MissingSecretError
from listener.base import RateLimited, SourceError
from listener.reddit import RedditSource, build_reddit_source, thing_to_mention
from listener.registry import check_sources
from tests.conftest import T0
from tests.fakes import faults, reddit_env, serve_reddit

pytestmark = pytest.mark.usefixtures("no_sleeping")


@pytest.fixture
def rd(clock):
    with serve_reddit(now=clock.now) as fake:
        yield fake


def source(fake, brand, listing="submissions", **options) -> RedditSource:
    config = SourceConfig(name=f"reddit-{listing}", kind="reddit", brand=brand.id, listing=listing, **options)
    return build_reddit_source(config, brand=brand, env=reddit_env(fake))


def ago(minutes):
    return T0 - timedelta(minutes=minutes)


def test_user_agent_and_request_shape(rd, settings, clock):
    rd.add_submission("travel", "Acme Air lost my bag", created_at=ago(5))
    source(rd, settings.brands[0]).fetch({}, now=clock.now())
    call = rd.calls_to("new")[0]
    assert re.match(r"^python:brandpulse:\d+\.\d+\.\d+ \(by /u/AcmeAir_Team\) PRAW/", call.headers["User-Agent"])
    assert call.params["raw_json"] == "1" and call.params["limit"] == "100"
    assert call.headers["Authorization"].startswith("bearer fake-reddit-access-token-")
    assert rd.calls_to("token")[0].form["grant_type"] == "password"


def test_submissions_filtered_by_the_brand_query(rd, settings, clock):
    keep = rd.add_submission("travel", "Acme Air lost my bag", "Flight AC12, Lisbon", author="carol", created_at=ago(9))
    in_body = rd.add_submission("travel", "Lost bag again", "third time with acme air this year", created_at=ago(8))
    rd.add_submission("travel", "Beaches near Porto?", created_at=ago(7))
    rd.add_submission("travel", "Acme Air and the Road Runner", "a cartoon", created_at=ago(6))  # excluded phrase
    result = source(rd, settings.brands[0]).fetch({}, now=clock.now())
    assert [m.external_id for m in result.mentions] == [keep["name"], in_body["name"]]
    m = result.mentions[0]
    assert (m.platform, m.title, m.community, m.thread_id, m.reply_to_id) == ("reddit", keep["title"], "travel", keep["name"], None)
    assert m.text == "Acme Air lost my bag\n\nFlight AC12, Lisbon"
    assert (m.author.handle, m.author.id) == ("carol", keep["author_fullname"])
    assert m.url == "https://www.reddit.com" + keep["permalink"] and m.created_at == ago(9)
    assert result.posts_read == 4


def test_brand_subreddits_bring_everything(rd, settings, clock):
    brand = settings.brands[0]
    brand = brand.model_copy(update={"query": brand.query.model_copy(update={"brand_subreddits": ["AcmeAir"]})})
    rd.add_submission("travel", "Beaches near Porto?", created_at=ago(7))  # not about the brand
    own = rd.add_submission("AcmeAir", "Check-in app keeps crashing", created_at=ago(6))
    src = source(rd, brand)
    assert src.subreddits == ["travel", "AcmeAir"]
    assert [m.external_id for m in src.fetch({}, now=clock.now()).mentions] == [own["name"]]


def test_comment_addressed_handles(rd, settings, clock):
    thread = rd.add_submission("travel", "Weekly chat", author="automod", created_at=ago(60))
    brand_comment = rd.add_comment(thread["name"], "We're sorry, DM us", author="AcmeAir_Team", created_at=ago(50))
    reply_to_brand = rd.add_comment(brand_comment["name"], "acme air, I did DM you, no answer", author="dave", created_at=ago(40))
    top_level = rd.add_comment(thread["name"], "acme air cancelled again, thanks u/someone_else", author="erin", created_at=ago(30))
    result = source(rd, settings.brands[0], "comments").fetch({}, now=clock.now())
    by_id = {m.external_id: m for m in result.mentions}
    assert by_id[reply_to_brand["name"]].addressed_handles == ("acmeair_team",)  # the parent's author, looked up
    assert by_id[top_level["name"]].addressed_handles == ("automod", "someone_else")  # link author + u/ mention
    assert by_id[reply_to_brand["name"]].thread_id == thread["name"]
    assert by_id[reply_to_brand["name"]].reply_to_id == brand_comment["name"]
    assert rd.calls_to("info")[0].params["id"] == brand_comment["name"]


def test_comments_in_a_thread_about_the_brand_count(rd, settings, clock):
    thread = rd.add_submission("travel", "Acme Air lost my bag", created_at=ago(60))
    comment = rd.add_comment(thread["name"], "same happened to me last week", created_at=ago(10))
    assert [m.external_id for m in source(rd, settings.brands[0], "comments").fetch({}, now=clock.now()).mentions] == [comment["name"]]
    off = source(rd, settings.brands[0], "comments", match_thread_title=False).fetch({}, now=clock.now())
    assert off.mentions == []


def test_posts_in_the_same_second_as_the_cursor(rd, settings, clock):
    second = ago(10)
    a = rd.add_submission("travel", "acme air one", created_at=second)
    src = source(rd, settings.brands[0])
    cursor = src.fetch({}, now=clock.now()).cursor
    assert cursor["subreddits"]["travel"] == {"utc": second.timestamp(), "names": [a["name"]]}
    b = rd.add_submission("travel", "acme air two", created_at=second)  # same second, shows up later
    result = src.fetch(cursor, now=clock.now())
    assert [m.external_id for m in result.mentions] == [b["name"]]
    assert sorted(result.cursor["subreddits"]["travel"]["names"]) == sorted([a["name"], b["name"]])
    assert src.fetch(result.cursor, now=clock.now()).mentions == []


def test_several_subreddits_and_a_rate_limit_in_the_second(rd, settings, clock):
    brand = settings.brands[0]
    src = source(rd, brand, subreddits=["travel", "flying"])
    t = rd.add_submission("travel", "acme air travel", created_at=ago(5))
    f = rd.add_submission("flying", "acme air flying", created_at=ago(4))
    original = rd._ep_new

    def limit_flying(match, params, form):
        if match["sub"] == "travel":
            rd.fail(faults.rate_limit(reset_after=timedelta(seconds=90)), endpoint="new")
        return original(match, params, form)

    rd._ep_new = limit_flying
    partial = src.fetch({}, now=clock.now())
    rd._ep_new = original
    assert [m.external_id for m in partial.mentions] == [t["name"]]
    assert partial.not_before == clock.now() + timedelta(seconds=90)
    assert not partial.cursor["subreddits"].get("flying")  # no position yet
    rest = src.fetch(partial.cursor, now=clock.now())
    assert [m.external_id for m in rest.mentions] == [f["name"]]


def test_a_subreddit_dropped_from_the_config_keeps_its_cursor(rd, settings, clock):
    rd.add_submission("travel", "acme air", created_at=ago(5))
    cursor = source(rd, settings.brands[0]).fetch({}, now=clock.now()).cursor
    later = source(rd, settings.brands[0], subreddits=["flying"]).fetch(cursor, now=clock.now())
    assert later.cursor["subreddits"]["travel"] == cursor["subreddits"]["travel"]


@pytest.mark.parametrize("reason,status", [("private", "403"), ("quarantined", "403"), ("banned", "404")])
def test_a_closed_subreddit_is_skipped_and_named_while_the_others_are_read(rd, settings, clock, Session, reason, status):
    """A brand subreddit going private (as thousands did in Reddit's 2023
    blackout), quarantined or banned is that subreddit's problem: the source
    goes on reading its other subreddits and says which one it cannot read."""
    from brandpulse.db.models import SourceStateRow
    from listener.poller import Poller

    brand = settings.brands[0]
    brand = brand.model_copy(update={"query": brand.query.model_copy(update={"brand_subreddits": ["AcmeAir"]})})
    src = source(rd, brand)
    poller = Poller(source=src, Session=Session, clock=clock)
    rd.add_submission("travel", "Acme Air lost my bag", created_at=ago(5))
    own = rd.add_submission("AcmeAir", "Check-in app keeps crashing", created_at=ago(4))
    rd.closed["acmeair"] = reason

    outcome = poller.poll_once()
    assert (outcome.status, outcome.stored) == ("ok", 1)  # r/travel read all the same
    with Session() as s:
        state = s.get(SourceStateRow, src.name)
        assert state.status == "ok" and state.last_error_at == clock.now()
        assert "r/AcmeAir" in state.last_error and reason in state.last_error and status in state.last_error
        assert "AcmeAir" not in state.cursor["subreddits"]  # its position is not moved
    clock.advance(timedelta(minutes=5))
    rd.add_submission("travel", "acme air again", created_at=clock.now())
    assert poller.poll_once().stored == 1

    del rd.closed["acmeair"]  # open again: read from where it stood
    clock.advance(timedelta(minutes=5))
    outcome = poller.poll_once()
    assert (outcome.status, outcome.stored) == ("ok", 1)
    with Session() as s:
        assert s.get(SourceStateRow, src.name).cursor["subreddits"]["AcmeAir"]["names"] == [own["name"]]


@pytest.mark.parametrize("fault", [faults.server_error(503), faults.TIMEOUT, faults.MALFORMED], ids=["503", "timeout", "malformed"])
def test_a_fault_in_one_subreddit_does_not_hold_back_the_others(rd, settings, clock, fault):
    """r/travel answering 503 (or timing out) on every poll must not keep
    r/flying's posts out: they are returned, r/travel keeps its position and
    is named as the poll's problem."""
    src = source(rd, settings.brands[0], subreddits=["travel", "flying"])
    t = rd.add_submission("travel", "acme air travel", created_at=ago(5))
    f = rd.add_submission("flying", "acme air flying", created_at=ago(4))
    original = rd._ep_new
    rd._ep_new = lambda match, params, form: (rd._fault(faults.Fault(fault) if isinstance(fault, str) else fault, "new")
                                              if match["sub"] == "travel" else original(match, params, form))
    result = src.fetch({}, now=clock.now())
    assert [m.external_id for m in result.mentions] == [f["name"]]
    assert "travel" not in result.cursor["subreddits"]
    [problem] = result.problems
    assert "r/travel" in problem
    rd._ep_new = original
    assert [m.external_id for m in src.fetch(result.cursor, now=clock.now()).mentions] == [t["name"]]


def test_a_fault_in_every_subreddit_is_a_temporary_error(rd, settings, clock):
    rd.fail(faults.server_error(503), times=2, endpoint="new")
    with pytest.raises(SourceError) as err:
        source(rd, settings.brands[0], subreddits=["travel", "flying"]).fetch({}, now=clock.now())
    assert not err.value.permanent and "r/travel" in str(err.value) and "r/flying" in str(err.value)


def test_a_source_whose_every_subreddit_is_closed_is_failing(rd, settings, clock):
    rd.closed.update({"travel": "private", "flying": "banned"})
    with pytest.raises(SourceError) as err:
        source(rd, settings.brands[0], subreddits=["travel", "flying"]).fetch({}, now=clock.now())
    assert err.value.permanent and "r/travel" in str(err.value) and "r/flying" in str(err.value)


def test_an_access_token_reddit_expired_is_renewed_not_a_failing_source(rd, settings, clock, Session):
    """Reddit ends an access token on its side (it expires after its
    expires_in, and prawcore keeps using it 10 s longer; Reddit may also revoke
    it): the 401 invalid_token is answered by logging in again, as prawcore
    does when allowed to retry, not by marking the source failing until
    someone runs `brandpulse sources reset`."""
    from listener.poller import Poller

    src = source(rd, settings.brands[0])
    poller = Poller(source=src, Session=Session, clock=clock)
    rd.add_submission("travel", "acme air one", created_at=ago(5))
    assert poller.poll_once().stored == 1
    rd.tokens.clear()  # Reddit no longer accepts the token prawcore holds
    clock.advance(timedelta(minutes=2))
    rd.add_submission("travel", "acme air two", created_at=clock.now())
    outcome = poller.poll_once()
    assert (outcome.status, outcome.stored) == ("ok", 1)
    assert len(rd.calls_to("token")) == 2
    rd.tokens.clear()
    rd.password = "changed-on-reddit"  # a new login is refused too: that is for a person to fix
    clock.advance(timedelta(minutes=2))
    outcome = poller.poll_once()
    assert outcome.status == "failing" and "REDDIT_PASSWORD" in outcome.error


def test_bad_password_is_permanent_and_names_the_variables(rd, settings, clock):
    src = source(rd, settings.brands[0])
    rd.password = "changed-on-reddit"
    with pytest.raises(SourceError) as err:
        src.fetch({}, now=clock.now())
    assert err.value.permanent and "REDDIT_PASSWORD" in str(err.value)


def test_401_without_www_authenticate_is_permanent_not_a_crash(rd, settings, clock):
    src = source(rd, settings.brands[0])
    rd.fail(faults.UNAUTHORIZED_BARE, endpoint="new")
    with pytest.raises(SourceError) as err:
        src.fetch({}, now=clock.now())
    assert err.value.permanent and "401" in str(err.value) and "REDDIT_CLIENT_ID" in str(err.value)


def test_a_429_on_the_first_request_raises(rd, settings, clock):
    rd.fail(faults.rate_limit(reset_after=timedelta(seconds=120)), endpoint="new")
    with pytest.raises(RateLimited) as err:
        source(rd, settings.brands[0]).fetch({}, now=clock.now())
    assert err.value.retry_at == clock.now() + timedelta(seconds=120)


@pytest.mark.parametrize("options,problem", [
    ({"listing": "hot"}, "listing"),
    ({"listing": "comments", "page_size": 500}, "less than or equal to 100"),
    ({"listing": "comments", "password": "x"}, "Extra inputs"),
])
def test_options_are_validated(rd, settings, options, problem):
    with pytest.raises(ValidationError, match=problem):
        build_reddit_source(SourceConfig(name="r", kind="reddit", brand="acme", **options), brand=settings.brands[0],
                            env=reddit_env(rd))


def test_bad_subreddit_names_and_none_at_all(rd, settings):
    with pytest.raises(ValueError, match="not a subreddit name"):
        source(rd, settings.brands[0], subreddits=["travel", "no spaces please"])
    brand = settings.brands[0]
    brand = brand.model_copy(update={"query": brand.query.model_copy(update={"subreddits": []})})
    with pytest.raises(ValueError, match="no query.subreddits"):
        source(rd, brand)


def test_missing_credentials_are_named(settings):
    config = SourceConfig(name="r", kind="reddit", brand="acme", listing="comments")
    with pytest.raises(MissingSecretError) as err:
        build_reddit_source(config, brand=settings.brands[0], env={"REDDIT_CLIENT_ID": "x"})
    assert err.value.names == ["REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD"]


@pytest.mark.parametrize(("given", "members"), [(1_240_000, 1_240_000), (None, None), (-5, None), (True, None),
                                                 ("1.2M", None)])
def test_a_submissions_members_are_its_subreddit_subscribers_when_a_count(given, members):
    data = {"name": "t3_a", "author": "redditor1", "created_utc": T0.timestamp(), "title": "Acme Air lost my bag",
            "subreddit": "travel", "subreddit_subscribers": given}
    assert thing_to_mention("t3", data, brand="acme", parent_authors={}).community_members == members
    comment = {**data, "name": "t1_b", "body": "same here", "link_id": "t3_a", "parent_id": "t3_a"}
    assert thing_to_mention("t1", comment, brand="acme", parent_authors={}).community_members is None


# ------------------------------------------------------- reading as a brand account
def two_accounts(settings):
    """acme with a second Reddit account, u/Acme_Care."""
    brand = settings.brands[0]
    return brand.model_copy(update={"accounts": brand.accounts.model_copy(update={"reddit": ["AcmeAir_Team", "Acme_Care"]})})


def test_a_source_with_an_account_reads_as_that_account(rd, settings, clock, caplog):
    caplog.set_level(logging.DEBUG)
    rd.add_account("Acme_Care", "care-password-1")
    rd.add_submission("travel", "Acme Air lost my bag", created_at=ago(5))
    env = {**reddit_env(rd), "REDDIT_PASSWORD__ACME_CARE": "care-password-1"}
    config = SourceConfig(name="care", kind="reddit", brand="acme", listing="submissions", account="u/acme_care")
    src = build_reddit_source(config, brand=two_accounts(settings), env=env)
    result = src.fetch({}, now=clock.now())
    assert len(result.mentions) == 1 and src.account == "Acme_Care"
    assert rd.calls_to("token")[0].form["username"] == "Acme_Care"
    call = rd.calls_to("new")[0]
    assert call.acting_user == "Acme_Care" and "(by /u/Acme_Care)" in call.headers["User-Agent"]
    assert "care-password-1" not in caplog.text and "test-reddit-password" not in caplog.text
    # Without 'account' the same environment reads as the default account.
    default = source(rd, two_accounts(settings))
    default.fetch({}, now=clock.now())
    assert rd.calls_to("new")[-1].acting_user == "AcmeAir_Team" and default.account is None


def test_the_default_account_named_reads_with_the_default_login(rd, settings, clock):
    src = source(rd, settings.brands[0], account="AcmeAir_Team")
    src.fetch({}, now=clock.now())
    assert rd.calls_to("new")[0].acting_user == "AcmeAir_Team"
    assert src.login == ("REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_USERNAME", "REDDIT_PASSWORD")


def test_an_account_without_credentials_is_named_not_read_as_the_default(rd, settings):
    config = SourceConfig(name="care", kind="reddit", brand="acme", listing="comments", account="Acme_Care")
    with pytest.raises(MissingSecretError) as err:
        build_reddit_source(config, brand=two_accounts(settings), env=reddit_env(rd))
    assert err.value.names == ["REDDIT_PASSWORD__ACME_CARE"]
    assert str(err.value) == (
        "environment variable REDDIT_PASSWORD__ACME_CARE is not set (nor REDDIT_PASSWORD__ACME_CARE_FILE) (source"
        " 'care' reads Reddit as u/Acme_Care): the password of u/Acme_Care, which logs in through the app of"
        " REDDIT_CLIENT_ID (REDDIT_USERNAME is u/AcmeAir_Team)")
    assert not rd.calls
    # With the app's credentials missing too, every missing variable is named at once.
    with pytest.raises(MissingSecretError) as err:
        build_reddit_source(config, brand=two_accounts(settings), env={"REDDIT_USERNAME": "AcmeAir_Team"})
    assert err.value.names == ["REDDIT_CLIENT_ID", "REDDIT_CLIENT_SECRET", "REDDIT_PASSWORD__ACME_CARE"]


def test_an_account_the_brand_does_not_own_is_refused_at_load(settings, config_dict):
    config_dict["sources"] = [{"name": "care", "kind": "reddit", "brand": "acme", "listing": "comments",
                               "account": "u/SomeoneElse"}]
    loaded = parse_settings(config_dict, path=settings.source_path)
    with pytest.raises(ConfigError) as err:
        check_sources(loaded)  # no credentials, no network: as any command loads the configuration
    assert str(err.value).endswith(
        "sources[0].account: u/SomeoneElse is not a Reddit account of brand 'acme' (brands[].accounts.reddit:"
        " u/AcmeAir_Team); a source reads as one of the brand's accounts, or as REDDIT_USERNAME without 'account'")


def test_a_refused_login_names_the_accounts_own_variable(rd, settings, clock):
    rd.add_account("Acme_Care", "care-password-1")
    env = {**reddit_env(rd), "REDDIT_PASSWORD__ACME_CARE": "an-old-password"}
    config = SourceConfig(name="care", kind="reddit", brand="acme", listing="comments", account="Acme_Care")
    src = build_reddit_source(config, brand=two_accounts(settings), env=env)
    with pytest.raises(SourceError) as err:
        src.fetch({}, now=clock.now())
    message = str(err.value)
    assert err.value.permanent and "reading as u/Acme_Care" in message
    assert "check REDDIT_PASSWORD__ACME_CARE" in message and "REDDIT_USERNAME" not in message
    assert "an-old-password" not in message
