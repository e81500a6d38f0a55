"""A request saved from the CLI (another process, no server in it) or applied through the REST
API restarts the notebook's running kernel with it: a new kernel process under the new limits,
the same kernel id, and the notebook's open connection keeps executing code."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session

pytestmark = pytest.mark.slow

NB = "nb/train.ipynb"
POLL = 0.5
PROBE = (
    "import json, os\n"
    "print(json.dumps({'pid': os.getpid(), 'affinity': sorted(os.sched_getaffinity(0)),"
    " 'threads': os.environ.get('OMP_NUM_THREADS')}))"
)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    """The resources test server, checking for requests saved elsewhere every 0.5 s."""
    config = json.loads(json.dumps(jp_server_config))
    config["ResourceService"]["request_poll_interval"] = POLL
    return config  # type: ignore[no-any-return]


async def open_notebook(jp_fetch: Any, root: Path) -> str:
    """What JupyterLab does on opening a notebook: a session with a kernel."""
    (root / "nb").mkdir(exist_ok=True)
    (root / NB).write_text("{}")
    body = {"path": NB, "name": "train.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    kernel_id: str = json.loads(response.body)["kernel"]["id"]
    return kernel_id


async def iopub_connected(ws: Any) -> None:
    """Wait until the kernel's output reaches this websocket: after a restart the server
    subscribes to the new kernel's iopub in the background, and what the kernel publishes
    before then is lost (ZeroMQ's slow joiner). JupyterLab waits the same way: it sends
    kernel_info requests until an iopub status for one arrives."""
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        request = Session().msg("kernel_info_request", {})
        request["channel"] = "shell"
        await ws.write_message(json.dumps(request, default=json_default))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1):
                while True:
                    message = json.loads(await ws.read_message())
                    mine = message["parent_header"].get("msg_id") == request["header"]["msg_id"]
                    if mine and message["msg_type"] == "status":
                        return
    raise AssertionError("the kernel's output never reached the notebook's websocket")


async def execute(ws: Any, code: str) -> str:
    """Run ``code`` over the notebook's kernel websocket, as JupyterLab does; its stdout."""
    await iopub_connected(ws)
    request = Session().msg(
        "execute_request",
        {"code": code, "silent": False, "store_history": False, "user_expressions": {}},
    )
    request["channel"] = "shell"
    await ws.write_message(json.dumps(request, default=json_default))
    out: list[str] = []
    replied = idle = False
    while not (replied and idle):
        raw = await asyncio.wait_for(ws.read_message(), 60)
        assert raw is not None, "the notebook's kernel connection closed"
        message = json.loads(raw)
        if message["parent_header"].get("msg_id") != request["header"]["msg_id"]:
            continue
        kind, content = message["msg_type"], message["content"]
        if kind == "stream" and content["name"] == "stdout":
            out.append(content["text"])
        elif kind == "execute_reply":
            assert content["status"] == "ok", content
            replied = True
        elif kind == "status" and content["execution_state"] == "idle":
            idle = True
    return "".join(out)


async def cli(root: Path, *args: str) -> tuple[int, str]:
    """``labrig resources ...`` in its own process, from the server's root directory."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from labrig.cli import cli; cli()",
        "resources",
        *args,
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 120)
    return process.returncode or 0, out.decode()


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(600):  # a minute
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def new_pid(kernel: Any, old: int) -> Callable[[], bool]:
    return lambda: kernel.provisioner.pid not in (None, old) and kernel.ready.done()


async def test_a_request_from_the_cli_restarts_the_kernel_and_the_notebook_keeps_working(
    jp_fetch: Any, jp_ws_fetch: Any, jp_root_dir: Path, jp_serverapp: Any
) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()  # as a started server does
    kernel_id = await open_notebook(jp_fetch, jp_root_dir)
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        before = json.loads(await execute(ws, PROBE))
        assert before["pid"] == kernel.provisioner.pid
        assert before["threads"] is None  # no request yet

        code, out = await cli(jp_root_dir, "request", NB, "--cpus", "1")
        assert code == 0, out
        assert f"restarts kernel:{kernel_id} with it within a few seconds" in out
        await until(new_pid(kernel, before["pid"]), "the kernel to restart")

        after = json.loads(await execute(ws, PROBE))  # the same connection, the same kernel id
        assert after["pid"] == kernel.provisioner.pid
        assert after["pid"] != before["pid"]
        assert len(after["affinity"]) == 1
        assert after["threads"] == "1"
        assert jp_serverapp.kernel_manager.list_kernel_ids() == [kernel_id]
        code, out = await cli(jp_root_dir, "show", NB, "--json")
        (allocation,) = json.loads(out)["allocations"]
        assert (allocation["holder"], allocation["pid"]) == (f"kernel:{kernel_id}", after["pid"])
        assert allocation["cpus"] == 1
        assert allocation["enforcement"]["cpu_list"] == after["affinity"]

        code, out = await cli(jp_root_dir, "release", NB)
        assert code == 0, out
        assert f"released: the Jupyter server restarts kernel:{kernel_id}" in out
        await until(new_pid(kernel, after["pid"]), "the kernel to restart with the defaults")
        released = json.loads(await execute(ws, PROBE))
        assert released["affinity"] == sorted(os.sched_getaffinity(0))
        assert released["threads"] is None

        # The Python API in a script (no server in it either) does the same.
        script = f"import labrig.resources as r; r.request({NB!r}, cpus=1)"
        done = await asyncio.create_subprocess_exec(sys.executable, "-c", script, cwd=jp_root_dir)
        assert await asyncio.wait_for(done.wait(), 120) == 0
        await until(new_pid(kernel, released["pid"]), "the kernel to restart for the Python API")
        assert len(json.loads(await execute(ws, PROBE))["affinity"]) == 1
    finally:
        ws.close()
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)


async def test_apply_through_the_api_restarts_once_and_the_notebook_keeps_working(
    api: Any, jp_fetch: Any, jp_ws_fetch: Any, jp_root_dir: Path, jp_serverapp: Any
) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()
    kernel_id = await open_notebook(jp_fetch, jp_root_dir)
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels")
    try:
        before = json.loads(await execute(ws, PROBE))
        status, body = await api(f"resources/{NB}", method="PUT", body={"cpus": 1})
        assert status == 200, body
        assert body["restarted_kernels"] == [kernel_id]
        after = json.loads(await execute(ws, PROBE))
        assert after["pid"] != before["pid"]
        assert len(after["affinity"]) == 1
        # The server's check for requests saved elsewhere finds nothing left to do.
        await asyncio.sleep(4 * POLL)
        assert kernel.provisioner.pid == after["pid"]
        assert json.loads(await execute(ws, "print(1 + 1)")) == 2
    finally:
        ws.close()
        await jp_serverapp.kernel_manager.shutdown_kernel(kernel_id, now=True)
