"""Which protection a mount gets, building it, and saying honestly what it got.

In order of strength (``LocalDatasetCache.mount_protection = "auto"``):

1. ``read-only (bind mount)``: a tree of hard links kept under ``<cache>/trees/`` is bound
   read-only at the mount path; every write through it fails with EROFS, for root too.
2. ``private copy on write (reflink)``: each file is a clone of its cached object; a write
   lands in the mount's own copy, the cache's bytes never change.
3. ``not protected: <why>``: hard links (or symlinks) into the cache, whose 0444/0555 modes
   root and the cache's owner override; a write through them changes what every reader sees.

``"copy"`` (private full copies: always safe, costs the disk and time of a copy) is chosen
only by configuration. Each mount's mechanism is recorded under ``<cache>/mounts/`` (host-local
state, like the mount itself), so listing a dataset reports what its mount has now.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from labrig.errors import Conflict, Unavailable
from labrig.paths import confine_stored

from .mount_dirs import build_link_tree, flocked, link_or_symlink, remove_tree
from .mount_guard import (
    CLONE_UNSUPPORTED,
    bind_read_only,
    clone_file,
    filesystem_of,
    is_read_only_mount,
    mounts_under,
    probe_bind,
)

MODES = ("auto", "bind", "reflink", "copy")
BIND = "read-only (bind mount)"
REFLINK = "private copy on write (reflink)"
COPY = "private copy (full copy)"
UNPROTECTED = "not protected: "
_TREE_GRACE_S = 600.0

#: (cache root, mount namespace) -> why a read-only bind mount is unavailable (None: it works)
_bind_probes: dict[tuple[str, int], str | None] = {}


def _copy_file(src: Path, dest: Path) -> None:
    shutil.copyfile(src, dest)
    os.chmod(dest, 0o444)


class MountProtector:
    """Builds and removes mounts over one host cache, each with the strongest protection."""

    def __init__(self, cache_root: Path, mode: str = "auto") -> None:
        if mode not in MODES:
            raise ValueError(f"mount_protection must be one of {', '.join(MODES)}, not {mode!r}")
        self.root = cache_root
        self.mode = mode
        self.trees = cache_root / "trees"
        self.records = cache_root / "mounts"

    # -- building ---------------------------------------------------------------------------
    def attach(
        self, name: str, target: Path, links: list[tuple[str, Path]], *, replace: bool
    ) -> str:
        """Make ``target`` show ``links`` (relative path, cached object); returns what
        protects it, in the words the API and CLI show."""
        if target.exists() and not replace:
            raise Conflict(
                f"dataset {name!r}: {target} already exists; unmount what is there or pick "
                "another path",
                field="path",
            )
        self.sweep()
        with self._lock(target):
            return self._attach_strongest(name, target, links)

    def _attach_strongest(self, name: str, target: Path, links: list[tuple[str, Path]]) -> str:
        reasons: list[str] = []
        if self.mode in ("auto", "bind"):
            why = self.bind_unavailable()
            if why is None:
                return self._attach_bind(name, target, links)
            reasons.append(why)
        if self.mode in ("auto", "reflink"):
            try:
                return self._attach_tree(name, target, links, clone_file, REFLINK, "reflink")
            except OSError as err:
                if err.errno not in CLONE_UNSUPPORTED:
                    raise
                reasons.append(
                    f"{filesystem_of(target.parent)} under {target.parent} cannot clone "
                    f"files of the cache (reflink: {err.strerror})"
                )
        if self.mode == "copy":
            return self._attach_tree(name, target, links, _copy_file, COPY, "copy")
        if self.mode != "auto":
            raise Unavailable(
                f"dataset {name!r}: LocalDatasetCache.mount_protection is {self.mode!r} but "
                f"this host cannot provide it: {'; '.join(reasons)}. Use 'auto' or 'copy'"
            )
        protection = (
            UNPROTECTED
            + "; ".join(reasons)
            + ". Root or the cache's owner can change the shared cache through this mount; "
            "set LocalDatasetCache.mount_protection = 'copy' for private copies"
        )
        return self._attach_tree(name, target, links, link_or_symlink, protection, "links")

    def bind_unavailable(self) -> str | None:
        """Why a read-only bind mount cannot be made here (None: it can), probed once per
        cache and mount namespace."""
        try:
            namespace = os.stat("/proc/self/ns/mnt").st_ino
        except FileNotFoundError:  # not Linux: the probe fails once and says why
            namespace = 0
        key = (str(self.root), namespace)
        if key not in _bind_probes:
            self.trees.mkdir(parents=True, exist_ok=True)
            _bind_probes[key] = probe_bind(self.trees)
        return _bind_probes[key]

    def _attach_bind(self, name: str, target: Path, links: list[tuple[str, Path]]) -> str:
        # Hard links only: a symlink would lead out of the read-only mount into the cache.
        backing = self.trees / f"{name}-{uuid.uuid4().hex[:12]}"
        build_link_tree(name, backing, links, replace=False, place=os.link)
        old = self._record(target)
        try:
            # Readers see an empty directory between these two steps, never a writable tree.
            self._clear(target)
            target.mkdir(parents=True, exist_ok=True)
            bind_read_only(backing, target)
        except OSError:
            remove_tree(backing)
            raise
        self._write_record(target, "bind", BIND, backing)
        if old and old.get("backing") and old["backing"] != str(backing):
            remove_tree(self._backing(old))
        return BIND

    def _attach_tree(
        self,
        name: str,
        target: Path,
        links: list[tuple[str, Path]],
        place: Callable[[Path, Path], None],
        words: str,
        mechanism: str,
    ) -> str:
        old = self._record(target)
        if mounts_under(target):
            self._clear(target)
        build_link_tree(name, target, links, replace=True, place=place)
        self._write_record(target, mechanism, words, None)
        if old and old.get("backing"):
            remove_tree(self._backing(old))
        return words

    def _clear(self, target: Path) -> None:
        """Take away what is at ``target`` now (a bind mount, or an older tree)."""
        remove_tree(target)  # detaches the mounts under it first

    # -- reporting --------------------------------------------------------------------------
    def protection(self, target: Path) -> str | None:
        """What protects the mount at ``target`` now; a bind mount that went away (the host
        restarted) is put back first. None when nothing is mounted there."""
        record = self._record(target)
        if record is None:
            if not target.exists():
                return None
            if is_read_only_mount(target):
                return BIND
            return UNPROTECTED + "made before labrig protected mounts; mount it again"
        if record["mechanism"] != "bind" or is_read_only_mount(target):
            return str(record["protection"])
        with self._lock(target):
            if is_read_only_mount(target):  # another process put it back meanwhile
                return BIND
            try:
                target.mkdir(parents=True, exist_ok=True)
                bind_read_only(Path(record["backing"]), target)
            except OSError as err:
                return (
                    f"not mounted: its read-only bind mount is gone and could not be put back "
                    f"({err.strerror}); mount the dataset again"
                )
        return BIND

    # -- removing ---------------------------------------------------------------------------
    def release(self, target: Path) -> None:
        """Remove the mount at ``target``: the bind mount, the tree, and its backing."""
        with self._lock(target):
            record = self._record(target)
            self._clear(target)
            if record and record.get("backing"):
                remove_tree(self._backing(record))
            self._record_path(target).unlink(missing_ok=True)

    def sweep(self) -> None:
        """Forget records of mounts whose path is gone, and backing trees nobody uses."""
        if not self.records.is_dir():
            return
        used: set[str] = set()
        for path in self.records.iterdir():
            record = _read_record(path)
            if record is None or not Path(record["path"]).exists():
                path.unlink(missing_ok=True)
            elif record.get("backing"):
                used.add(record["backing"])
        if self.trees.is_dir():
            # A tree younger than that may belong to a mount another process is making now.
            cutoff = time.time() - _TREE_GRACE_S
            for tree in self.trees.iterdir():
                if tree.name.startswith(".") or str(tree) in used:
                    continue
                with contextlib.suppress(FileNotFoundError):
                    if tree.lstat().st_mtime < cutoff:
                        remove_tree(tree)

    # -- records ----------------------------------------------------------------------------
    def _backing(self, record: dict[str, Any]) -> Path:
        """A record's backing tree, checked before it is removed: read back from disk, it must
        lie inside this cache's trees (an edited record removes nothing else)."""
        return confine_stored(record["backing"], [self.trees], field="backing")

    @contextlib.contextmanager
    def _lock(self, target: Path) -> Iterator[None]:
        """One process at a time changes the mount at ``target`` (two kernels mounting the
        same dataset at once would otherwise stack two bind mounts there)."""
        with flocked(self.root / "locks" / "mounts" / self._record_path(target).name):
            yield

    def _record_path(self, target: Path) -> Path:
        return self.records / (hashlib.sha256(os.fsencode(target)).hexdigest()[:32] + ".json")

    def _record(self, target: Path) -> dict[str, Any] | None:
        return _read_record(self._record_path(target))

    def _write_record(
        self, target: Path, mechanism: str, protection: str, backing: Path | None
    ) -> None:
        self.records.mkdir(parents=True, exist_ok=True)
        record = {
            "path": str(target),
            "mechanism": mechanism,
            "protection": protection,
            "backing": str(backing) if backing else None,
        }
        tmp = self.records / f".{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self._record_path(target))


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return value if isinstance(value, dict) and "path" in value else None
