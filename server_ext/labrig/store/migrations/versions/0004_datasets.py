"""Datasets: admin/pinned/mount columns and the dataset_versions manifests.

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from labrig.store.tables import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("admin", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("pinned", sa.Boolean(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mount_path", sa.String(4096), nullable=True))
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("admin", server_default=None)
        batch.alter_column("pinned", server_default=None)
    op.create_table(
        "dataset_versions",
        sa.Column("dataset", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset"],
            ["datasets.name"],
            name=op.f("fk_dataset_versions_dataset_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("dataset", "version", name=op.f("pk_dataset_versions")),
    )


def downgrade() -> None:
    op.drop_table("dataset_versions")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("mount_path")
        batch.drop_column("pinned")
        batch.drop_column("admin")
