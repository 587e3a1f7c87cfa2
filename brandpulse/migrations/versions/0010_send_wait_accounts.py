"""send waits name the accounts they hold back

Revision ID: 0010
Revises: 0009

* ``send_waits.accounts``: the accounts whose posts wait with the limit, as
  the process that met it knew them (on X every account posting with that
  access token; "" for posts naming no account), so the digest and
  ``brandpulse outreach status`` need not work it out again from their own
  environment's credential variables. Waits recorded before this revision
  keep NULL: they hold the account whose post got the answer (and are gone by
  the platform's reset time, at most a day).
"""

from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("send_waits", sa.Column("accounts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send_waits") as batch_op:  # nothing references send_waits: a copy is safe
        batch_op.drop_column("accounts")
