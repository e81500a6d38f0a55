"""The ``labrig`` command line, built on the same services as the server (no HTTP to itself).

Each section adds its own group (``resources/cli.py``, ``jobs/cli.py``, ...).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from labrig.dataset_mounts.cli import datasets

from .clikit import json_option, services_of
from .errors import LabrigError
from .jobs.cli import jobs
from .models.cli import models
from .resources.cli import resources


class LabrigCommand(click.Group):
    """Turns labrig's own errors into one line on stderr and a non-zero exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LabrigError as err:
            where = f" ({err.field})" if err.field else ""
            click.echo(f"labrig: error{where}: {err.message}", err=True)
            sys.exit(1)


@click.group(cls=LabrigCommand, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="labrig")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """labrig: kernel resources, cached datasets, notebook jobs and a model registry."""
    ctx.obj = None


@cli.command()
@json_option
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Version, backends and what this host offers."""
    value = services_of(ctx).status()
    if as_json:
        click.echo(json.dumps(value))
        return
    click.echo(f"labrig {value['version']}")
    for name, kind in value["backends"].items():
        click.echo(f"  {name:<9} {kind}")
    click.echo(f"  database  {value['database']['dialect']} @ {value['database']['revision']}")
    for name, label in value["capabilities"].items():
        click.echo(f"  {name}: {label}")


for group in (resources, datasets, jobs, models):
    cli.add_command(group)
