"""What a registration reads before it moves any byte: the dedup sizes and the model, in one
read, and the version it returns without reading its files back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labrig.models import registration
from labrig.models.registration import SourceFile
from labrig.models.registry import ModelRegistry
from labrig.services import Services


@pytest.fixture
def reg(services: Services) -> ModelRegistry:
    return services.models


def sources(tmp_path: Path, *sizes: int) -> list[SourceFile]:
    found = []
    for size in sizes:
        path = tmp_path / f"f{size}.bin"
        path.write_bytes(os.urandom(size))
        found.append(SourceFile(path, path.name))
    return found


def test_known_sizes_are_those_of_the_files_at_hand(reg: ModelRegistry, tmp_path: Path) -> None:
    for size in (100, 200, 300):
        (tmp_path / "in").mkdir(exist_ok=True)
        reg.register("a", sources(tmp_path / "in", size)[0].path)
    asked = sources(tmp_path, 200, 300, 400)
    with reg.db.session() as session:
        assert reg._known_sizes(session, asked) == {200, 300}


def test_many_distinct_sizes_read_every_size_instead(
    reg: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for size in (100, 200):
        (tmp_path / "in").mkdir(exist_ok=True)
        reg.register("a", sources(tmp_path / "in", size)[0].path)
    monkeypatch.setattr(registration, "MAX_SIZES_IN_QUERY", 1)
    with reg.db.session() as session:
        assert reg._known_sizes(session, sources(tmp_path, 200, 400)) == {100, 200}


def test_a_new_version_returns_what_the_database_holds(reg: ModelRegistry, tmp_path: Path) -> None:
    folder = tmp_path / "ckpt"
    (folder / "b").mkdir(parents=True)
    (folder / "z.bin").write_bytes(b"z" * 10)
    (folder / "b" / "a.bin").write_bytes(b"a" * 20)
    (folder / "a.json").write_bytes(b"{}")
    made = reg.register("dir", folder, metrics={"acc": 0.5})
    assert made == reg.get_version("dir", made["version"])
    assert [f["path"] for f in made["files"]] == ["a.json", "b/a.bin", "z.bin"]
