"""``labrig datasets``."""

from __future__ import annotations

import click

from labrig.clikit import list_command, show_command


@click.group()
def datasets() -> None:
    """The dataset catalog and its host-wide cache."""


list_command(
    datasets,
    "datasets",
    ("name", "source_url", "version"),
    "No datasets yet: add one with `labrig datasets add`.",
)
show_command(datasets, "datasets", "name")
