"""`labrig datasets ...` and `labrig.datasets` configured with the Fluid cache: the CLI's
progress bar and summary and the Python API's progress say what Fluid cannot report, never
"None" or a made-up 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

from labrig.cli import cli

FILES = make_files(8, 20_000, seed=81)


def configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube: KubeRig, **cache: Any) -> None:
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir(exist_ok=True)
    config = {
        "LabrigApp": {
            "dataset_cache_class": "labrig.k8s.fluid.FluidDatasetCache",
            "local_dataset_roots": [str(tmp_path)],  # the sources the tests add are here
        },
        "KubernetesJobBackend": kube.settings(),
        "DatasetCache": {"mount_root": str(tmp_path / "mounts")},
        "FluidDatasetCache": {"poll_interval": 0.05, **cache},
    }
    (config_dir / "jupyter_server_config.json").write_text(json.dumps(config))
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_warms_through_fluid_and_says_what_it_cannot_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube: KubeRig
) -> None:
    configure(tmp_path, monkeypatch, kube)
    kube.cluster.fluid_files_per_pass = 1
    write_tree(tmp_path / "src", FILES)
    code, _out, err = run("datasets", "add", "cli-fluid", f"file://{tmp_path / 'src'}")
    assert code == 0, err
    code, out, err = run("datasets", "warm", "cli-fluid")
    assert code == 0, err
    assert "100.0%" in err
    assert "count not reported" in err  # while Fluid loads
    assert "8/8 files" in err  # once it is done
    assert "None" not in err + out
    assert "8 files" in out
    code, out, _ = run("datasets", "show", "cli-fluid", "--json")
    shown = json.loads(out)
    assert shown["complete"] is True
    assert "Fluid" in shown["cache_note"]
    code, out, _ = run("datasets", "cache", "--json")
    assert json.loads(out)["hits"] is None


def test_the_python_api_warms_a_pvc_without_a_size_it_cannot_know(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kube: KubeRig,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import labrig.datasets as ds

    configure(tmp_path, monkeypatch, kube, mode="pvc", storage_class="bucket-ro")
    kube.cluster.provisioned_classes.add("bucket-ro")
    ds._catalog.cache_clear()
    try:
        write_tree(tmp_path / "src", FILES)
        ds.add("py-pvc", f"file://{tmp_path / 'src'}")
        result = ds.warm("py-pvc")
        assert result["state"] == "succeeded"
        assert result["percent"] is None
        err = capsys.readouterr().err
        assert "8 files (count not reported)" in err
        assert "size cached not reported" in err
        assert "None" not in err
    finally:
        ds._catalog.cache_clear()


def test_evicting_on_request_says_fluid_evicts_by_its_watermarks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kube: KubeRig
) -> None:
    configure(tmp_path, monkeypatch, kube)
    code, out, err = run("datasets", "cache", "--evict", "--json")
    assert code == 0, err
    assert "nothing evicted: Fluid evicts by its runtime's watermarks" in err
    assert "cannot evict on request" in err
    assert json.loads(out)["used_bytes"] == 0  # no Dataset yet: nothing cached
