"""Fake X and Reddit APIs at the HTTP layer (``responses``), with payloads
shaped like the real ones, so the real tweepy and praw code runs in tests.

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        x = FakeXAPI(mock, now=clock.now)
        reddit = FakeRedditAPI(mock, now=clock.now)

or, for one fake on a mock of its own, ``with serve_x(now=clock.now) as x:``
(tests.fakes.serving).
"""

from tests.fakes import faults
from tests.fakes.faults import Fault
from tests.fakes.reddit_api import FakeRedditAPI
from tests.fakes.serving import listening_env, reddit_env, serve_reddit, serve_x, serve_x_and_reddit
from tests.fakes.x_api import FakeXAPI

__all__ = ["FakeRedditAPI", "FakeXAPI", "Fault", "faults", "listening_env", "reddit_env", "serve_reddit", "serve_x",
           "serve_x_and_reddit"]
