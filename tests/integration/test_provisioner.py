"""A real kernel started through labrig's provisioner carries labrig's environment."""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from jupyter_client.manager import start_new_async_kernel

from labrig.kernels.provisioner import LabrigLocalProvisioner

PROVISIONER = "labrig-local-provisioner"


@pytest.fixture
def labrig_kernelspec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    spec_dir = tmp_path / "share" / "jupyter" / "kernels" / "labrig-test"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (labrig test)",
        "language": "python",
        "metadata": {"kernel_provisioner": {"provisioner_name": PROVISIONER}},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "share" / "jupyter"))
    return "labrig-test"


def test_entry_point_is_registered() -> None:
    (entry,) = entry_points(group="jupyter_client.kernel_provisioners", name=PROVISIONER)
    assert entry.load() is LabrigLocalProvisioner


async def test_kernel_sees_labrig_environment(labrig_kernelspec: str, labrig_env: Path) -> None:
    manager, client = await start_new_async_kernel(kernel_name=labrig_kernelspec)
    try:
        code = "import os; print(os.environ['LABRIG_KERNEL_ID'], os.environ['LABRIG_DATA_DIR'])"
        lines: list[str] = []
        reply = await client.execute_interactive(
            code,
            timeout=60,
            output_hook=lambda msg: lines.append(msg["content"].get("text", "")),
        )
        assert reply["content"]["status"] == "ok"
        kernel_id, data_dir = "".join(lines).split()
        assert kernel_id == manager.kernel_id
        assert data_dir == str(labrig_env)
        assert isinstance(manager.provisioner, LabrigLocalProvisioner)
    finally:
        client.stop_channels()
        await manager.shutdown_kernel(now=True)
