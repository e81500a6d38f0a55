"""The wheel is ONE distribution with ONE import package, carrying the prebuilt lab extension."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "server_ext/labrig/labextension/package.json").exists():
        pytest.fail("build the lab extension first (`jlpm build`, run by `make test`)")
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("labrig-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_wheel_contains_every_part(wheel_names: set[str]) -> None:
    for required in (
        "labrig/__init__.py",
        "labrig/app.py",
        "labrig/cli.py",
        "labrig/openapi.yaml",
        "labrig/store/migrations/env.py",
        "labrig/store/migrations/versions/0001_initial.py",
        "labrig/labextension/package.json",
        "labrig/kernels/provisioner.py",
        "labrig/dataset_mounts/catalog.py",
    ):
        assert required in wheel_names, required


def test_only_labrig_is_importable_from_the_wheel(wheel_names: set[str]) -> None:
    top_level = {
        name.split("/", 1)[0]
        for name in wheel_names
        if not name.split("/", 1)[0].endswith((".dist-info", ".data"))
    }
    assert top_level == {"labrig"}


def test_wheel_installs_the_lab_extension_and_enables_the_server_extension(
    wheel_names: set[str],
) -> None:
    data = {name.split(".data/data/", 1)[1] for name in wheel_names if ".data/data/" in name}
    assert "share/jupyter/labextensions/labrig/package.json" in data
    assert "share/jupyter/labextensions/labrig/install.json" in data
    assert "etc/jupyter/jupyter_server_config.d/labrig.json" in data


def test_entry_points_name_the_cli_and_the_provisioner(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(name).decode()
    assert "labrig = labrig.cli:cli" in text
    assert "labrig-local-provisioner = labrig.kernels.provisioner:LabrigLocalProvisioner" in text
