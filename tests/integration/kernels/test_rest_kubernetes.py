"""Through the server with the Kubernetes kernel backend configured: a notebook's kernel starts
in a pod, and while the pod waits the usage endpoint (what the panel polls) says why; once the
start is given up, the notebook's last stop says so."""

from __future__ import annotations

import asyncio
import json
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s.cluster import FakeCluster
from k8s.emulator import ApiEmulator
from kernels_kit import IMAGE, stop_response_manager
from openapi_schema_validator import OAS30Validator

from labrig.k8s.kernel_backend import KubernetesKernelBackend

pytestmark = pytest.mark.slow
NB = "nb/train.ipynb"
_SPEC: dict[str, Any] = yaml.safe_load(files("labrig").joinpath("openapi.yaml").read_text())
#: The documented usage answer; its $refs resolve against the components beside it.
RESOURCE_USAGE = {
    **_SPEC["components"]["schemas"]["ResourceUsage"],
    "components": _SPEC["components"],
}


async def usage_measured(api: Any) -> dict[str, Any]:
    """Poll the usage as the panel does until the kernel's memory is measured."""
    for _ in range(100):
        status, usage = await api(f"resource-usage/{NB}")
        assert status == 200, usage
        if usage["memory"]["used"]:
            return dict(usage)
        await asyncio.sleep(0.3)
    raise AssertionError(usage)


@pytest.fixture
def jp_server_config(
    labrig_env: Path, emulated_cluster: tuple[ApiEmulator, FakeCluster], tmp_path: Path
) -> Any:
    emu, _ = emulated_cluster
    yield {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {
            "data_dir": str(labrig_env),
            "kernel_backend": "labrig.k8s.kernel_backend.KubernetesKernelBackend",
        },
        "KubernetesPodSettings": {
            "kubeconfig": str(emu.kubeconfig(tmp_path / "kubeconfig", namespace="ml")),
            "namespace": "ml",
        },
        "KubernetesKernelBackend": {"image": IMAGE, "start_timeout": 4.0},
        "ResourceService": {
            "capacity_cpus": 64,
            "gpu_inventory": [{"uuid": "GPU-1", "model": "A100"}],
            "discover_gpus": False,
        },
    }
    stop_response_manager()


async def test_the_panel_sees_why_the_kernels_pod_waits(
    api: Any, jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any
) -> None:
    assert isinstance(
        jp_serverapp.web_app.settings["labrig_services"].kernel_backend, KubernetesKernelBackend
    )
    status, body = await api("status")
    assert body["backends"]["kernels"] == "kubernetes"
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / NB).write_text("{}")
    status, body = await api(f"resources/{NB}", method="PUT", body={"cpus": 1, "gpus": 1})
    assert status == 200, body
    session = {"path": NB, "name": "train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    starting = asyncio.ensure_future(
        jp_fetch("api", "sessions", method="POST", body=json.dumps(session), raise_error=False)
    )
    waits: list[dict[str, Any]] = []
    while not starting.done():
        status, usage = await api(f"resource-usage/{NB}")
        assert status == 200, usage
        if usage["waiting"] is not None:
            waits.append(usage["waiting"])
            if waits[-1]["reason"].startswith("waiting for a node"):
                break
        await asyncio.sleep(0.1)
    assert waits, "the usage never said the kernel waits"
    assert waits[-1]["reason"].startswith("waiting for a node: 0/2 nodes are available"), waits
    assert 0 <= waits[-1]["gives_up_in"] <= 4
    assert usage["running"] is False
    response = await starting
    assert response.code >= 400  # the start was given up
    status, usage = await api(f"resource-usage/{NB}")
    assert usage["waiting"] is None
    assert (
        "gave up after 4 s waiting for its pod (waiting for a node"
        in (usage["last_stop"]["message"])
    )


async def test_applying_a_request_restarts_the_kernel_in_a_new_pod(
    api: Any,
    jp_fetch: Any,
    jp_root_dir: Path,
    jp_serverapp: Any,
    emulated_cluster: tuple[ApiEmulator, FakeCluster],
) -> None:
    emu, _ = emulated_cluster
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / NB).write_text("{}")
    session = {"path": NB, "name": "train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(session))
    kernel_id = json.loads(response.body)["kernel"]["id"]
    try:
        (first,) = emu.store.select("pods", "ml")
        status, body = await api(f"resources/{NB}", method="PUT", body={"cpus": 2, "memory": "1Gi"})
        assert status == 200, body
        assert body["restarted_kernels"] == [kernel_id]
        (second,) = [p for p in emu.store.select("pods", "ml") if p["status"]["phase"] == "Running"]
        assert second["metadata"]["name"] != first["metadata"]["name"]
        assert second["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
        # The notebook keeps working: its kernel answers in the new pod.
        client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            reply = await client.execute_interactive("import os; os.environ['LABRIG_CPUS']")
            assert reply["content"]["status"] == "ok"
        finally:
            client.stop_channels()
        # The panel's usage of the new pod, measured inside it, in the documented shape.
        usage = await usage_measured(api)
        assert usage["kernels"] == [f"kernel:{kernel_id}"]
        assert (usage["cpu"]["limit"], usage["memory"]["limit"]) == (2, 2**30)
        assert (
            "usage from the pod's cgroup (v2), read inside the pod"
            in (usage["memory"]["mechanism"])
        )
        OAS30Validator(RESOURCE_USAGE).validate(usage)
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)


async def test_a_request_saved_outside_the_server_restarts_the_kernel_in_a_new_pod(
    jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any, emulated_cluster: Any
) -> None:
    """The CLI and ``labrig.resources.request`` only save the request; the server that runs
    the kernel notices (``resources.restarts``) and restarts it in a pod with the new limits."""
    emu, _ = emulated_cluster
    jp_serverapp.web_app.settings["labrig_services"].resources.request_poll_interval = 0.2
    await jp_serverapp.extension_manager.start_all_extensions()  # as a started server does
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / NB).write_text("{}")
    session = {"path": NB, "name": "train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(session))
    kernel_id = json.loads(response.body)["kernel"]["id"]
    try:
        (first,) = emu.store.select("pods", "ml")
        resources = jp_serverapp.web_app.settings["labrig_services"].resources
        await asyncio.to_thread(resources.save, NB, {"cpus": 2})  # what the CLI writes
        kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
        for _ in range(300):
            running = [
                p for p in emu.store.select("pods", "ml") if p["status"]["phase"] == "Running"
            ]
            names = {p["metadata"]["name"] for p in running}
            if running and first["metadata"]["name"] not in names and kernel.ready.done():
                break
            await asyncio.sleep(0.2)
        (second,) = running
        assert second["metadata"]["name"] != first["metadata"]["name"]
        assert second["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "2"
        assert jp_serverapp.kernel_manager.list_kernel_ids() == [kernel_id]
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
