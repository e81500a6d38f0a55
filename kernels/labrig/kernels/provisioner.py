"""The local kernel provisioner: a notebook's kernel, started inside its requested resources.

Kernels it starts carry ``LABRIG_DATA_DIR``, their own kernel id, so what a notebook registers
is attributed to it, and ``LABRIG_USER``: the user the kernel acts as (who started it;
``labrig.identity``). Started by the server, a kernel reaches labrig through the server's REST
API: ``LABRIG_SERVER_URL`` and ``LABRIG_API_TOKEN``, a token acting as that user, minted at each
start and revoked when the kernel stops (``credentials``); it never gets the database URL, so a
notebook can neither rewrite other users' records with SQL nor claim another identity by setting
``LABRIG_USER``. When the kernel belongs to a notebook (the
server's ``JPY_SESSION_NAME``, or ``LABRIG_NOTEBOOK_PATH``), the notebook's saved request is
applied when it starts (under the Kubernetes kernel backend, a kernelspec naming this provisioner
starts a pod instead: ``routing``):

- GPUs are granted exclusively through the ledger (``CUDA_VISIBLE_DEVICES`` by UUID,
  ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; ``""`` when none were asked for);
- CPUs: a cgroup v2 group's cpuset.cpus + cpu.max, or a cgroup v1 cpuset (+ cpu quota for
  fractions), where labrig may create one, else CPU affinity; always the OMP/MKL/OpenBLAS thread
  counts (torch reads OMP_NUM_THREADS);
- memory: a cgroup v2 memory.max or v1 memory limit, else a watchdog on the kernel's process
  tree; either way a kernel that hits the limit is stopped and "kernel stopped: memory limit
  4 GiB reached" is recorded for the panel. No RLIMIT_AS: it breaks CUDA;
- disk: ``LABRIG_SCRATCH``, a per-notebook directory measured against the quota.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

import psutil
from jupyter_client.provisioning import LocalProvisioner

from labrig import identity
from labrig.errors import InvalidInput
from labrig.resources import enforce, runtime
from labrig.resources.quantity import format_bytes
from labrig.resources.service import ResourceRequest, ResourceService

from . import credentials, routing

#: The server's settings a kernel inherits (never its database URL: ``credentials``).
PROPAGATED = ("LABRIG_DATA_DIR",)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
WATCHDOG_INTERVAL = 0.5


@dataclass
class KernelPlan:
    """What pre_launch decided for one kernel start."""

    holder: str
    notebook_path: str | None
    request: ResourceRequest | None
    env: dict[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)
    groups: enforce.KernelGroups = field(default_factory=enforce.KernelGroups)
    labels: dict[str, Any] = field(default_factory=dict)
    watchdog_limit: int | None = None

    def wrap(self, cmd: list[str]) -> list[str]:
        return [*self.prefix, "--", *cmd] if self.prefix else cmd


def notebook_path_of(service: ResourceService, env: dict[str, str]) -> str | None:
    """The notebook a kernel belongs to, relative to the server root; None for others."""
    raw = env.get("LABRIG_NOTEBOOK_PATH") or env.get("JPY_SESSION_NAME")
    if not raw:
        return None
    try:
        return service.check_path(raw)
    except InvalidInput:
        return None


def plan_kernel(service: ResourceService, kernel_id: str, env: dict[str, str]) -> KernelPlan:
    """Acquire the kernel's resources and work out how to hold it to them (blocking)."""
    holder = f"kernel:{kernel_id}"
    path = notebook_path_of(service, env)
    request = service.request_for(path) if path else None
    cpus = request.cpus if request else None
    memory = request.memory if request else None
    gpus = request.gpus if request else 0
    gpu_type = request.gpu_type if request else None
    plan = KernelPlan(holder, path, request)
    uuids = service.acquire(
        holder,
        cpus,
        memory,
        gpus,
        gpu_type,
        notebook_path=path,
        disk=request.disk if request else None,
    )
    try:
        support = service.host_support()
        plan.groups = enforce.create_groups(
            support,
            f"kernel-{kernel_id}",
            cpus=cpus,
            memory=memory,
            busy_cpus=service.busy_cpus(),
        )
        plan.prefix = [sys.executable, "-m", "labrig.kernels.launch"]
        for group in plan.groups.dirs():
            plan.prefix += ["--cgroup", group]
        cpu_list = plan.groups.cpu_list
        if cpus is not None and not cpu_list:
            cpu_list = enforce.pick_cpus(
                enforce.allowed_cpus(), math.ceil(cpus), service.busy_cpus()
            )
            plan.prefix += ["--cpus", ",".join(map(str, cpu_list))]
        if len(plan.prefix) == 3:
            plan.prefix = []
        plan.labels = enforce.applied_labels(support, plan.groups, cpus=cpus, memory=memory)
        plan.labels["cpu_list"] = cpu_list
        plan.labels["cgroups"] = dict(plan.groups.paths)
        if memory is not None and "memory" not in plan.groups.paths:
            plan.watchdog_limit = memory
        plan.env["LABRIG_ROOT_DIR"] = str(service.root_dir)  # notebook paths are relative to it
        plan.env["CUDA_VISIBLE_DEVICES"] = ",".join(uuids)
        plan.env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
        if cpus is not None:
            threads = str(max(1, math.floor(cpus)))
            for name in THREAD_VARS:
                plan.env[name] = threads
            plan.env["LABRIG_CPUS"] = f"{cpus:g}"
        if memory is not None:
            plan.env["LABRIG_MEMORY_LIMIT"] = str(memory)
        if path is not None:
            scratch = service.scratch_dir(path)
            scratch.mkdir(parents=True, exist_ok=True)
            plan.env["LABRIG_SCRATCH"] = str(scratch)
            plan.env["LABRIG_NOTEBOOK_PATH"] = path
        for hook in service.kernel_env_hooks:
            plan.env.update(hook(path))
    except BaseException:
        plan.groups.remove()
        service.release(holder)
        raise
    return plan


def kernel_owner(previous: identity.Principal | None) -> identity.Principal:
    """Who a kernel acts as: who started it (the acting user: a labrig request's user, else
    the server's own, ``$LABRIG_USER`` or the OS user); a restart keeps the first start's.
    Inside a server the kernel's token carries it, so the kernel setting another
    ``LABRIG_USER`` changes nothing the API records."""
    return previous if previous is not None else identity.current()


def tree_rss(pid: int) -> int | None:
    """Resident memory of a process and all its descendants; None once it is gone."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_info().rss
    return total


class LabrigLocalProvisioner(LocalProvisioner):  # type: ignore[misc]
    """A local kernel, started with labrig's environment and its notebook's resources."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # The server's kernel backend decides where labrig's kernelspecs run (``routing``).
        other = routing.routed(cls, "labrig-local-provisioner", *args, **kwargs)
        return other if other is not None else super().__new__(cls, *args, **kwargs)

    _plan: KernelPlan | None = None
    _watchdog: asyncio.Task[None] | None = None
    _stop_recorded = False
    #: Who the kernel acts as: who started it, kept across restarts.
    _owner: identity.Principal | None = None
    #: A running kernel holds a token: revoked as soon as the kernel is seen dead.
    _token_live = False

    @property
    def _service(self) -> ResourceService:
        return runtime.current()

    @property
    def applied_request(self) -> tuple[str, ResourceRequest | None] | None:
        """The notebook this kernel runs for and the request it started with; the server
        restarts it when the notebook's saved request changes (``resources.restarts``)."""
        plan = self._plan
        if plan is None or plan.notebook_path is None:
            return None
        return plan.notebook_path, plan.request

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        if "LABRIG_RANK" in os.environ:  # a job rank's kernel: the job holds its resources
            started: dict[str, Any] = await super().pre_launch(**kwargs)  # and no database
            return started
        env: dict[str, str] = dict(kwargs.get("env") or os.environ)
        for name in PROPAGATED:
            if name in os.environ:
                env.setdefault(name, os.environ[name])
        env["LABRIG_KERNEL_ID"] = self.kernel_id
        self._owner = owner = kernel_owner(self._owner)
        env[identity.USER_ENV] = owner.name
        service = self._service
        with identity.acting_as(owner):  # the owner's dataset mounts, on restarts too
            plan = await asyncio.to_thread(plan_kernel, service, self.kernel_id, env)
        self._plan = plan
        self._stop_recorded = False
        env.update(plan.env)
        try:
            kwargs["env"] = await self._scoped(env, owner.name)
            result: dict[str, Any] = await super().pre_launch(**kwargs)
        except BaseException:
            await asyncio.to_thread(self._release)
            raise
        result["cmd"] = plan.wrap(result["cmd"])
        return result

    async def _scoped(self, env: dict[str, str], owner: str) -> dict[str, str]:
        """Inside a server: the kernel's URL and a new token instead of the database URL."""
        api = runtime.kernel_api()
        if api is None:
            return env
        return await asyncio.to_thread(
            credentials.local_kernel_env, api, owner, self.kernel_id, env
        )

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        try:
            connection_info = await super().launch_kernel(cmd, **kwargs)
        except BaseException:
            await asyncio.to_thread(self._release)
            raise
        self._token_live = runtime.kernel_api() is not None
        plan = self._plan
        if plan is not None and self.pid:
            await asyncio.to_thread(self._service.attach, plan.holder, self.pid, plan.labels)
            if plan.watchdog_limit is not None:
                self._watchdog = asyncio.ensure_future(self._watch_memory(plan.watchdog_limit))
        return connection_info

    async def poll(self) -> int | None:
        status: int | None = await super().poll()
        if status is not None:
            await asyncio.to_thread(self._record_exit, status)
            if self._token_live:  # died for good, or until a restart mints a new token
                await asyncio.to_thread(self._revoke_tokens)
        return status

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        await asyncio.to_thread(self._release)

    # ---- memory -------------------------------------------------------------------------

    def _stopped(self, message: str) -> None:
        plan = self._plan
        if plan is None or self._stop_recorded:
            return
        self._stop_recorded = True
        self.log.warning("labrig: %s (%s, %s)", message, plan.holder, plan.notebook_path)
        self._service.record_event(plan.notebook_path, plan.holder, "stopped", message)

    def _limit_message(self) -> str:
        memory = self._plan.request.memory if self._plan and self._plan.request else None
        return f"kernel stopped: memory limit {format_bytes(memory or 0)} reached"

    def _record_exit(self, status: int) -> None:
        """After the kernel died: was it killed (SIGKILL) by its memory cgroup's OOM killer?"""
        plan = self._plan
        killed = status in (-signal.SIGKILL, 128 + signal.SIGKILL)
        if plan is not None and killed and plan.groups.memory_stopped():
            self._stopped(self._limit_message())

    async def _watch_memory(self, limit: int) -> None:
        """Where no memory cgroup can be made: stop the kernel when its tree crosses the limit."""
        while self.pid:
            rss = await asyncio.to_thread(tree_rss, self.pid)
            if rss is None:
                return
            if rss > limit:
                await asyncio.to_thread(self._stopped, self._limit_message())
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(os.getpgid(self.pid), signal.SIGKILL)
                return
            await asyncio.sleep(WATCHDOG_INTERVAL)

    def _release(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._revoke_tokens()
        plan, self._plan = self._plan, None
        if plan is None:
            return
        plan.groups.remove()
        self._service.release(plan.holder)

    def _revoke_tokens(self) -> None:
        self._token_live = False
        api = runtime.kernel_api()
        if api is not None:  # a stopping server revoked its kernels' tokens itself
            credentials.revoke_tokens(api, self.kernel_id)
