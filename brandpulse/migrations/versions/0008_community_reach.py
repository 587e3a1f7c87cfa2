"""Reddit reach: the subreddit's members, not the author's followers

Revision ID: 0008
Revises: 0007

Reddit has no followers; a post reaches the subreddit it is posted in.

* ``mentions.community_members``: the subreddit's members when the post was
  read (a submission's ``subreddit_subscribers``; a comment takes its
  subreddit's latest count). Mentions stored before stay NULL ("members
  unknown"): their count was never read.
* ``communities``: the latest member count read per platform and community
  (brandpulse/communities.py).
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_UTC = brandpulse.db.models.UTCDateTime(timezone=True)


# Plain ALTER TABLE, not a batch: SQLite's batch mode copies and drops the
# table, and dropping ``mentions`` with foreign keys on would delete the rows
# that reference it (scores, tags, alert_mentions: ON DELETE CASCADE).
# SQLite has had ADD and DROP COLUMN since 3.35.


def upgrade() -> None:
    op.add_column("mentions", sa.Column("community_members", sa.Integer(), nullable=True))
    op.create_table(
        "communities",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("counted_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("platform", "name", name=op.f("pk_communities")),
    )


def downgrade() -> None:
    op.drop_table("communities")
    op.drop_column("mentions", "community_members")
