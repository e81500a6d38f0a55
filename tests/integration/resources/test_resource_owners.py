"""A notebook's resource request belongs to who made it, with alice, bob and an administrator:
anyone reads it and the kernel's usage, only its owner (or an administrator) changes or releases
it, over REST, the CLI and the Python API, on SQLite and PostgreSQL; and a kernel labrig starts
acts as who started it (``LABRIG_USER``), so what ``import labrig`` records there is theirs."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from identities import ADMIN, Caller, as_user_fixture, server_config
from jupyter_client.manager import start_new_async_kernel
from resource_rig import INVENTORY, provisioner_service

import labrig.resources
from labrig import identity
from labrig.cli import cli
from labrig.errors import AccessDenied
from labrig.resources import runtime
from labrig.resources.service import ResourceService

__all__ = ["as_user_fixture"]

Users = Callable[[str], Caller]
NB = "nb/train.ipynb"
SMALL = {"profile": "custom", "cpus": "500m", "memory": "1Gi"}


@pytest.fixture(autouse=True)
def _each_database(on_each_database: str) -> str:
    return on_each_database


@pytest.fixture
def jp_server_config(labrig_env: Path) -> dict[str, Any]:
    config = server_config(labrig_env)
    config["ResourceService"] = {
        "gpu_inventory": INVENTORY,
        "discover_gpus": False,
        "capacity_cpus": 2,
        "capacity_memory": "8Gi",
    }
    return config


async def test_only_the_owner_or_an_admin_changes_a_notebooks_resources(as_user: Users) -> None:
    alice, bob, admin = as_user("alice"), as_user("bob"), as_user(ADMIN)
    status, saved = await alice.api(f"resources/{NB}", "PUT", SMALL)
    assert (status, saved["owner"]) == (200, "alice"), saved
    status, shown = await bob.api(f"resources/{NB}")
    assert (status, shown["owner"], shown["request"]["cpus"]) == (200, "alice", 0.5)
    assert (await bob.api("resources"))[1]["items"][0]["owner"] == "alice"
    assert (await bob.api(f"resource-usage/{NB}"))[0] == 200

    status, refused = await bob.api(f"resources/{NB}", "PUT", {**SMALL, "cpus": 2})
    assert status == 403, refused
    assert "belongs to alice" in refused["message"]
    assert (await bob.api(f"resources/{NB}", "DELETE"))[0] == 403
    assert (await alice.api(f"resources/{NB}"))[1]["request"]["cpus"] == 0.5

    status, changed = await admin.api(f"resources/{NB}", "PUT", {**SMALL, "cpus": 1})
    assert (status, changed["owner"], changed["request"]["cpus"]) == (200, "alice", 1.0)
    assert (await alice.api(f"resources/{NB}", "DELETE"))[0] == 200
    # Released, the notebook is anyone's to request for again.
    status, saved = await bob.api(f"resources/{NB}", "PUT", SMALL)
    assert (status, saved["owner"]) == (200, "bob")


@pytest.fixture
def admins_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """What the CLI and ``import labrig`` read: the administrator, and where notebooks are."""
    config = tmp_path / "jupyter_server_config.json"
    config.write_text(json.dumps({"LabrigApp": {"admin_users": [ADMIN]}}))
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    monkeypatch.setenv("LABRIG_ROOT_DIR", str(tmp_path))
    runtime.set_current(None)
    yield
    runtime.set_current(None)


def labrig_cli(user: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env={identity.USER_ENV: user})
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_and_the_python_api_obey_the_requests_owner(
    admins_config: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = labrig_cli("alice", "resources", "request", NB, "--cpus", "1", "--json")
    assert code == 0, err
    assert json.loads(out)["owner"] == "alice"
    code, out, _ = labrig_cli("bob", "resources", "ls")
    assert [(line.split()[0], line.split()[-1]) for line in out.splitlines()] == [
        ("NOTEBOOK_PATH", "OWNER"),
        (NB, "alice"),
    ]
    code, _, err = labrig_cli("bob", "resources", "request", NB, "--cpus", "2")
    assert (code, "belongs to alice" in err) == (1, True)
    code, _, err = labrig_cli("bob", "resources", "release", NB)
    assert (code, "belongs to alice" in err) == (1, True)

    monkeypatch.setenv(identity.USER_ENV, "bob")
    assert labrig.resources.show(NB)["request"]["cpus"] == 1.0
    with pytest.raises(AccessDenied, match="belongs to alice"):
        labrig.resources.request(NB, cpus=2)
    with pytest.raises(AccessDenied):
        labrig.resources.release(NB)

    code, _, err = labrig_cli(ADMIN, "resources", "release", NB)
    assert code == 0, err
    assert labrig.resources.show(NB)["owner"] is None


# -- the kernel acts as who started it -----------------------------------------------------


@pytest.fixture
def labrig_kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "labrig-owner"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (labrig owner)",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": "labrig-local-provisioner"}},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    return "labrig-owner"


@pytest.fixture
def kernel_service(labrig_env: Path, tmp_path: Path) -> Iterator[ResourceService]:
    service = provisioner_service(labrig_env, tmp_path / "root")
    yield service
    runtime.set_current(None)
    service.db.dispose()


def whom() -> str:
    return identity.current().name


async def run_in_kernel(client: Any, code: str) -> str:
    lines: list[str] = []
    reply = await client.execute_interactive(
        code, timeout=60, output_hook=lambda msg: lines.append(msg["content"].get("text", ""))
    )
    assert reply["content"]["status"] == "ok", reply["content"]
    return "".join(lines).strip()


async def test_a_kernel_registers_as_who_started_it_also_after_a_restart(
    labrig_kernelspec: str,
    kernel_service: ResourceService,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(identity.USER_ENV, "mallory")  # the server's own: not the kernel's
    (tmp_path / "weights.bin").write_bytes(b"w" * 64)
    register = (
        "import labrig.models; "
        f"print(labrig.models.register('k', {str(tmp_path / 'weights.bin')!r})['user'])"
    )
    # What the kernel's environment hooks (its dataset mounts: only those its owner may see)
    # are asked as: its owner, at the start and at the restart the server does on its own.
    asked_as: list[str] = []
    kernel_service.kernel_env_hooks.append(lambda _path: asked_as.append(whom()) or {})
    with identity.acting_as(identity.Principal("alice")):
        manager, client = await start_new_async_kernel(kernel_name=labrig_kernelspec)
    try:
        assert await run_in_kernel(client, register) == "alice"
        await manager.restart_kernel(now=True)
        client.stop_channels()
        client = manager.client()
        client.start_channels()
        await client.wait_for_ready(timeout=60)
        assert await run_in_kernel(client, "import os; print(os.environ['LABRIG_USER'])") == (
            "alice"
        )
        assert asked_as == ["alice", "alice"]
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
