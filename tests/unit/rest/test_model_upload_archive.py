"""The model-upload route's archive checks: only plain files and folders inside the upload's
folder are unpacked; anything else is refused before a byte is written."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from labrig.errors import InvalidInput
from labrig.handlers.uploads import registered_path, unpack, upload_metadata


def archive(tmp_path: Path, *members: tarfile.TarInfo, data: bytes = b"x") -> Path:
    path = tmp_path / "upload.tar"
    with tarfile.open(path, "w") as tar:
        for member in members:
            member.size = len(data) if member.isfile() else 0
            tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return path


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


def test_plain_files_and_folders_are_unpacked(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    unpack(archive(tmp_path, entry("sub", tarfile.DIRTYPE), entry("sub/a.bin")), target)
    assert (target / "sub" / "a.bin").read_bytes() == b"x"
    assert registered_path(target, "directory") == target
    assert registered_path(target, "file") == target / "sub" / "a.bin"


@pytest.mark.parametrize(
    ("member", "says"),
    [
        (entry("../escape.bin"), "leaves its folder"),
        (entry("/etc/passwd"), "leaves its folder"),
        (entry("link", tarfile.SYMTYPE, "/etc/passwd"), "not a plain file"),
        (entry("hard", tarfile.LNKTYPE, "/etc/passwd"), "not a plain file"),
        (entry("fifo", tarfile.FIFOTYPE), "not a plain file"),
    ],
)
def test_escapes_links_and_devices_are_refused_and_nothing_is_written(
    tmp_path: Path, member: tarfile.TarInfo, says: str
) -> None:
    target = tmp_path / "out"
    target.mkdir()
    with pytest.raises(InvalidInput, match=says):
        unpack(archive(tmp_path, entry("ok.bin"), member), target)
    assert list(target.iterdir()) == []
    assert not (tmp_path / "escape.bin").exists()


def test_a_body_that_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "upload.tar"
    path.write_bytes(b"not a tar at all" * 100)
    with pytest.raises(InvalidInput, match="not a tar archive"):
        unpack(path, tmp_path)


def test_a_file_version_must_hold_one_file(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("a")
    (tmp_path / "b").write_text("b")
    with pytest.raises(InvalidInput, match="must hold one file, not 2"):
        registered_path(tmp_path, "file")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("{", "not valid JSON"),
        ("[1]", "must be a JSON object"),
        (json.dumps({"user": "mallory"}), "unknown field 'user'"),
        (json.dumps({"kind": "pickle"}), "kind must be one of file, directory, module"),
        (json.dumps({"lineage": "x"}), "lineage must be a JSON object"),
    ],
)
def test_metadata_is_checked_and_names_no_owner(raw: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        upload_metadata(raw)


def test_metadata_defaults_to_nothing() -> None:
    assert upload_metadata(None) == {}
    assert upload_metadata('{"kind": "module", "metrics": {"acc": 1}}')["kind"] == "module"
