"""Faults: a failing or stalling source, SIGKILL mid-warm-up, a corrupt cache entry, a full disk,
and an object changed at the source during a warm-up. Each test checks what the user is told and
that the cache holds no partial file afterwards."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import FileServer, S3Server, make_files, write_tree

from labrig.dataset_mounts import cache as cache_module
from labrig.dataset_mounts.cache import LocalDatasetCache
from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.dataset_mounts.sources import SourceChanged
from labrig.errors import LabrigError, StorageFull

FILES = make_files(12, 40_000, seed=31)


def assert_cache_consistent(catalog: DatasetCatalog) -> None:
    """Every object in the cache is whole and matches the MD5 recorded for it."""
    store = catalog.store
    for key, st in store.objects():
        data = store.path_of(key).read_bytes()
        assert len(data) == st.st_size
        recorded = (store.path_of(key).parent / f"{key}.md5").read_text()
        assert hashlib.md5(data, usedforsecurity=False).hexdigest() == recorded
        if key.startswith("md5-"):
            assert key.split("-")[1] == recorded


def served(http_root: Path, file_server: FileServer, catalog: DatasetCatalog, name: str) -> None:
    write_tree(http_root / name, FILES)
    catalog.create({"name": name, "source_url": file_server.url + name + "/"})


def test_a_source_failing_once_mid_object_is_retried(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path
) -> None:
    served(http_root, file_server, catalog, "flaky")
    file_server.faults["/flaky/part-0003.bin"] = {"fail_after": 10_000, "times": 1}
    result = catalog.warm("flaky")
    assert result["state"] == "succeeded"
    assert file_server.gets["/flaky/part-0003.bin"] == 2
    assert_cache_consistent(catalog)
    assert catalog.get("flaky")["complete"]


def test_a_source_that_keeps_failing_fails_the_warm_up_clearly(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path
) -> None:
    served(http_root, file_server, catalog, "broken")
    file_server.faults["/broken/part-0005.bin"] = {"fail_after": 10_000, "times": 100}
    with pytest.raises(LabrigError) as caught:
        catalog.warm("broken")
    assert "'broken'" in caught.value.message
    assert "part-0005.bin" in caught.value.message
    assert catalog.warm_status("broken")["state"] == "failed"
    assert not catalog.get("broken")["complete"]
    assert list((catalog.store.root / "tmp").iterdir()) == []
    assert_cache_consistent(catalog)
    del file_server.faults["/broken/part-0005.bin"]
    assert catalog.warm("broken")["state"] == "succeeded"


def test_a_stalled_read_times_out_and_is_retried(
    catalog: DatasetCatalog,
    file_server: FileServer,
    http_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LABRIG_DATASET_READ_TIMEOUT", "1")
    served(http_root, file_server, catalog, "stall")
    file_server.faults["/stall/part-0001.bin"] = {"stall_after": 5_000, "seconds": 4, "times": 1}
    started = time.monotonic()
    assert catalog.warm("stall")["state"] == "succeeded"
    assert time.monotonic() - started < 4
    assert file_server.gets["/stall/part-0001.bin"] == 2
    assert_cache_consistent(catalog)


def test_a_warm_up_killed_mid_way_resumes_without_refetching(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path, labrig_env: Path
) -> None:
    served(http_root, file_server, catalog, "killed")
    stalled = {"/killed/part-0002.bin", "/killed/part-0007.bin"}
    for path in stalled:
        file_server.faults[path] = {"stall_after": 20_000, "seconds": 60, "times": 1}
    env = {**os.environ, "LABRIG_DATA_DIR": str(labrig_env)}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from labrig.cli import cli; cli()", "datasets", "warm", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = catalog.store
    deadline = time.monotonic() + 60
    while sum(1 for _ in store.objects()) < len(FILES) - len(stalled):
        assert time.monotonic() < deadline, "the warm-up made no progress"
        time.sleep(0.05)
    while not any((store.root / "tmp").iterdir()):  # the stalled objects are in flight
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    # Nothing partial is visible: the half-written objects are only in tmp/.
    assert sum(1 for _ in store.objects()) == len(FILES) - len(stalled)
    assert_cache_consistent(catalog)
    assert not catalog.get("killed")["complete"]

    result = catalog.warm("killed")
    assert result["state"] == "succeeded"
    assert result["files_cached"] == len(FILES) - len(stalled)
    for name in FILES:
        path = f"/killed/{name}"
        assert file_server.gets[path] == (2 if path in stalled else 1), path
    assert list((store.root / "tmp").iterdir()) == []  # the dead fetcher's files were swept
    assert_cache_consistent(catalog)


def test_a_corrupt_cache_entry_is_detected_and_refetched(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path
) -> None:
    served(http_root, file_server, catalog, "corrupt")
    catalog.warm("corrupt")
    _version, entries = catalog.manifest("corrupt")
    store = catalog.store
    victim = store.path_of(store.key_for(catalog.source("corrupt").url, entries[4]))
    victim.chmod(0o644)
    with victim.open("r+b") as f:
        f.seek(100)
        f.write(b"\x00\x01\x02")
    result = catalog.warm("corrupt", verify=True)
    assert result["files_cached"] == len(FILES) - 1
    assert file_server.gets[f"/corrupt/{entries[4].path}"] == 2
    assert victim.read_bytes() == FILES[entries[4].path]


def test_a_full_disk_is_a_clear_error_and_leaves_the_cache_consistent(
    catalog: DatasetCatalog,
    file_server: FileServer,
    http_root: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    served(http_root, file_server, catalog, "full")
    real = cache_module.write_at
    budget = {"writes": 5}

    def filling(fd: int, data: bytes, offset: int) -> None:
        if budget["writes"] <= 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        budget["writes"] -= 1
        real(fd, data, offset)

    monkeypatch.setattr(cache_module, "write_at", filling)
    with pytest.raises(StorageFull) as caught:
        catalog.warm("full")
    assert "disk under the dataset cache" in caught.value.message
    assert "nothing partial was kept" in caught.value.message
    assert catalog.warm_status("full")["error"] == caught.value.message
    assert list((catalog.store.root / "tmp").iterdir()) == []
    assert_cache_consistent(catalog)
    assert not catalog.get("full")["complete"]
    monkeypatch.setattr(cache_module, "write_at", real)
    assert catalog.warm("full")["state"] == "succeeded"


def test_an_object_changed_at_an_http_source_during_warm_up_is_not_recorded_complete(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path
) -> None:
    served(http_root, file_server, catalog, "moving")
    version, _ = catalog.manifest("moving")  # the warm-up has listed the source...
    (http_root / "moving" / "part-0006.bin").write_bytes(b"rewritten")  # ...then this changed
    with pytest.raises(SourceChanged) as caught:
        catalog.warm("moving")
    assert "part-0006.bin" in caught.value.message
    assert "refresh" in caught.value.message
    shown = catalog.get("moving")
    assert shown["version"] == version
    assert not shown["complete"]
    assert_cache_consistent(catalog)


def test_an_object_changed_in_s3_during_warm_up_is_not_recorded_complete(
    catalog: DatasetCatalog, s3_server: S3Server, s3_creds: dict[str, str]
) -> None:
    s3_server.put_tree("moving-bucket", {f"d/{k}": v for k, v in make_files(4, 1000, 41).items()})
    catalog.create(
        {
            "name": "moving-s3",
            "source_url": "s3://moving-bucket/d",
            "options": {"endpoint_url": s3_server.endpoint_url, "credentials_env": s3_creds},
        }
    )
    catalog.manifest("moving-s3")
    s3_server.put_tree("moving-bucket", {"d/part-0002.bin": b"new content"})
    with pytest.raises(SourceChanged, match=r"part-0002\.bin"):
        catalog.warm("moving-s3")
    assert not catalog.get("moving-s3")["complete"]
    preview = catalog.refresh("moving-s3")
    assert preview["modified"] == 1
    catalog.confirm_refresh("moving-s3", preview["new_version"])
    assert catalog.warm("moving-s3")["state"] == "succeeded"


def test_a_warm_up_on_a_disk_that_really_fills_says_so_and_keeps_nothing(
    services: Any, small_disk: Any, tmp_path: Path
) -> None:
    disk = small_disk(tmp_path / "small")
    source = tmp_path / "source"
    write_tree(source, make_files(6, 2 * 2**20, seed=3))
    catalog = DatasetCatalog(services.db, LocalDatasetCache(cache_dir=str(disk / "cache")))
    catalog.create({"name": "big", "source_url": source.as_uri()})
    with pytest.raises(StorageFull) as caught:
        catalog.warm("big")
    assert "nothing partial was kept" in caught.value.message, caught.value.message
    assert not catalog.get("big")["complete"]
    assert list((disk / "cache" / "tmp").iterdir()) == []
    assert_cache_consistent(catalog)
