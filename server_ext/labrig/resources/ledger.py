"""The GPU ledger and the holders of resources: exclusive GPU grants, per-user quota across
running kernels and job ranks, and freeing what dead holders held.

GPUs are granted through rows in ``gpu_allocations`` whose primary key is the GPU's UUID: the
database, not this process, makes a double grant impossible, and a grant outlives a server
restart. A holder whose process is gone (however it died) loses its GPUs the next time anyone
acquires.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import CapacityExceeded, InvalidInput, NotFound, Unavailable
from ..processes import process_alive, process_started
from ..store.retry import is_transient
from . import enforce
from .limits import HostLimits
from .profiles import ResourceRequest, show_quantity
from .quantity import parse_count
from .tables import GpuAllocation, ResourceHolder

#: The PostgreSQL advisory lock of the ledger's transactions ("ledger" in ASCII).
LEDGER_LOCK = 0x6C6564676572

HOLDER = re.compile(r"(kernel:[A-Za-z0-9-]{1,64}|job:[A-Za-z0-9._-]{1,64}/rank[0-9]{1,5})")


def _forget(session: Session, holder: str) -> None:
    """Delete ``holder``'s grant and GPUs (in the caller's transaction)."""
    session.execute(delete(GpuAllocation).where(GpuAllocation.holder == holder))
    session.execute(delete(ResourceHolder).where(ResourceHolder.holder == holder))


class ResourceLedger(HostLimits):
    @contextlib.contextmanager
    def _ledger(self) -> Iterator[Session]:
        """A write transaction that other acquirers wait for: BEGIN IMMEDIATE on SQLite, a
        transaction-scoped advisory lock on PostgreSQL. The GPU's primary key alone prevents a
        double grant, but not two acquirers each reading the same quota totals and both
        exceeding them; serialising the ledger's read-then-write does."""
        with self.db.session() as session:
            if self.db.dialect == "sqlite":
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            elif self.db.dialect == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LEDGER_LOCK})
            yield session

    def _alive(self, row: ResourceHolder) -> bool:
        if row.host != self.hostname:
            return True  # another machine's process: only that machine can tell
        if row.pid is not None:
            return process_alive(row.pid, row.pid_started)
        return process_alive(row.owner_pid, row.owner_started)

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
    ) -> list[str]:
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
            free=len(free),
            total=len(matching),
            holders=sorted({held[g.uuid] for g in matching if g.uuid in held}),
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
                    f"{field}: {show_quantity(field, asked)} requested, but your running "
                    f"kernels and jobs already hold {show_quantity(field, totals[field])} of "
                    f"your quota of {show_quantity(field, limit)}",
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
    ) -> list[str]:
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
        for attempt in range(20):
            try:
                with self._ledger() as session:
                    _forget(session, holder)
                    session.flush()
                    uuids = self._plan(session, gpus, gpu_type, exclude=set())
                    self._check_quota(session, request, exclude=set())
                    session.add(
                        self._holder_row(holder, notebook_path, request, pid, uuids, enforcement)
                    )
                    for uuid in uuids:
                        session.add(GpuAllocation(uuid=uuid, holder=holder))
                return uuids
            except IntegrityError:
                # Another server granted the same GPU between our read and write: look again.
                time.sleep(0.01 * (attempt + 1))
            except Unavailable as err:
                # Locked past busy_timeout, a deadlock, or the database server restarting.
                if not is_transient(err):
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise CapacityExceeded("the GPU ledger is too busy; try again", field="gpus")

    def _holder_row(
        self,
        holder: str,
        notebook_path: str | None,
        request: ResourceRequest,
        pid: int | None,
        gpus: list[str],
        enforcement: dict[str, Any] | None,
    ) -> ResourceHolder:
        """The ledger's record of a grant, alive while ``pid`` (else the calling process) runs."""
        owner = os.getpid() if pid is None else pid
        return ResourceHolder(
            holder=holder,
            notebook_path=notebook_path,
            user=self.user,
            host=self.hostname,
            owner_pid=owner,
            owner_started=process_started(owner) or time.time(),
            pid=pid,
            pid_started=None if pid is None else process_started(pid),
            cpus=request.cpus,
            memory=request.memory,
            disk=request.disk,
            gpus=gpus,
            enforcement=enforcement or {},
        )

    def attach(self, holder: str, pid: int, enforcement: dict[str, Any] | None = None) -> None:
        """Tie ``holder``'s grant to the life of process ``pid`` (the kernel)."""
        with self.db.session() as session:
            row = session.get(ResourceHolder, holder)
            if row is None:
                raise NotFound(f"{holder} holds nothing", field="holder")
            row.pid = pid
            row.pid_started = process_started(pid)
            if enforcement is not None:
                row.enforcement = enforcement

    def release(self, holder: str) -> None:
        """Free everything ``holder`` holds (a no-op when it holds nothing)."""
        with self.db.session() as session:
            _forget(session, holder)

    def holders(self) -> list[dict[str, Any]]:
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
