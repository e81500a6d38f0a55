"""What this host offers and what one user may hold: the configured profiles, the GPU
inventory, per-kernel capacity, the user's quota, and the check of a request against them.

``ResourceService`` is built in layers, one module each, every layer using only those beneath it:
``limits`` (this) < ``ledger`` < ``notebooks`` < ``service``. This bottom layer declares the
settings and state that ``service.ResourceService`` defines (its traits and ``__init__``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from ..errors import InvalidInput
from ..store import Database
from . import enforce
from .gpus import Gpu, discover_nvml
from .profiles import Profile, ResourceRequest, default_of, parse_profile, show_quantity
from .quantity import parse_bytes, parse_count, parse_cpus


class HostLimits:
    # Declared here so that every layer type-checks on its own; ResourceService defines the
    # settings as configurable traits (their help is there) and sets the state in __init__.
    profile_list: list[dict[str, Any]]
    capacity_cpus: float
    capacity_memory: str
    capacity_disk: str
    user_quota: dict[str, Any]
    gpu_inventory: list[dict[str, Any]]
    discover_gpus: bool
    use_cgroups: bool
    scratch_root: str
    user: str
    log: logging.Logger | logging.LoggerAdapter[Any]
    db: Database
    root_dir: Path
    hostname: str
    kernel_env_hooks: list[Callable[[str | None], dict[str, str]]]
    _nvml_gpus: list[Gpu] | None

    def profiles(self) -> list[Profile]:
        return [parse_profile(raw, i) for i, raw in enumerate(self.profile_list)]

    def default_profile(self) -> Profile | None:
        return default_of(self.profiles())

    def inventory(self) -> list[Gpu]:
        if self._nvml_gpus is None:
            self._nvml_gpus = discover_nvml() if self.discover_gpus else []
        gpus = list(self._nvml_gpus)
        known = {g.uuid for g in gpus}
        for raw in self.gpu_inventory:
            if raw["uuid"] not in known:
                memory = raw.get("memory")
                gpus.append(
                    Gpu(
                        uuid=raw["uuid"],
                        model=raw["model"],
                        memory=None if memory is None else parse_bytes(memory),
                        index=raw.get("index"),
                    )
                )
        return gpus

    def host_support(self) -> enforce.HostSupport:
        return enforce.detect(use_cgroups=self.use_cgroups)

    def capacity_limits(self) -> dict[str, Any]:
        cpus = self.capacity_cpus or float(len(os.sched_getaffinity(0)))
        memory = (
            parse_bytes(self.capacity_memory, field="capacity_memory")
            if self.capacity_memory
            else psutil.virtual_memory().total
        )
        if self.capacity_disk:
            disk = parse_bytes(self.capacity_disk, field="capacity_disk")
        else:
            probe = Path(self.scratch_root)
            while not probe.exists() and probe != probe.parent:
                probe = probe.parent
            disk = psutil.disk_usage(str(probe)).free
        return {"cpus": cpus, "memory": memory, "gpus": len(self.inventory()), "disk": disk}

    def quota(self) -> dict[str, Any]:
        parsed: dict[str, Any] = {}
        for key, value in self.user_quota.items():
            if key == "cpus":
                parsed[key] = parse_cpus(value, field="user_quota.cpus")
            elif key == "gpus":
                parsed[key] = parse_count(value, field="user_quota.gpus")
            elif key in ("memory", "disk"):
                parsed[key] = parse_bytes(value, field=f"user_quota.{key}")
        return parsed

    def _check_capacity(self, request: ResourceRequest) -> None:
        """Refuse what this host could never grant: over its capacity, the quota or its GPUs."""
        capacity = self.capacity_limits()
        for field, value in (
            ("cpus", request.cpus),
            ("memory", request.memory),
            ("disk", request.disk),
        ):
            if value is not None and value > capacity[field]:
                raise InvalidInput(
                    f"{field} {show_quantity(field, value)} is more than this host's capacity of "
                    f"{show_quantity(field, capacity[field])}",
                    field=field,
                )
        quota = self.quota()
        for field in ("cpus", "memory", "disk", "gpus"):
            value = getattr(request, field)
            if value is not None and field in quota and value > quota[field]:
                raise InvalidInput(
                    f"{field} {show_quantity(field, value)} is more than your quota of "
                    f"{show_quantity(field, quota[field])}",
                    field=field,
                )
        if request.gpus:
            self._check_gpu_inventory(request)

    def _check_gpu_inventory(self, request: ResourceRequest) -> None:
        """Refuse more GPUs (of the asked model) than this host has, busy or not."""
        inventory = self.inventory()
        models = sorted({g.model for g in inventory})
        if request.gpu_type is not None and request.gpu_type not in models:
            raise InvalidInput(
                f"gpu_type {request.gpu_type!r} is not on this host; it has "
                + (", ".join(models) if models else "no GPUs"),
                field="gpu_type",
            )
        matching = [g for g in inventory if request.gpu_type in (None, g.model)]
        if request.gpus > len(matching):
            kind = f" {request.gpu_type}" if request.gpu_type else ""
            raise InvalidInput(
                f"gpus: {request.gpus}{kind} GPUs requested, this host has {len(matching)}",
                field="gpus",
            )

    def _gpu_discovery(self) -> str:
        self.inventory()
        if self._nvml_gpus:
            return "nvml"
        return "configured inventory" if self.gpu_inventory else "none"
