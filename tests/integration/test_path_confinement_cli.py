"""The same confinement through the CLI and the Python API (``test_path_confinement.py`` has the
REST API): a ``..`` escape, an absolute path and a symlink leading outside are refused at each
command, the error names the field, and nothing is created.

The CLI's Jupyter root is its working directory here (no ``ServerApp.root_dir`` configured),
and the system's temporary directory is a folder of the test, so "outside" is outside both.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

import labrig.datasets
import labrig.models
from labrig.cli import cli
from labrig.errors import InvalidInput
from labrig.models import python_api

KINDS = ["dotdot", "absolute", "symlink"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **labrig: object) -> None:
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    config = {
        "DatasetCache": {"mount_root": str(tmp_path / "mounts")},
        "LabrigApp": labrig,
    }
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))


@pytest.fixture
def tree(labrig_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    (root / "nb").mkdir(parents=True)
    nbformat.write(nb, root / "nb" / "train.ipynb")
    (root / "nb" / "model.bin").write_bytes(b"weights")
    (root / "data").mkdir()
    (root / "data" / "rows.csv").write_text("x\n1\n")
    (outside / "data").mkdir(parents=True)
    (outside / "data" / "rows.csv").write_text("x\n2\n")
    nbformat.write(nb, outside / "secret.ipynb")
    (outside / "secret.bin").write_bytes(b"secret")
    os.symlink(outside / "secret.ipynb", root / "nb" / "escape.ipynb")
    os.symlink(outside / "secret.bin", root / "nb" / "escape.bin")
    os.symlink(outside / "data", root / "escape-data")
    (tmp_path / "mounts").mkdir()
    os.symlink(outside, tmp_path / "mounts" / "escape")
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    monkeypatch.delenv("LABRIG_ROOT_DIR", raising=False)
    monkeypatch.chdir(root)
    configure(tmp_path, monkeypatch)
    return {"root": root, "outside": outside, "mounts": tmp_path / "mounts", "tmp": tmp_path}


@pytest.fixture(autouse=True)
def fresh_registry() -> Iterator[None]:
    python_api.reset()
    yield
    python_api.reset()


def refused(args: tuple[str, ...], field: str) -> str:
    code, _out, err = run(*args)
    assert code == 1, (args, err)
    assert f"labrig: error ({field}):" in err, err
    assert "Traceback" not in err
    return err


ESCAPES = {
    "notebook": {
        "dotdot": lambda t: "../outside/secret.ipynb",
        "absolute": lambda t: str(t["outside"] / "secret.ipynb"),
        "symlink": lambda t: "nb/escape.ipynb",
    },
    "output": {  # relative to the notebook's folder
        "dotdot": lambda t: "../../outside/secret.bin",
        "absolute": lambda t: str(t["outside"] / "secret.bin"),
        "symlink": lambda t: "escape.bin",
    },
    "model": {
        "dotdot": lambda t: "../outside/secret.bin",
        "absolute": lambda t: str(t["outside"] / "secret.bin"),
        "symlink": lambda t: "nb/escape.bin",
    },
    "source": {
        "dotdot": lambda t: (t["root"] / "..").as_uri() + "/outside/data/",
        "absolute": lambda t: (t["outside"] / "data").as_uri() + "/",
        "symlink": lambda t: (t["root"] / "escape-data").as_uri() + "/",
    },
    "mount": {
        "dotdot": lambda t: f"{t['mounts']}/../outside/ds",
        "absolute": lambda t: str(t["outside"] / "ds"),
        "symlink": lambda t: str(t["mounts"] / "escape" / "ds"),
    },
}


@pytest.mark.parametrize("kind", KINDS)
def test_jobs_submit_refuses_notebooks_and_outputs_outside_the_root(
    tree: dict[str, Path], kind: str
) -> None:
    refused(("jobs", "submit", ESCAPES["notebook"][kind](tree)), "notebook_path")
    output = f"stolen={ESCAPES['output'][kind](tree)}"
    refused(("jobs", "submit", "nb/train.ipynb", "--output", output), "outputs[0].path")
    cron = ("--cron", "0 3 * * *")
    refused(("jobs", "submit", "nb/train.ipynb", "--output", output, *cron), "outputs[0].path")
    assert json.loads(run("jobs", "ls", "--json")[1])["items"] == []


@pytest.mark.parametrize("kind", KINDS)
def test_models_register_refuses_files_outside_the_roots(tree: dict[str, Path], kind: str) -> None:
    err = refused(("models", "register", "stolen", ESCAPES["model"][kind](tree)), "path")
    assert str(tree["root"]) in err  # says where files may come from
    with pytest.raises(InvalidInput) as info:
        labrig.models.register("stolen", ESCAPES["model"][kind](tree))
    assert info.value.field == "path"
    assert json.loads(run("models", "ls", "--json")[1])["items"] == []


def test_registration_from_the_root_and_the_temp_dir_works_unless_configured_otherwise(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Path(tempfile.gettempdir()) / "ckpt.bin"
    scratch.write_bytes(b"from a notebook's temp file")
    assert run("models", "register", "m", "nb/model.bin")[0] == 0
    assert run("models", "register", "m", str(scratch))[0] == 0
    assert labrig.models.register("m", tree["root"] / "nb" / "model.bin")["version"] == 3
    python_api.reset()

    configure(tree["tmp"], monkeypatch, model_source_roots=[str(tree["root"])])
    refused(("models", "register", "m", str(scratch)), "path")
    with pytest.raises(InvalidInput):
        labrig.models.register("m", scratch)
    assert run("models", "register", "m", "nb/model.bin")[0] == 0


@pytest.mark.parametrize("kind", KINDS)
def test_datasets_add_and_mount_refuse_paths_outside_their_roots(
    tree: dict[str, Path], kind: str
) -> None:
    err = refused(("datasets", "add", "stolen", ESCAPES["source"][kind](tree)), "source_url")
    assert "outside the allowed directories" in err or "symlink" in err
    labrig.datasets._catalog.cache_clear()  # the Python API's catalog, opened for this test
    try:
        with pytest.raises(InvalidInput) as info:
            labrig.datasets.add("stolen", ESCAPES["source"][kind](tree))
        assert info.value.field == "source_url"
    finally:
        labrig.datasets._catalog.cache_clear()
    assert run("datasets", "show", "stolen")[0] == 1

    assert run("datasets", "add", "ds", (tree["root"] / "data").as_uri() + "/")[0] == 0
    refused(("datasets", "mount", "ds", "--path", ESCAPES["mount"][kind](tree)), "path")
    assert not (tree["outside"] / "ds").exists()


def test_local_dataset_roots_widens_where_sources_may_be(
    tree: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (tree["outside"] / "data").as_uri() + "/"
    refused(("datasets", "add", "wider", source), "source_url")
    configure(tree["tmp"], monkeypatch, local_dataset_roots=[str(tree["outside"])])
    code, _out, err = run("datasets", "add", "wider", source)
    assert code == 0, err
