"""incidents (issue 4: incidents, incident posts, links)

Revision ID: 0003
Revises: 0002

* ``incidents``: one row per incident (status page lifecycle), with the first
  status post on each network once it is posted.
* ``incident_updates``: every step, with who posted it and when.
* ``incident_mentions``: complaints linked to an incident while it was open.
* ``outbox.incident_id``, ``outbox.title``, ``outbox.community``: status posts
  and follow-ups belong to an incident; a Reddit status submission has a title
  and a subreddit.
* ``alerts.note``: what brandpulse wants the reader of an alert to know (a
  possible incident: its top terms and the command that opens an incident).
"""

from alembic import op
import sqlalchemy as sa

import brandpulse.db.models

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_UTC = brandpulse.db.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", _Id, nullable=False),
        sa.Column("brand", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("opened_by", sa.String(length=128), nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.Column("resolved_at", _UTC, nullable=True),
        sa.Column("resolved_by", sa.String(length=128), nullable=True),
        sa.Column("x_root_id", sa.String(length=64), nullable=True),
        sa.Column("x_root_url", sa.Text(), nullable=True),
        sa.Column("reddit_root_id", sa.String(length=64), nullable=True),
        sa.Column("reddit_root_url", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_brand_status", ["brand", "status"], unique=False)

    op.create_table(
        "incident_updates",
        sa.Column("id", _Id, nullable=False),
        sa.Column("incident_id", _Id, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_incident_updates_incident_id_incidents"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_updates")),
    )
    with op.batch_alter_table("incident_updates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_updates_incident_id"), ["incident_id"], unique=False)

    op.create_table(
        "incident_mentions",
        sa.Column("incident_id", _Id, nullable=False),
        sa.Column("mention_id", _Id, nullable=False),
        sa.Column("alert_id", _Id, nullable=True),
        sa.Column("linked_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_incident_mentions_alert_id_alerts")),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_incident_mentions_incident_id_incidents"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["mention_id"], ["mentions.id"], name=op.f("fk_incident_mentions_mention_id_mentions"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("incident_id", "mention_id", name=op.f("pk_incident_mentions")),
    )
    with op.batch_alter_table("incident_mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_incident_mentions_mention_id"), ["mention_id"], unique=False)

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", _Id, nullable=True))
        batch_op.add_column(sa.Column("title", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("community", sa.String(length=128), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_incident_id"), ["incident_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_outbox_incident_id_incidents"), "incidents", ["incident_id"], ["id"])

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN, not a batch: on SQLite a batch copies and drops
    # ``alerts``, which outbox and incident_mentions reference: with foreign
    # keys on, the drop failed with rows in them (and would have deleted the
    # alert_mentions rows, ON DELETE CASCADE), leaving _alembic_tmp_alerts.
    op.drop_column("alerts", "note")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_incident_id_incidents"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_incident_id"))
        batch_op.drop_column("community")
        batch_op.drop_column("title")
        batch_op.drop_column("incident_id")
    op.drop_table("incident_mentions")
    op.drop_table("incident_updates")
    op.drop_table("incidents")
