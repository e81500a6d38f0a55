"""The kernel's cgroup v2 rules that labrig's v2 groups rely on, checked on the real kernel of
any host where root may mount cgroup2 (cgroup v1 hosts included: their v2 hierarchy holds the
controllers no v1 hierarchy took, such as hugetlb). ``test_cgroup_v2.py`` checks the limits
themselves on a v2 host; this checks the structure everywhere: a group holding processes moves
them into labrig's leaf before it enables a domain controller, a process joins a kernel group
through ``labrig.kernels.launch``, and the groups go once empty.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from labrig.resources import cgroup_v2, enforce

pytestmark = pytest.mark.slow

#: Domain controllers (bound by the no-internal-processes rule), in order of preference.
DOMAIN = ("memory", "io", "hugetlb", "misc", "rdma")


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Path]:
    """The host's cgroup v2 hierarchy, mounted at a private path."""
    target = tmp_path / "cgroup2"
    target.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "cgroup2", "none", str(target)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount cgroup2 here (needs root): {mounted.stderr.strip()}")
    try:
        yield target
    finally:
        subprocess.run(["umount", str(target)], check=True)


def group_of(pid: int, root: Path) -> Path:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return root / line[3:].strip().lstrip("/")
    raise AssertionError(f"no v2 line in /proc/{pid}/cgroup")


def test_a_group_with_processes_gets_a_leaf_then_nests_limited_groups(
    mount: Path, tmp_path: Path
) -> None:
    available = (mount / "cgroup.controllers").read_text().split()
    controller = next((c for c in DOMAIN if c in available), None)
    if controller is None:
        pytest.skip(f"no domain controller free in this host's cgroup v2 hierarchy: {available}")
    enabled_before = (mount / "cgroup.subtree_control").read_text().split()
    scope = mount / f"labrig-rules-{os.getpid()}"
    sleeper = subprocess.Popen(["sleep", "120"])
    launched: subprocess.Popen[bytes] | None = None
    try:
        cgroup_v2.enable(mount, (controller,), cgroup_v2.REAL)
        scope.mkdir()
        (scope / "cgroup.procs").write_text(str(sleeper.pid))
        proc = tmp_path / "proc-self-cgroup"
        proc.write_text(f"0::/{scope.name}\n")
        site, why = cgroup_v2.find_site(mount, proc, wanted=(controller,))
        assert site is not None, why
        assert site.own == scope

        base = cgroup_v2.prepare(site)

        # The kernel refused the controller while the sleeper was in the scope (EBUSY), so
        # labrig moved it into the leaf; now the scope enables the controller for its children.
        assert group_of(sleeper.pid, mount) == scope / "labrig-server"
        assert controller in (scope / "cgroup.subtree_control").read_text().split()
        assert controller in (base / "cgroup.subtree_control").read_text().split()
        with pytest.raises(OSError, match="busy"):
            (scope / "cgroup.procs").write_text(str(sleeper.pid))
        cgroup_v2.prepare(site)  # again (the next kernel): nothing left to do, no error

        group = base / "kernel-rules"
        cgroup_v2.REAL.mkdir(group)
        assert (group / "cgroup.controllers").read_text().split() == [controller]
        launcher = [sys.executable, "-m", "labrig.kernels.launch", "--cgroup", str(group), "--"]
        launched = subprocess.Popen([*launcher, "sleep", "120"])
        for _ in range(100):
            if group_of(launched.pid, mount) == group:
                break
            time.sleep(0.05)
        assert group_of(launched.pid, mount) == group
        launched.kill()
        launched.wait()
        enforce.remove_group(group, mount)
        assert not group.exists()
    finally:
        for process in (sleeper, launched):
            if process is not None:
                process.kill()
                process.wait()
        if scope.exists():
            cgroup_v2.empty_and_remove(scope, mount, cgroup_v2.REAL)
        if controller not in enabled_before:
            with contextlib.suppress(OSError):
                (mount / "cgroup.subtree_control").write_text(f"-{controller}")
    assert not scope.exists()
