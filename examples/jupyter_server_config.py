"""The demo workspace's configuration: what `make run` starts JupyterLab with.

`make run` passes this file with `--config`, so it applies to that server only (not to your
other Jupyter servers, and your own jupyter_server_config is not read for it). The server hands
it on to its kernels, terminals and job ranks (LABRIG_CONFIG_FILE), so `labrig` and
`labrig.connect()` there see the same workspace.

- State (database, snapshots, dataset cache, model store, mounts) lives in `.labrig-demo/` at
  the top of the checkout (gitignored): delete that folder to start the demo afresh.
- The catalog holds one dataset, `moons` (the files in `examples/data/`).
- The resource profiles are sized from this machine, so a 2-CPU laptop or container can use
  every one of them and still run a 2-process job.
"""

import os
from pathlib import Path

import psutil

c = get_config()  # type: ignore[name-defined]  # noqa: F821

HERE = Path(__file__).resolve().parent
STATE = HERE.parent / ".labrig-demo"

c.LabrigApp.data_dir = str(STATE)
c.DatasetCache.mount_root = str(STATE / "datasets")

# The demo dataset: 600 points of two interleaved half-circles (columns x1, x2, label).
c.DatasetCache.datasets = [
    {
        "name": "moons",
        "source_url": (HERE / "data").as_uri() + "/",
        "include": "*.csv",
    }
]


def _quantity(value: float) -> str:
    """A memory quantity rounded down to 256 MiB (at least 256Mi)."""
    return f"{max(256, int(value / 2**20) // 256 * 256)}Mi"


_cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
_memory = psutil.virtual_memory().total
_small_memory = min(2 * 2**30, _memory / 4)
_large_memory = min(8 * 2**30, _memory / 2)

c.ResourceService.profile_list = [
    {
        "slug": "small",
        "display_name": "Small",
        "description": f"1 CPU, {_quantity(_small_memory)} memory, 1Gi scratch",
        "default": True,
        "cpu": 1,
        "memory": _quantity(_small_memory),
        "disk": "1Gi",
    },
    {
        "slug": "all-cpus",
        "display_name": "All CPUs",
        "description": f"{_cpus} CPUs (all of this machine), {_quantity(_large_memory)} memory",
        "cpu": _cpus,
        "memory": _quantity(_large_memory),
        "disk": "2Gi",
    },
    {
        "slug": "custom",
        "display_name": "Custom",
        "description": "Your own values, up to this machine's CPUs and most of its memory",
        "cpu": 1,
        "memory": _quantity(_small_memory),
        "disk": "1Gi",
        "allow_custom": True,
        "bounds": {"cpu": {"max": _cpus}, "memory": {"max": _quantity(_memory * 3 / 4)}},
    },
]
