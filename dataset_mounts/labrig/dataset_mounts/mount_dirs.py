"""Mount trees on disk: safe mount targets, building a tree atomically, removing one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from labrig.errors import Conflict, InvalidInput

from .mount_guard import detach, mounts_under


@contextlib.contextmanager
def flocked(path: Path) -> Iterator[None]:
    """Exclusive across threads and processes while held: an flock on the file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


def check_no_symlinks(name: str, root: Path, target: Path) -> None:
    """Refuse a target reached through a symlink: it could lead out of the allowed root."""
    current = root
    for part in target.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise InvalidInput(
                f"dataset {name!r}: mount path {target} goes through the symlink {current}; "
                "use a real directory",
                field="path",
            )
    if root.exists() and target.exists() and not target.resolve().is_relative_to(root.resolve()):
        raise InvalidInput(f"dataset {name!r}: mount path {target} leaves {root}", field="path")


def remove_tree(path: Path) -> None:
    """Remove a tree; mounts under it are detached and its read-only directories are made
    writable first (else a bind mount, or one 0555 directory, would keep it there)."""
    for point in mounts_under(path):
        detach(point)
    if not path.exists() and not path.is_symlink():
        return
    for dirpath, _dirs, _files in os.walk(path):
        with contextlib.suppress(OSError):
            os.chmod(dirpath, 0o755)
    shutil.rmtree(path, ignore_errors=True)


def link_or_symlink(src: Path, dest: Path) -> None:
    """A hard link where ``dest`` shares the cache's filesystem, else a symlink."""
    try:
        os.link(src, dest)
    except OSError:
        os.symlink(src, dest)


def build_link_tree(
    name: str,
    target: Path,
    links: list[tuple[str, Path]],
    *,
    replace: bool,
    place: Callable[[Path, Path], None] = link_or_symlink,
) -> None:
    """A read-only directory at ``target`` with each relative path placed (linked, cloned or
    copied by ``place``) from its cached file.

    The tree is built beside the target and renamed into place, so a reader sees the old tree
    or the new one, never half of one.
    """
    if target.exists() and not replace:
        raise Conflict(
            f"dataset {name!r}: {target} already exists; unmount what is there or pick "
            "another path",
            field="path",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.labrig-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        dirs: set[Path] = {staging}
        for rel, src in links:
            dest = staging / rel
            if not dest.resolve().is_relative_to(staging.resolve()):
                raise InvalidInput(f"dataset {name!r}: unsafe file name {rel!r}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dirs.update(p for p in dest.parents if p.is_relative_to(staging))
            place(src, dest)
        for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
            os.chmod(d, 0o555)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
        os.rename(staging, target)
        if old is not None:
            remove_tree(old)
    except BaseException:
        remove_tree(staging)
        raise
