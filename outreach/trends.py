"""Sentiment trends: how much is said about the brand, and how it feels.

For the mentions *posted* in a period (``created_at`` within
``[now - since, now]``, the brand's own posts left out), per brand and
platform, per brand over all its platforms, and over everything, in buckets
of an hour, a day or a week (UTC; a day starts at 00:00 UTC, a week on
Monday 00:00 UTC; buckets with no posts are shown with zeros):

* **mentions** stored in the bucket;
* **negative / neutral / positive / unknown**: the mentions by their latest
  score (the newest ``scored_at``, then the highest id, when a mention was
  scored more than once). ``unknown`` is the analyzers' "cannot tell" (e.g. a
  language none of them reads); a label an analyzer may add later counts as
  unknown too. Mentions not scored (yet) are the difference to ``mentions``;
* **negative share** — ``negative / scored`` and **net sentiment** —
  ``(positive - negative) / scored``, where *scored* is the mentions labelled
  negative, neutral or positive: unknown and unscored mentions say nothing
  about sentiment, so they are in neither. Both are None when nothing was
  scored.

Each group also gives the same totals for the **previous period of the same
length** (``[now - 2·since, now - since)``) and the change against it:
mentions (and in %), negative share in percentage points, net sentiment.

The first bucket starts before the period when the period does not start on a
bucket boundary (it only counts the posts inside the period), and the last one
ends at ``now``; both are marked partial. When ``now`` falls exactly on a
boundary, a post at ``now`` counts in the bucket before it (no empty bucket of
no length at the end).

:func:`compute_trends` reads it all in one query. :func:`render_trends_text`
prints it for a terminal, :meth:`TrendReport.to_dict` is the JSON, and
:func:`render_chart_svg` draws one group as an SVG chart (matplotlib, imported
only when a chart is drawn) for the HTML digest.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from brandpulse.db.models import MentionRow, ScoreRow
from brandpulse.durations import format_duration
from outreach.report_groups import ALL, GroupedReport

GRANULARITIES: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
SENTIMENTS = ("negative", "neutral", "positive")
LABELS = (*SENTIMENTS, "unknown")
MAX_BUCKETS = 1000
_EPOCH_MONDAY = datetime(1970, 1, 5, tzinfo=timezone.utc)  # a Monday


@dataclass(frozen=True, slots=True)
class Counts:
    """Mentions and their latest labels."""

    mentions: int = 0
    negative: int = 0
    neutral: int = 0
    positive: int = 0
    unknown: int = 0

    @property
    def scored(self) -> int:
        """Mentions labelled negative, neutral or positive: the shares' denominator."""
        return self.negative + self.neutral + self.positive

    @property
    def unscored(self) -> int:
        return self.mentions - self.scored - self.unknown

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.scored if self.scored else None

    @property
    def net_sentiment(self) -> float | None:
        return (self.positive - self.negative) / self.scored if self.scored else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "mentions": self.mentions, "negative": self.negative, "neutral": self.neutral,
            "positive": self.positive, "unknown": self.unknown, "unscored": self.unscored, "scored": self.scored,
            "negative_share": _round(self.negative_share), "net_sentiment": _round(self.net_sentiment),
        }


@dataclass(frozen=True, slots=True)
class Change:
    """The current period against the previous one."""

    mentions: int  # current - previous
    mentions_pct: float | None  # in %, None when the previous period had none
    negative_share_pts: float | None  # percentage points; None when either share is None
    net_sentiment: float | None  # current - previous

    def to_dict(self) -> dict[str, Any]:
        return {
            "mentions": self.mentions, "mentions_pct": _round(self.mentions_pct, 1),
            "negative_share_pts": _round(self.negative_share_pts, 1), "net_sentiment": _round(self.net_sentiment),
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime  # the bucket's boundary (UTC), possibly before the period starts
    end: datetime  # the next boundary, or the period's end for the last bucket
    partial: bool  # cut by the period's start or end
    counts: Counts

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "partial": self.partial,
                **self.counts.to_dict()}


@dataclass(frozen=True, slots=True)
class TrendGroup:
    brand: str  # ALL for every brand
    platform: str  # ALL for every platform
    buckets: tuple[Bucket, ...]
    current: Counts  # the whole period
    previous: Counts  # the previous period of the same length
    change: Change

    def to_dict(self) -> dict[str, Any]:
        return {
            "brand": self.brand, "platform": self.platform, "total": self.current.to_dict(),
            "previous": self.previous.to_dict(), "change": self.change.to_dict(),
            "buckets": [b.to_dict() for b in self.buckets],
        }


@dataclass(frozen=True, slots=True)
class TrendReport(GroupedReport[TrendGroup]):
    period_start: datetime
    period_end: datetime
    previous_start: datetime  # the previous period is [previous_start, period_start)
    by: str  # hour | day | week
    brands: tuple[str, ...] | None  # the brands asked for (None: all)
    platform: str | None  # the platform asked for (None: all)
    groups: tuple[TrendGroup, ...]  # brand×platform, then each brand overall, then everything

    @property
    def period(self) -> timedelta:
        return self.period_end - self.period_start

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {"start": self.period_start.isoformat(), "end": self.period_end.isoformat()},
            "previous_period": {"start": self.previous_start.isoformat(), "end": self.period_start.isoformat()},
            "by": self.by,
            "timezone": "UTC",
            "filters": {"brands": list(self.brands) if self.brands is not None else None, "platform": self.platform},
            "groups": [g.to_dict() for g in self.groups],
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


# ---------------------------------------------------------------------------
# Arithmetic (pure)
# ---------------------------------------------------------------------------


def floor_to(t: datetime, by: str) -> datetime:
    """The start of the UTC hour, day or ISO week (Monday) that holds ``t``."""
    t = t.astimezone(timezone.utc)
    if by == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    if by == "day":
        return t.replace(hour=0, minute=0, second=0, microsecond=0)
    if by == "week":
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        return day - timedelta(days=(day - _EPOCH_MONDAY).days % 7)
    raise ValueError(f"unknown bucket size {by!r} (use {', '.join(GRANULARITIES)})")


def bucket_starts(start: datetime, end: datetime, by: str) -> list[datetime]:
    """The boundaries of the buckets that cover ``[start, end]``; a bucket
    that would begin exactly at ``end`` is left out (``end`` counts in the
    one before)."""
    step = GRANULARITIES[by] if by in GRANULARITIES else None
    if step is None:
        raise ValueError(f"unknown bucket size {by!r} (use {', '.join(GRANULARITIES)})")
    first = floor_to(start, by)
    last = floor_to(end, by)
    if last == end and last > first:
        last -= step
    out = []
    b = first
    while b <= last:
        out.append(b)
        b += step
    return out


def count_labels(labels: Iterable[str | None]) -> Counts:
    """Counts of mentions by latest label (None: not scored)."""
    n = neg = neu = pos = unk = 0
    for label in labels:
        n += 1
        if label == "negative":
            neg += 1
        elif label == "neutral":
            neu += 1
        elif label == "positive":
            pos += 1
        elif label is not None:
            unk += 1
    return Counts(mentions=n, negative=neg, neutral=neu, positive=pos, unknown=unk)


def compare(current: Counts, previous: Counts) -> Change:
    cur_share, prev_share = current.negative_share, previous.negative_share
    cur_net, prev_net = current.net_sentiment, previous.net_sentiment
    return Change(
        mentions=current.mentions - previous.mentions,
        mentions_pct=(current.mentions - previous.mentions) / previous.mentions * 100 if previous.mentions else None,
        negative_share_pts=(cur_share - prev_share) * 100 if cur_share is not None and prev_share is not None else None,
        net_sentiment=cur_net - prev_net if cur_net is not None and prev_net is not None else None,
    )


@dataclass(frozen=True, slots=True)
class _Post:
    brand: str
    platform: str
    created_at: datetime
    label: str | None


def build_group(brand: str, platform: str, posts: Sequence[_Post], *, start: datetime, end: datetime,
                by: str) -> TrendGroup:
    """One group's buckets and totals from its posts of the current and the
    previous period (those before ``start`` are the previous period's)."""
    starts = bucket_starts(start, end, by)
    step = GRANULARITIES[by]
    index = {b: i for i, b in enumerate(starts)}
    per_bucket: list[list[str | None]] = [[] for _ in starts]
    previous: list[str | None] = []
    for p in posts:
        if p.created_at < start:
            previous.append(p.label)
            continue
        i = index.get(floor_to(p.created_at, by))
        per_bucket[i if i is not None else len(starts) - 1].append(p.label)  # None: a post at `end` on a boundary
    buckets = []
    for i, b in enumerate(starts):
        b_end = min(b + step, end)
        buckets.append(Bucket(start=b, end=b_end, partial=b < start or b_end - b < step,
                              counts=count_labels(per_bucket[i])))
    current = count_labels(label for labels in per_bucket for label in labels)
    prev = count_labels(previous)
    return TrendGroup(brand=brand, platform=platform, buckets=tuple(buckets), current=current, previous=prev,
                      change=compare(current, prev))


def group_posts(posts: Sequence[_Post], *, start: datetime, end: datetime, by: str) -> tuple[TrendGroup, ...]:
    """Brand×platform groups, then each brand over its platforms (when it has
    more than one), then everything — the order of :mod:`outreach.kpis`."""
    groups: list[TrendGroup] = []
    keys = sorted({(p.brand, p.platform) for p in posts})
    for b, pl in keys:
        groups.append(build_group(b, pl, [p for p in posts if (p.brand, p.platform) == (b, pl)],
                                  start=start, end=end, by=by))
    if len(keys) > 1:
        for b in sorted({k[0] for k in keys}):
            if sum(1 for k in keys if k[0] == b) > 1:
                groups.append(build_group(b, ALL, [p for p in posts if p.brand == b], start=start, end=end, by=by))
    groups.append(build_group(ALL, ALL, posts, start=start, end=end, by=by))
    return tuple(groups)


def check_period(since: timedelta, by: str) -> None:
    """ValueError naming the problem when the period or the bucket size is unusable."""
    if by not in GRANULARITIES:
        raise ValueError(f"unknown bucket size {by!r} (use {', '.join(GRANULARITIES)})")
    if since <= timedelta(0):
        raise ValueError(f"the trend period must be positive, got {format_duration(since)}")
    n = since / GRANULARITIES[by]
    if n > MAX_BUCKETS:
        raise ValueError(
            f"{period_words(since)} by {by} make about {n:.0f} buckets (at most {MAX_BUCKETS}):"
            " use a larger bucket or a shorter period"
        )


# ---------------------------------------------------------------------------
# The query
# ---------------------------------------------------------------------------


def compute_trends(
    session: Session,
    *,
    now: datetime,
    since: timedelta,
    by: str = "day",
    brands: Sequence[str] | None = None,
    platform: str | None = None,
) -> TrendReport:
    """The trends of the mentions posted in ``[now - since, now]`` (and the
    previous period of the same length) of ``brands`` (None: every brand in
    the database) on ``platform`` (None: all), in one query."""
    check_period(since, by)
    start = now - since
    prev_start = start - since
    where = [MentionRow.created_at >= prev_start, MentionRow.created_at <= now, MentionRow.is_own.is_(False)]
    if brands is not None:
        where.append(MentionRow.brand.in_(list(brands)))
    if platform is not None:
        where.append(MentionRow.platform == platform)
    ranked = (
        select(
            ScoreRow.mention_id,
            ScoreRow.label,
            func.row_number()
            .over(partition_by=ScoreRow.mention_id, order_by=(ScoreRow.scored_at.desc(), ScoreRow.id.desc()))
            .label("rn"),
        )
        .join(MentionRow, MentionRow.id == ScoreRow.mention_id)
        .where(*where)
        .subquery()
    )
    q = (
        select(MentionRow.brand, MentionRow.platform, MentionRow.created_at, ranked.c.label)
        .outerjoin(ranked, and_(ranked.c.mention_id == MentionRow.id, ranked.c.rn == 1))
        .where(*where)
    )
    posts = [_Post(b, p, created.astimezone(timezone.utc), label) for b, p, created, label in session.execute(q)]
    return TrendReport(
        period_start=start, period_end=now, previous_start=prev_start, by=by,
        brands=tuple(brands) if brands is not None else None, platform=platform,
        groups=group_posts(posts, start=start, end=now, by=by),
    )


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------

_BAR = 24


def period_words(period: timedelta) -> str:
    """``30 days``, ``24 hours``, ``day``: for "the previous …"."""
    seconds = int(period.total_seconds())
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            if unit == "week" and n > 1:
                continue  # "14 days" reads better than "2 weeks" beside daily buckets
            return unit if n == 1 else f"{n} {unit}s"
    return format_duration(period)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def net(value: float | None) -> str:
    return "–" if value is None else f"{value:+.2f}"


def bucket_label(start: datetime, by: str) -> str:
    if by == "hour":
        return start.strftime("%Y-%m-%d %H:00")
    if by == "day":
        return start.strftime("%Y-%m-%d %a")
    return start.strftime("week of %Y-%m-%d")


def _name(value: str) -> str:
    return "all" if value == ALL else value


def summary_line(g: TrendGroup, period: timedelta) -> str:
    """``acme · x: 12 mentions vs 8 the previous 30 days (+50%); negative share 41% vs 28% (+13 pts); …``"""
    c, p, ch = g.current, g.previous, g.change
    mentions = f"{c.mentions} mention{'s' if c.mentions != 1 else ''} vs {p.mentions} the previous {period_words(period)}"
    if ch.mentions_pct is not None:
        mentions += f" ({ch.mentions_pct:+.0f}%)"
    share = f"negative share {pct(c.negative_share)} vs {pct(p.negative_share)}"
    if ch.negative_share_pts is not None:
        share += f" ({ch.negative_share_pts:+.0f} pts)"
    sentiment = f"net sentiment {net(c.net_sentiment)} vs {net(p.net_sentiment)}"
    return f"{_name(g.brand)} · {_name(g.platform)}: {mentions}; {share}; {sentiment}"


def render_trends_text(report: TrendReport, *, title: bool = True) -> str:
    """A summary line and a table of buckets per group, with a volume bar. A
    group with the same numbers as the one before it (the total of a single
    brand, a brand on a single platform) is not printed twice."""
    lines: list[str] = []
    if title:
        lines.append(
            f"Trends of mentions posted {_fmt(report.period_start)} → {_fmt(report.period_end)}, by {report.by} (UTC);"
            " the brand's own posts left out"
        )
    if report.total.current.mentions == 0 and report.total.previous.mentions == 0:
        lines.append(f"No mentions in the period or the previous {period_words(report.period)}.")
        return "\n".join(lines) + "\n"
    shown: TrendGroup | None = None
    for g in report.groups:
        if shown is not None and (g.buckets, g.previous) == (shown.buckets, shown.previous):
            continue  # e.g. the total of one brand: the same table again
        shown = g
        lines.append("")
        lines.append(summary_line(g, report.period))
        top = max((b.counts.mentions for b in g.buckets), default=0)
        rows = [[report.by, "mentions", "neg", "neu", "pos", "unk", "neg share", "net", ""]]
        for b in g.buckets:
            c = b.counts
            bar = "█" * round(c.mentions / top * _BAR) if top else ""
            if c.mentions and not bar:
                bar = "▏"
            rows.append([bucket_label(b.start, report.by) + ("*" if b.partial else ""), str(c.mentions),
                         str(c.negative), str(c.neutral), str(c.positive), str(c.unknown),
                         pct(c.negative_share), net(c.net_sentiment), bar])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            cells = [r[0].ljust(widths[0])] + [cell.rjust(widths[i]) for i, cell in enumerate(r[1:-1], 1)] + [r[-1]]
            lines.append(("  " + "  ".join(cells)).rstrip())
    lines.append("")
    lines.append(
        "neg share = negative / scored, net = (positive - negative) / scored; scored = labelled negative, neutral"
        " or positive (unknown and unscored left out); * partial bucket."
    )
    return "\n".join(lines) + "\n"


def _fmt(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


# ---------------------------------------------------------------------------
# Chart
# ---------------------------------------------------------------------------


def render_chart_svg(group: TrendGroup, *, by: str) -> str:
    """Mentions per bucket (bars) and the negative share (line, right axis) as
    an SVG document. Deterministic for a given matplotlib: fixed hash salt, no
    date in the metadata, text kept as text. matplotlib is imported here, so
    that only the commands that draw a chart pay for it."""
    import matplotlib

    matplotlib.use("Agg")  # never a GUI backend
    from matplotlib.figure import Figure

    labels = [b.start.strftime("%H:00" if by == "hour" else "%m-%d") for b in group.buckets]
    volume = [b.counts.mentions for b in group.buckets]
    share = [b.counts.negative_share * 100 if b.counts.negative_share is not None else float("nan")
             for b in group.buckets]
    x = list(range(len(labels)))
    with matplotlib.rc_context({"svg.hashsalt": "brandpulse-trends", "svg.fonttype": "none",
                                "font.family": "sans-serif", "font.size": 9}):
        fig = Figure(figsize=(8.0, 2.8), dpi=100)
        ax = fig.subplots()
        ax.bar(x, volume, color="#8fb8de", width=0.7, label="mentions")
        ax.set_ylabel("mentions")
        ax.set_ylim(0, max(max(volume, default=0), 1) * 1.15)
        ax.set_xticks(x, labels)
        if len(x) > 16:
            for i, tick in enumerate(ax.get_xticklabels()):
                tick.set_visible(i % max(1, len(x) // 12) == 0)
        for side in ("top",):
            ax.spines[side].set_visible(False)
        ax2 = ax.twinx()
        ax2.plot(x, share, color="#b42318", marker="o", markersize=3.5, linewidth=1.8, label="negative share")
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("negative share (%)", color="#b42318")
        ax2.tick_params(axis="y", colors="#b42318")
        ax2.spines["top"].set_visible(False)
        handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
        ax.legend(handles, ["mentions", "negative share"], loc="upper left", frameon=False, ncols=2)
        fig.tight_layout()
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None})
    return out.getvalue()
