"""Builders the platform tests share: a fake API served on a fresh
``responses`` mock for the length of a ``with`` block, and the environment a
Reddit script app reads its credentials from.

    with serve_x(now=clock.now) as x:
        x.add_user("AcmeAir")
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

import responses

from tests.fakes.reddit_api import FakeRedditAPI
from tests.fakes.x_api import FakeXAPI


@contextmanager
def serve_x(*, now: Callable[[], datetime]) -> Iterator[FakeXAPI]:
    """A FakeXAPI on its own RequestsMock (routes a test does not use are fine)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeXAPI(mock, now=now)


@contextmanager
def serve_x_and_reddit(*, now: Callable[[], datetime]) -> Iterator[tuple[FakeXAPI, FakeRedditAPI]]:
    """A FakeXAPI and a FakeRedditAPI on one RequestsMock, for a listener reading both."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeXAPI(mock, now=now), FakeRedditAPI(mock, now=now)


@contextmanager
def serve_reddit(*, now: Callable[[], datetime]) -> Iterator[FakeRedditAPI]:
    """A FakeRedditAPI on its own RequestsMock (routes a test does not use are fine)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeRedditAPI(mock, now=now)


def reddit_env(fake: FakeRedditAPI) -> dict[str, str]:
    """The script app's credentials as the fake accepts them."""
    return {"REDDIT_CLIENT_ID": fake.client_id, "REDDIT_CLIENT_SECRET": fake.client_secret,
            "REDDIT_USERNAME": fake.username, "REDDIT_PASSWORD": fake.password}


def listening_env(x: FakeXAPI, reddit: FakeRedditAPI) -> dict[str, str]:
    """The credentials the X sources (app-only bearer token) and the Reddit
    sources (the script app) read, as the fakes accept them."""
    return {"X_BEARER_TOKEN": x.bearer_token, **reddit_env(reddit)}
