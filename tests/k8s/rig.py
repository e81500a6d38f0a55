"""A Kubernetes cluster for labrig's tests: the API emulator, the fake controllers and kubelet,
S3 job storage (moto's server on loopback), and labrig's Kubernetes job backend configured
against them, as a platform team would configure it for a real cluster."""

from __future__ import annotations

import base64
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import S3Server

from labrig.k8s.jobs import KubernetesJobBackend

from .cluster import FakeCluster, Node
from .emulator import ApiEmulator

BUCKET = "labrig-jobs"
#: The Secret in namespace ml holding the job storage's credentials.
STORAGE_SECRET = "labrig-storage"
IMAGE = "registry.example.com/ml/labrig-rank:test"


@dataclass
class KubeRig:
    emu: ApiEmulator
    cluster: FakeCluster
    kubeconfig: Path
    storage: S3Server
    data_dir: Path
    prefix: str

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """KubernetesJobBackend settings for this cluster and storage."""
        values: dict[str, Any] = {
            "kubeconfig": str(self.kubeconfig),
            "namespace": "ml",
            "image": IMAGE,
            "storage_url": f"s3://{BUCKET}/{self.prefix}",
            "storage_options": {
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"endpoint_url": self.storage.endpoint_url},
            },
            "rank_storage_options": {"client_kwargs": {"endpoint_url": self.storage.endpoint_url}},
            # From a Secret, as labrig requires: literal credentials would be in the pod spec.
            "storage_env": [
                {"name": name, "valueFrom": {"secretKeyRef": {"name": STORAGE_SECRET, "key": key}}}
                for name, key in (
                    ("AWS_ACCESS_KEY_ID", "access-key"),
                    ("AWS_SECRET_ACCESS_KEY", "secret-key"),
                )
            ],
            "data_pvc": "labrig-data",
        }
        values.update(overrides)
        return values

    def backend(self, **overrides: Any) -> KubernetesJobBackend:
        return KubernetesJobBackend(**self.settings(**overrides))


def storage_secret() -> dict[str, Any]:
    """The Secret a platform team creates for the ranks' storage credentials."""
    data = {"access-key": b"testing", "secret-key": b"testing"}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": STORAGE_SECRET, "namespace": "ml"},
        "data": {key: base64.b64encode(value).decode() for key, value in data.items()},
    }


@pytest.fixture(scope="session")
def job_storage() -> Iterator[S3Server]:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per S3 request otherwise
    server = S3Server()
    server.client.create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture
def kube(tmp_path: Path, labrig_env: Path, job_storage: S3Server) -> Iterator[KubeRig]:
    """A fresh cluster (two 4-CPU nodes) per test; its pods run as processes of this host."""
    emu = ApiEmulator(namespaces=("default", "ml"))
    emu.start()
    emu.store.create("secrets", storage_secret(), "ml")
    cluster = FakeCluster(
        emu,
        tmp_path / "cluster",
        nodes=[Node("node-1", cpu="4", memory="16Gi"), Node("node-2", cpu="4", memory="16Gi")],
        poll=0.05,
    )
    # labrig's data directory is the PVC that holds the dataset cache: same path in the pods.
    labrig_env.mkdir(parents=True, exist_ok=True)
    cluster.pvc_paths["labrig-data"] = labrig_env
    cluster.start()
    rig = KubeRig(
        emu,
        cluster,
        emu.kubeconfig(tmp_path / "kubeconfig", namespace="ml"),
        job_storage,
        labrig_env,
        uuid.uuid4().hex[:8],
    )
    try:
        yield rig
    finally:
        cluster.stop()
        emu.stop()
        assert cluster.errors == [], cluster.errors
