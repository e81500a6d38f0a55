"""``labrig jobs``: submit notebooks as jobs, follow them, and manage cron schedules."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from ..clikit import emit_object, emit_table, json_option, list_command, page_options, services_of
from ..store import PageRequest
from .service import JobService
from .spec import coerce_cli_value


@click.group()
def jobs() -> None:
    """Notebooks run as (distributed) training jobs."""


list_command(
    jobs,
    "jobs",
    ("id", "name", "status", "notebook_path", "created_at", "reason"),
    "No jobs yet: open a notebook in JupyterLab and click Run as job.",
)


def _service(ctx: click.Context) -> JobService:
    return services_of(ctx).jobs


def _relative(service: JobService, notebook: str) -> str:
    full = (Path.cwd() / notebook).resolve()
    try:
        return full.relative_to(service.root_dir).as_posix()
    except ValueError:
        return notebook  # the service says why it is refused


def _pairs(values: tuple[str, ...], option: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint=option)
        out[key] = item
    return out


def _parameters(
    service: JobService, notebook: str, raw: tuple[tuple[str, str], ...], sha: str | None = None
) -> dict[str, Any]:
    if not raw:
        return {}
    if sha is None:
        sha = service.snapshot(service.resolve_notebook(notebook))
    inspected = service.inspect(sha)
    return {name: coerce_cli_value(value, inspected.get(name)) for name, value in raw}


def job_options(fn: Any) -> Any:
    options = [
        click.option(
            "-p",
            "--parameter",
            "params",
            nargs=2,
            multiple=True,
            metavar="NAME VALUE",
            help="A parameter value, converted to the notebook's type; repeatable.",
        ),
        click.option("--no-strict", is_flag=True, help="Inject parameters the notebook lacks."),
        click.option("--nodes", type=int, default=None, help="Nodes (torchrun agents)."),
        click.option("--procs-per-node", type=int, default=None, help="Processes per node."),
        click.option("--cpus", type=float, default=None, help="CPUs per process."),
        click.option("--memory", type=int, default=None, help="Bytes of memory per process."),
        click.option("--gpus", type=int, default=None, help="GPUs per process."),
        click.option("--gpu-type", default=None, help="GPU type, e.g. H100."),
        click.option("--dataset", "datasets", multiple=True, help="Dataset to mount; repeatable."),
        click.option(
            "--env", "env", multiple=True, metavar="KEY=VALUE", help="Env var; repeatable."
        ),
        click.option("--name", default=None, help="Job name (default: the notebook's)."),
        click.option("--priority", type=int, default=None, help="Higher starts first."),
        click.option("--timeout", type=int, default=None, help="Seconds before it is stopped."),
        click.option(
            "--output",
            "outputs",
            multiple=True,
            metavar="MODEL=PATH",
            help="Register PATH as a version of MODEL when it succeeds; repeatable.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _body(
    service: JobService, notebook: str | None, sha: str | None, opts: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if notebook is not None:
        body["notebook_path"] = notebook
    params = _parameters(service, notebook or "", opts["params"], sha)
    if params:
        body["parameters"] = params
    if opts["no_strict"]:
        body["strict"] = False
    for key in (
        "nodes",
        "procs_per_node",
        "cpus",
        "memory",
        "gpus",
        "gpu_type",
        "name",
        "priority",
        "timeout",
    ):
        if opts.get(key) is not None:
            body[key] = opts[key]
    if opts["datasets"]:
        body["datasets"] = list(opts["datasets"])
    if opts["env"]:
        body["env"] = _pairs(opts["env"], "--env")
    if opts["outputs"]:
        body["outputs"] = [
            {"name": k, "path": v} for k, v in _pairs(opts["outputs"], "--output").items()
        ]
    return body


@jobs.command("submit")
@click.argument("notebook")
@job_options
@click.option("--cron", default=None, help="Instead of now, run on this cron schedule.")
@json_option
@click.pass_context
def submit(ctx: click.Context, notebook: str, cron: str | None, as_json: bool, **opts: Any) -> None:
    """Snapshot NOTEBOOK and run it as a job (or on a cron schedule)."""
    service = _service(ctx)
    path = _relative(service, notebook)
    body = _body(service, path, None, opts)
    if cron is not None:
        emit_object(service.create_schedule({"cron": cron, "job": body}), as_json)
        return
    emit_object(service.submit(body), as_json)


@jobs.command("show")
@click.argument("job_id")
@json_option
@click.pass_context
def show(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Show a job, with each rank's progress."""
    job = _service(ctx).get(job_id)
    if as_json:
        click.echo(json.dumps(job))
        return
    ranks = job.pop("ranks")
    job.pop("spec")
    emit_object(job, False)
    for rank in ranks:
        state = rank["state"] or "waiting"
        click.echo(f"rank {rank['rank']}: cell {rank['cells_done']} of {rank['cells']} ({state})")


@jobs.command("logs")
@click.argument("job_id")
@click.option("--rank", type=int, default=0, show_default=True, help="Which rank's log.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the job ends.")
@click.pass_context
def logs(ctx: click.Context, job_id: str, rank: int, follow: bool) -> None:
    """Print a rank's log (stdout and stderr of the rank and its kernel)."""
    service = _service(ctx)
    offset = 0
    while True:
        chunk = service.logs(job_id, rank, offset)
        if chunk["text"]:
            sys.stdout.write(chunk["text"])
            sys.stdout.flush()
        offset = chunk["next_offset"]
        if not follow or chunk["done"]:
            break
        if chunk["next_offset"] >= chunk["size"]:
            time.sleep(0.5)
    if follow:
        job = service.get(job_id)
        click.echo(
            f"[job {job_id} {job['status']}{': ' + job['reason'] if job['reason'] else ''}]",
            err=True,
        )


@jobs.command("cancel")
@click.argument("job_id")
@json_option
@click.pass_context
def cancel(ctx: click.Context, job_id: str, as_json: bool) -> None:
    """Stop every rank and kernel of a job."""
    job = _service(ctx).cancel(job_id)
    job.pop("spec")
    emit_object(job, as_json)


@jobs.command("rerun")
@click.argument("job_id")
@job_options
@json_option
@click.pass_context
def rerun(ctx: click.Context, job_id: str, as_json: bool, **opts: Any) -> None:
    """Run a job's snapshot again, with the same or edited parameters and settings."""
    service = _service(ctx)
    old = service.get(job_id)
    body = _body(service, None, old["snapshot_sha256"], opts)
    emit_object(service.rerun(job_id, body), as_json)


@jobs.command("rm")
@click.argument("job_ids", nargs=-1, required=True)
@click.pass_context
def rm(ctx: click.Context, job_ids: tuple[str, ...]) -> None:
    """Delete jobs and their files (cancelling any that run)."""
    for job_id in job_ids:
        _service(ctx).delete(job_id)
        click.echo(f"deleted {job_id}")


@jobs.command("form")
@click.argument("notebook")
@click.pass_context
def form(ctx: click.Context, notebook: str) -> None:
    """Show the parameters of NOTEBOOK as the Run-as-job dialog does."""
    service = _service(ctx)
    value = service.job_form(_relative(service, notebook))
    if value["note"]:
        click.echo(value["note"])
    for param in value["parameters"]:
        click.echo(
            f"{param['name']}: {param['type']} = {param['default']}  {param['help']}".rstrip()
        )


@jobs.group("schedules")
def schedules() -> None:
    """Cron schedules that submit a job at each occurrence."""


@schedules.command("ls")
@page_options
@json_option
@click.pass_context
def schedules_ls(ctx: click.Context, limit: str, page_token: str | None, as_json: bool) -> None:
    """List schedules."""
    page = _service(ctx).list_schedules(PageRequest.parse(limit, page_token))
    emit_table(
        page,
        ("id", "name", "cron", "paused", "next_run_at", "last_job_id"),
        as_json,
        "No schedules: `labrig jobs submit NOTEBOOK --cron '0 3 * * *'` creates one.",
    )


def _schedule_action(name: str, doc: str) -> None:
    @schedules.command(name)
    @click.argument("schedule_id")
    @json_option
    @click.pass_context
    def action(ctx: click.Context, schedule_id: str, as_json: bool) -> None:
        service = _service(ctx)
        if name == "run":
            emit_object(service.run_schedule_now(schedule_id), as_json)
        elif name == "rm":
            service.delete_schedule(schedule_id)
            click.echo(f"deleted schedule {schedule_id}")
        else:
            emit_object(service.set_paused(schedule_id, name == "pause"), as_json)

    action.help = doc


_schedule_action("pause", "Stop a schedule from firing.")
_schedule_action("resume", "Let a paused schedule fire again (missed occurrences are skipped).")
_schedule_action("run", "Submit a schedule's job now.")
_schedule_action("rm", "Delete a schedule (its jobs are kept).")
