"""``labrig.models.load_torch``: tensors without unpickling code, unless the user opts out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import labrig.models
from labrig import identity
from labrig.errors import InvalidInput
from labrig.models import loading, python_api

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

#: A checkpoint that pickles an object of a class of its own: unpickling it imports the class
#: and runs its ``__setstate__``, which here leaves a mark on disk (what an attacker's would do
#: is worse). Written by a separate process, as a stranger's file would be.
MAKE_CHECKPOINT = """
import sys, torch
sys.path.insert(0, sys.argv[2])
from planted import Planted
torch.save({"w": torch.ones(3), "extra": Planted(sys.argv[3])}, sys.argv[1])
"""
PLANTED = """
from pathlib import Path


class Planted:
    def __init__(self, mark):
        self.mark = mark

    def __setstate__(self, state):
        self.__dict__.update(state)
        Path(self.mark).write_text("code from the checkpoint ran")
"""


@pytest.fixture(autouse=True)
def fresh_registry(labrig_env: Path) -> Iterator[None]:
    python_api.reset()
    yield
    python_api.reset()


@pytest.fixture
def pickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A checkpoint holding a custom object, and the file its unpickling would write."""
    module_dir = tmp_path / "mods"
    module_dir.mkdir()
    (module_dir / "planted.py").write_text(PLANTED)
    checkpoint, mark = tmp_path / "full.pt", tmp_path / "unpickled.txt"
    subprocess.run(
        [sys.executable, "-c", MAKE_CHECKPOINT, str(checkpoint), str(module_dir), str(mark)],
        check=True,
    )
    monkeypatch.syspath_prepend(str(module_dir))  # so a trusted load can import the class
    return checkpoint, mark


def test_a_checkpoint_with_pickled_objects_is_refused_naming_the_opt_out(
    pickled: tuple[Path, Path],
) -> None:
    checkpoint, mark = pickled
    labrig.models.register("full", checkpoint)
    with pytest.raises(InvalidInput) as refused:
        labrig.models.load_torch("full/1")
    assert refused.value.field == "trust_pickle"
    assert "trust_pickle=True" in refused.value.message
    assert "load_torch('full/1', trust_pickle=True)" in refused.value.message
    assert "it needs planted.Planted" in refused.value.message  # the class it would import
    assert not mark.exists()  # nothing from the file ran


def test_trust_pickle_loads_the_objects_for_a_version_the_user_may_trust(
    pickled: tuple[Path, Path],
) -> None:
    checkpoint, mark = pickled
    labrig.models.register("full", checkpoint)
    loaded = labrig.models.load_torch("full/1", trust_pickle=True)
    assert torch.equal(loaded["w"], torch.ones(3))
    assert type(loaded["extra"]).__name__ == "Planted"
    assert mark.read_text() == "code from the checkpoint ran"


def test_only_the_registrant_or_an_admin_may_opt_out(pickled: tuple[Path, Path]) -> None:
    checkpoint, mark = pickled
    with identity.acting_as(identity.Principal("alice")):
        labrig.models.register("full", checkpoint)
    with (
        identity.acting_as(identity.Principal("bob")),
        pytest.raises(InvalidInput, match="registered by alice: only they") as refused,
    ):
        labrig.models.load_torch("full/1", trust_pickle=True)
    assert refused.value.field == "trust_pickle"
    assert not mark.exists()
    with identity.acting_as(identity.Principal("root", admin=True)):
        assert labrig.models.load_torch("full/1", trust_pickle=True)["w"].shape == (3,)
    assert mark.exists()


def test_a_plain_state_dict_loads_with_weights_only(tmp_path: Path) -> None:
    net = torch.nn.Linear(4, 2)
    checkpoint = tmp_path / "state.pt"
    torch.save(net.state_dict(), checkpoint)
    labrig.models.register("plain", checkpoint)
    state = labrig.models.load_torch("plain@latest")
    assert set(state) == {"weight", "bias"}
    assert torch.equal(state["weight"], net.state_dict()["weight"])


def test_safetensors_files_load_as_safetensors_whatever_their_name(tmp_path: Path) -> None:
    folder = tmp_path / "hf-style"
    folder.mkdir()
    (folder / "config.json").write_text('{"layers": 1}')
    safetensors_torch.save_file({"a": torch.arange(4.0)}, str(folder / "weights.bin"))
    labrig.models.register("st", folder)
    assert loading.is_safetensors(folder / "weights.bin")
    assert torch.equal(labrig.models.load_torch("st/1")["a"], torch.arange(4.0))

    net = torch.nn.Linear(2, 2)
    labrig.models.register("module", net)  # stored as safetensors with a manifest
    state = labrig.models.load_torch("module/1")
    assert torch.equal(state["bias"], net.state_dict()["bias"])


def test_a_folder_without_one_weights_file_says_what_it_holds(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.pt", "b.pt"):
        torch.save({"x": torch.ones(1)}, folder / name)
    labrig.models.register("two", folder)
    with pytest.raises(InvalidInput, match=r"holds 2 files \(a.pt, b.pt\)"):
        labrig.models.load_torch("two/1")
