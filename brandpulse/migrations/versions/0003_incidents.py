"""incidents (issue 4: incidents, incident posts, links)

Revision ID: 0003
Revises: 0002
Reserved in the migration chain so that parallel work streams never create two
heads; the stream named above fills it in.
"""

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
