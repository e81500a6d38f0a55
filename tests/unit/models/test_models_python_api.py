"""``labrig.models.register`` / ``load`` as a notebook or a job rank uses them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

import labrig.models
from labrig.errors import InvalidInput
from labrig.models import python_api


@pytest.fixture(autouse=True)
def fresh_registry(labrig_env: Path) -> Iterator[None]:
    python_api.reset()
    yield
    python_api.reset()


def test_register_a_file_with_lineage_from_the_job_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LABRIG_JOB_ID", "job-42")
    monkeypatch.setenv("LABRIG_RANK", "1")
    monkeypatch.setenv("LABRIG_NOTEBOOK_PATH", "nb/train.ipynb")
    monkeypatch.setenv("LABRIG_SNAPSHOT_SHA256", "ab" * 32)
    monkeypatch.setenv("LABRIG_PARAMETERS", json.dumps({"lr": 0.1}))
    monkeypatch.setenv("LABRIG_DATASETS", json.dumps({"mnist-mini": "v3"}))
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    ckpt = repo / "model.pt"
    ckpt.write_bytes(b"weights")
    subprocess.run(["git", "-C", str(repo), "add", "model.pt"], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "x"],
        check=True,
    )

    v = labrig.models.register("resnet-mini", ckpt, metrics={"acc": 0.91}, note="from a job")
    lineage = v["lineage"]
    assert (lineage["job_id"], lineage["rank"]) == ("job-42", 1)
    assert lineage["notebook_path"] == "nb/train.ipynb"
    assert lineage["snapshot_sha256"] == "ab" * 32
    assert lineage["parameters"] == {"lr": 0.1}
    assert lineage["datasets"] == {"mnist-mini": "v3"}
    assert lineage["environment"]["labrig"]
    assert len(lineage["git"]["commit"]) == 40
    assert lineage["git"]["dirty"] is False

    local = labrig.models.load("resnet-mini/1")
    assert isinstance(local, Path)
    assert local.read_bytes() == b"weights"


def test_a_torch_module_round_trips_as_a_state_dict(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    v = labrig.models.register("tiny-net", net, metrics={"loss": 0.2})
    assert v["kind"] == "module"
    assert v["lineage"]["module_class"] == "torch.nn.modules.container.Sequential"
    assert sorted(f["path"] for f in v["files"]) == ["labrig-module.json", "model.safetensors"]
    labrig.models.open_registry().set_alias("tiny-net", "production", 1)
    state = labrig.models.load("tiny-net@production")
    assert set(state) == set(net.state_dict())
    for key, tensor in net.state_dict().items():
        assert torch.equal(state[key], tensor)


def test_register_refuses_other_objects() -> None:
    with pytest.raises(InvalidInput, match="not int"):
        labrig.models.register("m", 3)
