"""Response KPIs: how fast the brand answers, and how fast it resolves.

For the alerts *opened* in a period (``opened_at``, the time the customer's
first mention was posted, within ``[now - since, now]``), per brand and
platform, per brand over all its platforms, and over everything:

* **first-response time** — ``first_response_at - opened_at``: from the
  customer's post to the first reply on the alert, sent by brandpulse or
  written by hand on the platform by one of the brand's accounts
  (``outreach.hand_replies``, when a source delivers that post). Mean,
  median and 90th percentile over the alerts that were answered; how many
  were not is given beside them.
* **resolution time** — from ``opened_at`` to the first time a person
  resolved the alert, over the alerts that were resolved. An alert the
  customer's next post reopened (rules/alerts.py) keeps that first resolution
  (``alert_rounds.resolved_at``) and still counts as resolved while it is open
  again.
* **answered within 1 h, 6 h, 12 h, 24 h** — the share of alerts whose first
  reply went out within that time. *Unanswered alerts count in the
  denominator*, as not answered in time, once that much time has passed since
  they were opened. An unanswered alert younger than the threshold may still
  be answered in time, so it is left out of that threshold's share until then
  (otherwise a period ending now would always look worse than it is). Each
  share is given with its numerator and denominator.

**The customer wrote again.** When a customer posts again in an alert
after being answered, the alert's clock restarts for that message
(rules/alerts.py: a new *round*), and each message gets a first response of
its own. The numbers above stay those of each alert's *first* message (kept
in ``alert_rounds`` when the clock restarts), so a follow-up never changes
how fast the brand first answered. The follow-up messages are measured
beside them, per group: how many there were, how many got a reply, and the
time from the message to its first reply (mean, median, 90th percentile),
for the alerts opened in the period like everything else. Among them, the
messages that **reopened** a resolved alert are counted apart too: how many,
how many a person resolved again, and the time from the message to that
resolution (a post that crossed the resolved message's answer reopens the
alert without a message of its own, so it is not among them).

Dismissed alerts ("not a complaint") are left out: there was nothing to
answer; so are the spike detector's possible-incident alerts (a signal for
ops; the complaints they gather have alerts of their own). The median of an
even number of values is the mean of the middle two; the 90th percentile is
the nearest rank (the smallest value with at least 90 % of the values at or
below it).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from brandpulse.db.models import AlertRoundRow, AlertRow
from brandpulse.durations import format_duration
from brandpulse.types import POSSIBLE_INCIDENT_RULE
from outreach.report_groups import ALL, GroupedReport

THRESHOLDS: tuple[timedelta, ...] = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=12), timedelta(hours=24))
EXCLUDED_STATUSES = ("dismissed",)


@dataclass(frozen=True, slots=True)
class DurationStats:
    count: int
    mean: timedelta | None
    median: timedelta | None
    p90: timedelta | None

    def to_dict(self) -> dict[str, Any]:
        def sec(d: timedelta | None) -> float | None:
            return None if d is None else round(d.total_seconds(), 3)

        return {"count": self.count, "mean": sec(self.mean), "median": sec(self.median), "p90": sec(self.p90)}


@dataclass(frozen=True, slots=True)
class WithinShare:
    threshold: timedelta
    answered: int  # first reply within the threshold
    eligible: int  # the denominator: answered, or opened at least `threshold` ago
    share: float | None  # answered / eligible; None when nothing is eligible

    @property
    def key(self) -> str:
        """Its key in ``--json`` (``answered_within``): ``1h00m``, ``1d00h``; kept stable for dashboards."""
        return format_duration(self.threshold)

    @property
    def label(self) -> str:
        """For people: ``1h``, ``24h``, ``90m`` (the README's 1h/6h/12h/24h)."""
        seconds = int(self.threshold.total_seconds())
        if seconds > 0 and seconds % 3600 == 0:
            return f"{seconds // 3600}h"
        if seconds > 0 and seconds % 60 == 0:
            return f"{seconds // 60}m"
        return format_duration(self.threshold)


@dataclass(frozen=True, slots=True)
class KpiGroup:
    brand: str  # ALL for every brand
    platform: str  # ALL for every platform
    alerts: int
    answered: int
    resolved: int
    first_response: DurationStats
    resolution: DurationStats
    within: tuple[WithinShare, ...]
    # Messages the customer wrote after being answered (each its own first response).
    wrote_again: int = 0
    wrote_again_answered: int = 0
    wrote_again_response: DurationStats = DurationStats(0, None, None, None)
    # Of those, the messages that reopened a resolved alert, and their resolution.
    reopened: int = 0
    reopened_resolved: int = 0
    reopened_resolution: DurationStats = DurationStats(0, None, None, None)

    @property
    def unanswered(self) -> int:
        return self.alerts - self.answered

    def to_dict(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "platform": self.platform,
            "alerts": self.alerts,
            "answered": self.answered,
            "unanswered": self.unanswered,
            "resolved": self.resolved,
            "first_response_seconds": self.first_response.to_dict(),
            "resolution_seconds": self.resolution.to_dict(),
            "answered_within": {
                w.key: {"answered": w.answered, "eligible": w.eligible, "share": w.share} for w in self.within
            },
            "wrote_again": {
                "messages": self.wrote_again,
                "answered": self.wrote_again_answered,
                "first_response_seconds": self.wrote_again_response.to_dict(),
            },
            "reopened": {
                "messages": self.reopened,
                "resolved": self.reopened_resolved,
                "resolution_seconds": self.reopened_resolution.to_dict(),
            },
        }


@dataclass(frozen=True, slots=True)
class KpiReport(GroupedReport[KpiGroup]):
    period_start: datetime
    period_end: datetime
    groups: tuple[KpiGroup, ...]  # brand×platform, then each brand overall, then everything

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "thresholds": [format_duration(t) for t in THRESHOLDS],
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True, slots=True)
class _Alert:
    brand: str
    platform: str
    opened_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class _Message:
    """A message the customer wrote after being answered (or after the alert
    was resolved: ``reopened``), its first reply, and, for one that reopened
    the alert, when a person resolved it again."""

    brand: str
    platform: str
    written_at: datetime
    first_response_at: datetime | None
    reopened: bool = False
    resolved_at: datetime | None = None


def percentile_nearest_rank(values: Sequence[float], pct: float) -> float:
    """The smallest value with at least ``pct`` % of ``values`` at or below it."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def duration_stats(durations: Iterable[timedelta]) -> DurationStats:
    seconds = [d.total_seconds() for d in durations]
    if not seconds:
        return DurationStats(0, None, None, None)
    return DurationStats(
        count=len(seconds),
        mean=timedelta(seconds=statistics.fmean(seconds)),
        median=timedelta(seconds=statistics.median(seconds)),
        p90=timedelta(seconds=percentile_nearest_rank(seconds, 90)),
    )


def _group(brand: str, platform: str, alerts: Sequence[_Alert], *, now: datetime,
           thresholds: Sequence[timedelta], messages: Sequence[_Message] = ()) -> KpiGroup:
    responses = [max(a.first_response_at - a.opened_at, timedelta(0)) for a in alerts if a.first_response_at]
    again = [max(m.first_response_at - m.written_at, timedelta(0)) for m in messages if m.first_response_at]
    resolutions = [max(a.resolved_at - a.opened_at, timedelta(0)) for a in alerts if a.resolved_at]
    reopened = [m for m in messages if m.reopened]
    re_resolved = [max(m.resolved_at - m.written_at, timedelta(0)) for m in reopened if m.resolved_at]
    within = []
    for t in thresholds:
        answered = sum(
            1 for a in alerts if a.first_response_at is not None and a.first_response_at - a.opened_at <= t
        )
        # Not answered in time is known once t has passed since the alert opened.
        eligible = answered + sum(
            1 for a in alerts
            if not (a.first_response_at is not None and a.first_response_at - a.opened_at <= t)
            and now - a.opened_at >= t
        )
        within.append(WithinShare(t, answered, eligible, answered / eligible if eligible else None))
    return KpiGroup(
        brand=brand,
        platform=platform,
        alerts=len(alerts),
        answered=len(responses),
        resolved=len(resolutions),
        first_response=duration_stats(responses),
        resolution=duration_stats(resolutions),
        within=tuple(within),
        wrote_again=len(messages),
        wrote_again_answered=len(again),
        wrote_again_response=duration_stats(again),
        reopened=len(reopened),
        reopened_resolved=len(re_resolved),
        reopened_resolution=duration_stats(re_resolved),
    )


def compute_kpis(
    session: Session,
    *,
    now: datetime,
    since: timedelta,
    brands: Sequence[str] | None = None,
    thresholds: Sequence[timedelta] = THRESHOLDS,
) -> KpiReport:
    """The KPIs of the alerts opened in ``[now - since, now]`` of ``brands``
    (None: every brand in the database), in one query."""
    if since <= timedelta(0):
        raise ValueError(f"the KPI period must be positive, got {format_duration(since)}")
    start = now - since
    # One row per alert and message of it kept in alert_rounds (one with NULLs for an alert without any).
    q = (
        select(AlertRow.id, AlertRow.brand, AlertRow.platform, AlertRow.opened_at, AlertRow.first_response_at,
               AlertRow.resolved_at, AlertRow.status, AlertRow.round, AlertRow.round_opened_at,
               AlertRoundRow.round, AlertRoundRow.opened_at, AlertRoundRow.first_response_at,
               AlertRoundRow.resolved_at)
        .outerjoin(AlertRoundRow, AlertRoundRow.alert_id == AlertRow.id)
        .where(AlertRow.opened_at >= start, AlertRow.opened_at <= now, AlertRow.status.not_in(EXCLUDED_STATUSES),
               AlertRow.rule != POSSIBLE_INCIDENT_RULE)
    )
    if brands is not None:
        q = q.where(AlertRow.brand.in_(list(brands)))
    alerts, messages = _alerts_and_messages(session.execute(q).all(), now=now)
    groups: list[KpiGroup] = []
    keys = sorted({(a.brand, a.platform) for a in alerts} | {(m.brand, m.platform) for m in messages})
    for b, p in keys:
        groups.append(_group(b, p, [a for a in alerts if (a.brand, a.platform) == (b, p)], now=now, thresholds=thresholds,
                             messages=[m for m in messages if (m.brand, m.platform) == (b, p)]))
    brands = sorted({k[0] for k in keys})
    if len(keys) > 1:
        for b in brands:
            if sum(1 for k in keys if k[0] == b) > 1:
                groups.append(_group(b, ALL, [a for a in alerts if a.brand == b], now=now, thresholds=thresholds,
                                     messages=[m for m in messages if m.brand == b]))
    groups.append(_group(ALL, ALL, alerts, now=now, thresholds=thresholds, messages=messages))
    return KpiReport(period_start=start, period_end=now, groups=tuple(groups))


def _by(at: datetime | None, now: datetime) -> datetime | None:
    """``at`` if it had happened by ``now`` (a report for an earlier moment ignores later replies)."""
    return at if at is not None and at <= now else None


def _alerts_and_messages(rows: Sequence[Any], *, now: datetime) -> tuple[list[_Alert], list[_Message]]:
    """Each alert with its first message's first response (kept in
    alert_rounds once the customer wrote again) and its first resolution, and
    the messages its customer wrote after being answered or after it was
    resolved (round 2 and later: kept, or awaited now)."""
    by_alert: dict[int, list[Any]] = {}
    for row in rows:
        by_alert.setdefault(row[0], []).append(row)
    alerts: list[_Alert] = []
    messages: list[_Message] = []
    for group in by_alert.values():
        (_id, b, p, opened, first, resolved, status, round_, round_opened_at, *_rest) = group[0]
        round_ = round_ or 1
        # round -> (written, first response, resolved while awaited)
        kept = {r[9]: (r[10], r[11], _by(r[12], now)) for r in group if r[9] is not None}
        resolved_now = _by(resolved, now) if status == "resolved" else None
        first_of_first_message = kept[1][1] if round_ > 1 and 1 in kept else first
        resolutions = [at for _, _, at in kept.values() if at is not None]
        if resolved_now is not None:
            resolutions.append(resolved_now)
        alerts.append(_Alert(b, p, opened, _by(first_of_first_message, now), min(resolutions, default=None)))
        later = [(n, written, answered, at) for n, (written, answered, at) in kept.items() if n > 1]
        if round_ > 1 and round_opened_at is not None:
            later.append((round_, round_opened_at, first, resolved_now))
        for n, written, answered, at in later:
            if written > now:
                continue
            reopened = n - 1 in kept and kept[n - 1][2] is not None  # the message before was resolved
            messages.append(_Message(b, p, written, _by(answered, now), reopened, at if reopened else None))
    return alerts, messages


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def _d(value: timedelta | None) -> str:
    return "–" if value is None else format_duration(value)


def _stats(s: DurationStats) -> str:
    if s.count == 0:
        return "–"
    return f"{_d(s.mean)} / {_d(s.median)} / {_d(s.p90)}"


def _share(w: WithinShare) -> str:
    if w.share is None:
        return "–"
    return f"{w.share * 100:.0f}% ({w.answered}/{w.eligible})"


def _name(value: str, everything: str) -> str:
    return everything if value == ALL else value


def render_kpis_text(report: KpiReport, *, title: bool = True) -> str:
    """A table for a terminal: one line per group."""
    lines: list[str] = []
    if title:
        lines.append(
            f"Response KPIs for alerts opened {_fmt(report.period_start)} → {_fmt(report.period_end)}"
            " (dismissed and possible-incident alerts left out)"
        )
    if report.total.alerts == 0:
        lines.append("No alerts opened in the period.")
        return "\n".join(lines) + "\n"
    header = ["brand", "platform", "alerts", "answered", "first reply mean/median/p90"]
    header += [f"≤{w.label}" for w in report.total.within]
    header += ["resolved", "resolution mean/median/p90"]
    again = report.total.wrote_again > 0
    reopened = report.total.reopened > 0
    if again:
        header += ["wrote again", "answered", "its first reply mean/median/p90"]
    if reopened:
        header += ["reopened", "resolved again", "its resolution mean/median/p90"]
    rows = [header]
    for g in report.groups:
        rows.append(
            [_name(g.brand, "all"), _name(g.platform, "all"), str(g.alerts), str(g.answered), _stats(g.first_response)]
            + [_share(w) for w in g.within]
            + [str(g.resolved), _stats(g.resolution)]
            + ([str(g.wrote_again), str(g.wrote_again_answered), _stats(g.wrote_again_response)] if again else [])
            + ([str(g.reopened), str(g.reopened_resolved), _stats(g.reopened_resolution)] if reopened else [])
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    lines.append(
        "≤T: share of alerts whose first reply went out within T (answered/counted); an unanswered alert"
        " counts once T has passed since it opened."
    )
    if again:
        lines.append(
            "wrote again: messages customers wrote after being answered or after the alert was resolved (each"
            " gets its own first reply); the columns before are those of each alert's first message (resolution:"
            " the first time it was resolved)."
        )
    if reopened:
        lines.append(
            "reopened: of those, the messages that reopened a resolved alert; resolved again and the time from"
            " the message to that resolution."
        )
    return "\n".join(lines) + "\n"


def _fmt(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
