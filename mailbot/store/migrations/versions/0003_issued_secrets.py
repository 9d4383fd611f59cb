"""keyed hashes of the passwords sent to PPKs (issued_secrets)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issued_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_issued_secrets_case_id", "issued_secrets", ["case_id"])
    op.create_index("ix_issued_secrets_digest", "issued_secrets", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_issued_secrets_digest", table_name="issued_secrets")
    op.drop_index("ix_issued_secrets_case_id", table_name="issued_secrets")
    op.drop_table("issued_secrets")
