"""networks (issue 3: source budgets and health)

Revision ID: 0004
Revises: 0003

* ``source_usage``: per source and UTC month, the polls made, the posts and
  user objects read and their estimated cost (listener/budget.py).
* ``source_state.note``: why a source's status is what it is when that is not
  an error (``over_budget``: the month's spend against the budget).
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_UTC = brandpulse.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_usage",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("posts_read", sa.BigInteger(), nullable=False),
        sa.Column("users_read", sa.BigInteger(), nullable=False),
        sa.Column("spend", sa.Float(), nullable=False),
        sa.Column("updated_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("source", "month", name=op.f("pk_source_usage")),
    )
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_state", schema=None) as batch_op:
        batch_op.drop_column("note")
    op.drop_table("source_usage")
