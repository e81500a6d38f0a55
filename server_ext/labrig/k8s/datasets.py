"""Datasets in pods: the read-only volume and volumeMount of each pinned dataset version, for
every pod builder (job ranks here, notebook kernels in ``kernel*``).

A mount names the claim that serves one version (Fluid's PVC of the version's Dataset, or a
plain PVC) and the path the pod sees it at: the same path as locally, so
``LABRIG_DATASET_<NAME>`` means the same thing in a pod as on the host.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from labrig.dataset_mounts.cluster import ClusterDatasetCache
from labrig.dataset_mounts.mounts import env_var

from ..jobs.backend import LaunchRequest

VERSION_ANNOTATION = "labrig.io/dataset-versions"


@dataclass(frozen=True)
class DatasetMount:
    """One dataset version a pod reads: its claim and where the pod sees it."""

    dataset: str
    version: str
    claim: str
    mount_path: str


def volume_name(dataset: str) -> str:
    """``dataset-<name>``: a DNS-1123 label per dataset, unique within a pod."""
    slug = re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-")[:40].strip("-")
    return f"dataset-{slug or 'x'}"


def dataset_volumes(
    mounts: list[DatasetMount],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(volumes, volumeMounts) that make each dataset readable, read-only, at its path."""
    volumes: list[dict[str, Any]] = []
    volume_mounts: list[dict[str, Any]] = []
    for mount in sorted(mounts, key=lambda m: m.dataset):
        name = volume_name(mount.dataset)
        volumes.append(
            {"name": name, "persistentVolumeClaim": {"claimName": mount.claim, "readOnly": True}}
        )
        volume_mounts.append({"name": name, "mountPath": mount.mount_path, "readOnly": True})
    return volumes, volume_mounts


def versions_annotation(mounts: list[DatasetMount]) -> dict[str, str]:
    """The pinned versions a pod reads, for whoever inspects the pod (lineage is the job's)."""
    if not mounts:
        return {}
    pinned = ",".join(f"{m.dataset}={m.version}" for m in sorted(mounts, key=lambda m: m.dataset))
    return {VERSION_ANNOTATION: pinned}


def cluster_cache(app: Any) -> ClusterDatasetCache | None:
    """The app's dataset cache when it is a cluster's (``LabrigApp.dataset_cache_class``), built
    from the same configuration as the catalog's, so it names the same claims."""
    cls = getattr(app, "dataset_cache_class", None)
    if isinstance(cls, type) and issubclass(cls, ClusterDatasetCache):
        return cls(parent=app)
    return None


def job_dataset_mounts(request: LaunchRequest, app: Any) -> tuple[DatasetMount, ...]:
    """The claims a job's ranks mount: each dataset's pinned version (``LABRIG_DATASETS``, the
    lineage the job records) at the path ``LABRIG_DATASET_<NAME>`` names, as locally. Empty
    when the datasets live on this host's cache (the data_pvc then carries them)."""
    cache = cluster_cache(app) if request.datasets else None
    if cache is None:
        return ()
    versions = json.loads(request.env.get("LABRIG_DATASETS") or "{}")
    return tuple(
        DatasetMount(
            name,
            versions[name],
            cache.claim_for(name, versions[name]),
            request.env[env_var(name)],
        )
        for name in request.datasets
    )
