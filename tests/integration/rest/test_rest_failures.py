"""What a REST-mode process says when its token is refused or the server is gone: one clear
line naming the server and what to do, from every command and the Python API, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from rest_rig import Client, server_config
from server_process import ServerProcess

pytestmark = pytest.mark.slow

COMMANDS = [
    ("status",),
    ("models", "ls"),
    ("models", "show", "net"),
    ("models", "register", "net", "w.bin"),
    ("datasets", "ls"),
    ("datasets", "warm", "small"),
    ("resources", "show", "nb.ipynb"),
    ("resources", "request", "nb.ipynb", "--cpus", "1"),
    ("jobs", "ls"),
    ("jobs", "logs", "abc"),
    ("jobs", "schedules", "ls"),
]

PYTHON = """
import labrig, labrig.models, labrig.datasets, labrig.resources
from labrig.errors import LabrigError
for call in (
    lambda: labrig.connect().status(),
    lambda: labrig.models.register("net", "w.bin"),
    lambda: labrig.models.load("net"),
    lambda: labrig.datasets.ls(),
    lambda: labrig.datasets.path("small"),
    lambda: labrig.resources.show("nb.ipynb"),
):
    try:
        call()
    except LabrigError as err:
        print(type(err).__name__, err.message)
"""


def test_a_wrong_token_fails_every_call_with_the_refused_token_message(
    server: ServerProcess, trap: Path, root: Path
) -> None:
    (root / "w.bin").write_bytes(b"w" * 10)
    wrong = Client(server, trap, token="not-the-token")
    for command in COMMANDS:
        out = wrong.labrig(*command, code=1)
        assert out.startswith("labrig: error: the Jupyter server at "), (command, out)
        assert "refused this process's labrig token ($LABRIG_API_TOKEN)" in out, command
        assert "Restart the notebook's kernel" in out
    lines = wrong.python(PYTHON).strip().splitlines()
    assert len(lines) == 6, lines
    for line in lines:
        assert line.startswith(f"TokenRefused the Jupyter server at {wrong.url} refused"), line
    assert server.call("models")["items"] == []


def test_a_stopped_server_fails_every_call_with_the_unreachable_message(
    client: Client, server: ServerProcess, root: Path
) -> None:
    (root / "w.bin").write_bytes(b"w" * 10)
    server.stop()
    for command in COMMANDS:
        out = client.labrig(*command, code=1)
        assert out.startswith(
            f"labrig: error: cannot reach the Jupyter server at {client.url} (connection refused)"
        ), (command, out)
        assert "Is the Jupyter server running?" in out
    for line in client.python(PYTHON).strip().splitlines():
        assert line.startswith(f"ServerUnreachable cannot reach the Jupyter server at {client.url}")


def test_an_upload_over_the_servers_limit_is_refused_with_the_limit_named(
    root: Path, labrig_env: Path, tmp_path: Path, trap: Path
) -> None:
    env = server_config(
        tmp_path / "small-config", tmp_path / "mounts", "c.LabrigApp.model_upload_max_bytes = 50000"
    )
    small = ServerProcess(root, labrig_env, env=env)
    small.start()
    try:
        (root / "big.bin").write_bytes(b"b" * 4_000_000)
        (root / "fits.bin").write_bytes(b"f" * 1000)
        client = Client(small, trap)
        out = client.labrig("models", "register", "net", "big.bin", code=1)
        assert out.startswith("labrig: error (body): the upload is "), out
        assert "model uploads of up to 50000 bytes (LabrigApp.model_upload_max_bytes)" in out
        assert small.call("models")["items"] == []
        registered = client.labrig("models", "register", "net", "fits.bin")
        assert registered.strip() == "registered net/1 (1 files, 1000 bytes)"
    finally:
        small.stop()
