"""``labrig jobs``."""

from __future__ import annotations

import click

from ..clikit import list_command, show_command


@click.group()
def jobs() -> None:
    """Notebooks run as (distributed) training jobs."""


list_command(
    jobs,
    "jobs",
    ("id", "name", "status", "notebook_path", "created_at"),
    "No jobs yet: open a notebook in JupyterLab and click Run as job.",
)
show_command(jobs, "jobs", "job_id")
