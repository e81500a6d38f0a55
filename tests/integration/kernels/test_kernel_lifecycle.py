"""A notebook's kernel on either backend: started with its request, runs code, is interrupted,
restarted and shut down; on Kubernetes that is a pod with the request as requests/limits, a
new pod per restart, and no pod once it is shut down."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from queue import Empty
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager, start_new_async_kernel
from kernels_kit import NOTEBOOK, Kernels

from labrig import identity

pytestmark = pytest.mark.slow


async def run(client: Any, code: str) -> tuple[dict[str, Any], str]:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = await client.execute_interactive(code, timeout=60, output_hook=hook)
    return reply["content"], "".join(out)


async def start(kernels: Kernels) -> tuple[AsyncKernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK}
    return await start_new_async_kernel(
        kernel_name=kernels.kernel_name, env=env, startup_timeout=90
    )


async def interrupted(manager: AsyncKernelManager, client: Any, msg_id: str) -> dict[str, Any]:
    """Interrupt the cell ``msg_id`` and return its reply. As a user presses Interrupt again
    when nothing happens, so does this: a SIGINT can land while ipykernel has not yet put its
    handler in place for the cell (seen on a quiet machine), and is then ignored."""
    for _ in range(6):
        await manager.interrupt_kernel()
        with contextlib.suppress(Empty):
            while True:
                reply: dict[str, Any] = await client.get_shell_msg(timeout=5)
                if reply["parent_header"].get("msg_id") == msg_id:
                    return reply
    raise AssertionError("six interrupts did not stop the cell")


async def wait_for_output(client: Any, msg_id: str, text: str) -> None:
    """Until the cell ``msg_id`` printed ``text`` (it is then running)."""
    while True:
        msg = await client.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id or msg["msg_type"] != "stream":
            continue
        if text in msg["content"]["text"]:
            return


def kernel_pods(kernels: Kernels, kernel_id: str) -> list[dict[str, Any]]:
    return [
        p for p in kernels.pods() if p["metadata"]["labels"].get("labrig.io/kernel-id") == kernel_id
    ]


async def wait_until(predicate: Any) -> Any:
    deadline = time.monotonic() + 30
    while not (found := predicate()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)
    return found


async def test_kernel_runs_with_its_notebooks_request(kernels: Kernels) -> None:
    kernels.service.save(NOTEBOOK, {"cpus": 1, "memory": "2Gi", "disk": "1Gi"})
    with identity.acting_as(identity.Principal("alice")):  # who starts it: its LABRIG_USER
        manager, client = await start(kernels)
    try:
        reply, out = await run(
            client,
            "import os; print(os.environ['LABRIG_NOTEBOOK_PATH'], os.environ['LABRIG_CPUS'], "
            "os.environ['LABRIG_KERNEL_ID'], os.environ['LABRIG_USER'])",
        )
        assert reply["status"] == "ok", reply
        assert out.split() == [NOTEBOOK, "1", manager.kernel_id, "alice"]
        await expect_usage(kernels, manager.kernel_id)
        if kernels.name == "kubernetes":
            (pod,) = kernel_pods(kernels, manager.kernel_id)
            resources = pod["spec"]["containers"][0]["resources"]
            assert resources["limits"] == {
                "cpu": "1",
                "memory": str(2 * 2**30),
                "ephemeral-storage": str(2**30),
            }
            assert pod["status"]["phase"] == "Running"
            assert kernels.backend.waiting(NOTEBOOK) is None
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


async def expect_usage(kernels: Kernels, kernel_id: str) -> None:
    """The panel's usage sample shows the kernel's CPU and memory against its request: from its
    process tree locally, from the metrics API (the pod's cgroup) on Kubernetes."""
    deadline = time.monotonic() + 30
    while True:
        sample = await asyncio.to_thread(kernels.backend.usage, kernels.service, NOTEBOOK)
        if sample["memory"]["used"] and sample["cpu"]["used"] is not None:
            break
        assert time.monotonic() < deadline, sample
        await asyncio.sleep(0.3)
    assert sample["running"] is True
    assert sample["kernels"] == [f"kernel:{kernel_id}"]
    assert sample["cpu"]["limit"] == 1
    assert sample["memory"]["limit"] == 2 * 2**30
    assert 2**20 < sample["memory"]["used"] < 2 * 2**30
    assert sample["memory"]["percent"] == round(100 * sample["memory"]["used"] / 2**31, 1)
    assert sample["waiting"] is None


async def test_interrupt_restart_and_shutdown(kernels: Kernels) -> None:
    manager, client = await start(kernels)
    kernel_id = manager.kernel_id
    try:
        msg_id = client.execute("import time; print('sleeping', flush=True); time.sleep(120)")
        await wait_for_output(client, msg_id, "sleeping")
        reply = await interrupted(manager, client, msg_id)
        assert reply["content"]["status"] == "error", reply["content"]
        assert reply["content"]["ename"] == "KeyboardInterrupt"

        _, out = await run(client, "x = 41; print(x + 1, flush=True)")
        assert out.strip() == "42"
        if kernels.name == "kubernetes":
            (first,) = kernel_pods(kernels, kernel_id)

        await manager.restart_kernel(now=True)
        # A pod's kernel comes back on new ports: connect again, as the server's channels do.
        client.stop_channels()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=90)
        reply, out = await run(client, "print('x' in globals(), flush=True)")
        assert reply["status"] == "ok", reply
        assert out.strip() == "False"  # a fresh kernel
        if kernels.name == "kubernetes":
            pods = await wait_until(lambda: kernel_pods(kernels, kernel_id))
            names = {p["metadata"]["name"] for p in pods}
            assert first["metadata"]["name"] not in names  # a new pod, the old one deleted
    finally:
        client.stop_channels()
        await manager.shutdown_kernel()
    assert not await manager.is_alive()
    if kernels.name == "kubernetes":
        await wait_until(lambda: not kernel_pods(kernels, kernel_id))


async def test_the_backend_stops_a_kernel_it_did_not_start_itself(kernels: Kernels) -> None:
    """``KernelBackend.stop``: what runs for a kernel ends, whoever holds its manager."""
    kernels.service.save(NOTEBOOK, {"cpus": 1})
    manager, client = await start(kernels)
    try:
        reply, _ = await run(client, "1")
        assert reply["status"] == "ok"
        await asyncio.to_thread(kernels.backend.stop, manager.kernel_id)
        deadline = time.monotonic() + 30
        while await manager.is_alive():
            assert time.monotonic() < deadline, "the kernel outlived stop()"
            await asyncio.sleep(0.2)
        if kernels.name == "kubernetes":
            await wait_until(lambda: not kernel_pods(kernels, manager.kernel_id))
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
