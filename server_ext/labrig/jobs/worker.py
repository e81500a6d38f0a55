"""One rank of a job: ``python -m labrig.jobs.worker JOB_DIR`` (``--remote SPEC_DIR`` on a
cluster, see ``remote.py``).

torchrun (or, on Kubernetes, a PyTorchJob/TrainJob replica) starts this with RANK, LOCAL_RANK,
WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR and MASTER_PORT set. It executes the job's notebook
snapshot with papermill, in its own kernel that inherits that environment, and leaves behind:

- ``log.txt``: this rank's stdout/stderr and every stream its kernel printed;
- ``progress.jsonl``: one short line when the kernel is up and per cell start/end (cheap: the
  notebook is not rewritten for each cell; the output notebook is saved at most every
  ``SAVE_EVERY`` seconds and at the end);
- ``result.json``: ``{"ok": bool, "reason": str | null}``, the reason in one line.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .runtime import JobLayout, write_pid_file

if TYPE_CHECKING:
    from ..resources.enforce import KernelGroups

SAVE_EVERY = 2.0


class Progress:
    """Appends one JSON line per event to a rank's progress file."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("a", buffering=1)
        self.cells: int | None = None

    def write(self, **event: Any) -> None:
        event["t"] = time.time()
        self.cells = event.get("of", self.cells)
        if event.get("finished"):
            event["of"] = self.cells
        self.file.write(json.dumps(event) + "\n")


def _engine(progress: Progress, kernel_pid_file: Path, memory_group: Path | None) -> Any:
    """papermill's nbclient engine, with per-cell progress lines and throttled saves; the
    kernel joins ``memory_group`` as soon as it is started."""
    from jupyter_core.utils import run_sync
    from nbclient.exceptions import DeadKernelError
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, NotebookExecutionManager

    class Manager(NotebookExecutionManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._saved = 0.0
            self._failed: int | None = None

        def save(self, force: bool = False, **kwargs: Any) -> None:
            now = time.monotonic()
            if force or now - self._saved >= SAVE_EVERY:
                super().save(**kwargs)
                self._saved = time.monotonic()

        def notebook_start(self, **kwargs: Any) -> None:
            super().notebook_start(**kwargs)
            self.save(force=True)

        def cell_start(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            progress.write(cell=cell_index, of=len(self.nb.cells), state="running")
            super().cell_start(cell, cell_index, **kwargs)

        def cell_exception(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            super().cell_exception(cell, cell_index, **kwargs)
            self._failed = cell_index
            # nbclient's exception keeps the kernel's error name and message, which papermill's
            # summary loses for errors the kernel only printed (UsageError).
            Engine.raised = kwargs.get("exception")

        def cell_complete(self, cell: Any, cell_index: int | None = None, **kwargs: Any) -> None:
            super().cell_complete(cell, cell_index, **kwargs)
            # papermill completes a cell that raised too: its progress must not read "done".
            state = "failed" if self._failed == cell_index else "done"
            progress.write(cell=cell_index, of=len(self.nb.cells), state=state)

        def notebook_complete(self, **kwargs: Any) -> None:
            super().notebook_complete(**kwargs)
            self.save(force=True)

    class Client(PapermillNotebookClient):
        kernel_process: Any = None

        async def async_start_new_kernel(self, **kwargs: Any) -> None:
            self._start_kwargs = kwargs
            await super().async_start_new_kernel(**kwargs)
            proc = getattr(getattr(self.km, "provisioner", None), "process", None)
            if proc is not None:
                Client.kernel_process = proc
                write_pid_file(kernel_pid_file, proc.pid)
                if memory_group is not None:
                    (memory_group / "cgroup.procs").write_text(str(proc.pid))
            progress.write(kernel="started")

        start_new_kernel = run_sync(async_start_new_kernel)

        async def async_start_new_kernel_client(self) -> Any:
            for attempt in range(KERNEL_START_ATTEMPTS):
                try:
                    return await super().async_start_new_kernel_client()
                except RuntimeError as err:
                    died = "before replying to kernel_info" in str(err)
                    if not died or attempt == KERNEL_START_ATTEMPTS - 1:
                        raise
                # jupyter_client picks free ports, then the kernel binds them: a process
                # starting meanwhile (another job's rank) can take one first, and the kernel
                # dies with "Address already in use". No cell has run yet: start it again.
                print(
                    "labrig: this rank's kernel died before it answered; starting it again",
                    file=sys.stderr,
                    flush=True,
                )
                self.km = self.create_kernel_manager()
                await self.async_start_new_kernel(**self._start_kwargs)
            raise AssertionError("unreachable")

        start_new_kernel_client = run_sync(async_start_new_kernel_client)

    class Engine(NBClientEngine):
        client = Client
        dead_kernel_error = DeadKernelError
        raised: Any = None

        @classmethod
        def execute_notebook(
            cls,
            nb: Any,
            kernel_name: str,
            output_path: str | None = None,
            progress_bar: bool = False,
            log_output: bool = False,
            autosave_cell_every: int = 30,
            **kwargs: Any,
        ) -> Any:
            nb_man = Manager(nb, output_path=output_path, progress_bar=False, log_output=log_output)
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.notebook_complete()
            return nb_man.nb

        @classmethod
        def execute_managed_notebook(
            cls, nb_man: Any, kernel_name: str, log_output: bool = False, **kwargs: Any
        ) -> Any:
            kwargs.pop("input_path", None)
            timeout = kwargs.pop("execution_timeout", None)
            start_timeout = kwargs.pop("start_timeout", 60)
            return Client(
                nb_man,
                timeout=timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log_output=log_output,
                **{k: v for k, v in kwargs.items() if k not in ("timeout", "startup_timeout")},
            ).execute()

    return Engine


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:120]
    return ""


def _user_cells(cells: list[dict[str, Any]]) -> list[int]:
    """Indexes of the output notebook's cells that came from the user's notebook (papermill
    adds its injected-parameters cell)."""
    return [
        index
        for index, cell in enumerate(cells)
        if "injected-parameters" not in cell.get("metadata", {}).get("tags", [])
    ]


#: Starts of a rank's kernel before a kernel that dies before answering fails the rank.
KERNEL_START_ATTEMPTS = 3


def failure_reason(output_path: Path, err: Any, raised: Any, rank: int) -> str:
    """``cell 3 ('%foo') raised UsageError: Line magic function `%foo` not found. [rank 0]``: the
    cell as the user's notebook numbers it (from 1, papermill's own cell left out), and the
    kernel's error name and message (``raised``: nbclient's exception) where papermill's
    summary of it is empty."""
    try:
        cells = json.loads(output_path.read_text())["cells"]
    except (OSError, ValueError, KeyError):
        cells = []
    ename, evalue = str(err.ename), str(err.evalue or "")
    if (not evalue or ename == "CellExecutionError") and getattr(raised, "ename", None):
        ename, evalue = str(raised.ename), str(raised.evalue or "")
    user = _user_cells(cells)
    number = user.index(err.cell_index) + 1 if err.cell_index in user else err.cell_index + 1
    return (
        f"cell {number} ({_first_line(err.source)!r}) raised {ename}: "
        f"{_first_line(evalue)} [rank {rank}]"
    )


def _signal_name(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}" if returncode is not None else "unknown exit"


def import_papermill() -> None:
    """Import papermill without jsonschema's optional IRI format checker.

    jsonschema loads ``rfc3987_syntax`` when it is installed (Jupyter's own dependencies pull
    it in), and that module builds a parser at import: over a second of every job's start on
    a small machine. nbformat's schemas never use the "iri" format, so a rank does without it.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
    import papermill  # noqa: F401


def memory_group(job: dict[str, Any], rank: int) -> KernelGroups | None:
    """A cgroup v1 memory group holding this rank's kernel to the job's memory per process,
    where the host lets labrig make one; elsewhere the supervisor's sampling holds it."""
    from ..resources import enforce

    memory = job.get("memory")
    support = enforce.detect()
    if not memory or not support.memory:
        return None
    name = f"job-{job['job_id']}-rank{rank}"
    try:
        groups = enforce.create_groups(support, name, cpus=None, memory=memory, busy_cpus={})
    except OSError:
        return None
    # What the kernel allocated before it joined moves with it where the host kernel still
    # supports that (newer ones refuse it): its start-up is then counted against the limit too.
    with contextlib.suppress(OSError):
        (Path(groups.paths["memory"]) / "memory.move_charge_at_immigrate").write_text("3")
    return groups


def memory_reason(job: dict[str, Any], rank: int) -> str:
    return (
        f"stopped: memory limit ({job['memory'] / 2**20:.0f} MiB per process) exceeded by "
        f"rank {rank}"
    )


def run(layout: JobLayout, rank: int) -> tuple[bool, str | None]:
    job = layout.read_job()
    groups = memory_group(job, rank)
    try:
        return _run(layout, rank, job, groups)
    finally:
        if groups is not None:
            groups.remove()


def _run(
    layout: JobLayout, rank: int, job: dict[str, Any], groups: KernelGroups | None
) -> tuple[bool, str | None]:
    import_papermill()
    import papermill
    from papermill.engines import papermill_engines
    from papermill.exceptions import PapermillExecutionError

    progress = Progress(layout.progress(rank))
    group = Path(groups.paths["memory"]) if groups is not None else None
    engine = _engine(progress, layout.kernel_pid(rank), group)
    papermill_engines.register("labrig", engine)
    output = Path(job["output_notebook"]) if rank == 0 else layout.output(rank)
    output.parent.mkdir(parents=True, exist_ok=True)
    os.environ["LABRIG_RANK"] = str(rank)
    os.environ["LABRIG_METRICS_FILE"] = str(layout.metrics(rank))
    gpus = job.get("gpus", {}).get(str(rank), [])
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(gpus)

    def stop(signum: int, _frame: Any) -> None:
        # torchrun stops the other ranks when one fails, and cancel stops them all: take the
        # kernel (in its own session) down too, so nothing is orphaned.
        proc = engine.client.kernel_process
        if proc is not None and proc.poll() is None:
            proc.kill()
            with contextlib.suppress(Exception):  # nothing may keep this rank from exiting
                proc.wait(timeout=5)
        progress.write(stopped=signal.Signals(signum).name)
        if groups is not None:
            groups.remove()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    from .service import notebook_language

    language = notebook_language(json.loads(Path(job["snapshot"]).read_text()))
    try:
        papermill.execute_notebook(
            job["snapshot"],
            str(output),
            parameters=job.get("parameters") or None,
            engine_name="labrig",
            kernel_name=job.get("kernel_name"),
            language=language,
            progress_bar=False,
            log_output=False,
            stdout_file=sys.stdout,
            stderr_file=sys.stderr,
            cwd=job.get("cwd"),
            start_timeout=120,
        )
    except PapermillExecutionError as err:
        return False, failure_reason(output, err, engine.raised, rank)
    except engine.dead_kernel_error:
        proc = engine.client.kernel_process
        code = proc.wait(timeout=5) if proc is not None else None
        if groups is not None and groups.memory_stopped():
            return False, memory_reason(job, rank)
        return False, f"kernel died ({_signal_name(code)}) [rank {rank}]"
    except OSError as err:
        if err.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        return False, (
            f"the disk holding the output notebook ({output.parent}) is full: free space there "
            f"and rerun the job [rank {rank}]"
        )
    progress.write(finished=True)
    return True, None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--remote":
        from .remote import run_remote

        return run_remote(Path(args[1]))
    if len(args) != 1:
        print("usage: python -m labrig.jobs.worker [--remote SPEC_DIR | JOB_DIR]", file=sys.stderr)
        return 2
    layout = JobLayout(Path(args[0]))
    rank = int(os.environ.get("RANK", "0"))
    layout.rank_dir(rank).mkdir(parents=True, exist_ok=True)
    log = os.open(layout.log(rank), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        ok, reason = run(layout, rank)
    except Exception as err:  # noqa: BLE001 - any failure of this rank becomes its one-line reason
        ok, reason = False, f"{type(err).__name__}: {err} [rank {rank}]".splitlines()[0]
    layout.result(rank).write_text(json.dumps({"ok": ok, "reason": reason}))
    sys.stdout.flush()
    sys.stderr.flush()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
