from brandpulse.config import Query
from listener.query import QueryMatcher


def test_any_keyword_none_of_the_exclusions():
    q = QueryMatcher(Query(keywords=["kestrel air", "#kestrelair", "@KestrelAir"], exclude=["kestrel scope", "birdwatching"]))
    assert q.matches("Flying Kestrel  Air today")
    assert q.matches("love it #KestrelAir")
    assert QueryMatcher(Query(keywords=["acmeair"])).matches("hey @AcmeAir and #acmeair")
    assert q.matches("@kestrelair help")
    assert not q.matches("@KestrelAirHelp is the help account")  # a different handle
    assert not q.matches("kestrel airfield")  # word boundary
    assert not q.matches("Kestrel Air? birdwatching at the base")
    assert not q.matches("my Kestrel scope arrived")
    assert q.matches("body without the name", title="Kestrel Air lost my bag")


def test_empty_query_matches_everything():
    assert QueryMatcher(Query()).matches("anything")


def test_japanese_and_brand_subreddits():
    q = QueryMatcher(Query(keywords=["kestrel air", "ケストレル航空"], brand_subreddits=["KestrelAir"]))
    assert q.matches("Kestrel Airのリスボン便、最高でした")
    assert q.matches("ケストレル航空のアプリが開かない")
    assert q.matches("Anyone else on hold for 70 minutes?", community="kestrelair")
    assert not q.matches("Anyone else on hold for 70 minutes?", community="travel")
