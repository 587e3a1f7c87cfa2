"""Scheduling with APScheduler 3: one job per source, explicit ids.

Jobs coalesce and never overlap (``max_instances=1``). A job never sleeps: a
rate-limited or failing source records when it may poll next, and its job
returns at once until then. ``time_scale`` divides every interval, so an
accelerated replay (the demo) runs the same jobs faster.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from listener.poller import Poller

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    interval: timedelta


def poll_job(poller: Poller, interval: timedelta) -> Job:
    return Job(id=f"poll:{poller.source.name}", func=poller.poll_once, interval=interval)


class Scheduler:
    """A thin owner of one BackgroundScheduler and the jobs it runs."""

    def __init__(self, jobs: list[Job], *, time_scale: float = 1.0, min_interval: timedelta = timedelta(milliseconds=50)) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        ids = [j.id for j in jobs]
        if len(ids) != len(set(ids)):
            raise ValueError(f"duplicate job ids: {sorted(i for i in ids if ids.count(i) > 1)}")
        self.jobs = jobs
        self.time_scale = time_scale
        self.min_interval = min_interval
        self._scheduler = BackgroundScheduler(
            timezone=timezone.utc,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        )

    def wall_interval(self, interval: timedelta) -> timedelta:
        return max(self.min_interval, interval / self.time_scale)

    def start(self) -> None:
        now = datetime.now(timezone.utc)
        for job in self.jobs:
            self._scheduler.add_job(
                job.func,
                IntervalTrigger(seconds=self.wall_interval(job.interval).total_seconds()),
                id=job.id,
                name=job.id,
                replace_existing=True,
                next_run_time=now,
            )
        self._scheduler.start()
        log.info("scheduler started with %d jobs: %s", len(self.jobs), ", ".join(j.id for j in self.jobs))

    def shutdown(self, *, wait: bool = True) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)

    @property
    def running(self) -> bool:
        return self._scheduler.running

    def job_ids(self) -> list[str]:
        return [j.id for j in self._scheduler.get_jobs()]
