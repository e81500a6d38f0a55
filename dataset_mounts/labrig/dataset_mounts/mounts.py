"""Mounts: read-only views of the cache, for the host (one per dataset, under an allowed
root), for a job's ranks, and the ``LABRIG_DATASET_<NAME>`` variables naming them. How each
view keeps writes out of the shared cache is ``mount_protect``'s choice, and is reported."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select

from labrig.errors import AccessDenied, Conflict, InvalidInput
from labrig.store.tables import Dataset, DatasetVersion

from .mount_dirs import check_no_symlinks
from .mount_protect import UNPROTECTED
from .sources import Entry
from .versions import CatalogVersions


def env_var(name: str) -> str:
    """``LABRIG_DATASET_<NAME>``: upper case, anything but letters and digits as ``_``."""
    return "LABRIG_DATASET_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class CatalogMounts(CatalogVersions):
    """Mounts of warmed datasets; a host mount is remembered on the dataset's row."""

    def _mount_target(self, name: str, path: str | None) -> Path:
        roots = self.mount_roots()
        if path is None:
            target = roots[0] / name
        else:
            expanded = os.path.expanduser(path)
            if not os.path.isabs(expanded):
                raise InvalidInput(
                    f"dataset {name!r}: mount path {path!r} must be absolute", field="path"
                )
            target = Path(os.path.normpath(expanded))
        root = next((r for r in roots if target.is_relative_to(r) and target != r), None)
        if root is None:
            raise InvalidInput(
                f"dataset {name!r}: mount path {str(target)!r} is outside the allowed roots "
                f"({', '.join(map(str, roots))}); pick a path under one of them or ask the "
                "administrator to add one to DatasetCache.allowed_mount_roots",
                field="path",
            )
        check_no_symlinks(name, root, target)
        return target

    def mount(self, name: str, path: str | None = None) -> dict[str, Any]:
        """Make a read-only view of the cached dataset at ``path`` and remember it."""
        self.sync_admin()
        with self.db.session() as session:
            row = self._visible_row(session, name)
            previous = row.mount_path
        target = self._mount_target(name, path)
        if previous and self.stored_mount_path(name, previous) != target:
            self.unmount(name)
            previous = None
        protection = self._build_mount(name, target, replace=previous is not None)
        with self.db.session() as session:
            row = self._row(session, name)
            if row.mount_path is None:
                row.mounted_by = self.acting().name or None
            row.mount_path = str(target)
        version, _ = self.manifest(name)
        return {
            "name": name,
            "path": str(target),
            "version": version,
            "env": {env_var(name): str(target)},
            "protection": protection,
        }

    def unmount(self, name: str) -> dict[str, Any]:
        with self.db.session() as session:
            row = self._visible_row(session, name)
            if row.mount_path is None:
                raise Conflict(f"dataset {name!r} is not mounted")
            self._check_may_change_mount(row)
            row.mounted_by = None
            path = self.stored_mount_path(name, row.mount_path)  # before the row forgets it
            row.mount_path = None
        self.release_mount(path)
        return self.get(name)

    def _check_may_change_mount(self, row: Dataset) -> None:
        """Every kernel on the host reads a dataset through its host mount: only who made it,
        the dataset's owner or an administrator may move or remove it."""
        principal = self.acting()
        if principal.admin or principal.owns(row.mounted_by):
            return
        if row.owner and row.owner == principal.name:
            return
        raise AccessDenied(
            f"{principal.name or 'this user'} may not move or remove the mount of dataset "
            f"{row.name!r} at {row.mount_path}: {row.mounted_by} mounted it and other kernels "
            "may be reading it; only they, the dataset's owner or an administrator "
            "(LabrigApp.admin_users) may; read it where it is"
        )

    def mount_for_job(self, names: list[str], target_root: Path) -> dict[str, str]:
        """Read-only mounts of warmed datasets under ``target_root``, and their env vars."""
        self.sync_admin()
        env: dict[str, str] = {}
        target_root = Path(target_root)
        target_root.mkdir(parents=True, exist_ok=True)
        for name in names:
            target = target_root / name
            check_no_symlinks(name, target_root, target)
            self._build_mount(name, target, replace=True)
            env[env_var(name)] = str(target)
        return env

    def _host_mounts(self, *, visible: bool = False) -> dict[str, str]:
        """name -> mount path of every dataset mounted on this host (every kernel sees them);
        ``visible``: only those the acting user may see (not others' private datasets)."""
        query = select(Dataset.name, Dataset.mount_path).where(Dataset.mount_path.is_not(None))
        principal = self.acting()
        if visible and not principal.admin:
            query = query.where(or_(Dataset.private.is_(False), Dataset.owner == principal.name))
        with self.db.session() as session:
            return {name: str(path) for name, path in session.execute(query)}

    def mounted_names(self) -> list[str]:
        """Datasets mounted on this host that the acting user may see, by name (what their
        notebook's kernel sees)."""
        return sorted(self._host_mounts(visible=True))

    def kernel_env(self, notebook_path: str | None = None) -> dict[str, str]:
        """``LABRIG_DATASET_<NAME>`` for every mounted dataset the kernel's owner (the acting
        user) may see (for the kernel provisioner)."""
        mounts = self._host_mounts(visible=True)
        for path in mounts.values():
            self.mount_protection(path)  # puts back a bind mount the host lost (a restart)
        return {env_var(name): path for name, path in mounts.items()}

    def _build_mount(self, name: str, target: Path, *, replace: bool) -> str:
        with self.db.session() as session:
            row = self._row(session, name)
            url, version = row.source_url, row.version
            v = session.get(DatasetVersion, (name, version)) if version else None
            manifest = [Entry.from_json(e) for e in v.manifest] if v else None
        if not manifest:
            raise Conflict(
                f"dataset {name!r} is not warmed yet; run `labrig datasets warm {name}` (or "
                "Warm in the panel) before mounting it, or read it lazily via labrig://"
                f"{name}/",
            )
        store = self.store
        missing = [e.path for e in manifest if not store.complete(store.key_for(url, e), e.size)]
        if missing:
            raise Conflict(
                f"dataset {name!r}: {len(missing)} of {len(manifest)} files are not in the cache "
                f"(e.g. {missing[0]}); run `labrig datasets warm {name}` first",
            )
        links = [(e.path, store.path_of(store.key_for(url, e))) for e in manifest]
        protection = self.protector.attach(name, target, links, replace=replace)
        if protection.startswith(UNPROTECTED):
            self.cache.log.warning("dataset %r mounted at %s is %s", name, target, protection)
        return protection
