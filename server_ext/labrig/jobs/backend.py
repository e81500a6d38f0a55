"""Where job ranks run, behind one seam: local torchrun agents, or a Kubeflow PyTorchJob/TrainJob.

``JobService`` holds everything a user sees (states, reasons, admission, schedules, lineage) and
calls a ``JobBackend`` for the physical work: start a job's ranks, stop them, say what they are
doing, and read back what they reported (logs, per-cell progress, metrics, results, outputs).
A backend knows nothing about the queue or the database's other rows; the service knows nothing
about processes or pods.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backend import Backend
from .capacity import HostTotals


@dataclass(frozen=True)
class LaunchRequest:
    """Everything a backend needs to start one job's ranks."""

    job_id: str
    name: str
    notebook_path: str
    snapshot_sha256: str
    #: The snapshot's bytes on the server (``<data_dir>/snapshots/<sha256>.ipynb``).
    snapshot: Path
    #: The validated JobSpec as JSON (ranks, resources, parameters, outputs, timeout, kernel).
    spec: dict[str, Any]
    #: The environment every rank gets on top of the launcher's: the job's own variables and
    #: LABRIG_* lineage (job id, snapshot, parameters, dataset versions).
    env: dict[str, str]
    #: GPU UUIDs granted per rank by labrig's ledger ({"0": ["GPU-…"]}); empty when the cluster
    #: places GPUs itself.
    gpus: dict[str, list[str]]
    #: The folder of the notebook on the server (the working directory of local ranks).
    notebook_dir: Path
    #: Where rank 0's output notebook must end up on the server, so JupyterLab opens it.
    output_notebook: Path
    #: The dataset names the job mounts (the env above carries their paths).
    datasets: list[str] = field(default_factory=list)
    #: The launching service's settings as JSON (``services.settings_json``), so processes that
    #: outlive it can act as it would; None when it was not built from settings.
    settings: dict[str, Any] | None = None
    #: The job's API token (``labrig.tokens``) when the backend's ranks take one
    #: (``ranks_use_api_token``): a secret, for the ranks' process environment only.
    api_token: str | None = None

    @property
    def world_size(self) -> int:
        return int(self.spec.get("nodes", 1)) * int(self.spec.get("procs_per_node", 1))


@dataclass(frozen=True)
class JobRef:
    """A job a backend launched, as the service passes it back on every later call."""

    id: str
    #: What ``launch`` returned ({} while the launch has not finished).
    handle: dict[str, Any]
    spec: dict[str, Any]
    #: The notebook's folder on the server (declared outputs are relative to it).
    notebook_dir: Path
    status: str = ""
    #: Seconds since the job was handed to the backend (a launch that never took is failed).
    age: float = 0.0

    @property
    def world_size(self) -> int:
        return int(self.spec.get("nodes", 1)) * int(self.spec.get("procs_per_node", 1))


@dataclass(frozen=True)
class Observation:
    """A job's state as its backend sees it: one of the service's states and a one-line reason.

    ``status`` is None when the backend has nothing new to say (the job's own processes report
    their transitions, as local supervisors do).
    """

    status: str | None
    reason: str | None = None


@dataclass(frozen=True)
class LogChunk:
    data: bytes
    next_offset: int
    size: int


@dataclass(frozen=True)
class RankReport:
    """The last progress event of a rank (``{}`` before its kernel started)."""

    rank: int
    last: dict[str, Any]


@dataclass(frozen=True)
class Staged:
    """A model version to register for a job: a declared output, or a ``register`` call a rank
    staged (its keyword arguments in ``options``); ``key`` makes registering it twice a no-op."""

    name: str
    path: Path
    rank: int
    key: str
    options: dict[str, Any] = field(default_factory=dict)
    #: A declared output (registered only when the job succeeded), not a staged call.
    declared: bool = False


class JobBackend(Backend):
    """Runs the ranks of a job and reports what they are doing."""

    #: True when the cluster queues and admits jobs (Kueue, the scheduler): labrig then hands a
    #: job over at once and reports the cluster's reasons. False when labrig's own ledger of this
    #: host's CPUs, memory and GPUs admits them.
    admits_in_cluster: bool = False
    #: True when the ranks reach the server's REST API with a token scoped to their job (the
    #: service mints one per launch, ``LaunchRequest.api_token``, and revokes it when the job
    #: ends) instead of opening the database. Ranks on a cluster need neither: they stage what
    #: they register on the job's storage.
    ranks_use_api_token: bool = False

    def bind(self, data_dir: Path, root_dir: Path, database_url: str) -> None:
        """Where this server keeps its state and serves notebooks from (called once, by the
        service that owns this backend)."""
        self.data_dir = Path(data_dir)
        self.root_dir = Path(root_dir)
        self.database_url = database_url

    @property
    @abstractmethod
    def identity(self) -> str:
        """Which jobs this backend owns: recorded on each job at submission, so that several
        servers on one database reconcile and admit only their own (``local:<host>``,
        ``kubernetes:<cluster>/<namespace>``)."""

    def start(self) -> None:
        """Begin following the jobs (the server calls it once it runs; the CLI does not)."""

    def stop(self) -> None:
        """Stop following them."""

    def host_limits(self, host: HostTotals) -> HostTotals | None:
        """What one job's ranks must fit in all at once: this host, or None when a cluster
        places them on its nodes."""
        return host

    def kernels(self) -> set[str] | None:
        """Kernel names a rank can use, or None when they cannot be known here."""
        return None

    def check(self, spec: dict[str, Any]) -> None:
        """Refuse a job this backend cannot run, at submission (raise ``InvalidInput``)."""

    @abstractmethod
    def launch(self, request: LaunchRequest) -> dict[str, Any]:
        """Start the job's ranks; return the handle (JSON) the service stores for later calls.

        Retrying a launch after a failure must not start the job twice. When labrig's ledger
        admitted the job, the handle's ``pid`` (if any) names the process whose life its
        grants follow. Raise ``Unavailable`` or ``CapacityExceeded`` when trying again later
        may work (the job stays QUEUED with that reason), any other ``LabrigError`` when it
        cannot (the job fails with that reason).
        """

    @abstractmethod
    def cancel(self, job: JobRef) -> None:
        """Stop every rank of the job and everything it started (idempotent)."""

    @abstractmethod
    def observe_jobs(self, jobs: list[JobRef]) -> dict[str, Observation]:
        """The current state of each active job (by id), with a one-line reason."""

    @abstractmethod
    def logs(self, job: JobRef, rank: int, offset: int, limit: int) -> LogChunk:
        """A rank's log from byte ``offset``, ending at a line break."""

    @abstractmethod
    def progress(self, job: JobRef) -> list[RankReport]:
        """The last progress event of every rank."""

    @abstractmethod
    def metrics(self, job: JobRef, rank: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        """A rank's metric points (``{"name", "value", "step", "t"}``) from ``offset`` (0 for
        all; otherwise what the previous call returned), and the offset to continue from."""

    @abstractmethod
    def fetch_output(self, job: JobRef, dest: Path) -> bool:
        """Make rank 0's output notebook (as far as it got) readable at ``dest`` on the server;
        False when there is none yet."""

    @abstractmethod
    def staged_outputs(self, job: JobRef, into: Path) -> list[Staged]:
        """What a succeeded job leaves to register as model versions: its declared ``outputs``
        and the ``labrig.models.register`` calls its ranks staged, files readable on the server
        (copied under ``into`` when they were on shared storage)."""

    def forget(self, job: JobRef) -> None:
        """Remove what the backend keeps for a deleted job (its folder, archived logs)."""
