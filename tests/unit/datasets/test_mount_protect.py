"""Mount protection's own logic: reading the mount table, records, sweeping, private copies."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from labrig.dataset_mounts import mount_guard
from labrig.dataset_mounts.mount_protect import COPY, UNPROTECTED, MountProtector

TABLE = [
    ("/", False, "ext4"),
    ("/data", False, "xfs"),
    ("/data/mnt/a b", True, "xfs"),
    ("/data/mnt/a b/inner", True, "xfs"),
    ("/data/mnt2", True, "xfs"),
]


@pytest.fixture
def fake_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mount_guard, "mount_table", lambda: TABLE)


def test_mountinfo_escapes_are_decoded() -> None:
    assert mount_guard._unescape("/data/mnt/a\\040b\\011c\\134d") == "/data/mnt/a b\tc\\d"


def test_the_real_mount_table_has_the_root() -> None:
    assert "/" in [point for point, _ro, _fs in mount_guard.mount_table()]


@pytest.mark.usefixtures("fake_table")
def test_mounts_under_a_path_come_deepest_first_and_only_below_it() -> None:
    assert mount_guard.mounts_under(Path("/data/mnt")) == [
        Path("/data/mnt/a b/inner"),
        Path("/data/mnt/a b"),
    ]
    assert mount_guard.mounts_under(Path("/data/mnt/a b/inner")) == [Path("/data/mnt/a b/inner")]


@pytest.mark.usefixtures("fake_table")
def test_the_filesystem_of_a_path_is_its_deepest_mount() -> None:
    assert mount_guard.filesystem_of(Path("/data/x")) == "xfs"
    assert mount_guard.filesystem_of(Path("/home/x")) == "ext4"
    assert mount_guard.is_read_only_mount(Path("/data/mnt2"))
    assert not mount_guard.is_read_only_mount(Path("/data"))
    assert not mount_guard.is_read_only_mount(Path("/data/mnt2/below"))


def cached(tmp_path: Path) -> list[tuple[str, Path]]:
    objects = tmp_path / "cache" / "objects"
    objects.mkdir(parents=True)
    links = []
    for rel, data in {"a.txt": b"a", "sub/b.txt": b"b"}.items():
        obj = objects / rel.replace("/", "_")
        obj.write_bytes(data)
        obj.chmod(0o444)
        links.append((rel, obj))
    return links


def test_copy_mode_makes_private_copies_reports_them_and_cleans_up(tmp_path: Path) -> None:
    links = cached(tmp_path)
    protector = MountProtector(tmp_path / "cache", "copy")
    target = tmp_path / "mounts" / "ds"
    assert protector.attach("ds", target, links, replace=False) == COPY
    assert (target / "sub" / "b.txt").read_bytes() == b"b"
    assert os.stat(target / "a.txt").st_ino != os.stat(links[0][1]).st_ino
    assert protector.protection(target) == COPY
    protector.release(target)
    assert not target.exists()
    assert protector.protection(target) is None
    assert not list((tmp_path / "cache" / "mounts").iterdir())


def test_a_tree_from_before_protection_is_reported_as_not_protected(tmp_path: Path) -> None:
    (tmp_path / "old" / "ds").mkdir(parents=True)
    protector = MountProtector(tmp_path / "cache")
    said = protector.protection(tmp_path / "old" / "ds")
    assert said == UNPROTECTED + "made before labrig protected mounts; mount it again"


def test_sweep_forgets_gone_mounts_and_old_unused_trees_only(tmp_path: Path) -> None:
    protector = MountProtector(tmp_path / "cache")
    trees, records = protector.trees, protector.records
    for tree in ("used", "old-unused", "young-unused"):
        (trees / tree).mkdir(parents=True)
    hour_ago = time.time() - 3600
    for tree in ("used", "old-unused"):
        os.utime(trees / tree, (hour_ago, hour_ago))
    records.mkdir()
    live = tmp_path / "live"
    live.mkdir()
    (records / "live.json").write_text(
        json.dumps({"path": str(live), "mechanism": "bind", "backing": str(trees / "used")})
    )
    (records / "gone.json").write_text(json.dumps({"path": str(tmp_path / "gone")}))
    protector.sweep()
    assert sorted(p.name for p in trees.iterdir()) == ["used", "young-unused"]
    assert [p.name for p in records.iterdir()] == ["live.json"]


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="auto, bind, reflink, copy"):
        MountProtector(tmp_path, "immutable")
