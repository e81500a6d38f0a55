"""Integration tests run in a private mount namespace where the host allows one.

Dataset mounts are read-only bind mounts where labrig may make them (root with CAP_SYS_ADMIN).
A test that leaves one mounted (most do not unmount: the tmp dir goes) would otherwise leave it
in the host's mount table; in a private namespace they go when the test run ends. Processes
the tests start (CLI, kernels, job ranks) inherit the namespace, so they see the same mounts.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_CLONE_NEWNS = 0x20000
_MS_REC = 0x4000
_MS_PRIVATE = 0x40000


def _private_mount_namespace() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_NEWNS) != 0:
        return  # no CAP_SYS_ADMIN: labrig cannot make bind mounts here either
    # Private all the way down, so the tests' mounts do not propagate back to the host.
    if libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), "making the test mount namespace private")


_private_mount_namespace()


@pytest.fixture
def small_disk() -> Iterator[Callable[[Path], Path]]:
    """``small_disk(path)`` mounts an 8 MiB tmpfs at ``path``: a disk that really fills up."""
    mounted: list[Path] = []

    def mount(path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"this host lets the tests mount no small tmpfs: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)
