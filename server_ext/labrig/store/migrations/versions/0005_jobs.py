"""Jobs: spec, snapshot, priority, per-transition timestamps, supervisor; cron schedules.

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

from labrig.store.tables import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("starting_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("spec", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("snapshot_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("output_path", sa.String(4096), nullable=True))
        batch.add_column(sa.Column("schedule_id", sa.String(64), nullable=True))
        batch.add_column(sa.Column("rerun_of", sa.String(64), nullable=True))
        batch.add_column(sa.Column("gpus_granted", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("supervisor_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("supervisor_started", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("holds_resources", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("finalized", sa.Boolean(), nullable=False, server_default="0"))
        batch.create_index("ix_jobs_queue", ["status", "priority", "created_at"])
        batch.create_index(op.f("ix_jobs_schedule_id"), ["schedule_id"])
    with op.batch_alter_table("jobs") as batch:
        for column in ("priority", "spec", "gpus_granted", "holds_resources", "finalized"):
            batch.alter_column(column, server_default=None)
    op.create_table(
        "job_schedules",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("notebook_path", sa.String(4096), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("snapshot_sha256", sa.String(64), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_occurrence", UTCDateTime(), nullable=False),
        sa.Column("last_job_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedules")),
    )
    op.create_index(op.f("ix_job_schedules_created_at"), "job_schedules", ["created_at"])
    op.create_table(
        "job_schedule_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("schedule_id", sa.String(64), nullable=False),
        sa.Column("occurrence", UTCDateTime(), nullable=False),
        sa.Column("job_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["job_schedules.id"],
            name=op.f("fk_job_schedule_runs_schedule_id_job_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_schedule_runs")),
        sa.UniqueConstraint("schedule_id", "occurrence", name="uq_schedule_occurrence"),
    )


def downgrade() -> None:
    op.drop_table("job_schedule_runs")
    op.drop_index(op.f("ix_job_schedules_created_at"), table_name="job_schedules")
    op.drop_table("job_schedules")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_schedule_id"))
        batch.drop_index("ix_jobs_queue")
        for column in (
            "finalized",
            "holds_resources",
            "supervisor_started",
            "supervisor_pid",
            "gpus_granted",
            "rerun_of",
            "schedule_id",
            "output_path",
            "snapshot_sha256",
            "spec",
            "priority",
            "starting_at",
        ):
            batch.drop_column(column)
