"""incident links: how and why each complaint was linked; unlinked complaints

Revision ID: 0007
Revises: 0006

* ``incident_mentions.how`` (``opening``, ``arrival``, ``hand``),
  ``incident_mentions.keywords`` (the incident's keywords the complaint
  contained when it was linked) and ``incident_mentions.linked_by`` (who
  linked it by hand): ``incident show`` tells why a complaint was linked after
  the keywords change. Existing links get ``how`` from when they were linked
  (at the incident's opening: ``opening``, later: ``arrival``, as ``show``
  told before); their keywords were not recorded and stay NULL.
* ``incident_unlinks``: complaints a person took out of an incident
  (``incident unlink``), never linked to it again automatically.
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = brandpulse.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("incident_mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("how", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("keywords", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("linked_by", sa.String(length=128), nullable=True))
    op.execute(
        "UPDATE incident_mentions SET how = CASE WHEN linked_at <= (SELECT opened_at FROM incidents"
        " WHERE incidents.id = incident_mentions.incident_id) THEN 'opening' ELSE 'arrival' END"
    )
    op.create_table(
        "incident_unlinks",
        sa.Column("incident_id", _Id, nullable=False),
        sa.Column("mention_id", _Id, nullable=False),
        sa.Column("unlinked_at", _UTC, nullable=False),
        sa.Column("unlinked_by", sa.String(length=128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_incident_unlinks_incident_id_incidents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f("fk_incident_unlinks_mention_id_mentions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "mention_id", name=op.f("pk_incident_unlinks")),
    )
    with op.batch_alter_table("incident_unlinks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_unlinks_mention_id"), ["mention_id"], unique=False)


def downgrade() -> None:
    op.drop_table("incident_unlinks")
    with op.batch_alter_table("incident_mentions", schema=None) as batch_op:
        batch_op.drop_column("linked_by")
        batch_op.drop_column("keywords")
        batch_op.drop_column("how")
