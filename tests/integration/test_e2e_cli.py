"""The research loop from a terminal only, as a new user types it in the demo workspace: real
``labrig`` and ``python -c "import labrig..."`` processes, asserting on exit codes and on what
they print (the panel's version of this loop is tests/ui/e2e.spec.ts).

warm and mount the demo dataset -> a 2-process job with a learning rate, waited for -> the
version it registered -> alias production -> a second job -> production loaded, from the CLI
and from Python.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parents[2] / "examples"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


class Terminal:
    """A shell in the workspace: the venv on PATH, the demo configuration, fresh state."""

    def __init__(self, workspace: Path, config: Path) -> None:
        self.workspace = workspace
        self.env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "LABRIG_CONFIG_FILE": str(config),
        }
        for name in ("LABRIG_DATA_DIR", "LABRIG_DATABASE_URL", "LABRIG_DATASETS", "WORLD_SIZE"):
            self.env.pop(name, None)

    def run(self, *args: str, code: int = 0, timeout: float = 180) -> str:
        """Run a command; assert its exit code; return what it printed on stdout, and on
        stderr after it when it failed (where the one-line reason goes)."""
        done = subprocess.run(
            args,
            cwd=self.workspace,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == code, f"{' '.join(args)}\n{done.stdout}\n{done.stderr}"
        return done.stdout + (done.stderr if code else "")

    def labrig(self, *args: str, code: int = 0) -> str:
        return self.run("labrig", *args, code=code)

    def python(self, source: str) -> str:
        return self.run("python", "-c", source)


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    """The demo workspace of `make run` (examples/jupyter_server_config.py, loaded as is), with
    its state under the test's folder and the example notebook in the current directory."""
    state = tmp_path / "state"
    config = tmp_path / "demo_config.py"
    config.write_text(
        f"load_subconfig('jupyter_server_config.py', {str(EXAMPLES)!r})\n"
        f"c.LabrigApp.data_dir = {str(state)!r}\n"
        f"c.DatasetCache.mount_root = {str(state / 'datasets')!r}\n"
    )
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    shutil.copy(EXAMPLES / "train_moons.ipynb", workspace)
    return Terminal(workspace, config)


def submit(terminal: Terminal, lr: str) -> str:
    """Run the notebook as a 2-process job and wait for it; returns the job's id."""
    out = terminal.labrig(
        "jobs", "submit", "train_moons.ipynb", "-p", "lr", lr, "--procs-per-node", "2", "--wait"
    )
    found = re.search(r"^job (\w+) SUCCEEDED$", out, re.MULTILINE)
    assert found, out
    job_id = found.group(1)
    assert f"output notebook: labrig-jobs/{job_id}/train_moons.ipynb" in out
    return job_id


def test_the_research_loop_from_the_cli_and_python(terminal: Terminal) -> None:
    # The demo dataset is in the catalog: warm it into the cache, mount it.
    assert re.search(r"^moons\s+file://\S+/examples/data/", terminal.labrig("datasets", "ls"), re.M)
    assert "moons " in terminal.labrig("datasets", "warm", "moons")
    mounted = terminal.labrig("datasets", "mount", "moons")
    assert "env: LABRIG_DATASET_MOONS=" in mounted
    root = Path(re.search(r"^path: (.+)$", mounted, re.M).group(1))  # type: ignore[union-attr]
    assert (root / "moons.csv").read_text().startswith("x1,x2,label")

    # A 2-process job with lr 0.05, waited for: exit 0, and each rank trained on its half.
    first = submit(terminal, "0.05")
    for rank in ("0", "1"):
        log = terminal.labrig("jobs", "logs", first, "--rank", rank)
        assert f"process {rank} of 2" in log
        assert f"240 points on rank {rank}" in log
    # Inside a rank the registration is staged, and registered when the job ends.
    staged = f"registered demo-model (staged: registered when job {first} ends)"
    assert staged in terminal.labrig("jobs", "logs", first)

    # The version it registered, with its metrics, parameters and lineage.
    shown = terminal.labrig("models", "show", "demo-model/1")
    assert "ref: demo-model/1" in shown
    accuracy = float(re.search(r"^metrics: accuracy=([\d.]+)", shown, re.M).group(1))  # type: ignore[union-attr]
    assert accuracy > 0.9, shown
    assert "params: lr=0.05, " in shown
    assert "processes=2" in shown
    assert f"lineage: job_id={first}, rank=0, notebook_path=train_moons.ipynb" in shown
    assert "datasets={'moons': " in shown

    out = terminal.labrig("models", "alias", "demo-model", "production", "1")
    assert out.splitlines() == ["model: demo-model", "alias: production", "version: 1"]

    # A second job with another learning rate: version 2; production stays on 1.
    second = submit(terminal, "0.02")
    assert second != first
    assert "params: lr=0.02, " in terminal.labrig("models", "show", "demo-model/2")
    assert "version: 1" in terminal.labrig("models", "show", "demo-model@production").splitlines()
    listed = terminal.labrig("jobs", "ls")
    assert len(re.findall(r"train_moons\s+SUCCEEDED", listed)) == 2, listed

    # Production, loaded: a verified local copy from the CLI ...
    path = Path(terminal.labrig("models", "load", "demo-model@production").strip())
    assert (path / "model.safetensors").is_file()

    # ... and from Python: a state_dict that the notebook's network takes.
    out = terminal.python(
        "import labrig.models\n"
        "from torch import nn\n"
        "state = labrig.models.load('demo-model@production')\n"
        "net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))\n"
        "net.load_state_dict(state)\n"
        "version = labrig.models.open_registry().get_ref('demo-model@production')\n"
        "print(version['ref'], sorted(state), version['params']['lr'])\n"
    )
    assert out.strip() == "demo-model/1 ['0.bias', '0.weight', '2.bias', '2.weight'] 0.05"

    # A failed job exits 1 with its one-line reason.
    out = terminal.labrig(
        "jobs", "submit", "train_moons.ipynb", "-p", "dataset", "no-such", "--wait", code=1
    )
    assert re.search(r"^job \w+ FAILED: cell 4 \('import csv'\) raised NotFound: ", out, re.M), out
    assert "no dataset named 'no-such'" in out
