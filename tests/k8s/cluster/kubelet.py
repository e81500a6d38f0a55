"""The kubelet: pulls (``unpullable_images`` fail with ErrImagePull then
ImagePullBackOff; ``slow_pulls[image]`` take that many seconds), then RUNS each container's
command as a local process with the pod's env, serving its output as the pod log;
OOMKilled over ``limits.memory``; eviction; deleted pods' processes are killed. ``KUBELET``
says how a pod is made to work on loopback."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from .. import kube
from ..store import Store
from .container_view import CgroupViews, forget_ports, map_ports
from .controller import Controller, EventRecorder, Memo
from .metrics import MetricsServer
from .pod_env import ConfigError, PodEnvironment, expand, mount_pairs, rewrite_paths
from .pod_runs import ContainerRun, KubeletSettings, PodRun, write_pod_status
from .processes import pump_log, rss, signal_group, spawn

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
- its own cgroup: a cgroup v2 directory per container, written from its process tree's
  resident memory and CPU time, appears at /sys/fs/cgroup (rewritten like a mountPath).
- declared containerPorts get a free loopback port each (pods share 127.0.0.1): env vars
  named *_PORT holding the port number are rewritten to it, and the pod proxy dials it.
- workingDir: used when it exists on this host (after the rewrite), else the scratch dir.
- stdout+stderr go, in CRI log format, to a file behind the pod log endpoint.
- restartPolicy OnFailure/Always is treated as Never: an exited container stays terminated
  (so a PyTorchJob replica with the default OnFailure fails instead of restarting).
- a pod with an unpullable image starts none of its containers; one with an image in
  cluster.slow_pulls stays ContainerCreating (a Pulling event) for that many seconds.
"""


class Kubelet(Controller):
    """Runs the pods bound to the cluster's nodes as processes of this host."""

    def __init__(
        self, store: Store, events: EventRecorder, memo: Memo, settings: KubeletSettings
    ) -> None:
        super().__init__(store, events, memo)
        self.settings = settings
        self.env = PodEnvironment(store, settings)
        self.pod_processes: dict[str, subprocess.Popen[bytes]] = {}
        self._runs: dict[tuple[str, str], PodRun] = {}
        self._dead: list[tuple[subprocess.Popen[bytes], float]] = []  # (proc, SIGKILL deadline)
        self._pull_started: dict[str, float] = {}
        self._pulling: set[str] = set()  # pod uids whose slow pull was announced
        self.metrics = MetricsServer(store)
        self.cgroups = CgroupViews()

    def sync(self) -> None:
        """Start, watch and stop the pods' processes; SIGKILL what outlived its grace."""
        self._sync_pods()
        self.reap()
        self.metrics.sync(self._runs.values())
        self.cgroups.sync(self._runs.values())

    def _sync_pods(self) -> None:
        store = self.store
        ours = {n.name for n in self.settings.nodes} | {
            n["metadata"]["name"] for n in store.select("nodes")
        }
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
                forget_ports(self.store, run)
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
                forget_ports(self.store, run)
                if self.pod_processes.get(run.name) in [c.proc for c in run.containers]:
                    self.pod_processes.pop(run.name, None)

    def _new_run(self, pod: dict[str, Any]) -> PodRun:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        pod_dir = (
            self.settings.workdir / "pods" / meta["namespace"] / f"{meta['name']}-{meta['uid'][:8]}"
        )
        (pod_dir / "logs").mkdir(parents=True, exist_ok=True)
        containers = [
            ContainerRun(c["name"], c.get("image", ""), True, pod_dir / "logs" / f"{c['name']}.log")
            for c in spec.get("initContainers") or []
        ] + [
            ContainerRun(
                c["name"], c.get("image", ""), False, pod_dir / "logs" / f"{c['name']}.log"
            )
            for c in spec.get("containers") or []
        ]
        return PodRun(
            meta["namespace"], meta["name"], meta["uid"], spec["nodeName"], pod_dir, containers
        )

    def _sync_run(self, pod: dict[str, Any], run: PodRun) -> None:
        if not run.started:
            run.started = kube.now_iso()
        bad = [c for c in run.containers if c.image in self.settings.unpullable_images]
        if bad:
            self._fail_pulls(pod, run, bad)
            return
        if run.evicted or self._still_pulling(pod, run):
            return
        self._start_due(pod, run)
        for c in run.containers:
            _watch(c)
        if all(c.terminated for c in run.containers if not c.init) or any(
            c.init and c.terminated and c.exit_code != 0 for c in run.containers
        ):
            run.done = True
        write_pod_status(self.store, self.memo, pod, run)

    def _fail_pulls(self, pod: dict[str, Any], run: PodRun, bad: list[ContainerRun]) -> None:
        """Image pulls that fail: ErrImagePull, then ImagePullBackOff after the back-off."""
        node = run.node
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
                self.events.record(
                    pod, "Normal", "Pulling", f'Pulling image "{c.image}"', "kubelet", host=node
                )
                self.events.record(
                    pod,
                    "Warning",
                    "Failed",
                    f'Failed to pull image "{c.image}": {c.waiting_message}',
                    "kubelet",
                    host=node,
                )
                self.events.record(
                    pod, "Warning", "Failed", "Error: ErrImagePull", "kubelet", host=node
                )
            run.pull_failures = 1
            write_pod_status(self.store, self.memo, pod, run)
        elif run.pull_failures == 1 and now - first >= self.settings.pull_backoff_seconds:
            for c in bad:
                self.events.record(
                    pod,
                    "Normal",
                    "BackOff",
                    f'Back-off pulling image "{c.image}"',
                    "kubelet",
                    host=node,
                )
                self.events.record(
                    pod, "Warning", "Failed", "Error: ImagePullBackOff", "kubelet", host=node
                )
            run.pull_failures = 2
            write_pod_status(self.store, self.memo, pod, run)

    def _still_pulling(self, pod: dict[str, Any], run: PodRun) -> bool:
        """Images in ``slow_pulls`` take that many seconds: a Pulling event, then the containers
        wait in ContainerCreating until the pull is done."""
        slow = [
            self.settings.slow_pulls[c.image]
            for c in run.containers
            if c.image in self.settings.slow_pulls
        ]
        if not slow:
            return False
        now = time.monotonic()
        if now - self._pull_started.setdefault(run.uid, now) >= max(slow):
            return False
        if run.uid not in self._pulling:
            self._pulling.add(run.uid)
            for c in run.containers:
                if c.image in self.settings.slow_pulls:
                    self.events.record(
                        pod,
                        "Normal",
                        "Pulling",
                        f'Pulling image "{c.image}"',
                        "kubelet",
                        host=run.node,
                    )
            write_pod_status(self.store, self.memo, pod, run)
        return True

    def _start_due(self, pod: dict[str, Any], run: PodRun) -> None:
        """Start containers: init containers one by one, then all main containers."""
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

    def _start_container(self, pod: dict[str, Any], run: PodRun, c: ContainerRun) -> None:
        spec = pod.get("spec") or {}
        container = next(
            x
            for x in list(spec.get("initContainers") or []) + list(spec.get("containers") or [])
            if x["name"] == c.name
        )
        node = run.node
        try:
            if not run.volumes:
                run.volumes = self.env.materialise_volumes(pod, run)
            env = self.env.container_env(pod, run, container)
        except ConfigError as exc:
            c.waiting_reason, c.waiting_message = "CreateContainerConfigError", str(exc)
            if run.config_error != str(exc):
                run.config_error = str(exc)
                self.events.record(pod, "Warning", "Failed", f"Error: {exc}", "kubelet", host=node)
            return
        run.config_error = ""
        limits = (container.get("resources") or {}).get("limits") or {}
        if "memory" in limits:
            c.memory_limit = int(kube.parse_quantity(limits["memory"]))
        mounts = sorted(
            [*mount_pairs(container, run), self.cgroups.prepare(run, c)], key=lambda p: -len(p[0])
        )
        map_ports(self.store, run, container, env, self.env.taken_ports)
        argv = [
            expand(x, env)
            for x in list(container.get("command") or []) + list(container.get("args") or [])
        ]
        if not container.get("command"):
            entry = self.settings.image_entrypoints.get(c.image)
            argv = list(entry or []) + argv
        argv = [rewrite_paths(x, mounts) for x in argv]
        env = {k: rewrite_paths(v, mounts) for k, v in env.items()}
        self.events.record(
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
        workdir = rewrite_paths(container.get("workingDir") or "", mounts)
        cwd = workdir if workdir and os.path.isdir(workdir) else str(run.dir)
        proc, error = spawn(argv, env, cwd, self.settings.bin_dir)
        if proc is None:
            text = (
                "failed to create containerd task: failed to create shim task: OCI runtime create "
                "failed: "
                f"runc create failed: unable to start container process: {error}: unknown"
            )
            c.exit_code, c.reason, c.message = 128, "StartError", text
            c.finished_at = c.started_at
            self.events.record(pod, "Warning", "Failed", f"Error: {text}", "kubelet", host=node)
            return
        c.proc = proc
        c.reader = threading.Thread(
            target=pump_log, args=(proc, c.log_path), name=f"log-{run.name}-{c.name}", daemon=True
        )
        c.reader.start()
        if (not c.init and run.name not in self.pod_processes) or (
            not c.init and self.pod_processes.get(run.name) not in [x.proc for x in run.containers]
        ):
            self.pod_processes[run.name] = proc
        self.events.record(
            pod, "Normal", "Created", f"Created container: {c.name}", "kubelet", host=node
        )
        self.events.record(
            pod, "Normal", "Started", f"Started container {c.name}", "kubelet", host=node
        )

    def _kill_run(self, run: PodRun, grace: float | None) -> None:
        """Stop a pod's processes: SIGTERM, then SIGKILL after the grace period (capped by
        ``max_grace_seconds``)."""
        for c in run.containers:
            if c.proc is None:
                continue
            if c.proc.poll() is None:
                signal_group(c.proc, signal.SIGTERM)
            wait = self.settings.max_grace_seconds if grace is None else grace
            self._dead.append((c.proc, time.monotonic() + wait))

    def reap(self) -> None:
        """SIGKILL what outlived its grace period; forget processes that are gone."""
        now = time.monotonic()
        keep = []
        for proc, deadline in self._dead:
            if proc.poll() is not None:
                signal_group(proc, signal.SIGKILL)  # orphans of the container
                if proc.stdout is not None:
                    with contextlib.suppress(OSError):
                        proc.stdout.close()
                continue
            if now >= deadline:
                signal_group(proc, signal.SIGKILL)
            keep.append((proc, deadline))
        self._dead = keep

    def evict(self, pod_name: str, namespace: str, message: str) -> None:
        """Evict a pod: its processes are killed, phase Failed, reason Evicted."""
        pod = self.store.get("pods", namespace, pod_name, copy_=False)
        run = self._runs.get((namespace, pod_name))
        if run is None:
            node = (pod.get("spec") or {}).get("nodeName") or (
                self.settings.nodes[0].name if self.settings.nodes else ""
            )
            run = PodRun(
                namespace,
                pod_name,
                pod["metadata"]["uid"],
                node,
                self.settings.workdir / "pods" / namespace / pod_name,
                [
                    ContainerRun(c["name"], c.get("image", ""), False, Path(os.devnull))
                    for c in (pod.get("spec") or {}).get("containers") or []
                ],
            )
            self._runs[(namespace, pod_name)] = run
        run.evicted = message
        for c in run.containers:
            if c.proc is not None and c.proc.poll() is None:
                signal_group(c.proc, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    c.proc.wait(timeout=5)
                if c.reader is not None:
                    c.reader.join(timeout=2)
            if not c.terminated:
                c.exit_code, c.reason = 137, "Error"
                c.started_at = c.started_at or kube.now_iso()
                c.finished_at = kube.now_iso()
        run.done = True
        self.events.record(pod, "Warning", "Evicted", message, "kubelet", host=run.node)
        for c in run.containers:
            self.events.record(
                pod,
                "Normal",
                "Killing",
                f"Stopping container {c.name}",
                "kubelet",
                host=run.node,
            )
        write_pod_status(self.store, self.memo, pod, run, force=True)

    def forget_runs(self) -> list[PodRun]:
        """Take every pod run away (on stop: they are killed next, see ``kill``)."""
        runs = list(self._runs.values())
        self._runs.clear()
        return runs

    def kill(self, runs: list[PodRun]) -> None:
        """SIGKILL the processes of ``runs`` and of the dying, and wait for them."""
        procs = [c.proc for r in runs for c in r.containers if c.proc is not None]
        procs += [p for p, _ in self._dead]
        self._dead.clear()
        for proc in procs:
            signal_group(proc, signal.SIGKILL)
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


def _watch(c: ContainerRun) -> None:
    """A running container: OOMKilled over its memory limit; its exit recorded."""
    if not c.running:
        return
    assert c.proc is not None
    if c.memory_limit and rss(c.proc) > c.memory_limit:
        c.oom = True
        signal_group(c.proc, signal.SIGKILL)
    rc = c.proc.poll()
    if rc is not None:
        # The container's other processes go with its main one (as PID 1's
        # exit ends a container), which also closes the log pipe.
        signal_group(c.proc, signal.SIGKILL)
        if c.reader is not None:
            c.reader.join(timeout=2)
        c.finished_at = kube.now_iso()
        if c.oom:
            c.exit_code, c.reason = 137, "OOMKilled"
        elif rc < 0:
            c.exit_code, c.reason = 128 - rc, "Error"
        else:
            c.exit_code, c.reason = rc, "Completed" if rc == 0 else "Error"
