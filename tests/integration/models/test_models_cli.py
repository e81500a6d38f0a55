"""``labrig models`` end to end on the test's state directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from labrig.cli import cli
from labrig.services import Services


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_register_show_alias_load_rm_gc(services: Services, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    code, out, err = run(
        "models",
        "register",
        "resnet-mini",
        str(ckpt),
        "--metric",
        "acc=0.9",
        "--param",
        "lr=0.1",
        "--param",
        "arch=resnet",
        "--tag",
        "team=vision",
        "--note",
        "hi",
        "--json",
    )
    assert code == 0, err
    v1 = json.loads(out)
    assert (v1["ref"], v1["metrics"], v1["params"]) == (
        "resnet-mini/1",
        {"acc": 0.9},
        {"lr": 0.1, "arch": "resnet"},
    )
    code, out, _ = run("models", "register", "resnet-mini", str(ckpt), "--metric", "acc=0.95")
    assert (code, out.strip()) == (0, "registered resnet-mini/2 (1 files, 7 bytes)")

    assert run("models", "alias", "resnet-mini", "production", "1")[0] == 0
    assert run("models", "alias", "resnet-mini", "production", "2")[0] == 0
    code, out, _ = run("models", "ls", "--json")
    item = json.loads(out)["items"][0]
    assert (item["latest_version"], item["aliases"]) == (2, {"production": 2})

    code, out, _ = run("models", "show", "resnet-mini@production", "--json")
    assert json.loads(out)["version"] == 2
    code, out, _ = run("models", "show", "resnet-mini", "--order-by", "metric:acc", "--json")
    assert [v["version"] for v in json.loads(out)["versions"]] == [2, 1]
    code, out, _ = run("models", "show", "resnet-mini")
    assert code == 0
    assert "production" in out

    code, out, _ = run("models", "history", "resnet-mini", "--json")
    assert [(e["from_version"], e["to_version"]) for e in json.loads(out)["items"]] == [
        (1, 2),
        (None, 1),
    ]

    code, out, _ = run("models", "load", "resnet-mini@production")
    assert Path(out.strip()).read_bytes() == b"weights"

    code, _, _ = run("models", "rm", "resnet-mini/1", stdin="n\n")
    assert code == 1  # aborted at the confirmation
    assert services.models.get("resnet-mini")["version_count"] == 2
    code, out, _ = run("models", "rm", "resnet-mini/1", "--yes")
    assert (code, out.strip()) == (0, "deleted version resnet-mini/1")
    code, out, _ = run("models", "gc", "--grace", "0", "--json")
    assert json.loads(out)["removed_blobs"] == 0  # v2 holds the same bytes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("models", "register", "bad/name", "{ckpt}"), "is not allowed"),
        (("models", "register", "m", "{tmp}/missing.pt"), "does not exist"),
        (("models", "register", "m", "{ckpt}", "--metric", "acc=nan"), "not a finite number"),
        (("models", "register", "m", "{ckpt}", "--metric", "acc=high"), "not a finite number"),
        (("models", "alias", "m", "production", "9"), "no model named 'm'"),
        (("models", "show", "m@production"), "no model named 'm'"),
        (("models", "show", "m/x"), "is not a model reference"),
        (("models", "rm", "m@production", "--yes"), "not an alias"),
        (("models", "load", "nope"), "no model named 'nope'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"weights")
    filled = [a.format(ckpt=ckpt, tmp=tmp_path) for a in args]
    code, _out, err = run(*filled)
    assert code == 1
    assert err.startswith("labrig: error")
    assert err.count("\n") == 1
    assert message in err
