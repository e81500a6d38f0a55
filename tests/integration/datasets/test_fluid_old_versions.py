"""Older versions of a dataset on Kubernetes: once a newer version is warmed, the cluster
drops the older versions' Fluid objects (or PVCs) unless a pod still mounts them; what it
keeps, and why, shows in the dataset (`labrig datasets show`, GET /datasets/{name})."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.k8s.fluid_versions import UNUSED

FILES = make_files(4, 10_000, seed=31)
FLUID = ("datasets", "dataloads", "alluxioruntimes")


def objects_of(kube: KubeRig, version: str) -> list[str]:
    """labrig's Fluid objects of one version, and Fluid's PVC of it."""
    found = [
        f"{plural}/{o['metadata']['name']}"
        for plural in FLUID
        for o in kube.emu.store.select(f"{plural}.data.fluid.io")
        if o["metadata"]["labels"]["labrig.io/dataset-version"] == version
    ]
    found += [
        f"pvc/{o['metadata']['name']}"
        for o in kube.emu.store.select("persistentvolumeclaims")
        if o["metadata"]["name"].endswith(version[:16])
    ]
    return sorted(found)


def pending_pod(kube: KubeRig, name: str, claim: str) -> None:
    """A pod mounting ``claim`` that no node can take (it stays Pending: still a user)."""
    kube.emu.store.create(
        "pods",
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "containers": [
                    {
                        "name": "kernel",
                        "image": "registry.example.com/ml/kernel:1",
                        "command": ["true"],
                        "resources": {"requests": {"cpu": "64"}},
                    }
                ],
                "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
            },
        },
        "ml",
    )


def new_version(catalog: DatasetCatalog, root: Path, content: bytes) -> str:
    (root / "extra.bin").write_bytes(content)
    preview = catalog.refresh("digits")
    catalog.confirm_refresh("digits", preview["new_version"])
    return str(preview["new_version"])


def test_older_versions_go_once_nothing_mounts_them_and_show_says_what_stays(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    catalog = fluid_catalog()
    root = tmp_path / "src"
    write_tree(root, FILES)
    catalog.create({"name": "digits", "source_url": f"file://{root}"})
    catalog.warm("digits")
    first = catalog.manifest("digits")[0]
    first_claim = catalog.cache.claim_for("digits", first)
    first_objects = objects_of(kube, first)
    assert len(first_objects) == 4  # Dataset, runtime, DataLoad, Fluid's PVC
    pending_pod(kube, "kernel-alice", first_claim)

    second = new_version(catalog, root, b"second")
    # Pinned to the second, which the cluster does not hold yet: the first stays listed.
    assert catalog.get("digits")["cluster_versions"] == [
        {"version": first, "claim": first_claim, "kept": "pod kernel-alice"}
    ]
    catalog.warm("digits")
    assert objects_of(kube, first) == first_objects  # kernel-alice still mounts it
    shown = catalog.get("digits")["cluster_versions"]
    second_claim = catalog.cache.claim_for("digits", second)
    assert shown == [
        {"version": second, "claim": second_claim, "kept": "pinned"},
        {"version": first, "claim": first_claim, "kept": "pod kernel-alice"},
    ]

    kube.emu.store.delete("pods", "ml", "kernel-alice")
    third = new_version(catalog, root, b"third")
    assert {v["version"]: v["kept"] for v in catalog.get("digits")["cluster_versions"]} == {
        first: UNUSED,
        second: UNUSED,
    }
    catalog.warm("digits")
    assert catalog.get("digits")["cluster_versions"] == [
        {"version": third, "claim": catalog.cache.claim_for("digits", third), "kept": "pinned"}
    ]
    for old in (first, second):
        kube.cluster.wait_for(lambda old=old: objects_of(kube, old) == [])
    assert len(objects_of(kube, third)) == 4
    assert catalog.mount_for_job(["digits"], tmp_path / "job")


def test_pvc_mode_prunes_the_older_claims_too(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    kube.cluster.provisioned_classes.add("bucket-ro")
    catalog = fluid_catalog(mode="pvc", storage_class="bucket-ro")
    root = tmp_path / "src"
    write_tree(root, FILES)
    catalog.create({"name": "digits", "source_url": f"file://{root}"})
    catalog.warm("digits")
    first = catalog.manifest("digits")[0]
    second = new_version(catalog, root, b"second")
    catalog.warm("digits")
    claims = [o["metadata"]["name"] for o in kube.emu.store.select("persistentvolumeclaims")]
    assert catalog.cache.claim_for("digits", first) not in claims
    assert catalog.cache.claim_for("digits", second) in claims
    assert [v["kept"] for v in catalog.get("digits")["cluster_versions"]] == ["pinned"]


def test_when_pods_cannot_be_listed_older_versions_stay_and_show_says_why(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    catalog = fluid_catalog()
    root = tmp_path / "src"
    write_tree(root, FILES)
    catalog.create({"name": "digits", "source_url": f"file://{root}"})
    catalog.warm("digits")
    first = catalog.manifest("digits")[0]
    first_objects = objects_of(kube, first)
    kube.emu.deny("list", "pods", "")
    new_version(catalog, root, b"second")
    assert catalog.warm("digits")["state"] == "succeeded"  # pruning fails no warm-up
    assert objects_of(kube, first) == first_objects
    kept = {v["version"]: v["kept"] for v in catalog.get("digits")["cluster_versions"]}
    assert kept[first].startswith("kept: labrig cannot tell which pods use it (")
    assert "pods" in kept[first]


def test_a_queued_job_without_pods_yet_keeps_the_version_it_was_given(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    catalog = fluid_catalog()
    root = tmp_path / "src"
    write_tree(root, FILES)
    catalog.create({"name": "digits", "source_url": f"file://{root}"})
    catalog.warm("digits")
    first = catalog.manifest("digits")[0]
    claim = catalog.cache.claim_for("digits", first)
    pod = {
        "containers": [{"name": "pytorch", "image": "registry.example.com/ml/rank:1"}],
        "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}],
    }
    kube.emu.store.create(  # held by Kueue: suspended, so the operator makes no pods
        "pytorchjobs.kubeflow.org",
        {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": {"name": "train-queued"},
            "spec": {
                "runPolicy": {"suspend": True},
                "pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {"spec": pod}}},
            },
        },
        "ml",
    )
    new_version(catalog, root, b"second")
    catalog.warm("digits")
    kept = {v["version"]: v["kept"] for v in catalog.get("digits")["cluster_versions"]}
    assert kept[first] == "PyTorchJob train-queued"
    assert len(objects_of(kube, first)) == 4

    kube.emu.store.delete("pytorchjobs.kubeflow.org", "ml", "train-queued")
    catalog.warm("digits")
    kube.cluster.wait_for(lambda: objects_of(kube, first) == [])
