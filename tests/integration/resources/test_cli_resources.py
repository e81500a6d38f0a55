"""``labrig resources show|request|release`` on the same services and checks as REST."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from labrig.cli import cli
from labrig.resources import runtime


@pytest.fixture(autouse=True)
def in_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The CLI's server root is the current directory when no ServerApp.root_dir is set."""
    root = tmp_path / "root"
    (root / "nb").mkdir(parents=True)
    monkeypatch.chdir(root)
    return root


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["resources", *args])
    return result.exit_code, result.stdout, result.stderr


def test_request_show_release_round_trip() -> None:
    code, out, err = run("request", "nb/a.ipynb", "--cpus", "500m", "--memory", "4096Mi", "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["request"]["cpus"] == 0.5
    assert shown["request"]["memory"] == 4 * 2**30
    code, out, _ = run("show", "nb/a.ipynb")
    assert code == 0
    assert "request:   profile custom, 0.5 CPUs, 4 GiB memory" in out
    assert "running:   no kernel" in out
    code, out, _ = run("ls", "--json")
    assert [item["notebook_path"] for item in json.loads(out)["items"]] == ["nb/a.ipynb"]
    code, out, _ = run("release", "nb/a.ipynb", "--json")
    assert code == 0
    assert json.loads(out)["request"] is None


def test_the_python_api_sees_what_the_cli_saved(labrig_env: Path) -> None:
    import labrig.resources

    assert run("request", "nb/b.ipynb", "--profile", "small")[0] == 0
    runtime.set_current(None)
    try:
        assert labrig.resources.show("nb/b.ipynb")["request"]["profile"] == "small"
        labrig.resources.request("nb/b.ipynb", profile="custom", memory="1Gi")
        _, out, _ = run("show", "nb/b.ipynb", "--json")
        assert json.loads(out)["request"]["memory"] == 2**30
        labrig.resources.release("nb/b.ipynb")
        assert labrig.resources.show("nb/b.ipynb")["request"] is None
    finally:
        runtime.set_current(None)


def test_profiles_and_capacity() -> None:
    code, out, _ = run("profiles")
    assert code == 0
    assert "custom (default): Custom" in out
    code, out, _ = run("capacity", "--json")
    assert code == 0
    assert set(json.loads(out)["enforcement"]) == {"cpu", "memory", "gpu", "disk"}


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (("--memory", "4GB"), "memory", "4Gi, 4096Mi"),
        (("--memory", "0"), "memory", "more than zero"),
        (("--cpus", "-2"), "cpus", "more than zero"),
        (("--cpus", "many"), "cpus", "500m"),
        (("--gpus", "-1"), "gpus", "whole number"),
        (("--gpus", "1", "--gpu-type", "H100"), "gpu_type", "not on this host"),
        (("--profile", "nope"), "profile", "unknown profile"),
        (("--disk", "1Ei"), "disk", "capacity"),
    ],
)
def test_bad_input_is_one_line_naming_the_field(
    args: tuple[str, ...], field: str, message: str
) -> None:
    code, out, err = run("request", "nb/a.ipynb", *args)
    assert code == 1
    assert out == ""
    assert err.startswith(f"labrig: error ({field}): ")
    assert message in err
    assert json.loads(run("show", "nb/a.ipynb", "--json")[1])["request"] is None


@pytest.mark.parametrize("path", ["../outside.ipynb", "/etc/passwd"])
def test_a_path_outside_the_root_is_refused(path: str) -> None:
    code, _, err = run("request", path, "--cpus", "1")
    assert code == 1
    assert "labrig: error (notebook_path): " in err
    assert "outside the server root" in err


def test_releasing_nothing_says_so() -> None:
    code, _, err = run("release", "nb/never.ipynb")
    assert code == 1
    assert "no resources have been requested" in err
