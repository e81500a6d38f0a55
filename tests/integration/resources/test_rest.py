"""REST: show, request, release, usage, profiles, capacity; every bad input is a 4xx naming
the field and changes nothing; a saved request restarts the notebook's running kernel."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from resource_rig import INVENTORY

from labrig.errors import CapacityExceeded
from labrig.kernels.provisioner import LabrigLocalProvisioner
from labrig.services import Services

NB = "nb/train.ipynb"
GOOD = {"profile": "custom", "cpus": "500m", "memory": "1Gi", "disk": "2Gi"}


async def test_request_show_release(api: Any) -> None:
    status, body = await api(f"resources/{NB}")
    assert status == 200
    assert body["request"] is None
    status, body = await api(f"resources/{NB}", method="PUT", body=GOOD)
    assert status == 200, body
    assert body["request"] == {
        "notebook_path": NB,
        "profile": "custom",
        "cpus": 0.5,
        "memory": 2**30,
        "gpus": 0,
        "gpu_type": None,
        "disk": 2 * 2**30,
    }
    assert body["restarted_kernels"] == []
    assert set(body["enforcement"]) == {"cpu", "memory", "gpu", "disk"}
    assert (await api(f"resources/{NB}"))[1]["request"] == body["request"]
    assert (await api("resources"))[1]["items"][0]["notebook_path"] == NB
    status, body = await api(f"resources/{NB}", method="DELETE")
    assert status == 200
    assert body["request"] is None
    status, body = await api(f"resources/{NB}", method="DELETE")
    assert status == 404
    assert body["field"] == "notebook_path"


async def test_profiles_and_capacity(api: Any) -> None:
    status, body = await api("resource-profiles")
    assert status == 200
    assert [p["slug"] for p in body["items"]] == ["small", "medium", "custom"]
    assert body["default"] == "custom"
    status, body = await api("resource-capacity")
    assert status == 200
    assert body["cpus"] == 2
    assert body["memory"] == 8 * 2**30
    assert [g["uuid"] for g in body["gpu_devices"]] == [g["uuid"] for g in INVENTORY]
    assert body["host"]["gpu_discovery"] == "configured inventory"
    for dimension in ("cpu", "memory", "gpu", "disk"):
        assert body["enforcement"][dimension]["state"] in ("enforced", "advisory")


BAD = [
    ({"cpus": -1}, "cpus", "more than zero"),
    ({"cpus": 0}, "cpus", "more than zero"),
    ({"cpus": "abc"}, "cpus", "500m"),
    ({"cpus": True}, "cpus", "number of CPUs"),
    ({"cpus": 64}, "cpus", "capacity of 2 CPUs"),
    ({"cpus": "1e30"}, "cpus", "larger than any machine"),
    ({"memory": "4GB"}, "memory", "4Gi, 4096Mi"),
    ({"memory": "4 Gi"}, "memory", "4Gi, 4096Mi"),
    ({"memory": "-1Gi"}, "memory", "more than zero"),
    ({"memory": 0}, "memory", "more than zero"),
    ({"memory": "1Pi"}, "memory", "capacity of 8 GiB"),
    ({"memory": [1]}, "memory", "not a quantity"),
    ({"disk": "lots"}, "disk", "4Gi"),
    ({"disk": "1Ei"}, "disk", "capacity"),
    ({"gpus": -1}, "gpus", "negative"),
    ({"gpus": "two"}, "gpus", "whole number"),
    ({"gpus": 1.5}, "gpus", "whole number"),
    ({"gpus": 3}, "gpus", "3 GPUs requested, this host has 2"),
    ({"gpus": 1, "gpu_type": "H100"}, "gpu_type", "'H100' is not on this host"),
    ({"gpus": 1, "gpu_type": 7}, "gpu_type", "GPU model name"),
    ({"profile": "huge"}, "profile", "unknown profile 'huge'"),
    ({"profile": "small", "cpus": 2}, "cpus", "does not allow custom values"),
    ({"colour": "blue"}, "colour", "unknown field"),
    ("not json", "body", "not valid JSON"),
    ("[1]", "body", "JSON object"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD)
async def test_bad_input_is_400_naming_the_field_and_changes_nothing(
    api: Any, body: Any, field: str, message: str
) -> None:
    assert (await api(f"resources/{NB}", method="PUT", body=GOOD))[0] == 200
    before = (await api(f"resources/{NB}"))[1]
    status, reply = await api(f"resources/{NB}", method="PUT", body=body)
    assert status == 400, reply
    assert reply["field"] == field
    assert message in reply["message"]
    assert "Traceback" not in reply["message"]
    assert (await api(f"resources/{NB}"))[1] == before


@pytest.mark.parametrize(
    "path", ["../../etc/passwd.ipynb", "/etc/passwd", "a/../../b.ipynb", "nb/../..", "."]
)
@pytest.mark.parametrize("route", ["resources", "resource-usage"])
async def test_a_path_outside_the_server_root_is_refused(api: Any, path: str, route: str) -> None:
    method, body = ("PUT", GOOD) if route == "resources" else ("GET", None)
    status, reply = await api(f"{route}/{path}", method=method, body=body)
    assert status == 400, reply
    assert reply["field"] == "notebook_path"
    assert (await api("resources"))[1]["items"] == []


async def test_a_symlink_out_of_the_root_is_refused(api: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "escape").symlink_to("/tmp")
    status, reply = await api("resources/escape/x.ipynb", method="PUT", body=GOOD)
    assert status == 400
    assert reply["field"] == "notebook_path"


async def test_busy_gpus_are_409_naming_the_holder_and_nothing_is_saved(
    api: Any, server_services: Services
) -> None:
    server_services.resources.acquire(
        "kernel:someone", None, None, 2, None, notebook_path="notebooks/other.ipynb"
    )
    status, reply = await api(f"resources/{NB}", method="PUT", body={"gpus": 2})
    assert status == 409
    assert reply["field"] == "gpus"
    assert reply["reason"] == "capacity_exceeded"
    assert reply["message"].startswith("2 GPUs requested, 0 free: GPU-")
    assert "is held by notebooks/other.ipynb" in reply["message"]
    assert (await api(f"resources/{NB}"))[1]["request"] is None
    status, reply = await api("resource-capacity")
    assert {g["notebook_path"] for g in reply["gpu_devices"]} == {"notebooks/other.ipynb"}


async def test_scratch_over_quota_warns_and_refuses_new_jobs(
    api: Any, server_services: Services
) -> None:
    assert (await api(f"resources/{NB}", method="PUT", body={**GOOD, "disk": "4Ki"}))[0] == 200
    scratch = server_services.resources.scratch_dir(NB)
    (scratch / "big.bin").write_bytes(b"x" * 64 * 1024)
    status, body = await api(f"resource-usage/{NB}")
    assert status == 200
    assert body["disk"]["over_quota"] is True
    assert "new jobs from this notebook are refused" in body["disk"]["warning"]
    with pytest.raises(CapacityExceeded, match="over its quota of 4 KiB") as caught:
        server_services.resources.check_scratch(NB)
    assert caught.value.field == "disk"


async def test_apply_restarts_the_running_kernel_with_the_new_limits(
    api: Any, jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any
) -> None:
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / NB).write_text("{}")
    response = await jp_fetch(
        "api",
        "sessions",
        method="POST",
        body=json.dumps(
            {"path": NB, "name": "train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
        ),
    )
    kernel_id = json.loads(response.body)["kernel"]["id"]
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    try:
        # labrig's provisioner is the default for kernelspecs that name none.
        assert isinstance(kernel.provisioner, LabrigLocalProvisioner)
        first_pid = kernel.provisioner.pid
        status, body = await api(f"resources/{NB}", method="PUT", body={"cpus": 1, "gpus": 1})
        assert status == 200, body
        assert body["restarted_kernels"] == [kernel_id]
        (allocation,) = body["allocations"]
        assert allocation["holder"] == f"kernel:{kernel_id}"
        assert allocation["cpus"] == 1
        assert [g["uuid"] for g in allocation["gpus"]] == [INVENTORY[0]["uuid"]]
        assert kernel.provisioner.pid != first_pid
        # A refused request changes nothing: the running kernel is not restarted.
        second_pid = kernel.provisioner.pid
        status, body = await api(f"resources/{NB}", method="PUT", body={"gpus": 3})
        assert status == 400
        assert kernel.provisioner.pid == second_pid
        assert (await api(f"resources/{NB}"))[1]["request"]["gpus"] == 1
        for _ in range(20):
            status, usage = await api(f"resource-usage/{NB}")
            if usage["memory"]["used"]:
                break
            await asyncio.sleep(0.2)
        assert usage["running"] is True
        assert usage["kernels"] == [f"kernel:{kernel_id}"]
        assert usage["cpu"]["limit"] == 1
        assert usage["memory"]["used"] > 2**20
        assert usage["gpus"][0]["uuid"] == INVENTORY[0]["uuid"]
        assert usage["gpus"][0]["utilization"] is None  # no NVML here
        status, body = await api(f"resources/{NB}", method="DELETE")
        assert body["restarted_kernels"] == [kernel_id]
        assert body["allocations"][0]["gpus"] == []
    finally:
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
