"""Owners: who created each job, schedule, kernel resource request, dataset and model.

Rows from before have no owner (NULL) and stay everyone's: a single-user installation
upgraded in place keeps acting on its own history. ``datasets.private`` hides a user's
dataset from the others' catalog.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OWNED = ("jobs", "job_schedules", "resource_requests", "datasets", "models")


def upgrade() -> None:
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(255), nullable=True))
            batch.create_index(op.f(f"ix_{table}_owner"), ["owner"])
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(
            sa.Column("private", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("private")
    for table in OWNED:
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_owner"))
            batch.drop_column("owner")
