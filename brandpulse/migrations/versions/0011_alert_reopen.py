"""alerts reopened by the customer's next post

Revision ID: 0011
Revises: 0010

* ``alert_rounds.resolved_at``: when a person resolved the alert while that
  message was the one awaited (NULL: the customer wrote again before anyone
  resolved it), so the KPIs keep the first resolution when a resolved alert
  is reopened by the customer's next post.
* ``alerts.reopened_at``: when the customer's post reopened the resolved
  alert for the message now awaited (NULL: it did not), so the inbox can say
  "wrote again after it was resolved".

Existing rows keep NULL in both: no alert was ever reopened by a post before.
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_UTC = brandpulse.db.models.UTCDateTime(timezone=True)

# Plain ALTER TABLE, not a batch (as 0009): SQLite's batch mode copies and drops
# the table, and dropping ``alerts`` with foreign keys on would delete the rows
# that reference it (alert_mentions: ON DELETE CASCADE).


def upgrade() -> None:
    op.add_column("alert_rounds", sa.Column("resolved_at", _UTC, nullable=True))
    op.add_column("alerts", sa.Column("reopened_at", _UTC, nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "reopened_at")
    op.drop_column("alert_rounds", "resolved_at")
