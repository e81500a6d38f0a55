"""The one confinement check every user-supplied or stored path goes through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labrig.errors import InvalidInput
from labrig.paths import confine_absolute, confine_relative, confine_stored, relative_part


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "nb").mkdir(parents=True)
    (root / "nb" / "model.pt").write_bytes(b"w")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("s")
    os.symlink(tmp_path / "outside" / "secret.txt", root / "nb" / "escape.pt")
    os.symlink(tmp_path / "outside", root / "nb" / "escape-dir")
    os.symlink(root / "nb" / "model.pt", root / "nb" / "alias.pt")
    return root


def refused(call: object, field: str, *words: str) -> str:
    assert callable(call)
    with pytest.raises(InvalidInput) as info:
        call()
    assert info.value.field == field
    for word in words:
        assert word in info.value.message, info.value.message
    return info.value.message


def test_a_relative_path_under_the_root_is_its_real_path(root: Path) -> None:
    assert confine_relative("nb/model.pt", root, field="path") == root / "nb" / "model.pt"
    # a symlink that stays inside is followed to where it leads
    assert confine_relative("nb/alias.pt", root, field="path") == root / "nb" / "model.pt"
    # what does not exist yet (a job's output) is allowed: only where it is counts
    assert confine_relative("later.pt", root, field="p", base=root / "nb") == root / "nb/later.pt"
    assert confine_relative("~name.pt", root, field="path") == root / "~name.pt"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("../outside/secret.txt", ["must not contain '..'"]),
        ("nb/../../outside/secret.txt", ["must not contain '..'"]),
        ("/etc/passwd", ["not an absolute path"]),
        ("~/secret.txt", ["not an absolute path"]),
        ("nb/escape.pt", ["symlink", "outside"]),
        ("nb/escape-dir/secret.txt", ["symlink", "outside"]),
        ("nb/\x00model.pt", ["control characters"]),
        ("nb/model.pt\n", ["control characters"]),
        ("", ["is required"]),
        (3, ["is required"]),
    ],
)
def test_relative_paths_that_leave_the_root_are_refused_naming_the_field_and_root(
    root: Path, value: object, words: list[str]
) -> None:
    message = refused(
        lambda: confine_relative(value, root, field="outputs[0].path"), "outputs[0].path", *words
    )
    if value:
        assert str(root) in message  # says which directory is allowed


def test_relative_part_checks_text_only() -> None:
    assert relative_part("a/b.bin", field="path", within="v") == "a/b.bin"
    refused(lambda: relative_part("../a", field="path", within="v"), "path", "'..'")
    refused(lambda: relative_part("/a", field="path", within="v"), "path", "absolute")


def test_absolute_paths_are_confined_to_any_of_the_roots(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    roots = [root, other]
    assert confine_absolute(str(root / "nb" / "model.pt"), roots, field="path") == (
        root / "nb" / "model.pt"
    )
    assert confine_absolute(other, roots, field="path") == other
    # ``..`` is fine where the result stays inside (a CLI argument relative to the cwd)
    assert confine_absolute(f"{other}/../root/nb/model.pt", roots, field="path") == (
        root / "nb" / "model.pt"
    )
    refused(lambda: confine_absolute("/etc/passwd", roots, field="path"), "path", "outside")
    refused(lambda: confine_absolute(f"{root}/../outside/secret.txt", roots, field="path"), "path")
    refused(
        lambda: confine_absolute(root / "nb" / "escape.pt", roots, field="path"),
        "path",
        "symlink",
    )


def test_a_root_that_is_a_symlink_is_compared_by_its_real_path(tmp_path: Path, root: Path) -> None:
    linked = tmp_path / "linked-root"
    os.symlink(root, linked)
    assert confine_relative("nb/model.pt", linked, field="p") == root / "nb" / "model.pt"
    assert confine_absolute(linked / "nb", [linked], field="p") == root / "nb"


def test_a_stored_path_must_lie_strictly_inside_a_root(root: Path) -> None:
    assert confine_stored(root / "nb", [root], field="mount_path") == root / "nb"
    refused(lambda: confine_stored(root, [root], field="mount_path"), "mount_path", "inside")
    refused(lambda: confine_stored("/", [root], field="mount_path"), "mount_path")
    refused(
        lambda: confine_stored(root / "nb" / "escape-dir", [root], field="mount_path"),
        "mount_path",
        "symlink",
    )
