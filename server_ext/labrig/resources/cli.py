"""``labrig resources``."""

from __future__ import annotations

import click

from ..clikit import list_command, show_command


@click.group()
def resources() -> None:
    """CPU, memory, GPUs and scratch disk requested for notebook kernels."""


list_command(
    resources,
    "resources",
    ("notebook_path", "profile", "cpus", "memory", "gpus", "disk"),
    "No resource requests yet: kernels run with the server's defaults.",
)
show_command(resources, "resources", "notebook_path")
