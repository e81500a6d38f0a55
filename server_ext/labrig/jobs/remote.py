"""A rank on a cluster: ``python -m labrig.jobs.worker --remote SPEC_DIR``.

The pod gets the job's description (``job.json``, and the snapshot when it is small) from a
ConfigMap mounted at SPEC_DIR and shares no disk with the Jupyter server. The rank runs exactly
as a local one does (``worker.run``) in a scratch copy of the job folder, while an uploader
thread copies what it reports to the job's folder on shared storage (``transport.JobFolder``)
every second, and a tee copies its log to the container's output (the pod log the server
streams while the pod lives), each line prefixed with ``[rank N]`` so the ranks of one pod can
be told apart.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from ..paths import confine_relative
from .env_names import STORE_ENV, STORE_OPTIONS_ENV
from .runtime import JobLayout, last_json_line
from .transport import JobFolder

LINE = re.compile(rb"[^\n]*\n|[^\n]+")
UPLOAD_EVERY = 1.0
OUTPUT_EVERY = 10.0


def rank_prefix(rank: int) -> bytes:
    return f"[rank {rank}] ".encode()


class Tee:
    """This process's stdout and stderr (and its children's) go to the rank's log file, and to
    the original stdout with every line prefixed by the rank."""

    def __init__(self, log_path: Path, rank: int) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.out = os.dup(1)
        self.log = log_path.open("ab", buffering=0)
        self.prefix = rank_prefix(rank)
        read, write = os.pipe()
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        self.thread = threading.Thread(target=self._pump, args=(read,), daemon=True)
        self.thread.start()

    def _pump(self, read: int) -> None:
        at_line_start = True
        while chunk := os.read(read, 65536):
            self.log.write(chunk)
            out = bytearray()
            for piece in LINE.findall(chunk):
                if at_line_start:
                    out += self.prefix
                out += piece
                at_line_start = piece.endswith(b"\n")
            os.write(self.out, bytes(out))
        os.close(read)

    def close(self) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self.out, 1)  # the pipe's last writers in this process go: the pump sees EOF
        os.dup2(self.out, 2)
        self.thread.join(timeout=10)
        self.log.close()


class Uploader(threading.Thread):
    """Copies a rank's reports to shared storage every second, and once more at the end."""

    def __init__(self, layout: JobLayout, rank: int, folder: JobFolder, output: Path | None):
        super().__init__(daemon=True)
        self.layout, self.rank, self.folder, self.output = layout, rank, folder, output
        self.sent: dict[str, int] = {"log": 0, "metrics": 0}
        self.progress: dict[str, Any] | None = None
        self.output_sent = (0.0, 0.0)  # (mtime uploaded, when)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(UPLOAD_EVERY):
            with contextlib.suppress(OSError):  # storage away for a moment: next round retries
                self.sync(final=False)

    def finish(self) -> None:
        self.done.set()
        self.join(timeout=30)
        for attempt in range(5):
            try:
                self.sync(final=True)
                return
            except OSError as err:
                print(f"labrig: uploading rank {self.rank}'s reports failed: {err}", flush=True)
                time.sleep(2**attempt)

    def sync(self, final: bool) -> None:
        layout, rank = self.layout, self.rank
        for name, path in (("log", layout.log(rank)), ("metrics", layout.metrics(rank))):
            with contextlib.suppress(FileNotFoundError), path.open("rb") as f:
                f.seek(self.sent[name])
                data = f.read()
                if data:
                    self.folder.put_segment(name, self.rank, self.sent[name], data)
                    self.sent[name] += len(data)
        last = last_json_line(self.layout.progress(self.rank))
        if last is not None and last != self.progress:
            where = self.folder.rank(self.rank, "progress.json")
            self.folder.put_bytes(where, json.dumps(last).encode())
            self.progress = last
        if self.output is not None and self.output.is_file():
            mtime, when = self.output_sent
            changed = self.output.stat().st_mtime != mtime
            if changed and (final or time.monotonic() - when > OUTPUT_EVERY):
                stamp = self.output.stat().st_mtime
                self.folder.put_bytes(self.folder.path("output.ipynb"), self.output.read_bytes())
                self.output_sent = (stamp, time.monotonic())
        result = self.layout.result(self.rank)
        if final and result.is_file():
            self.folder.put_bytes(self.folder.rank(self.rank, "result.json"), result.read_bytes())


def prepare(spec_dir: Path, rank: int) -> tuple[dict[str, Any], JobLayout, JobFolder]:
    """The job as a local rank sees it, in a scratch job folder of this pod."""
    job = json.loads((spec_dir / "job.json").read_text())
    store = job["store"]
    folder = JobFolder.open(store["url"], store.get("options"))
    work = Path(os.environ.get("LABRIG_WORK_DIR") or tempfile.gettempdir())
    layout = JobLayout(work / "labrig-job" / job["job_id"])
    layout.rank_dir(rank).mkdir(parents=True, exist_ok=True)
    snapshot = spec_dir / "snapshot.ipynb"
    if not snapshot.is_file():
        snapshot = layout.root / "snapshot.ipynb"
        if not snapshot.is_file():
            tmp = snapshot.with_suffix(f".{os.getpid()}.part")
            tmp.write_bytes(folder.fs.cat_file(folder.path("snapshot.ipynb")))
            tmp.replace(snapshot)
    cwd = Path(job.get("cwd") or layout.root)
    cwd.mkdir(parents=True, exist_ok=True)
    local = {
        **job,
        "snapshot": str(snapshot),
        "cwd": str(cwd),
        "output_notebook": str(layout.root / "output.ipynb"),
        "memory": None,  # the container's limit holds it
        "gpus": {},
    }
    layout.job_file.write_text(json.dumps(local))
    return local, layout, folder


def stage_declared(job: dict[str, Any], folder: JobFolder) -> str | None:
    """Rank 0 of a succeeded job stages its declared outputs; the reason when one is missing."""
    cwd = Path(job["cwd"])
    for index, output in enumerate(job.get("outputs") or []):
        try:  # a symlink the notebook left there may lead anywhere in the pod (its token)
            source = confine_relative(output["path"], cwd, field=f"outputs[{index}].path")
        except InvalidInput as err:
            return f"declared output not staged: {err.message} [rank 0]"
        if not source.exists():
            return f"declared output {output['path']!r} was not written [rank 0]"
        folder.stage(f"declared-{index}", output["name"], source, 0, {}, declared=True)
    return None


def stage_registration(name: str, source: Path, options: dict[str, Any]) -> dict[str, Any]:
    """``labrig.models.register`` inside a rank on a cluster: the files and arguments go to the
    job's folder, and the server registers them (with the job's lineage) when the job ends."""
    folder = JobFolder.open(
        os.environ[STORE_ENV], json.loads(os.environ.get(STORE_OPTIONS_ENV) or "{}")
    )
    rank = int(os.environ.get("LABRIG_RANK", os.environ.get("RANK", "0")))
    key = f"{rank}-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
    folder.stage(key, name, source, rank, options)
    job_id = os.environ.get("LABRIG_JOB_ID", "")
    return {
        "model": name,
        "version": None,
        "ref": f"{name} (staged: registered when job {job_id} ends)",
        "staged": True,
    }


def run_remote(spec_dir: Path) -> int:
    """One rank of a job on a cluster, start to end; the exit code tells the job controller."""
    from . import worker

    rank = int(os.environ.get("RANK", "0"))
    job, layout, folder = prepare(spec_dir, rank)
    tee = Tee(layout.log(rank), rank)
    uploader = Uploader(layout, rank, folder, layout.root / "output.ipynb" if rank == 0 else None)
    uploader.start()
    try:
        ok, reason = worker.run(layout, rank)
        if ok and rank == 0:
            missing = stage_declared(job, folder)
            ok, reason = missing is None, missing
    except Exception as err:  # noqa: BLE001 - any failure of this rank becomes its one-line reason
        ok, reason = False, f"{type(err).__name__}: {err} [rank {rank}]".splitlines()[0]
    layout.result(rank).write_text(json.dumps({"ok": ok, "reason": reason}))
    tee.close()
    uploader.finish()
    return 0 if ok else 1
