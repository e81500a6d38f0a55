"""Resource requests per notebook, admin profiles, capacity and quota, and the GPU ledger.

One ``ResourceService`` backs the REST API, the CLI, the Python API and the kernel
provisioner. Everything a user can get wrong is checked before anything is written, so a
refused request changes nothing. GPUs are granted through rows in ``gpu_allocations`` whose
primary key is the GPU's UUID: the database, not this process, makes a double grant impossible,
and a grant outlives a server restart. A holder whose process is gone (however it died) loses
its GPUs the next time anyone acquires.
"""

from __future__ import annotations

import builtins
import contextlib
import getpass
import hashlib
import os
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import psutil
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from traitlets import Bool, Dict, Float, List, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

from ..errors import CapacityExceeded, InvalidInput, NotFound
from ..store import Database, Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import ResourceRequest as ResourceRequestRow
from ..store.tables import utcnow
from ..validation import check_fields
from . import enforce
from .gpus import Gpu, discover_nvml
from .quantity import format_bytes, format_cpus, parse_bytes, parse_count, parse_cpus
from .tables import GpuAllocation, ResourceEvent, ResourceHolder

REQUEST_FIELDS = {"profile", "cpus", "memory", "gpus", "gpu_type", "disk"}
PROFILE_KEYS = {
    "slug",
    "display_name",
    "description",
    "default",
    "cpu",
    "memory",
    "gpus",
    "gpu_type",
    "disk",
    "allow_custom",
    "bounds",
}
BOUND_KEYS = {"cpu", "memory", "gpus", "disk"}
HOLDER = re.compile(r"(kernel:[A-Za-z0-9-]{1,64}|job:[A-Za-z0-9._-]{1,64}/rank[0-9]{1,5})")
DEFAULT_PROFILES: list[dict[str, Any]] = [
    {
        "slug": "small",
        "display_name": "Small",
        "description": "1 CPU, 2 GiB memory, 5 GiB scratch",
        "cpu": 1,
        "memory": "2Gi",
        "disk": "5Gi",
    },
    {
        "slug": "medium",
        "display_name": "Medium",
        "description": "2 CPUs, 4 GiB memory, 10 GiB scratch",
        "cpu": 2,
        "memory": "4Gi",
        "disk": "10Gi",
    },
    {
        "slug": "custom",
        "display_name": "Custom",
        "description": "Your own values, within the host's capacity and your quota",
        "default": True,
        "cpu": 1,
        "memory": "2Gi",
        "disk": "5Gi",
        "allow_custom": True,
    },
]


@dataclass(frozen=True)
class ResourceRequest:
    """What a notebook's kernel should get; ``None`` means no limit."""

    notebook_path: str
    profile: str | None
    cpus: float | None
    memory: int | None
    gpus: int
    gpu_type: str | None
    disk: int | None

    def json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Profile:
    slug: str
    display_name: str
    description: str
    default: bool
    cpus: float | None
    memory: int | None
    gpus: int
    gpu_type: str | None
    disk: int | None
    allow_custom: bool
    bounds: dict[str, dict[str, float | int]]

    def json(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "display_name": self.display_name,
            "description": self.description,
            "default": self.default,
            "cpus": self.cpus,
            "memory": self.memory,
            "gpus": self.gpus,
            "gpu_type": self.gpu_type,
            "disk": self.disk,
            "allow_custom": self.allow_custom,
            "bounds": self.bounds,
        }


def _parse_profile(raw: Any, index: int) -> Profile:
    where = f"profile_list[{index}]"
    if not isinstance(raw, dict):
        raise TraitError(f"{where} must be a dict")
    unknown = set(raw) - PROFILE_KEYS
    if unknown:
        raise TraitError(f"{where}: unknown keys {sorted(unknown)}; allowed {sorted(PROFILE_KEYS)}")
    name = raw.get("display_name")
    if not isinstance(name, str) or not name:
        raise TraitError(f"{where} needs a display_name")
    slug = raw.get("slug") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    try:
        bounds: dict[str, dict[str, float | int]] = {}
        for key, bound in (raw.get("bounds") or {}).items():
            if key not in BOUND_KEYS or not isinstance(bound, dict) or set(bound) - {"min", "max"}:
                raise TraitError(f"{where}.bounds: use {{cpu|memory|gpus|disk: {{min, max}}}}")
            parse = {"cpu": parse_cpus, "gpus": None}.get(key, parse_bytes)
            bounds[key] = {
                end: (
                    parse_count(value, field=f"{where}.bounds.{key}")
                    if parse is None
                    else parse(value, field=f"{where}.bounds.{key}")
                )
                for end, value in bound.items()
            }
        return Profile(
            slug=slug,
            display_name=name,
            description=str(raw.get("description", "")),
            default=bool(raw.get("default", False)),
            cpus=None if raw.get("cpu") is None else parse_cpus(raw["cpu"], field=f"{where}.cpu"),
            memory=None
            if raw.get("memory") is None
            else parse_bytes(raw["memory"], field=f"{where}.memory"),
            gpus=parse_count(raw.get("gpus", 0), field=f"{where}.gpus"),
            gpu_type=raw.get("gpu_type"),
            disk=None
            if raw.get("disk") is None
            else parse_bytes(raw["disk"], field=f"{where}.disk"),
            allow_custom=bool(raw.get("allow_custom", False)),
            bounds=bounds,
        )
    except InvalidInput as err:
        raise TraitError(err.message) from err


def _started(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def _running(pid: int | None, started: float | None) -> bool:
    """Whether that exact process (pid plus start time: pids are reused) still runs."""
    if pid is None:
        return False
    try:
        process = psutil.Process(pid)
        if started is not None and abs(process.create_time() - started) > 0.05:
            return False
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class ResourceService(LoggingConfigurable):
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
    def _check_profiles(self, proposal: Any) -> builtins.list[dict[str, Any]]:
        profiles = [_parse_profile(raw, i) for i, raw in enumerate(proposal["value"])]
        slugs = [p.slug for p in profiles]
        if len(set(slugs)) != len(slugs):
            raise TraitError(f"profile_list has duplicate slugs: {slugs}")
        value: builtins.list[dict[str, Any]] = proposal["value"]
        return value

    @validate("gpu_inventory")
    def _check_inventory(self, proposal: Any) -> builtins.list[dict[str, Any]]:
        for i, raw in enumerate(proposal["value"]):
            if not isinstance(raw.get("uuid"), str) or not isinstance(raw.get("model"), str):
                raise TraitError(f"gpu_inventory[{i}] needs a uuid and a model (strings)")
        value: builtins.list[dict[str, Any]] = proposal["value"]
        return value

    def __init__(self, db: Database, root_dir: str | os.PathLike[str] | None = None, **kw: Any):
        super().__init__(**kw)
        self.db = db
        self.root_dir = Path(root_dir or os.getcwd()).resolve()
        self.hostname = socket.gethostname()
        self._nvml_gpus: builtins.list[Gpu] | None = None
        #: More environment for a notebook's kernel (its dataset mounts), wired by build_services.
        self.kernel_env_hooks: builtins.list[Callable[[str | None], dict[str, str]]] = []

    # ---- configuration ------------------------------------------------------------------

    def profiles(self) -> builtins.list[Profile]:
        return [_parse_profile(raw, i) for i, raw in enumerate(self.profile_list)]

    def default_profile(self) -> Profile | None:
        profiles = self.profiles()
        return next((p for p in profiles if p.default), profiles[0] if profiles else None)

    def inventory(self) -> builtins.list[Gpu]:
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

    # ---- notebook paths -----------------------------------------------------------------

    def check_path(self, value: Any) -> str:
        """The notebook's path relative to the server root; outside it is refused."""
        field = "notebook_path"
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput("notebook_path is required", field=field)
        if "\0" in value or len(value) > 4096:
            raise InvalidInput("notebook_path is not a usable path", field=field)
        root = self.root_dir
        candidate = Path(value)
        full = candidate if candidate.is_absolute() else root / candidate
        resolved = Path(os.path.normpath(full))
        try:
            relative = resolved.relative_to(root)
            (root / relative).resolve().relative_to(root)
        except ValueError:
            raise InvalidInput(
                f"notebook_path {value!r} is outside the server root {root}", field=field
            ) from None
        text = PurePosixPath(*relative.parts).as_posix()
        if text in ("", "."):
            raise InvalidInput("notebook_path must name a notebook, not the root", field=field)
        return text

    def scratch_dir(self, notebook_path: str) -> Path:
        path = self.check_path(notebook_path)
        digest = hashlib.sha256(path.encode()).hexdigest()[:10]
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(path).name)[:80]
        return Path(self.scratch_root) / f"{stem}-{digest}"

    def scratch_used(self, notebook_path: str) -> int:
        total = 0
        for dirpath, _dirs, files in os.walk(self.scratch_dir(notebook_path)):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
        return total

    def check_scratch(self, notebook_path: str) -> None:
        """Refuse new work from a notebook whose scratch dir is over its quota (jobs call it)."""
        request = self.request_for(notebook_path)
        if request is None or request.disk is None:
            return
        used = self.scratch_used(notebook_path)
        if used > request.disk:
            raise CapacityExceeded(
                f"scratch disk of {request.notebook_path} uses {format_bytes(used)}, over its "
                f"quota of {format_bytes(request.disk)}: free space in "
                f"{self.scratch_dir(notebook_path)} or request more disk",
                field="disk",
            )

    # ---- requests -----------------------------------------------------------------------

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        with self.db.session() as session:
            rows = paginate(
                session, select(ResourceRequestRow), [ResourceRequestRow.notebook_path], page
            )
            return rows.map(_row_json)

    def get(self, notebook_path: str) -> dict[str, Any]:
        path = self.check_path(notebook_path)
        with self.db.session() as session:
            row = session.get(ResourceRequestRow, path)
            if row is None:
                raise NotFound(
                    f"no resources have been requested for {path!r}; its kernel runs "
                    "with the server's defaults",
                    field="notebook_path",
                )
            return _row_json(row)

    def request_for(self, notebook_path: str) -> ResourceRequest | None:
        path = self.check_path(notebook_path)
        with self.db.session() as session:
            row = session.get(ResourceRequestRow, path)
            if row is None:
                return None
            return ResourceRequest(
                notebook_path=path,
                profile=row.profile,
                cpus=row.cpus,
                memory=row.memory,
                gpus=row.gpus,
                gpu_type=row.gpu_type,
                disk=row.disk,
            )

    def resolve(self, notebook_path: str, body: dict[str, Any]) -> ResourceRequest:
        """Validate a request body against profiles, bounds, the inventory and capacity."""
        path = self.check_path(notebook_path)
        check_fields(body, REQUEST_FIELDS, what="a resource request")
        profiles = {p.slug: p for p in self.profiles()}
        slug = body.get("profile")
        if slug is None:
            profile = self.default_profile()
            if profile is None:
                raise InvalidInput("no profiles are configured", field="profile")
        elif not isinstance(slug, str) or slug not in profiles:
            raise InvalidInput(
                f"unknown profile {slug!r}; profiles: {', '.join(profiles) or 'none'}",
                field="profile",
            )
        else:
            profile = profiles[slug]
        custom = {key: body[key] for key in REQUEST_FIELDS - {"profile"} if key in body}
        if custom and not profile.allow_custom:
            first = sorted(custom)[0]
            allowed = [p.slug for p in profiles.values() if p.allow_custom]
            raise InvalidInput(
                f"profile {profile.slug!r} does not allow custom values ({first}); "
                + (f"use profile {allowed[0]!r}" if allowed else "pick a profile as it is"),
                field=first,
            )
        cpus = parse_cpus(custom["cpus"]) if custom.get("cpus") is not None else profile.cpus
        memory = (
            parse_bytes(custom["memory"]) if custom.get("memory") is not None else profile.memory
        )
        disk = (
            parse_bytes(custom["disk"], field="disk")
            if custom.get("disk") is not None
            else profile.disk
        )
        gpus = parse_count(custom.get("gpus", profile.gpus), field="gpus")
        gpu_type = custom.get("gpu_type", profile.gpu_type)
        if gpu_type is not None and (not isinstance(gpu_type, str) or not gpu_type):
            raise InvalidInput("gpu_type must be a GPU model name or null", field="gpu_type")
        values = {"cpu": cpus, "memory": memory, "gpus": gpus, "disk": disk}
        for key, bound in profile.bounds.items():
            value = values[key]
            field = "cpus" if key == "cpu" else key
            show = _show(field, bound.get("min")), _show(field, bound.get("max"))
            if value is None:
                continue
            if "min" in bound and value < bound["min"]:
                raise InvalidInput(
                    f"{field} {_show(field, value)} is below profile {profile.slug!r}'s minimum "
                    f"of {show[0]}",
                    field=field,
                )
            if "max" in bound and value > bound["max"]:
                raise InvalidInput(
                    f"{field} {_show(field, value)} is above profile {profile.slug!r}'s maximum "
                    f"of {show[1]}",
                    field=field,
                )
        request = ResourceRequest(path, profile.slug, cpus, memory, gpus, gpu_type, disk)
        self._check_capacity(request)
        return request

    def _check_capacity(self, request: ResourceRequest) -> None:
        capacity = self.capacity_limits()
        for field, value in (
            ("cpus", request.cpus),
            ("memory", request.memory),
            ("disk", request.disk),
        ):
            if value is not None and value > capacity[field]:
                raise InvalidInput(
                    f"{field} {_show(field, value)} is more than this host's capacity of "
                    f"{_show(field, capacity[field])}",
                    field=field,
                )
        quota = self.quota()
        for field in ("cpus", "memory", "disk", "gpus"):
            value = getattr(request, field)
            if value is not None and field in quota and value > quota[field]:
                raise InvalidInput(
                    f"{field} {_show(field, value)} is more than your quota of "
                    f"{_show(field, quota[field])}",
                    field=field,
                )
        if request.gpus:
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

    def save(self, notebook_path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Validate, check the request fits what is free now, then save it (all or nothing)."""
        request = self.resolve(notebook_path, body)
        with self._ledger() as session:
            mine = {
                row.holder
                for row in session.scalars(
                    select(ResourceHolder).where(
                        ResourceHolder.notebook_path == request.notebook_path
                    )
                )
            }
            self._plan(session, request.gpus, request.gpu_type, exclude=mine)
            self._check_quota(session, request, exclude=mine)
            row = session.get(ResourceRequestRow, request.notebook_path)
            if row is None:
                row = ResourceRequestRow(notebook_path=request.notebook_path)
                session.add(row)
            row.profile = request.profile
            row.cpus = request.cpus
            row.memory = request.memory
            row.gpus = request.gpus
            row.gpu_type = request.gpu_type
            row.disk = request.disk
            row.updated_at = utcnow()
        self.scratch_dir(request.notebook_path).mkdir(parents=True, exist_ok=True)
        return self.show(request.notebook_path)

    def delete(self, notebook_path: str) -> None:
        """Forget the notebook's request; its next kernel runs with the server's defaults."""
        path = self.check_path(notebook_path)
        with self.db.session() as session:
            row = session.get(ResourceRequestRow, path)
            if row is None:
                raise NotFound(
                    f"no resources have been requested for {path!r}", field="notebook_path"
                )
            session.delete(row)

    def show(self, notebook_path: str) -> dict[str, Any]:
        """The saved request, what the notebook's kernels hold now, and how it is enforced."""
        path = self.check_path(notebook_path)
        request = self.request_for(path)
        inventory = {g.uuid: g for g in self.inventory()}
        with self.db.session() as session:
            holders = list(
                session.scalars(
                    select(ResourceHolder)
                    .where(ResourceHolder.notebook_path == path)
                    .order_by(ResourceHolder.acquired_at)
                )
            )
            allocations = [
                {
                    "holder": h.holder,
                    "pid": h.pid,
                    "cpus": h.cpus,
                    "memory": h.memory,
                    "disk": h.disk,
                    "gpus": [
                        inventory[u].json() if u in inventory else {"uuid": u, "model": None}
                        for u in h.gpus
                    ],
                    "enforcement": h.enforcement,
                    "acquired_at": h.acquired_at.isoformat(),
                }
                for h in holders
                if self._alive(h)
            ]
        return {
            "notebook_path": path,
            "request": None if request is None else request.json(),
            "allocations": allocations,
            "scratch_dir": str(self.scratch_dir(path)),
            "enforcement": (
                allocations[-1]["enforcement"] if allocations else self.host_support().labels()
            ),
            "last_stop": self.last_stop(path),
        }

    # ---- events -------------------------------------------------------------------------

    def record_event(self, notebook_path: str | None, holder: str, kind: str, message: str) -> None:
        if not notebook_path:
            return
        with self.db.session() as session:
            session.add(
                ResourceEvent(
                    notebook_path=notebook_path, holder=holder, kind=kind, message=message
                )
            )

    def last_stop(self, notebook_path: str) -> dict[str, Any] | None:
        with self.db.session() as session:
            event = session.scalars(
                select(ResourceEvent)
                .where(ResourceEvent.notebook_path == notebook_path)
                .order_by(ResourceEvent.id.desc())
                .limit(1)
            ).first()
            if event is None:
                return None
            return {"holder": event.holder, "message": event.message, "at": event.at.isoformat()}

    # ---- the ledger ---------------------------------------------------------------------

    @contextlib.contextmanager
    def _ledger(self) -> Iterator[Session]:
        """A write transaction that other acquirers wait for (BEGIN IMMEDIATE on SQLite)."""
        with self.db.session() as session:
            if self.db.dialect == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    def _alive(self, row: ResourceHolder) -> bool:
        if row.host != self.hostname:
            return True  # another machine's process: only that machine can tell
        if row.pid is not None:
            return _running(row.pid, row.pid_started)
        return _running(row.owner_pid, row.owner_started)

    def _reap(self, session: Session) -> None:
        """Free what dead holders hold."""
        for row in list(session.scalars(select(ResourceHolder))):
            if not self._alive(row):
                self.log.info("labrig: %s is gone; freeing %s", row.holder, row.gpus or "nothing")
                session.execute(delete(GpuAllocation).where(GpuAllocation.holder == row.holder))
                for group in (row.enforcement or {}).get("cgroups", {}).values():
                    enforce.remove_group(Path(group))  # left behind by a crashed server
                session.delete(row)
        session.flush()

    def _plan(
        self, session: Session, count: int, gpu_type: str | None, *, exclude: set[str]
    ) -> builtins.list[str]:
        """The UUIDs to grant, or CapacityExceeded naming who holds the busy ones."""
        if count == 0:
            return []
        self._reap(session)
        matching = [g for g in self.inventory() if gpu_type in (None, g.model)]
        held = {
            a.uuid: a.holder
            for a in session.scalars(select(GpuAllocation))
            if a.holder not in exclude
        }
        free = [g.uuid for g in matching if g.uuid not in held]
        if len(free) >= count:
            return free[:count]
        holders = {
            h.holder: h
            for h in session.scalars(
                select(ResourceHolder).where(ResourceHolder.holder.in_(set(held.values())))
            )
        }
        busy = []
        for gpu in matching:
            if gpu.uuid in held:
                holder = holders.get(held[gpu.uuid])
                who = holder.notebook_path if holder and holder.notebook_path else held[gpu.uuid]
                busy.append(f"{gpu.uuid} is held by {who} ({held[gpu.uuid]})")
        kind = f" {gpu_type}" if gpu_type else ""
        raise CapacityExceeded(
            f"{count}{kind} GPU{'s' if count != 1 else ''} requested, {len(free)} free: "
            + "; ".join(busy),
            field="gpus",
        )

    def _check_quota(self, session: Session, request: Any, *, exclude: set[str]) -> None:
        quota = self.quota()
        if not quota:
            return
        self._reap(session)
        totals: dict[str, float] = {"cpus": 0.0, "memory": 0.0, "disk": 0.0, "gpus": 0.0}
        for row in session.scalars(select(ResourceHolder).where(ResourceHolder.user == self.user)):
            if row.holder in exclude:
                continue
            totals["cpus"] += row.cpus or 0
            totals["memory"] += row.memory or 0
            totals["disk"] += row.disk or 0
            totals["gpus"] += len(row.gpus)
        for field, limit in quota.items():
            asked = getattr(request, field) or 0
            if totals[field] + asked > limit:
                raise CapacityExceeded(
                    f"{field}: {_show(field, asked)} requested, but your running kernels and "
                    f"jobs already hold {_show(field, totals[field])} of your quota of "
                    f"{_show(field, limit)}",
                    field=field,
                )

    def acquire(
        self,
        holder: str,
        cpus: float | None,
        memory: int | None,
        gpus: int,
        gpu_type: str | None,
        *,
        notebook_path: str | None = None,
        disk: int | None = None,
        pid: int | None = None,
        enforcement: dict[str, Any] | None = None,
    ) -> builtins.list[str]:
        """Grant ``gpus`` GPUs exclusively to ``holder`` (replacing what it held before).

        The grant lives while ``pid`` runs, or, until ``attach`` names the holder's process,
        while the calling process runs.
        """
        if not isinstance(holder, str) or not HOLDER.fullmatch(holder):
            raise InvalidInput(
                f"holder {holder!r} must be kernel:<kernel_id> or job:<job_id>/rank<r>",
                field="holder",
            )
        gpus = parse_count(gpus, field="gpus")
        request = ResourceRequest(notebook_path or "", None, cpus, memory, gpus, gpu_type, disk)
        if gpus:
            self._check_capacity(
                ResourceRequest(notebook_path or "", None, None, None, gpus, gpu_type, None)
            )
        owner = os.getpid()
        for attempt in range(20):
            try:
                with self._ledger() as session:
                    session.execute(delete(GpuAllocation).where(GpuAllocation.holder == holder))
                    session.execute(delete(ResourceHolder).where(ResourceHolder.holder == holder))
                    session.flush()
                    uuids = self._plan(session, gpus, gpu_type, exclude=set())
                    self._check_quota(session, request, exclude=set())
                    session.add(
                        ResourceHolder(
                            holder=holder,
                            notebook_path=notebook_path,
                            user=self.user,
                            host=self.hostname,
                            owner_pid=owner if pid is None else pid,
                            owner_started=_started(owner if pid is None else pid) or time.time(),
                            pid=pid,
                            pid_started=None if pid is None else _started(pid),
                            cpus=cpus,
                            memory=memory,
                            disk=disk,
                            gpus=uuids,
                            enforcement=enforcement or {},
                        )
                    )
                    for uuid in uuids:
                        session.add(GpuAllocation(uuid=uuid, holder=holder))
                return uuids
            except IntegrityError:
                # Another server granted the same GPU between our read and write: look again.
                time.sleep(0.01 * (attempt + 1))
            except OperationalError:  # pragma: no cover - locked past busy_timeout
                time.sleep(0.05 * (attempt + 1))
        raise CapacityExceeded("the GPU ledger is too busy; try again", field="gpus")

    def attach(self, holder: str, pid: int, enforcement: dict[str, Any] | None = None) -> None:
        """Tie ``holder``'s grant to the life of process ``pid`` (the kernel)."""
        with self.db.session() as session:
            row = session.get(ResourceHolder, holder)
            if row is None:
                raise NotFound(f"{holder} holds nothing", field="holder")
            row.pid = pid
            row.pid_started = _started(pid)
            if enforcement is not None:
                row.enforcement = enforcement

    def release(self, holder: str) -> None:
        """Free everything ``holder`` holds (a no-op when it holds nothing)."""
        with self.db.session() as session:
            session.execute(delete(GpuAllocation).where(GpuAllocation.holder == holder))
            session.execute(delete(ResourceHolder).where(ResourceHolder.holder == holder))

    def holders(self) -> builtins.list[dict[str, Any]]:
        with self.db.session() as session:
            return [
                {
                    "holder": row.holder,
                    "notebook_path": row.notebook_path,
                    "pid": row.pid,
                    "gpus": row.gpus,
                    "alive": self._alive(row),
                    "enforcement": row.enforcement,
                }
                for row in session.scalars(select(ResourceHolder).order_by(ResourceHolder.holder))
            ]

    def busy_cpus(self) -> dict[int, int]:
        """How many live kernels are pinned to each CPU (to spread new ones)."""
        busy: dict[int, int] = {}
        for holder in self.holders():
            if holder["alive"]:
                for cpu in holder["enforcement"].get("cpu_list", []):
                    busy[cpu] = busy.get(cpu, 0) + 1
        return busy

    def capacity(self) -> dict[str, Any]:
        """The host's capacity, the user's quota, the GPUs and who holds them."""
        with self._ledger() as session:
            self._reap(session)
            held = {a.uuid: a.holder for a in session.scalars(select(GpuAllocation))}
            paths = {h.holder: h.notebook_path for h in session.scalars(select(ResourceHolder))}
        limits = self.capacity_limits()
        support = self.host_support()
        return {
            **limits,
            "quota": self.quota(),
            "gpu_devices": [
                {
                    **gpu.json(),
                    "holder": held.get(gpu.uuid),
                    "notebook_path": paths.get(held.get(gpu.uuid, "")),
                }
                for gpu in self.inventory()
            ],
            "enforcement": support.labels(),
            "host": {**enforce.describe(support), "gpu_discovery": self._gpu_discovery()},
        }

    def _gpu_discovery(self) -> str:
        self.inventory()
        if self._nvml_gpus:
            return "nvml"
        return "configured inventory" if self.gpu_inventory else "none"


def _show(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field in ("memory", "disk"):
        return format_bytes(int(value))
    if field == "cpus":
        return format_cpus(float(value))
    return str(int(value)) if float(value).is_integer() else str(value)


def _row_json(row: ResourceRequestRow) -> dict[str, Any]:
    return {
        "notebook_path": row.notebook_path,
        "profile": row.profile,
        "cpus": row.cpus,
        "memory": row.memory,
        "gpus": row.gpus,
        "gpu_type": row.gpu_type,
        "disk": row.disk,
        "updated_at": row.updated_at.isoformat(),
    }


ResourceRequests = ResourceService
