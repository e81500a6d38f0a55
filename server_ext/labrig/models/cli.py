"""``labrig models``."""

from __future__ import annotations

import click

from ..clikit import emit_object, json_option, list_command, services_of, show_command


@click.group()
def models() -> None:
    """The model registry."""


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
