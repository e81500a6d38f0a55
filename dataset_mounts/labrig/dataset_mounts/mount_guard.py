"""Kernel-level pieces that keep writes through a mount out of the shared cache, for root too.

File modes (0444 objects, 0555 directories) stop nobody who is root or owns the cache, so a
mount is protected by what the host allows, probed at run time:

- a read-only bind mount (needs CAP_SYS_ADMIN in this mount namespace: root on a host or in a
  privileged container): every write through the mount fails with EROFS;
- reflink clones (the cache and the mount on a filesystem that clones: Btrfs, XFS with reflink,
  bcachefs): a write lands in the mount's own copy and costs no space until then.

This module only talks to the kernel (mount(2), umount2(2), the FICLONE ioctl, mountinfo);
``mount_protect`` decides which mechanism a mount gets and records it.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import uuid
from pathlib import Path

_MS_RDONLY = 0x1
_MS_REMOUNT = 0x20
_MS_BIND = 0x1000
_MNT_DETACH = 0x2
_FICLONE = 0x40049409  # _IOW(0x94, 9, int)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_void_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _mount(source: Path | None, target: Path, flags: int) -> None:
    src = os.fsencode(source) if source is not None else None
    if _libc.mount(src, os.fsencode(target), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


def _detach_once(target: Path) -> None:
    if _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(target))


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def mount_table() -> list[tuple[str, bool, str]]:
    """(mount point, read-only, filesystem type) of every mount this process sees."""
    rows: list[tuple[str, bool, str]] = []
    try:
        f = open("/proc/self/mountinfo")  # noqa: SIM115 (closed below)
    except FileNotFoundError:  # not Linux: no mounts labrig made
        return rows
    with f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            rows.append((_unescape(fields[4]), "ro" in fields[5].split(","), fields[sep + 1]))
    return rows


def is_read_only_mount(path: Path) -> bool:
    """Is ``path`` the point of a mount, and is the top one read-only?"""
    found = [ro for point, ro, _fs in mount_table() if point == str(path)]
    return bool(found) and found[-1]


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below ``root``, deepest first (the order to detach them in)."""
    points = {Path(p) for p, _ro, _fs in mount_table()}
    below = [p for p in points if p == root or p.is_relative_to(root)]
    return sorted(below, key=lambda p: len(p.parts), reverse=True)


def filesystem_of(path: Path) -> str:
    """The filesystem type under ``path`` (for messages: "ext4", "btrfs", ...)."""
    path = Path(os.path.abspath(path))
    best, kind = -1, "unknown"
    for point, _ro, fs in mount_table():
        p = Path(point)
        if (path == p or path.is_relative_to(p)) and len(p.parts) > best:
            best, kind = len(p.parts), fs
    return kind


def bind_read_only(backing: Path, target: Path) -> None:
    """Make ``target`` a read-only view of ``backing``, never writable even for a moment.

    ``backing`` is first bound onto itself and made read-only; a bind of a read-only mount is
    born read-only, so ``target`` never shows a writable tree. The self-bind is then dropped.
    """
    _mount(backing, backing, _MS_BIND)
    attached = False
    try:
        _mount(None, backing, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        _mount(backing, target, _MS_BIND)
        attached = True
        if not os.statvfs(target).f_flag & os.ST_RDONLY:
            _mount(None, target, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        if not os.statvfs(target).f_flag & os.ST_RDONLY:
            raise OSError(errno.EROFS, "the bind mount did not become read-only", str(target))
    except OSError:
        if attached:  # only the mount made here: whatever was below it stays
            with contextlib.suppress(OSError):
                _detach_once(target)
        raise
    finally:
        with contextlib.suppress(OSError):
            _detach_once(backing)


def detach(target: Path) -> None:
    """Remove every mount stacked on ``target`` (lazily: open files keep working)."""
    stacked = [p for p, _ro, _fs in mount_table()].count(str(target))
    for _ in range(stacked):
        _detach_once(target)


def probe_bind(scratch: Path) -> str | None:
    """None when a read-only bind mount works here; else why not, in words."""
    probe = scratch / f".probe-{uuid.uuid4().hex[:8]}"
    (probe / "src").mkdir(parents=True)
    (probe / "dst").mkdir()
    (probe / "src" / "f").write_bytes(b"probe")
    try:
        bind_read_only(probe / "src", probe / "dst")
        try:
            with open(probe / "dst" / "f", "ab"):
                return "the bind mount was made read-only but still accepted a write"
        except OSError as err:
            if err.errno != errno.EROFS:
                return f"a write through the read-only bind mount failed oddly ({err.strerror})"
        finally:
            detach(probe / "dst")
        return None
    except OSError as err:
        why = "needs CAP_SYS_ADMIN" if err.errno == errno.EPERM else "unsupported here"
        return f"no read-only bind mount (mount: {err.strerror}; {why})"
    finally:
        for leftover in (probe / "src" / "f",):
            leftover.unlink(missing_ok=True)
        for d in (probe / "src", probe / "dst", probe):
            with contextlib.suppress(OSError):
                d.rmdir()


def clone_file(src: Path, dest: Path) -> None:
    """``dest`` as a reflink clone of ``src`` (shares its blocks until one is written)."""
    with open(src, "rb") as s:
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            fcntl.ioctl(fd, _FICLONE, s.fileno())
        except OSError:
            os.close(fd)
            dest.unlink(missing_ok=True)
            raise
        os.close(fd)


CLONE_UNSUPPORTED = {errno.EOPNOTSUPP, errno.EXDEV, errno.EINVAL, errno.ENOTTY, errno.ENOSYS}
