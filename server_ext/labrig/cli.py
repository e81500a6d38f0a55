"""The ``labrig`` command line, built on the same services as the server (no HTTP to itself).

Each section adds its own group (``resources/cli.py``, ``jobs/cli.py``, ...). A group's module
is imported only when that group runs, and the services only when a command uses them, so
``labrig --help`` imports no section and ``labrig jobs ls`` opens the database and the job
service only (``tests/unit/test_cli_startup.py`` holds this).
"""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

import click

from .clikit import json_option, services_of
from .errors import LabrigError

#: name -> (module, attribute, the group's one-line help as `labrig --help` lists it). The help
#: is written here so that listing the groups imports none of them; a test checks it against
#: each group's own docstring.
SECTIONS: dict[str, tuple[str, str, str]] = {
    "resources": (
        "labrig.resources.cli",
        "resources",
        "CPU, memory, GPUs and scratch disk requested for notebook kernels.",
    ),
    "datasets": (
        "labrig.dataset_mounts.cli",
        "datasets",
        "The dataset catalog and its host-wide cache.",
    ),
    "jobs": ("labrig.jobs.cli", "jobs", "Notebooks run as (distributed) training jobs."),
    "models": (
        "labrig.models.cli",
        "models",
        "The model registry: models, versions, aliases and files.",
    ),
    "db": (
        "labrig.store.cli",
        "db",
        "The state database's schema: its revision, and migrating it.",
    ),
}


def load_section(name: str) -> click.Command:
    module, attribute, _help = SECTIONS[name]
    command: click.Command = getattr(importlib.import_module(module), attribute)
    return command


class LabrigCommand(click.Group):
    """Turns labrig's own errors into one line on stderr and a non-zero exit code, and imports
    each section's group only when it is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *SECTIONS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in SECTIONS and cmd_name not in self.commands:
            self.add_command(load_section(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            if name in SECTIONS and name not in self.commands:
                rows.append((name, SECTIONS[name][2]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(formatter.width - 6 - len(name))))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
