"""The dataset cache as a seam: a cache on this host (``LocalDatasetCache``, the catalog's own
fetch, link-tree and eviction code) or a cache in a cluster (``ClusterDatasetCache``: Fluid or
PVCs on Kubernetes), which makes a pinned version readable by pods at a path.

``CatalogOnCluster`` is the part of the catalog that hands warm-ups, mounts and cache figures to
a cluster cache; with a local cache every method is the catalog's own, unchanged.
"""

from __future__ import annotations

import uuid
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labrig.errors import InvalidInput, LabrigError
from labrig.store.tables import DatasetVersion

from .cache import DatasetCache
from .mounts import CatalogMounts
from .progress import WarmUp
from .records import retry_busy
from .sources import Entry, Source, SourceChanged, manifest_version
from .warmups import CatalogWarmUps

ProgressFn = Callable[[WarmUp], None]


@dataclass(frozen=True)
class PinnedVersion:
    """One dataset version as the catalog pinned it: its manifest hash and where it comes from."""

    dataset: str
    version: str
    source_url: str
    options: dict[str, Any]
    include: str | None
    entries: tuple[Entry, ...]

    @property
    def bytes(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass
class ClusterWarmUp(WarmUp):
    """A warm-up a cluster runs: it reports bytes cached, not files, so files say None (with
    ``note`` saying why) until the whole version is loaded; a PVC reports neither."""

    note: str | None = None
    files_known: bool = False
    #: False where nothing is loaded and the cluster reports no size (a PVC): bytes say None.
    bytes_known: bool = True

    def as_json(self) -> dict[str, Any]:
        out = super().as_json()
        out.pop("files_known", None)
        out.pop("bytes_known", None)
        if not self.files_known:
            out["files_done"] = out["files_cached"] = None
        if not self.bytes_known:
            for key in ("bytes_done", "bytes_fetched", "percent", "throughput_bytes_per_second"):
                out[key] = None
        return out


class ClusterDatasetCache(DatasetCache):
    """A cache the catalog does not hold on this host: it warms, serves and reports a pinned
    version through the cluster, and pods mount it by claim."""

    @abstractmethod
    def warm(self, pinned: PinnedVersion, warm: ClusterWarmUp, on_progress: ProgressFn) -> None:
        """Make ``pinned`` readable by pods, updating ``warm`` as the cluster reports; raise a
        ``LabrigError`` saying why when it cannot (``warm.cancel`` stops it)."""

    @abstractmethod
    def check_ready(self, pinned: PinnedVersion) -> None:
        """Raise ``Conflict`` unless pods can mount ``pinned`` now (warmed, bound)."""

    @abstractmethod
    def claim_for(self, dataset: str, version: str) -> str:
        """The PersistentVolumeClaim that serves one version to pods."""

    @abstractmethod
    def cached(self, pinned: PinnedVersion) -> tuple[int | None, str | None]:
        """(bytes of ``pinned`` in the cache, or None when the cluster cannot say; a note)."""

    @abstractmethod
    def stats(self) -> dict[str, Any]:
        """The cache's figures, None where the cluster does not report them (with a note)."""

    @abstractmethod
    def evict(self) -> dict[str, Any]:
        """What eviction on request does here (the runtime's own watermarks decide)."""

    @abstractmethod
    def held_versions(self, dataset: str, pinned: str | None) -> list[dict[str, Any]]:
        """Each version of ``dataset`` the cluster holds ({version, claim, kept}: why it
        stays: pinned, the pod or job mounting it, or that nothing needs it)."""

    @abstractmethod
    def prune(self, dataset: str, pinned: str) -> None:
        """Remove what the cluster holds for versions other than ``pinned`` that no pod or
        unfinished job mounts (a newer version was warmed)."""

    @abstractmethod
    def forget(self, dataset: str) -> None:
        """Remove what the cluster holds for every version of ``dataset`` (it was deleted)."""


class CatalogOnCluster(CatalogMounts, CatalogWarmUps):
    """Warm-ups, mounts and cache figures of a catalog whose cache is a cluster's."""

    def _cluster(self) -> ClusterDatasetCache | None:
        return self.cache if isinstance(self.cache, ClusterDatasetCache) else None

    @property
    def on_cluster(self) -> bool:
        """Whether pods mount this catalog's datasets from a cluster cache (Fluid, PVCs)."""
        return self._cluster() is not None

    def pinned(self, name: str, version: str | None = None) -> PinnedVersion:
        version, entries = self.manifest(name, version)
        source = self.source(name)
        return PinnedVersion(
            name, version, source.url, dict(source.options), source.include, tuple(entries)
        )

    def _new_warmup(self, name: str) -> WarmUp:
        if self._cluster() is None:
            return super()._new_warmup(name)
        return ClusterWarmUp(id=uuid.uuid4().hex[:12], dataset=name)

    def _warm_body(self, warm: WarmUp, verify: bool, on_progress: ProgressFn | None) -> None:
        cache = self._cluster()
        if cache is None or not isinstance(warm, ClusterWarmUp):
            super()._warm_body(warm, verify, on_progress)
            return
        pinned = self.pinned(warm.dataset)
        warm.version = pinned.version
        warm.files_total = len(pinned.entries)
        warm.bytes_total = pinned.bytes
        self._check_unchanged(pinned)
        warm.state = "running"
        cache.warm(pinned, warm, on_progress or (lambda _warm: None))

        def mark_complete() -> None:
            with self.db.session() as session:
                v = session.get(DatasetVersion, (pinned.dataset, pinned.version))
                if v is not None:
                    v.complete = True

        retry_busy(mark_complete)
        self._prune_older(cache, pinned)
        warm.state = "succeeded"

    def _prune_older(self, cache: ClusterDatasetCache, pinned: PinnedVersion) -> None:
        """Older versions go once the pinned one is warm; failing to prune fails no warm-up
        (what stays is shown by ``get``'s cluster_versions)."""
        try:
            cache.prune(pinned.dataset, pinned.version)
        except LabrigError as err:
            cache.log.warning("dataset %r: older versions kept: %s", pinned.dataset, err)

    def _check_unchanged(self, pinned: PinnedVersion) -> None:
        """The cluster reads the source as it is now: refuse when that is not the pinned
        version (as a local warm-up does when an object's ETag moved)."""
        source = Source(pinned.dataset, pinned.source_url, pinned.options, pinned.include)
        now = manifest_version(pinned.source_url, pinned.include, source.list())
        if now != pinned.version:
            raise SourceChanged(
                f"dataset {pinned.dataset!r} changed at the source since version "
                f"{pinned.version} was pinned (it lists as {now}); the cluster would cache "
                "the new content under the old version. Run refresh and warm again"
            )

    def _build_mount(self, name: str, target: Path, *, replace: bool) -> str:
        cache = self._cluster()
        if cache is None:
            return super()._build_mount(name, target, replace=replace)
        # Pods mount the version's claim at ``target``; nothing is built on this host.
        cache.check_ready(self.pinned(name))
        return "read-only (the pod's volume is mounted readOnly)"

    def _cached_bytes(self, name: str) -> int:
        cache = self._cluster()
        if cache is None:
            return super()._cached_bytes(name)
        with self.db.session() as session:
            version = self._row(session, name).version
        if not version:
            return 0
        cached, _note = cache.cached(self.pinned(name, version))
        return cached  # type: ignore[return-value]  # None: the cluster cannot say

    def get(self, name: str) -> dict[str, Any]:
        out = super().get(name)
        cache = self._cluster()
        if cache is not None and out.get("version"):
            out["cache_note"] = cache.cached(self.pinned(name, out["version"]))[1]
        if cache is not None:
            out["cluster_versions"] = cache.held_versions(name, out.get("version"))
        return out

    def delete(self, name: str) -> None:
        super().delete(name)
        cache = self._cluster()
        if cache is not None:
            cache.forget(name)

    def cache_stats(self) -> dict[str, Any]:
        cache = self._cluster()
        return cache.stats() if cache is not None else super().cache_stats()

    def evict(self, limit: int | None = None) -> dict[str, Any]:
        cache = self._cluster()
        return cache.evict() if cache is not None else super().evict(limit)

    def open_path(self, name: str, rel: str) -> Path:
        if self._cluster() is None:
            return super().open_path(name, rel)
        raise InvalidInput(
            f"dataset {name!r}: labrig:// reads on the server need the local cache; with the "
            "cluster cache, mount the dataset and read it in the kernel's or job's pod"
        )

    def pod_mounts(self, paths: dict[str, str]) -> list[tuple[str, str, str, str]]:
        """(dataset, pinned version, claim, mount path) for each ``name -> path`` a pod mounts,
        each checked ready (warmed and bound) first."""
        cache = self._cluster()
        if cache is None:
            raise InvalidInput("pods mount datasets from the cluster cache only")
        out = []
        for name, path in sorted(paths.items()):
            pinned = self.pinned(name)
            cache.check_ready(pinned)
            out.append((name, pinned.version, cache.claim_for(name, pinned.version), path))
        return out

    def kernel_pod_mounts(self) -> list[tuple[str, str, str, str]]:
        """What a notebook's kernel pod mounts: every dataset mounted for this server, at the
        path recorded by ``mount`` (the same path as a local kernel sees), but for other users'
        private datasets (the kernel's owner is the acting user)."""
        return self.pod_mounts(self._host_mounts(visible=True))
