"""``labrig jobs``: submit notebooks as jobs, follow them, and manage cron schedules."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..clikit import emit_object, emit_table, json_option, list_command, page_options, services_of

if TYPE_CHECKING:
    from .service import JobService

#: A job's states once it has ended, and the exit code ``--wait`` gives for each.
EXIT_CODES = {"SUCCEEDED": 0, "FAILED": 1, "CANCELLED": 1}


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
    from .spec import coerce_cli_value

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
        click.option("--cpus", default=None, help="CPUs per process: 2, 0.5 or 500m."),
        click.option(
            "--memory",
            default=None,
            help="Memory per process: 4Gi, 4096Mi, 4G, 0.5Ti or bytes.",
        ),
        click.option("--gpus", type=int, default=None, help="GPUs per process."),
        click.option("--gpu-type", default=None, help="GPU type, e.g. H100."),
        click.option(
            "--kernel",
            "kernel_name",
            default=None,
            help="Kernel to run it on (default: the notebook's kernelspec; python3 when none).",
        ),
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
        "kernel_name",
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


def wait_option(fn: Any) -> Any:
    return click.option(
        "--wait",
        is_flag=True,
        help="Wait until the job ends; exit 0 when it succeeded, 1 when it failed or was "
        "cancelled (its state and reason are printed).",
    )(fn)


@jobs.command("submit")
@click.argument("notebook")
@job_options
@click.option("--cron", default=None, help="Instead of now, run on this cron schedule.")
@wait_option
@json_option
@click.pass_context
def submit(
    ctx: click.Context, notebook: str, cron: str | None, wait: bool, as_json: bool, **opts: Any
) -> None:
    """Snapshot NOTEBOOK and run it as a job (or on a cron schedule)."""
    if wait and cron is not None:
        raise click.UsageError("--wait waits for one job; a --cron schedule has no end")
    service = _service(ctx)
    path = _relative(service, notebook)
    body = _body(service, path, None, opts)
    if cron is not None:
        emit_object(service.create_schedule({"cron": cron, "job": body}), as_json)
        return
    _started(service, service.submit(body), wait, as_json)


def _started(service: JobService, job: dict[str, Any], wait: bool, as_json: bool) -> None:
    """Print a job just submitted; with ``wait``, follow it to its end and exit with its code."""
    if not wait:
        emit_object(job, as_json)
        return
    final = wait_for_end(service, job["id"], quiet=as_json)
    if as_json:
        click.echo(json.dumps(final))
    else:
        reason = f": {final['reason']}" if final.get("reason") else ""
        click.echo(
            f"job {final['id']} {final['status']}{reason}",
            err=final["status"] != "SUCCEEDED",
        )
        if final.get("output_path"):
            click.echo(f"output notebook: {final['output_path']}")
    ctx = click.get_current_context()
    ctx.exit(EXIT_CODES.get(final["status"], 1))


def wait_for_end(
    service: JobService, job_id: str, *, quiet: bool = False, interval: float = 0.1
) -> dict[str, Any]:
    """Poll a job until it ends, printing each change of state on stderr.

    Polling also does what the server's tick would (follow what the backend observes, release
    what ended jobs held, admit what fits), so waiting works with no server running: a local
    job records its own end, a cluster's job is observed. Ctrl-C stops waiting, not the job.
    """
    last = ""
    checked = time.monotonic()
    try:
        while True:
            job = service.get(job_id)
            status = job["status"]
            if status in EXIT_CODES:
                # As the server would: free what it held, register its declared outputs.
                service.finalize()
                return service.get(job_id)
            if status != last and not quiet:
                reason = f": {job['reason']}" if job.get("reason") else ""
                click.echo(f"job {job_id} {status}{reason}", err=True)
            last = status
            if time.monotonic() - checked > 1:
                # What the server's tick does, for when none runs.
                checked = time.monotonic()
                service.reconcile()
                service.finalize()
                service.admit()
            time.sleep(interval)
            interval = min(interval * 1.5, 0.25)
    except KeyboardInterrupt:
        click.echo(
            f"stopped waiting; job {job_id} goes on (`labrig jobs cancel {job_id}` stops it)",
            err=True,
        )
        raise SystemExit(130) from None


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
@wait_option
@json_option
@click.pass_context
def rerun(ctx: click.Context, job_id: str, wait: bool, as_json: bool, **opts: Any) -> None:
    """Run a job's snapshot again, with the same or edited parameters and settings."""
    service = _service(ctx)
    old = service.get(job_id)
    body = _body(service, None, old["snapshot_sha256"], opts)
    _started(service, service.rerun(job_id, body), wait, as_json)


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
    from ..store import PageRequest

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
