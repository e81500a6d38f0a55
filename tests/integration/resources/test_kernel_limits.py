"""Real kernels started through labrig's provisioner get, and are held to, their request."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager, start_new_async_kernel
from resource_rig import INVENTORY, provisioner_service

from labrig.errors import CapacityExceeded
from labrig.resources import enforce, runtime
from labrig.resources.service import ResourceService

pytestmark = pytest.mark.slow

PROBE = """
import json, os
print(json.dumps({
    "affinity": sorted(os.sched_getaffinity(0)),
    "env": {k: os.environ.get(k) for k in (
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER",
        "LABRIG_SCRATCH", "LABRIG_NOTEBOOK_PATH")},
    "cgroup": open("/proc/self/cgroup").read(),
    "scratch_is_dir": os.path.isdir(os.environ.get("LABRIG_SCRATCH") or "/nonexistent"),
}))
"""


async def run(client: Any, code: str) -> str:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])

    reply = await client.execute_interactive(code, timeout=120, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(out)


async def start(kernel: str, notebook: str) -> tuple[AsyncKernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": notebook}
    manager, client = await start_new_async_kernel(kernel_name=kernel, env=env, startup_timeout=120)
    return manager, client


async def stop(manager: AsyncKernelManager, client: Any) -> None:
    client.stop_channels()
    await manager.shutdown_kernel(now=True)


CPU_MODES = [
    pytest.param(
        True,
        id="cgroup",
        marks=pytest.mark.skipif(not enforce.detect().cpuset, reason="no cpuset cgroup here"),
    ),
    pytest.param(False, id="affinity"),
]


@pytest.mark.parametrize("use_cgroups", CPU_MODES)
async def test_one_cpu_means_one_cpu_and_one_thread(
    labrig_kernel: str, labrig_env: Path, tmp_path: Path, use_cgroups: bool
) -> None:
    kernel_resources = provisioner_service(labrig_env, tmp_path / "root", use_cgroups=use_cgroups)
    try:
        await _check_one_cpu(labrig_kernel, kernel_resources, use_cgroups)
    finally:
        runtime.set_current(None)
        kernel_resources.db.dispose()


async def _check_one_cpu(
    labrig_kernel: str, kernel_resources: ResourceService, use_cgroups: bool
) -> None:
    kernel_resources.save("nb/cpu.ipynb", {"cpus": 1, "memory": "1Gi", "disk": "1Gi"})
    manager, client = await start(labrig_kernel, "nb/cpu.ipynb")
    try:
        seen = json.loads(await run(client, PROBE))
        assert len(seen["affinity"]) == 1
        assert seen["env"]["OMP_NUM_THREADS"] == "1"
        assert seen["env"]["MKL_NUM_THREADS"] == "1"
        assert seen["env"]["CUDA_VISIBLE_DEVICES"] == ""
        assert seen["env"]["LABRIG_NOTEBOOK_PATH"] == "nb/cpu.ipynb"
        assert Path(seen["env"]["LABRIG_SCRATCH"]) == kernel_resources.scratch_dir("nb/cpu.ipynb")
        assert seen["scratch_is_dir"]
        # The Python API inside the kernel sees the same request (paths relative to the root).
        api = await run(
            client, "import labrig.resources as r; print(r.show('nb/cpu.ipynb')['request']['cpus'])"
        )
        assert api.strip() == "1.0"
        torch_threads = await run(client, "import torch; print(torch.get_num_threads())")
        assert torch_threads.strip() == "1"
        shown = kernel_resources.show("nb/cpu.ipynb")
        (allocation,) = shown["allocations"]
        assert allocation["pid"] == manager.provisioner.pid  # type: ignore[union-attr]
        labels = allocation["enforcement"]
        if use_cgroups:
            assert labels["cpu"]["state"] == "enforced"
            assert f"kernel-{manager.kernel_id}" in seen["cgroup"]
        else:
            assert labels["cpu"] == {
                "state": "advisory",
                "mechanism": "CPU affinity + OMP/MKL/torch thread counts",
            }
            assert "labrig" not in seen["cgroup"]
    finally:
        await stop(manager, client)
    assert kernel_resources.show("nb/cpu.ipynb")["allocations"] == []
    assert kernel_resources.last_stop("nb/cpu.ipynb") is None  # a normal shutdown is no stop


MEMORY_MODES = [
    pytest.param(
        True,
        id="cgroup",
        marks=pytest.mark.skipif(not enforce.detect().memory, reason="no memory cgroup here"),
    ),
    pytest.param(False, id="watchdog"),
]


@pytest.mark.parametrize("use_cgroups", MEMORY_MODES)
async def test_a_kernel_past_its_memory_limit_is_stopped_and_the_reason_recorded(
    labrig_kernel: str, labrig_env: Path, tmp_path: Path, use_cgroups: bool
) -> None:
    service = provisioner_service(labrig_env, tmp_path / "root", use_cgroups=use_cgroups)
    try:
        service.save("nb/big.ipynb", {"memory": "256Mi"})
        manager, client = await start(labrig_kernel, "nb/big.ipynb")
        labels = service.show("nb/big.ipynb")["allocations"][0]["enforcement"]
        expected = f"cgroup {enforce.detect().cgroup_version} memory" if use_cgroups else "watchdog"
        assert expected in labels["memory"]["mechanism"]
        try:
            client.execute("x = bytearray(700 * 2**20); import time; time.sleep(60)")
            for _ in range(150):
                if not await manager.is_alive():
                    break
                await asyncio.sleep(0.2)
            assert not await manager.is_alive()
            stop_event = service.last_stop("nb/big.ipynb")
            assert stop_event is not None
            assert stop_event["message"] == "kernel stopped: memory limit 256 MiB reached"
        finally:
            await stop(manager, client)
    finally:
        runtime.set_current(None)
        service.db.dispose()


async def test_gpus_are_exclusive_across_kernels_and_freed_when_one_dies(
    labrig_kernel: str, kernel_resources: ResourceService
) -> None:
    for name in ("a", "b", "c"):
        kernel_resources.save(f"nb/{name}.ipynb", {"gpus": 1})
    started = [await start(labrig_kernel, f"nb/{name}.ipynb") for name in ("a", "b")]
    try:
        seen = [json.loads(await run(client, PROBE))["env"] for _, client in started]
        devices = [env["CUDA_VISIBLE_DEVICES"] for env in seen]
        assert sorted(devices) == sorted(g["uuid"] for g in INVENTORY)
        assert all(env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID" for env in seen)

        with pytest.raises(CapacityExceeded, match=r"1 GPU requested, 0 free: .*held by nb/a"):
            await start(labrig_kernel, "nb/c.ipynb")

        first, _ = started[0]
        os.kill(first.provisioner.pid, signal.SIGKILL)  # type: ignore[union-attr]
        for _ in range(100):
            if not await first.is_alive():
                break
            await asyncio.sleep(0.1)
        third = await start(labrig_kernel, "nb/c.ipynb")
        started.append(third)
        env = json.loads(await run(third[1], PROBE))["env"]
        assert env["CUDA_VISIBLE_DEVICES"] == devices[0]
    finally:
        for manager, client in started:
            await stop(manager, client)
    assert [h for h in kernel_resources.holders() if h["gpus"]] == []
