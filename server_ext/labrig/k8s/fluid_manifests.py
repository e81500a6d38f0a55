"""The objects a pinned dataset version becomes on Kubernetes, as plain dicts (pure functions:
golden files and schema validation test them without a cluster).

A version is either a Fluid ``Dataset`` (data.fluid.io/v1alpha1) bound to a runtime of the same
name (AlluxioRuntime, JuiceFSRuntime or ThinRuntime) and warmed by a ``DataLoad``, or a
``PersistentVolumeClaim`` (an existing one, or one created ReadOnlyMany from a storage class
that serves the source). Fluid makes a PVC named like the Dataset; pods mount either claim
read-only (``datasets.dataset_volumes``).

Pinning: the object name carries the version (``labrig-ds-<name>-<manifest hash>``), so a
refreshed dataset is a new Dataset and a running job keeps the one it started with; the full
hash is also the ``labrig.io/dataset-version`` label. Credentials are never inline: they are
``encryptOptions`` naming keys of a Secret.

JuiceFS is a file system over an object store, not a reader of existing objects: a JuiceFS
dataset is a directory of one formatted JuiceFS volume (its metadata URL in a Secret; Fluid
formats it when the storage type and bucket are given), which this server sees mounted at
``JuiceFSVolume.root``. A ThinRuntime reads its source through the FUSE of a
ThinRuntimeProfile the platform installed, named by ``thin_profile``. The builders refuse
(``SettingMissing``, naming the setting) rather than build a runtime Fluid cannot start.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from ..errors import Conflict
from .client import Kind

DATASET = Kind("Dataset", "data.fluid.io", "v1alpha1", "datasets")
DATALOAD = Kind("DataLoad", "data.fluid.io", "v1alpha1", "dataloads")
RUNTIMES = {
    "alluxio": Kind("AlluxioRuntime", "data.fluid.io", "v1alpha1", "alluxioruntimes"),
    "juicefs": Kind("JuiceFSRuntime", "data.fluid.io", "v1alpha1", "juicefsruntimes"),
    "thin": Kind("ThinRuntime", "data.fluid.io", "v1alpha1", "thinruntimes"),
}
PVC = Kind("PersistentVolumeClaim", "", "v1", "persistentvolumeclaims")

MANAGED_BY = {"app.kubernetes.io/managed-by": "labrig"}
DATASET_LABEL = "labrig.io/dataset"
VERSION_LABEL = "labrig.io/dataset-version"
SOURCE_ANNOTATION = "labrig.io/source-url"

#: The Secret keys each runtime reads credentials from, by labrig credential role and scheme.
CREDENTIAL_OPTIONS = {
    "alluxio": {
        "s3": {"key": "fs.s3a.access.key", "secret": "fs.s3a.secret.key"},
        "oss": {"key": "fs.oss.accessKeyId", "secret": "fs.oss.accessKeySecret"},
    },
    "thin": {"*": {"key": "access-key", "secret": "secret-key"}},
}
#: Non-secret options per runtime and scheme: the endpoint and region.
ENDPOINT_OPTIONS = {
    "alluxio": {"s3": "alluxio.underfs.s3.endpoint", "oss": "fs.oss.endpoint"},
    "thin": {"*": "endpoint"},
}


#: The encryptOptions Fluid's JuiceFS runtime reads, in the order they are listed.
JUICEFS_ROLES = ("metaurl", "access-key", "secret-key")


class SettingMissing(Conflict):
    """The deployment's settings cannot make a usable runtime; the message names the setting."""

    reason = "setting_missing"


@dataclass(frozen=True)
class JuiceFSVolume:
    """The formatted JuiceFS file system that datasets of runtime_kind 'juicefs' live in."""

    #: The Secret holding the volume's metaurl (and its bucket's access keys, if any).
    secret: str = ""
    #: JuiceFS role (metaurl, access-key, secret-key) -> key in that Secret.
    keys: dict[str, str] = field(default_factory=dict)
    #: Where this server sees the volume mounted: a dataset is a directory under it.
    root: str = ""
    #: The file system's name (``juicefs format``'s NAME; the Dataset mount's name).
    name: str = "labrig-datasets"
    #: Object storage type and bucket URL: Fluid formats the volume with them when both are set.
    storage: str = ""
    bucket: str = ""


@dataclass(frozen=True)
class DatasetSettings:
    """``FluidDatasetCache``'s settings, as the builders need them."""

    namespace: str
    runtime_kind: str = "alluxio"
    replicas: int = 1
    medium: str = "MEM"
    medium_path: str = "/dev/shm"
    quota: str = "2Gi"
    thin_profile: str = ""
    juicefs: JuiceFSVolume = field(default_factory=JuiceFSVolume)
    runtime_properties: dict[str, str] = field(default_factory=dict)
    storage_class: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionSource:
    """One pinned dataset version and where its bytes come from."""

    dataset: str
    version: str
    source_url: str
    bytes: int
    endpoint_url: str = ""
    region: str = ""
    #: The Secret holding the source's credentials ("" when it needs none), and the key of
    #: each credential role in it ({"key": "access-key", "secret": "secret-key"}).
    secret: str = ""
    secret_keys: dict[str, str] = field(default_factory=dict)


def slug(dataset: str) -> str:
    """The catalog name as a label value: lower case, anything else ``-``, at most 30."""
    return re.sub(r"[^a-z0-9]+", "-", dataset.lower()).strip("-")[:30].strip("-") or "ds"


def object_name(dataset: str, version: str) -> str:
    """``labrig-ds-<name>-<version>``: a DNS-1035 label naming the Dataset, runtime and PVC."""
    return f"labrig-ds-{slug(dataset)}-{version[:16]}"


def _metadata(settings: DatasetSettings, source: VersionSource, name: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": settings.namespace,
        "labels": {
            **settings.labels,
            **MANAGED_BY,
            DATASET_LABEL: slug(source.dataset),
            VERSION_LABEL: source.version,
        },
        "annotations": {
            **settings.annotations,
            "labrig.io/dataset-name": source.dataset,
            SOURCE_ANNOTATION: source.source_url,
        },
    }


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else "file"


def mount_point(source: VersionSource) -> str:
    """Where the runtime reads the source: Fluid names a host directory ``local://``."""
    scheme = scheme_of(source.source_url)
    if scheme == "file":
        return "local://" + source.source_url.split("://", 1)[-1]
    return source.source_url


def _per_scheme(table: dict[str, Any], scheme: str) -> Any:
    return table.get(scheme, table.get("*"))


def _mount(settings: DatasetSettings, source: VersionSource) -> dict[str, Any]:
    scheme = scheme_of(source.source_url)
    kind = settings.runtime_kind
    mount: dict[str, Any] = {
        "mountPoint": mount_point(source),
        "name": "source",
        "path": "/",
        "readOnly": True,
    }
    options: dict[str, str] = {}
    endpoint_key = _per_scheme(ENDPOINT_OPTIONS[kind], scheme)
    if source.endpoint_url and endpoint_key:
        options[endpoint_key] = source.endpoint_url
    if source.region and kind == "alluxio" and scheme == "s3":
        options["alluxio.underfs.s3.region"] = source.region
    if options:
        mount["options"] = options
    if source.secret:
        names = _per_scheme(CREDENTIAL_OPTIONS[kind], scheme) or {}
        mount["encryptOptions"] = [
            {
                "name": names[role],
                "valueFrom": {"secretKeyRef": {"name": source.secret, "key": key}},
            }
            for role, key in sorted(source.secret_keys.items())
            if role in names
        ]
    return mount


def juicefs_subpath(volume: JuiceFSVolume, source: VersionSource) -> str | None:
    """The dataset's directory inside the JuiceFS volume, or None when its source is not a
    directory of the volume as this server sees it mounted (``volume.root``)."""
    if scheme_of(source.source_url) != "file" or not volume.root:
        return None
    path = PurePosixPath(source.source_url.split("://", 1)[-1])
    root = PurePosixPath(volume.root)
    if path != root and root not in path.parents:
        return None
    relative = path.relative_to(root)
    return "/" if relative == PurePosixPath(".") else f"/{relative}"


def _juicefs_mount(volume: JuiceFSVolume, subpath: str) -> dict[str, Any]:
    """A directory of the JuiceFS volume (``juicefs:///<subpath>``), the volume's metaurl and
    keys by Secret reference; ``storage``/``bucket`` let Fluid format it when it is new."""
    mount: dict[str, Any] = {
        "mountPoint": f"juicefs://{subpath}",
        "name": volume.name,
        "path": "/",
        "readOnly": True,
    }
    if volume.storage:
        mount["options"] = {"storage": volume.storage, "bucket": volume.bucket}
    mount["encryptOptions"] = [
        {
            "name": role,
            "valueFrom": {"secretKeyRef": {"name": volume.secret, "key": volume.keys[role]}},
        }
        for role in JUICEFS_ROLES
        if volume.keys.get(role)
    ]
    return mount


def _juicefs_problem(volume: JuiceFSVolume) -> str | None:
    if not volume.secret:
        return (
            "FluidDatasetCache.juicefs_secret is not set: a JuiceFSRuntime reads the JuiceFS "
            "volume's metadata URL (metaurl) from that Secret"
        )
    if not volume.keys.get("metaurl"):
        return (
            "FluidDatasetCache.juicefs_secret_keys names no 'metaurl' key: say which key of "
            f"Secret {volume.secret} holds the JuiceFS volume's metadata URL"
        )
    if not volume.root:
        return (
            "FluidDatasetCache.juicefs_root is not set: the path where this server sees the "
            "JuiceFS volume mounted (a JuiceFS dataset is a directory of the volume)"
        )
    if bool(volume.storage) != bool(volume.bucket):
        return (
            "FluidDatasetCache.juicefs_storage and FluidDatasetCache.juicefs_bucket go "
            "together (Fluid formats the volume with both): set both, or neither for a volume "
            "that is already formatted"
        )
    return None


def settings_problem(settings: DatasetSettings) -> str | None:
    """What the runtime of ``settings`` still needs from the deployment, naming the setting."""
    if settings.runtime_kind == "juicefs":
        return _juicefs_problem(settings.juicefs)
    if settings.runtime_kind == "thin" and not settings.thin_profile:
        return (
            "FluidDatasetCache.thin_profile is not set: a ThinRuntime needs the name of a "
            "ThinRuntimeProfile installed in the cluster (`kubectl get thinruntimeprofiles`)"
        )
    return None


def check_settings(settings: DatasetSettings, source: VersionSource) -> None:
    """Raise ``SettingMissing`` unless the runtime of ``settings`` can serve ``source``."""
    problem = settings_problem(settings)
    volume = settings.juicefs
    outside = settings.runtime_kind == "juicefs" and juicefs_subpath(volume, source) is None
    if problem is None and outside:
        problem = (
            f"dataset {source.dataset!r}: {source.source_url} is not a directory of the "
            f"JuiceFS volume mounted at {volume.root} (FluidDatasetCache.juicefs_root); "
            "JuiceFS serves only files written into its volume: copy the data in (e.g. "
            "`juicefs sync`) and add the dataset from that directory, or set "
            "FluidDatasetCache.runtime_kind to 'alluxio'"
        )
    if problem:
        raise SettingMissing(problem)


def fluid_dataset(settings: DatasetSettings, source: VersionSource) -> dict[str, Any]:
    """The Fluid Dataset of one pinned version, read-only for every pod that mounts it."""
    check_settings(settings, source)
    name = object_name(source.dataset, source.version)
    subpath = juicefs_subpath(settings.juicefs, source)
    if settings.runtime_kind == "juicefs" and subpath is not None:  # check_settings made sure
        mount = _juicefs_mount(settings.juicefs, subpath)
    else:
        mount = _mount(settings, source)
    return {
        "apiVersion": DATASET.api_version,
        "kind": DATASET.kind,
        "metadata": _metadata(settings, source, name),
        "spec": {
            "mounts": [mount],
            "accessModes": ["ReadOnlyMany"],
        },
    }


def _tieredstore(settings: DatasetSettings) -> dict[str, Any]:
    return {
        "levels": [
            {
                "mediumtype": settings.medium,
                "path": settings.medium_path,
                "quota": settings.quota,
                "high": "0.95",
                "low": "0.7",
            }
        ]
    }


def runtime(settings: DatasetSettings, source: VersionSource) -> dict[str, Any]:
    """The runtime Fluid binds the Dataset of the same name to (``settings.runtime_kind``)."""
    check_settings(settings, source)
    kind = RUNTIMES[settings.runtime_kind]
    name = object_name(source.dataset, source.version)
    spec: dict[str, Any] = {"replicas": settings.replicas}
    if settings.runtime_kind == "thin":
        spec["profileName"] = settings.thin_profile
    else:
        spec["tieredstore"] = _tieredstore(settings)
    if settings.runtime_kind == "alluxio" and settings.runtime_properties:
        spec["properties"] = dict(settings.runtime_properties)
    return {
        "apiVersion": kind.api_version,
        "kind": kind.kind,
        "metadata": _metadata(settings, source, name),
        "spec": spec,
    }


def dataload(settings: DatasetSettings, source: VersionSource, attempt: str) -> dict[str, Any]:
    """A one-off warm-up of the whole Dataset (metadata first), named per attempt."""
    name = object_name(source.dataset, source.version)
    return {
        "apiVersion": DATALOAD.api_version,
        "kind": DATALOAD.kind,
        "metadata": _metadata(settings, source, f"{name}-load-{attempt}"),
        "spec": {
            "dataset": {"name": name, "namespace": settings.namespace},
            "loadMetadata": True,
            "target": [{"path": "/", "replicas": 1}],
            "policy": "Once",
        },
    }


def pvc(settings: DatasetSettings, source: VersionSource) -> dict[str, Any]:
    """A claim created ReadOnlyMany from ``storage_class`` (a CSI driver serving the source,
    e.g. a bucket driver), sized to the version."""
    name = object_name(source.dataset, source.version)
    gib = max(1, -(-source.bytes // 2**30))
    return {
        "apiVersion": PVC.api_version,
        "kind": PVC.kind,
        "metadata": _metadata(settings, source, name),
        "spec": {
            "accessModes": ["ReadOnlyMany"],
            "storageClassName": settings.storage_class,
            "resources": {"requests": {"storage": f"{gib}Gi"}},
        },
    }
