"""outreach safeguards (issue 4: opt-outs, outreach switch, caps)

Revision ID: 0002
Revises: 0001
Reserved in the migration chain so that parallel work streams never create two
heads; the stream named above fills it in.
"""

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
