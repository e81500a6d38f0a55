"""The CLI drives jobs on Kubernetes as it does locally, configured the way a platform team
configures the server (a config file naming the Kubernetes job backend), with no server
running: `jobs submit --wait` follows the cluster to the end, `jobs logs` reads the ranks'
log, `status` names the backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from k8s.rig import KubeRig

from labrig.cli import cli


def test_the_cli_submits_waits_and_reads_logs_on_kubernetes(
    kube: KubeRig, root: Path, notebook: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "jupyter_server_config.py"
    lines = [
        "c = get_config()  # noqa: F821",
        'c.LabrigApp.job_backend_class = "labrig.k8s.jobs.KubernetesJobBackend"',
        *(f"c.KubernetesJobBackend.{key} = {value!r}" for key, value in kube.settings().items()),
    ]
    config.write_text("\n".join(lines) + "\n")
    monkeypatch.setenv("LABRIG_CONFIG_FILE", str(config))
    monkeypatch.chdir(root)
    notebook("hello.ipynb", "print('hello', n)", params="n = 1")
    runner = CliRunner()
    status = runner.invoke(cli, ["status", "--json"])
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["backends"]["jobs"] == "kubernetes"
    done = runner.invoke(
        cli, ["jobs", "submit", "hello.ipynb", "-p", "n", "7", "--kernel", "python3", "--wait"]
    )
    assert done.exit_code == 0, done.output
    assert "SUCCEEDED" in done.output
    job_id = (
        next(line.split()[-1] for line in done.output.splitlines() if line.startswith("id:"))
        if "id:" in done.output
        else json.loads(runner.invoke(cli, ["jobs", "ls", "--json"]).output)["items"][0]["id"]
    )
    logs = runner.invoke(cli, ["jobs", "logs", job_id])
    assert logs.exit_code == 0, logs.output
    assert "hello 7" in logs.output
    assert len(list(kube.emu.store.select("pytorchjobs.kubeflow.org"))) == 1
