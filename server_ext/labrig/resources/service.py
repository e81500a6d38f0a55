"""Resource requests per notebook, admin profiles, capacity and quota, and the GPU ledger.

One ``ResourceService`` backs the REST API, the CLI, the Python API and the kernel
provisioner. Everything a user can get wrong is checked before anything is written, so a
refused request changes nothing. GPUs are granted through rows in ``gpu_allocations`` whose
primary key is the GPU's UUID: the database, not this process, makes a double grant impossible,
and a grant outlives a server restart. A holder whose process is gone (however it died) loses
its GPUs the next time anyone acquires.

This module holds the service's settings (traits) and state; its behaviour comes in layers, one
module per concern: ``limits`` (profiles, inventory, capacity, quota), ``ledger`` (GPU grants
and holders) and ``notebooks`` (each notebook's request, scratch dir and events). The names
other modules import from here are re-exported below.
"""

from __future__ import annotations

import getpass
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Float, List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..store import Database
from .gpus import Gpu
from .ledger import HOLDER as HOLDER
from .notebooks import NotebookResources
from .profiles import BOUND_KEYS as BOUND_KEYS
from .profiles import DEFAULT_PROFILES, parse_profile
from .profiles import PROFILE_KEYS as PROFILE_KEYS
from .profiles import REQUEST_FIELDS as REQUEST_FIELDS
from .profiles import Profile as Profile
from .profiles import ResourceRequest as ResourceRequest


class ResourceService(LoggingConfigurable, NotebookResources):
    """Resource requests, profiles, capacity, quota and the GPU ledger."""

    profile_list = List(
        Dict(),
        default_value=DEFAULT_PROFILES,
        config=True,
        help="""Profiles users pick from, in the style of KubeSpawner's profile_list: each a
        dict with display_name, slug (default: from display_name), description, default (bool),
        cpu (2, "500m"), memory ("4Gi"), gpus, gpu_type, disk ("10Gi"), allow_custom (bool:
        users may enter their own values) and bounds ({"cpu": {"min": 1, "max": 8},
        "memory": {"max": "32Gi"}, "gpus": {"max": 2}, "disk": {"max": "100Gi"}}).""",
    )
    capacity_cpus = Float(
        0.0, config=True, help="CPUs one kernel may ask for. 0: the CPUs this server may use."
    )
    capacity_memory = Unicode(
        "",
        config=True,
        help="Memory one kernel may ask for, as a quantity (64Gi). Empty: the host's memory.",
    )
    capacity_disk = Unicode(
        "",
        config=True,
        help="Scratch disk one notebook may ask for (500Gi). Empty: free space of scratch_root.",
    )
    user_quota = Dict(
        config=True,
        help="""Totals one user's running kernels and job ranks may hold together:
        {"cpus": 8, "memory": "64Gi", "gpus": 2, "disk": "200Gi"}; a missing key is
        unlimited.""",
    )
    gpu_inventory = List(
        Dict(),
        config=True,
        help="""GPUs to allocate besides those NVML reports (hosts without NVML, tests): each
        {"uuid": "GPU-...", "model": "A100-SXM4-80GB", "memory": "80Gi"}.""",
    )
    discover_gpus = Bool(
        True, config=True, help="Ask NVML (nvidia-ml-py) for this host's GPUs when installed."
    )
    use_cgroups = Bool(
        True,
        config=True,
        help="""Enforce CPU and memory limits with cgroups where this host lets labrig create
        them; off: CPU affinity and the memory watchdog only.""",
    )
    request_poll_interval = Float(
        2.0,
        config=True,
        help="""Seconds between the server's checks for requests saved elsewhere (the CLI, the
        Python API, another server): a running kernel whose notebook's request changed restarts
        with it, keeping its id so the open notebook stays connected. 0: only the panel's Apply
        restarts kernels.""",
    )
    scratch_root = Unicode(
        config=True, help="Directory of per-notebook scratch dirs. Default: <data_dir>/scratch."
    )
    user = Unicode(config=True, help="The user whose quota kernels count against.")

    @default("user")
    def _default_user(self) -> str:
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    @default("scratch_root")
    def _default_scratch_root(self) -> str:
        data = os.environ.get("LABRIG_DATA_DIR") or str(Path.home() / ".labrig")
        return str(Path(data) / "scratch")

    @validate("profile_list")
    def _check_profiles(self, proposal: Any) -> list[dict[str, Any]]:
        profiles = [parse_profile(raw, i) for i, raw in enumerate(proposal["value"])]
        slugs = [p.slug for p in profiles]
        if len(set(slugs)) != len(slugs):
            raise TraitError(f"profile_list has duplicate slugs: {slugs}")
        value: list[dict[str, Any]] = proposal["value"]
        return value

    @validate("gpu_inventory")
    def _check_inventory(self, proposal: Any) -> list[dict[str, Any]]:
        for i, raw in enumerate(proposal["value"]):
            if not isinstance(raw.get("uuid"), str) or not isinstance(raw.get("model"), str):
                raise TraitError(f"gpu_inventory[{i}] needs a uuid and a model (strings)")
        value: list[dict[str, Any]] = proposal["value"]
        return value

    def __init__(self, db: Database, root_dir: str | os.PathLike[str] | None = None, **kw: Any):
        super().__init__(**kw)
        self.db = db
        self.root_dir = Path(root_dir or os.getcwd()).resolve()
        self.hostname = socket.gethostname()
        self._nvml_gpus: list[Gpu] | None = None
        #: More environment for a notebook's kernel (its dataset mounts), wired by build_services.
        self.kernel_env_hooks: list[Callable[[str | None], dict[str, str]]] = []
        #: (dataset, version, claim, path) of what a kernel pod mounts from a cluster cache.
        self.kernel_pod_mount_hooks: list[Callable[[], list[tuple[str, str, str, str]]]] = []


ResourceRequests = ResourceService
