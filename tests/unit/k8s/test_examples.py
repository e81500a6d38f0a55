"""examples/kubernetes is usable as it stands: the server configuration names only real settings
and makes manifests the API server would accept, and the Dockerfile builds the rank image the
backend's command needs. (No image is built here: these machines have no Docker engine.)"""

from __future__ import annotations

import re
from pathlib import Path

from k8s.validation import validate
from traitlets.config import PyFileConfigLoader

from labrig.app import LabrigApp
from labrig.k8s import kernel_pods, manifests
from labrig.k8s.jobs import KubernetesJobBackend
from labrig.k8s.kernel_backend import KubernetesKernelBackend

EXAMPLES = Path(__file__).parents[3] / "examples" / "kubernetes"
INSTRUCTIONS = {"FROM", "ENV", "RUN", "COPY", "USER", "WORKDIR", "ARG", "LABEL", "CMD"}


def load_config() -> dict:
    loader = PyFileConfigLoader("jupyter_server_config.py", path=str(EXAMPLES))
    return loader.load_config()


def test_the_server_configuration_names_only_real_settings() -> None:
    config = load_config()
    for section, cls in (
        ("LabrigApp", LabrigApp),
        ("KubernetesJobBackend", KubernetesJobBackend),
        ("KubernetesKernelBackend", KubernetesKernelBackend),
    ):
        known = set(cls.class_traits(config=True))
        unknown = set(config[section]) - known
        assert unknown == set(), f"{section} has no settings {sorted(unknown)}"
    assert config.LabrigApp.job_backend_class == "labrig.k8s.jobs.KubernetesJobBackend"
    assert config.LabrigApp.kernel_backend == "labrig.k8s.kernel_backend.KubernetesKernelBackend"


def test_its_kernel_pods_would_be_accepted_by_the_api_server() -> None:
    backend = KubernetesKernelBackend(config=load_config())
    kernel = kernel_pods.KernelPod(
        kernel_id="0b5e",
        pod_name=kernel_pods.pod_name("0b5e", 1),
        notebook_path="train.ipynb",
        cpus=4.0,
        memory=16 * 2**30,
        gpus=1,
        disk=50 * 2**30,
        command=(*backend.launcher, "--kernel-id", "0b5e"),
        env={"LABRIG_KERNEL_ID": "0b5e"},
        placement=backend.placement("gpu-a100"),
    )
    pod = kernel_pods.kernel_pod(backend.pod_settings(), kernel)
    validate(pod)
    assert pod["metadata"]["namespace"] == "ml"
    assert pod["spec"]["serviceAccountName"] == "labrig-kernel"
    assert pod["spec"]["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}


def test_its_jobs_would_be_accepted_by_the_api_server() -> None:
    backend = KubernetesJobBackend(config=load_config())
    backend.bind(Path("/srv/labrig"), Path("/srv/notebooks"), "postgresql://labrig@db/labrig")
    assert backend.namespace == "ml"
    job = manifests.RankJob(
        job_id="0123456789ab",
        name="train",
        notebook_path="train.ipynb",
        snapshot_sha256="0" * 64,
        nodes=2,
        procs_per_node=1,
        cpus=4.0,
        memory=16 * 2**30,
        gpus=1,
        timeout=None,
        env={},
        store_url=f"{backend.storage_url}/jobs/0123456789ab",
        store_options=dict(backend.rank_storage_options),
        placement=backend.placement("gpu-a100"),
        priority_class=backend._priority_class(10),
    )
    built = manifests.training_job(backend.settings(), job)
    validate(built)
    assert built["metadata"]["labels"]["kueue.x-k8s.io/priority-class"] == "deadline"
    pod = built["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}
    assert pod["serviceAccountName"] == "labrig-rank"


def test_the_dockerfile_installs_what_the_rank_command_runs() -> None:
    text = (EXAMPLES / "Dockerfile").read_text()
    lines = re.sub(r"\\\n\s*", " ", text).splitlines()
    instructions = [line.split()[0] for line in lines if line.strip() and not line.startswith("#")]
    assert instructions[0] == "FROM"
    assert set(instructions) <= INSTRUCTIONS
    install = " ".join(line for line in lines if line.startswith("RUN pip install"))
    for needed in ("labrig-", "[kubernetes,gpu]", "torch", "ipykernel"):
        assert needed in install, f"the image lacks {needed}"
    assert "ipykernel install --name python3" in text  # KubernetesJobBackend.kernel_names


def test_its_dataset_cache_names_only_real_settings_and_makes_valid_fluid_objects() -> None:
    from labrig.dataset_mounts.cluster import PinnedVersion
    from labrig.dataset_mounts.sources import Entry
    from labrig.k8s import fluid_manifests
    from labrig.k8s.fluid import FluidDatasetCache

    config = load_config()
    unknown = set(config.FluidDatasetCache) - set(FluidDatasetCache.class_traits(config=True))
    assert unknown == set(), f"FluidDatasetCache has no settings {sorted(unknown)}"
    assert config.LabrigApp.dataset_cache_class == "labrig.k8s.fluid.FluidDatasetCache"
    cache = FluidDatasetCache(config=config)
    assert cache.namespace == "ml"  # the jobs' namespace, not set twice
    pinned = PinnedVersion(
        "imagenet", "0123456789abcdef", "s3://ml-data/imagenet", {}, None, (Entry("a", 10),)
    )
    source = cache.version_source(pinned)
    built = [
        fluid_manifests.fluid_dataset(cache.settings(), source),
        fluid_manifests.runtime(cache.settings(), source),
        fluid_manifests.dataload(cache.settings(), source, "0"),
    ]
    for obj in built:
        validate(obj)
    refs = built[0]["spec"]["mounts"][0]["encryptOptions"]
    assert {r["valueFrom"]["secretKeyRef"]["name"] for r in refs} == {"labrig-datasets-s3"}
