"""Puts a kernel inside its limits, then becomes the kernel (``exec``, so the pid stays).

    python -m labrig.kernels.launch [--cgroup DIR]... [--cpus 0,1] -- <kernel argv>

Joining the cgroups before ``exec`` means every process the kernel starts is inside them too;
the CPU affinity is inherited the same way. A failure is fatal: a kernel that silently runs
outside its limits would make the panel's "enforced" label a lie.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="labrig.kernels.launch")
    parser.add_argument("--cgroup", action="append", default=[], help="cgroup (v1 or v2) to join")
    parser.add_argument("--cpus", default="", help="CPU numbers for the affinity mask, e.g. 0,1")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no kernel command after --")
    try:
        for group in args.cgroup:
            (Path(group) / "cgroup.procs").write_text(str(os.getpid()))
        if args.cpus:
            os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    except OSError as err:
        sys.stderr.write(f"labrig: cannot apply the kernel's resource limits: {err}\n")
        sys.exit(70)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
