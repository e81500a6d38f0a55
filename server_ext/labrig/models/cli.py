"""``labrig models``: list, show, register, alias, remove, load and garbage-collect."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from ..clikit import emit_object, emit_table, json_option, page_options, services_of
from ..errors import InvalidInput
from ..paths import confine_absolute
from ..store import PageRequest
from .blob_gc import LEASE_TTL
from .checks import parse_ref
from .lineage import current_lineage


@click.group()
def models() -> None:
    """The model registry: models, versions, aliases and files."""


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        parsed[key] = item
    return parsed


def _metrics(values: tuple[str, ...]) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for key, raw in _pairs(values, "--metric").items():
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InvalidInput(f"metric {key}={raw!r} is not a finite number", field="metrics")
        metrics[key] = number
    return metrics


def _param(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@models.command("ls")
@page_options
@json_option
@click.pass_context
def ls(ctx: click.Context, limit: str, page_token: str | None, as_json: bool) -> None:
    """List models with their latest version and aliases."""
    page = services_of(ctx).models.list(PageRequest.parse(limit, page_token))
    emit_table(
        page,
        ("name", "latest_version", "aliases", "owner", "description"),
        as_json,
        "No models yet: register one with `labrig models register NAME PATH`.",
    )


@models.command("show")
@click.argument("ref")
@page_options
@click.option("--order-by", default=None, help="version, created_at or metric:NAME.")
@json_option
@click.pass_context
def show(
    ctx: click.Context,
    ref: str,
    limit: str,
    page_token: str | None,
    order_by: str | None,
    as_json: bool,
) -> None:
    """Show a model and its versions (NAME), or one version (NAME/3, NAME@ALIAS)."""
    registry = services_of(ctx).models
    name, which = parse_ref(ref)
    if which is None and "@" not in ref:
        model = registry.get(name)
        page = registry.list_versions(name, PageRequest.parse(limit, page_token), order_by)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "model": model,
                        "versions": page.items,
                        "next_page_token": page.next_page_token,
                    }
                )
            )
            return
        emit_object(model, False)
        click.echo("")
        emit_table(
            page,
            ("version", "created_at", "user", "metrics", "aliases", "note"),
            False,
            "No versions yet.",
        )
        return
    emit_object(registry.get_ref(ref), as_json)


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
    body = {"name": name, "description": description, "tags": _pairs(tags, "--tag")}
    emit_object(services_of(ctx).models.create(body), as_json)


@models.command("register")
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--metric", "metrics", multiple=True, metavar="KEY=NUMBER", help="Repeatable.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="JSON or text.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="Repeatable.")
@click.option("--note", default="", help="Free text about this version.")
@json_option
@click.pass_context
def register(
    ctx: click.Context,
    name: str,
    path: Path,
    metrics: tuple[str, ...],
    params: tuple[str, ...],
    tags: tuple[str, ...],
    note: str,
    as_json: bool,
) -> None:
    """Register the file or directory PATH as the next version of model NAME."""
    services = services_of(ctx)
    source = confine_absolute(path, services.model_source_roots(), field="path")
    version = services.models.register(
        name,
        source,
        metrics=_metrics(metrics),
        params={k: _param(v) for k, v in _pairs(params, "--param").items()},
        tags=_pairs(tags, "--tag"),
        note=note,
        lineage=current_lineage(source),
    )
    if as_json:
        click.echo(json.dumps(version))
    else:
        click.echo(
            f"registered {version['ref']} ({version['file_count']} files, {version['size']} bytes)"
        )


@models.command("alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", required=False)
@click.option("--delete", is_flag=True, help="Remove the alias instead.")
@json_option
@click.pass_context
def alias(
    ctx: click.Context, name: str, alias: str, version: str | None, delete: bool, as_json: bool
) -> None:
    """Point ALIAS of model NAME at VERSION (or --delete it)."""
    registry = services_of(ctx).models
    if delete:
        registry.delete_alias(name, alias)
        emit_object({"model": name, "alias": alias, "version": None}, as_json)
        return
    if version is None:
        raise click.UsageError("give the VERSION the alias should point at, or --delete")
    emit_object(registry.set_alias(name, alias, version), as_json)


@models.command("history")
@click.argument("name")
@page_options
@json_option
@click.pass_context
def history(
    ctx: click.Context, name: str, limit: str, page_token: str | None, as_json: bool
) -> None:
    """Every move of the aliases of model NAME, newest first."""
    page = services_of(ctx).models.alias_history(name, PageRequest.parse(limit, page_token))
    emit_table(
        page, ("at", "alias", "from_version", "to_version", "user"), as_json, "No alias moves yet."
    )


@models.command("rm")
@click.argument("ref")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm(ctx: click.Context, ref: str, yes: bool) -> None:
    """Delete a version (NAME/3) or a whole model (NAME)."""
    registry = services_of(ctx).models
    name, which = parse_ref(ref)
    if isinstance(which, str) or "@" in ref:
        raise InvalidInput("rm takes NAME or NAME/VERSION, not an alias", field="ref")
    what = f"version {name}/{which}" if which is not None else f"model {name} and all its versions"
    if not yes:
        click.confirm(f"Delete {what}?", abort=True)
    if which is None:
        registry.delete(name)
    else:
        registry.delete_version(name, which)
    click.echo(f"deleted {what}")


@models.command("load")
@click.argument("ref")
@json_option
@click.pass_context
def load(ctx: click.Context, ref: str, as_json: bool) -> None:
    """Fetch a version into the local cache (verified) and print its path."""
    path = services_of(ctx).models.load_path(ref)
    click.echo(json.dumps({"path": str(path)}) if as_json else str(path))


@models.command("gc")
@click.option("--grace", default=3600, show_default=True, help="Keep blobs younger than this (s).")
@click.option(
    "--lease-ttl",
    default=int(LEASE_TTL.total_seconds()),
    show_default=True,
    type=click.IntRange(min=0),
    help="Forget leases of registrations older than this (s): a registration killed then "
    "keeps its files and its unfinished upload until its lease is this old.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be removed.")
@json_option
@click.pass_context
def gc(ctx: click.Context, grace: int, lease_ttl: int, dry_run: bool, as_json: bool) -> None:
    """Remove stored files that no version references, and abort uploads killed midway."""
    result = services_of(ctx).models.gc(
        timedelta(seconds=grace), dry_run=dry_run, lease_ttl=timedelta(seconds=lease_ttl)
    )
    if as_json:
        click.echo(json.dumps(result))
    else:
        verb = "would remove" if dry_run else "removed"
        click.echo(
            f"{verb} {result['removed_blobs']} blobs ({result['freed_bytes']} bytes) "
            f"and {result['removed_tmp']} temporary files; aborted "
            f"{result['aborted_uploads']} unfinished uploads"
        )
