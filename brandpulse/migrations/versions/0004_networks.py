"""networks (issue 3: source budgets and health)

Revision ID: 0004
Revises: 0003
Reserved in the migration chain so that parallel work streams never create two
heads; the stream named above fills it in.
"""

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
