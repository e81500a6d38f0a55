"""Through a running server, on either kernel backend: a notebook's kernel reaches labrig's REST
API at ``$LABRIG_SERVER_URL`` with its own ``$LABRIG_API_TOKEN`` and acts as its owner there,
never seeing the database URL the server itself was given; its token stops working when the
kernel is restarted (the new one works) and when it is shut down. On Kubernetes the kernel runs
in a pod of the API emulator (a process of the fake kubelet, with only the pod's environment)
and reads its token from its Secret (without ``LabrigApp.kernel_server_url`` a pod gets
nothing: ``test_kernel_tokens``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from identities import API, Caller, as_user_fixture, server_config
from kernels_kit import IMAGE, stop_response_manager

from labrig import identity

__all__ = ["as_user_fixture"]

pytestmark = pytest.mark.slow
Users = Callable[[str], Caller]

#: What a notebook runs: a call to labrig's API as the kernel's token says.
CALL = """
import json, os, urllib.error, urllib.request

def call(path, body=None):
    request = urllib.request.Request(
        os.environ["LABRIG_SERVER_URL"] + "labrig/api/v1/" + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Authorization": "token " + os.environ["LABRIG_API_TOKEN"],
                 "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as err:
        return err.code, None
"""
NAMES = ("LABRIG_SERVER_URL", "LABRIG_API_TOKEN", "LABRIG_DATABASE_URL")


@pytest.fixture(params=["local", "kubernetes"])
def jp_server_config(
    request: pytest.FixtureRequest,
    labrig_env: Path,
    tmp_path: Path,
    jp_http_port: int,
    jp_base_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[dict[str, Any]]:
    """Several users; the administrator's environment carries the database URL (the server uses
    it; its kernels must not see it). On Kubernetes, pods reach the server at its loopback
    address (the fake kubelet's pods are processes of this host)."""
    monkeypatch.setenv("LABRIG_DATABASE_URL", f"sqlite:///{labrig_env / 'labrig.db'}")
    if request.param == "local":
        yield server_config(labrig_env)
        return
    emu, _ = request.getfixturevalue("emulated_cluster")
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    config = server_config(
        labrig_env,
        labrig={
            "kernel_backend": "labrig.k8s.kernel_backend.KubernetesKernelBackend",
            "kernel_server_url": url,
        },
    )
    config["KubernetesPodSettings"] = {
        "kubeconfig": str(emu.kubeconfig(tmp_path / "kubeconfig", namespace="ml")),
        "namespace": "ml",
    }
    config["KubernetesKernelBackend"] = {"image": IMAGE, "start_timeout": 60.0}
    yield config
    stop_response_manager()


class Notebook:
    """A kernel of the test server, started as ``alice``, and code run in it."""

    def __init__(self, serverapp: Any) -> None:
        self.manager = serverapp.kernel_manager
        self.kernel_id = ""
        self.client: Any = None

    async def start(self) -> None:
        with identity.acting_as(identity.Principal("alice")):
            self.kernel_id = await self.manager.start_kernel(kernel_name="python3")
        await self.connect()

    async def connect(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        self.client = self.manager.get_kernel(self.kernel_id).client()
        self.client.start_channels()
        await self.client.wait_for_ready(timeout=90)

    async def run(self, code: str) -> Any:
        out: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["msg_type"] == "stream":
                out.append(msg["content"]["text"])

        reply = await self.client.execute_interactive(code, timeout=90, output_hook=hook)
        assert reply["content"]["status"] == "ok", reply["content"]
        return json.loads("".join(out))

    async def env(self) -> dict[str, str | None]:
        found: dict[str, str | None] = await self.run(
            f"import json, os; print(json.dumps({{n: os.environ.get(n) for n in {NAMES!r}}}))"
        )
        return found

    async def call(self, path: str, body: Any = None) -> tuple[int, Any]:
        status, answer = await self.run(f"{CALL}\nprint(json.dumps(call({path!r}, {body!r})))")
        return status, answer

    async def stop(self) -> None:
        if self.client is not None:
            self.client.stop_channels()
        if self.kernel_id in self.manager.list_kernel_ids():
            await self.manager.shutdown_kernel(self.kernel_id, now=True)


async def with_token(caller: Caller, token: str | None) -> int:
    """A call to labrig's API with a kernel's token, from outside the kernel."""
    response = await caller.jp_fetch(
        *API, "jobs", headers={"Authorization": f"token {token}"}, raise_error=False
    )
    code: int = response.code
    return code


def expect_in_a_pod(request: pytest.FixtureRequest, serverapp: Any, kernel_id: str) -> None:
    """On Kubernetes the kernel runs in a pod, beside its token's Secret."""
    if serverapp.web_app.settings["labrig_services"].kernel_backend.kind != "kubernetes":
        return
    emu, _ = request.getfixturevalue("emulated_cluster")
    selector = f"labrig.io/kernel-id={kernel_id}"
    (pod,) = emu.store.select("pods", "ml", label_selector=selector)
    assert pod["status"]["phase"] == "Running"
    assert len(emu.store.select("secrets", "ml", label_selector=selector)) == 1


async def test_a_notebook_calls_labrig_as_its_owner_with_its_kernels_token(
    jp_serverapp: Any, as_user: Users, request: pytest.FixtureRequest
) -> None:
    notebook = Notebook(jp_serverapp)
    try:
        await notebook.start()
        expect_in_a_pod(request, jp_serverapp, notebook.kernel_id)
        env = await notebook.env()
        assert env["LABRIG_DATABASE_URL"] is None
        assert env["LABRIG_SERVER_URL"] is not None
        assert env["LABRIG_SERVER_URL"].endswith(jp_serverapp.base_url)
        status, model = await notebook.call("models", {"name": "from-a-notebook"})
        assert status == 201, model
        # Recorded as alice's: bob sees alice as its owner.
        status, seen = await as_user("bob").api("models/from-a-notebook")
        assert (status, seen["owner"]) == (200, "alice")
        assert (await notebook.call("jobs"))[0] == 200

        first = env["LABRIG_API_TOKEN"]
        await notebook.manager.restart_kernel(notebook.kernel_id, now=True)
        await notebook.connect()
        second = (await notebook.env())["LABRIG_API_TOKEN"]
        assert second not in (None, first)
        assert await with_token(as_user("bob"), first) == 403
        assert (await notebook.call("jobs"))[0] == 200
    finally:
        await notebook.stop()
    assert await with_token(as_user("bob"), second) == 403


async def test_a_stopping_server_revokes_the_tokens_of_its_kernels(
    jp_serverapp: Any, request: pytest.FixtureRequest
) -> None:
    """The server stops its extensions before its kernels: labrig revokes their tokens then,
    and a kernel pod and its Secret still go."""
    tokens = jp_serverapp.web_app.settings["labrig_services"].tokens
    notebook = Notebook(jp_serverapp)
    try:
        await notebook.start()
        token = (await notebook.env())["LABRIG_API_TOKEN"]
        assert token is not None
        assert tokens.verify(token) is not None
    finally:
        notebook.client.stop_channels()
    await jp_serverapp._cleanup()  # as a stopping server does: extensions, then kernels
    assert jp_serverapp.kernel_manager.list_kernel_ids() == []
    assert tokens.verify(token) is None
    if jp_serverapp.web_app.settings["labrig_services"].kernel_backend.kind == "kubernetes":
        emu, _ = request.getfixturevalue("emulated_cluster")
        selector = f"labrig.io/kernel-id={notebook.kernel_id}"
        for kind in ("pods", "secrets"):
            for _ in range(300):
                if not emu.store.select(kind, "ml", label_selector=selector):
                    break
                await asyncio.sleep(0.1)
            assert emu.store.select(kind, "ml", label_selector=selector) == [], kind
