"""A fake Fluid (v1.0, ``data.fluid.io/v1alpha1``): runtimes become ready, Datasets bind to the
runtime of their name and get Fluid's PVC, DataLoads load, and PVCs of a provisioned
StorageClass bind.

- Runtime (Alluxio/JuiceFS/Thin): master, worker and fuse phases ``Ready`` on first sight, or
  ``NotReady`` with a reason while its name is in ``cluster.unready_runtimes``; a ThinRuntime
  whose ``profileName`` is not in ``cluster.thin_profiles`` (the ThinRuntimeProfiles
  installed: their CRD is not pinned here) stays ``NotReady`` saying the profile is missing.
- Dataset: ``NotBound`` until its runtime is ready, then ``Bound`` with a ``Ready`` condition,
  ``status.runtimes`` and ``status.cacheStates`` (sizes formatted as Fluid does, ``1.20MiB``),
  plus a PVC of its name (phase ``Bound``) whose volume is a directory of this host
  (``cluster.pvc_paths``): the runtime's cache, empty until a DataLoad fills it.
- DataLoad: ``Pending`` until its Dataset is bound, ``Executing`` while it copies the Dataset's
  source into that directory, ``cluster.fluid_files_per_pass`` files per pass (one pass per
  ``cluster.fluid_pass_seconds``), then ``Complete``; ``Failed`` with the error when the
  source cannot be read. Sources it reads: ``local://`` directories; ``s3://`` (s3fs) and
  ``oss://`` (ossfs, e.g. against the OSS-dialect adapter of ``dataset_servers``) with the
  endpoint option and the credentials of the ``encryptOptions`` Secret, whichever runtime's
  option names they carry; ``juicefs:///<subpath>`` of a JuiceFS volume, found by the metaurl
  its Secret holds in ``cluster.juicefs_volumes`` (metaurl -> the directory playing the
  formatted volume). Anything else (HTTP, GCS, HDFS, ...) fails the load saying the fake
  cannot emulate it: a local process has no honest stand-in for those FUSE clients.
- Dataset deleted: its PVC goes too (the cache directory stays, as a runtime's would until
  its pods go).
- PVC binder: a claim whose StorageClass is in ``cluster.provisioned_classes`` binds to a
  directory of this host (``cluster.pvc_paths``); any other unbound claim stays ``Pending``,
  as with a StorageClass without provisioner.

Left out: the runtimes' pods, Fluid's webhook (pods are not rewritten: the kubelet maps the PVC
to the directory), eviction by watermarks, DataLoad policies other than ``Once``, hit ratios.
"""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any, Protocol

from .. import kube
from ..store import Store
from .common import set_meta_condition
from .controller import EventRecorder, Memo

DATASET = "datasets.data.fluid.io"
DATALOAD = "dataloads.data.fluid.io"
RUNTIMES = {
    "alluxioruntimes.data.fluid.io": "alluxio",
    "juicefsruntimes.data.fluid.io": "juicefs",
    "thinruntimes.data.fluid.io": "thin",
}
PVC = "persistentvolumeclaims"


#: encryptOptions / options names of each runtime, as the credential or setting they carry.
CREDENTIAL_NAMES = {
    "fs.s3a.access.key": "key",
    "fs.s3a.secret.key": "secret",
    "fs.oss.accessKeyId": "key",
    "fs.oss.accessKeySecret": "secret",
    "access-key": "key",
    "secret-key": "secret",
    "metaurl": "metaurl",
}
ENDPOINT_NAMES = ("alluxio.underfs.s3.endpoint", "fs.oss.endpoint", "endpoint")


class FluidKnobs(Protocol):
    workdir: Path
    pvc_paths: dict[str, Path]
    unready_runtimes: set[str]
    thin_profiles: set[str]
    juicefs_volumes: dict[str, Path]
    provisioned_classes: set[str]
    fluid_files_per_pass: int
    fluid_pass_seconds: float


def fluid_size(n: float) -> str:
    """Fluid's ``utils.BytesSize``: two decimals and a binary unit."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.2f}{unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


class FakeFluid:
    """Fluid's dataset and runtime controllers, its DataLoad controller and a PVC binder."""

    def __init__(self, store: Store, events: EventRecorder, memo: Memo, knobs: FluidKnobs) -> None:
        self.store = store
        self.events = events
        self.memo = memo
        self.knobs = knobs
        self._sources: dict[str, list[tuple[str, Any]]] = {}  # load uid -> files left
        self._last_pass: dict[str, float] = {}  # load uid -> when it last copied files

    def reconcile(self) -> None:
        for key in RUNTIMES:
            for runtime in self.store.select(key):
                self._runtime(key, runtime)
        for dataset in self.store.select(DATASET):
            self._dataset(dataset)
        for load in self.store.select(DATALOAD):
            self._load(load)
        for claim in self.store.select(PVC):
            self._bind(claim)
            self._drop_orphan(claim)

    # -------------------- runtimes and datasets

    def _runtime(self, key: str, runtime: dict[str, Any]) -> None:
        meta = runtime["metadata"]
        profile = str((runtime.get("spec") or {}).get("profileName") or "")
        unknown_profile = RUNTIMES[key] == "thin" and profile not in self.knobs.thin_profiles
        ready = meta["name"] not in self.knobs.unready_runtimes and not unknown_profile
        phase = "Ready" if ready else "NotReady"
        reason = "" if ready else "worker pods are Pending: 0/2 nodes have free memory"
        if unknown_profile:
            reason = f'ThinRuntimeProfile "{profile}" not found'
        if ready:
            self.memo.settled(f"fluid/runtime/{meta['uid']}")
        else:  # Fluid requeues a runtime it could not set up, and tries again
            self.memo.retry_later(f"fluid/runtime/{meta['uid']}", 0.2)
        replicas = int((runtime.get("spec") or {}).get("replicas") or 1)
        status = {
            "masterPhase": phase,
            "workerPhase": phase,
            "fusePhase": phase,
            "valueFile": f"{meta['name']}-{RUNTIMES[key]}-values",
            "currentMasterNumberScheduled": 1,
            "desiredMasterNumberScheduled": 1,
            "masterNumberReady": 1 if ready else 0,
            "currentWorkerNumberScheduled": replicas,
            "desiredWorkerNumberScheduled": replicas,
            "workerNumberReady": replicas if ready else 0,
            "currentFuseNumberScheduled": 0,
            "desiredFuseNumberScheduled": 0,
            "fuseNumberReady": 0,
        }
        if reason:
            status["workerReason"] = reason
        if (runtime.get("status") or {}).get("workerPhase") != phase:

            def change(o: dict[str, Any]) -> None:
                o["status"] = status

            self.store.mutate(key, meta["namespace"], meta["name"], change, subresource="status")

    def _runtime_of(self, dataset: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        meta = dataset["metadata"]
        for key, short in RUNTIMES.items():
            found = self.store.try_get(key, meta["namespace"], meta["name"])
            if found is not None:
                return short, found
        return None

    def cache_dir(self, namespace: str, name: str) -> Path:
        return self.knobs.workdir / "fluid" / namespace / name

    def _dataset(self, dataset: dict[str, Any]) -> None:
        meta = dataset["metadata"]
        ns, name = meta["namespace"], meta["name"]
        found = self._runtime_of(dataset)
        ready = found is not None and (found[1].get("status") or {}).get("workerPhase") == "Ready"
        cache = self.cache_dir(ns, name)

        def change(o: dict[str, Any]) -> None:
            status = o.setdefault("status", {})
            conditions = status.setdefault("conditions", [])
            if not ready:
                status["phase"] = "NotBound"
                return
            assert found is not None
            status["phase"] = "Bound"
            status["runtimes"] = [
                {
                    "name": name,
                    "namespace": ns,
                    "type": found[0],
                    "category": "Accelerate",
                    "masterReplicas": 1,
                }
            ]
            quota = ((found[1].get("spec") or {}).get("tieredstore") or {}).get("levels") or [{}]
            cached = _dir_bytes(cache) if cache.exists() else 0
            status["cacheStates"] = {
                "cacheCapacity": str(quota[0].get("quota") or ""),
                "cached": fluid_size(cached),
            }
            if set_meta_condition(
                conditions, "Ready", "True", "DatasetReady", "The ddc runtime is ready."
            ):
                conditions[-1]["lastUpdateTime"] = kube.now_iso()

        self.store.mutate(DATASET, ns, name, change, subresource="status")
        if ready and self.store.try_get(PVC, ns, name) is None:
            self._make_claim(ns, name, cache)

    def _make_claim(self, ns: str, name: str, cache: Path) -> None:
        cache.mkdir(parents=True, exist_ok=True)
        self.knobs.pvc_paths[name] = cache
        self.store.create(
            PVC,
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "namespace": ns, "labels": {"fluid.io/dataset": name}},
                "spec": {
                    "accessModes": ["ReadOnlyMany"],
                    "storageClassName": "fluid",
                    "volumeName": f"{ns}-{name}",
                    "resources": {"requests": {"storage": "100Pi"}},
                },
            },
            ns,
        )
        self.store.mutate(PVC, ns, name, _bound, subresource="status")

    # -------------------- data loads

    def _load(self, load: dict[str, Any]) -> None:
        meta, status = load["metadata"], load.get("status") or {}
        phase = status.get("phase")
        if phase in ("Complete", "Failed"):
            return
        ns = meta["namespace"]
        target = (load.get("spec") or {}).get("dataset") or {}
        dataset = self.store.try_get(DATASET, target.get("namespace") or ns, target.get("name", ""))
        if dataset is None or (dataset.get("status") or {}).get("phase") != "Bound":
            self._set_load(load, "Pending", "", "")
            return
        uid = meta["uid"]
        wait = self._last_pass.get(uid, 0.0) + self.knobs.fluid_pass_seconds - time.monotonic()
        if wait > 0:  # a load takes time: one pass of files per fluid_pass_seconds
            self.memo.retry_later(f"fluid/{uid}", wait)
            return
        self._last_pass[uid] = time.monotonic()
        cache = self.cache_dir(dataset["metadata"]["namespace"], dataset["metadata"]["name"])
        try:
            files = self._files_left(load, dataset)
            for rel, read in files[: self.knobs.fluid_files_per_pass]:
                path = cache / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(read())
            del files[: self.knobs.fluid_files_per_pass]
        except OSError as err:
            self.memo.settled(f"fluid/{uid}")
            self._set_load(load, "Failed", "LoadFailed", f"loading failed: {err}")
            return
        self._dataset(dataset)  # its cacheStates grow as the load goes
        if files:
            self._set_load(load, "Executing", "", "")
            self.memo.retry_later(f"fluid/{uid}", self.knobs.fluid_pass_seconds)
        else:
            self.memo.settled(f"fluid/{uid}")
            self._set_load(load, "Complete", "DataLoadJobComplete", "the data is loaded")

    def _set_load(self, load: dict[str, Any], phase: str, reason: str, message: str) -> None:
        meta = load["metadata"]
        started = kube.parse_time(meta["creationTimestamp"])

        def change(o: dict[str, Any]) -> None:
            status = o.setdefault("status", {})
            status["phase"] = phase
            status.setdefault("conditions", [])
            status["duration"] = (
                f"{time.time() - started:.0f}s" if phase in ("Complete", "Failed") else "Unfinished"
            )
            if reason:
                kind = "Complete" if phase == "Complete" else "Failed"
                status["conditions"] = [
                    {
                        "type": kind,
                        "status": "True",
                        "reason": reason,
                        "message": message,
                        "lastProbeTime": kube.now_iso(),
                        "lastTransitionTime": kube.now_iso(),
                    }
                ]

        self.store.mutate(DATALOAD, meta["namespace"], meta["name"], change, subresource="status")

    def _files_left(self, load: dict[str, Any], dataset: dict[str, Any]) -> list[Any]:
        uid = load["metadata"]["uid"]
        if uid not in self._sources:
            mount = dataset["spec"]["mounts"][0]
            self._sources[uid] = self._list_source(dataset["metadata"]["namespace"], mount)
        return self._sources[uid]

    def _list_source(self, ns: str, mount: dict[str, Any]) -> list[tuple[str, Any]]:
        point = mount["mountPoint"]
        creds = self._credentials(ns, mount)
        if point.startswith("juicefs://"):
            return _list_dir(self._juicefs_dir(point[len("juicefs://") :], creds, mount))
        if point.startswith("local://"):
            return _list_dir(Path(point[len("local://") :]))
        scheme = point.split("://", 1)[0]
        if scheme in ("s3", "oss"):
            return self._list_bucket(scheme, point[len(scheme) + 3 :].rstrip("/"), creds, mount)
        raise OSError(
            f"the fake Fluid reads local://, s3://, oss:// and juicefs:/// mount points; it "
            f"cannot emulate {scheme}:// ({point})"
        )

    def _credentials(self, ns: str, mount: dict[str, Any]) -> dict[str, str]:
        """The mount's encryptOptions, read from their Secrets, by what each one carries."""
        creds = {}
        for option in mount.get("encryptOptions") or []:
            ref = option["valueFrom"]["secretKeyRef"]
            secret = self.store.try_get("secrets", ns, ref["name"])
            if secret is None or ref["key"] not in (secret.get("data") or {}):
                raise OSError(f"secret {ref['name']} has no key {ref['key']}")
            role = CREDENTIAL_NAMES.get(option["name"], option["name"])
            creds[role] = base64.b64decode(secret["data"][ref["key"]]).decode()
        return creds

    def _juicefs_dir(self, subpath: str, creds: dict[str, str], mount: dict[str, Any]) -> Path:
        """The directory of a JuiceFS volume a ``juicefs:///<subpath>`` mount names."""
        if "metaurl" not in creds:
            raise OSError(f"JuiceFS mount {mount.get('name')!r} has no metaurl encryptOption")
        volume = self.knobs.juicefs_volumes.get(creds["metaurl"])
        if volume is None:
            raise OSError(
                f"no JuiceFS volume is formatted at the metaurl of mount {mount.get('name')!r}"
            )
        return volume / subpath.lstrip("/")

    def _list_bucket(
        self, scheme: str, root: str, creds: dict[str, str], mount: dict[str, Any]
    ) -> list[tuple[str, Any]]:
        options = mount.get("options") or {}
        endpoint = next((options[k] for k in ENDPOINT_NAMES if options.get(k)), None)
        fs: Any
        if scheme == "oss":
            import ossfs

            fs = ossfs.OSSFileSystem(
                key=creds.get("key"),
                secret=creds.get("secret"),
                endpoint=endpoint,
                skip_instance_cache=True,
            )
        else:
            import s3fs

            fs = s3fs.S3FileSystem(
                key=creds.get("key"),
                secret=creds.get("secret"),
                client_kwargs={"endpoint_url": endpoint},
                skip_instance_cache=True,
            )
        found = fs.find(root, detail=True)
        paths = sorted(p.lstrip("/") for p, info in found.items() if info["type"] != "directory")
        if not paths:  # ossfs lists nothing, rather than fail, when it is refused
            raise OSError(f"{scheme}://{root} lists no objects (missing, or access refused)")
        return [(p[len(root) + 1 :], lambda p=p: fs.cat_file(p)) for p in paths]

    # -------------------- claims of provisioned StorageClasses

    def _drop_orphan(self, claim: dict[str, Any]) -> None:
        """Fluid deletes a Dataset's PVC (and its cache) with the Dataset."""
        meta = claim["metadata"]
        owner = (meta.get("labels") or {}).get("fluid.io/dataset")
        if owner and self.store.try_get(DATASET, meta["namespace"], owner) is None:
            self.store.delete(PVC, meta["namespace"], meta["name"])
            self.knobs.pvc_paths.pop(meta["name"], None)

    def _bind(self, claim: dict[str, Any]) -> None:
        meta = claim["metadata"]
        if (claim.get("status") or {}).get("phase") == "Bound":
            return
        if (claim.get("spec") or {}).get("storageClassName") not in self.knobs.provisioned_classes:
            if (claim.get("status") or {}).get("phase") != "Pending":
                self.store.mutate(
                    PVC, meta["namespace"], meta["name"], _pending, subresource="status"
                )
            return
        volume = self.knobs.workdir / "volumes" / meta["namespace"] / meta["name"]
        volume.mkdir(parents=True, exist_ok=True)
        self.knobs.pvc_paths[meta["name"]] = volume
        self.store.mutate(PVC, meta["namespace"], meta["name"], _bound, subresource="status")


def _list_dir(root: Path) -> list[tuple[str, Any]]:
    if not root.is_dir():
        raise OSError(f"{root} is not a directory on the nodes")
    return [
        (str(p.relative_to(root)), p.read_bytes) for p in sorted(root.rglob("*")) if p.is_file()
    ]


def _bound(o: dict[str, Any]) -> None:
    o["status"] = {"phase": "Bound", "accessModes": list(o["spec"].get("accessModes") or [])}


def _pending(o: dict[str, Any]) -> None:
    o["status"] = {"phase": "Pending"}
