"""``FakeCluster``: the controllers of a cluster, playing against an ``ApiEmulator`` from
one background thread."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..emulator import ApiEmulator
from ..store import AdmissionHook, Store
from .common import CLUSTERQUEUE, CTR, FLAVOR, LOCALQUEUE, TR
from .controller import EventRecorder, Memo
from .fluid import FakeFluid
from .kubelet import Kubelet
from .kueue import Kueue
from .kueue_scheduler import KueueScheduler
from .node import Node
from .resource_quota import update_quota_status
from .scheduler import Scheduler
from .trainer import Trainer
from .training_operator import TrainingOperator

LIMITS = """\
What the fake controllers leave out (a real cluster does these):
- Kueue: no preemption, borrowing/cohorts, admission checks, waitForPodsReady, partial
  admission or TAS; an unknown priority class counts as priority 0; flavor nodeLabels are
  injected into PyTorchJob pod templates only; finalizers are not added to Workloads;
  Workload deactivation (spec.active=false) and eviction are not emulated.
- Training operator: restartPolicy OnFailure/Always/ExitCode never restart (a failed pod
  fails the job); no backoffLimit or ttlSecondsAfterFinished; no gang scheduling; services
  are created but nothing resolves their names (env rewrites do).
- Trainer: only the runtime's trainer step ("node") runs (no dataset/model initializers);
  pods are owned by the JobSet directly (no batch/v1 Jobs); a failed pod fails the JobSet
  (no retries); runtime deprecation warnings are ignored; runtimePatches apply their
  labels, annotations and permitted pod fields to the pod template.
- Scheduler: no preemption, affinity/anti-affinity between pods, topology spread or
  priorities beyond ordering; the first node (by name) that fits wins.
- Kubelet: see KUBELET; no probes, no CPU limits, no restarts.
- Fluid: see cluster.fluid; no runtime pods, no webhook, no eviction, DataLoad policy Once.
"""


class FakeCluster:
    """Controllers + scheduler + kubelet for an ``ApiEmulator`` (see the package docstring)."""

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
        self.slow_pulls: dict[str, float] = {}  # image -> seconds its pull takes
        self.priority_classes: dict[str, int] = {}
        self.pvc_paths: dict[str, Path] = {}
        # Fluid: runtimes that never become ready, StorageClasses whose claims bind, files a
        # DataLoad copies per pass (so a test sees it Executing).
        self.unready_runtimes: set[str] = set()
        self.thin_profiles: set[str] = set()  # ThinRuntimeProfiles installed
        self.juicefs_volumes: dict[str, Path] = {}  # metaurl -> the formatted volume's files
        self.provisioned_classes: set[str] = set()
        self.fluid_files_per_pass = 4
        self.fluid_pass_seconds = 0.05
        self.extra_env: dict[str, str] = {}
        self.image_entrypoints: dict[str, list[str]] = {}
        self.errors: list[str] = []  # tracebacks of controller bugs (a test may assert it is empty)
        self.bin_dir = str(Path(sys.executable).parent)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hooks_installed = False
        self._memo = Memo()
        events = EventRecorder(self.store)
        # Kueue and the kubelet read their knobs (the attributes above) from this object
        # when they act, so a test may change them at any time.
        self._operator = TrainingOperator(self.store, events, self._memo)
        self._trainer = Trainer(self.store, events, self._memo)
        self._kueue = Kueue(self.store, events, self._memo, self)
        self._kueue_scheduler = KueueScheduler(self.store, events, self._memo)
        self._scheduler = Scheduler(self.store, events)
        self._kubelet = Kubelet(self.store, events, self._memo, self)
        self._fluid = FakeFluid(self.store, events, self._memo, self)
        self.pod_processes = self._kubelet.pod_processes  # pod name -> its main process

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
            runs = self._kubelet.forget_runs()
        self._kubelet.kill(runs)

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
                if new_rv == rv and not self._memo.retry_due(time.monotonic()):
                    # Nothing changed in the store: only the kubelet has work (processes).
                    with self._lock:
                        self._kubelet.sync()
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
            self._operator.reconcile()
            self._trainer.reconcile()
            self._kueue.reconcile()
            self._kueue_scheduler.reconcile()
            self._fluid.reconcile()
            self._scheduler.reconcile()
            self._kubelet.sync()
            update_quota_status(self.store)

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

    def _hooks(self) -> list[tuple[list[AdmissionHook], AdmissionHook]]:
        return [
            (self.store.mutating_hooks, self._kueue.webhook),
            (self.store.validating_hooks, self._operator.webhook),
            (self.store.validating_hooks, self._trainer.webhook),
        ]

    def _install_hooks(self) -> None:
        if not self._hooks_installed:
            for hooks, hook in self._hooks():
                hooks.append(hook)
            self._hooks_installed = True

    def _remove_hooks(self) -> None:
        if self._hooks_installed:
            for hooks, hook in self._hooks():
                with contextlib.suppress(ValueError):
                    hooks.remove(hook)
            self._hooks_installed = False

    # -------------------- helpers for tests

    def evict(
        self,
        pod_name: str,
        namespace: str = "ml",
        message: str = "The node was low on resource: memory.",
    ) -> None:
        """The kubelet evicts a pod: its processes are killed, phase Failed, reason Evicted."""
        with self._lock:
            self._kubelet.evict(pod_name, namespace, message)

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
