"""The same REST loop as the panel drives, on a server whose job backend is Kubernetes (the API
emulator and fake cluster), and the server's status naming it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from k8s.rig import KubeRig
from rest_loop import submit_follow_and_rerun


@pytest.fixture
def jp_server_config(labrig_env: Path, kube: KubeRig) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {
            "data_dir": str(labrig_env),
            "job_backend_class": "labrig.k8s.jobs.KubernetesJobBackend",
        },
        "KubernetesJobBackend": kube.settings(),
    }


async def test_the_panels_rest_loop_runs_on_kubernetes(
    api: Any, check: Any, jp_fetch: Any, jp_serverapp: Any, server_root: Path, kube: KubeRig
) -> None:
    # As a started server does: the job ticker follows the cluster (a local job's supervisor
    # reports by itself, a cluster's jobs only through it).
    await jp_serverapp.extension_manager.start_all_extensions()
    code, status = await api("status")
    assert code == 200
    assert status["backends"]["jobs"] == "kubernetes"
    assert status["capabilities"]["jobs.launcher"] == (
        "Kubernetes PyTorchJob (kubeflow.org/v1) in namespace ml"
    )
    await submit_follow_and_rerun(api, check, jp_fetch, server_root)
    # The job and its re-run: one PyTorchJob each (a create retried after a slow answer finds
    # the first one, 409, and creates nothing twice).
    created = [
        r
        for r in kube.emu.requests
        if r.method == "POST" and r.resource == "pytorchjobs" and r.status == 201
    ]
    assert len(created) == 2
