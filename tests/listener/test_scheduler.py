"""The scheduler runs one APScheduler job per source with explicit ids."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from listener.scheduler import Job, Scheduler


def test_job_ids_are_explicit_and_unique():
    with pytest.raises(ValueError, match="duplicate job ids"):
        Scheduler([Job("poll:a", lambda: None, timedelta(minutes=1)), Job("poll:a", lambda: None, timedelta(minutes=1))])


def test_time_scale_divides_intervals_with_a_floor():
    s = Scheduler([], time_scale=600)
    assert s.wall_interval(timedelta(minutes=10)) == timedelta(seconds=1)
    assert s.wall_interval(timedelta(seconds=1)) == timedelta(milliseconds=50)


def test_jobs_run_at_start_and_shutdown_waits():
    ran = threading.Event()
    scheduler = Scheduler([Job("poll:demo", ran.set, timedelta(hours=1))])
    scheduler.start()
    try:
        assert scheduler.job_ids() == ["poll:demo"]
        assert ran.wait(timeout=10), "the first poll should run immediately"
    finally:
        scheduler.shutdown(wait=True)
    assert not scheduler.running
