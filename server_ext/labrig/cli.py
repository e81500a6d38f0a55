"""The ``labrig`` command line, built on the same services as the server (no HTTP to itself)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from .errors import LabrigError
from .services import Services, load_services
from .store import Page, PageRequest

F = TypeVar("F", bound=Callable[..., Any])


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


def services_of(ctx: click.Context) -> Services:
    root = ctx.find_root()
    if root.obj is None:
        root.obj = load_services()
        root.call_on_close(root.obj.close)
    services: Services = root.obj
    return services


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")(fn)


def page_options(fn: F) -> F:
    fn = click.option("--limit", default="50", show_default=True, help="Rows per page (1-500).")(fn)
    return click.option("--page-token", default=None, help="Token printed after a page.")(fn)


def emit_table(
    page: Page[dict[str, Any]], columns: Iterable[str], as_json: bool, empty: str
) -> None:
    if as_json:
        click.echo(json.dumps({"items": page.items, "next_page_token": page.next_page_token}))
        return
    if not page.items:
        click.echo(empty)
        return
    cols = list(columns)
    rows = [[_cell(item.get(col)) for col in cols] for item in page.items]
    widths = [max(len(col), *(len(row[i]) for row in rows)) for i, col in enumerate(cols)]
    click.echo("  ".join(col.upper().ljust(w) for col, w in zip(cols, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if page.next_page_token:
        click.echo(f"more: --page-token {page.next_page_token}")


def emit_object(value: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(value))
        return
    for key, item in value.items():
        click.echo(f"{key}: {_cell(item)}")


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)


def list_command(group: click.Group, section: str, columns: tuple[str, ...], empty: str) -> None:
    @group.command("ls")
    @page_options
    @json_option
    @click.pass_context
    def ls(ctx: click.Context, limit: str, page_token: str | None, as_json: bool) -> None:
        service = getattr(services_of(ctx), section)
        emit_table(service.list(PageRequest.parse(limit, page_token)), columns, as_json, empty)

    ls.help = f"List {section}."


def show_command(group: click.Group, section: str, arg: str) -> None:
    @group.command("show")
    @click.argument(arg)
    @json_option
    @click.pass_context
    def show(ctx: click.Context, as_json: bool, **kwargs: str) -> None:
        emit_object(getattr(services_of(ctx), section).get(kwargs[arg]), as_json)

    show.help = f"Show one of the {section} by {arg.replace('_', ' ')}."


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


@cli.group()
def resources() -> None:
    """CPU, memory, GPUs and scratch disk requested for notebook kernels."""


@cli.group()
def datasets() -> None:
    """The dataset catalog and its host-wide cache."""


@cli.group()
def jobs() -> None:
    """Notebooks run as (distributed) training jobs."""


@cli.group()
def models() -> None:
    """The model registry."""


list_command(
    resources,
    "resources",
    ("notebook_path", "profile", "cpus", "memory", "gpus", "disk"),
    "No resource requests yet: kernels run with the server's defaults.",
)
show_command(resources, "resources", "notebook_path")
list_command(
    datasets,
    "datasets",
    ("name", "source_url", "version"),
    "No datasets yet: add one with `labrig datasets add`.",
)
show_command(datasets, "datasets", "name")
list_command(
    jobs,
    "jobs",
    ("id", "name", "status", "notebook_path", "created_at"),
    "No jobs yet: open a notebook in JupyterLab and click Run as job.",
)
show_command(jobs, "jobs", "job_id")
list_command(
    models,
    "models",
    ("name", "latest_version", "description"),
    "No models yet: create one with `labrig models create NAME`.",
)
show_command(models, "models", "name")


@models.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the model is for.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag; repeatable.")
@json_option
@click.pass_context
def create_model(
    ctx: click.Context, name: str, description: str, tags: tuple[str, ...], as_json: bool
) -> None:
    """Create an empty registered model."""
    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep:
            raise click.BadParameter(f"{tag!r} is not KEY=VALUE", param_hint="--tag")
        parsed[key] = value
    body = {"name": name, "description": description, "tags": parsed}
    emit_object(services_of(ctx).models.create(body), as_json)
