"""``FakeCluster``: the controllers of a cluster, playing against an ``ApiEmulator``.

One background thread reacts to store changes (and polls every ``poll`` seconds) and plays:

- **Kueue** (v0.19, Workload ``kueue.x-k8s.io/v1beta2``): a PyTorchJob/TrainJob labelled
  ``kueue.x-k8s.io/queue-name`` is suspended on create (Kueue's mutating webhook), gets a
  Workload owned by it, and is admitted against its ClusterQueue's ``nominalQuota``
  (priority, then creation time; BestEffortFIFO unless the queue says StrictFIFO), with
  Kueue's conditions and messages; finished or deleted jobs free their quota.
- **Training operator** (Kubeflow v1.9, PyTorchJob ``kubeflow.org/v1``): pods and services
  per replica, the operator's env (MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, PET_*),
  conditions Created/Running/Succeeded/Failed/Suspended with upstream reasons and messages,
  replicaStatuses, start/completion times, cleanPodPolicy; its validating webhook.
- **Trainer** (v2.3, TrainJob ``trainer.kubeflow.org/v1alpha1``): a JobSet from the
  referenced (Cluster)TrainingRuntime and its pods (``<job>-node-0-<i>-<xxxxx>``) with the
  torch plugin's PET_* env, conditions Suspended/Complete/Failed and jobsStatus; its
  webhook rejects a TrainJob whose runtime does not exist.
- **Scheduler**: places pods on ``Node``s by requests (cpu, memory, extended resources),
  nodeSelector/required node affinity, taints/tolerations; otherwise ``PodScheduled=False``
  ``Unschedulable`` with the scheduler's message and a ``FailedScheduling`` event.
- **Kubelet**: pulls (``unpullable_images`` fail with ErrImagePull then ImagePullBackOff),
  then RUNS each container's command as a local process with the pod's env, serving its
  output as the pod log; OOMKilled over ``limits.memory``; eviction; deleted pods' processes
  are killed. See ``KUBELET`` below for how a pod is made to work on loopback.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psutil

from . import kube
from .emulator import ApiEmulator
from .store import AdmissionRequest, ApiError, Store

KUBELET = """\
How the fake kubelet runs a container on this host:
- argv = command + args (the image entrypoint is unknown: set cluster.image_entrypoints
  [image] for containers without a command). `$(VAR)` references are expanded as Kubernetes
  does. `python`, `python3`, `torchrun` and any other bare name resolve in the directory of
  sys.executable first, then PATH.
- env: PATH (sys.executable's dir first), HOME and TMPDIR in the pod's scratch dir,
  HOSTNAME, LANG, then cluster.extra_env, then the pod's env/envFrom (valueFrom fieldRef
  metadata.name/namespace/uid/labels/annotations, spec.nodeName, status.podIP=127.0.0.1;
  resourceFieldRef; configMapKeyRef/secretKeyRef from the store).
- loopback rewrites: MASTER_ADDR and PET_MASTER_ADDR become 127.0.0.1; MASTER_PORT,
  PET_MASTER_PORT and the port of PET_RDZV_ENDPOINT become one free port per job and
  original port (concurrent jobs do not collide).
- volumes: configMap/secret volumes are written as files and emptyDir is a directory, in
  the pod's scratch dir; persistentVolumeClaim maps to cluster.pvc_paths[claim] or, by
  default, to the mountPath itself on this host (identity: the test prepares it); hostPath
  maps to its path. Containers see volumes at their mountPath, so every occurrence of a
  mountPath prefix in command, args, env values and workingDir is rewritten to the
  materialised directory.
- workingDir: used when it exists on this host (after the rewrite), else the scratch dir.
- stdout+stderr go, in CRI log format, to a file behind the pod log endpoint.
- restartPolicy OnFailure/Always is treated as Never: an exited container stays terminated
  (so a PyTorchJob replica with the default OnFailure fails instead of restarting).
- a pod with an unpullable image starts none of its containers.
"""

LIMITS = """\
What the fake controllers leave out (a real cluster does these):
- Kueue: no preemption, borrowing/cohorts, admission checks, waitForPodsReady, partial
  admission or TAS; an unknown priority class counts as priority 0; flavor nodeLabels are
  injected into PyTorchJob pod templates only; finalizers are not added to Workloads;
  Workload deactivation (spec.active=false) and eviction are not emulated.
- Training operator: restartPolicy OnFailure/Always/ExitCode never restart (a failed pod
  fails the job); no backoffLimit, activeDeadlineSeconds or ttlSecondsAfterFinished; no
  gang scheduling; services are created but nothing resolves their names (env rewrites do).
- Trainer: only the runtime's trainer step ("node") runs (no dataset/model initializers);
  pods are owned by the JobSet directly (no batch/v1 Jobs); a failed pod fails the JobSet
  (no retries); runtime deprecation warnings are ignored; runtimePatches apply their
  labels, annotations and permitted pod fields to the pod template.
- Scheduler: no preemption, affinity/anti-affinity between pods, topology spread or
  priorities beyond ordering; the first node (by name) that fits wins.
- Kubelet: see KUBELET; no probes, no CPU limits, no restarts.
"""

QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
PRIORITY_LABEL = "kueue.x-k8s.io/priority-class"
JOB_UID_LABEL = "kueue.x-k8s.io/job-uid"

PYTORCH = "pytorchjobs.kubeflow.org"
TRAINJOB = "trainjobs.trainer.kubeflow.org"
JOBSET = "jobsets.jobset.x-k8s.io"
WORKLOAD = "workloads.kueue.x-k8s.io"
CLUSTERQUEUE = "clusterqueues.kueue.x-k8s.io"
LOCALQUEUE = "localqueues.kueue.x-k8s.io"
FLAVOR = "resourceflavors.kueue.x-k8s.io"
CTR = "clustertrainingruntimes.trainer.kubeflow.org"
TR = "trainingruntimes.trainer.kubeflow.org"

PYTORCH_OPERATOR = "pytorchjob-controller"
PYTORCH_PORT_NAME = "pytorchjob-port"
PYTORCH_DEFAULT_PORT = 23456
TRAINER_PORT = 29500
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"


@dataclass
class Node:
    """A node the scheduler can place pods on (its processes all run on this host)."""

    name: str
    cpu: str = "4"
    memory: str = "16Gi"
    gpus: dict[str, int] = field(
        default_factory=dict
    )  # extended resources, e.g. {"nvidia.com/gpu": 2}
    labels: dict[str, str] = field(default_factory=dict)
    taints: list[dict[str, str]] = field(default_factory=list)
    pods: int = 110
    unschedulable: bool = False

    def manifest(self) -> dict[str, Any]:
        capacity: dict[str, str] = {
            "cpu": str(self.cpu),
            "memory": str(self.memory),
            "pods": str(self.pods),
            "ephemeral-storage": "100Gi",
        }
        for name, count in self.gpus.items():
            if count:
                capacity[name] = str(count)
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64",
            **self.labels,
        }
        spec: dict[str, Any] = {}
        if self.taints:
            spec["taints"] = [dict(t) for t in self.taints]
        if self.unschedulable:
            spec["unschedulable"] = True
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
            "spec": spec,
            "status": {
                "capacity": capacity,
                "allocatable": dict(capacity),
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "KubeletReady",
                        "message": "kubelet is posting ready status",
                        "lastHeartbeatTime": kube.now_iso(),
                        "lastTransitionTime": kube.now_iso(),
                    }
                ],
                "addresses": [
                    {"type": "InternalIP", "address": "127.0.0.1"},
                    {"type": "Hostname", "address": self.name},
                ],
                "nodeInfo": {
                    "architecture": "amd64",
                    "bootID": "",
                    "containerRuntimeVersion": "containerd://2.0.0",
                    "kernelVersion": os.uname().release,
                    "kubeProxyVersion": "",
                    "kubeletVersion": "v1.37.0",
                    "machineID": "",
                    "operatingSystem": "linux",
                    "osImage": "labrig fake kubelet",
                    "systemUUID": "",
                },
            },
        }


@dataclass
class _ContainerRun:
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
class _PodRun:
    namespace: str
    name: str
    uid: str
    node: str
    dir: Path
    containers: list[_ContainerRun]
    started: str = ""
    pull_failures: int = 0
    evicted: str = ""
    config_error: str = ""
    volumes: dict[str, str] = field(default_factory=dict)  # mountPath -> host dir
    done: bool = False


def _free_port(taken: set[int]) -> int:
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port
    raise RuntimeError("no free port")


def _condition(conditions: list[dict[str, Any]], ctype: str) -> dict[str, Any] | None:
    return next((c for c in conditions if c.get("type") == ctype), None)


def _is_true(conditions: list[dict[str, Any]] | None, ctype: str) -> bool:
    cond = _condition(conditions or [], ctype)
    return bool(cond and cond.get("status") == "True")


def _set_meta_condition(
    conditions: list[dict[str, Any]],
    ctype: str,
    status: str,
    reason: str,
    message: str,
    generation: int | None = None,
) -> bool:
    """metav1.Condition semantics (meta.SetStatusCondition): returns whether it changed."""
    cur = _condition(conditions, ctype)
    if (
        cur
        and cur.get("status") == status
        and cur.get("reason") == reason
        and cur.get("message") == message
    ):
        return False
    new: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": cur["lastTransitionTime"]
        if cur and cur.get("status") == status
        else kube.now_iso(),
    }
    if generation is not None:
        new["observedGeneration"] = generation
    if cur:
        conditions[conditions.index(cur)] = new
    else:
        conditions.append(new)
    return True


def _owner_ref(obj: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def _controller_uid(obj: dict[str, Any]) -> str:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return ""


def _upsert_env(env: list[dict[str, Any]], items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = list(env)
    for item in items:
        for i, existing in enumerate(out):
            if existing.get("name") == item["name"]:
                out[i] = item
                break
        else:
            out.append(item)
    return out


class FakeCluster:
    """Controllers + scheduler + kubelet for an ``ApiEmulator`` (see the module docstring)."""

    def __init__(
        self,
        emu: ApiEmulator,
        workdir: Path,
        nodes: Iterable[Node] | None = None,
        poll: float = 0.1,
        *,
        max_grace_seconds: float = 2.0,
        pull_backoff_seconds: float = 0.2,
    ) -> None:
        self.emu = emu
        self.store: Store = emu.store
        self.workdir = Path(workdir)
        self.nodes = list(nodes) if nodes is not None else [Node("node-1")]
        self.poll = poll
        self.max_grace_seconds = max_grace_seconds
        self.pull_backoff_seconds = pull_backoff_seconds
        self.unpullable_images: set[str] = set()
        self.priority_classes: dict[str, int] = {}
        self.pod_processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pvc_paths: dict[str, Path] = {}
        self.extra_env: dict[str, str] = {}
        self.image_entrypoints: dict[str, list[str]] = {}
        self.errors: list[str] = []  # tracebacks of controller bugs (a test may assert it is empty)
        self._runs: dict[tuple[str, str], _PodRun] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ports: dict[tuple[str, str], int] = {}
        self._taken_ports: set[int] = set()
        self._events: dict[tuple[str, str, str, str], str] = {}
        self._dead: list[tuple[subprocess.Popen[bytes], float]] = []  # (proc, SIGKILL deadline)
        self._pull_started: dict[str, float] = {}
        self._hooks_installed = False
        self._memo: dict[str, Any] = {}
        self._retry: dict[str, float] = {}
        self.bin_dir = str(Path(sys.executable).parent)

    # -------------------- lifecycle

    def start(self) -> FakeCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for node in self.nodes:
            if self.store.try_get("nodes", "", node.name, copy_=False) is None:
                self.store.create("nodes", node.manifest())
        self._install_hooks()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="fake-cluster", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the controllers and kill every pod process they started."""
        self._stop.set()
        self.store.bump()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self._remove_hooks()
        with self._lock:
            runs = list(self._runs.values())
            self._runs.clear()
        procs = [c.proc for r in runs for c in r.containers if c.proc is not None]
        procs += [p for p, _ in self._dead]
        self._dead.clear()
        for proc in procs:
            self._signal_group(proc, signal.SIGKILL)
        for proc in procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        for run in runs:
            for c in run.containers:
                if c.reader is not None:
                    c.reader.join(timeout=2)
                if c.proc is not None and c.proc.stdout is not None:
                    c.proc.stdout.close()
        self.pod_processes.clear()

    def __enter__(self) -> FakeCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        rv = 0
        while not self._stop.is_set():
            new_rv = self.store.wait(rv, self.poll)
            if self._stop.is_set():
                break
            if self.store.stopped:  # the emulator went away first
                time.sleep(self.poll)
            try:
                now = time.monotonic()
                if new_rv == rv and not any(t <= now for t in self._retry.values()):
                    # Nothing changed in the store: only the kubelet has work (processes).
                    with self._lock:
                        self._kubelet()
                        self._reap()
                else:
                    rv = new_rv
                    self.reconcile()
            except Exception:  # noqa: BLE001 - keep the cluster alive; tests see .errors
                text = traceback.format_exc()
                self.errors.append(text)
                print(text, file=sys.stderr)
                self._memo.clear()
                time.sleep(self.poll)

    def reconcile(self) -> None:
        """One pass of every controller (the loop calls this; tests may too)."""
        with self._lock:
            self._pytorch_operator()
            self._trainer()
            self._kueue()
            self._scheduler()
            self._kubelet()
            self._reap()
            self._quota_status()

    def _unchanged(self, key: str, obj: dict[str, Any] | None, inputs: list[Any]) -> bool:
        """Controllers are functions of the objects they read: skip the work when none of
        them changed (by uid and resourceVersion) since the last pass."""
        signature = tuple(
            (o["metadata"]["uid"], o["metadata"]["resourceVersion"]) if o else None
            for o in [obj, *inputs]
        )
        due = self._retry.get(key)
        if due is not None and time.monotonic() >= due:
            del self._retry[key]
        elif self._memo.get(key) == signature:
            return True
        self._memo[key] = signature
        return False

    def _retry_later(self, key: str, delay: float = 1.0) -> None:
        """Reconcile ``key`` again after ``delay`` even if nothing changes (a back-off)."""
        self._retry[key] = time.monotonic() + delay

    # -------------------- setup helpers

    def add_queue(
        self,
        cluster_queue: str = "team",
        local_queue: str = "ml-queue",
        namespace: str = "ml",
        flavor: str = "default",
        quota: dict[str, str] | None = None,
        *,
        node_labels: dict[str, str] | None = None,
        queueing_strategy: str = "BestEffortFIFO",
    ) -> None:
        """Create a ResourceFlavor, a ClusterQueue with ``nominalQuota`` per resource, and a
        LocalQueue pointing at it (each skipped when it exists)."""
        quota = quota or {"cpu": "8", "memory": "32Gi"}
        if self.store.try_get(FLAVOR, "", flavor, copy_=False) is None:
            spec: dict[str, Any] = {}
            if node_labels:
                spec["nodeLabels"] = dict(node_labels)
            self.store.create(
                FLAVOR,
                {
                    "apiVersion": "kueue.x-k8s.io/v1beta2",
                    "kind": "ResourceFlavor",
                    "metadata": {"name": flavor},
                    "spec": spec,
                },
            )
        if self.store.try_get(CLUSTERQUEUE, "", cluster_queue, copy_=False) is None:
            self.store.create(
                CLUSTERQUEUE,
                {
                    "apiVersion": "kueue.x-k8s.io/v1beta2",
                    "kind": "ClusterQueue",
                    "metadata": {"name": cluster_queue},
                    "spec": {
                        "namespaceSelector": {},
                        "queueingStrategy": queueing_strategy,
                        "resourceGroups": [
                            {
                                "coveredResources": list(quota),
                                "flavors": [
                                    {
                                        "name": flavor,
                                        "resources": [
                                            {"name": r, "nominalQuota": str(q)}
                                            for r, q in quota.items()
                                        ],
                                    }
                                ],
                            }
                        ],
                    },
                },
            )
        if self.store.try_get(LOCALQUEUE, namespace, local_queue, copy_=False) is None:
            self.store.create(
                LOCALQUEUE,
                {
                    "apiVersion": "kueue.x-k8s.io/v1beta2",
                    "kind": "LocalQueue",
                    "metadata": {"name": local_queue, "namespace": namespace},
                    "spec": {"clusterQueue": cluster_queue},
                },
            )

    def add_runtime(
        self,
        name: str = "torch-distributed",
        *,
        image: str = "pytorch/pytorch:2.13.0-cuda13.0-cudnn9-runtime",
        num_nodes: int = 1,
        namespace: str | None = None,
    ) -> dict[str, Any]:
        """Create the upstream ``torch-distributed`` ClusterTrainingRuntime (or a
        TrainingRuntime in ``namespace``)."""
        runtime: dict[str, Any] = {
            "apiVersion": "trainer.kubeflow.org/v1alpha1",
            "kind": "TrainingRuntime" if namespace else "ClusterTrainingRuntime",
            "metadata": {"name": name, "labels": {"trainer.kubeflow.org/framework": "torch"}},
            "spec": {
                "mlPolicy": {"numNodes": num_nodes, "torch": {}},
                "template": {
                    "spec": {
                        "replicatedJobs": [
                            {
                                "name": "node",
                                "template": {
                                    "metadata": {
                                        "labels": {
                                            "trainer.kubeflow.org/trainjob-ancestor-step": "trainer"
                                        }
                                    },
                                    "spec": {
                                        "template": {
                                            "spec": {
                                                "containers": [{"name": "node", "image": image}]
                                            }
                                        }
                                    },
                                },
                            }
                        ]
                    }
                },
            },
        }
        if namespace:
            runtime["metadata"]["namespace"] = namespace
            return self.store.create(TR, runtime, namespace)
        return self.store.create(CTR, runtime)

    # -------------------- admission webhooks

    def _install_hooks(self) -> None:
        if not self._hooks_installed:
            self.store.mutating_hooks.append(self._kueue_webhook)
            self.store.validating_hooks.append(self._validating_webhooks)
            self._hooks_installed = True

    def _remove_hooks(self) -> None:
        if self._hooks_installed:
            with contextlib.suppress(ValueError):
                self.store.mutating_hooks.remove(self._kueue_webhook)
            with contextlib.suppress(ValueError):
                self.store.validating_hooks.remove(self._validating_webhooks)
            self._hooks_installed = False

    def _kueue_webhook(self, req: AdmissionRequest) -> None:
        """Kueue's job webhook: a job with a queue name is created suspended."""
        if req.operation != "CREATE" or req.obj is None or req.rtype.key not in (PYTORCH, TRAINJOB):
            return
        labels = req.obj["metadata"].get("labels") or {}
        if not labels.get(QUEUE_LABEL):
            return
        spec = req.obj.setdefault("spec", {})
        if req.rtype.key == PYTORCH:
            spec.setdefault("runPolicy", {})["suspend"] = True
        else:
            spec["suspend"] = True

    def _deny(self, webhook: str, errors: list[str]) -> ApiError:
        text = errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"
        return ApiError(
            403, "Forbidden", f'admission webhook "{webhook}" denied the request: {text}'
        )

    def _validating_webhooks(self, req: AdmissionRequest) -> None:
        if req.obj is None or req.operation not in ("CREATE", "UPDATE") or req.subresource:
            return
        if req.rtype.key == PYTORCH:
            errors = _validate_pytorchjob(req.obj)
            if errors:
                raise self._deny("validator.pytorchjob.training-operator.kubeflow.org", errors)
        elif req.rtype.key == TRAINJOB and req.operation == "CREATE":
            ref = dict((req.obj.get("spec") or {}).get("runtimeRef") or {})
            kind = ref.get("kind") or "ClusterTrainingRuntime"
            group = ref.get("apiGroup") or "trainer.kubeflow.org"
            if (
                kind not in ("ClusterTrainingRuntime", "TrainingRuntime")
                or group != "trainer.kubeflow.org"
            ):
                raise self._deny(
                    "validator.trainjob.trainer.kubeflow.org",
                    [f"unsupported runtime: {kind}.{group}"],
                )
            shown = json.dumps(
                {"name": ref.get("name"), "apiGroup": group, "kind": kind}, separators=(",", ":")
            )
            if kind == "ClusterTrainingRuntime":
                found = self.store.try_get(CTR, "", ref.get("name", ""), copy_=False)
                missing = (
                    f'clustertrainingruntimes.trainer.kubeflow.org "{ref.get("name")}" not found'
                )
                what = "clusterTrainingRuntime"
            else:
                found = self.store.try_get(TR, req.namespace, ref.get("name", ""), copy_=False)
                missing = f'trainingruntimes.trainer.kubeflow.org "{ref.get("name")}" not found'
                what = "trainingRuntime"
            if found is None:
                raise self._deny(
                    "validator.trainjob.trainer.kubeflow.org",
                    [
                        f"spec.RuntimeRef: Invalid value: {shown}: {missing}: specified {what} "
                        "must be "
                        "created before the TrainJob is created"
                    ],
                )

    # -------------------- events

    def _event(
        self,
        obj: dict[str, Any],
        etype: str,
        reason: str,
        message: str,
        component: str,
        *,
        host: str = "",
        action: str = "",
        new_api: bool = False,
    ) -> None:
        """Record an Event about ``obj`` (deduplicated: a repeat bumps count/series)."""
        meta = obj["metadata"]
        ns = meta.get("namespace") or "default"
        key = (meta["uid"], reason, message, etype)
        existing = self._events.get(key)
        now = kube.now_iso()
        if existing and self.store.try_get("events", ns, existing, copy_=False) is not None:

            def bump(ev: dict[str, Any]) -> None:
                if new_api:
                    series = ev.get("series") or {"count": 1}
                    ev["series"] = {
                        "count": series.get("count", 1) + 1,
                        "lastObservedTime": kube.now_micro(),
                    }
                else:
                    ev["count"] = ev.get("count", 1) + 1
                    ev["lastTimestamp"] = now

            self.store.mutate("events", ns, existing, bump)
            return
        name = f"{meta['name']}.{secrets.token_hex(8)}"
        ev: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": name, "namespace": ns},
            "involvedObject": {
                "apiVersion": obj.get("apiVersion"),
                "kind": obj.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message,
            "type": etype,
            "reportingComponent": component,
            "reportingInstance": f"{component}-{host or 'fake'}" if new_api else host,
        }
        if new_api:
            ev.update(eventTime=kube.now_micro(), action=action, source={})
        else:
            ev.update(
                source={"component": component, **({"host": host} if host else {})},
                firstTimestamp=now,
                lastTimestamp=now,
                count=1,
            )
        self.store.create("events", ev, ns)
        self._events[key] = name

    # -------------------- Kueue

    def _job_podsets(self, rt_key: str, job: dict[str, Any]) -> list[dict[str, Any]]:
        if rt_key == PYTORCH:
            specs = (job.get("spec") or {}).get("pytorchReplicaSpecs") or {}
            out = []
            for rtype in _ordered_replica_types(specs):
                spec = specs[rtype] or {}
                out.append(
                    {
                        "name": rtype.lower(),
                        "count": int(spec.get("replicas", 1)),
                        "template": kube.clone(spec.get("template") or {}),
                    }
                )
            return out
        built = self._trainjob_plan(job)
        if built is None:
            return []
        return [
            {"name": rj["name"], "count": rj["count"], "template": kube.clone(rj["template"])}
            for rj in built["jobs"]
        ]

    @staticmethod
    def _suspended(rt_key: str, job: dict[str, Any]) -> bool:
        spec = job.get("spec") or {}
        if rt_key == PYTORCH:
            return bool((spec.get("runPolicy") or {}).get("suspend"))
        return bool(spec.get("suspend"))

    def _set_suspend(
        self,
        rt_key: str,
        job: dict[str, Any],
        value: bool,
        node_labels: dict[str, str] | None = None,
    ) -> None:
        def change(obj: dict[str, Any]) -> None:
            spec = obj.setdefault("spec", {})
            if rt_key == PYTORCH:
                spec.setdefault("runPolicy", {})["suspend"] = value
                if node_labels and not value:
                    for rspec in (spec.get("pytorchReplicaSpecs") or {}).values():
                        pod_spec = rspec.setdefault("template", {}).setdefault("spec", {})
                        pod_spec["nodeSelector"] = {
                            **(pod_spec.get("nodeSelector") or {}),
                            **node_labels,
                        }
            else:
                spec["suspend"] = value

        meta = job["metadata"]
        self.store.mutate(rt_key, meta["namespace"], meta["name"], change)

    @staticmethod
    def _job_finished(rt_key: str, job: dict[str, Any]) -> tuple[bool, bool, str]:
        """(finished, succeeded, message) as Kueue reads it from the job's conditions."""
        conditions = (job.get("status") or {}).get("conditions") or []
        if rt_key == PYTORCH:
            for ctype in ("Succeeded", "Failed"):
                cond = _condition(conditions, ctype)
                if cond and cond.get("status") == "True":
                    return True, ctype == "Succeeded", str(cond.get("message", ""))
            return False, False, ""
        for ctype in ("Complete", "Failed"):
            cond = _condition(conditions, ctype)
            if cond and cond.get("status") == "True":
                return True, ctype == "Complete", str(cond.get("message", ""))
        return False, False, ""

    def _kueue(self) -> None:
        store = self.store
        workloads_by_owner: dict[str, dict[str, Any]] = {}
        for existing in store.select(WORKLOAD):
            owner = _controller_uid(existing)
            if owner:
                workloads_by_owner[owner] = existing
        for rt_key in (PYTORCH, TRAINJOB):
            if rt_key not in store.types:
                continue
            for job in store.select(rt_key):
                meta = job["metadata"]
                queue = (meta.get("labels") or {}).get(QUEUE_LABEL)
                if not queue or meta.get("deletionTimestamp"):
                    continue
                wl: dict[str, Any] | None = workloads_by_owner.get(meta["uid"])
                runtime = self._runtime_for(job) if rt_key == TRAINJOB else None
                if self._unchanged(f"kueue/{meta['uid']}", job, [wl, runtime]):
                    continue
                finished, succeeded, message = self._job_finished(rt_key, job)
                if wl is None:
                    if finished:
                        continue
                    wl = self._create_workload(rt_key, job, queue)
                    if wl is None:
                        continue
                    workloads_by_owner[meta["uid"]] = wl
                wl_conditions = (wl.get("status") or {}).get("conditions") or []
                if finished:
                    if not _is_true(wl_conditions, "Finished"):
                        reason = "Succeeded" if succeeded else "Failed"

                        def finish(
                            obj: dict[str, Any], reason: str = reason, message: str = message
                        ) -> None:
                            status = obj.setdefault("status", {})
                            conds = status.setdefault("conditions", [])
                            _set_meta_condition(
                                conds,
                                "Finished",
                                "True",
                                reason,
                                message,
                                obj["metadata"].get("generation"),
                            )

                        store.mutate(
                            WORKLOAD,
                            wl["metadata"]["namespace"],
                            wl["metadata"]["name"],
                            finish,
                            subresource="status",
                        )
                    continue
                admitted = _is_true(wl_conditions, "Admitted")
                if not admitted and not self._suspended(rt_key, job):
                    # Started without admission: Kueue suspends it again.
                    self._set_suspend(rt_key, job, True)
                elif admitted and self._suspended(rt_key, job):
                    # Suspended while admitted: Kueue starts it again (to stop a queued
                    # job, delete it or deactivate its Workload; deactivation is not
                    # emulated).
                    self._set_suspend(rt_key, job, False)
        self._kueue_schedule()

    def _create_workload(
        self, rt_key: str, job: dict[str, Any], queue: str
    ) -> dict[str, Any] | None:
        meta = job["metadata"]
        kind = job["kind"]
        group = job["apiVersion"].split("/")[0]
        podsets = self._job_podsets(rt_key, job)
        if not podsets:
            return None
        digest = hashlib.sha1(
            f"{kind}\n{group}\n{meta['name']}\n{meta['uid']}".encode()
        ).hexdigest()[:5]
        name = f"{kind.lower()}-{meta['name']}"[: 253 - 6] + f"-{digest}"
        spec: dict[str, Any] = {"queueName": queue, "podSets": podsets, "active": True}
        priority_class = (meta.get("labels") or {}).get(PRIORITY_LABEL)
        if priority_class:
            spec["priority"] = int(self.priority_classes.get(priority_class, 0))
            spec["priorityClassRef"] = {
                "group": "kueue.x-k8s.io",
                "kind": "WorkloadPriorityClass",
                "name": priority_class,
            }
        else:
            spec["priority"] = 0
        wl = {
            "apiVersion": "kueue.x-k8s.io/v1beta2",
            "kind": "Workload",
            "metadata": {
                "name": name,
                "namespace": meta["namespace"],
                "labels": {JOB_UID_LABEL: meta["uid"]},
                "ownerReferences": [_owner_ref(job)],
            },
            "spec": spec,
        }
        created = self.store.create(WORKLOAD, wl, meta["namespace"])
        self._event(
            job,
            "Normal",
            "CreatedWorkload",
            f"Created Workload: {meta['namespace']}/{name}",
            "kueue-controller",
        )
        return created

    def _kueue_schedule(self) -> None:
        store = self.store
        workloads = store.select(WORKLOAD)
        cqs = {cq["metadata"]["name"]: cq for cq in store.select(CLUSTERQUEUE)}
        flavors = {f["metadata"]["name"]: f for f in store.select(FLAVOR)}
        lqs = {
            (lq["metadata"]["namespace"], lq["metadata"]["name"]): lq
            for lq in store.select(LOCALQUEUE)
        }
        everything = [*workloads, *cqs.values(), *flavors.values(), *lqs.values()]
        if self._unchanged("kueue-schedule", None, everything):
            return
        # usage[cq][flavor][resource]
        usage: dict[str, dict[str, dict[str, Decimal]]] = {name: {} for name in cqs}
        pending: dict[str, list[dict[str, Any]]] = {name: [] for name in cqs}
        counts: dict[str, dict[str, int]] = {
            name: {"pending": 0, "reserving": 0, "admitted": 0} for name in cqs
        }
        lq_counts: dict[tuple[str, str], dict[str, Any]] = {}
        for wl in workloads:
            status = wl.get("status") or {}
            conds = status.get("conditions") or []
            ns = wl["metadata"]["namespace"]
            lq_key = (ns, wl["spec"].get("queueName", ""))
            lq_stat = lq_counts.setdefault(
                lq_key, {"pending": 0, "reserving": 0, "admitted": 0, "usage": {}}
            )
            if _is_true(conds, "Finished"):
                continue
            admission = status.get("admission")
            if _is_true(conds, "QuotaReserved") and admission:
                cq_name = admission.get("clusterQueue", "")
                if cq_name in usage:
                    for psa in admission.get("podSetAssignments") or []:
                        for res, flavor in (psa.get("flavors") or {}).items():
                            amount = kube.parse_quantity(
                                (psa.get("resourceUsage") or {}).get(res, 0)
                            )
                            per = usage[cq_name].setdefault(flavor, {})
                            per[res] = per.get(res, Decimal(0)) + amount
                            lq_use = lq_stat["usage"].setdefault(flavor, {})
                            lq_use[res] = lq_use.get(res, Decimal(0)) + amount
                    counts[cq_name]["reserving"] += 1
                    counts[cq_name]["admitted"] += 1 if _is_true(conds, "Admitted") else 0
                lq_stat["reserving"] += 1
                lq_stat["admitted"] += 1 if _is_true(conds, "Admitted") else 0
                continue
            lq_stat["pending"] += 1
            lq = lqs.get(lq_key)
            if lq is None:
                self._workload_pending(wl, "Inadmissible", f"LocalQueue {lq_key[1]} doesn't exist")
                continue
            cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
            if cq_name not in cqs:
                self._workload_pending(wl, "Inadmissible", f"ClusterQueue {cq_name} doesn't exist")
                continue
            missing = [
                f["name"]
                for rg in (cqs[cq_name].get("spec") or {}).get("resourceGroups") or []
                for f in rg.get("flavors") or []
                if f["name"] not in flavors
            ]
            if missing:
                self._workload_pending(wl, "Inadmissible", f"ClusterQueue {cq_name} is inactive")
                continue
            pending[cq_name].append(wl)
            counts[cq_name]["pending"] += 1
        for cq_name, queue in pending.items():
            cq = cqs[cq_name]
            strict = (cq.get("spec") or {}).get("queueingStrategy") == "StrictFIFO"
            queue.sort(
                key=lambda w: (
                    -int(w["spec"].get("priority") or 0),
                    w["metadata"]["creationTimestamp"],
                    w["metadata"]["name"],
                )
            )
            for wl in queue:
                assignment, message = self._assign_flavors(cq, wl, usage[cq_name])
                if assignment is None:
                    self._workload_pending(wl, "Pending", message)
                    if strict:
                        break
                    continue
                for psa in assignment:
                    for res, flavor in psa["flavors"].items():
                        per = usage[cq_name].setdefault(flavor, {})
                        per[res] = per.get(res, Decimal(0)) + kube.parse_quantity(
                            psa["resourceUsage"][res]
                        )
                counts[cq_name]["pending"] -= 1
                counts[cq_name]["reserving"] += 1
                counts[cq_name]["admitted"] += 1
                self._admit_workload(wl, cq_name, assignment, flavors)
        for cq_name, cq in cqs.items():
            self._cq_status(cq, counts[cq_name], usage[cq_name])
        for key, lq in lqs.items():
            self._lq_status(
                lq, lq_counts.get(key) or {"pending": 0, "reserving": 0, "admitted": 0, "usage": {}}
            )

    def _assign_flavors(
        self, cq: dict[str, Any], wl: dict[str, Any], usage: dict[str, dict[str, Decimal]]
    ) -> tuple[list[dict[str, Any]] | None, str]:
        """Kueue's flavor assigner without preemption or borrowing: per pod set, per
        resource group, the first flavor where every covered resource fits the unused
        nominal quota; the first pod set that does not fit gives the message."""
        groups = (cq.get("spec") or {}).get("resourceGroups") or []
        assumed: dict[tuple[str, str], Decimal] = {}
        assignments: list[dict[str, Any]] = []
        for ps in wl["spec"].get("podSets") or []:
            count = int(ps.get("count", 1))
            per_pod = kube.pod_requests((ps.get("template") or {}).get("spec") or {})
            requests = {res: q * count for res, q in per_pod.items()}
            flavors_for: dict[str, str] = {}
            failure = ""
            for res in sorted(requests):
                if res in flavors_for:
                    continue
                group = next((g for g in groups if res in (g.get("coveredResources") or [])), None)
                if group is None:
                    failure = f"resource {res} unavailable in ClusterQueue"
                    break
                covered = [r for r in group.get("coveredResources") or [] if r in requests]
                reasons: list[str] = []
                chosen = None
                for flavor in group.get("flavors") or []:
                    fname = flavor["name"]
                    quotas = {
                        r["name"]: kube.parse_quantity(r["nominalQuota"])
                        for r in flavor.get("resources") or []
                    }
                    fits = True
                    for r in covered:
                        nominal = quotas.get(r, Decimal(0))
                        used = usage.get(fname, {}).get(r, Decimal(0))
                        before = assumed.get((fname, r), Decimal(0))
                        val = before + requests[r]
                        if val > nominal:
                            fits = False
                            reasons.append(
                                f"insufficient quota for {r} in flavor {fname}, previously "
                                "considered podsets "
                                f"requests ({kube.format_quantity(before, r)}) + current podset "
                                "request "
                                f"({kube.format_quantity(requests[r], r)}) > maximum capacity "
                                f"({kube.format_quantity(nominal, r)})"
                            )
                        elif used + val > nominal:
                            fits = False
                            reasons.append(
                                f"insufficient unused quota for {r} in flavor {fname}, "
                                f"{kube.format_quantity(used + val - nominal, r)} more needed"
                            )
                    if fits:
                        chosen = fname
                        break
                if chosen is None:
                    failure = ", ".join(sorted(reasons))
                    break
                for r in covered:
                    flavors_for[r] = chosen
            if failure:
                return None, f"couldn't assign flavors to pod set {ps['name']}: {failure}"
            for r, fname in flavors_for.items():
                assumed[(fname, r)] = assumed.get((fname, r), Decimal(0)) + requests[r]
            assignments.append(
                {
                    "name": ps["name"],
                    "flavors": dict(sorted(flavors_for.items())),
                    "resourceUsage": {
                        r: kube.format_quantity(requests[r], r) for r in sorted(flavors_for)
                    },
                    "count": count,
                }
            )
        return assignments, ""

    def _workload_pending(self, wl: dict[str, Any], reason: str, message: str) -> None:
        def change(obj: dict[str, Any]) -> None:
            conds = obj.setdefault("status", {}).setdefault("conditions", [])
            _set_meta_condition(
                conds, "QuotaReserved", "False", reason, message, obj["metadata"].get("generation")
            )

        before = _condition((wl.get("status") or {}).get("conditions") or [], "QuotaReserved")
        if before and (before.get("status"), before.get("reason"), before.get("message")) == (
            "False",
            reason,
            message,
        ):
            return
        stored = self.store.mutate(
            WORKLOAD,
            wl["metadata"]["namespace"],
            wl["metadata"]["name"],
            change,
            subresource="status",
        )
        if stored is not None and (before is None or before.get("message") != message):
            self._event(
                stored, "Warning", reason, message, "kueue-admission", new_api=True, action=reason
            )

    def _admit_workload(
        self,
        wl: dict[str, Any],
        cq_name: str,
        assignment: list[dict[str, Any]],
        flavors: dict[str, dict[str, Any]],
    ) -> None:
        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["admission"] = {"clusterQueue": cq_name, "podSetAssignments": assignment}
            conds = status.setdefault("conditions", [])
            gen = obj["metadata"].get("generation")
            _set_meta_condition(
                conds,
                "QuotaReserved",
                "True",
                "QuotaReserved",
                f"Quota reserved in ClusterQueue {cq_name}",
                gen,
            )
            _set_meta_condition(
                conds, "Admitted", "True", "Admitted", "The workload is admitted", gen
            )

        ns, name = wl["metadata"]["namespace"], wl["metadata"]["name"]
        stored = self.store.mutate(WORKLOAD, ns, name, change, subresource="status")
        if stored is None:
            return
        self._event(
            stored,
            "Normal",
            "QuotaReserved",
            f"Quota reserved in ClusterQueue {cq_name}, wait time since queued was 0s",
            "kueue-admission",
            new_api=True,
            action="QuotaReserved",
        )
        self._event(
            stored,
            "Normal",
            "Admitted",
            f"Admitted by ClusterQueue {cq_name}, wait time since reservation was 0s",
            "kueue-admission",
            new_api=True,
            action="Admitted",
        )
        owner = next(
            (r for r in wl["metadata"].get("ownerReferences") or [] if r.get("controller")), None
        )
        if owner is None:
            return
        rt_key = PYTORCH if owner["kind"] == "PyTorchJob" else TRAINJOB
        job = self.store.try_get(rt_key, ns, owner["name"], copy_=False)
        if job is None or job["metadata"]["uid"] != owner["uid"]:
            return
        labels: dict[str, str] = {}
        for psa in assignment:
            for flavor_name in set(psa["flavors"].values()):
                labels.update(
                    ((flavors.get(flavor_name) or {}).get("spec") or {}).get("nodeLabels") or {}
                )
        self._set_suspend(rt_key, job, False, labels or None)
        self._event(
            job, "Normal", "Started", f"Admitted by clusterQueue {cq_name}", "kueue-controller"
        )

    def _cq_status(
        self, cq: dict[str, Any], counts: dict[str, int], usage: dict[str, dict[str, Decimal]]
    ) -> None:
        groups = (cq.get("spec") or {}).get("resourceGroups") or []
        flavor_usage = []
        for group in groups:
            for flavor in group.get("flavors") or []:
                resources = []
                for r in flavor.get("resources") or []:
                    total = usage.get(flavor["name"], {}).get(r["name"], Decimal(0))
                    resources.append(
                        {
                            "name": r["name"],
                            "total": kube.format_quantity(total, r["name"]),
                            "borrowed": "0",
                        }
                    )
                flavor_usage.append({"name": flavor["name"], "resources": resources})

        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["pendingWorkloads"] = counts["pending"]
            status["reservingWorkloads"] = counts["reserving"]
            status["admittedWorkloads"] = counts["admitted"]
            status["flavorsReservation"] = flavor_usage
            status["flavorsUsage"] = kube.clone(flavor_usage)
            conds = status.setdefault("conditions", [])
            _set_meta_condition(
                conds,
                "Active",
                "True",
                "Ready",
                "Can admit new workloads",
                obj["metadata"].get("generation"),
            )

        self.store.mutate(CLUSTERQUEUE, "", cq["metadata"]["name"], change, subresource="status")

    def _lq_status(self, lq: dict[str, Any], stat: dict[str, Any]) -> None:
        cq_name = (lq.get("spec") or {}).get("clusterQueue", "")
        cq = self.store.try_get(CLUSTERQUEUE, "", cq_name, copy_=False)
        flavor_usage = []
        if cq is not None:
            for group in (cq.get("spec") or {}).get("resourceGroups") or []:
                for flavor in group.get("flavors") or []:
                    resources = [
                        {
                            "name": r["name"],
                            "total": kube.format_quantity(
                                stat["usage"].get(flavor["name"], {}).get(r["name"], Decimal(0)),
                                r["name"],
                            ),
                        }
                        for r in flavor.get("resources") or []
                    ]
                    flavor_usage.append({"name": flavor["name"], "resources": resources})

        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["pendingWorkloads"] = stat["pending"]
            status["reservingWorkloads"] = stat["reserving"]
            status["admittedWorkloads"] = stat["admitted"]
            status["flavorsReservation"] = flavor_usage
            status["flavorsUsage"] = kube.clone(flavor_usage)
            conds = status.setdefault("conditions", [])
            if cq is None:
                _set_meta_condition(
                    conds,
                    "Active",
                    "False",
                    "ClusterQueueDoesNotExist",
                    "Can't submit new workloads to clusterQueue",
                    obj["metadata"].get("generation"),
                )
            else:
                _set_meta_condition(
                    conds,
                    "Active",
                    "True",
                    "Ready",
                    "Can submit new workloads to localQueue",
                    obj["metadata"].get("generation"),
                )

        self.store.mutate(
            LOCALQUEUE,
            lq["metadata"]["namespace"],
            lq["metadata"]["name"],
            change,
            subresource="status",
        )

    # -------------------- training operator (PyTorchJob v1)

    def _pytorch_operator(self) -> None:
        if PYTORCH not in self.store.types:
            return
        pods_by_owner: dict[str, list[dict[str, Any]]] = {}
        for pod in self.store.select(
            "pods", label_selector=f"training.kubeflow.org/operator-name={PYTORCH_OPERATOR}"
        ):
            pods_by_owner.setdefault(_controller_uid(pod), []).append(pod)
        for job in self.store.select(PYTORCH):
            if job["metadata"].get("deletionTimestamp"):
                continue
            pods = pods_by_owner.get(job["metadata"]["uid"], [])
            if self._unchanged(f"pytorch/{job['metadata']['uid']}", job, pods):
                continue
            self._reconcile_pytorchjob(job, pods)

    def _reconcile_pytorchjob(self, job: dict[str, Any], pods: list[dict[str, Any]]) -> None:
        meta = job["metadata"]
        name, ns = meta["name"], meta["namespace"]
        spec = _pytorch_defaults(job.get("spec") or {})
        replicas: dict[str, dict[str, Any]] = spec["pytorchReplicaSpecs"]
        run_policy = spec.get("runPolicy") or {}
        status = kube.clone(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        events: list[tuple[str, str, str]] = []
        if _condition(conditions, "Created") is None:
            _set_job_condition(
                conditions, "Created", "True", "PyTorchJobCreated", f"PyTorchJob {name} is created."
            )
        finished = _is_true(conditions, "Succeeded") or _is_true(conditions, "Failed")
        suspended = bool(run_policy.get("suspend"))
        replica_statuses: dict[str, dict[str, Any]] = status.setdefault("replicaStatuses", {})
        if finished:
            policy = run_policy.get("cleanPodPolicy") or "None"
            for pod in pods:
                phase = (pod.get("status") or {}).get("phase")
                if policy == "All" or (policy == "Running" and phase in ("Running", "Pending")):
                    self._delete_quietly("pods", ns, pod["metadata"]["name"])
            if _is_true(conditions, "Succeeded"):
                for rs in replica_statuses.values():
                    rs["succeeded"] = rs.get("succeeded", 0) + rs.get("active", 0)
                    rs["active"] = 0
            self._write_status(PYTORCH, job, status)
            return
        if suspended:
            for pod in pods:
                self._delete_quietly("pods", ns, pod["metadata"]["name"])
            for rs in replica_statuses.values():
                rs["active"] = 0
            msg = f"PyTorchJob {name} is suspended."
            if _is_true(conditions, "Running"):
                _set_job_condition(conditions, "Running", "False", "PyTorchJobSuspended", msg)
            if not _is_true(conditions, "Suspended"):
                _set_job_condition(conditions, "Suspended", "True", "PyTorchJobSuspended", msg)
                events.append(("Normal", "PyTorchJobSuspended", msg))
            self._write_status(PYTORCH, job, status, events)
            return
        if _is_true(conditions, "Suspended"):
            msg = f"PyTorchJob {name} is resumed."
            _set_job_condition(conditions, "Suspended", "False", "PyTorchJobResumed", msg)
            status["startTime"] = kube.now_iso()
            events.append(("Normal", "PyTorchJobResumed", msg))
        # Pods and services per replica.
        by_key: dict[tuple[str, str], dict[str, Any]] = {}
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            by_key[
                (
                    labels.get("training.kubeflow.org/replica-type", ""),
                    labels.get("training.kubeflow.org/replica-index", ""),
                )
            ] = pod
        for rtype in _ordered_replica_types(replicas):
            rspec = replicas[rtype]
            for index in range(int(rspec.get("replicas", 1))):
                key = (rtype.lower(), str(index))
                if key in by_key:
                    continue
                pod = self._pytorch_pod(job, spec, rtype, index)
                try:
                    created = self.store.create("pods", pod, ns)
                except ApiError as exc:
                    events.append(("Warning", "FailedCreatePod", f"Error creating: {exc.message}"))
                    self._retry_later(f"pytorch/{meta['uid']}")
                    continue
                by_key[key] = created
                events.append(
                    ("Normal", "SuccessfulCreatePod", f"Created pod: {created['metadata']['name']}")
                )
                self._pytorch_service(job, spec, rtype, index)
        if "startTime" not in status:
            status["startTime"] = kube.now_iso()
        deadline = run_policy.get("activeDeadlineSeconds")
        left = (
            float(deadline) - (time.time() - kube.parse_time(status["startTime"]))
            if deadline
            else 1.0
        )
        if deadline and left > 0:
            self._retry_later(f"pytorch/{meta['uid']}", left + 0.05)  # look again at the deadline
        if deadline and left <= 0:
            # pastActiveDeadline of training-operator v1.9: the pods go, the job fails.
            for pod in pods:
                self._delete_quietly("pods", ns, pod["metadata"]["name"])
            msg = f"Job {name} has failed because it was active longer than specified deadline"
            status.setdefault("completionTime", kube.now_iso())
            _set_job_condition(conditions, "Failed", "True", "PyTorchJobFailed", msg)
            events.append(("Normal", "PyTorchJobFailed", msg))
            self._write_status(PYTORCH, job, status, events)
            return
        # Replica statuses and conditions (UpdateJobStatus of training-operator v1.9).
        has_master = "Master" in replicas
        for rtype in _ordered_replica_types(replicas):
            rspec = replicas[rtype]
            active = succeeded = failed = 0
            for (rt_lower, _), pod in by_key.items():
                if rt_lower != rtype.lower():
                    continue
                phase = (pod.get("status") or {}).get("phase")
                if phase == "Running":
                    active += 1
                elif phase == "Succeeded":
                    succeeded += 1
                elif phase == "Failed":
                    failed += 1
            selector = (
                f"training.kubeflow.org/job-name={name},training.kubeflow.org/operator-name={PYTORCH_OPERATOR},"
                f"training.kubeflow.org/replica-type={rtype.lower()}"
            )
            replica_statuses[rtype] = {
                "active": active,
                "succeeded": succeeded,
                "failed": failed,
                "selector": selector,
            }
        for rtype in _ordered_replica_types(replicas):
            rspec = replicas[rtype]
            rs = replica_statuses[rtype]
            expected = int(rspec.get("replicas", 1)) - rs["succeeded"]
            if has_master:
                if rtype == "Master":
                    if rs["active"] > 0:
                        _set_job_condition(
                            conditions,
                            "Running",
                            "True",
                            "PyTorchJobRunning",
                            f"PyTorchJob {name} is running.",
                        )
                    if expected == 0:
                        msg = f"PyTorchJob {name} is successfully completed."
                        status.setdefault("completionTime", kube.now_iso())
                        _set_job_condition(
                            conditions, "Succeeded", "True", "PyTorchJobSucceeded", msg
                        )
                        events.append(("Normal", "PyTorchJobSucceeded", msg))
                        break
            elif rtype == "Worker":
                if expected == 0 or (spec.get("elasticPolicy") and rs["succeeded"] > 0):
                    msg = f"PyTorchJob {ns}/{name} successfully completed."
                    status.setdefault("completionTime", kube.now_iso())
                    _set_job_condition(conditions, "Succeeded", "True", "PyTorchJobSucceeded", msg)
                    events.append(("Normal", "PyTorchJobSucceeded", msg))
                elif rs["active"] > 0:
                    _set_job_condition(
                        conditions,
                        "Running",
                        "True",
                        "PyTorchJobRunning",
                        f"PyTorchJob {ns}/{name} is running.",
                    )
            if rs["failed"] > 0 and int(rspec.get("replicas", 1)) > rs["succeeded"] + rs["active"]:
                # restartPolicy OnFailure/Always/ExitCode are treated as Never (see KUBELET).
                msg = (
                    f"PyTorchJob {name} is failed because {rs['failed']} {rtype} replica(s) failed."
                )
                status.setdefault("completionTime", kube.now_iso())
                _set_job_condition(conditions, "Failed", "True", "PyTorchJobFailed", msg)
                events.append(("Normal", "PyTorchJobFailed", msg))
        self._write_status(PYTORCH, job, status, events)

    def _pytorch_pod(
        self, job: dict[str, Any], spec: dict[str, Any], rtype: str, index: int
    ) -> dict[str, Any]:
        meta = job["metadata"]
        name = meta["name"]
        rspec = spec["pytorchReplicaSpecs"][rtype]
        template = kube.clone(rspec.get("template") or {})
        tmeta = template.get("metadata") or {}
        labels = dict(tmeta.get("labels") or {})
        labels.update(
            {
                "training.kubeflow.org/operator-name": PYTORCH_OPERATOR,
                "training.kubeflow.org/job-name": name.replace("/", "-"),
                "training.kubeflow.org/replica-type": rtype.lower(),
                "training.kubeflow.org/replica-index": str(index),
            }
        )
        if rtype == "Master":
            labels["training.kubeflow.org/job-role"] = "master"
        pod_spec = template.get("spec") or {}
        restart = rspec.get("restartPolicy") or "OnFailure"
        pod_spec["restartPolicy"] = "Never" if restart == "ExitCode" else restart
        replicas = spec["pytorchReplicaSpecs"]
        total = sum(int(r.get("replicas", 1)) for r in replicas.values())
        nproc = spec.get("nprocPerNode")
        nproc_int = int(nproc) if isinstance(nproc, str) and nproc.isdigit() else 1
        world = total * nproc_int
        master_port = _pytorch_port(replicas, "Master")
        for container in pod_spec.get("containers") or []:
            env = list(container.get("env") or [])
            env.append({"name": "PYTHONUNBUFFERED", "value": "1"})
            if "Master" in replicas:
                addr = f"{name}-master-0"
                env += [
                    {"name": "MASTER_PORT", "value": str(master_port)},
                    {"name": "PET_MASTER_PORT", "value": str(master_port)},
                    {"name": "MASTER_ADDR", "value": addr},
                    {"name": "PET_MASTER_ADDR", "value": addr},
                ]
                rank = index + 1 if rtype == "Worker" else index
                env += [
                    {"name": "WORLD_SIZE", "value": str(world)},
                    {"name": "RANK", "value": str(rank)},
                    {"name": "PET_NODE_RANK", "value": str(rank)},
                ]
            if nproc is not None:
                env.append({"name": "PET_NPROC_PER_NODE", "value": str(nproc)})
            elastic = spec.get("elasticPolicy")
            if elastic:
                env += _elastic_env(name, spec, elastic)
            else:
                env.append({"name": "PET_NNODES", "value": str(total)})
            container["env"] = env
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{name}-{rtype.lower()}-{index}",
                "namespace": meta["namespace"],
                "labels": labels,
                **({"annotations": dict(tmeta["annotations"])} if tmeta.get("annotations") else {}),
                "ownerReferences": [_owner_ref(job)],
            },
            "spec": pod_spec,
        }

    def _pytorch_service(
        self, job: dict[str, Any], spec: dict[str, Any], rtype: str, index: int
    ) -> None:
        meta = job["metadata"]
        name = f"{meta['name']}-{rtype.lower()}-{index}"
        if self.store.try_get("services", meta["namespace"], name, copy_=False) is not None:
            return
        port = _pytorch_port(spec["pytorchReplicaSpecs"], rtype)
        selector = {
            "training.kubeflow.org/operator-name": PYTORCH_OPERATOR,
            "training.kubeflow.org/job-name": meta["name"],
            "training.kubeflow.org/replica-type": rtype.lower(),
            "training.kubeflow.org/replica-index": str(index),
        }
        with contextlib.suppress(ApiError):
            self.store.create(
                "services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": name,
                        "namespace": meta["namespace"],
                        "labels": dict(selector),
                        "ownerReferences": [_owner_ref(job)],
                    },
                    "spec": {
                        "clusterIP": "None",
                        "selector": selector,
                        "ports": [{"name": PYTORCH_PORT_NAME, "port": port, "targetPort": port}],
                    },
                },
                meta["namespace"],
            )

    def _write_status(
        self,
        rt_key: str,
        obj: dict[str, Any],
        status: dict[str, Any],
        events: list[tuple[str, str, str]] | None = None,
    ) -> None:
        meta = obj["metadata"]
        if status != (obj.get("status") or {}):

            def change(o: dict[str, Any]) -> None:
                o["status"] = status

            self.store.mutate(
                rt_key, meta.get("namespace", ""), meta["name"], change, subresource="status"
            )
        component = "pytorchjob-controller" if rt_key == PYTORCH else "trainjob-controller"
        for etype, reason, message in events or []:
            self._event(obj, etype, reason, message, component)

    def _delete_quietly(self, rt_key: str, ns: str, name: str) -> None:
        with contextlib.suppress(ApiError):
            self.store.delete(rt_key, ns, name)

    # -------------------- trainer (TrainJob v1alpha1)

    def _runtime_for(self, job: dict[str, Any]) -> dict[str, Any] | None:
        ref = (job.get("spec") or {}).get("runtimeRef") or {}
        if (ref.get("kind") or "ClusterTrainingRuntime") == "ClusterTrainingRuntime":
            return self.store.try_get(CTR, "", ref.get("name", ""), copy_=False)
        return self.store.try_get(
            TR, job["metadata"]["namespace"], ref.get("name", ""), copy_=False
        )

    def _trainjob_plan(self, job: dict[str, Any]) -> dict[str, Any] | None:
        """What the trainer would build from the runtime: per replicated job (only the
        trainer's: ancestor label ``trainer`` or name ``node``), a pod template and count."""
        runtime = self._runtime_for(job)
        if runtime is None:
            return None
        rspec = runtime.get("spec") or {}
        ml = rspec.get("mlPolicy") or {}
        trainer = (job.get("spec") or {}).get("trainer") or {}
        jobs = []
        for rj in ((rspec.get("template") or {}).get("spec") or {}).get("replicatedJobs") or []:
            jt = rj.get("template") or {}
            ancestor = ((jt.get("metadata") or {}).get("labels") or {}).get(
                "trainer.kubeflow.org/trainjob-ancestor-step"
            )
            if ancestor != "trainer" and rj.get("name") != "node":
                continue
            template = kube.clone((jt.get("spec") or {}).get("template") or {})
            pod_spec = template.setdefault("spec", {})
            count = int(trainer.get("numNodes") or ml.get("numNodes") or 1)
            resources = trainer.get("resourcesPerNode")
            for container in pod_spec.get("containers") or []:
                if container.get("name") != "node":
                    continue
                if trainer.get("image"):
                    container["image"] = trainer["image"]
                if trainer.get("command"):
                    container["command"] = list(trainer["command"])
                if trainer.get("args"):
                    container["args"] = list(trainer["args"])
                if resources:
                    container["resources"] = kube.clone(resources)
                container["env"] = _upsert_env(
                    container.get("env") or [], list(trainer.get("env") or [])
                )
                if "torch" in ml:
                    nproc: Any = trainer.get("numProcPerNode")
                    if nproc is None:
                        res = container.get("resources") or {}
                        gpus = any(
                            "gpu" in k
                            for k in {**(res.get("limits") or {}), **(res.get("requests") or {})}
                        )
                        if gpus:
                            nproc = "auto"
                        else:
                            cpu = (res.get("requests") or {}).get("cpu") or (
                                res.get("limits") or {}
                            ).get("cpu")
                            nproc = max(1, int(kube.parse_quantity(cpu))) if cpu else 1
                    name = job["metadata"]["name"]
                    container["env"] = _upsert_env(
                        container["env"],
                        [
                            {"name": "PET_NNODES", "value": str(count)},
                            {"name": "PET_NPROC_PER_NODE", "value": str(nproc)},
                            {
                                "name": "PET_NODE_RANK",
                                "valueFrom": {
                                    "fieldRef": {
                                        "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"
                                    }
                                },
                            },
                            {"name": "PET_MASTER_ADDR", "value": f"{name}-node-0-0.{name}"},
                            {"name": "PET_MASTER_PORT", "value": str(TRAINER_PORT)},
                        ],
                    )
                    ports = container.setdefault("ports", [])
                    if not any(p.get("containerPort") == TRAINER_PORT for p in ports):
                        ports.append({"containerPort": TRAINER_PORT, "protocol": "TCP"})
            _apply_runtime_patches(job, rj["name"], template)
            jobs.append(
                {"name": rj["name"], "count": count, "template": template, "job_template": jt}
            )
        return {"runtime": runtime, "jobs": jobs}

    def _trainer(self) -> None:
        if TRAINJOB not in self.store.types:
            return
        jobsets = {
            (js["metadata"]["namespace"], js["metadata"]["name"]): js
            for js in self.store.select(JOBSET)
        }
        pods_by_jobset: dict[str, list[dict[str, Any]]] = {}
        for pod in self.store.select("pods", label_selector="jobset.sigs.k8s.io/jobset-name"):
            pods_by_jobset.setdefault(_controller_uid(pod), []).append(pod)
        for job in self.store.select(TRAINJOB):
            meta = job["metadata"]
            if meta.get("deletionTimestamp"):
                continue
            jobset = jobsets.get((meta["namespace"], meta["name"]))
            inputs = [self._runtime_for(job), jobset]
            if jobset is not None:
                inputs += pods_by_jobset.get(jobset["metadata"]["uid"], [])
            if self._unchanged(f"trainjob/{meta['uid']}", job, inputs):
                continue
            self._reconcile_trainjob(job)

    def _reconcile_trainjob(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        name, ns = meta["name"], meta["namespace"]
        status = kube.clone(job.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        suspended = bool((job.get("spec") or {}).get("suspend"))
        finished = _is_true(conditions, "Complete") or _is_true(conditions, "Failed")
        events: list[tuple[str, str, str]] = []
        plan = None if finished else self._trainjob_plan(job)
        if not finished and plan is None:
            ref = (job.get("spec") or {}).get("runtimeRef") or {}
            events.append(
                (
                    "Warning",
                    "TrainJobResourcesCreationFailed",
                    "TrainJob resources reconciliation failed: "
                    f"{ref.get('kind') or 'ClusterTrainingRuntime'} {ref.get('name')} not found",
                )
            )
        if suspended:
            _set_meta_condition(
                conditions, "Suspended", "True", "Suspended", "TrainJob is suspended"
            )
        elif _is_true(conditions, "Suspended"):
            _set_meta_condition(conditions, "Suspended", "False", "Resumed", "TrainJob is resumed")
        jobset = self.store.try_get(JOBSET, ns, name, copy_=False)
        if plan is not None:
            jobset = self._ensure_jobset(job, plan, suspended, jobset)
        if jobset is not None:
            js_status = self._reconcile_jobset(jobset, plan, suspended)
            if js_status is not None:
                status["jobsStatus"] = js_status["replicatedJobsStatus"]
                for js_type, tj_type in (("Completed", "Complete"), ("Failed", "Failed")):
                    cond = _condition(js_status.get("conditions") or [], js_type)
                    if cond and cond.get("status") == "True":
                        _set_meta_condition(
                            conditions, tj_type, "True", cond["reason"], cond["message"]
                        )
        if not conditions:
            status.pop("conditions")
        self._write_status(TRAINJOB, job, status, events)

    def _ensure_jobset(
        self,
        job: dict[str, Any],
        plan: dict[str, Any],
        suspended: bool,
        jobset: dict[str, Any] | None,
    ) -> dict[str, Any] | None:
        meta = job["metadata"]
        name, ns = meta["name"], meta["namespace"]
        if jobset is not None:
            if bool((jobset.get("spec") or {}).get("suspend")) != suspended:

                def change(o: dict[str, Any]) -> None:
                    o["spec"]["suspend"] = suspended

                return self.store.mutate(JOBSET, ns, name, change)
            return jobset
        replicated = []
        for rj in plan["jobs"]:
            jt = kube.clone(rj["job_template"])
            jt.setdefault("spec", {})["template"] = rj["template"]
            jt["spec"]["parallelism"] = rj["count"]
            jt["spec"]["completions"] = rj["count"]
            jt["spec"]["completionMode"] = "Indexed"
            replicated.append({"name": rj["name"], "replicas": 1, "template": jt})
        manifest = {
            "apiVersion": "jobset.x-k8s.io/v1alpha2",
            "kind": "JobSet",
            "metadata": {
                "name": name,
                "namespace": ns,
                "labels": {"trainer.kubeflow.org/trainjob-name": name},
                "ownerReferences": [_owner_ref(job)],
            },
            "spec": {
                "replicatedJobs": replicated,
                "suspend": suspended,
                "network": {"enableDNSHostnames": True, "subdomain": name},
            },
        }
        try:
            created = self.store.create(JOBSET, manifest, ns)
        except ApiError as exc:
            self._event(
                job,
                "Warning",
                "TrainJobResourcesCreationFailed",
                f"TrainJob resources reconciliation failed: {exc.message[:950]}",
                "trainjob-controller",
            )
            return None
        with contextlib.suppress(ApiError):
            self.store.create(
                "services",
                {
                    "apiVersion": "v1",
                    "kind": "Service",
                    "metadata": {
                        "name": name,
                        "namespace": ns,
                        "ownerReferences": [_owner_ref(created)],
                    },
                    "spec": {
                        "clusterIP": "None",
                        "selector": {"jobset.sigs.k8s.io/jobset-name": name},
                        "publishNotReadyAddresses": True,
                    },
                },
                ns,
            )
        return created

    def _reconcile_jobset(
        self, jobset: dict[str, Any], plan: dict[str, Any] | None, suspended: bool
    ) -> dict[str, Any] | None:
        meta = jobset["metadata"]
        name, ns = meta["name"], meta["namespace"]
        status = kube.clone(jobset.get("status") or {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        finished = _is_true(conditions, "Completed") or _is_true(conditions, "Failed")
        pods = [
            p
            for p in self.store.select(
                "pods", ns, label_selector=f"jobset.sigs.k8s.io/jobset-name={name}"
            )
            if _controller_uid(p) == meta["uid"]
        ]
        if suspended and not finished:
            for pod in pods:
                self._delete_quietly("pods", ns, pod["metadata"]["name"])
            pods = []
        statuses = []
        any_failed = False
        all_done = True
        for rj in (jobset.get("spec") or {}).get("replicatedJobs") or []:
            rj_name = rj["name"]
            jt = rj.get("template") or {}
            count = int(
                (jt.get("spec") or {}).get("completions")
                or (jt.get("spec") or {}).get("parallelism")
                or 1
            )
            mine = [
                p
                for p in pods
                if (p["metadata"].get("labels") or {}).get("jobset.sigs.k8s.io/replicatedjob-name")
                == rj_name
            ]
            by_index = {(p["metadata"].get("labels") or {}).get(COMPLETION_INDEX): p for p in mine}
            if not suspended and not finished:
                for index in range(count):
                    if str(index) not in by_index:
                        pod = self._jobset_pod(jobset, rj, index)
                        try:
                            by_index[str(index)] = self.store.create("pods", pod, ns)
                        except ApiError as exc:
                            self._retry_later(f"trainjob/{_controller_uid(jobset)}")
                            self._event(
                                jobset,
                                "Warning",
                                "FailedCreate",
                                f"Error creating: {exc.message}",
                                "job-controller",
                            )
            phases = [((p.get("status") or {}).get("phase")) for p in by_index.values()]
            succeeded = sum(1 for ph in phases if ph == "Succeeded")
            failed = sum(1 for ph in phases if ph == "Failed")
            running = sum(1 for ph in phases if ph == "Running")
            job_succeeded = succeeded >= count
            job_failed = failed > 0
            any_failed |= job_failed
            all_done &= job_succeeded
            statuses.append(
                {
                    "name": rj_name,
                    "ready": 1
                    if running + succeeded >= count and not job_succeeded and not job_failed
                    else 0,
                    "succeeded": 1 if job_succeeded else 0,
                    "failed": 1 if job_failed else 0,
                    "active": 1 if not (job_succeeded or job_failed or suspended) else 0,
                    "suspended": 1 if suspended else 0,
                }
            )
        status["replicatedJobsStatus"] = statuses
        if not finished:
            if any_failed:
                _set_meta_condition(
                    conditions,
                    "Failed",
                    "True",
                    "FailedJobs",
                    "jobset failed due to one or more job failures",
                )
                status["terminalState"] = "Failed"
            elif all_done and statuses:
                _set_meta_condition(
                    conditions,
                    "Completed",
                    "True",
                    "AllJobsCompleted",
                    "jobset completed successfully",
                )
                status["terminalState"] = "Completed"
            elif suspended:
                _set_meta_condition(
                    conditions, "Suspended", "True", "SuspendedJobs", "jobset is suspended"
                )
            elif _is_true(conditions, "Suspended"):
                _set_meta_condition(
                    conditions, "Suspended", "False", "ResumeJobs", "jobset is resumed"
                )
        if status != (jobset.get("status") or {}):

            def change(o: dict[str, Any]) -> None:
                o["status"] = status

            self.store.mutate(JOBSET, ns, name, change, subresource="status")
        return status

    def _jobset_pod(self, jobset: dict[str, Any], rj: dict[str, Any], index: int) -> dict[str, Any]:
        meta = jobset["metadata"]
        name = meta["name"]
        jt = rj.get("template") or {}
        template = kube.clone((jt.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        job_name = f"{name}-{rj['name']}-0"
        labels = {
            **((jt.get("metadata") or {}).get("labels") or {}),
            **(tmeta.get("labels") or {}),
            "jobset.sigs.k8s.io/jobset-name": name,
            "jobset.sigs.k8s.io/replicatedjob-name": rj["name"],
            "jobset.sigs.k8s.io/replicatedjob-replicas": "1",
            "jobset.sigs.k8s.io/job-index": "0",
            "jobset.sigs.k8s.io/job-key": hashlib.sha1(
                f"{meta['namespace']}/{job_name}".encode()
            ).hexdigest(),
            "batch.kubernetes.io/job-name": job_name,
            "job-name": job_name,
            COMPLETION_INDEX: str(index),
        }
        annotations = {
            **(tmeta.get("annotations") or {}),
            "jobset.sigs.k8s.io/jobset-name": name,
            "jobset.sigs.k8s.io/replicatedjob-name": rj["name"],
            "jobset.sigs.k8s.io/job-index": "0",
            COMPLETION_INDEX: str(index),
        }
        spec = template.get("spec") or {}
        spec.setdefault(
            "restartPolicy",
            "Never" if spec.get("restartPolicy") in (None, "Always") else spec["restartPolicy"],
        )
        if spec["restartPolicy"] == "Always":
            spec["restartPolicy"] = "Never"
        spec["hostname"] = f"{job_name}-{index}"
        spec["subdomain"] = name
        suffix = "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{job_name}-{index}-{suffix}",
                "namespace": meta["namespace"],
                "labels": labels,
                "annotations": annotations,
                "ownerReferences": [_owner_ref(jobset)],
            },
            "spec": spec,
        }

    # -------------------- scheduler

    def _scheduler(self) -> None:
        store = self.store
        nodes = store.select("nodes")
        pods = store.select("pods")
        used: dict[str, dict[str, Decimal]] = {n["metadata"]["name"]: {} for n in nodes}
        waiting = []
        for pod in pods:
            spec = pod.get("spec") or {}
            phase = (pod.get("status") or {}).get("phase")
            node = spec.get("nodeName")
            if node:
                if phase not in ("Succeeded", "Failed") and node in used:
                    for res, q in kube.pod_requests(spec).items():
                        used[node][res] = used[node].get(res, Decimal(0)) + q
                    used[node]["pods"] = used[node].get("pods", Decimal(0)) + 1
            elif (
                phase == "Pending"
                and spec.get("schedulerName", "default-scheduler") == "default-scheduler"
            ):
                waiting.append(pod)
        waiting.sort(
            key=lambda p: (
                -int((p.get("spec") or {}).get("priority") or 0),
                p["metadata"]["creationTimestamp"],
                p["metadata"]["name"],
            )
        )
        for pod in waiting:
            spec = pod.get("spec") or {}
            ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
            if spec.get("schedulingGates"):
                self._pod_condition(
                    pod,
                    "PodScheduled",
                    "False",
                    "SchedulingGated",
                    "Scheduling is blocked due to non-empty scheduling gates",
                )
                continue
            requests = kube.pod_requests(spec)
            reasons: dict[str, int] = {}
            preemption: dict[str, int] = {}
            chosen = None
            for node in sorted(nodes, key=lambda n: n["metadata"]["name"]):
                node_reasons, helpful = _node_fit(
                    node, spec, requests, used[node["metadata"]["name"]]
                )
                if not node_reasons:
                    chosen = node
                    break
                for r in node_reasons:
                    reasons[r] = reasons.get(r, 0) + 1
                key = (
                    "No preemption victims found for incoming pod"
                    if helpful
                    else "Preemption is not helpful for scheduling"
                )
                preemption[key] = preemption.get(key, 0) + 1
            if chosen is None:
                total = len(nodes)
                if total == 0:
                    message = "no nodes available to schedule pods"
                else:
                    parts = sorted(f"{n} {r}" for r, n in reasons.items())
                    pparts = sorted(f"{n} {r}" for r, n in preemption.items())
                    message = (
                        f"0/{total} nodes are available: {', '.join(parts)}. "
                        f"preemption: 0/{total} nodes are available: {', '.join(pparts)}."
                    )
                changed = self._pod_condition(
                    pod, "PodScheduled", "False", "Unschedulable", message
                )
                if changed:
                    self._event(
                        pod,
                        "Warning",
                        "FailedScheduling",
                        message,
                        "default-scheduler",
                        new_api=True,
                        action="Scheduling",
                    )
                continue
            node_name = chosen["metadata"]["name"]
            for res, q in requests.items():
                used[node_name][res] = used[node_name].get(res, Decimal(0)) + q

            def bind(obj: dict[str, Any], node_name: str = node_name) -> None:
                obj["spec"]["nodeName"] = node_name
                conds = obj.setdefault("status", {}).setdefault("conditions", [])
                _set_pod_condition(conds, "PodScheduled", "True", "", "")

            bound = store.mutate("pods", ns, name, bind, subresource="all")
            if bound is not None:
                self._event(
                    bound,
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {ns}/{name} to {node_name}",
                    "default-scheduler",
                    host=node_name,
                    new_api=True,
                    action="Binding",
                )

    def _pod_condition(
        self, pod: dict[str, Any], ctype: str, status: str, reason: str, message: str
    ) -> bool:
        conds = (pod.get("status") or {}).get("conditions") or []
        cur = _condition(conds, ctype)
        if (
            cur
            and cur.get("status") == status
            and cur.get("reason", "") == reason
            and cur.get("message", "") == message
        ):
            return False

        def change(obj: dict[str, Any]) -> None:
            _set_pod_condition(
                obj.setdefault("status", {}).setdefault("conditions", []),
                ctype,
                status,
                reason,
                message,
            )

        self.store.mutate(
            "pods",
            pod["metadata"]["namespace"],
            pod["metadata"]["name"],
            change,
            subresource="status",
        )
        return True

    # -------------------- kubelet

    def _kubelet(self) -> None:
        store = self.store
        ours = {n.name for n in self.nodes} | {n["metadata"]["name"] for n in store.select("nodes")}
        live: set[tuple[str, str, str]] = set()
        for pod in store.select("pods"):
            spec = pod.get("spec") or {}
            if spec.get("nodeName") not in ours:
                continue
            meta = pod["metadata"]
            key = (meta["namespace"], meta["name"])
            live.add((*key, meta["uid"]))
            run = self._runs.get(key)
            if run is not None and run.uid != meta["uid"]:
                self._kill_run(run, grace=0)
                del self._runs[key]
                run = None
            if run is None:
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                run = self._new_run(pod)
                self._runs[key] = run
            if not run.done:
                self._sync_run(pod, run)
        for key, run in list(self._runs.items()):
            if (run.namespace, run.name, run.uid) not in live:
                self._kill_run(run, grace=None)
                del self._runs[key]
                if self.pod_processes.get(run.name) in [c.proc for c in run.containers]:
                    self.pod_processes.pop(run.name, None)

    def _new_run(self, pod: dict[str, Any]) -> _PodRun:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        pod_dir = self.workdir / "pods" / meta["namespace"] / f"{meta['name']}-{meta['uid'][:8]}"
        (pod_dir / "logs").mkdir(parents=True, exist_ok=True)
        containers = [
            _ContainerRun(
                c["name"], c.get("image", ""), True, pod_dir / "logs" / f"{c['name']}.log"
            )
            for c in spec.get("initContainers") or []
        ] + [
            _ContainerRun(
                c["name"], c.get("image", ""), False, pod_dir / "logs" / f"{c['name']}.log"
            )
            for c in spec.get("containers") or []
        ]
        return _PodRun(
            meta["namespace"], meta["name"], meta["uid"], spec["nodeName"], pod_dir, containers
        )

    def _sync_run(self, pod: dict[str, Any], run: _PodRun) -> None:
        node = run.node
        if not run.started:
            run.started = kube.now_iso()
        # Image pulls.
        bad = [c for c in run.containers if c.image in self.unpullable_images]
        if bad:
            now = time.monotonic()
            first = self._pull_started.setdefault(run.uid, now)
            for c in bad:
                if run.pull_failures == 0:
                    c.waiting_reason = "ErrImagePull"
                    c.waiting_message = (
                        "rpc error: code = NotFound desc = failed to pull and unpack image "
                        f'"{c.image}": '
                        f'failed to resolve reference "{c.image}": {c.image}: not found'
                    )
                else:
                    c.waiting_reason = "ImagePullBackOff"
                    c.waiting_message = f'Back-off pulling image "{c.image}"'
            if run.pull_failures == 0:
                for c in bad:
                    self._event(
                        pod, "Normal", "Pulling", f'Pulling image "{c.image}"', "kubelet", host=node
                    )
                    self._event(
                        pod,
                        "Warning",
                        "Failed",
                        f'Failed to pull image "{c.image}": {c.waiting_message}',
                        "kubelet",
                        host=node,
                    )
                    self._event(
                        pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", host=node
                    )
                run.pull_failures = 1
                self._write_pod_status(pod, run)
            elif run.pull_failures == 1 and now - first >= self.pull_backoff_seconds:
                for c in bad:
                    self._event(
                        pod,
                        "Normal",
                        "BackOff",
                        f'Back-off pulling image "{c.image}"',
                        "kubelet",
                        host=node,
                    )
                    self._event(
                        pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", host=node
                    )
                run.pull_failures = 2
                self._write_pod_status(pod, run)
            return
        if run.evicted:
            return
        # Start containers: init containers one by one, then all main containers.
        inits_ok = True
        for c in run.containers:
            if not c.init:
                continue
            if c.terminated and c.exit_code == 0:
                continue
            inits_ok = False
            if c.proc is None and not c.terminated:
                self._start_container(pod, run, c)
            break
        if inits_ok:
            for c in run.containers:
                if not c.init and c.proc is None and not c.terminated:
                    self._start_container(pod, run, c)
        # Watch processes.
        for c in run.containers:
            if c.running:
                assert c.proc is not None
                if c.memory_limit and self._rss(c.proc) > c.memory_limit:
                    c.oom = True
                    self._signal_group(c.proc, signal.SIGKILL)
                rc = c.proc.poll()
                if rc is not None:
                    # The container's other processes go with its main one (as PID 1's
                    # exit ends a container), which also closes the log pipe.
                    self._signal_group(c.proc, signal.SIGKILL)
                    if c.reader is not None:
                        c.reader.join(timeout=2)
                    c.finished_at = kube.now_iso()
                    if c.oom:
                        c.exit_code, c.reason = 137, "OOMKilled"
                    elif rc < 0:
                        c.exit_code, c.reason = 128 - rc, "Error"
                    else:
                        c.exit_code, c.reason = rc, "Completed" if rc == 0 else "Error"
        if all(c.terminated for c in run.containers if not c.init) or any(
            c.init and c.terminated and c.exit_code != 0 for c in run.containers
        ):
            run.done = True
        self._write_pod_status(pod, run)

    def _start_container(self, pod: dict[str, Any], run: _PodRun, c: _ContainerRun) -> None:
        spec = pod.get("spec") or {}
        container = next(
            x
            for x in list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
            if x["name"] == c.name
        )
        node = run.node
        try:
            if not run.volumes:
                run.volumes = self._materialise_volumes(pod, run)
            env = self._container_env(pod, run, container)
        except _ConfigError as exc:
            c.waiting_reason, c.waiting_message = "CreateContainerConfigError", str(exc)
            if run.config_error != str(exc):
                run.config_error = str(exc)
                self._event(pod, "Warning", "Failed", f"Error: {exc}", "kubelet", host=node)
            return
        run.config_error = ""
        mounts = self._mounts(container, run)
        argv = [
            _expand(x, env)
            for x in list(container.get("command") or []) + list(container.get("args") or [])
        ]
        if not container.get("command"):
            entry = self.image_entrypoints.get(c.image)
            argv = list(entry or []) + argv
        argv = [_rewrite_paths(x, mounts) for x in argv]
        env = {k: _rewrite_paths(v, mounts) for k, v in env.items()}
        self._event(
            pod,
            "Normal",
            "Pulled",
            f'Container image "{c.image}" already present on machine',
            "kubelet",
            host=node,
        )
        c.container_id = "containerd://" + secrets.token_hex(32)
        c.started_at = kube.now_iso()
        c.log_path.parent.mkdir(parents=True, exist_ok=True)
        c.log_path.touch()
        self.store.log_files[(run.namespace, run.name, c.name)] = str(c.log_path)
        limits = (container.get("resources") or {}).get("limits") or {}
        if "memory" in limits:
            c.memory_limit = int(kube.parse_quantity(limits["memory"]))
        workdir = _rewrite_paths(container.get("workingDir") or "", mounts)
        cwd = workdir if workdir and os.path.isdir(workdir) else str(run.dir)
        error = ""
        if not argv:
            error = "no command specified"
        else:
            exe = argv[0]
            if "/" not in exe:
                found = shutil.which(exe, path=self.bin_dir + os.pathsep + env.get("PATH", ""))
                if found is None:
                    error = f'exec: "{exe}": executable file not found in $PATH'
                else:
                    argv[0] = found
        if not error:
            try:
                proc = subprocess.Popen(
                    argv,
                    env=env,
                    cwd=cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                error = f"exec: {exc}"
        if error:
            text = (
                "failed to create containerd task: failed to create shim task: OCI runtime create "
                "failed: "
                f"runc create failed: unable to start container process: {error}: unknown"
            )
            c.exit_code, c.reason, c.message = 128, "StartError", text
            c.finished_at = c.started_at
            self._event(pod, "Warning", "Failed", f"Error: {text}", "kubelet", host=node)
            return
        c.proc = proc
        c.reader = threading.Thread(
            target=_pump, args=(proc, c.log_path), name=f"log-{run.name}-{c.name}", daemon=True
        )
        c.reader.start()
        if (not c.init and run.name not in self.pod_processes) or (
            not c.init and self.pod_processes.get(run.name) not in [x.proc for x in run.containers]
        ):
            self.pod_processes[run.name] = proc
        self._event(pod, "Normal", "Created", f"Created container: {c.name}", "kubelet", host=node)
        self._event(pod, "Normal", "Started", f"Started container {c.name}", "kubelet", host=node)

    def _write_pod_status(self, pod: dict[str, Any], run: _PodRun, force: bool = False) -> None:
        signature = (
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
        key = f"kubelet/{run.uid}"
        if not force and self._memo.get(key) == signature:
            return
        self._memo[key] = signature
        spec = pod.get("spec") or {}
        inits = [c for c in run.containers if c.init]
        mains = [c for c in run.containers if not c.init]
        statuses = {c.name: self._container_status(c, spec) for c in run.containers}
        init_failed = any(c.terminated and c.exit_code != 0 for c in inits)
        inits_done = all(c.terminated and c.exit_code == 0 for c in inits)
        if (
            run.evicted
            or init_failed
            or (mains and all(c.terminated for c in mains) and any(c.exit_code != 0 for c in mains))
        ):
            phase = "Failed"
        elif mains and all(c.terminated for c in mains):
            phase = "Succeeded"
        elif inits_done and mains and all(c.running or c.terminated for c in mains):
            phase = "Running"
        else:
            phase = "Pending"
        ready = phase == "Running" and all(c.running for c in mains)
        terminal = phase in ("Succeeded", "Failed")

        def change(obj: dict[str, Any]) -> None:
            status = obj.setdefault("status", {})
            status["phase"] = phase
            status["hostIP"] = "127.0.0.1"
            status["hostIPs"] = [{"ip": "127.0.0.1"}]
            if phase != "Pending" or any(c.started_at for c in run.containers):
                status["podIP"] = "127.0.0.1"
                status["podIPs"] = [{"ip": "127.0.0.1"}]
            status.setdefault("startTime", run.started)
            conds = status.setdefault("conditions", [])
            _set_pod_condition(
                conds, "PodReadyToStartContainers", "False" if terminal else "True", "", ""
            )
            if inits:
                _set_pod_condition(
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
                _set_pod_condition(conds, "Initialized", "True", "", "")
            if ready:
                _set_pod_condition(conds, "Ready", "True", "", "")
                _set_pod_condition(conds, "ContainersReady", "True", "", "")
            elif terminal:
                _set_pod_condition(conds, "Ready", "False", "PodCompleted", "")
                _set_pod_condition(conds, "ContainersReady", "False", "PodCompleted", "")
            else:
                unready = " ".join(c.name for c in mains if not c.running)
                _set_pod_condition(
                    conds,
                    "Ready",
                    "False",
                    "ContainersNotReady",
                    f"containers with unready status: [{unready}]",
                )
                _set_pod_condition(
                    conds,
                    "ContainersReady",
                    "False",
                    "ContainersNotReady",
                    f"containers with unready status: [{unready}]",
                )
            _set_pod_condition(conds, "PodScheduled", "True", "", "")
            if run.evicted:
                status["reason"] = "Evicted"
                status["message"] = run.evicted
                _set_pod_condition(
                    conds, "DisruptionTarget", "True", "TerminationByKubelet", run.evicted
                )
            order = [
                "PodReadyToStartContainers",
                "Initialized",
                "Ready",
                "ContainersReady",
                "PodScheduled",
                "DisruptionTarget",
            ]
            conds.sort(key=lambda c: order.index(c["type"]) if c["type"] in order else len(order))
            if inits:
                status["initContainerStatuses"] = [statuses[c.name] for c in inits]
            status["containerStatuses"] = [statuses[c.name] for c in mains]

        self.store.mutate("pods", run.namespace, run.name, change, subresource="status")

    @staticmethod
    def _container_status(c: _ContainerRun, spec: dict[str, Any]) -> dict[str, Any]:
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

    # volumes and env ----------------------------------------------------------

    def _materialise_volumes(self, pod: dict[str, Any], run: _PodRun) -> dict[str, str]:
        """Volume name -> host directory."""
        ns = run.namespace
        out: dict[str, str] = {}
        for vol in (pod.get("spec") or {}).get("volumes") or []:
            name = vol["name"]
            target = run.dir / "volumes" / name
            if "emptyDir" in vol:
                target.mkdir(parents=True, exist_ok=True)
                out[name] = str(target)
            elif "configMap" in vol or "secret" in vol:
                is_cm = "configMap" in vol
                src = vol["configMap"] if is_cm else vol["secret"]
                obj_name = src.get("name") if is_cm else src.get("secretName")
                obj = self.store.try_get(
                    "configmaps" if is_cm else "secrets", ns, obj_name or "", copy_=False
                )
                if obj is None:
                    if src.get("optional"):
                        target.mkdir(parents=True, exist_ok=True)
                        out[name] = str(target)
                        continue
                    what = "configmap" if is_cm else "secret"
                    raise _ConfigError(f'{what} "{obj_name}" not found')
                data: dict[str, bytes] = {}
                if is_cm:
                    data.update({k: v.encode() for k, v in (obj.get("data") or {}).items()})
                    data.update(
                        {k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()}
                    )
                else:
                    data.update(
                        {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
                    )
                target.mkdir(parents=True, exist_ok=True)
                items = src.get("items")
                files = (
                    {i["path"]: data[i["key"]] for i in items if i["key"] in data}
                    if items
                    else {k: v for k, v in data.items()}
                )
                for rel, content in files.items():
                    path = target / rel
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
                out[name] = str(target)
            elif "persistentVolumeClaim" in vol:
                claim = vol["persistentVolumeClaim"].get("claimName", "")
                out[name] = str(self.pvc_paths[claim]) if claim in self.pvc_paths else ""
            elif "hostPath" in vol:
                out[name] = vol["hostPath"].get("path", "")
            else:
                target.mkdir(parents=True, exist_ok=True)
                out[name] = str(target)
        return out

    def _mounts(self, container: dict[str, Any], run: _PodRun) -> list[tuple[str, str]]:
        """(mountPath, host dir) pairs, longest mountPath first; identity mounts left out."""
        pairs = []
        for mount in container.get("volumeMounts") or []:
            base = run.volumes.get(mount["name"])
            if base is None:
                continue
            if base == "":
                continue  # identity (PVC without a mapping)
            host = os.path.join(base, mount["subPath"]) if mount.get("subPath") else base
            if host != mount["mountPath"]:
                pairs.append((mount["mountPath"].rstrip("/") or "/", host))
        pairs.sort(key=lambda p: -len(p[0]))
        return pairs

    def _container_env(
        self, pod: dict[str, Any], run: _PodRun, container: dict[str, Any]
    ) -> dict[str, str]:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns = meta["namespace"]
        env: dict[str, str] = {
            "PATH": self.bin_dir
            + os.pathsep
            + os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(run.dir / "home"),
            "TMPDIR": str(run.dir / "tmp"),
            "HOSTNAME": spec.get("hostname") or meta["name"],
            "LANG": "C.UTF-8",
        }
        (run.dir / "home").mkdir(exist_ok=True)
        (run.dir / "tmp").mkdir(exist_ok=True)
        env.update(self.extra_env)
        for source in container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            if "configMapRef" in source or "secretRef" in source:
                is_cm = "configMapRef" in source
                ref = source["configMapRef"] if is_cm else source["secretRef"]
                obj = self.store.try_get(
                    "configmaps" if is_cm else "secrets", ns, ref.get("name", ""), copy_=False
                )
                if obj is None:
                    if ref.get("optional"):
                        continue
                    raise _ConfigError(
                        f'{"configmap" if is_cm else "secret"} "{ref.get("name")}" not found'
                    )
                for k, v in (obj.get("data") or {}).items():
                    env[prefix + k] = v if is_cm else _b64(v)
        job_key = _controller_uid(pod) or meta["uid"]
        for item in container.get("env") or []:
            name = item["name"]
            if "valueFrom" in item:
                value = self._value_from(pod, container, item["valueFrom"])
                if value is None:
                    continue
            else:
                value = _expand(item.get("value", ""), env)
            env[name] = value
        # Loopback rewrites.
        for key in ("MASTER_ADDR", "PET_MASTER_ADDR"):
            if key in env:
                env[key] = "127.0.0.1"
        for key in ("MASTER_PORT", "PET_MASTER_PORT"):
            if key in env and env[key].isdigit():
                env[key] = str(self._job_port(job_key, env[key]))
        if "PET_RDZV_ENDPOINT" in env:
            host_port = env["PET_RDZV_ENDPOINT"].rsplit(":", 1)
            port = host_port[1] if len(host_port) == 2 and host_port[1].isdigit() else "29400"
            env["PET_RDZV_ENDPOINT"] = f"127.0.0.1:{self._job_port(job_key, port)}"
        return env

    def _job_port(self, job_key: str, original: str) -> int:
        key = (job_key, original)
        if key not in self._ports:
            self._ports[key] = _free_port(self._taken_ports)
        return self._ports[key]

    def _value_from(
        self, pod: dict[str, Any], container: dict[str, Any], source: dict[str, Any]
    ) -> str | None:
        ns = pod["metadata"]["namespace"]
        if "fieldRef" in source:
            path = source["fieldRef"].get("fieldPath", "")
            match = re.match(r"^metadata\.(labels|annotations)\['(.+)'\]$", path)
            if match:
                return str((pod["metadata"].get(match.group(1)) or {}).get(match.group(2), ""))
            simple = {
                "metadata.name": pod["metadata"]["name"],
                "metadata.namespace": ns,
                "metadata.uid": pod["metadata"]["uid"],
                "spec.nodeName": (pod.get("spec") or {}).get("nodeName", ""),
                "spec.serviceAccountName": (pod.get("spec") or {}).get("serviceAccountName", ""),
                "status.hostIP": "127.0.0.1",
                "status.hostIPs": "127.0.0.1",
                "status.podIP": "127.0.0.1",
                "status.podIPs": "127.0.0.1",
            }
            if path in simple:
                return str(simple[path])
            raise _ConfigError(f"unsupported fieldRef {path}")
        if "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            resource = ref.get("resource", "")
            kind, _, res = resource.partition(".")
            values = (container.get("resources") or {}).get(kind) or {}
            if res in values:
                amount = kube.parse_quantity(values[res])
            else:
                node = next(
                    (n for n in self.nodes if n.name == (pod.get("spec") or {}).get("nodeName")),
                    None,
                )
                amount = kube.parse_quantity(getattr(node, res, "0") if node else "0")
            divisor = kube.parse_quantity(ref.get("divisor", "1"))
            value = amount / divisor
            return str(int(value.to_integral_value(rounding="ROUND_CEILING")))
        for key, plural, what in (
            ("configMapKeyRef", "configmaps", "ConfigMap"),
            ("secretKeyRef", "secrets", "Secret"),
        ):
            if key in source:
                ref = source[key]
                obj = self.store.try_get(plural, ns, ref.get("name", ""), copy_=False)
                if obj is None:
                    if ref.get("optional"):
                        return None
                    raise _ConfigError(
                        f"{'configmap' if plural == 'configmaps' else 'secret'} "
                        f'"{ref.get("name")}" not found'
                    )
                data = obj.get("data") or {}
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        return None
                    raise _ConfigError(
                        f"couldn't find key {ref.get('key')} in {what} {ns}/{ref.get('name')}"
                    )
                value = data[ref["key"]]
                return value if plural == "configmaps" else _b64(value)
        return None

    # processes -----------------------------------------------------------------

    @staticmethod
    def _rss(proc: subprocess.Popen[bytes]) -> int:
        try:
            parent = psutil.Process(proc.pid)
            procs = [parent, *parent.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                total += p.memory_info().rss
        return total

    @staticmethod
    def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
            os.killpg(proc.pid, sig)

    def _kill_run(self, run: _PodRun, grace: float | None) -> None:
        """Stop a pod's processes: SIGTERM, then SIGKILL after the grace period (capped by
        ``max_grace_seconds``)."""
        for c in run.containers:
            if c.proc is None:
                continue
            if c.proc.poll() is None:
                self._signal_group(c.proc, signal.SIGTERM)
            wait = self.max_grace_seconds if grace is None else grace
            self._dead.append((c.proc, time.monotonic() + wait))

    def _reap(self) -> None:
        """SIGKILL what outlived its grace period; forget processes that are gone."""
        now = time.monotonic()
        keep = []
        for proc, deadline in self._dead:
            if proc.poll() is not None:
                self._signal_group(proc, signal.SIGKILL)  # orphans of the container
                if proc.stdout is not None:
                    with contextlib.suppress(OSError):
                        proc.stdout.close()
                continue
            if now >= deadline:
                self._signal_group(proc, signal.SIGKILL)
            keep.append((proc, deadline))
        self._dead = keep

    def evict(
        self,
        pod_name: str,
        namespace: str = "ml",
        message: str = "The node was low on resource: memory.",
    ) -> None:
        """The kubelet evicts a pod: its processes are killed, phase Failed, reason Evicted."""
        with self._lock:
            pod = self.store.get("pods", namespace, pod_name, copy_=False)
            run = self._runs.get((namespace, pod_name))
            if run is None:
                node = (pod.get("spec") or {}).get("nodeName") or (
                    self.nodes[0].name if self.nodes else ""
                )
                run = _PodRun(
                    namespace,
                    pod_name,
                    pod["metadata"]["uid"],
                    node,
                    self.workdir / "pods" / namespace / pod_name,
                    [
                        _ContainerRun(c["name"], c.get("image", ""), False, Path(os.devnull))
                        for c in (pod.get("spec") or {}).get("containers") or []
                    ],
                )
                self._runs[(namespace, pod_name)] = run
            run.evicted = message
            for c in run.containers:
                if c.proc is not None and c.proc.poll() is None:
                    self._signal_group(c.proc, signal.SIGKILL)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        c.proc.wait(timeout=5)
                    if c.reader is not None:
                        c.reader.join(timeout=2)
                if not c.terminated:
                    c.exit_code, c.reason = 137, "Error"
                    c.started_at = c.started_at or kube.now_iso()
                    c.finished_at = kube.now_iso()
            run.done = True
            self._event(pod, "Warning", "Evicted", message, "kubelet", host=run.node)
            for c in run.containers:
                self._event(
                    pod,
                    "Normal",
                    "Killing",
                    f"Stopping container {c.name}",
                    "kubelet",
                    host=run.node,
                )
            self._write_pod_status(pod, run, force=True)

    # -------------------- ResourceQuota status

    def _quota_status(self) -> None:
        from .store import pod_quota_usage

        quotas = self.store.select("resourcequotas")
        if not quotas:
            return
        for quota in quotas:
            ns = quota["metadata"]["namespace"]
            hard = (quota.get("spec") or {}).get("hard") or {}
            used: dict[str, Decimal] = {}
            for pod in self.store.select("pods", ns):
                if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                for k, q in pod_quota_usage(pod).items():
                    used[k] = used.get(k, Decimal(0)) + q
            status = {
                "hard": dict(hard),
                "used": {
                    k: kube.format_quantity(used.get(k, Decimal(0)), k.split(".", 1)[-1])
                    for k in hard
                },
            }
            if status != quota.get("status"):

                def change(o: dict[str, Any], status: dict[str, Any] = status) -> None:
                    o["status"] = status

                self.store.mutate(
                    "resourcequotas", ns, quota["metadata"]["name"], change, subresource="status"
                )

    # -------------------- helpers for tests

    def wait_for(self, predicate: Any, timeout: float = 30.0, interval: float = 0.05) -> Any:
        """Poll ``predicate()`` until it returns something truthy (returned), or fail."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.errors:
                raise AssertionError("fake cluster failed:\n" + self.errors[-1])
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            time.sleep(interval)


def _by_name(items: list[dict[str, Any]], extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with each of ``extra`` replacing the entry of the same name, or appended."""
    out = [dict(i) for i in items]
    for item in extra:
        out = [o for o in out if o.get("name") != item.get("name")] + [kube.clone(item)]
    return out


def _apply_runtime_patches(job: dict[str, Any], replicated: str, template: dict[str, Any]) -> None:
    """TrainJob ``spec.runtimePatches``: labels, annotations and the permitted pod fields
    (volumes, containers' env and volumeMounts, placement, service account, pull secrets)
    patched into a replicated job's pod template, in order."""
    for patch in (job.get("spec") or {}).get("runtimePatches") or []:
        runtime_spec = (patch.get("trainingRuntimeSpec") or {}).get("template") or {}
        for rj in (runtime_spec.get("spec") or {}).get("replicatedJobs") or []:
            if rj.get("name") != replicated:
                continue
            pod = ((rj.get("template") or {}).get("spec") or {}).get("template") or {}
            meta = template.setdefault("metadata", {})
            for key in ("labels", "annotations"):
                extra = (pod.get("metadata") or {}).get(key) or {}
                if extra:
                    meta[key] = {**(meta.get(key) or {}), **extra}
            spec = template.setdefault("spec", {})
            wanted = pod.get("spec") or {}
            spec["volumes"] = _by_name(spec.get("volumes") or [], wanted.get("volumes") or [])
            for key in ("nodeSelector",):
                if wanted.get(key):
                    spec[key] = {**(spec.get(key) or {}), **wanted[key]}
            for key in ("affinity", "serviceAccountName", "securityContext"):
                if wanted.get(key):
                    spec[key] = kube.clone(wanted[key])
            for key in ("tolerations", "imagePullSecrets"):
                if wanted.get(key):
                    spec[key] = [*(spec.get(key) or []), *kube.clone(wanted[key])]
            for change in wanted.get("containers") or []:
                for container in spec.get("containers") or []:
                    if container.get("name") != change.get("name"):
                        continue
                    container["env"] = _upsert_env(
                        container.get("env") or [], change.get("env") or []
                    )
                    container["volumeMounts"] = [
                        *(container.get("volumeMounts") or []),
                        *kube.clone(change.get("volumeMounts") or []),
                    ]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _ConfigError(Exception):
    pass


def _b64(value: str) -> str:
    return base64.b64decode(value).decode("utf-8", "replace")


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion (``$$`` escapes, unknown references stay)."""

    def repl(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_RE.sub(repl, text)


def _literal(value: str) -> Callable[[re.Match[str]], str]:
    return lambda _match: value


def _rewrite_paths(text: str, mounts: list[tuple[str, str]]) -> str:
    for mount, host in mounts:
        if mount == "/":
            continue
        text = re.sub(re.escape(mount) + r"(?=/|$|[^\w.\-])", _literal(host), text)
    return text


def _pump(proc: subprocess.Popen[bytes], path: Path) -> None:
    """Copy a process's output into a CRI-format log file, timestamped per line."""
    assert proc.stdout is not None
    with open(path, "ab", buffering=0) as out:
        for line in iter(proc.stdout.readline, b""):
            ts = kube.now_nano().encode()
            if line.endswith(b"\n"):
                out.write(ts + b" stdout F " + line)
            else:
                out.write(ts + b" stdout P " + line + b"\n")


def _set_pod_condition(
    conds: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str
) -> None:
    cur = _condition(conds, ctype)
    if (
        cur
        and cur.get("status") == status
        and cur.get("reason", "") == reason
        and cur.get("message", "") == message
    ):
        return
    new: dict[str, Any] = {
        "type": ctype,
        "status": status,
        "lastProbeTime": None,
        "lastTransitionTime": kube.now_iso(),
    }
    if cur and cur.get("status") == status:
        new["lastTransitionTime"] = cur.get("lastTransitionTime")
    if reason:
        new["reason"] = reason
    if message:
        new["message"] = message
    new = {k: v for k, v in new.items() if v is not None}
    if cur:
        conds[conds.index(cur)] = new
    else:
        conds.append(new)


def _set_job_condition(
    conds: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str
) -> None:
    """training-operator v1 ``UpdateJobConditions``/``setCondition``."""
    if _is_true(conds, "Failed"):
        return
    cur = _condition(conds, ctype)
    if cur and cur.get("status") == status and cur.get("reason") == reason:
        return
    now = kube.now_iso()
    new = {
        "type": ctype,
        "status": status,
        "reason": reason,
        "message": message,
        "lastUpdateTime": now,
        "lastTransitionTime": cur["lastTransitionTime"]
        if cur and cur.get("status") == status
        else now,
    }
    kept = []
    for c in conds:
        if (ctype == "Restarting" and c["type"] == "Running") or (
            ctype == "Running" and c["type"] == "Restarting"
        ):
            continue
        if c["type"] == ctype:
            continue
        if ctype in ("Failed", "Succeeded") and c["type"] == "Running":
            c = dict(c, status="False")
        kept.append(c)
    kept.append(new)
    conds[:] = kept


def _ordered_replica_types(specs: dict[str, Any]) -> list[str]:
    order = ["Master", "Worker"]
    return [t for t in order if t in specs] + sorted(t for t in specs if t not in order)


def _pytorch_port(replicas: dict[str, Any], rtype: str) -> int:
    rspec = replicas.get(rtype) or {}
    for container in ((rspec.get("template") or {}).get("spec") or {}).get("containers") or []:
        if container.get("name") == "pytorch":
            for port in container.get("ports") or []:
                if port.get("name") == PYTORCH_PORT_NAME:
                    return int(port.get("containerPort", PYTORCH_DEFAULT_PORT))
    return PYTORCH_DEFAULT_PORT


def _pytorch_defaults(spec: dict[str, Any]) -> dict[str, Any]:
    """SetDefaults_PyTorchJob (v1.9), in memory as the operator applies it."""
    spec = kube.clone(spec)
    run_policy = spec.setdefault("runPolicy", {})
    run_policy.setdefault("cleanPodPolicy", "None")
    replicas = spec.setdefault("pytorchReplicaSpecs", {})
    for key in list(replicas):
        camel = key[:1].upper() + key[1:].lower()
        if camel in ("Master", "Worker") and camel != key:
            replicas[camel] = replicas.pop(key)
    for rspec in replicas.values():
        rspec.setdefault("replicas", 1)
        rspec.setdefault("restartPolicy", "OnFailure")
        pod_spec = rspec.setdefault("template", {}).setdefault("spec", {})
        for container in pod_spec.get("containers") or []:
            if container.get("name") == "pytorch":
                ports = container.setdefault("ports", [])
                if not any(p.get("name") == PYTORCH_PORT_NAME for p in ports):
                    ports.append(
                        {
                            "name": PYTORCH_PORT_NAME,
                            "containerPort": PYTORCH_DEFAULT_PORT,
                            "protocol": "TCP",
                        }
                    )
    elastic = spec.get("elasticPolicy")
    if elastic is not None:
        worker = (replicas.get("Worker") or {}).get("replicas")
        if elastic.get("maxReplicas") is not None and elastic.get("minReplicas") is None:
            elastic["minReplicas"] = elastic["maxReplicas"]
        elif elastic.get("minReplicas") is not None and elastic.get("maxReplicas") is None:
            elastic["maxReplicas"] = elastic["minReplicas"]
        elif elastic.get("minReplicas") is None and elastic.get("maxReplicas") is None:
            elastic["minReplicas"] = elastic["maxReplicas"] = worker
    if (elastic is not None and elastic.get("nProcPerNode") is None) or elastic is None:
        spec.setdefault("nprocPerNode", "auto")
    return spec


def _elastic_env(name: str, spec: dict[str, Any], elastic: dict[str, Any]) -> list[dict[str, Any]]:
    replicas = spec["pytorchReplicaSpecs"]
    host = elastic.get("rdzvHost") or f"{name}-worker-0"
    port = elastic.get("rdzvPort") or _pytorch_port(replicas, "Worker")
    env = [
        {"name": "PET_RDZV_ENDPOINT", "value": f"{host}:{port}"},
        {"name": "PET_RDZV_BACKEND", "value": elastic.get("rdzvBackend") or "c10d"},
    ]
    if elastic.get("minReplicas") is None and elastic.get("maxReplicas") is None:
        env.append(
            {"name": "PET_NNODES", "value": str((replicas.get("Worker") or {}).get("replicas", 1))}
        )
    else:
        env.append(
            {
                "name": "PET_NNODES",
                "value": f"{elastic.get('minReplicas')}:{elastic.get('maxReplicas')}",
            }
        )
    if elastic.get("maxRestarts") is not None:
        env.append({"name": "PET_MAX_RESTARTS", "value": str(elastic["maxRestarts"])})
    if elastic.get("nProcPerNode") is not None:
        env.append({"name": "PET_NPROC_PER_NODE", "value": str(elastic["nProcPerNode"])})
    if elastic.get("rdzvId") is not None:
        env.append({"name": "PET_RDZV_ID", "value": str(elastic["rdzvId"])})
    if elastic.get("rdzvConf"):
        env.append(
            {
                "name": "PET_RDZV_CONF",
                "value": ",".join(f"{c['key']}={c['value']}" for c in elastic["rdzvConf"]),
            }
        )
    if elastic.get("standalone"):
        env.append({"name": "PET_STANDALONE", "value": ""})
    return env


def _validate_pytorchjob(job: dict[str, Any]) -> list[str]:
    """The v1.9 PyTorchJob validating webhook (field errors as apimachinery prints them)."""
    from . import validation

    errors = []
    name = job["metadata"].get("name", "")
    err = validation.dns1035_label_error(name)
    if err:
        errors.append(f'metadata.name: Invalid value: "{name}": should match: {err}')
    spec = job.get("spec") or {}
    elastic = spec.get("elasticPolicy")
    replicas = spec.get("pytorchReplicaSpecs")
    if elastic is not None:
        if "Worker" not in (replicas or {}):
            errors.append(
                "spec.pytorchReplicaSpecs[Worker]: Required value: must be configured if elastic "
                "policy is used"
            )
        if elastic.get("nProcPerNode") is not None and spec.get("nprocPerNode") is not None:
            errors.append(
                "spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with "
                "spec.nprocPerNode"
            )
    if replicas is None:
        errors.append("spec.pytorchReplicaSpecs: Required value: must be required")
        return errors
    for rtype, rspec in replicas.items():
        path = f"spec.pytorchReplicaSpecs[{rtype}]"
        containers_path = f"{path}.template.spec.containers"
        if rtype not in ("Master", "Worker"):
            errors.append(
                f'{path}: Unsupported value: "{rtype}": supported values: "Master", "Worker"'
            )
        containers = (((rspec or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        if not containers:
            errors.append(f"{containers_path}: Required value: must be specified")
        for index, container in enumerate(containers):
            if not container.get("image"):
                errors.append(f"{containers_path}[{index}].image: Required value: must be required")
        if not any(c.get("name") == "pytorch" for c in containers):
            errors.append(
                f"{containers_path}: Required value: must have at least one container with name "
                "pytorch"
            )
        count = (rspec or {}).get("replicas")
        if rtype == "Master":
            if count is None or int(count) != 1:
                errors.append(f"{path}.replicas: Forbidden: must be 1")
        elif count is not None and int(count) < 1:
            errors.append(f"{path}.replicas: Forbidden: must be at least 1")
    return errors


def _node_fit(
    node: dict[str, Any],
    spec: dict[str, Any],
    requests: dict[str, Decimal],
    used: dict[str, Decimal],
) -> tuple[list[str], bool]:
    """(reasons the pod does not fit this node, whether preemption could help)."""
    nspec = node.get("spec") or {}
    labels = node["metadata"].get("labels") or {}
    if nspec.get("unschedulable"):
        return ["node(s) were unschedulable"], False
    selector = spec.get("nodeSelector") or {}
    if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_ok(spec, labels):
        return ["node(s) didn't match Pod's node affinity/selector"], False
    for taint in nspec.get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(_tolerates(t, taint) for t in spec.get("tolerations") or []):
            shown = (
                f"{taint.get('key')}: {taint.get('value')}"
                if taint.get("value")
                else taint.get("key")
            )
            return [f"node(s) had untolerated taint {{{shown}}}"], False
    allocatable = kube.resource_list((node.get("status") or {}).get("allocatable"))
    reasons = []
    if used.get("pods", Decimal(0)) + 1 > allocatable.get("pods", Decimal(110)):
        reasons.append("Too many pods")
    for res, q in sorted(requests.items()):
        if q <= 0:
            continue
        free = allocatable.get(res, Decimal(0)) - used.get(res, Decimal(0))
        if q > free:
            reasons.append(f"Insufficient {res}")
    return reasons, True


def _tolerates(toleration: dict[str, Any], taint: dict[str, Any]) -> bool:
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("operator") == "Exists":
        return not toleration.get("key") or toleration["key"] == taint.get("key")
    return toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get(
        "value", ""
    )


def _affinity_ok(spec: dict[str, Any], labels: dict[str, str]) -> bool:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    for term in terms:
        ok = True
        for expr in term.get("matchExpressions") or []:
            key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
            has = key in labels
            if (
                (op == "In" and labels.get(key) not in values)
                or (op == "NotIn" and has and labels.get(key) in values)
                or (op == "Exists" and not has)
                or (op == "DoesNotExist" and has)
            ):
                ok = False
            elif op in ("Gt", "Lt"):
                try:
                    value = int(labels.get(key, ""))
                    bound = int(values[0])
                except (ValueError, IndexError):
                    ok = False
                else:
                    ok = ok and (value > bound if op == "Gt" else value < bound)
        if ok:
            return True
    return False
