"""Many running labrig jobs at once, for scale tests and the benchmark: each a job record, its
PyTorchJob (Running) and its master pod (Running) in the emulator, nothing executing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from labrig.k8s import manifests
from labrig.k8s.jobs import KubernetesJobBackend
from labrig.store import Database
from labrig.store.tables import Job

from .emulator import ApiEmulator


def _running(obj: dict[str, Any]) -> None:
    obj["status"] = {
        "conditions": [
            {"type": "Created", "status": "True", "reason": "PyTorchJobCreated"},
            {"type": "Running", "status": "True", "reason": "PyTorchJobRunning"},
        ],
        "startTime": "2026-12-01T00:00:00Z",
    }


def _pod_running(obj: dict[str, Any]) -> None:
    obj["status"] = {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}]}


def seed_running_jobs(
    emu: ApiEmulator, db: Database, backend: KubernetesJobBackend, count: int
) -> list[str]:
    settings = backend.settings()
    now = datetime.now(UTC)
    rows = []
    for index in range(count):
        job_id = f"seed{index:08d}"
        job = manifests.RankJob(
            job_id=job_id,
            name=f"seed {index}",
            notebook_path="seed.ipynb",
            snapshot_sha256="0" * 64,
            nodes=1,
            procs_per_node=1,
            cpus=1.0,
            memory=None,
            gpus=0,
            timeout=None,
            env={"LABRIG_JOB_ID": job_id},
            store_url=f"{backend.storage_url}/jobs/{job_id}",
            store_options={},
        )
        created = emu.store.create("pytorchjobs.kubeflow.org", manifests.pytorchjob(settings, job))
        name = created["metadata"]["name"]
        emu.store.mutate("pytorchjobs.kubeflow.org", "ml", name, _running, subresource="status")
        pod_name = f"{name}-master-0"
        emu.store.create(
            "pods",
            {
                "metadata": {
                    "name": pod_name,
                    "namespace": "ml",
                    "labels": {
                        **manifests.labels(settings, job_id),
                        "training.kubeflow.org/replica-type": "master",
                        "training.kubeflow.org/replica-index": "0",
                    },
                },
                "spec": {"containers": [{"name": "pytorch", "image": settings.image}]},
            },
        )
        emu.store.mutate("pods", "ml", pod_name, _pod_running, subresource="status")
        rows.append(
            Job(
                id=job_id,
                name=f"seed {index}",
                notebook_path="seed.ipynb",
                status="RUNNING",
                priority=0,
                spec={"notebook_path": "seed.ipynb", "nodes": 1, "procs_per_node": 1},
                snapshot_sha256="0" * 64,
                output_path=f"labrig-jobs/{job_id}/seed.ipynb",
                created_at=now,
                starting_at=now,
                started_at=now,
                gpus_granted={},
                backend=backend.identity,
                handle={"api": "pytorchjob", "name": name, "uid": created["metadata"]["uid"]},
                dataset_versions={},
            )
        )
    with db.session() as session:
        session.add_all(rows)
    return [row.id for row in rows]
