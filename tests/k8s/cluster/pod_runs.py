"""What the kubelet knows of each pod it runs (``PodRun``, a ``ContainerRun`` per
container), what it is told (``KubeletSettings``), and the pod status it reports."""

from __future__ import annotations

import hashlib
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..store import Store
from .common import set_pod_condition
from .controller import Memo
from .node import Node


class KubeletSettings(Protocol):
    """The knobs of the kubelet (``FakeCluster`` has them; see ``KUBELET``)."""

    workdir: Path
    nodes: list[Node]
    bin_dir: str
    max_grace_seconds: float
    pull_backoff_seconds: float
    unpullable_images: set[str]
    slow_pulls: dict[str, float]
    pvc_paths: dict[str, Path]
    extra_env: dict[str, str]
    image_entrypoints: dict[str, list[str]]


@dataclass
class ContainerRun:
    name: str
    image: str
    init: bool
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = None
    container_id: str = ""
    started_at: str = ""
    finished_at: str = ""
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    oom: bool = False
    memory_limit: int | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.exit_code is None

    @property
    def terminated(self) -> bool:
        return self.exit_code is not None


@dataclass
class PodRun:
    namespace: str
    name: str
    uid: str
    node: str
    dir: Path
    containers: list[ContainerRun]
    started: str = ""
    pull_failures: int = 0
    evicted: str = ""
    config_error: str = ""
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> host dir
    done: bool = False


def write_pod_status(
    store: Store, memo: Memo, pod: dict[str, Any], run: PodRun, force: bool = False
) -> None:
    """The pod's status as the kubelet reports it: phase, conditions, container statuses
    (written only when what it is made of changed, unless ``force``)."""
    if memo.same_as_last(f"kubelet/{run.uid}", _signature(pod, run)) and not force:
        return
    spec = pod.get("spec") or {}
    inits = [c for c in run.containers if c.init]
    mains = [c for c in run.containers if not c.init]
    statuses = {c.name: _container_status(c, spec) for c in run.containers}
    phase = _phase(run, inits, mains)

    def change(obj: dict[str, Any]) -> None:
        status = obj.setdefault("status", {})
        status["phase"] = phase
        status["hostIP"] = "127.0.0.1"
        status["hostIPs"] = [{"ip": "127.0.0.1"}]
        if phase != "Pending" or any(c.started_at for c in run.containers):
            status["podIP"] = "127.0.0.1"
            status["podIPs"] = [{"ip": "127.0.0.1"}]
        status.setdefault("startTime", run.started)
        _set_conditions(status.setdefault("conditions", []), run, phase, inits, mains)
        if run.evicted:
            status["reason"] = "Evicted"
            status["message"] = run.evicted
        if inits:
            status["initContainerStatuses"] = [statuses[c.name] for c in inits]
        status["containerStatuses"] = [statuses[c.name] for c in mains]

    store.mutate("pods", run.namespace, run.name, change, subresource="status")


def _signature(pod: dict[str, Any], run: PodRun) -> tuple[Any, ...]:
    """What the status is made of."""
    return (
        pod["metadata"]["resourceVersion"],
        run.evicted,
        run.pull_failures,
        tuple(
            (
                c.name,
                c.proc is not None,
                c.exit_code,
                c.reason,
                c.waiting_reason,
                c.waiting_message,
            )
            for c in run.containers
        ),
    )


def _phase(run: PodRun, inits: list[ContainerRun], mains: list[ContainerRun]) -> str:
    init_failed = any(c.terminated and c.exit_code != 0 for c in inits)
    inits_done = all(c.terminated and c.exit_code == 0 for c in inits)
    if (
        run.evicted
        or init_failed
        or (mains and all(c.terminated for c in mains) and any(c.exit_code != 0 for c in mains))
    ):
        return "Failed"
    if mains and all(c.terminated for c in mains):
        return "Succeeded"
    if inits_done and mains and all(c.running or c.terminated for c in mains):
        return "Running"
    return "Pending"


def _set_conditions(
    conds: list[dict[str, Any]],
    run: PodRun,
    phase: str,
    inits: list[ContainerRun],
    mains: list[ContainerRun],
) -> None:
    """The pod's conditions, in the order the kubelet lists them."""
    inits_done = all(c.terminated and c.exit_code == 0 for c in inits)
    ready = phase == "Running" and all(c.running for c in mains)
    terminal = phase in ("Succeeded", "Failed")
    set_pod_condition(conds, "PodReadyToStartContainers", "False" if terminal else "True", "", "")
    if inits:
        set_pod_condition(
            conds,
            "Initialized",
            "True" if inits_done else "False",
            "" if inits_done else "ContainersNotInitialized",
            ""
            if inits_done
            else "containers with incomplete status: "
            f"[{' '.join(c.name for c in inits if not c.terminated)}]",
        )
    else:
        set_pod_condition(conds, "Initialized", "True", "", "")
    if ready:
        set_pod_condition(conds, "Ready", "True", "", "")
        set_pod_condition(conds, "ContainersReady", "True", "", "")
    elif terminal:
        set_pod_condition(conds, "Ready", "False", "PodCompleted", "")
        set_pod_condition(conds, "ContainersReady", "False", "PodCompleted", "")
    else:
        unready = " ".join(c.name for c in mains if not c.running)
        set_pod_condition(
            conds,
            "Ready",
            "False",
            "ContainersNotReady",
            f"containers with unready status: [{unready}]",
        )
        set_pod_condition(
            conds,
            "ContainersReady",
            "False",
            "ContainersNotReady",
            f"containers with unready status: [{unready}]",
        )
    set_pod_condition(conds, "PodScheduled", "True", "", "")
    if run.evicted:
        set_pod_condition(conds, "DisruptionTarget", "True", "TerminationByKubelet", run.evicted)
    order = [
        "PodReadyToStartContainers",
        "Initialized",
        "Ready",
        "ContainersReady",
        "PodScheduled",
        "DisruptionTarget",
    ]
    conds.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else len(order))


def _container_status(c: ContainerRun, spec: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": c.name,
        "image": c.image,
        "imageID": f"{c.image.split(':')[0]}@sha256:{_digest(c.image)}" if c.started_at else "",
        "restartCount": 0,
        "lastState": {},
    }
    if c.container_id:
        out["containerID"] = c.container_id
    if c.terminated:
        term: dict[str, Any] = {
            "exitCode": c.exit_code,
            "reason": c.reason,
            "startedAt": c.started_at,
            "finishedAt": c.finished_at,
        }
        if c.container_id:
            term["containerID"] = c.container_id
        if c.message:
            term["message"] = c.message
        out.update(state={"terminated": term}, ready=False, started=False)
    elif c.running:
        out.update(state={"running": {"startedAt": c.started_at}}, ready=True, started=True)
    else:
        waiting: dict[str, Any] = {"reason": c.waiting_reason}
        if c.waiting_message:
            waiting["message"] = c.waiting_message
        out.update(state={"waiting": waiting}, ready=False, started=False)
    return out


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
