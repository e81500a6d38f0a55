"""`labrig datasets ...` and `labrig.datasets` on the same state as the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from dataset_servers import FileServer, make_files, write_tree

from labrig.cli import cli
from labrig.dataset_mounts.mount_protect import BIND, REFLINK

FILES = make_files(10, 20_000, seed=71)


@pytest.fixture
def config_mount_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A jupyter_server_config.json in JUPYTER_CONFIG_DIR, as the CLI and kernels read it."""
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    mounts = tmp_path / "mounts"
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"DatasetCache": {"mount_root": str(mounts)}})
    )
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(config_dir))
    return mounts


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_adds_warms_refreshes_mounts_and_removes(
    file_server: FileServer, http_root: Path, config_mount_root: Path
) -> None:
    write_tree(http_root / "cli", FILES)
    code, out, err = run("datasets", "add", "cli-ds", file_server.url + "cli/", "--json")
    assert code == 0, err
    assert json.loads(out)["name"] == "cli-ds"
    code, out, err = run("datasets", "warm", "cli-ds")
    assert code == 0, err
    assert "100.0%" in err  # the progress bar
    assert "10/10 files" in err
    assert "10 files" in out
    code, out, _ = run("datasets", "warm", "cli-ds", "--json")
    assert json.loads(out)["files_cached"] == 10
    code, out, _ = run("datasets", "ls")
    assert "cli-ds" in out
    code, out, _ = run("datasets", "mount", "cli-ds", "--json")
    mounted = json.loads(out)
    assert mounted["path"] == str(config_mount_root / "cli-ds")
    assert (Path(mounted["path"]) / "part-0003.bin").read_bytes() == FILES["part-0003.bin"]
    # What keeps writes out of the cache is said, in the listing too.
    assert mounted["protection"] in (BIND, REFLINK) or mounted["protection"].startswith(
        "not protected: "
    )
    code, out, _ = run("datasets", "ls")
    assert mounted["protection"][:20] in out

    (http_root / "cli" / "new.bin").write_bytes(b"new")
    code, out, _ = run("datasets", "refresh", "cli-ds", "--dry-run")
    assert "1 added, 0 removed, 0 modified" in out
    code, out, _ = run("datasets", "refresh", "cli-ds", "--yes")
    assert "now pinned to" in out
    code, out, _ = run("datasets", "show", "cli-ds", "--json")
    assert json.loads(out)["complete"] is False

    code, out, _ = run("datasets", "cache", "--json")
    assert json.loads(out)["objects"] == 10
    assert run("datasets", "unmount", "cli-ds")[0] == 0
    assert not (config_mount_root / "cli-ds").exists()
    assert run("datasets", "rm", "cli-ds")[0] == 0
    code, _, err = run("datasets", "cache", "--evict")
    assert code == 0, err
    assert re.search(r"evicted \d+ objects \(\d+ bytes\)", err), err


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("datasets", "add", "x", "ftp://h/p"), "scheme 'ftp' is not supported"),
        (("datasets", "warm", "nope"), "no dataset named 'nope'"),
        (("datasets", "add", "bad/name", "file:///tmp"), "is not allowed"),
    ],
)
def test_cli_errors_are_one_line(args: tuple[str, ...], words: str) -> None:
    code, _out, err = run(*args)
    assert code == 1
    assert words in err
    assert len(err.strip().splitlines()) == 1


def test_the_python_api(
    file_server: FileServer,
    http_root: Path,
    config_mount_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import labrig.datasets as ds

    ds._catalog.cache_clear()
    write_tree(http_root / "py", FILES)
    ds.add("py-ds", file_server.url + "py/", include="part-000[0-4].bin")
    assert [d["name"] for d in ds.ls()] == ["py-ds"]
    assert ds.warm("py-ds", progress=False)["files_total"] == 5
    root = ds.path("py-ds")  # mounts on first use
    assert root == config_mount_root / "py-ds"
    assert sorted(p.name for p in root.iterdir()) == [f"part-000{i}.bin" for i in range(5)]
    assert ds.kernel_env_for("nb.ipynb") == {"LABRIG_DATASET_PY_DS": str(root)}
    monkeypatch.setenv("LABRIG_DATASET_PY_DS", "/from/env")
    assert ds.path("py-ds") == Path("/from/env")
    with ds.open("py-ds", "part-0002.bin") as f:
        assert f.read() == FILES["part-0002.bin"]
    assert ds.version("py-ds") == ds.show("py-ds")["version"]
    assert ds.refresh("py-ds")["changed"] is False
    assert ds.cache_stats()["objects"] == 5
    ds.unmount("py-ds")
    ds.remove("py-ds")
    ds._catalog.cache_clear()
