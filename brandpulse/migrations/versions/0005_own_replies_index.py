"""own replies indexes (replies written by hand on the platform)

Revision ID: 0005
Revises: 0004

* ``ix_mentions_own_replies``: the brand's own posts by (platform,
  reply_to_id), partial (``is_own`` rows only), so the pipeline finds the
  team's replies to a post that has just joined an alert with a few index
  probes (outreach/hand_replies.py).
* ``ix_outbox_posted``: brandpulse's posts by (platform, external_id),
  partial (rows with a platform id), to tell its own posts from the team's.
"""

from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_mentions_own_replies", "mentions", ["platform", "reply_to_id"],
        sqlite_where=sa.text("is_own = 1"), postgresql_where=sa.text("is_own"),
    )
    op.create_index(
        "ix_outbox_posted", "outbox", ["platform", "external_id"],
        sqlite_where=sa.text("external_id IS NOT NULL"), postgresql_where=sa.text("external_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_posted", table_name="outbox")
    op.drop_index("ix_mentions_own_replies", table_name="mentions")
