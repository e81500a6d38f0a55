"""Each notebook's resources: its path under the server root, its saved request (validated
against profiles, bounds, capacity and quota, and saved only if it fits what is free), its
scratch dir and disk quota, what its kernels hold now, and why its kernel last stopped."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from ..errors import AccessDenied, CapacityExceeded, InvalidInput, NotFound
from ..owners import acting
from ..store import Page, PageRequest
from ..store.pagination import paginate
from ..store.tables import ResourceRequest as ResourceRequestRow
from ..store.tables import utcnow
from ..validation import check_fields
from .gpus import Gpu
from .ledger import ResourceLedger
from .profiles import REQUEST_FIELDS, ResourceRequest, pick_profile, request_from
from .quantity import format_bytes
from .tables import ResourceEvent, ResourceHolder


def _request_json(row: ResourceRequestRow | Row[Any]) -> dict[str, Any]:
    return {
        "notebook_path": row.notebook_path,
        "profile": row.profile,
        "cpus": row.cpus,
        "memory": row.memory,
        "gpus": row.gpus,
        "gpu_type": row.gpu_type,
        "disk": row.disk,
        "updated_at": row.updated_at.isoformat(),
        "owner": row.owner,
    }


def _request_of(row: ResourceRequestRow | None, path: str) -> ResourceRequest | None:
    """The saved request of the notebook at ``path`` (``check_path``'s), if there is one."""
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


def _allocation_json(holder: ResourceHolder, inventory: dict[str, Gpu]) -> dict[str, Any]:
    return {
        "holder": holder.holder,
        "pid": holder.pid,
        "cpus": holder.cpus,
        "memory": holder.memory,
        "disk": holder.disk,
        "gpus": [
            inventory[u].json() if u in inventory else {"uuid": u, "model": None}
            for u in holder.gpus
        ],
        "enforcement": holder.enforcement,
        "acquired_at": holder.acquired_at.isoformat(),
    }


class NotebookResources(ResourceLedger):
    #: ``LabrigApp.admin_users``: they may change every notebook's request (set by
    #: ``build_services``).
    admin_users: frozenset[str] = frozenset()

    def _check_owner(self, row: ResourceRequestRow | None, action: str) -> str:
        """The acting user's name, when they may ``action`` this request: anyone may make a
        notebook's first request (and becomes its owner); then only its owner or an
        administrator may change or release it."""
        principal = acting(self.admin_users)
        if row is not None and not principal.owns(row.owner):
            raise AccessDenied(
                f"{principal.name or 'this user'} may not {action} the resources of "
                f"{row.notebook_path!r}: its request belongs to {row.owner}, and only they or "
                "an administrator (LabrigApp.admin_users) may change it",
                field="notebook_path",
            )
        return principal.name

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
        return self.checked_scratch_dir(self.check_path(notebook_path))

    def checked_scratch_dir(self, path: str) -> Path:
        """The scratch dir of a path ``check_path`` gave."""
        digest = hashlib.sha256(path.encode()).hexdigest()[:10]
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", PurePosixPath(path).name)[:80]
        return Path(self.scratch_root) / f"{stem}-{digest}"

    def scratch_used(self, notebook_path: str) -> int:
        return self.checked_scratch_used(self.check_path(notebook_path))

    def checked_scratch_used(self, path: str) -> int:
        """The bytes in the scratch dir of a path ``check_path`` gave."""
        total = 0
        for dirpath, _dirs, files in os.walk(self.checked_scratch_dir(path)):
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

    def list(self, page: PageRequest) -> Page[dict[str, Any]]:
        # Every column, as plain rows: the panel polls this list.
        stmt = select(ResourceRequestRow.__table__)
        with self.db.session() as session:
            order = [ResourceRequestRow.notebook_path]
            return paginate(session, stmt, order, page, columns=True).map(_request_json)

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
            return _request_json(row)

    def request_for(self, notebook_path: str) -> ResourceRequest | None:
        path = self.check_path(notebook_path)
        with self.db.session() as session:
            return _request_of(session.get(ResourceRequestRow, path), path)

    def resolve(self, notebook_path: str, body: dict[str, Any]) -> ResourceRequest:
        """Validate a request body against profiles, bounds, the inventory and capacity."""
        path = self.check_path(notebook_path)
        check_fields(body, REQUEST_FIELDS, what="a resource request")
        profiles = self.profiles()
        profile = pick_profile(profiles, body.get("profile"))
        request = request_from(path, profile, profiles, body)
        self._check_capacity(request)
        return request

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
            user = self._check_owner(row, "change")
            if row is None:
                row = ResourceRequestRow(notebook_path=request.notebook_path, owner=user)
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
            self._check_owner(row, "release")
            session.delete(row)

    def show(self, notebook_path: str) -> dict[str, Any]:
        """The saved request, what the notebook's kernels hold now, and how it is enforced."""
        path = self.check_path(notebook_path)
        inventory = {g.uuid: g for g in self.inventory()}
        # One transaction and one path check: the panel polls this (through ``usage``).
        with self.db.session() as session:
            saved = session.get(ResourceRequestRow, path)
            request = _request_of(saved, path)
            last_stop = self._last_stop_in(session, path)
            holders = list(
                session.scalars(
                    select(ResourceHolder)
                    .where(ResourceHolder.notebook_path == path)
                    .order_by(ResourceHolder.acquired_at)
                )
            )
            allocations = [_allocation_json(h, inventory) for h in holders if self._alive(h)]
        return {
            "notebook_path": path,
            "request": None if request is None else request.json(),
            "owner": saved.owner if saved is not None else None,
            # So the panel says up front that saving would be refused (403), not after.
            "may_change": saved is None or acting(self.admin_users).owns(saved.owner),
            "allocations": allocations,
            "scratch_dir": str(self.checked_scratch_dir(path)),
            "enforcement": (
                allocations[-1]["enforcement"] if allocations else self.host_support().labels()
            ),
            "last_stop": last_stop,
        }

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
            return self._last_stop_in(session, notebook_path)

    @staticmethod
    def _last_stop_in(session: Session, notebook_path: str) -> dict[str, Any] | None:
        event = session.scalars(
            select(ResourceEvent)
            .where(ResourceEvent.notebook_path == notebook_path)
            .order_by(ResourceEvent.id.desc())
            .limit(1)
        ).first()
        if event is None:
            return None
        return {"holder": event.holder, "message": event.message, "at": event.at.isoformat()}
