"""API tokens: the scoped credential each kernel and job rank gets instead of the database URL
(stored as SHA-256 digests, deleted with their kernel or job); who made each dataset's host
mount (mounts from before have nobody recorded, and stay everyone's to move).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from labrig.store.tables import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_api_tokens")),
    )
    op.create_index(op.f("ix_api_tokens_subject"), "api_tokens", ["subject"])
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("mounted_by", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("mounted_by")
    op.drop_index(op.f("ix_api_tokens_subject"), table_name="api_tokens")
    op.drop_table("api_tokens")
