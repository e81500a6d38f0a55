"""Fixtures for REST mode: a real Jupyter server with labrig run by ``OWNER``, a trap where the
REST-mode process's database would be, and the REST-mode ``Client`` (``rest_rig``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rest_rig import OWNER, Client, server_config
from server_process import ServerProcess


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def server(root: Path, labrig_env: Path, tmp_path: Path) -> Iterator[ServerProcess]:
    env = server_config(tmp_path / "jupyter-config", tmp_path / "mounts")
    running = ServerProcess(root, labrig_env, env={**env, "LABRIG_USER": OWNER})
    running.start()
    yield running
    if running.alive():
        running.stop()


@pytest.fixture
def trap(tmp_path: Path) -> Iterator[Path]:
    """Where the REST-mode process's database URL and data dir point: nothing may appear."""
    path = tmp_path / "no-database-here"
    yield path
    assert not path.exists(), f"a REST-mode process opened a database or wrote under {path}"


@pytest.fixture
def client(server: ServerProcess, trap: Path) -> Client:
    return Client(server, trap)
