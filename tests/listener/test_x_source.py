"""X source specifics: query, request parameters, conversion at the edge,
cursor rules (since_id from the first page, gaps), account lookup, options."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError

from brandpulse.config import Brand, SourceConfig
from brandpulse.secrets import MissingSecretError
from listener.base import RateLimited, SourceError
from listener.ratelimit import DEFAULT_BACKOFF
from listener.x import XSource, build_x_query, build_x_source
from tests.conftest import T0
from tests.fakes import faults, serve_x

pytestmark = pytest.mark.usefixtures("no_sleeping")

ENV = {"X_BEARER_TOKEN": "test-x-bearer-token"}


@pytest.fixture
def x(clock):
    with serve_x(now=clock.now) as fake:
        fake.add_user("AcmeAir", name="Acme Air", followers=250_000, verified=True)
        fake.add_user("AcmeHelp")
        fake.add_user("jane", name="Jane Doe", followers=1234)
        yield fake


@pytest.fixture
def brand(settings) -> Brand:
    return settings.brands[0]


def source(brand, endpoint="search", **options) -> XSource:
    options.setdefault("max_results", 10)
    config = SourceConfig(name=f"x-{endpoint}", kind="x", brand=brand.id, endpoint=endpoint, **options)
    return build_x_source(config, brand=brand, env=ENV)


def ago(minutes):
    return T0 - timedelta(minutes=minutes)


def test_query_from_the_brand(brand):
    assert build_x_query(brand) == '("acme air" OR acmeair) -"road runner" -from:AcmeAir -from:AcmeHelp -is:retweet'
    single = brand.model_copy(update={"query": brand.query.model_copy(update={"keywords": ["#acmeair"], "exclude": []}),
                                      "accounts": brand.accounts.model_copy(update={"x": []})})
    assert build_x_query(single) == "#acmeair -is:retweet"
    empty = brand.model_copy(update={"query": brand.query.model_copy(update={"keywords": []})})
    with pytest.raises(ValueError, match="no query.keywords"):
        build_x_query(empty)
    long = brand.model_copy(update={"query": brand.query.model_copy(update={"keywords": [f"phrase number {i}" for i in range(40)]})})
    with pytest.raises(ValueError, match="X allows 512"):
        build_x_query(long)


def test_requests_ask_for_what_a_mention_needs(x, brand, clock):
    x.add_tweet("acme air lost my bag", author="jane", created_at=ago(3))
    src = source(brand)
    cursor = src.fetch({}, now=clock.now()).cursor
    src.fetch(cursor, now=clock.now())
    first, second = x.calls_to("search")
    assert first.params["query"] == src.query
    assert set(first.params["expansions"].split(",")) == {
        "author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"}
    assert {"created_at", "lang", "conversation_id", "referenced_tweets", "entities", "author_id",
            "public_metrics"} <= set(first.params["tweet.fields"].split(","))
    assert {"username", "name", "verified", "public_metrics"} <= set(first.params["user.fields"].split(","))
    assert "since_id" not in first.params
    assert second.params["since_id"] == cursor["since_id"]
    assert first.headers["Authorization"] == "Bearer test-x-bearer-token"


def test_conversion_at_the_edge(x, brand, clock):
    brand_post = x.add_tweet("We fly to Lisbon from May!", author="AcmeAir", created_at=ago(30))
    reply = x.add_tweet("@AcmeAir lost my bag & nobody answers <3", author="jane", created_at=ago(10),
                        reply_to=brand_post["id"], lang="en")
    quote = x.add_tweet("acme air, really? https://example.com/photo", author="bob", created_at=ago(5),
                        quote=brand_post["id"], lang="und")
    result = source(brand).fetch({}, now=clock.now())
    by_id = {m.external_id: m for m in result.mentions}
    m = by_id[reply["id"]]
    assert m.platform == "x" and m.brand == "acme"
    assert (m.author.handle, m.author.name, m.author.followers, m.author.verified) == ("jane", "Jane Doe", 1234, False)
    assert m.text == "@AcmeAir lost my bag & nobody answers <3"  # entities unescaped
    assert m.created_at == ago(10) and m.lang == "en"
    assert m.thread_id == brand_post["conversation_id"] and m.reply_to_id == brand_post["id"]
    assert m.addressed_handles == ("acmeair",)
    assert m.url == f"https://x.com/jane/status/{reply['id']}"
    assert m.raw["id"] == reply["id"]
    q = by_id[quote["id"]]
    assert q.quoted_id == brand_post["id"] and q.addressed_handles == ("acmeair",)  # quoting the brand addresses it
    assert q.lang is None
    assert "https://t.co/" in q.text
    assert brand_post["id"] not in by_id  # -from: the brand's own accounts
    assert result.posts_read == 2 + 1  # two posts in data, one referenced post in includes


def test_retweets_in_the_mentions_timeline_are_skipped(x, brand, clock):
    original = x.add_tweet("@AcmeAir thanks for the upgrade!", author="jane", created_at=ago(10))
    x.add_tweet("RT @jane: @AcmeAir thanks for the upgrade!", author="bob", created_at=ago(5), retweet_of=original["id"])
    result = source(brand, "mentions", account="AcmeAir", max_results=5).fetch({}, now=clock.now())
    assert [m.external_id for m in result.mentions] == [original["id"]]
    assert result.posts_read >= 2  # read (and billed) all the same


def test_mentions_account_is_looked_up_once_and_kept_in_the_cursor(x, brand, clock):
    x.add_tweet("@AcmeAir hello", author="jane", created_at=ago(5))
    src = source(brand, "mentions", account="@AcmeAir", max_results=5)
    cursor = src.fetch({}, now=clock.now()).cursor
    assert cursor["user_id"] == x.user("AcmeAir")["id"] and cursor["account"] == "AcmeAir"
    source(brand, "mentions", account="AcmeAir", max_results=5).fetch(cursor, now=clock.now())  # a restart
    assert len(x.calls_to("user_by_username")) == 1
    assert all(c.params.get("pagination_token") is None for c in x.calls_to("mentions"))


def test_unknown_account_is_a_permanent_error(x, brand, clock):
    with pytest.raises(SourceError) as err:
        source(brand, "mentions", account="NoSuchAcme", max_results=5).fetch({}, now=clock.now())
    assert err.value.permanent and "@NoSuchAcme" in str(err.value)


def test_since_id_is_the_first_pages_newest_and_repeats_with_the_token(x, brand, clock):
    x.add_tweet("acme air one", author="jane", created_at=ago(60))
    src = source(brand)
    cursor = src.fetch({}, now=clock.now()).cursor
    newest = [x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))["id"] for i in range(25)][-1]
    result = src.fetch(cursor, now=clock.now())
    assert len(result.mentions) == 25
    assert result.cursor["since_id"] == newest
    pages = x.calls_to("search")[1:]
    assert len(pages) == 3
    assert all(p.params["since_id"] == cursor["since_id"] for p in pages)
    assert [bool(p.params.get("next_token")) for p in pages] == [False, True, True]


def test_a_rate_limited_account_lookup_waits_as_a_rate_limited_poll(x, brand, clock):
    """The mentions source's look-up of its account: a 429 with a reset header
    defers the poll until it; one without waits the default backoff, marked
    as not announced so that the poller waits longer while they go on."""
    src = source(brand, "mentions", account="AcmeAir", max_results=5)
    x.fail(faults.rate_limit(reset_after=timedelta(minutes=4)), endpoint="user_by_username")
    with pytest.raises(RateLimited) as err:
        src.fetch({}, now=clock.now())
    assert err.value.retry_at == clock.now() + timedelta(minutes=4) and err.value.announced
    assert "X user lookup of @AcmeAir: rate limited (429), until the reset X announced" in str(err.value)
    x.fail(faults.rate_limit(reset_after=None), endpoint="user_by_username")
    with pytest.raises(RateLimited) as err:
        src.fetch({}, now=clock.now())
    assert err.value.retry_at == clock.now() + DEFAULT_BACKOFF and not err.value.announced
    assert not x.calls_to("mentions")


def test_a_rate_limit_mid_poll_keeps_what_was_read(x, brand, clock):
    x.add_tweet("acme air first", author="jane", created_at=ago(60))
    src = source(brand)
    cursor = src.fetch({}, now=clock.now()).cursor
    new = [x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))["id"] for i in range(25)]
    x.fail(faults.rate_limit(reset_after=timedelta(minutes=4)), endpoint="search")
    with pytest.raises(RateLimited):  # the first request of a poll: nothing read, nothing kept
        src.fetch(cursor, now=clock.now())
    # the next poll gets page one, then a 429 on page two
    calls_before = len(x.calls_to("search"))

    original = x._ep_search

    def page_one_then_429(match, params, body):
        if not params.get("next_token"):  # answered: queue a 429 for the next page
            x.fail(faults.rate_limit(reset_after=timedelta(minutes=4)), endpoint="search")
        return original(match, params, body)

    x._ep_search = page_one_then_429
    partial = src.fetch(cursor, now=clock.now())
    x._ep_search = original
    assert len(partial.mentions) == 10
    assert partial.not_before == clock.now() + timedelta(minutes=4)
    assert partial.cursor["since_id"] == new[-1] and partial.cursor["gaps"]
    clock.advance(timedelta(minutes=5))
    rest = src.fetch(partial.cursor, now=clock.now())
    assert sorted(m.external_id for m in partial.mentions + rest.mentions) == sorted(new)
    assert "gaps" not in rest.cursor
    assert len(x.calls_to("search")) > calls_before


def test_a_search_source_back_after_a_week_reads_what_x_still_serves_instead_of_failing(x, brand, clock, caplog):
    """Recent search refuses (400) a since_id or until_id older than its 7 days.
    A search source that stood still longer (over budget until the next month,
    the app stopped) must not become 'failing' for good on its stored cursor:
    it reads what X still serves and gives up only on what X cannot."""
    x.add_tweet("acme air first", author="jane", created_at=ago(60))
    src = source(brand, max_pages=2)
    cursor = src.fetch({}, now=clock.now()).cursor
    for i in range(25):
        x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))
    cursor = src.fetch(cursor, now=clock.now()).cursor
    assert cursor["gaps"]  # 20 of 25 read; the 5 oldest wait in a gap
    clock.advance(timedelta(days=8))
    fresh = [x.add_tweet(f"acme air again {i}", author="jane", created_at=clock.now() - timedelta(minutes=30 - i))["id"]
             for i in range(25)]  # more than one poll's pages: a new gap, above the old since_id
    read: list[str] = []
    problems: list[str] = []
    for _ in range(4):
        result = src.fetch(cursor, now=clock.now())
        read += [m.external_id for m in result.mentions]
        problems += result.problems
        cursor = result.cursor
    assert sorted(read) == sorted(fresh)
    assert "gaps" not in cursor and cursor["since_id"] == fresh[-1]
    assert "X can no longer serve" in caplog.text  # the 5 posts of the old gap are out of reach, and it says so
    # ... and so does the poll's result, which the poller keeps as the source's last error ('brandpulse
    # sources'), 'run --once' prints and the digest lists as a partial read
    assert problems and all("X can no longer serve" in p and "not read" in p for p in problems)
    before = len(x.calls_to("search"))
    assert src.fetch(cursor, now=clock.now()).mentions == []
    assert len(x.calls_to("search")) == before + 1  # back to one request a poll, no refused one


@pytest.mark.parametrize("fault", [faults.server_error(503), faults.TIMEOUT, faults.MALFORMED], ids=["503", "timeout", "malformed"])
def test_a_fault_after_the_first_page_keeps_what_was_read(x, brand, clock, fault):
    """A 5xx, timeout or broken body on page two does not throw page one away
    (X has billed it): it is returned, the rest waits in a gap for the next
    poll, and the fault is named as the poll's problem."""
    x.add_tweet("acme air first", author="jane", created_at=ago(60))
    src = source(brand)
    cursor = src.fetch({}, now=clock.now()).cursor
    new = [x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))["id"] for i in range(25)]
    original = x._ep_search

    def page_one_then_fault(match, params, body):
        if not params.get("next_token"):
            x.fail(fault, endpoint="search")
        return original(match, params, body)

    x._ep_search = page_one_then_fault
    partial = src.fetch(cursor, now=clock.now())
    x._ep_search = original
    assert len(partial.mentions) == 10 and partial.posts_read == 10
    assert partial.cursor["since_id"] == new[-1] and partial.cursor["gaps"]
    [problem] = partial.problems
    assert "X search" in problem and "next poll" in problem
    rest = src.fetch(partial.cursor, now=clock.now())
    assert sorted(m.external_id for m in partial.mentions + rest.mentions) == sorted(new)
    assert "gaps" not in rest.cursor and rest.problems == ()


def test_a_fault_in_a_gap_keeps_the_new_posts(x, brand, clock):
    x.add_tweet("acme air first", author="jane", created_at=ago(60))
    src = source(brand, max_pages=2)
    cursor = src.fetch({}, now=clock.now()).cursor
    older = [x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))["id"] for i in range(25)]
    cursor = src.fetch(cursor, now=clock.now()).cursor
    assert cursor["gaps"]
    newer = [x.add_tweet(f"acme air later {i}", author="jane", created_at=ago(10 - i))["id"] for i in range(3)]
    original = x._ep_search
    x._ep_search = lambda match, params, body: (x._fault(faults.server_error(503)) if params.get("until_id")
                                                else original(match, params, body))
    result = src.fetch(cursor, now=clock.now())  # the gap answers 503 every time
    assert sorted(m.external_id for m in result.mentions) == sorted(newer)
    assert result.cursor["since_id"] == newer[-1] and result.cursor["gaps"] == cursor["gaps"]
    assert result.problems and "503" in result.problems[0]
    x._ep_search = original
    rest = src.fetch(result.cursor, now=clock.now())
    assert set(m.external_id for m in rest.mentions) == set(older[:5])


def test_a_429_without_reset_header_waits_longer_each_time_not_every_minute(x, brand, clock, Session):
    """Without a reset header the platform has not said when: one minute, then
    the poller's growing backoff, so a source is not sent back every minute
    for as long as the platform keeps refusing. A 429 with a reset header
    waits exactly until it."""
    from listener.poller import Backoff, Poller

    poller = Poller(source=source(brand), Session=Session, clock=clock, backoff=Backoff(rng=lambda: 1.0))
    waits = []
    for _ in range(5):
        x.fail(faults.rate_limit(reset_after=None), endpoint="search")
        outcome = poller.poll_once()
        assert outcome.status == "deferred"
        waits.append(outcome.next_poll_at - clock.now())
        clock.set(outcome.next_poll_at)
    assert waits == [timedelta(minutes=m) for m in (1, 1, 2, 4, 8)]
    x.fail(faults.rate_limit(reset_after=timedelta(minutes=3)), endpoint="search")
    assert poller.poll_once().next_poll_at == clock.now() + timedelta(minutes=3)
    assert len(x.calls_to("search")) == 6


def test_window_used_up_stops_paging_and_says_when_to_come_back(x, brand, clock):
    x.add_tweet("acme air first", author="jane", created_at=ago(60))
    src = source(brand)
    cursor = src.fetch({}, now=clock.now()).cursor
    new = [x.add_tweet(f"acme air {i}", author="jane", created_at=ago(50 - i))["id"] for i in range(25)]
    x.rate_remaining = 0
    result = src.fetch(cursor, now=clock.now())
    assert len(result.mentions) == 10 and result.not_before == clock.now() + timedelta(minutes=15)
    x.rate_remaining = 300
    rest = src.fetch(result.cursor, now=clock.now())
    assert sorted(m.external_id for m in result.mentions + rest.mentions) == sorted(new)


def test_a_malformed_post_is_skipped_not_fatal(x, brand, clock):
    good = x.add_tweet("acme air works", author="jane", created_at=ago(5))
    bad = x.add_tweet("acme air broken", author="jane", created_at=ago(4))
    shape = x._shape_tweet
    x._shape_tweet = lambda t, fields: {k: v for k, v in shape(t, fields).items() if t is not bad or k != "created_at"}
    result = source(brand).fetch({}, now=clock.now())
    assert [m.external_id for m in result.mentions] == [good["id"]]


def test_429_body_shapes_both_defer(x, brand, clock):
    src = source(brand)
    for shape in ("errors", "problem"):
        x.fail(faults.rate_limit(reset_after=timedelta(minutes=2), body_shape=shape), endpoint="search")
        with pytest.raises(RateLimited) as err:
            src.fetch({}, now=clock.now())
        assert err.value.retry_at == clock.now() + timedelta(minutes=2)


def test_a_400_is_permanent_and_says_why(x, brand, clock):
    config = SourceConfig(name="bad", kind="x", brand=brand.id, endpoint="search", query='"unbalanced', max_results=10)
    with pytest.raises(SourceError) as err:
        build_x_source(config, brand=brand, env=ENV).fetch({}, now=clock.now())
    assert err.value.permanent and "400" in str(err.value)


@pytest.mark.parametrize("options,problem", [
    ({"endpoint": "search", "max_results": 5}, "between 10 and 100"),
    ({"endpoint": "mentions", "max_results": 101}, "less than or equal to 100"),
    ({"endpoint": "search", "account": "AcmeAir"}, "account: applies to endpoints 'mentions' and 'own_replies' only"),
    ({"endpoint": "timeline"}, "endpoint"),
    ({"endpoint": "search", "bearer_token": "oops"}, "Extra inputs"),
])
def test_options_are_validated(brand, options, problem):
    with pytest.raises(ValidationError, match=problem):
        build_x_source(SourceConfig(name="x", kind="x", brand=brand.id, **options), brand=brand, env=ENV)


def test_mentions_needs_one_account(brand):
    with pytest.raises(ValueError, match="several X accounts"):
        build_x_source(SourceConfig(name="x", kind="x", brand=brand.id, endpoint="mentions"), brand=brand, env=ENV)


def test_missing_bearer_token_names_the_variable(brand):
    with pytest.raises(MissingSecretError) as err:
        build_x_source(SourceConfig(name="x-search", kind="x", brand=brand.id, endpoint="search"), brand=brand, env={})
    assert "X_BEARER_TOKEN" in str(err.value) and "x-search" in str(err.value)


def test_tweepy_is_never_left_to_wait_or_hang(brand):
    src = build_x_source(SourceConfig(name="x", kind="x", brand=brand.id, endpoint="search", timeout=7), brand=brand, env=ENV)
    assert src.client.wait_on_rate_limit is False
    assert src.client.session.default_timeout == 7


# ------------------------------------------------------------ own replies
def own_replies(brand, account="AcmeHelp", **options) -> XSource:
    options.setdefault("max_results", 10)
    return source(brand, "own_replies", account=account, **options)


def test_own_replies_asks_the_user_timeline_for_what_a_mention_needs(x, brand, clock):
    asked = x.add_tweet("@AcmeHelp my bag is lost", author="jane", created_at=ago(10))
    x.add_tweet("@jane sorry! DM us your tag", author="AcmeHelp", created_at=ago(5), reply_to=asked["id"])
    src = own_replies(brand, account="@acmehelp")  # any spelling of a brand account
    assert src.account == "AcmeHelp"
    cursor = src.fetch({}, now=clock.now()).cursor
    src.fetch(cursor, now=clock.now())
    assert cursor["account"] == "AcmeHelp" and cursor["user_id"] == x.user("AcmeHelp")["id"]
    assert len(x.calls_to("user_by_username")) == 1
    first, second = x.calls_to("user_tweets")
    assert first.params["exclude"] == "retweets"
    assert first.params["max_results"] == "10"
    assert set(first.params["expansions"].split(",")) == {
        "author_id", "referenced_tweets.id", "referenced_tweets.id.author_id",
        "in_reply_to_user_id"}
    assert {"created_at", "lang", "conversation_id", "referenced_tweets", "entities", "author_id", "public_metrics",
            "in_reply_to_user_id"} <= set(first.params["tweet.fields"].split(","))
    assert {"username", "name", "verified", "public_metrics"} <= set(first.params["user.fields"].split(","))
    assert "since_id" not in first.params and second.params["since_id"] == cursor["since_id"]
    assert first.headers["Authorization"] == "Bearer test-x-bearer-token"
    assert x.calls_to("mentions") == [] and x.calls_to("search") == []


def test_own_replies_returns_only_replies_to_other_people_and_bills_every_post_read(x, brand, clock):
    asked = x.add_tweet("@AcmeHelp lost my bag & nobody answers", author="jane", created_at=ago(30))
    news = x.add_tweet("Acme Air news: Lisbon from May", author="AcmeHelp", created_at=ago(29))
    own_thread = x.add_tweet("and Porto in June", author="AcmeHelp", created_at=ago(28), reply_to=news["id"])
    sibling = x.add_tweet("All flights on time today", author="AcmeAir", created_at=ago(27))
    to_sibling = x.add_tweet("@AcmeAir great job team", author="AcmeHelp", created_at=ago(26), reply_to=sibling["id"])
    quote = x.add_tweet("Look at this", author="AcmeHelp", created_at=ago(25), quote=asked["id"])
    x.add_tweet("RT @jane: lost my bag", author="AcmeHelp", created_at=ago(24), retweet_of=asked["id"])
    answer = x.add_tweet("@jane so sorry <3 DM us your bag tag", author="AcmeHelp", created_at=ago(20), reply_to=asked["id"])

    result = own_replies(brand).fetch({}, now=clock.now())

    assert [m.external_id for m in result.mentions] == [answer["id"]]
    [m] = result.mentions
    assert (m.author.handle, m.author.id) == ("AcmeHelp", x.user("AcmeHelp")["id"])
    assert m.reply_to_id == asked["id"] and m.thread_id == asked["conversation_id"]
    assert m.text == "@jane so sorry <3 DM us your bag tag"
    assert m.url == f"https://x.com/AcmeHelp/status/{answer['id']}"
    assert m.raw["in_reply_to_user_id"] == x.user("jane")["id"]
    # Read and billed: the 5 own posts X returned (the retweet is excluded by X),
    # plus the posts they reference that X includes (asked, news, sibling).
    assert result.posts_read == 5 + 3
    # The first poll looks the account up (one user object), then the pages' users: AcmeHelp, jane, AcmeAir.
    assert result.users_read == 1 + 3
    # Their ids, for a resource billed once per UTC day: AcmeHelp is read twice.
    assert sorted(result.user_ids) == sorted([x.user("AcmeHelp")["id"]] * 2 + [x.user(u)["id"] for u in ("jane", "AcmeAir")])
    assert len(result.post_ids) == 8 and {answer["id"], asked["id"], news["id"]} <= set(result.post_ids)
    again = own_replies(brand).fetch(result.cursor, now=clock.now())  # the user id is in the cursor: no lookup
    assert (again.users_read, again.user_ids, again.posts_read) == (0, (), 0)
    assert {own_thread["id"], to_sibling["id"], quote["id"], news["id"]}.isdisjoint(m.external_id for m in result.mentions)



def test_users_a_post_mentions_are_addressed_from_its_entities_not_bought_as_user_objects(x, brand, clock):
    """X bills each user object it includes: the @mentioned users come from the
    post's entities, so they are not expanded (read and billed) too."""
    x.add_tweet("@AcmeAir @jane acme air lost both our bags", author="bob", created_at=ago(3))
    result = source(brand).fetch({}, now=clock.now())
    [m] = result.mentions
    assert set(m.addressed_handles) == {"acmeair", "jane"}
    assert (result.users_read, result.user_ids) == (1, (x.user("bob")["id"],))  # the author only

def test_own_replies_to_a_deleted_post_are_judged_by_the_user_replied_to(x, brand, clock):
    gone_customer = x.add_tweet("@AcmeHelp awful", author="jane", created_at=ago(30))
    gone_sibling = x.add_tweet("Status update", author="AcmeAir", created_at=ago(29))
    kept = x.add_tweet("@jane sorry!", author="AcmeHelp", created_at=ago(20), reply_to=gone_customer["id"])
    x.add_tweet("@AcmeAir noted", author="AcmeHelp", created_at=ago(19), reply_to=gone_sibling["id"])
    del x.tweets[int(gone_customer["id"])], x.tweets[int(gone_sibling["id"])]  # deleted: X includes neither post
    result = own_replies(brand).fetch({}, now=clock.now())
    assert [m.external_id for m in result.mentions] == [kept["id"]]
    assert result.mentions[0].reply_to_id == gone_customer["id"]


def test_own_replies_account_must_be_one_of_the_brands(brand, settings):
    with pytest.raises(ValueError, match=r"account: 'jane' is not an X account of brand 'acme' \(brands\[\].accounts.x: AcmeAir, AcmeHelp\)"):
        own_replies(brand, account="jane")
    with pytest.raises(ValueError, match="several X accounts .*give each own_replies source an 'account'"):
        build_x_source(SourceConfig(name="x", kind="x", brand=brand.id, endpoint="own_replies"), brand=brand, env=ENV)
    single = brand.model_copy(update={"accounts": brand.accounts.model_copy(update={"x": ["AcmeHelp"]})})
    assert build_x_source(SourceConfig(name="x", kind="x", brand=brand.id, endpoint="own_replies"),
                          brand=single, env=ENV).account == "AcmeHelp"


def test_own_replies_options_are_checked_at_load_naming_the_key(settings):
    from brandpulse.config import ConfigError
    from listener.registry import check_source

    def check(**options):
        config = SourceConfig(name="x-own", kind="x", brand="acme", endpoint="own_replies", **options)
        with pytest.raises(ConfigError) as err:
            check_source(config, settings=settings, index=3)
        return " ".join(err.value.problems)

    assert "sources[3].account: 'NotOurs' is not an X account of brand 'acme'" in check(account="NotOurs")
    assert "sources[3].max_results" in check(account="AcmeHelp", max_results=4)
    assert "sources[3].query: applies to endpoint 'search' only" in check(account="AcmeHelp", query="acme")
    assert "sources[3].exclude" in check(account="AcmeHelp", exclude=["replies"])
    budget = check_source(SourceConfig(name="x-own", kind="x", brand="acme", endpoint="own_replies", account="AcmeHelp",
                                       max_results=20, max_pages=2), settings=settings)
    assert budget.max_spend_per_poll == pytest.approx(2 * 20 * (0.005 + 0.010))


def test_the_example_configuration_documents_an_own_replies_source_that_checks():
    from pathlib import Path

    from brandpulse.config import load_settings
    from listener.registry import check_sources

    settings = load_settings(Path(__file__).resolve().parents[2] / "config" / "example.yaml")
    [entry] = [s for s in settings.sources if s.kind == "x" and s.options.get("endpoint") == "own_replies"]
    assert entry.options["account"] in settings.brand(entry.brand).accounts.x
    assert check_sources(settings)[entry.name] is not None  # checked like every entry, with its budget
