"""The catalog against real sources: moto's S3 server, an HTTP server and local files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import FileServer, S3Server, make_files, tree_bytes, write_tree

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.errors import AccessDenied, Conflict, InvalidInput, NotFound

FILES = make_files(6, 3000, seed=11) | make_files(2, 600_000, seed=12, prefix="big/")


def s3_dataset(s3: S3Server, creds: dict[str, str], bucket: str, prefix: str) -> dict[str, Any]:
    return {
        "source_url": f"s3://{bucket}/{prefix}",
        "options": {"endpoint_url": s3.endpoint_url, "credentials_env": creds},
    }


def test_s3_dataset_warms_once_mounts_read_only_and_pins_its_version(
    catalog: DatasetCatalog, s3_server: S3Server, s3_creds: dict[str, str]
) -> None:
    files = make_files(6, 3000, seed=21) | make_files(2, 600_000, seed=22, prefix="big/")
    s3_server.put_tree("warm-bucket", {f"train/{k}": v for k, v in files.items()})
    before = s3_server.counter.gets.copy()
    created = catalog.create(
        {"name": "s3-train", **s3_dataset(s3_server, s3_creds, "warm-bucket", "train")}
    )
    assert created["options"] == {
        "endpoint_url": s3_server.endpoint_url,
        "credentials": "environment",
    }
    assert "TEST_S3" not in str(created)
    result = catalog.warm("s3-train")
    assert result["state"] == "succeeded"
    assert (result["files_total"], result["bytes_total"]) == (8, sum(map(len, files.values())))
    fetched = s3_server.counter.gets - before
    # Small objects in one GET each; the 600 kB ones in 256 KiB ranges (3 GETs each).
    assert fetched == {
        **{f"/warm-bucket/train/{k}": 1 for k in files if not k.startswith("big/")},
        **{f"/warm-bucket/train/{k}": 3 for k in files if k.startswith("big/")},
    }
    again = catalog.warm("s3-train")
    assert (again["files_cached"], again["bytes_fetched"]) == (8, 0)
    assert s3_server.counter.gets - before == fetched

    mount = catalog.mount("s3-train")
    root = Path(mount["path"])
    assert tree_bytes(root) == files
    assert mount["env"] == {"LABRIG_DATASET_S3_TRAIN": str(root)}
    assert (root / "big").stat().st_mode & 0o777 == 0o555
    assert (root / "part-0000.bin").stat().st_mode & 0o777 == 0o444
    shown = catalog.get("s3-train")
    assert shown["complete"]
    assert shown["cached_bytes"] == shown["bytes"]

    # The source changes: the pin holds until refresh is confirmed.
    s3_server.put_tree("warm-bucket", {"train/part-0000.bin": b"new", "train/extra.bin": b"x"})
    preview = catalog.refresh("s3-train")
    assert (preview["added"], preview["removed"], preview["modified"]) == (1, 0, 1)
    assert catalog.versions_of(["s3-train"]) == {"s3-train": mount["version"]}
    catalog.confirm_refresh("s3-train", preview["new_version"])
    assert catalog.versions_of(["s3-train"]) == {"s3-train": preview["new_version"]}
    assert not catalog.get("s3-train")["complete"]
    catalog.warm("s3-train")
    catalog.mount("s3-train")
    assert (root / "part-0000.bin").read_bytes() == b"new"
    assert (root / "extra.bin").read_bytes() == b"x"
    catalog.unmount("s3-train")
    assert not root.exists()


def test_http_dataset_and_lazy_reads_through_the_fsspec_filesystem(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path
) -> None:
    import fsspec

    from labrig.dataset_mounts.fs import LabrigFileSystem

    write_tree(http_root / "web", FILES)
    catalog.create({"name": "web", "source_url": file_server.url + "web/", "include": "big/*"})
    fs = LabrigFileSystem(catalog=catalog)
    assert fs.ls("web", detail=False) == ["web/big"]
    assert sorted(fs.ls("labrig://web/big", detail=False)) == [
        "web/big/part-0000.bin",
        "web/big/part-0001.bin",
    ]
    with fs.open("labrig://web/big/part-0001.bin") as f:
        assert f.read() == FILES["big/part-0001.bin"]
    with fs.open("web/big/part-0001.bin") as f:
        assert f.read(10) == FILES["big/part-0001.bin"][:10]
    assert file_server.gets["/web/big/part-0001.bin"] == 3  # once, in ranges
    assert file_server.gets["/web/big/part-0000.bin"] == 0
    with pytest.raises(PermissionError):
        fs.open("web/big/part-0000.bin", "wb")
    with pytest.raises(FileNotFoundError):
        fs.open("web/nope.bin")
    # The entry point makes it a protocol like any other.
    assert fsspec.get_filesystem_class("labrig") is LabrigFileSystem


def test_local_directory_dataset(catalog: DatasetCatalog, tmp_path: Path) -> None:
    write_tree(tmp_path / "local", FILES)
    catalog.create({"name": "local", "source_url": (tmp_path / "local").as_uri()})
    catalog.warm("local")
    path = Path(catalog.mount("local")["path"])
    assert tree_bytes(path) == FILES
    # Hard links into the cache: no second copy of the bytes.
    assert os.stat(path / "big/part-0000.bin").st_nlink == 2


def test_admin_datasets_come_from_configuration(catalog: DatasetCatalog, tmp_path: Path) -> None:
    write_tree(tmp_path / "shared", {"a.txt": b"a"})
    catalog.cache.datasets = [{"name": "shared", "source_url": (tmp_path / "shared").as_uri()}]
    catalog._admin_synced = False
    assert catalog.get("shared")["admin"] is True
    with pytest.raises(Conflict, match="defined by the administrator"):
        catalog.delete("shared")


# -- bad input -------------------------------------------------------------------------------


def test_bad_input_gets_specific_errors_naming_the_dataset(
    catalog: DatasetCatalog,
    s3_server: S3Server,
    s3_creds: dict[str, str],
    file_server: FileServer,
    http_root: Path,
    tmp_path: Path,
) -> None:
    s3_server.put_tree("bad-input", {"data/a.csv": b"1,2"})
    ok = s3_dataset(s3_server, s3_creds, "bad-input", "data")

    def fails(body: dict[str, Any], error: type[Exception], *words: str) -> str:
        with pytest.raises(error) as caught:
            catalog.create({"name": "bad", **body})
        message = str(caught.value)
        for word in words:
            assert word in message, message
        assert "very-secret-value-123" not in message
        assert "testing-key-id" not in message
        return message

    fails({"source_url": "ftp://x/y"}, InvalidInput, "'bad'", "ftp", "s3://")
    fails({"source_url": "not a url"}, InvalidInput, "not a URL")
    fails({**ok, "source_url": "s3://no-such-bucket/x"}, NotFound, "does not exist", "bucket")
    fails({**ok, "source_url": "s3://bad-input/missing-prefix"}, NotFound, "prefix")
    fails({**ok, "include": "*.parquet"}, InvalidInput, "matches none", "a.csv")
    unreachable = {**ok, "options": {**ok["options"], "endpoint_url": "http://127.0.0.1:9"}}
    fails(unreachable, InvalidInput, "cannot reach", "endpoint_url")
    s3_server.counter.deny = True
    try:
        fails(ok, AccessDenied, "refused access", "credentials_env")
    finally:
        s3_server.counter.deny = False
    (tmp_path / "empty").mkdir()
    fails({"source_url": (tmp_path / "empty").as_uri()}, InvalidInput, "holds no files")
    fails({"source_url": file_server.url + "nothing/"}, NotFound, "does not exist")
    with pytest.raises(InvalidInput, match="not allowed"):
        catalog.create({"name": "../etc", **ok})
    catalog.create({"name": "good", **ok})
    with pytest.raises(Conflict, match="already exists"):
        catalog.create({"name": "good", **ok})
    with pytest.raises(InvalidInput, match="TEST_UNSET_VAR"):
        catalog.create(
            {"name": "x", **ok, "options": {"credentials_env": {"key": "TEST_UNSET_VAR"}}}
        )


def test_mount_paths_outside_the_roots_or_through_symlinks_are_refused(
    catalog: DatasetCatalog, tmp_path: Path, mount_root: Path
) -> None:
    write_tree(tmp_path / "m", {"a.txt": b"a"})
    catalog.create({"name": "m", "source_url": (tmp_path / "m").as_uri()})
    with pytest.raises(Conflict, match="not warmed yet"):
        catalog.mount("m")
    catalog.warm("m")
    with pytest.raises(InvalidInput, match="outside the allowed roots"):
        catalog.mount("m", str(tmp_path / "elsewhere"))
    with pytest.raises(InvalidInput, match="outside the allowed roots"):
        catalog.mount("m", str(mount_root / ".." / "escape"))
    mount_root.mkdir(parents=True, exist_ok=True)
    (tmp_path / "target").mkdir()
    (mount_root / "link").symlink_to(tmp_path / "target")
    with pytest.raises(InvalidInput, match="symlink"):
        catalog.mount("m", str(mount_root / "link" / "m"))
    (mount_root / "taken").mkdir()
    with pytest.raises(Conflict, match="already exists"):
        catalog.mount("m", str(mount_root / "taken"))
    assert catalog.mount("m", str(mount_root / "sub" / "m"))["path"] == str(mount_root / "sub/m")


def test_oss_dataset_through_ossfs(
    catalog: DatasetCatalog, s3_server: S3Server, s3_creds: dict[str, str]
) -> None:
    """ossfs (oss2 underneath) against moto behind an OSS-dialect adapter (see
    dataset_servers.CountingApp._oss_dialect): listing, ranged GETs, errors, refresh."""
    files = make_files(4, 2000, seed=81) | make_files(1, 700_000, seed=82, prefix="big/")
    s3_server.put_tree("oss-bucket", {f"ds/{k}": v for k, v in files.items()})
    body = {
        "name": "oss-ds",
        "source_url": "oss://oss-bucket/ds",
        "options": {"endpoint_url": s3_server.endpoint_url, "credentials_env": s3_creds},
    }
    catalog.create(body)
    before = s3_server.counter.gets.copy()
    assert catalog.warm("oss-ds")["state"] == "succeeded"
    assert s3_server.counter.gets - before == {
        **{f"/oss-bucket/ds/{k}": 1 for k in files if not k.startswith("big/")},
        "/oss-bucket/ds/big/part-0000.bin": 3,  # 256 KiB ranges
    }
    assert tree_bytes(Path(catalog.mount("oss-ds")["path"])) == files
    s3_server.put_tree("oss-bucket", {"ds/part-0001.bin": b"changed"})
    assert catalog.refresh("oss-ds")["modified"] == 1
    with pytest.raises(NotFound, match="does not exist"):
        catalog.create({**body, "name": "oss-missing", "source_url": "oss://no-oss-bucket/x"})
    s3_server.counter.deny = True
    try:
        with pytest.raises(AccessDenied, match="'oss-denied'"):
            catalog.create({**body, "name": "oss-denied"})
    finally:
        s3_server.counter.deny = False


def test_lazy_reads_of_a_dataset_larger_than_the_cache_stay_under_its_cap(
    catalog: DatasetCatalog, tmp_path: Path
) -> None:
    from labrig.dataset_mounts.fs import LabrigFileSystem

    files = make_files(20, 10_000, seed=91)
    write_tree(tmp_path / "large", files)
    catalog.create({"name": "large", "source_url": (tmp_path / "large").as_uri()})
    catalog.store.size_limit = 50_000  # a fifth of the dataset
    fs = LabrigFileSystem(catalog=catalog)
    for name, data in files.items():
        with fs.open(f"large/{name}") as f:
            assert f.read() == data
    assert catalog.cache_stats()["used_bytes"] <= 50_000
    assert catalog.cache_stats()["misses"] == 20
