"""``FluidDatasetCache``: datasets cached in a Kubernetes cluster by Fluid (a ``Dataset`` and its
runtime, warmed by a ``DataLoad``) or served from PersistentVolumeClaims, mounted read-only by
job and kernel pods at the same paths as locally.

What Fluid reports, labrig shows: the Dataset's phase and ``status.cacheStates`` (bytes cached,
percentage), the DataLoad's phase. What it does not (files loaded so far, hits and misses,
eviction on request), labrig says it cannot report instead of showing a number.

Versions: each pinned version has its own objects; once a newer one is warmed, the older
versions' objects go unless a pod or an unfinished job still mounts them (``fluid_versions``).
"""

from __future__ import annotations

import time
import uuid
from functools import cached_property
from typing import Any

from traitlets import Dict, Enum, Float, Int, Unicode, default

from labrig.dataset_mounts.cache import Cancelled
from labrig.dataset_mounts.cluster import ClusterDatasetCache, ClusterWarmUp, PinnedVersion
from labrig.dataset_mounts.sources import mask

from ..errors import Conflict, LabrigError, NotFound
from . import fluid_manifests as fm
from .client import ClusterRefused, Kind, Kube
from .fluid_status import (
    FluidProgress,
    dataload_state,
    dataset_cached,
    not_bound_reason,
    runtime_not_ready_reason,
)
from .fluid_versions import VersionKeeper
from .pod_settings import in_cluster_namespace


class FluidTimeout(LabrigError):
    """The cluster did not make a dataset ready in time; the message says what it waits for."""

    reason = "timeout"


class FluidDatasetCache(ClusterDatasetCache):
    """Datasets cached by Fluid (or served from PVCs) in a Kubernetes cluster."""

    kind = "kubernetes"

    namespace = Unicode(
        config=True,
        help="""Namespace of the datasets' Fluid objects and PVCs (where job and kernel pods
        run). Default: KubernetesJobBackend.namespace or KubernetesPodSettings.namespace, else
        the server pod's namespace.""",
    )
    kubeconfig = Unicode(
        config=True,
        help="Path of a kubeconfig file. Default: the job backend's or KubernetesPodSettings'.",
    )
    context = Unicode(
        config=True, help="The kubeconfig context. Default: the job backend's or the pods'."
    )
    mode = Enum(
        ["fluid", "pvc", "existing_pvc"],
        "fluid",
        config=True,
        help="""How a dataset version reaches pods: 'fluid' (a Fluid Dataset + runtime, warmed by
        a DataLoad), 'pvc' (a PVC created ReadOnlyMany from storage_class, e.g. a bucket CSI
        driver) or 'existing_pvc' (the PVC named in claims; labrig does not load it).""",
    )
    runtime_kind = Enum(
        ["alluxio", "juicefs", "thin"],
        "alluxio",
        config=True,
        help="""Fluid runtime of mode 'fluid': 'alluxio' (AlluxioRuntime), 'juicefs'
        (JuiceFSRuntime) or 'thin' (ThinRuntime, with thin_profile). Fluid must have its CRD.""",
    )
    replicas = Int(1, config=True, help="Cache workers of each runtime (spec.replicas).")
    cache_medium = Enum(
        ["MEM", "SSD", "HDD"],
        "MEM",
        config=True,
        help="Medium of the Alluxio/JuiceFS cache tier (tieredstore.levels[0].mediumtype).",
    )
    cache_path = Unicode(
        "/dev/shm", config=True, help="Path of the cache tier on the worker nodes."
    )
    cache_quota = Unicode(
        "2Gi", config=True, help="Cache size of each worker (tieredstore quota, e.g. '100Gi')."
    )
    thin_profile = Unicode(
        "",
        config=True,
        help="""Runtime_kind 'thin': the ThinRuntimeProfile (cluster-scoped, installed by the
        platform, e.g. an s3fs or HTTP FUSE) each ThinRuntime names in spec.profileName.
        Required: without it a warm-up is refused with this setting named.""",
    )
    juicefs_secret = Unicode(
        "",
        config=True,
        help="""Runtime_kind 'juicefs': the Secret (in namespace) holding the JuiceFS volume's
        metadata URL and, when its object store needs them, the access keys. Required.""",
    )
    juicefs_secret_keys = Dict(
        {"metaurl": "metaurl", "access-key": "access-key", "secret-key": "secret-key"},
        config=True,
        help="""Runtime_kind 'juicefs': JuiceFS option (metaurl, access-key, secret-key) -> key
        in juicefs_secret. 'metaurl' is required; leave the keys out where the nodes' identity
        reaches the bucket.""",
    )
    juicefs_root = Unicode(
        "",
        config=True,
        help="""Runtime_kind 'juicefs': where this server sees the JuiceFS volume mounted (e.g.
        '/jfs'). JuiceFS serves only files written into its volume, so a JuiceFS dataset is a
        directory under this path (source_url file:///jfs/imagenet is juicefs:///imagenet in
        the Dataset). Required.""",
    )
    juicefs_volume_name = Unicode(
        "labrig-datasets",
        config=True,
        help="""Runtime_kind 'juicefs': the JuiceFS file system's name (the NAME of `juicefs
        format`; the Dataset mount's name).""",
    )
    juicefs_storage = Unicode(
        "",
        config=True,
        help="""Runtime_kind 'juicefs': the volume's object storage type ('s3', 'minio', 'oss',
        ...). With juicefs_bucket, Fluid formats the volume if it is new; leave both empty for
        a volume that is already formatted.""",
    )
    juicefs_bucket = Unicode(
        "",
        config=True,
        help="""Runtime_kind 'juicefs': the bucket URL of the volume's object storage (e.g.
        'http://minio.storage:9000/jfs'); goes with juicefs_storage.""",
    )
    alluxio_properties = Dict(
        config=True, help="Alluxio properties of each AlluxioRuntime (spec.properties)."
    )
    storage_class = Unicode(
        "",
        config=True,
        help="StorageClass of the ReadOnlyMany PVCs of mode 'pvc' (a driver serving the source).",
    )
    claims = Dict(
        config=True,
        help="""Mode 'existing_pvc': dataset name -> the PVC holding it, e.g.
        {"imagenet": "imagenet-ro"}. A dataset without one is refused with this setting named.""",
    )
    credentials_secrets = Dict(
        config=True,
        help="""Dataset name (or "*") -> the Secret holding its source's credentials in the
        namespace; runtimes read them by reference (encryptOptions), never inline.""",
    )
    credentials_keys = Dict(
        {"key": "access-key", "secret": "secret-key"},
        config=True,
        help="""Credential role -> key in those Secrets (roles: key, secret, token). JuiceFS
        reads its volume's credentials from juicefs_secret instead.""",
    )
    ready_timeout = Float(
        300.0,
        config=True,
        help="Seconds a runtime or PVC may take to become ready before the warm-up fails.",
    )
    poll_interval = Float(1.0, config=True, help="Seconds between looks at a warm-up's objects.")

    def _pods_setting(self, name: str) -> Any:
        """A setting of labrig's pods, where the configuration gives it: the job backend's
        section, else the section both pod backends share."""
        for section in ("KubernetesJobBackend", "KubernetesPodSettings"):
            value = self.config.get(section, {}).get(name)
            if value:
                return value
        return None

    @default("namespace")
    def _default_namespace(self) -> str:
        return str(self._pods_setting("namespace") or in_cluster_namespace())

    @default("kubeconfig")
    def _default_kubeconfig(self) -> str:
        return str(self._pods_setting("kubeconfig") or "")

    @default("context")
    def _default_context(self) -> str:
        return str(self._pods_setting("context") or "")

    @cached_property
    def kube(self) -> Kube:
        from .client import api_client

        return Kube(api_client(self.kubeconfig, self.context), self.namespace)

    def capabilities(self) -> dict[str, str]:
        what = {
            "fluid": f"Fluid {fm.RUNTIMES[self.runtime_kind].kind}",
            "pvc": f"ReadOnlyMany PVCs of StorageClass {self.storage_class or '(default)'}",
            "existing_pvc": "existing PVCs",
        }[self.mode]
        problem = fm.settings_problem(self.settings()) if self.mode == "fluid" else None
        unusable = f" (cannot warm yet: {problem})" if problem else ""
        return {"datasets.cache": f"{what} in namespace {self.namespace}{unusable}"}

    def settings(self) -> fm.DatasetSettings:
        return fm.DatasetSettings(
            namespace=self.namespace,
            runtime_kind=self.runtime_kind,
            replicas=self.replicas,
            medium=self.cache_medium,
            medium_path=self.cache_path,
            quota=self.cache_quota,
            thin_profile=self.thin_profile,
            juicefs=fm.JuiceFSVolume(
                secret=self.juicefs_secret,
                keys={str(k): str(v) for k, v in self.juicefs_secret_keys.items()},
                root=self.juicefs_root,
                name=self.juicefs_volume_name,
                storage=self.juicefs_storage,
                bucket=self.juicefs_bucket,
            ),
            runtime_properties={str(k): str(v) for k, v in self.alluxio_properties.items()},
            storage_class=self.storage_class,
            labels=dict(self._pods_setting("labels") or {}),
            annotations=dict(self._pods_setting("annotations") or {}),
        )

    def version_source(self, pinned: PinnedVersion) -> fm.VersionSource:
        secret = self.credentials_secrets.get(pinned.dataset) or self.credentials_secrets.get("*")
        keys = {str(k): str(v) for k, v in self.credentials_keys.items()} if secret else {}
        return fm.VersionSource(
            dataset=pinned.dataset,
            version=pinned.version,
            source_url=mask(pinned.source_url),
            bytes=pinned.bytes,
            endpoint_url=str(pinned.options.get("endpoint_url") or ""),
            region=str(pinned.options.get("region") or ""),
            secret=str(secret or ""),
            secret_keys=keys,
        )

    def claim_for(self, dataset: str, version: str) -> str:
        if self.mode != "existing_pvc":
            return fm.object_name(dataset, version)
        claim = self.claims.get(dataset)
        if not claim:
            raise Conflict(
                f"dataset {dataset!r} has no PVC: add it to FluidDatasetCache.claims "
                '(e.g. {"%s": "<pvc name>"}) or use another FluidDatasetCache.mode' % dataset
            )
        return str(claim)

    # --- warming -------------------------------------------------------------------------------

    def warm(self, pinned: PinnedVersion, warm: ClusterWarmUp, on_progress: Any) -> None:
        if self.mode == "existing_pvc":
            warm.bytes_known = False
            self._wait_bound(self.claim_for(pinned.dataset, pinned.version), warm)
            warm.note = "an existing PVC: labrig checked it is bound and loads nothing into it"
            return
        source = self.version_source(pinned)
        if self.mode == "pvc":
            warm.bytes_known = False
            self._create_once(fm.PVC, fm.pvc(self.settings(), source))
            self._wait_bound(fm.object_name(pinned.dataset, pinned.version), warm)
            warm.note = "a PVC from its StorageClass: the driver reads the source on demand"
            return
        fm.check_settings(self.settings(), source)
        self._check_installed(fm.DATASET)
        self._check_installed(fm.RUNTIMES[self.runtime_kind])
        self._create_once(fm.RUNTIMES[self.runtime_kind], fm.runtime(self.settings(), source))
        self._create_once(fm.DATASET, fm.fluid_dataset(self.settings(), source))
        self._wait_dataset_bound(source, warm)
        self._load(source, warm, on_progress)

    def _check_installed(self, kind: Kind) -> None:
        try:
            self.kube.list(kind)
        except ClusterRefused as err:
            if "is not installed" not in err.message:
                raise
            hint = (
                "FluidDatasetCache.runtime_kind"
                if kind in fm.RUNTIMES.values()
                else "FluidDatasetCache.mode"
            )
            raise ClusterRefused(
                f"the cluster has no {kind.kind} CRD ({kind.title}): install Fluid or set {hint}"
            ) from err

    def _create_once(self, kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
        """Create, or find what an earlier warm-up of this version created."""
        try:
            return self.kube.create(kind, body)
        except Conflict:
            return self.kube.get(kind, body["metadata"]["name"])

    def _deadline_passed(self, started: float, warm: ClusterWarmUp) -> bool:
        if warm.cancel.is_set():
            raise _cancelled(warm)
        return time.monotonic() - started > self.ready_timeout

    def _wait_bound(self, claim: str, warm: ClusterWarmUp) -> None:
        started = time.monotonic()
        while True:
            try:
                found = self.kube.get(fm.PVC, claim)
            except NotFound:
                found = None
            reason = not_bound_reason(found, claim, self.namespace)
            if reason is None:
                return
            if self._deadline_passed(started, warm):
                raise FluidTimeout(f"{reason} after {self.ready_timeout:g} s")
            time.sleep(self.poll_interval)

    def _wait_dataset_bound(self, source: fm.VersionSource, warm: ClusterWarmUp) -> None:
        name = fm.object_name(source.dataset, source.version)
        started = time.monotonic()
        while True:
            dataset = self.kube.get(fm.DATASET, name)
            if (dataset.get("status") or {}).get("phase") == "Bound":
                return
            if self._deadline_passed(started, warm):
                runtime = self.kube.get(fm.RUNTIMES[self.runtime_kind], name)
                raise FluidTimeout(
                    f"dataset {source.dataset!r}: the {fm.RUNTIMES[self.runtime_kind].kind} "
                    f"{name} was not ready after {self.ready_timeout:g} s "
                    f"({runtime_not_ready_reason(runtime)}); check its pods with `kubectl -n "
                    f"{self.namespace} get pods -l release={name}`"
                )
            time.sleep(self.poll_interval)

    def _load(self, source: fm.VersionSource, warm: ClusterWarmUp, on_progress: Any) -> None:
        name = fm.object_name(source.dataset, source.version)
        body = fm.dataload(self.settings(), source, uuid.uuid4().hex[:8])
        load_name = body["metadata"]["name"]
        self.kube.create(fm.DATALOAD, body)
        progress = FluidProgress(warm)
        progress.start(dataset_cached(self.kube.get(fm.DATASET, name)))
        try:
            while True:
                if warm.cancel.is_set():
                    raise _cancelled(warm)
                state, message = dataload_state(self.kube.get(fm.DATALOAD, load_name))
                progress.update(dataset_cached(self.kube.get(fm.DATASET, name)), state)
                on_progress(warm)
                if state == "Complete":
                    return
                if state == "Failed":
                    raise LabrigError(
                        f"dataset {source.dataset!r}: Fluid's DataLoad {load_name} failed"
                        f"{': ' + message if message else ''}; see `kubectl -n {self.namespace} "
                        f"describe dataload {load_name}`"
                    )
                time.sleep(self.poll_interval)
        finally:
            if warm.cancel.is_set():
                self.kube.delete(fm.DATALOAD, load_name, propagation="Background")

    # --- serving -------------------------------------------------------------------------------

    def check_ready(self, pinned: PinnedVersion) -> None:
        claim = self.claim_for(pinned.dataset, pinned.version)
        try:
            found = self.kube.get(fm.PVC, claim)
        except NotFound:
            found = None
        reason = not_bound_reason(found, claim, self.namespace)
        if reason is not None:
            raise Conflict(
                f"dataset {pinned.dataset!r} (version {pinned.version}) is not ready for pods: "
                f"{reason}; run `labrig datasets warm {pinned.dataset}` (or Warm in the panel)"
            )

    def cached(self, pinned: PinnedVersion) -> tuple[int | None, str | None]:
        if self.mode != "fluid":
            return None, "a PVC: the cluster does not report how much of it is cached"
        try:
            dataset = self.kube.get(fm.DATASET, fm.object_name(pinned.dataset, pinned.version))
        except NotFound:
            return 0, None
        cached = dataset_cached(dataset)
        note = "as Fluid reports it (status.cacheStates, rounded by Fluid)"
        return (cached, note) if cached is not None else (None, "Fluid reports no cache size yet")

    def stats(self) -> dict[str, Any]:
        used: int | None = None
        objects = 0
        if self.mode == "fluid":
            selector = ",".join(f"{k}={v}" for k, v in fm.MANAGED_BY.items())
            items = self.kube.list(fm.DATASET, selector).get("items") or []
            objects = len(items)
            used = sum(dataset_cached(item) or 0 for item in items)
        return {
            "path": f"kubernetes:{self.namespace}",
            "objects": objects,
            "used_bytes": used,
            "size_limit": None,
            "hits": None,
            "misses": None,
            "hit_ratio": None,
            "note": "Fluid reports cached bytes per Dataset only: no hits, misses or limit",
        }

    def evict(self) -> dict[str, Any]:
        return {
            "evicted": None,
            "freed_bytes": None,
            "note": "Fluid evicts by its runtime's watermarks (tieredstore high/low); labrig "
            "cannot evict on request",
        }

    def _keeper(self) -> VersionKeeper:
        """The objects labrig makes per version in this mode, in the order they are deleted
        (Fluid removes its PVC with the Dataset; a runtime's cache goes with the runtime)."""
        kinds = {
            "fluid": [fm.DATALOAD, fm.DATASET, *fm.RUNTIMES.values()],
            "pvc": [fm.PVC],
            "existing_pvc": [],  # labrig made nothing: the claims are the platform's
        }[self.mode]
        return VersionKeeper(self.kube, kinds, self.claim_for)

    def held_versions(self, dataset: str, pinned: str | None) -> list[dict[str, Any]]:
        return [held.as_json() for held in self._keeper().held(dataset, pinned)]

    def prune(self, dataset: str, pinned: str) -> None:
        self._keeper().prune(dataset, pinned)

    def forget(self, dataset: str) -> None:
        """Delete every version's objects (the dataset was deleted)."""
        for kind, item in self._keeper().owned(dataset):
            self.kube.delete(kind, item["metadata"]["name"], propagation="Background")


def _cancelled(warm: ClusterWarmUp) -> LabrigError:
    return Cancelled(f"the warm-up of {warm.dataset!r} was cancelled")
