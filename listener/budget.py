"""What a source costs to read, and when it must stop for the month.

X bills reads per resource returned: each post (about $0.005) and each user
object (about $0.010) in a response, the same resource billed once per UTC
day. Reddit's free tier bills nothing. A source that costs money declares a
:class:`SourceBudget`; the poller counts what each poll read per source and
UTC month (in the poll's own transaction) and, before a poll, refuses one
that could take the month's estimated spend over ``monthly_budget``.

A source that lists the ids it read has a re-read the same UTC day billed
once, as X does (listener/poller.py, ``billed_reads``); a source that does not
has every read billed. Either way the estimate is an upper bound.

"Could take over": the source states the most one poll can cost
(``max_spend_per_poll``: its page budget times its page size times the
prices); a poll runs only while ``spent + max_spend_per_poll <= budget``.
Lower ``max_pages`` to use a small budget more finely.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from brandpulse.clock import utc


@dataclass(frozen=True, slots=True)
class SourceBudget:
    """A source's prices (USD per resource read) and monthly budget (USD; None: no limit)."""

    price_per_post: float = 0.0
    price_per_user: float = 0.0
    monthly_budget: float | None = None
    max_spend_per_poll: float = 0.0  # the most one poll can cost (worst case)

    def spend(self, *, posts: int, users: int = 0) -> float:
        return posts * self.price_per_post + users * self.price_per_user

    @property
    def limited(self) -> bool:
        return self.monthly_budget is not None


def day_key(moment: datetime) -> str:
    """The UTC day of ``moment``: ``"2026-03-10"``."""
    return utc(moment).strftime("%Y-%m-%d")


def month_key(moment: datetime) -> str:
    """The UTC month of ``moment``: ``"2026-03"``."""
    return utc(moment).strftime("%Y-%m")


def next_month_start(moment: datetime) -> datetime:
    """Midnight UTC on the first day of the month after ``moment``'s."""
    m = utc(moment)
    year, month = (m.year + 1, 1) if m.month == 12 else (m.year, m.month + 1)
    return datetime(year, month, 1, tzinfo=timezone.utc)


def money(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 0.1 or amount == 0 else f"${amount:,.3f}"


def over_budget(budget: SourceBudget | None, *, spent: float, posts_read: int, now: datetime) -> str | None:
    """None when the source may poll now; otherwise why it may not (one
    sentence for ``brandpulse sources``, the logs and the digest)."""
    if budget is None or budget.monthly_budget is None:
        return None
    limit = budget.monthly_budget
    resume = f"polling resumes {next_month_start(now):%Y-%m-%d} 00:00 UTC, or raise monthly_budget"
    so_far = f"estimated spend {money(spent)} of {money(limit)} this month ({posts_read:,} posts read)"
    if spent >= limit:
        return f"over budget: {so_far}; {resume}"
    if spent + budget.max_spend_per_poll > limit:
        return (f"over budget: {so_far}, and the next poll could cost up to {money(budget.max_spend_per_poll)};"
                f" {resume} (or lower max_pages)")
    return None
