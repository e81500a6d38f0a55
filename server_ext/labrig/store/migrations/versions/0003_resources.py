"""Resources: the GPU ledger, resource holders, enforcement events; 64-bit byte counts.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from labrig.store.tables import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("resource_requests") as batch:
        batch.alter_column("memory", type_=sa.BigInteger(), existing_type=sa.Integer())
        batch.alter_column("disk", type_=sa.BigInteger(), existing_type=sa.Integer())
    op.create_table(
        "resource_holders",
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("notebook_path", sa.String(4096), nullable=True),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_started", sa.Float(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("pid_started", sa.Float(), nullable=True),
        sa.Column("cpus", sa.Float(), nullable=True),
        sa.Column("memory", sa.BigInteger(), nullable=True),
        sa.Column("disk", sa.BigInteger(), nullable=True),
        sa.Column("gpus", sa.JSON(), nullable=False),
        sa.Column("enforcement", sa.JSON(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("holder", name=op.f("pk_resource_holders")),
    )
    op.create_index(
        op.f("ix_resource_holders_notebook_path"), "resource_holders", ["notebook_path"]
    )
    op.create_table(
        "gpu_allocations",
        sa.Column("uuid", sa.String(128), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("uuid", name=op.f("pk_gpu_allocations")),
    )
    op.create_index(op.f("ix_gpu_allocations_holder"), "gpu_allocations", ["holder"])
    op.create_table(
        "resource_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("notebook_path", sa.String(4096), nullable=False),
        sa.Column("holder", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_events")),
    )
    op.create_index(op.f("ix_resource_events_notebook_path"), "resource_events", ["notebook_path"])


def downgrade() -> None:
    op.drop_index(op.f("ix_resource_events_notebook_path"), table_name="resource_events")
    op.drop_table("resource_events")
    op.drop_index(op.f("ix_gpu_allocations_holder"), table_name="gpu_allocations")
    op.drop_table("gpu_allocations")
    op.drop_index(op.f("ix_resource_holders_notebook_path"), table_name="resource_holders")
    op.drop_table("resource_holders")
    with op.batch_alter_table("resource_requests") as batch:
        batch.alter_column("disk", type_=sa.Integer(), existing_type=sa.BigInteger())
        batch.alter_column("memory", type_=sa.Integer(), existing_type=sa.BigInteger())
