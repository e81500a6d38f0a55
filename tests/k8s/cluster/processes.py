"""A container's processes on this host: started in a session of their own (so that the
whole group can be signalled, as a container's PID namespace ends with its PID 1), their
memory, and their output copied into a CRI-format log file."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import psutil

from .. import kube


def spawn(
    argv: list[str], env: dict[str, str], cwd: str, bin_dir: str
) -> tuple[subprocess.Popen[bytes] | None, str]:
    """(the started process, or None and why it could not start): a bare executable name
    resolves in ``bin_dir`` first, then the ``PATH`` of ``env``."""
    if not argv:
        return None, "no command specified"
    exe = argv[0]
    if "/" not in exe:
        found = shutil.which(exe, path=bin_dir + os.pathsep + env.get("PATH", ""))
        if found is None:
            return None, f'exec: "{exe}": executable file not found in $PATH'
        argv[0] = found
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return None, f"exec: {exc}"
    return proc, ""


def rss(proc: subprocess.Popen[bytes]) -> int:
    """The resident memory of a process and its descendants, in bytes."""
    try:
        parent = psutil.Process(proc.pid)
        procs = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        os.killpg(proc.pid, sig)


def pump_log(proc: subprocess.Popen[bytes], path: Path) -> None:
    """Copy a process's output into a CRI-format log file, timestamped per line."""
    assert proc.stdout is not None
    with open(path, "ab", buffering=0) as out:
        for line in iter(proc.stdout.readline, b""):
            ts = kube.now_nano().encode()
            if line.endswith(b"\n"):
                out.write(ts + b" stdout F " + line)
            else:
                out.write(ts + b" stdout P " + line + b"\n")
