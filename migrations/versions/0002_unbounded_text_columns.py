"""unbounded text columns

Columns that hold what people wrote or what the service keeps as JSON become TEXT:
`cursors.value` holds a JSON map of every SPEC file (far over 200 characters on the real
repository), titles and slugs are copied from the forum and GitHub, problem subjects can
carry a URL from a PR body, and effect keys carry SPEC paths. SQLite never enforced the old
lengths; PostgreSQL did, and a cycle's last commit failed there.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 21:58:41.060723
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# table, column, old length, nullable
WIDENED = [
    ("cursors", "value", 200, True),
    ("effects", "key", 200, False),
    ("effects", "target", 200, False),
    ("problems", "subject", 200, False),
    ("specs", "title", 300, False),
    ("specs", "last_actor", 100, True),
    ("stage_events", "actor", 100, False),
    ("threads", "slug", 300, False),
    ("threads", "title", 300, False),
]


def upgrade() -> None:
    for table, column, length, nullable in WIDENED:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.String(length), type_=sa.Text(),
                                  existing_nullable=nullable)


def downgrade() -> None:
    # A cursor too long for the old column is dropped (the next cycle reads that feed again
    # from the start); other long values are cut to fit, as the old schema would need.
    op.execute(sa.text("DELETE FROM cursors WHERE length(value) > 200"))
    for table, column, length, nullable in reversed(WIDENED):
        op.execute(sa.text(f"UPDATE {table} SET {column} = substr({column}, 1, {length}) "
                           f"WHERE length({column}) > {length}"))
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length),
                                  existing_nullable=nullable)
