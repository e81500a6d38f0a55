"""The Kubernetes kernel provisioner: a notebook's kernel in a pod with the notebook's resources.

Built on gateway_provisioners' ``KubernetesProvisioner``, which brings the connection handling:
the launcher in the pod sends the kernel's connection info to the server's response address,
encrypted with the server's key (``ResponseManager``); interrupts and shutdown go to the
launcher's communication port; connection info persists with the kernel. labrig replaces how the
pod is made and followed: the pod is labrig's own manifest (``labrig.k8s.kernel_pods``: requests
and limits, ``LABRIG_*`` environment, scratch disk, dataset volumes) created through
``KubernetesKernelBackend``'s client and settings instead of the launcher's Jinja template and a
process-wide kube config, every cluster call runs off the event loop, and while the pod waits the
backend is told why (the panel shows it) until the start is given up after
``KubernetesKernelBackend.start_timeout``. A pod that ends mid-session (evicted, OOM-killed) is
recorded as the notebook's last stop, which the notebook and the panel show. Under the
Kubernetes kernel backend, kernelspecs naming ``labrig-local-provisioner`` start here too
(``routing``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from traitlets import default

from labrig import identity
from labrig.errors import CapacityExceeded, LabrigError
from labrig.jobs.env_names import SERVER_URL_ENV
from labrig.k8s import kernel_pods, kernel_status
from labrig.k8s.kernel_backend import PROVISIONER, KubernetesKernelBackend
from labrig.resources import backend as kernel_backends
from labrig.resources import runtime
from labrig.resources.backend import KernelWait
from labrig.resources.service import ResourceRequest, ResourceService

from . import credentials, routing
from .provisioner import PROPAGATED, THREAD_VARS, kernel_owner, notebook_path_of


@contextlib.contextmanager
def _without_global_kube_config() -> Iterator[None]:
    """gateway_provisioners.k8s loads a process-wide kube config when imported, for its own
    client calls; labrig makes every call through its backend's client (its kubeconfig and
    context settings), and that load fails outside a cluster without ~/.kube/config. Its
    documented switch for skipping the load is this variable, set only while importing."""
    flag = "SPHINX_BUILD_IN_PROGRESS"
    previous = os.environ.get(flag)
    os.environ[flag] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(flag, None)
        else:
            os.environ[flag] = previous


with _without_global_kube_config():
    from gateway_provisioners.config_mixin import poll_interval
    from gateway_provisioners.k8s import KubernetesProvisioner
    from gateway_provisioners.remote_provisioner import RemoteProvisionerBase


@dataclass(frozen=True)
class PodPlan:
    """What pre_launch decided for one start of the kernel."""

    notebook_path: str | None
    memory: int | None
    pod: kernel_pods.KernelPod
    request: ResourceRequest | None = None


def kernel_volumes(
    service: ResourceService, backend: KubernetesKernelBackend, mounts: dict[str, str]
) -> kernel_pods.PodVolumes:
    """The kernel's dataset volumes: each pinned version's claim from the cluster's dataset
    cache (Fluid, PVCs) when the catalog has one, else labrig's data PVC."""
    from labrig.k8s.datasets import DatasetMount, dataset_volumes

    pinned = [DatasetMount(*each) for hook in service.kernel_pod_mount_hooks for each in hook()]
    if not pinned:
        return kernel_pods.pod_volumes_for_mounts(backend.pod_settings(), mounts)
    volumes, volume_mounts = dataset_volumes(pinned)
    return kernel_pods.PodVolumes(volumes=tuple(volumes), mounts=tuple(volume_mounts))


def plan_pod(
    service: ResourceService,
    backend: KubernetesKernelBackend,
    kernel_id: str,
    start: int,
    env: dict[str, str],
    owner: str,
) -> PodPlan:
    """The kernel's pod for its notebook's request (blocking: reads the database); ``owner``
    is the user the kernel acts as (``LABRIG_USER``)."""
    path = notebook_path_of(service, env)
    request = service.request_for(path) if path else None
    cpus = request.cpus if request else None
    pod_env = {name: os.environ[name] for name in PROPAGATED if name in os.environ}
    pod_env |= {
        "LABRIG_KERNEL_ID": kernel_id,
        identity.USER_ENV: owner,
        "LABRIG_ROOT_DIR": str(service.root_dir),
        "PYTHONUNBUFFERED": "1",
    }
    if cpus is not None:
        pod_env |= {name: str(max(1, math.floor(cpus))) for name in THREAD_VARS}
        pod_env["LABRIG_CPUS"] = f"{cpus:g}"
    if request is not None and request.memory is not None:
        pod_env["LABRIG_MEMORY_LIMIT"] = str(request.memory)
    scratch = None
    if path is not None:
        scratch = str(service.scratch_dir(path))
        pod_env |= {"LABRIG_SCRATCH": scratch, "LABRIG_NOTEBOOK_PATH": path}
    mounts: dict[str, str] = {}
    for hook in service.kernel_env_hooks:
        extra = hook(path)
        pod_env.update(extra)
        mounts |= {
            value: value for name, value in extra.items() if name.startswith("LABRIG_DATASET_")
        }
    volumes = kernel_volumes(service, backend, mounts)
    if volumes.missing:
        raise LabrigError(
            f"kernel not started: its dataset mounts {', '.join(volumes.missing)} have no volume "
            "source in pods; set KubernetesKernelBackend.data_pvc to the PVC holding labrig's "
            "data directory"
        )
    pod = kernel_pods.KernelPod(
        kernel_id=kernel_id,
        pod_name=kernel_pods.pod_name(kernel_id, start),
        notebook_path=path,
        cpus=cpus,
        memory=request.memory if request else None,
        gpus=request.gpus if request else 0,
        disk=request.disk if request else None,
        command=(),
        env=pod_env,
        scratch=scratch,
        volumes=volumes,
        placement=backend.placement(request.profile if request else None),
    )
    return PodPlan(path, pod.memory, pod, request)


class LabrigKubernetesProvisioner(KubernetesProvisioner):  # type: ignore[misc]
    """A notebook's kernel in a pod, with labrig's environment and its notebook's resources."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # The server's kernel backend decides where labrig's kernelspecs run (``routing``).
        other = routing.routed(cls, PROVISIONER, *args, **kwargs)
        return other if other is not None else super().__new__(cls, *args, **kwargs)

    _plan: PodPlan | None = None
    _starts = 0
    _reason = "the kernel's pod is being created"
    _stop_recorded = False
    #: Who the kernel acts as: who started it, kept across restarts (new pods).
    _owner: identity.Principal | None = None
    #: This start's API token, and the Secret that holds it once created.
    _token: str | None = None
    _secret: str | None = None
    #: The kernel runs with its token: both go as soon as its pod is seen ended.
    _token_live = False

    @default("unauthorized_users")
    def _no_unauthorized_users(self) -> set[str]:
        # gateway_provisioners refuses KERNEL_USERNAME "root" because its template can run the
        # pod as that user; labrig's pod runs as its image's user, whoever asked for it.
        return set()

    @property
    def applied_request(self) -> tuple[str, ResourceRequest | None] | None:
        """The notebook and the request this kernel's pod started with: the server restarts it
        in a new pod when the saved request changes, from the CLI or the API too."""
        plan = self._plan
        if plan is None or plan.notebook_path is None:
            return None
        return plan.notebook_path, plan.request

    _kernel_backend: KubernetesKernelBackend | None = None

    @property
    def _backend(self) -> KubernetesKernelBackend:
        # Kept once found: a stopping server forgets its backend before it stops its kernels,
        # whose pods and Secrets must still go.
        if self._kernel_backend is not None:
            return self._kernel_backend
        backend = kernel_backends.current()
        if not isinstance(backend, KubernetesKernelBackend):
            raise LabrigError(
                "labrig-kubernetes-provisioner needs LabrigApp.kernel_backend = "
                "'labrig.k8s.kernel_backend.KubernetesKernelBackend'"
            )
        self._kernel_backend = backend
        return backend

    @property
    def _service(self) -> ResourceService:
        return runtime.current()

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        backend = self._backend
        backend.check()
        env: dict[str, str] = dict(kwargs.get("env") or os.environ)
        self._starts += 1
        self._stop_recorded = False
        self._owner = owner = kernel_owner(self._owner)
        try:
            with identity.acting_as(owner):  # the owner's dataset mounts, on restarts too
                plan = await asyncio.to_thread(
                    plan_pod, self._service, backend, self.kernel_id, self._starts, env, owner.name
                )
        except LabrigError as err:
            # Nothing was created; the notebook's last stop says why (the panel shows it).
            path = notebook_path_of(self._service, env)
            holder = f"kernel:{self.kernel_id}"
            await asyncio.to_thread(self._service.record_event, path, holder, "stopped", str(err))
            raise
        self._plan = plan
        # The pod's environment is the plan's. gateway_provisioners only reads its KERNEL_*
        # variables from this one (and logs all of it): the server's own (database URL,
        # credentials) stays out of it.
        kwargs["env"] = {
            "KERNEL_NAMESPACE": backend.namespace,
            "KERNEL_POD_NAME": plan.pod.pod_name,
            "KERNEL_USERNAME": self._service.user,
        }
        result: dict[str, Any] = await super().pre_launch(**kwargs)
        self.kernel_namespace = backend.namespace
        self.launch_timeout = math.ceil(backend.start_timeout)
        self._plan = await self._with_token(plan, owner.name)
        return result

    async def _with_token(self, plan: PodPlan, owner: str) -> PodPlan:
        """Inside a server that knows a URL for pods: the pod gets it and a new token (in a
        Secret of its own, created with the pod)."""
        api = runtime.kernel_api()
        if api is None or api.pod_url is None:
            return plan
        self._token = await asyncio.to_thread(credentials.issue_token, api, owner, self.kernel_id)
        pod = replace(
            plan.pod,
            env={**plan.pod.env, SERVER_URL_ENV: api.pod_url},
            token_secret=kernel_pods.token_secret_name(plan.pod.pod_name),
        )
        return replace(plan, pod=pod)

    def _command(self) -> tuple[str, ...]:
        command = [
            *self._backend.launcher,
            "--kernel-id",
            self.kernel_id,
            "--response-address",
            self.response_address,
            "--public-key",
            self.public_key,
            "--port-range",
            self.port_range or "0..0",
        ]
        if self.curve_enabled:
            command += ["--transport-encryption", self.transport_encryption]
        return tuple(command)

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        """Create the kernel's pod (no local launcher process) and wait for its kernel."""
        assert self._plan is not None
        pod = replace(self._plan.pod, command=self._command())
        self.start_time = RemoteProvisionerBase.get_current_time()
        self.container_name = pod.pod_name
        self._report("the kernel's pod is being created")
        try:
            await self._create(pod)
            self.log_kernel_launch(list(pod.command))
            await self.confirm_remote_startup()
        except BaseException:
            await self._forget_token()
            raise
        self._token_live = self._token is not None
        self._report(None)
        return self.connection_info

    async def _create(self, pod: kernel_pods.KernelPod) -> None:
        """Create the token's Secret, then the pod (waiting while the namespace's quota refuses
        it), then make the Secret the pod's."""
        backend = self._backend
        settings = backend.pod_settings()
        if pod.token_secret is not None and self._token is not None:
            secret = kernel_pods.token_secret(settings, pod, self._token)
            await self._call(backend.create_token_secret, secret)
            self._secret = pod.token_secret
        created = await self._create_pod(kernel_pods.kernel_pod(settings, pod))
        if self._secret is not None:
            try:
                await self._call(backend.give_secret_to_pod, self._secret, created)
            except LabrigError:
                await self.kill()  # a pod whose start was given up does not stay
                raise

    async def _call(self, call: Any, *args: Any) -> Any:
        try:
            return await asyncio.to_thread(call, *args)
        except LabrigError as err:
            self._give_up(f"kernel not started: {err}")
            raise

    async def _create_pod(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create the pod, waiting while the namespace's quota refuses it."""
        while True:
            try:
                created: dict[str, Any] = await asyncio.to_thread(self._backend.create_pod, body)
                return created
            except CapacityExceeded as err:
                self._report(f"waiting for quota: {err}")
            except LabrigError as err:
                self._give_up(f"kernel not started: {err}")
                raise
            await self.handle_launch_timeout()

    async def confirm_remote_startup(self) -> None:
        """Follow the pod until its kernel sent its connection info, saying why it waits."""
        while True:
            await self.handle_launch_timeout()
            name = self.container_name
            pod = await asyncio.to_thread(self._backend.read_pod, name)
            if pod is None:
                self._give_up(f"kernel not started: its pod {name} was deleted")
                raise RuntimeError(self._reason)
            status = pod.get("status") or {}
            ended = kernel_status.stop_reason(pod, self._memory)
            if ended is not None:
                self._give_up(ended.replace("kernel stopped", "kernel not started"))
                raise RuntimeError(self._reason)
            events = await asyncio.to_thread(self._backend.pod_events, name)
            self._report(kernel_status.pending_reason(pod, events))
            if status.get("phase") == "Running" and status.get("podIP"):
                self.assigned_ip = status["podIP"]
                self.assigned_host = name
                self.assigned_node_ip = status.get("hostIP")
                if await self.receive_connection_info():
                    self.pid = self.pgid = 0  # signals go through the launcher
                    return

    async def handle_launch_timeout(self) -> None:
        await asyncio.sleep(poll_interval)
        waited = RemoteProvisionerBase.get_time_diff(self.start_time)
        if waited > self.launch_timeout:
            self._give_up(
                f"kernel not started: gave up after {self.launch_timeout} s waiting for its pod "
                f"({self._reason})"
            )
            await self.kill()
            raise TimeoutError(self._reason)

    @property
    def _memory(self) -> int | None:
        return self._plan.memory if self._plan else None

    # ---- what the panel shows --------------------------------------------------------------

    def _report(self, reason: str | None) -> None:
        plan = self._plan
        path = plan.notebook_path if plan else None
        if reason is None:
            self._backend.report_wait(path, None)
            return
        self._reason = reason
        since = (self.start_time or 0) / 1000
        left = max(0.0, self.launch_timeout - (time.time() - since))
        self._backend.report_wait(path, KernelWait(self.kernel_id, reason, since, left))

    def _give_up(self, message: str) -> None:
        self._reason = message
        self._report(None)
        self._record_stop(message)

    def _record_stop(self, message: str) -> None:
        plan = self._plan
        if plan is None or self._stop_recorded:
            return
        self._stop_recorded = True
        self.log.warning("labrig: %s (kernel %s, %s)", message, self.kernel_id, plan.notebook_path)
        self._service.record_event(
            plan.notebook_path, f"kernel:{self.kernel_id}", "stopped", message
        )

    # ---- the running kernel ----------------------------------------------------------------

    async def poll(self) -> int | None:
        """None while the pod runs; once it ended (evicted, OOM-killed, deleted), why is
        recorded and its token stops working."""
        status = await self._pod_status()
        if status is not None and self._token_live:
            await self._forget_token()
        return status

    async def _pod_status(self) -> int | None:
        name = self.container_name
        if not name:
            return 0
        pod = await asyncio.to_thread(self._backend.read_pod, name)
        if pod is None:
            return 0
        ended = kernel_status.stop_reason(pod, self._memory)
        if ended is None:
            return None
        await asyncio.to_thread(self._record_stop, ended)
        return 1

    async def kill(self, restart: bool = False) -> None:
        name, self.container_name = self.container_name, None
        if name:
            await asyncio.to_thread(self._backend.delete_pod, name)

    async def terminate(self, restart: bool = False) -> None:
        await self.kill(restart=restart)

    async def shutdown_listener(self, restart: bool) -> None:
        # The launcher shuts the kernel down; then the pod goes (not the base class's
        # synchronous delete through gateway_provisioners' own client).
        await RemoteProvisionerBase.shutdown_listener(self, restart)
        await self.kill(restart=restart)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        await self.kill(restart=restart)
        await self._forget_token()
        self._report(None)

    async def _forget_token(self) -> None:
        """The kernel's pod is gone or going: its Secret goes (its owner reference would take
        it with the pod; this does not wait for the cluster) and its token stops working."""
        secret, self._secret, self._token = self._secret, None, None
        self._token_live = False
        if secret is not None:
            await asyncio.to_thread(self._backend.delete_secret, secret)
        api = runtime.kernel_api()
        if api is not None:
            await asyncio.to_thread(credentials.revoke_tokens, api, self.kernel_id)

    # ---- gateway_provisioners' synchronous hooks, through labrig's client -------------------

    def get_container_status(self, iteration: str | None) -> str:
        pod = self._backend.read_pod(self.container_name) if self.container_name else None
        return str(((pod or {}).get("status") or {}).get("phase") or "").lower()

    def terminate_container_resources(self, restart: bool = False) -> bool | None:
        name, self.container_name = self.container_name, None
        if name:
            self._backend.delete_pod(name)
        return None
