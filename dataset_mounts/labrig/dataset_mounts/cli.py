"""``labrig datasets``."""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import click

from labrig.clikit import emit_object, json_option, list_command, services_of, show_command

from .catalog import DatasetCatalog, WarmUp
from .progress import progress_text


@click.group()
def datasets() -> None:
    """The dataset catalog and its host-wide cache."""


list_command(
    datasets,
    "datasets",
    (
        "name",
        "source_url",
        "version",
        "files",
        "bytes",
        "mount_path",
        "mount_protection",
        "owner",
        "private",
    ),
    "No datasets yet: add one with `labrig datasets add`.",
)
show_command(datasets, "datasets", "name")


def _catalog(ctx: click.Context) -> DatasetCatalog:
    catalog: DatasetCatalog = services_of(ctx).datasets
    return catalog


@datasets.command("add")
@click.argument("name")
@click.argument("source_url")
@click.option("--include", default=None, help="Glob of paths to keep, e.g. 'train/*.parquet'.")
@click.option("--endpoint-url", default=None, help="S3/OSS-compatible endpoint.")
@click.option("--region", default=None)
@click.option("--anonymous", is_flag=True, help="Public source: send no credentials.")
@click.option(
    "--credentials-env",
    multiple=True,
    metavar="ROLE=VAR",
    help="Read a credential from an environment variable, e.g. key=AWS_ACCESS_KEY_ID.",
)
@click.option("--credentials-file", default=None, help="A JSON or INI credentials file.")
@click.option("--pin", is_flag=True, help="Keep in the cache (never evicted).")
@click.option(
    "--private", is_flag=True, help="Only you (and administrators) see, warm and mount it."
)
@json_option
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    source_url: str,
    include: str | None,
    endpoint_url: str | None,
    region: str | None,
    anonymous: bool,
    credentials_env: tuple[str, ...],
    credentials_file: str | None,
    pin: bool,
    private: bool,
    as_json: bool,
) -> None:
    """Add a dataset NAME read from SOURCE_URL (file://, s3://, oss://, gs://, http(s)://)."""
    options: dict[str, Any] = {}
    if endpoint_url:
        options["endpoint_url"] = endpoint_url
    if region:
        options["region"] = region
    if anonymous:
        options["anonymous"] = True
    if credentials_env:
        pairs = [item.partition("=") for item in credentials_env]
        if any(not sep for _r, sep, _v in pairs):
            raise click.BadParameter("use ROLE=VAR, e.g. key=AWS_ACCESS_KEY_ID")
        options["credentials_env"] = {role: var for role, _sep, var in pairs}
    if credentials_file:
        options["credentials_file"] = credentials_file
    body: dict[str, Any] = {
        "name": name,
        "source_url": source_url,
        "pinned": pin,
        "private": private,
    }
    if include:
        body["include"] = include
    if options:
        body["options"] = options
    emit_object(_catalog(ctx).create(body), as_json)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return str(n)


class _Bar:
    """A one-line progress bar on stderr: files, bytes, throughput and ETA."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.last = 0.0
        self.printed = False

    def __call__(self, warm: WarmUp) -> None:
        if not warm.running and warm.state != "succeeded":
            if self.printed:  # end the bar's line; the error follows on its own line
                click.echo("", err=True)
            return
        self.printed = True
        now = time.monotonic()
        if warm.running and now - self.last < 0.2:
            return
        self.last = now
        p = warm.as_json()
        width = 24
        percent = p["percent"]
        filled = int(width * (percent or 0) / 100)
        shown = f"{percent:5.1f}%" if percent is not None else "    ?%"
        eta = f"ETA {p['eta_seconds']:.0f}s" if p["eta_seconds"] is not None else ""
        line = (
            f"\r{self.name} [{'#' * filled}{'.' * (width - filled)}] {shown} "
            f"{progress_text(p, _human)} {eta}"
        )
        click.echo(line.ljust(100), nl=not warm.running, err=True)


@datasets.command("warm")
@click.argument("name")
@click.option("--verify", is_flag=True, help="Re-hash cached files and refetch corrupt ones.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@json_option
@click.pass_context
def warm(ctx: click.Context, name: str, verify: bool, quiet: bool, as_json: bool) -> None:
    """Fetch the pinned version of NAME into the cache (Ctrl-C cancels; rerun resumes)."""
    catalog = _catalog(ctx)
    cancel = threading.Event()
    bar = None if quiet or as_json else _Bar(name)
    try:
        result = catalog.warm(name, verify=verify, on_progress=bar, cancel=cancel)
    except KeyboardInterrupt:
        cancel.set()
        click.echo(f"labrig: warm-up of {name} cancelled; run it again to resume", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(result))
    else:
        done = (
            f"{result['files_cached']} already cached, {_human(result['bytes_fetched'])} fetched"
            if result["files_cached"] is not None
            else result.get("note") or "loaded by the cluster"
        )
        click.echo(
            f"{name} {result['version']}: {result['files_total']} files, "
            f"{_human(result['bytes_total'])} ({done})"
        )


@datasets.command("refresh")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Switch to the new version without asking.")
@click.option("--dry-run", is_flag=True, help="Only show what changed.")
@json_option
@click.pass_context
def refresh(ctx: click.Context, name: str, yes: bool, dry_run: bool, as_json: bool) -> None:
    """List NAME's source again, show what changed, then switch the pinned version."""
    catalog = _catalog(ctx)
    preview = catalog.refresh(name)
    if as_json and (dry_run or not yes):
        click.echo(json.dumps(preview))
        return
    if not as_json:
        click.echo(
            f"{name}: {preview['current_version']} -> {preview['new_version']}: "
            f"{preview['added']} added, {preview['removed']} removed, "
            f"{preview['modified']} modified"
        )
    if not preview["changed"] or dry_run:
        return
    if yes or click.confirm(f"Switch {name} to {preview['new_version']}?", default=False):
        result = catalog.confirm_refresh(name, preview["new_version"])
        if as_json:
            click.echo(json.dumps({**preview, "dataset": result}))
        else:
            click.echo(f"{name} now pinned to {result['version']}; warm it to cache the changes")


@datasets.command("mount")
@click.argument("name")
@click.option("--path", default=None, help="Where (default: <mount_root>/<name>).")
@json_option
@click.pass_context
def mount(ctx: click.Context, name: str, path: str | None, as_json: bool) -> None:
    """Make NAME a read-only directory built from the cache."""
    emit_object(_catalog(ctx).mount(name, path), as_json)


@datasets.command("unmount")
@click.argument("name")
@click.pass_context
def unmount(ctx: click.Context, name: str) -> None:
    """Remove NAME's mount (the cache keeps its files)."""
    _catalog(ctx).unmount(name)
    click.echo(f"{name} unmounted")


@datasets.command("rm")
@click.argument("name")
@click.pass_context
def rm(ctx: click.Context, name: str) -> None:
    """Remove the user dataset NAME from the catalog."""
    _catalog(ctx).delete(name)
    click.echo(f"{name} removed")


@datasets.command("cache")
@click.option("--evict", is_flag=True, help="Evict LRU objects down to the size limit now.")
@json_option
@click.pass_context
def cache(ctx: click.Context, evict: bool, as_json: bool) -> None:
    """Cache usage and hit ratio."""
    catalog = _catalog(ctx)
    if evict:
        done = catalog.evict()
        if done["evicted"] is None:  # a cluster cache evicts by its own rules: say so
            click.echo(f"nothing evicted: {done['note']}", err=True)
        else:
            click.echo(f"evicted {done['evicted']} objects ({done['freed_bytes']} bytes)", err=True)
    emit_object(catalog.cache_stats(), as_json)
