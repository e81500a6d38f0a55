"""Every object a labrig job becomes on Kubernetes, against golden files and the schemas a real
API server would check (core kinds with kubernetes-validate, custom resources with the pinned
CRDs' openAPIV3Schema, unknown fields rejected).

Regenerate the golden files after an intended change with ``LABRIG_UPDATE_GOLDEN=1 pytest``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s.validation import validate

from labrig.k8s import manifests
from labrig.k8s.manifests import ClusterSettings, Placement, RankJob

GOLDEN = Path(__file__).with_name("golden")
BASE = ClusterSettings(namespace="ml", image="registry.example.com/ml/labrig-rank:0.1")
FULL = ClusterSettings(
    namespace="ml",
    image="registry.example.com/ml/labrig-rank:0.1",
    image_pull_secrets=("registry-credentials",),
    service_account="labrig-rank",
    queue_name="ml-queue",
    priority_class="research",
    labels={"team": "vision"},
    annotations={"owner": "ml-platform"},
    storage_env=(
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": "labrig-s3", "key": "access-key"}},
        },
    ),
    data_pvc="labrig-data",
    data_mount="/srv/labrig",
    ttl_after_finished=3600,
)


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
        "env": {"LABRIG_JOB_ID": "6fe1c0de12ab", "LABRIG_PARAMETERS": '{"lr": 0.1}'},
        "store_url": "s3://ml-jobs/labrig/jobs/6fe1c0de12ab",
        "store_options": {},
    }
    values.update(changes)
    return RankJob(**values)


DISTRIBUTED = rank_job(
    nodes=2,
    procs_per_node=2,
    cpus=2.5,
    memory=4 * 2**30,
    gpus=1,
    timeout=3600,
    placement=Placement(
        node_selector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ),
    priority_class="deadline",
)
CASES = {
    "pytorchjob-one-process": lambda: manifests.pytorchjob(BASE, rank_job()),
    "pytorchjob-2x2-gpu-kueue": lambda: manifests.pytorchjob(FULL, DISTRIBUTED),
    "trainjob-2x2-gpu-kueue": lambda: manifests.trainjob(
        ClusterSettings(**{**FULL.__dict__, "job_api": "trainjob"}), DISTRIBUTED
    ),
    "configmap": lambda: manifests.config_map(
        FULL, DISTRIBUTED, {"job_id": "6fe1c0de12ab", "nodes": 2}, '{"cells": []}'
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_manifest_matches_its_golden_file_and_validates(name: str) -> None:
    built = CASES[name]()
    validate(built)
    golden = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump(built, sort_keys=True)
    if os.environ.get("LABRIG_UPDATE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text)
    assert yaml.safe_load(golden.read_text()) == json.loads(json.dumps(built)), (
        f"{name} differs from {golden}; if intended, rerun with LABRIG_UPDATE_GOLDEN=1"
    )


def test_a_job_queued_by_kueue_is_created_suspended_with_its_queue_and_priority() -> None:
    job = manifests.pytorchjob(FULL, DISTRIBUTED)
    assert job["spec"]["runPolicy"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "ml-queue"
    assert job["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "deadline"
    assert "suspend" not in manifests.pytorchjob(BASE, rank_job())["spec"]["runPolicy"]


def test_the_notebooks_resources_become_each_nodes_requests_and_limits() -> None:
    resources = manifests.node_resources(FULL, DISTRIBUTED)
    assert resources["requests"] == {
        "cpu": "5",
        "memory": str(8 * 2**30),
        "nvidia.com/gpu": "2",
    }
    assert resources["limits"] == resources["requests"]
    other = ClusterSettings(**{**FULL.__dict__, "gpu_resource": "amd.com/gpu"})
    assert manifests.node_resources(other, rank_job(gpus=1, cpus=0.5))["limits"] == {
        "cpu": "500m",
        "amd.com/gpu": "1",
    }


def test_the_example_manifests_validate() -> None:
    examples = Path(__file__).parents[3] / "examples" / "kubernetes"
    documents = [
        doc
        for name in ("rbac.yaml", "kueue.yaml")
        for doc in yaml.safe_load_all((examples / name).read_text())
    ]
    assert {doc["kind"] for doc in documents} >= {
        "Role",
        "RoleBinding",
        "ServiceAccount",
        "ResourceFlavor",
        "ClusterQueue",
        "LocalQueue",
    }
    for doc in documents:
        validate(doc)
