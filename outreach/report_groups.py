"""What the per-brand, per-platform reports (KPIs, trends) share: their
groups are keyed by brand and platform, with :data:`ALL` standing for "every
brand" or "every platform", and the last group is the grand total."""

from __future__ import annotations

from typing import Generic, Protocol, Sequence, TypeVar

ALL = "*"  # brand or platform "all"


class _Keyed(Protocol):
    brand: str
    platform: str


GroupT = TypeVar("GroupT", bound=_Keyed)


class GroupedReport(Generic[GroupT]):
    """Lookup of a report's groups by (brand, platform). A subclass is a
    dataclass with a ``groups`` field whose items have ``brand`` and
    ``platform`` attributes and which holds the (ALL, ALL) total."""

    __slots__ = ()
    groups: Sequence[GroupT]

    def group(self, brand: str = ALL, platform: str = ALL) -> GroupT | None:
        for g in self.groups:
            if (g.brand, g.platform) == (brand, platform):
                return g
        return None

    @property
    def total(self) -> GroupT:
        found = self.group(ALL, ALL)
        if found is None:
            raise LookupError(f"{type(self).__name__} has no total group")
        return found
