"""outreach safeguards (issue 4: opt-outs, outreach switch, holds)

Revision ID: 0002
Revises: 0001

* ``outreach_control``: the kill switch (``brandpulse outreach pause|resume``);
  the global row ``scope='*'`` is created here and always exists.
* ``opt_outs``: authors who asked the brand to stop replying.
* ``outbox.hold_code`` (which safeguard held a reply) and ``outbox.waived``
  (safeguards a person waived for it); indexes for the send-time checks.
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    control = op.create_table(
        "outreach_control",
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.String(length=128), nullable=True),
        sa.Column("changed_at", brandpulse.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_outreach_control")),
    )
    op.bulk_insert(control, [{"scope": "*", "paused": False}])

    op.create_table(
        "opt_outs",
        sa.Column("id", _Id, nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("author_handle", sa.String(length=128), nullable=False),
        sa.Column("mention_id", _Id, nullable=True),
        sa.Column("word", sa.String(length=128), nullable=False),
        sa.Column("posted_at", brandpulse.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", brandpulse.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f("fk_opt_outs_mention_id_mentions"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_outs")),
        sa.UniqueConstraint("brand", "platform", "author_id", name="uq_opt_outs_brand_platform_author"),
    )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("waived", sa.JSON(), nullable=True))
        batch_op.create_index("ix_outbox_mention_id", ["mention_id"], unique=False)
        batch_op.create_index("ix_outbox_account_sent", ["platform", "account", "sent_at"], unique=False)
    # Replies held before this revision were held by their template.
    op.execute("UPDATE outbox SET hold_code = 'template' WHERE status = 'held'")


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_account_sent")
        batch_op.drop_index("ix_outbox_mention_id")
        batch_op.drop_column("waived")
        batch_op.drop_column("hold_code")
    op.drop_table("opt_outs")
    op.drop_table("outreach_control")
