"""send waits (a platform's rate limit per sending identity)

Revision ID: 0006
Revises: 0005

* ``send_waits``: per platform and sending identity (on X the access token
  posting, so several accounts each wait on their own limit), when sending
  may start again after the platform said "not now", the account whose post
  got that answer and the answer (outreach/outbox.py).
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_UTC = brandpulse.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "send_waits",
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("identity", sa.String(length=128), nullable=False),
        sa.Column("until", _UTC, nullable=False),
        sa.Column("account", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("platform", "identity", name=op.f("pk_send_waits")),
    )


def downgrade() -> None:
    op.drop_table("send_waits")
