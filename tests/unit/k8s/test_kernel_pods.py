"""The pod a notebook's kernel becomes, against golden files and kubernetes-validate (strict).

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

from labrig.k8s import kernel_pods
from labrig.k8s.kernel_pods import KernelPod, KernelPodSettings, PodVolumes
from labrig.k8s.manifests import Placement

GOLDEN = Path(__file__).with_name("golden")
BASE = KernelPodSettings(namespace="ml", image="registry.example.com/ml/labrig-kernel:0.1")
FULL = KernelPodSettings(
    namespace="ml",
    image="registry.example.com/ml/labrig-kernel:0.1",
    image_pull_policy="Always",
    image_pull_secrets=("registry-credentials",),
    service_account="labrig-kernel",
    labels={"team": "vision"},
    annotations={"owner": "ml-platform"},
    data_pvc="labrig-data",
    data_mount="/srv/labrig",
    usage_port=9469,
    extra_env=(
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
    ),
)
COMMAND = (
    "python",
    "-m",
    "labrig.kernels.pod_launch",
    "--kernel-id",
    "0b5e",
    "--response-address",
    "10.0.0.5:8877",
    "--public-key",
    "MIGfMA0",
    "--port-range",
    "0..0",
)


def kernel(**changes: Any) -> KernelPod:
    values: dict[str, Any] = {
        "kernel_id": "0b5e",
        "pod_name": kernel_pods.pod_name("0b5e", 1),
        "notebook_path": "notebooks/train.ipynb",
        "cpus": 2.0,
        "memory": 4 * 2**30,
        "gpus": 0,
        "disk": None,
        "command": COMMAND,
        "env": {
            "LABRIG_KERNEL_ID": "0b5e",
            "LABRIG_NOTEBOOK_PATH": "notebooks/train.ipynb",
            # The user the kernel acts as (who started it), for what ``import labrig`` records.
            "LABRIG_USER": "alice",
        },
    }
    values.update(changes)
    return KernelPod(**values)


#: A kernel started by a server with LabrigApp.kernel_server_url: the URL, and its token by
#: reference to its own Secret.
TOKEN = "labrig-kernel-not-a-real-token"
GPU = kernel(
    env={**kernel().env, "LABRIG_SERVER_URL": "http://jupyter.ml.svc:8888/"},
    token_secret=kernel_pods.token_secret_name(kernel_pods.pod_name("0b5e", 1)),
    cpus=0.5,
    gpus=2,
    disk=10 * 2**30,
    scratch="/srv/labrig/scratch/abc",
    volumes=kernel_pods.pod_volumes_for_mounts(FULL, {"moons": "/srv/labrig/mounts/moons"}),
    placement=Placement(
        node_selector={"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"},
        tolerations=[{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    ),
)
CASES = {
    "kernel-pod-cpu": lambda: kernel_pods.kernel_pod(BASE, kernel()),
    "kernel-pod-gpu-disk-datasets": lambda: kernel_pods.kernel_pod(FULL, GPU),
    "kernel-token-secret": lambda: kernel_pods.token_secret(FULL, GPU, TOKEN),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_pod_matches_its_golden_file_and_validates(name: str) -> None:
    built = CASES[name]()
    validate(built)
    golden = GOLDEN / f"{name}.yaml"
    text = yaml.safe_dump(built, sort_keys=True)
    if os.environ.get("LABRIG_UPDATE_GOLDEN"):
        golden.write_text(text)
    assert yaml.safe_load(golden.read_text()) == json.loads(json.dumps(built)), (
        f"{name} differs from {golden}; if intended, rerun with LABRIG_UPDATE_GOLDEN=1"
    )


def test_the_request_becomes_equal_requests_and_limits_under_the_gpu_resource_name() -> None:
    amd = KernelPodSettings(namespace="ml", image="img", gpu_resource="amd.com/gpu")
    resources = kernel_pods.kernel_resources(amd, GPU)
    assert resources["limits"] == {
        "cpu": "500m",
        "memory": str(4 * 2**30),
        "amd.com/gpu": "2",
        "ephemeral-storage": str(10 * 2**30),
    }
    assert resources["requests"] == resources["limits"]
    assert kernel_pods.kernel_resources(BASE, kernel(cpus=None, memory=None)) == {}


def test_the_scratch_disk_is_an_emptydir_sized_to_the_request_at_the_local_path() -> None:
    pod = kernel_pods.kernel_pod(FULL, GPU)
    (scratch,) = [v for v in pod["spec"]["volumes"] if v["name"] == "scratch"]
    assert scratch["emptyDir"] == {"sizeLimit": str(10 * 2**30)}
    mounts = pod["spec"]["containers"][0]["volumeMounts"]
    assert {"name": "scratch", "mountPath": "/srv/labrig/scratch/abc"} in mounts


def test_dataset_mounts_without_a_volume_source_are_named_not_dropped() -> None:
    mounts = {"moons": "/srv/labrig/mounts/moons", "imagenet": "/datasets/imagenet"}
    assert kernel_pods.pod_volumes_for_mounts(BASE, mounts) == PodVolumes(
        missing=("imagenet", "moons")
    )
    covered = kernel_pods.pod_volumes_for_mounts(FULL, mounts)
    assert covered.missing == ("imagenet",)
    assert covered.mounts == ({"name": "data", "mountPath": "/srv/labrig", "readOnly": True},)
    assert kernel_pods.pod_volumes_for_mounts(FULL, {}) == PodVolumes()


def test_pods_are_found_by_kernel_and_notebook_labels() -> None:
    pod = kernel_pods.kernel_pod(BASE, kernel())
    labels = pod["metadata"]["labels"]
    assert labels["labrig.io/kernel-id"] == "0b5e"
    assert labels["labrig.io/notebook-hash"] == kernel_pods.notebook_hash("notebooks/train.ipynb")
    assert pod["metadata"]["annotations"]["labrig.io/notebook"] == "notebooks/train.ipynb"
    assert kernel_pods.pod_name("0b5e", 2) != kernel_pods.pod_name("0b5e", 1)


def test_the_kernels_token_is_in_its_secret_never_in_the_pod_spec() -> None:
    pod = kernel_pods.kernel_pod(FULL, GPU)
    secret = kernel_pods.token_secret(FULL, GPU, TOKEN)
    assert TOKEN not in json.dumps(pod)
    env = pod["spec"]["containers"][0]["env"]
    (token,) = [e for e in env if e["name"] == "LABRIG_API_TOKEN"]
    reference = token["valueFrom"]["secretKeyRef"]
    assert reference["name"] == secret["metadata"]["name"] == GPU.token_secret
    assert secret["stringData"][reference["key"]] == TOKEN
    assert {"name": "LABRIG_SERVER_URL", "value": "http://jupyter.ml.svc:8888/"} in env
    assert "LABRIG_DATABASE_URL" not in json.dumps(pod)
    # A restart's pod has a Secret of its own; without one the pod gets no token entry.
    assert kernel_pods.token_secret_name(kernel_pods.pod_name("0b5e", 2)) != GPU.token_secret
    plain = kernel_pods.kernel_pod(BASE, kernel())
    assert "LABRIG_API_TOKEN" not in json.dumps(plain)


def test_the_secret_is_made_the_pods_so_the_cluster_deletes_it_with_the_pod() -> None:
    pod = {"metadata": {"name": "labrig-kernel-0b5e-1", "uid": "u-1"}}
    assert kernel_pods.owned_by(pod) == {
        "metadata": {
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "labrig-kernel-0b5e-1", "uid": "u-1"}
            ]
        }
    }


def test_a_kernel_pod_mounts_each_pinned_version_from_the_cluster_cache() -> None:
    """With Fluid (or PVCs) as the catalog's cache, the pod mounts each version's claim
    read-only at the dataset's local path, not the data PVC."""
    from types import SimpleNamespace

    from labrig.k8s.kernel_backend import KubernetesKernelBackend
    from labrig.kernels.pod import kernel_volumes

    backend = KubernetesKernelBackend(namespace="ml", image="img", data_pvc="labrig-data")
    path = "/data/labrig/mounts/moons"
    pinned = [("moons", "v3ab", "labrig-ds-moons-v3ab", path)]
    service: Any = SimpleNamespace(kernel_pod_mount_hooks=[lambda: pinned])
    volumes = kernel_volumes(service, backend, {path: path})
    assert volumes.missing == ()
    assert [v["persistentVolumeClaim"] for v in volumes.volumes] == [
        {"claimName": "labrig-ds-moons-v3ab", "readOnly": True}
    ]
    assert [(m["mountPath"], m["readOnly"]) for m in volumes.mounts] == [(path, True)]
    # Without a cluster cache the data PVC carries the host's mount trees, as before.
    service.kernel_pod_mount_hooks = [list]
    fallback = kernel_volumes(service, backend, {path: path})
    expected = kernel_pods.pod_volumes_for_mounts(backend.pod_settings(), {path: path})
    assert fallback == expected
    assert "labrig-ds-moons-v3ab" not in json.dumps([fallback.volumes, fallback.missing])


@pytest.mark.parametrize("port", [9469, 0])
def test_the_usage_port_setting_reaches_the_pod_and_the_status(port: int) -> None:
    from labrig.k8s.kernel_backend import KubernetesKernelBackend

    backend = KubernetesKernelBackend(namespace="ml", image="img", usage_port=port)
    pod = kernel_pods.kernel_pod(backend.pod_settings(), kernel())
    validate(pod)
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    usage = backend.capabilities()["kernels.usage"]
    if port:
        assert container["ports"] == [{"name": "usage", "containerPort": port, "protocol": "TCP"}]
        assert env["LABRIG_USAGE_PORT"] == str(port)
        assert env["LABRIG_CGROUP_ROOT"] == "/sys/fs/cgroup"
        assert usage.startswith(f"inside each pod (cgroup, NVML) on port {port}")
    else:
        assert "ports" not in container
        assert "LABRIG_USAGE_PORT" not in env
        assert usage == "the metrics API (metrics.k8s.io), no GPU usage"
