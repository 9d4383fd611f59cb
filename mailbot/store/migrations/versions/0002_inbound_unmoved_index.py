"""index for the per-poll lookup of messages not yet moved

Revision ID: 0002
Revises: 0001
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_inbound_unmoved", "inbound_messages", ["moved", "mailbox", "uidvalidity"])


def downgrade() -> None:
    op.drop_index("ix_inbound_unmoved", table_name="inbound_messages")
