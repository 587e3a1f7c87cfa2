"""Rate-limit headers → the earliest next request; nothing sleeps."""

from __future__ import annotations

from datetime import timedelta

from listener.ratelimit import (
    DEFAULT_BACKOFF,
    body_excerpt,
    not_before,
    reddit_rate_limit,
    retry_after,
    retry_at_after_429,
    x_rate_limit,
)
from tests.conftest import T0


def test_x_headers_reset_is_absolute():
    reset = int((T0 + timedelta(minutes=9)).timestamp())
    state = x_rate_limit({"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)})
    assert (state.limit, state.remaining, state.reset_at) == (450, 0, T0 + timedelta(minutes=9))
    assert state.exhausted
    assert not_before(state, now=T0) == T0 + timedelta(minutes=9)


def test_reddit_headers_reset_is_relative_and_remaining_a_float():
    state = reddit_rate_limit({"x-ratelimit-remaining": "0.0", "x-ratelimit-used": "100", "x-ratelimit-reset": "42"}, now=T0)
    assert (state.remaining, state.used, state.limit) == (0, 100, 100)
    assert state.reset_at == T0 + timedelta(seconds=42)
    assert not_before(state, now=T0) == T0 + timedelta(seconds=42)


def test_headers_that_leave_room_ask_for_nothing():
    state = reddit_rate_limit({"x-ratelimit-remaining": "996.0", "x-ratelimit-used": "4", "x-ratelimit-reset": "300"}, now=T0)
    assert not state.exhausted and not_before(state, now=T0) is None
    assert not_before(x_rate_limit({}), now=T0) is None


def test_garbage_headers_are_ignored():
    state = x_rate_limit({"x-rate-limit-remaining": "lots", "x-rate-limit-reset": "soon"})
    assert state.remaining is None and state.reset_at is None
    assert reddit_rate_limit({"x-ratelimit-reset": "nan"}, now=T0).reset_at is None


def test_429_uses_the_reset_then_retry_after_then_the_default():
    reset = int((T0 + timedelta(minutes=3)).timestamp())
    assert retry_at_after_429(x_rate_limit({"x-rate-limit-reset": str(reset)}), {}, now=T0) == (T0 + timedelta(minutes=3), True)
    assert retry_at_after_429(x_rate_limit({}), {"Retry-After": "30"}, now=T0) == (T0 + timedelta(seconds=30), True)
    assert retry_at_after_429(x_rate_limit({}), {}, now=T0) == (T0 + DEFAULT_BACKOFF, False)
    # a reset already in the past (clock skew) still waits a moment, never "again now"
    past = int((T0 - timedelta(minutes=1)).timestamp())
    when, _ = retry_at_after_429(x_rate_limit({"x-rate-limit-reset": str(past)}), {}, now=T0)
    assert when > T0


def test_retry_after_as_an_http_date():
    assert retry_after({"retry-after": "Tue, 10 Mar 2026 09:05:00 GMT"}, now=T0) == T0 + timedelta(minutes=5)


def test_body_excerpt_references_the_raw_body():
    text = body_excerpt(b'{"data": [{"id": "1", "text": "cut' + b"x" * 500)
    assert text.startswith("534 bytes, starting '{\"data\"") and text.endswith("…")
    assert body_excerpt(None) == "no body"
