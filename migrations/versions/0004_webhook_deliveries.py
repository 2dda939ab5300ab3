"""webhook deliveries: stored before they are answered, deduplicated by their id

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("event", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("source", "delivery_id",
                            name=op.f("uq_deliveries_source_delivery_id")),
    )
    op.create_index(op.f("ix_deliveries_processed_at"), "deliveries", ["processed_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_deliveries_processed_at"), table_name="deliveries")
    op.drop_table("deliveries")
