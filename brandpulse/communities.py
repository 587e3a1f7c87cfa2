"""Community sizes: what a Reddit post reaches when its listing does not say.

Reddit has no followers; a post reaches the subreddit it is posted in
(:class:`brandpulse.types.Reach`). A submission of ``/r/{sub}/new`` carries
the subreddit's member count (``subreddit_subscribers``); a comment of
``/r/{sub}/comments`` does not. So the latest count read for each community is
kept in ``communities`` (one row per platform and community, lower-case), and
a mention stored without a count takes its community's, before the rules see
it; its ``mentions`` row is updated to say so. No request is made: a comment
gets a count once any source has read a submission of its subreddit.

Runs in the poll's transaction (the pipeline's ``apply``): at most one upsert
per community that brought a count, one SELECT for the communities that did
not, one UPDATE of the mentions filled in.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from brandpulse.db.bulk import dialect_insert
from brandpulse.db.models import CommunityRow, MentionRow
from brandpulse.types import Mention


@functools.lru_cache(maxsize=None)
def _upsert(dialect: str):
    table = CommunityRow.__table__
    stmt = dialect_insert(table, dialect)
    return stmt.on_conflict_do_update(
        index_elements=["platform", "name"],
        set_={"members": stmt.excluded.members, "counted_at": stmt.excluded.counted_at},
        where=table.c.counted_at <= stmt.excluded.counted_at,  # an older post never overwrites a newer count
    )


_MENTIONS = MentionRow.__table__
_FILL = (  # Core, not ORM: one executemany
    update(_MENTIONS).where(_MENTIONS.c.id == bindparam("row_id")).values(community_members=bindparam("members"))
)


def fill_community_members(session: Session, stored: Sequence[tuple[int, Mention]]) -> dict[int, Mention]:
    """Remember the member counts the batch's posts carry; give the posts
    that carry none their community's latest count. ``stored`` are (mentions
    row id, mention) just stored. Returns ``{row id: mention with its count}``
    for the mentions filled in (the others are unchanged)."""
    counted: dict[tuple[str, str], tuple[datetime, str, int]] = {}
    missing: list[tuple[int, Mention]] = []
    for row_id, m in stored:
        if not m.community:
            continue
        key = (m.platform, m.community.lower())
        if m.community_members is not None:
            if key not in counted or counted[key][0] <= m.created_at:
                counted[key] = (m.created_at, m.community, m.community_members)
        elif m.platform == "reddit":
            missing.append((row_id, m))
    if counted:
        upsert = _upsert(session.get_bind().dialect.name)
        session.execute(upsert, [{"platform": p, "name": name, "members": members, "counted_at": at}
                                 for (p, name), (at, _shown, members) in counted.items()])
    if not missing:
        return {}
    sizes = {key: members for key, (_at, _shown, members) in counted.items()}
    unknown = sorted({(m.platform, m.community.lower()) for _, m in missing if m.community} - sizes.keys())
    for platform in sorted({p for p, _ in unknown}):
        names = [name for p, name in unknown if p == platform]
        rows = session.execute(select(CommunityRow.name, CommunityRow.members)
                               .where(CommunityRow.platform == platform, CommunityRow.name.in_(names)))
        sizes.update({(platform, name): members for name, members in rows})
    filled: dict[int, Mention] = {}
    for row_id, m in missing:
        members = sizes.get((m.platform, (m.community or "").lower()))
        if members is not None:
            filled[row_id] = dataclasses.replace(m, community_members=members)
    if filled:
        session.execute(_FILL, [{"row_id": row_id, "members": m.community_members} for row_id, m in filled.items()])
    return filled
