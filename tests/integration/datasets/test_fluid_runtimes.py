"""Each Fluid runtime labrig builds, configured as a platform engineer would, warmed through the
emulated cluster: JuiceFS (a directory of a formatted volume whose metaurl is in a Secret),
Thin (a ThinRuntimeProfile), Alluxio over OSS (ossfs against the OSS-dialect adapter); and
what is refused, by setting, before anything is created."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import FileServer, make_files, tree_bytes, write_tree
from k8s.rig import KubeRig

from labrig.errors import LabrigError
from labrig.k8s.fluid import FluidTimeout
from labrig.k8s.fluid_manifests import SettingMissing

FILES = make_files(6, 15_000, seed=23, prefix="train/")
METAURL = "redis://:jfs-meta-password@redis.storage:6379/1"
FLUID_KINDS = ("datasets", "dataloads", "alluxioruntimes", "juicefsruntimes", "thinruntimes")


def secret(kube: KubeRig, name: str, data: dict[str, str]) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    kube.emu.store.create(
        "secrets",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": encoded},
        "ml",
    )


def fluid_objects(kube: KubeRig) -> list[str]:
    return [
        o["metadata"]["name"]
        for plural in FLUID_KINDS
        for o in kube.emu.store.select(f"{plural}.data.fluid.io")
    ]


@pytest.fixture
def juicefs_volume(kube: KubeRig, tmp_path: Path) -> dict[str, Any]:
    """A formatted JuiceFS volume: its metaurl in a Secret, its files where this server sees
    it mounted (the directory the fake plays the volume with); FluidDatasetCache settings."""
    root = tmp_path / "jfs"
    write_tree(root / "vision" / "digits", FILES)
    kube.cluster.juicefs_volumes[METAURL] = root
    secret(kube, "jfs-volume", {"metaurl": METAURL, "access-key": "ak", "secret-key": "sk"})
    return {
        "runtime_kind": "juicefs",
        "juicefs_secret": "jfs-volume",
        "juicefs_root": str(root),
        "juicefs_storage": "minio",
        "juicefs_bucket": "http://minio.storage:9000/jfs",
    }


def test_a_juicefs_dataset_is_a_directory_of_the_volume_and_warms(
    fluid_catalog: Any, kube: KubeRig, juicefs_volume: dict[str, Any]
) -> None:
    catalog = fluid_catalog(**juicefs_volume)
    catalog.create(
        {"name": "digits", "source_url": f"file://{juicefs_volume['juicefs_root']}/vision/digits"}
    )
    assert catalog.warm("digits")["state"] == "succeeded"
    name = catalog.cache.claim_for("digits", catalog.manifest("digits")[0])
    assert tree_bytes(kube.cluster.pvc_paths[name]) == FILES
    dataset = kube.emu.store.get("datasets.data.fluid.io", "ml", name)
    mount = dataset["spec"]["mounts"][0]
    assert mount["mountPoint"] == "juicefs:///vision/digits"
    assert mount["options"] == {"storage": "minio", "bucket": "http://minio.storage:9000/jfs"}
    assert {o["name"] for o in mount["encryptOptions"]} == {"metaurl", "access-key", "secret-key"}
    assert "jfs-meta-password" not in json.dumps(dataset)
    assert kube.emu.store.get("juicefsruntimes.data.fluid.io", "ml", name)
    assert catalog.mount_for_job(["digits"], kube.data_dir / "job")


@pytest.mark.parametrize(
    ("missing", "named"),
    [
        ("juicefs_secret", "FluidDatasetCache.juicefs_secret is not set"),
        ("juicefs_root", "FluidDatasetCache.juicefs_root is not set"),
        ("juicefs_bucket", "juicefs_storage and FluidDatasetCache.juicefs_bucket go together"),
    ],
)
def test_juicefs_without_its_volume_settings_is_refused_before_anything_is_created(
    fluid_catalog: Any,
    kube: KubeRig,
    juicefs_volume: dict[str, Any],
    missing: str,
    named: str,
) -> None:
    catalog = fluid_catalog(**{k: v for k, v in juicefs_volume.items() if k != missing})
    catalog.create(
        {"name": "digits", "source_url": f"file://{juicefs_volume['juicefs_root']}/vision/digits"}
    )
    with pytest.raises(SettingMissing, match=named):
        catalog.warm("digits")
    assert catalog.warm_status("digits")["state"] == "failed"
    assert fluid_objects(kube) == []


def test_a_source_outside_the_juicefs_volume_is_refused_with_what_to_do(
    fluid_catalog: Any, kube: KubeRig, juicefs_volume: dict[str, Any], tmp_path: Path
) -> None:
    catalog = fluid_catalog(**juicefs_volume)
    write_tree(tmp_path / "elsewhere", FILES)
    catalog.create({"name": "elsewhere", "source_url": f"file://{tmp_path / 'elsewhere'}"})
    with pytest.raises(SettingMissing) as caught:
        catalog.warm("elsewhere")
    assert "is not a directory of the JuiceFS volume" in caught.value.message
    assert "juicefs sync" in caught.value.message
    assert fluid_objects(kube) == []


def test_a_thin_runtime_needs_its_profile_set_and_installed(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    write_tree(tmp_path / "src", FILES)
    body = {"name": "thin-ds", "source_url": f"file://{tmp_path / 'src'}"}
    unset = fluid_catalog(runtime_kind="thin")
    unset.create(body)
    with pytest.raises(SettingMissing, match=r"FluidDatasetCache\.thin_profile is not set"):
        unset.warm("thin-ds")
    assert fluid_objects(kube) == []

    not_installed = fluid_catalog(runtime_kind="thin", thin_profile="local-fuse", ready_timeout=0.5)
    with pytest.raises(FluidTimeout, match='ThinRuntimeProfile "local-fuse" not found'):
        not_installed.warm("thin-ds")

    kube.cluster.thin_profiles.add("local-fuse")
    assert not_installed.warm("thin-ds")["state"] == "succeeded"
    name = not_installed.cache.claim_for("thin-ds", not_installed.manifest("thin-ds")[0])
    runtime = kube.emu.store.get("thinruntimes.data.fluid.io", "ml", name)
    assert runtime["spec"]["profileName"] == "local-fuse"
    assert tree_bytes(kube.cluster.pvc_paths[name]) == FILES


def test_an_oss_source_loads_through_fluid_with_secret_references(
    fluid_catalog: Any, kube: KubeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUID_OSS_KEY", "testing")
    monkeypatch.setenv("FLUID_OSS_SECRET", "testing")
    secret(kube, "dataset-oss", {"access-key": "testing", "secret-key": "testing"})
    kube.storage.put_tree("fluid-oss", {f"coco/{k}": v for k, v in FILES.items()})
    catalog = fluid_catalog(credentials_secrets={"coco": "dataset-oss"})
    catalog.create(
        {
            "name": "coco",
            "source_url": "oss://fluid-oss/coco",
            "options": {
                "endpoint_url": kube.storage.endpoint_url,
                "credentials_env": {"key": "FLUID_OSS_KEY", "secret": "FLUID_OSS_SECRET"},
            },
        }
    )
    before = kube.storage.counter.requests
    assert catalog.warm("coco")["state"] == "succeeded"
    assert kube.storage.counter.requests > before  # the fake read the bucket through ossfs
    name = catalog.cache.claim_for("coco", catalog.manifest("coco")[0])
    assert tree_bytes(kube.cluster.pvc_paths[name]) == FILES
    mount = kube.emu.store.get("datasets.data.fluid.io", "ml", name)["spec"]["mounts"][0]
    assert mount["mountPoint"] == "oss://fluid-oss/coco"
    assert mount["options"] == {"fs.oss.endpoint": kube.storage.endpoint_url}
    assert {o["name"] for o in mount["encryptOptions"]} == {
        "fs.oss.accessKeyId",
        "fs.oss.accessKeySecret",
    }


def test_a_source_the_fake_cannot_emulate_fails_the_load_saying_so(
    fluid_catalog: Any, kube: KubeRig, file_server: FileServer, http_root: Path
) -> None:
    write_tree(http_root / "mnist", FILES)
    kube.cluster.thin_profiles.add("http-fuse")
    catalog = fluid_catalog(runtime_kind="thin", thin_profile="http-fuse")
    catalog.create({"name": "mnist", "source_url": f"{file_server.url}mnist/"})
    with pytest.raises(LabrigError, match=r"DataLoad .* failed: .*cannot emulate http://"):
        catalog.warm("mnist")
