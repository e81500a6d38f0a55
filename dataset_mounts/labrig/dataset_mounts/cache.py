"""The host-wide dataset cache: local disk here, Fluid or PVCs on Kubernetes."""

from __future__ import annotations

import shutil
from pathlib import Path

from traitlets import Unicode, default

from labrig.backend import Backend


class DatasetCache(Backend):
    """Holds dataset content close to the kernels and jobs that read it."""


class LocalDatasetCache(DatasetCache):
    """Dataset files cached on this machine's disk, shared by every kernel and job."""

    kind = "local"

    cache_dir = Unicode(
        "",
        config=True,
        help="Directory of the dataset cache. Default: <LabrigApp.data_dir>/cache.",
    )

    @default("cache_dir")
    def _default_cache_dir(self) -> str:
        return str(Path(getattr(self.parent, "data_dir", ".")) / "cache")

    def capabilities(self) -> dict[str, str]:
        root = Path(self.cache_dir)
        root.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(root).free
        return {"datasets.cache": f"{root} ({free / 2**30:.1f} GiB free)"}
