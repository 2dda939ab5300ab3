"""trust: refused writes kept for retry, deleted threads, SPECs of every PR, healing scopes,
links read from a SPEC file's history

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
        "spec_pulls",
        sa.Column("spec_id", sa.Integer(), nullable=False),
        sa.Column("pr_number", sa.Integer(), autoincrement=False, nullable=False),
        sa.ForeignKeyConstraint(["spec_id"], ["specs.id"], name=op.f("fk_spec_pulls_spec_id_specs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("spec_id", "pr_number", name=op.f("pk_spec_pulls")),
    )
    with op.batch_alter_table("effects") as batch:
        batch.add_column(sa.Column("status", sa.String(length=10), nullable=False,
                                   server_default="done"))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
    with op.batch_alter_table("problems") as batch:
        batch.add_column(sa.Column("scope", sa.Text(), nullable=False, server_default=""))
    with op.batch_alter_table("specs") as batch:
        batch.add_column(sa.Column("lost_thread_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("history_discussion", sa.Text(), nullable=True))
        batch.add_column(sa.Column("history_read_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("threads") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("stage_events") as batch:
        batch.add_column(sa.Column("authority", sa.String(length=20), nullable=False,
                                   server_default=""))
    # every PR already owned by a SPEC belongs to it
    op.execute("INSERT INTO spec_pulls (spec_id, pr_number) "
               "SELECT spec_id, number FROM pull_requests WHERE spec_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("stage_events") as batch:
        batch.drop_column("authority")
    with op.batch_alter_table("threads") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("specs") as batch:
        batch.drop_column("history_read_at")
        batch.drop_column("history_discussion")
        batch.drop_column("lost_thread_id")
    with op.batch_alter_table("problems") as batch:
        batch.drop_column("scope")
    with op.batch_alter_table("effects") as batch:
        batch.drop_column("error")
        batch.drop_column("payload")
        batch.drop_column("next_attempt_at")
        batch.drop_column("attempts")
        batch.drop_column("status")
    op.drop_table("spec_pulls")
