"""Model registry: versions, counters, files, blobs, leases, aliases and alias history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from labrig.store.tables import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_counters",
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name"],
            ["models.name"],
            name=op.f("fk_model_counters_model_name_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_name", name=op.f("pk_model_counters")),
    )
    # Models created before this revision get their counter row.
    op.execute(
        "INSERT INTO model_counters (model_name, next_version) "
        "SELECT name, COALESCE(latest_version, 0) + 1 FROM models"
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_name"],
            ["models.name"],
            name=op.f("fk_model_versions_model_name_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_versions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_model_versions_idempotency_key")),
        sa.UniqueConstraint("model_name", "version", name=op.f("uq_model_versions_model_name")),
    )
    op.create_table(
        "model_version_metrics",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_version_metrics_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("version_id", "key", name=op.f("pk_model_version_metrics")),
    )
    op.create_index(
        "ix_model_version_metrics_sort",
        "model_version_metrics",
        ["model_name", "key", "value", "version"],
    )
    op.create_table(
        "model_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_model_blobs")),
    )
    op.create_index(op.f("ix_model_blobs_size"), "model_blobs", ["size"])
    op.create_table(
        "model_files",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(4096), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["model_versions.id"],
            name=op.f("fk_model_files_version_id_model_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["model_blobs.sha256"], name=op.f("fk_model_files_sha256_model_blobs")
        ),
        sa.PrimaryKeyConstraint("version_id", "path", name=op.f("pk_model_files")),
    )
    op.create_index(op.f("ix_model_files_sha256"), "model_files", ["sha256"])
    op.create_table(
        "model_blob_leases",
        sa.Column("lease_id", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("lease_id", "sha256", name=op.f("pk_model_blob_leases")),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_name"],
            ["models.name"],
            name=op.f("fk_model_aliases_model_name_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_name", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model_name", sa.String(128), nullable=False),
        sa.Column("alias", sa.String(128), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_alias_history")),
    )
    op.create_index("ix_model_alias_history_model", "model_alias_history", ["model_name", "id"])


def downgrade() -> None:
    op.drop_index("ix_model_alias_history_model", table_name="model_alias_history")
    op.drop_table("model_alias_history")
    op.drop_table("model_aliases")
    op.drop_table("model_blob_leases")
    op.drop_index(op.f("ix_model_files_sha256"), table_name="model_files")
    op.drop_table("model_files")
    op.drop_index(op.f("ix_model_blobs_size"), table_name="model_blobs")
    op.drop_table("model_blobs")
    op.drop_index("ix_model_version_metrics_sort", table_name="model_version_metrics")
    op.drop_table("model_version_metrics")
    op.drop_table("model_versions")
    op.drop_table("model_counters")
