"""The labrig-datasets Role of examples/kubernetes/rbac.yaml is exactly what the Fluid dataset
cache needs: with only its permissions every runtime kind warms (twice: the second finds what
the first created), a warm-up is cancelled, a runtime that is not ready is explained, a PVC is
created and mounted, datasets are removed with what the cluster held, and every rule is
used."""

from __future__ import annotations

import base64
import time
from itertools import product
from pathlib import Path
from typing import Any

import pytest
import yaml
from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.k8s.fluid import FluidTimeout

EXAMPLES = Path(__file__).parents[3] / "examples" / "kubernetes"
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
RESOURCES = {
    "data.fluid.io": (
        "datasets",
        "dataloads",
        "alluxioruntimes",
        "juicefsruntimes",
        "thinruntimes",
    ),
    "": ("persistentvolumeclaims", "secrets"),
}
FILES = make_files(12, 10_000, seed=9)


def granted() -> set[tuple[str, str, str]]:
    """(verb, resource, group) of every rule of the example's labrig-datasets Role."""
    (role,) = [
        doc
        for doc in yaml.safe_load_all((EXAMPLES / "rbac.yaml").read_text())
        if doc["kind"] == "Role" and doc["metadata"]["name"] == "labrig-datasets"
    ]
    return {
        (verb, resource, group)
        for rule in role["rules"]
        for group, resource, verb in product(rule["apiGroups"], rule["resources"], rule["verbs"])
    }


def add(catalog: DatasetCatalog, tmp_path: Path, name: str) -> None:
    write_tree(tmp_path / "src" / name, FILES)
    catalog.create({"name": name, "source_url": f"file://{tmp_path / 'src' / name}"})


def test_the_datasets_role_is_all_the_fluid_cache_uses_and_it_uses_all_of_it(
    fluid_catalog: Any, kube: KubeRig, tmp_path: Path
) -> None:
    allowed = granted()
    for group, resources in RESOURCES.items():
        for verb, resource in product(VERBS, resources):
            if (verb, resource, group) not in allowed:
                kube.emu.deny(verb, resource, group)
    # JuiceFS: a formatted volume (its metaurl in a Secret) holding the datasets' directories.
    metaurl = "redis://redis.storage:6379/1"
    kube.cluster.juicefs_volumes[metaurl] = tmp_path / "src"
    kube.emu.store.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "jfs"},
            "data": {"metaurl": base64.b64encode(metaurl.encode()).decode()},
        },
        "ml",
    )
    kube.cluster.thin_profiles.add("files")
    for kind in ("alluxio", "juicefs", "thin"):
        catalog = fluid_catalog(
            runtime_kind=kind,
            thin_profile="files",
            juicefs_secret="jfs",
            juicefs_secret_keys={"metaurl": "metaurl"},
            juicefs_root=str(tmp_path / "src"),
        )
        add(catalog, tmp_path, kind)
        assert catalog.warm(kind)["state"] == "succeeded"
        # Warming again finds the runtime and Dataset the first warm-up created.
        assert catalog.warm(kind)["state"] == "succeeded"
        assert catalog.mount_for_job([kind], tmp_path / "job")
    assert catalog.cache_stats()["objects"] == 3

    kube.cluster.fluid_files_per_pass = 1
    slow = fluid_catalog()
    add(slow, tmp_path, "slow")
    slow.start_warm("slow")
    deadline = time.monotonic() + 30
    while slow.warm_status("slow")["bytes_done"] == 0:
        assert time.monotonic() < deadline, slow.warm_status("slow")
        time.sleep(0.01)
    assert slow.warm_status("slow")["state"] == "running", slow.warm_status("slow")
    slow.cancel_warm("slow")
    while slow.warm_status("slow")["state"] == "running":
        time.sleep(0.02)
    assert slow.warm_status("slow")["state"] == "cancelled"

    stuck = fluid_catalog(ready_timeout=0.3)
    add(stuck, tmp_path, "stuck")
    kube.cluster.unready_runtimes.add(stuck.cache.claim_for("stuck", stuck.manifest("stuck")[0]))
    with pytest.raises(FluidTimeout):
        stuck.warm("stuck")

    kube.cluster.provisioned_classes.add("bucket-ro")
    claims = fluid_catalog(mode="pvc", storage_class="bucket-ro")
    add(claims, tmp_path, "claims")
    assert claims.warm("claims")["state"] == "succeeded"

    # Removing a dataset removes what the cluster holds for it (Fluid's PVCs go with them).
    for name in ("alluxio", "juicefs", "thin", "slow", "stuck"):
        catalog.delete(name)
    claims.delete("claims")
    kinds = [f"{plural}.data.fluid.io" for plural in RESOURCES["data.fluid.io"]]
    assert [o["metadata"]["name"] for k in kinds for o in kube.emu.store.select(k)] == []
    kube.cluster.wait_for(lambda: kube.emu.store.select("persistentvolumeclaims") == [])

    refused = [r for r in kube.emu.requests if r.status == 403]
    assert refused == [], refused
    used = {(r.verb, r.resource, r.group) for r in kube.emu.requests}
    unused = allowed - used
    assert unused == set(), f"granted but never used: {sorted(unused)}"
