"""Datasets on Kubernetes when the cluster is not as it should be: a runtime CRD missing, a
runtime that never becomes ready, a PVC that does not bind, credentials the load cannot find;
and credentials reaching Fluid by Secret reference only."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.errors import Conflict, LabrigError
from labrig.k8s.fluid import FluidTimeout

FILES = make_files(5, 20_000, seed=5)


def local_dataset(catalog: DatasetCatalog, tmp_path: Path, name: str = "small") -> None:
    write_tree(tmp_path / "src" / name, FILES)
    catalog.create({"name": name, "source_url": f"file://{tmp_path / 'src' / name}"})


def test_a_missing_runtime_crd_is_named_with_the_setting_to_change(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    kube.emu.uninstall("data.fluid.io", "v1alpha1", "alluxioruntimes")
    catalog = fluid_catalog()
    local_dataset(catalog, tmp_path)
    with pytest.raises(LabrigError) as caught:
        catalog.warm("small")
    assert caught.value.message == (
        "the cluster has no AlluxioRuntime CRD (alluxioruntimes.data.fluid.io): install Fluid "
        "or set FluidDatasetCache.runtime_kind"
    )
    assert catalog.warm_status("small")["state"] == "failed"


def test_a_runtime_that_never_becomes_ready_times_out_with_its_reason(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    catalog = fluid_catalog(ready_timeout=0.5)
    local_dataset(catalog, tmp_path)
    version = catalog.manifest("small")[0]
    kube.cluster.unready_runtimes.add(catalog.cache.claim_for("small", version))
    with pytest.raises(FluidTimeout) as caught:
        catalog.warm("small")
    message = caught.value.message
    assert "AlluxioRuntime" in message
    assert "was not ready after 0.5 s" in message
    assert "worker NotReady: worker pods are Pending" in message
    with pytest.raises(Conflict, match="not ready for pods"):
        catalog.mount_for_job(["small"], tmp_path / "job")


def test_a_pvc_that_does_not_bind_fails_the_warm_up_and_one_that_binds_serves_it(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    catalog = fluid_catalog(mode="pvc", storage_class="no-provisioner", ready_timeout=0.5)
    local_dataset(catalog, tmp_path)
    with pytest.raises(FluidTimeout, match=r"is Pending, not bound .* after 0\.5 s"):
        catalog.warm("small")

    kube.cluster.provisioned_classes.add("bucket-ro")
    bound = fluid_catalog(mode="pvc", storage_class="bucket-ro")
    local_dataset(bound, tmp_path, "other")
    final = bound.warm("other")
    assert final["state"] == "succeeded"
    assert "driver reads the source on demand" in final["note"]
    assert (final["bytes_done"], final["percent"], final["files_done"]) == (None, None, None)
    assert bound.get("other")["cached_bytes"] is None  # the cluster cannot say: not a 0
    assert bound.mount_for_job(["other"], tmp_path / "job")


def test_an_existing_pvc_mode_names_the_missing_claim_setting(
    fluid_catalog: Any, tmp_path: Path
) -> None:
    catalog = fluid_catalog(mode="existing_pvc")
    local_dataset(catalog, tmp_path)
    with pytest.raises(Conflict, match=r"FluidDatasetCache\.claims"):
        catalog.warm("small")


def s3_source(kube: KubeRig, catalog: DatasetCatalog, name: str) -> None:
    kube.storage.put_tree("fluid-src", {f"{name}/{k}": v for k, v in FILES.items()})
    catalog.create(
        {
            "name": name,
            "source_url": f"s3://fluid-src/{name}",
            "options": {
                "endpoint_url": kube.storage.endpoint_url,
                "credentials_env": {"key": "FLUID_TEST_KEY", "secret": "FLUID_TEST_SECRET"},
            },
        }
    )


def test_credentials_reach_fluid_as_a_secret_reference_and_the_load_reads_s3(
    fluid_catalog: Any, kube: KubeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUID_TEST_KEY", "testing")
    monkeypatch.setenv("FLUID_TEST_SECRET", "testing")
    kube.emu.store.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "dataset-s3", "namespace": "ml"},
            "data": {
                "access-key": base64.b64encode(b"testing").decode(),
                "secret-key": base64.b64encode(b"testing").decode(),
            },
        },
        "ml",
    )
    catalog = fluid_catalog(credentials_secrets={"*": "dataset-s3"})
    s3_source(kube, catalog, "s3-small")
    assert catalog.warm("s3-small")["state"] == "succeeded"
    name = catalog.cache.claim_for("s3-small", catalog.manifest("s3-small")[0])
    dataset = kube.emu.store.get("datasets.data.fluid.io", "ml", name)
    mount = dataset["spec"]["mounts"][0]
    assert {o["valueFrom"]["secretKeyRef"]["name"] for o in mount["encryptOptions"]} == {
        "dataset-s3"
    }
    loaded = kube.cluster.pvc_paths[name]
    assert {p.name: p.read_bytes() for p in loaded.iterdir()} == FILES
    assert "testing" not in json.dumps(dataset["spec"]).replace(kube.storage.endpoint_url, "")


def test_a_load_that_cannot_read_its_credentials_fails_with_fluids_message(
    fluid_catalog: Any, kube: KubeRig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLUID_TEST_KEY", "testing")
    monkeypatch.setenv("FLUID_TEST_SECRET", "testing")
    catalog = fluid_catalog(credentials_secrets={"s3-nosecret": "not-created"})
    s3_source(kube, catalog, "s3-nosecret")
    with pytest.raises(LabrigError, match=r"DataLoad .* failed: .*secret not-created"):
        catalog.warm("s3-nosecret")
