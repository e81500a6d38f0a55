"""The dataset catalog: datasets, their pinned versions, warm-ups, mounts and the cache.

One ``DatasetCatalog`` backs the REST API, the CLI and the Python API (``labrig.datasets``).
Warm-ups run on worker threads of the process that starts them (never on the event loop); the
cache under them is shared by every process on the host, so concurrent warm-ups and lazy reads
of one object fetch it once.

The catalog is composed of one part per concern, each in its own module:

- ``records``: the dataset rows (create with validation, read, list, delete, pin);
- ``versions``: manifests, the pinned version and refresh;
- ``cache_reads``: lazy reads and eviction;
- ``warmups`` (with ``progress``): warm-ups, their progress and cancel;
- ``mounts`` (with ``mount_dirs``): read-only mounts for the host and for jobs;
- ``cluster``: the same, handed to a cache in a cluster (Fluid or PVCs on Kubernetes).

The names other modules import from here are re-exported.
"""

from __future__ import annotations

from .cluster import CatalogOnCluster
from .mounts import env_var
from .progress import WarmUp
from .records import CREATE_FIELDS, dataset_json

__all__ = ["CREATE_FIELDS", "DatasetCatalog", "WarmUp", "dataset_json", "env_var"]


class DatasetCatalog(CatalogOnCluster):
    """Datasets, versions, warm-ups and mounts over one database and one cache (this host's,
    or a cluster's: ``cluster``)."""
