"""Jobs behind a backend: which backend owns a job, its launch handle, its pinned datasets.

The local supervisor's pid and create time move into the handle (``{"host", "pid",
"started"}``), where a Kubernetes job keeps its object's namespace, name and uid instead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import socket

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

jobs = sa.table(
    "jobs",
    sa.column("id", sa.String),
    sa.column("backend", sa.String),
    sa.column("handle", sa.JSON),
    sa.column("dataset_versions", sa.JSON),
    sa.column("supervisor_pid", sa.Integer),
    sa.column("supervisor_started", sa.Float),
)


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("backend", sa.String(255), nullable=True))
        batch.add_column(sa.Column("handle", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(
            sa.Column("dataset_versions", sa.JSON(), nullable=False, server_default="{}")
        )
        batch.create_index(op.f("ix_jobs_backend"), ["backend"])
    # Every job so far ran on this host's local backend.
    host = socket.gethostname()
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(jobs.c.id, jobs.c.supervisor_pid, jobs.c.supervisor_started)
    )
    for job_id, pid, started in list(rows):
        handle = {"host": host, "pid": pid, "started": started} if pid is not None else {}
        connection.execute(
            jobs.update().where(jobs.c.id == job_id).values(backend=f"local:{host}", handle=handle)
        )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("handle", server_default=None)
        batch.alter_column("dataset_versions", server_default=None)
        batch.drop_column("supervisor_started")
        batch.drop_column("supervisor_pid")


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("supervisor_pid", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("supervisor_started", sa.Float(), nullable=True))
    connection = op.get_bind()
    for job_id, handle in list(connection.execute(sa.select(jobs.c.id, jobs.c.handle))):
        handle = handle or {}
        connection.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(supervisor_pid=handle.get("pid"), supervisor_started=handle.get("started"))
        )
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index(op.f("ix_jobs_backend"))
        batch.drop_column("dataset_versions")
        batch.drop_column("handle")
        batch.drop_column("backend")
