"""The docs cannot rot: every code block in README.md and docs/*.md runs here.

The convention (also in docs/README.md), by a fenced block's info string:

- ``bash``: run by ``bash -euo pipefail`` in a temporary workspace: the venv on PATH, a fresh
  ``LABRIG_DATA_DIR``, the demo workspace's configuration (``examples/jupyter_server_config.py``
  with its state moved there: the ``moons`` dataset in the catalog) and a copy of
  ``train_moons.ipynb`` in the current directory. It must exit 0.
- ``python``: run by the venv's Python, in a new process, in the same workspace.
- ``python config``: a ``jupyter_server_config.py`` snippet. It is loaded as Jupyter loads one,
  and every setting it assigns must be a setting of a labrig class, with a value that setting
  accepts. Nothing is contacted, so Kubernetes, PostgreSQL and S3 settings are checked too.
- ``bash no-run:REASON`` / ``python no-run:REASON``: shown, not run, for one of
  ``NO_RUN_REASONS``.
- ``text``, ``json``, ``yaml``, ``toml``: output or data, not run.

Any other info string (or none) fails, so a block cannot silently escape. The blocks of one
file run in order in one workspace, so a later block may use what an earlier one made.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from traitlets import HasTraits
from traitlets.config import Config, PyFileConfigLoader

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BIN = Path(sys.executable).parent

NO_RUN_REASONS = {
    "make": "the Makefile's targets: they build this environment, start JupyterLab or run "
    "this suite",
    "network": "downloads from a package index",
    "cluster": "needs a Kubernetes cluster (kubectl, docker)",
}
NOT_CODE = {"text", "json", "yaml", "toml"}

pytestmark = pytest.mark.slow


@dataclass
class Block:
    file: Path
    line: int
    info: str
    code: str

    @property
    def where(self) -> str:
        name = self.file.relative_to(ROOT) if self.file.is_relative_to(ROOT) else self.file
        return f"{name}:{self.line}"


FENCE = re.compile(r"^```(.*)$")


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    info: str | None = None
    start = 0
    body: list[str] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        match = FENCE.match(line)
        if info is None:
            if match:
                info, start, body = match.group(1).strip(), number, []
        elif line.strip() == "```":
            found.append(Block(path, start, info, "\n".join(body) + "\n"))
            info = None
        else:
            body.append(line)
    assert info is None, f"{path}:{start}: a code block is never closed"
    return found


def kind(block: Block) -> str:
    """``run-bash``, ``run-python``, ``config``, ``skip`` or an assertion error."""
    words = block.info.split()
    assert words, f"{block.where}: a code block needs an info string (see tests/{__name__})"
    language, rest = words[0], words[1:]
    if language in NOT_CODE and not rest:
        return "skip"
    assert language in ("bash", "python"), f"{block.where}: unknown info string {block.info!r}"
    if rest == ["config"] and language == "python":
        return "config"
    if len(rest) == 1 and rest[0].startswith("no-run:"):
        reason = rest[0].removeprefix("no-run:")
        assert reason in NO_RUN_REASONS, f"{block.where}: no-run reason must be one of " + str(
            sorted(NO_RUN_REASONS)
        )
        return "skip"
    assert not rest, f"{block.where}: unknown info string {block.info!r}"
    return f"run-{language}"


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    state = tmp_path / "state"
    config = tmp_path / "demo_config.py"
    config.write_text(
        f"load_subconfig('jupyter_server_config.py', {str(EXAMPLES)!r})\n"
        f"c.LabrigApp.data_dir = {str(state)!r}\n"
        f"c.DatasetCache.mount_root = {str(state / 'datasets')!r}\n"
    )
    work = tmp_path / "workspace"
    work.mkdir()
    shutil.copy(EXAMPLES / "train_moons.ipynb", work)
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "LABRIG_DATA_DIR": str(state),
        "LABRIG_CONFIG_FILE": str(config),
        "HOME": str(tmp_path / "home"),
    }
    for name in ("LABRIG_DATABASE_URL", "LABRIG_DATASETS", "WORLD_SIZE", "VIRTUAL_ENV"):
        env.pop(name, None)
    return work, env


def run(block: Block, command: list[str], work: Path, env: dict[str, str]) -> None:
    done = subprocess.run(
        command,
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block.where}: exit code {done.returncode}\n{block.code}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


def check_config(block: Block, tmp: Path) -> None:
    """Load the snippet as a config file; every assigned setting must exist and validate."""
    from docs_generate import setting_classes

    path = tmp / "snippet_config.py"
    path.write_text(block.code)
    config: Config = PyFileConfigLoader(path.name, str(tmp)).load_config()
    classes = {section: cls for cls, section in setting_classes()}
    assert config, f"{block.where}: sets nothing"
    holder = HasTraits()
    for section, values in config.items():
        assert section in classes, f"{block.where}: {section} is not a labrig configurable"
        traits = classes[section].class_traits(config=True)
        for name, value in values.items():
            assert name in traits, f"{block.where}: {section}.{name} is not a setting"
            traits[name].validate(holder, value)


@pytest.fixture(scope="module", autouse=True)
def _generator_importable() -> None:
    """docs/generate.py (the one list of configurable classes) as ``docs_generate``."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_generate"] = module
    spec.loader.exec_module(module)


@pytest.mark.parametrize("path", DOCS, ids=[p.relative_to(ROOT).as_posix() for p in DOCS])
def test_every_code_block_runs(
    path: Path, workspace: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    work, env = workspace
    for block in blocks(path):
        what = kind(block)
        if what == "run-bash":
            run(block, ["bash", "-euo", "pipefail", "-c", block.code], work, env)
        elif what == "run-python":
            run(block, [sys.executable, "-c", block.code], work, env)
        elif what == "config":
            check_config(block, tmp_path)


def test_the_convention_catches_what_it_should(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "```sh\nls\n```\n```python no-run:because\nx\n```\n```bash no-run:cluster\nkubectl\n```\n"
    )
    found = blocks(doc)
    with pytest.raises(AssertionError, match="unknown info string 'sh'"):
        kind(found[0])
    with pytest.raises(AssertionError, match="no-run reason"):
        kind(found[1])
    assert kind(found[2]) == "skip"
    bad = Block(doc, 1, "python config", "c.LabrigApp.data_dirr = '/x'\n")
    with pytest.raises(AssertionError, match=r"LabrigApp\.data_dirr is not a setting"):
        check_config(bad, tmp_path)
    bad = Block(doc, 1, "python config", "c.KubernetesJobBackend.job_api = 'mpijob'\n")
    with pytest.raises(Exception, match="job_api"):
        check_config(bad, tmp_path)
