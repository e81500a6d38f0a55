"""What the server leaves in its own environment, which every process it starts inherits: the
data directory, never the database URL (kernels get a token of their own instead:
``kernels/test_kernel_api_rest``); terminals, shells of the server's own user, get the URL from
the server so the labrig CLI there opens the server's database."""

from __future__ import annotations

import os
from typing import Any

import pytest


@pytest.fixture
def jp_argv(tmp_path: Any) -> list[str]:
    # A database named only on the command line: no config file or variable a terminal could read.
    return [f"--LabrigApp.database_url=sqlite:///{tmp_path / 'command-line.db'}"]


async def test_the_database_url_reaches_terminals_but_not_the_servers_environment(
    jp_serverapp: Any, tmp_path: Any
) -> None:
    await jp_serverapp.extension_manager.start_all_extensions()  # as a started server does
    url = f"sqlite:///{tmp_path / 'command-line.db'}"
    assert jp_serverapp.web_app.settings["labrig_services"].db.url == url
    assert "LABRIG_DATABASE_URL" not in os.environ
    assert os.environ["LABRIG_DATA_DIR"]
    terminals = jp_serverapp.web_app.settings["terminal_manager"]
    assert terminals.extra_env["LABRIG_DATABASE_URL"] == url


@pytest.mark.parametrize(
    "jp_server_config",
    [
        {
            "ServerApp": {"jpserver_extensions": {"labrig": True}},
            "LabrigApp": {"kernel_backend": "labrig.k8s.kernel_backend.KubernetesKernelBackend"},
            "KubernetesKernelBackend": {"namespace": "ml", "image": "img"},
        }
    ],
)
def test_without_a_url_for_kernel_pods_the_server_log_says_so_once(
    capfd: pytest.CaptureFixture[str], jp_serverapp: Any
) -> None:
    # capfd comes first: it holds the log (stderr) of the server's start.
    log = capfd.readouterr().err
    said = [line for line in log.splitlines() if "kernel_server_url" in line]
    assert len(said) == 1, log
    assert "notebooks in kernel pods cannot reach labrig" in said[0]
