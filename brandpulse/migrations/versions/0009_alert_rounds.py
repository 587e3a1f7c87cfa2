"""alert rounds: the customer wrote again after an answer

Revision ID: 0009
Revises: 0008

* ``alerts.round``, ``alerts.round_opened_at``, ``alerts.round_mention_id``:
  which of the customer's messages the alert's first-response clock is for
  (1: the post that opened it; existing alerts are in round 1).
* ``alert_rounds``: the earlier messages of an alert that were answered, with
  their first response, kept for the KPIs when the clock restarts.

Alerts answered before this revision whose customer already wrote again stay
as they were ("answered, then wrote again"); the customer's next post starts a
new round.
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = brandpulse.db.models.UTCDateTime(timezone=True)

# Plain ALTER TABLE, not a batch: SQLite's batch mode copies and drops the
# table, and dropping ``alerts`` with foreign keys on would delete the rows
# that reference it (alert_mentions: ON DELETE CASCADE).


def upgrade() -> None:
    op.add_column("alerts", sa.Column("round", sa.Integer(), server_default=sa.text("1"), nullable=False))
    op.add_column("alerts", sa.Column("round_opened_at", _UTC, nullable=True))
    op.add_column("alerts", sa.Column("round_mention_id", _Id, nullable=True))  # no FK: SQLite adds none in place
    op.create_table(
        "alert_rounds",
        sa.Column("alert_id", _Id, nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("mention_id", _Id, nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("sla_due_at", _UTC, nullable=False),
        sa.Column("first_response_at", _UTC, nullable=True),
        sa.Column("closed_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_rounds_alert_id_alerts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f("fk_alert_rounds_mention_id_mentions")),
        sa.PrimaryKeyConstraint("alert_id", "round", name=op.f("pk_alert_rounds")),
    )


def downgrade() -> None:
    op.drop_table("alert_rounds")
    op.drop_column("alerts", "round_mention_id")
    op.drop_column("alerts", "round_opened_at")
    op.drop_column("alerts", "round")
