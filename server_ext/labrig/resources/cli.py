"""``labrig resources``: show, request and release a notebook's kernel resources."""

from __future__ import annotations

import json
from typing import Any

import click

from ..clikit import emit_object, json_option, list_command, services_of
from .quantity import format_bytes, format_cpus


@click.group()
def resources() -> None:
    """CPU, memory, GPUs and scratch disk requested for notebook kernels."""


list_command(
    resources,
    "resources",
    ("notebook_path", "profile", "cpus", "memory", "gpus", "disk", "owner"),
    "No resource requests yet: kernels run with the server's defaults.",
)


def _describe(request: dict[str, Any] | None) -> str:
    if request is None:
        return "server defaults (no request saved)"
    parts = [f"profile {request['profile']}"] if request["profile"] else []
    if request["cpus"] is not None:
        parts.append(format_cpus(request["cpus"]))
    if request["memory"] is not None:
        parts.append(f"{format_bytes(request['memory'])} memory")
    if request["gpus"]:
        kind = f" {request['gpu_type']}" if request["gpu_type"] else ""
        parts.append(f"{request['gpus']}{kind} GPU{'s' if request['gpus'] != 1 else ''}")
    if request["disk"] is not None:
        parts.append(f"{format_bytes(request['disk'])} scratch")
    return ", ".join(parts)


def _emit_show(shown: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(shown))
        return
    click.echo(f"notebook:  {shown['notebook_path']}")
    click.echo(f"request:   {_describe(shown['request'])}")
    click.echo(f"scratch:   {shown['scratch_dir']}")
    for allocation in shown["allocations"]:
        gpus = ", ".join(f"{g['uuid']} ({g['model']})" for g in allocation["gpus"]) or "no GPUs"
        click.echo(f"running:   {allocation['holder']} pid {allocation['pid']}: {gpus}")
    if not shown["allocations"]:
        click.echo("running:   no kernel")
    for dimension, label in shown["enforcement"].items():
        if isinstance(label, dict) and "state" in label:  # not cpu_list or cgroups
            click.echo(f"  {dimension:<7} {label['state']:<9} {label['mechanism']}")
    if shown["last_stop"]:
        click.echo(f"last stop: {shown['last_stop']['message']} ({shown['last_stop']['at']})")


@resources.command("show")
@click.argument("notebook")
@json_option
@click.pass_context
def show(ctx: click.Context, notebook: str, as_json: bool) -> None:
    """Show NOTEBOOK's request, what its kernel holds and how each limit is enforced."""
    _emit_show(services_of(ctx).resources.show(notebook), as_json)


@resources.command("request")
@click.argument("notebook")
@click.option("--profile", default=None, help="Profile slug (see `labrig resources profiles`).")
@click.option("--cpus", default=None, help="CPUs: 2, 0.5 or 500m.")
@click.option("--memory", default=None, help="Memory: 4Gi, 4096Mi, 4G, 0.5Ti or bytes.")
@click.option("--gpus", default=None, help="Number of GPUs.")
@click.option("--gpu-type", default=None, help="GPU model, e.g. A100-SXM4-80GB.")
@click.option("--disk", default=None, help="Scratch disk: 10Gi.")
@json_option
@click.pass_context
def request(ctx: click.Context, notebook: str, as_json: bool, **values: str | None) -> None:
    """Save a resource request for NOTEBOOK; its running kernel restarts with it.

    The Jupyter server running the notebook's kernel notices the new request within a few
    seconds and restarts the kernel with it (same kernel id: the open notebook stays connected);
    with no kernel running, it applies when one starts.
    """
    body = {key: value for key, value in values.items() if value is not None}
    shown = services_of(ctx).resources.save(notebook, body)
    _emit_show(shown, as_json)
    if not as_json:
        click.echo(_what_happens_next(shown))


def _what_happens_next(shown: dict[str, Any]) -> str:
    kernels = ", ".join(a["holder"] for a in shown["allocations"])
    if not kernels:
        return "saved: it applies when the notebook's kernel starts"
    return (
        f"saved: the Jupyter server restarts {kernels} with it within a few seconds "
        "(same kernel id: the open notebook stays connected)"
    )


@resources.command("release")
@click.argument("notebook")
@json_option
@click.pass_context
def release(ctx: click.Context, notebook: str, as_json: bool) -> None:
    """Forget NOTEBOOK's request; its kernel restarts with the server's defaults."""
    service = services_of(ctx).resources
    service.delete(notebook)
    shown = service.show(notebook)
    _emit_show(shown, as_json)
    if not as_json:
        click.echo(_what_happens_next(shown).replace("saved", "released", 1))


@resources.command("profiles")
@json_option
@click.pass_context
def profiles(ctx: click.Context, as_json: bool) -> None:
    """List the profiles an admin configured."""
    items = [p.json() for p in services_of(ctx).resources.profiles()]
    if as_json:
        click.echo(json.dumps({"items": items}))
        return
    for item in items:
        mark = " (default)" if item["default"] else ""
        custom = ", custom values allowed" if item["allow_custom"] else ""
        click.echo(f"{item['slug']}{mark}: {item['display_name']} - {item['description']}{custom}")


@resources.command("capacity")
@json_option
@click.pass_context
def capacity(ctx: click.Context, as_json: bool) -> None:
    """The host's capacity, your quota, and who holds each GPU."""
    emit_object(services_of(ctx).resources.capacity(), as_json)
