"""reads billed once per UTC day

Revision ID: 0012
Revises: 0011

* ``billed_reads``: each post and user an app read on a UTC day (platform,
  day, kind, resource id), so the spend estimate bills a resource once per
  day as X does (listener/poller.py). Starts empty.
* ``source_usage.posts_billed`` / ``users_billed``: of the month's reads,
  those the estimate bills. Existing rows take their reads: their spend was
  estimated with every read billed.
"""

from alembic import op
import sqlalchemy as sa

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "billed_reads",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("platform", "day", "kind", "resource_id", name=op.f("pk_billed_reads")),
    )
    # Plain ADD COLUMN (no batch copy of the table); the server default fills existing rows.
    op.add_column("source_usage", sa.Column("posts_billed", sa.BigInteger(), nullable=False, server_default="0"))
    op.add_column("source_usage", sa.Column("users_billed", sa.BigInteger(), nullable=False, server_default="0"))
    op.execute("UPDATE source_usage SET posts_billed = posts_read, users_billed = users_read")


def downgrade() -> None:
    with op.batch_alter_table("source_usage") as batch_op:  # nothing references source_usage: a copy is safe
        batch_op.drop_column("users_billed")
        batch_op.drop_column("posts_billed")
    op.drop_table("billed_reads")
