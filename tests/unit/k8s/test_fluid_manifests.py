"""Every object a pinned dataset version becomes on Kubernetes (Fluid Dataset, each runtime,
DataLoad, PVC) and the read-only dataset volumes of a job's pods, against golden files and the
schemas a real API server checks (pinned Fluid CRDs; kubernetes-validate for core kinds).

Regenerate the golden files after an intended change with ``LABRIG_UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s.validation import ManifestInvalid, validate

from labrig.k8s import fluid_manifests as fm
from labrig.k8s import manifests
from labrig.k8s.datasets import DatasetMount, dataset_volumes
from labrig.k8s.manifests import ClusterSettings, RankJob

GOLDEN = Path(__file__).with_name("golden")
BASE = ClusterSettings(namespace="ml", image="registry.example.com/ml/labrig-rank:0.1")


def rank_job(**changes: Any) -> RankJob:
    values: dict[str, Any] = {
        "job_id": "6fe1c0de12ab",
        "name": "train",
        "notebook_path": "notebooks/train.ipynb",
        "snapshot_sha256": "ab" * 32,
        "nodes": 1,
        "procs_per_node": 1,
        "cpus": 1.0,
        "memory": None,
        "gpus": 0,
        "timeout": None,
        "env": {"LABRIG_JOB_ID": "6fe1c0de12ab"},
        "store_url": "s3://ml-jobs/labrig/jobs/6fe1c0de12ab",
        "store_options": {},
    }
    values.update(changes)
    return RankJob(**values)


SETTINGS = fm.DatasetSettings(namespace="ml", labels={"team": "vision"})
S3 = fm.VersionSource(
    dataset="ImageNet_1k",
    version="0123456789abcdef",
    source_url="s3://ml-data/imagenet",
    bytes=150 * 2**30,
    endpoint_url="http://minio.storage:9000",
    region="eu-west-1",
    secret="imagenet-s3",
    secret_keys={"key": "access-key", "secret": "secret-key"},
)
OSS = fm.VersionSource(
    dataset="coco",
    version="00112233aabbccdd",
    source_url="oss://vision-data/coco",
    bytes=20 * 2**30,
    endpoint_url="https://oss-cn-hangzhou.aliyuncs.com",
    secret="coco-oss",
    secret_keys={"key": "access-key", "secret": "secret-key"},
)
JUICEFS = fm.JuiceFSVolume(
    secret="jfs-volume",
    keys={"metaurl": "metaurl", "access-key": "access-key", "secret-key": "secret-key"},
    root="/jfs",
    name="ml-datasets",
    storage="minio",
    bucket="http://minio.storage:9000/jfs",
)
IN_JUICEFS = fm.VersionSource(
    dataset="ImageNet_1k",
    version="0123456789abcdef",
    source_url="file:///jfs/vision/imagenet",
    bytes=150 * 2**30,
)
HTTP = fm.VersionSource(
    dataset="mnist",
    version="fedcba9876543210",
    source_url="https://data.example.com/mnist/",
    bytes=12_000_000,
)


def _with(**changes: Any) -> fm.DatasetSettings:
    return fm.DatasetSettings(**{**SETTINGS.__dict__, **changes})


MOUNTS = [
    DatasetMount(
        "mnist",
        "fedcba9876543210",
        "labrig-ds-mnist-fedcba9876543210",
        "/srv/labrig/jobs/6fe1c0de12ab/datasets/mnist",
    ),
    DatasetMount(
        "ImageNet_1k",
        "0123456789abcdef",
        "labrig-ds-imagenet-1k-0123456789abcdef",
        "/srv/labrig/jobs/6fe1c0de12ab/datasets/ImageNet_1k",
    ),
]
JOB = rank_job(datasets=tuple(MOUNTS))

CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "fluid-dataset-alluxio-s3": lambda: fm.fluid_dataset(SETTINGS, S3),
    "fluid-alluxioruntime": lambda: fm.runtime(
        _with(
            medium="SSD",
            medium_path="/mnt/nvme",
            quota="100Gi",
            replicas=2,
            runtime_properties={"alluxio.user.file.readtype.default": "CACHE"},
        ),
        S3,
    ),
    "fluid-dataset-alluxio-oss": lambda: fm.fluid_dataset(SETTINGS, OSS),
    "fluid-dataset-juicefs": lambda: fm.fluid_dataset(
        _with(runtime_kind="juicefs", juicefs=JUICEFS), IN_JUICEFS
    ),
    "fluid-juicefsruntime": lambda: fm.runtime(
        _with(runtime_kind="juicefs", juicefs=JUICEFS, medium="SSD", medium_path="/mnt/jfs"),
        IN_JUICEFS,
    ),
    "fluid-dataset-thin-http": lambda: fm.fluid_dataset(
        _with(runtime_kind="thin", thin_profile="http-fuse"), HTTP
    ),
    "fluid-thinruntime": lambda: fm.runtime(
        _with(runtime_kind="thin", thin_profile="http-fuse"), HTTP
    ),
    "fluid-dataload": lambda: fm.dataload(SETTINGS, S3, "a1b2c3d4"),
    "dataset-pvc-readonlymany": lambda: fm.pvc(_with(storage_class="csi-s3-ro"), S3),
    "pytorchjob-with-datasets": lambda: manifests.pytorchjob(BASE, JOB),
    "trainjob-with-datasets": lambda: manifests.trainjob(
        ClusterSettings(**{**BASE.__dict__, "job_api": "trainjob"}), JOB
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_dataset_manifest_matches_its_golden_file_and_validates(name: str) -> None:
    built = CASES[name]()
    validate(built)
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("LABRIG_UPDATE_GOLDEN"):
        golden.write_text(yaml.safe_dump(built, sort_keys=True))
    assert yaml.safe_load(golden.read_text()) == json.loads(json.dumps(built)), (
        f"{name} differs from {golden}; if intended, rerun with LABRIG_UPDATE_GOLDEN=1"
    )


def test_credentials_are_secret_references_never_values() -> None:
    for kind in ("alluxio", "thin"):
        settings = _with(runtime_kind=kind, thin_profile="s3fs")
        mount = fm.fluid_dataset(settings, S3)["spec"]["mounts"][0]
        refs = mount["encryptOptions"]
        assert refs
        assert all(r["valueFrom"]["secretKeyRef"]["name"] == "imagenet-s3" for r in refs)
        assert {r["valueFrom"]["secretKeyRef"]["key"] for r in refs} == {"access-key", "secret-key"}
        assert not {"access-key", "secret-key", "fs.s3a.secret.key"} & set(mount.get("options", {}))
    assert "encryptOptions" not in fm.fluid_dataset(SETTINGS, HTTP)["spec"]["mounts"][0]


def test_the_object_name_pins_the_version_and_a_label_carries_the_hash() -> None:
    dataset = fm.fluid_dataset(SETTINGS, S3)
    assert dataset["metadata"]["name"] == "labrig-ds-imagenet-1k-0123456789abcdef"
    assert dataset["metadata"]["labels"]["labrig.io/dataset-version"] == S3.version
    refreshed = fm.VersionSource(**{**S3.__dict__, "version": "1111111111111111"})
    assert fm.fluid_dataset(SETTINGS, refreshed)["metadata"]["name"] != dataset["metadata"]["name"]
    assert fm.runtime(SETTINGS, S3)["metadata"]["name"] == dataset["metadata"]["name"]


def test_a_local_directory_source_is_a_fluid_local_mount_point() -> None:
    local = fm.VersionSource(dataset="d", version="0" * 16, source_url="file:///data/d", bytes=1)
    assert fm.fluid_dataset(SETTINGS, local)["spec"]["mounts"][0]["mountPoint"] == "local:///data/d"


def test_pods_mount_each_dataset_read_only_at_its_local_path() -> None:
    volumes, mounts = dataset_volumes(MOUNTS)
    assert [v["persistentVolumeClaim"] for v in volumes] == [
        {"claimName": "labrig-ds-imagenet-1k-0123456789abcdef", "readOnly": True},
        {"claimName": "labrig-ds-mnist-fedcba9876543210", "readOnly": True},
    ]
    assert all(m["readOnly"] for m in mounts)
    assert {m["mountPath"] for m in mounts} == {m.mount_path for m in MOUNTS}
    pod = manifests.pytorchjob(BASE, JOB)["spec"]["pytorchReplicaSpecs"]["Master"]["template"]
    assert pod["metadata"]["annotations"]["labrig.io/dataset-versions"] == (
        "ImageNet_1k=0123456789abcdef,mnist=fedcba9876543210"
    )
    assert (
        "annotations"
        not in manifests.pytorchjob(BASE, rank_job())["spec"]["pytorchReplicaSpecs"]["Master"][
            "template"
        ]["metadata"]
    )


def test_the_validation_would_catch_a_wrong_runtime_field() -> None:
    broken = fm.runtime(SETTINGS, S3)
    broken["spec"]["tieredstore"]["levels"][0]["mediumtype"] = "TAPE"
    with pytest.raises(ManifestInvalid, match="mediumtype"):
        validate(broken)
