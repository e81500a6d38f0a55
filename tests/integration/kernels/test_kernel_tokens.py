"""A kernel started by a server gets the server's URL and a token of its own, acting as the
kernel's owner, and never the database URL, on either backend: a new token at each start (the
previous one stops working), none once the kernel is shut down. In a pod the token comes from a
Secret of the pod's own, never a literal of the pod spec, and the Secret goes with the pod.
Outside a server nothing is minted. (That the token works against the REST API:
``test_kernel_api_rest``.)"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import replace
from typing import Any

import pytest
from jupyter_client.manager import AsyncKernelManager, start_new_async_kernel
from kernels_kit import KERNEL_SERVER_URL, NOTEBOOK, Kernels

from labrig import identity
from labrig.resources import runtime
from labrig.resources.runtime import KernelApi
from labrig.tokens import TokenGrant

pytestmark = pytest.mark.slow
NAMES = ("LABRIG_SERVER_URL", "LABRIG_API_TOKEN", "LABRIG_DATABASE_URL", "LABRIG_USER")
SHOW_ENV = f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {NAMES!r}}}))"
#: What an administrator's environment may carry: the server's own database, with a password.
SERVER_DATABASE = "postgresql+psycopg://labrig:s3cret@db.ml.svc/labrig"


async def kernel_env(client: Any) -> dict[str, str | None]:
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])

    reply = await client.execute_interactive(SHOW_ENV, timeout=60, output_hook=hook)
    assert reply["content"]["status"] == "ok", reply["content"]
    found: dict[str, str | None] = json.loads("".join(out))
    return found


async def start(kernels: Kernels) -> tuple[AsyncKernelManager, Any]:
    env = {**os.environ, "LABRIG_NOTEBOOK_PATH": NOTEBOOK}
    with identity.acting_as(identity.Principal("alice")):  # who starts it: the token's owner
        return await start_new_async_kernel(
            kernel_name=kernels.kernel_name, env=env, startup_timeout=90
        )


async def reconnect(manager: AsyncKernelManager, client: Any) -> Any:
    """After a restart (a pod's kernel comes back on new ports), as the server's channels do."""
    client.stop_channels()
    client = manager.client()
    client.start_channels()
    await client.wait_for_ready(timeout=90)
    return client


def token_secrets(kernels: Kernels, kernel_id: str) -> list[dict[str, Any]]:
    assert kernels.emu is not None
    selector = f"labrig.io/kernel-id={kernel_id}"
    return list(kernels.emu.store.select("secrets", "ml", label_selector=selector))


def expect_pod_reads_its_token_from_its_secret(
    kernels: Kernels, kernel_id: str, token: str
) -> None:
    assert kernels.emu is not None
    pods = [
        p
        for p in kernels.pods()
        if p["metadata"]["labels"]["labrig.io/kernel-id"] == kernel_id
        and p["status"]["phase"] == "Running"
    ]
    (pod,) = pods
    assert token not in json.dumps(pod)  # whoever may read pods does not read the token
    env = pod["spec"]["containers"][0]["env"]
    (entry,) = [e for e in env if e["name"] == "LABRIG_API_TOKEN"]
    (secret,) = token_secrets(kernels, kernel_id)
    assert entry["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    (owner,) = secret["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"]) == ("Pod", pod["metadata"]["uid"])


async def wait_until(predicate: Any) -> None:
    deadline = time.monotonic() + 30
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_kernel_gets_a_token_of_its_own_at_each_start_and_none_once_shut_down(
    kernels: Kernels, kernel_api: KernelApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABRIG_DATABASE_URL", SERVER_DATABASE)
    tokens = kernel_api.tokens
    manager, client = await start(kernels)
    kernel_id = manager.kernel_id
    try:
        first = await kernel_env(client)
        assert first["LABRIG_DATABASE_URL"] is None
        assert first["LABRIG_SERVER_URL"] == KERNEL_SERVER_URL
        assert first["LABRIG_USER"] == "alice"
        assert first["LABRIG_API_TOKEN"] is not None
        assert tokens.verify(first["LABRIG_API_TOKEN"]) == TokenGrant("alice", "kernel", kernel_id)
        if kernels.name == "kubernetes":
            expect_pod_reads_its_token_from_its_secret(
                kernels, kernel_id, first["LABRIG_API_TOKEN"]
            )

        await manager.restart_kernel(now=True)
        client = await reconnect(manager, client)
        second = await kernel_env(client)
        assert second["LABRIG_API_TOKEN"] not in (None, first["LABRIG_API_TOKEN"])
        assert tokens.verify(second["LABRIG_API_TOKEN"]) == TokenGrant("alice", "kernel", kernel_id)
        assert tokens.verify(first["LABRIG_API_TOKEN"]) is None  # the restart revoked it
        if kernels.name == "kubernetes":
            await wait_until(lambda: len(token_secrets(kernels, kernel_id)) == 1)
            expect_pod_reads_its_token_from_its_secret(
                kernels, kernel_id, second["LABRIG_API_TOKEN"]
            )
    finally:
        client.stop_channels()
        await manager.shutdown_kernel()
    assert tokens.verify(second["LABRIG_API_TOKEN"]) is None
    if kernels.name == "kubernetes":
        await wait_until(lambda: not token_secrets(kernels, kernel_id))


async def test_outside_a_server_a_kernel_gets_no_token(
    kernels: Kernels, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ``KernelManager`` in a script: nothing is minted, the script's environment is the
    kernel's (locally) and no pod gets a Secret."""
    manager, client = await start(kernels)
    try:
        env = await kernel_env(client)
        assert env["LABRIG_API_TOKEN"] is None
        assert env["LABRIG_SERVER_URL"] is None
        if kernels.name == "kubernetes":
            assert token_secrets(kernels, manager.kernel_id) == []
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


@pytest.mark.parametrize("kernels", ["kubernetes"], indirect=True)
async def test_without_a_server_url_for_pods_a_kernel_pod_gets_no_token(
    kernels: Kernels, kernel_api: KernelApi
) -> None:
    """``LabrigApp.kernel_server_url`` unset: the server's own address is no use to a pod, so
    the pod gets neither URL nor token (the server log says so at start)."""
    runtime.set_kernel_api(replace(kernel_api, pod_url=None))
    manager, client = await start(kernels)
    try:
        env = await kernel_env(client)
        assert (env["LABRIG_API_TOKEN"], env["LABRIG_SERVER_URL"]) == (None, None)
        assert token_secrets(kernels, manager.kernel_id) == []
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


async def test_a_kernel_that_died_on_its_own_loses_its_token(
    kernels: Kernels, kernel_api: KernelApi
) -> None:
    """Stopped outside its manager (killed, its pod deleted or evicted) and not restarted: its
    token stops working once the kernel is seen dead, without waiting for a shutdown."""
    manager, client = await start(kernels)
    try:
        token = (await kernel_env(client))["LABRIG_API_TOKEN"]
        assert token is not None
        assert kernel_api.tokens.verify(token) is not None
        await asyncio.to_thread(kernels.backend.stop, manager.kernel_id)
        await wait_until_dead(manager)
        assert kernel_api.tokens.verify(token) is None
        if kernels.name == "kubernetes":
            assert token_secrets(kernels, manager.kernel_id) == []
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)


async def wait_until_dead(manager: AsyncKernelManager) -> None:
    deadline = time.monotonic() + 30
    while await manager.is_alive():
        assert time.monotonic() < deadline, "the kernel outlived stop()"
        await asyncio.sleep(0.2)
