"""What a dataset does on each cache, local and Kubernetes (Fluid in the emulated cluster):
warm with progress, pin a version that mounts and refresh move, refuse a changed source."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import make_files, write_tree

from labrig.dataset_mounts.catalog import DatasetCatalog
from labrig.dataset_mounts.cluster import ClusterDatasetCache
from labrig.dataset_mounts.sources import SourceChanged
from labrig.errors import Conflict, InvalidInput

FILES = make_files(24, 40_000, seed=11, prefix="train/")


def add(catalog: DatasetCatalog, tmp_path: Path, name: str = "digits") -> Path:
    root = tmp_path / "sources" / name
    write_tree(root, FILES)
    catalog.create({"name": name, "source_url": f"file://{root}"})
    return root


def warm_and_watch(catalog: DatasetCatalog, name: str) -> list[dict[str, Any]]:
    """Start a warm-up as the REST API does and poll it as the panel does, until it ends."""
    seen = [catalog.start_warm(name)]
    deadline = time.monotonic() + 60
    while seen[-1]["state"] in ("listing", "running"):
        assert time.monotonic() < deadline, seen[-1]
        time.sleep(0.02)
        seen.append(catalog.warm_status(name))
    return seen


def on_cluster(catalog: DatasetCatalog) -> bool:
    return isinstance(catalog.cache, ClusterDatasetCache)


def test_a_warm_up_shows_progress_and_completes_the_pinned_version(
    any_catalog: DatasetCatalog, tmp_path: Path
) -> None:
    add(any_catalog, tmp_path)
    seen = warm_and_watch(any_catalog, "digits")
    final = seen[-1]
    total = sum(len(v) for v in FILES.values())
    assert final["state"] == "succeeded", final
    assert (final["files_total"], final["bytes_total"]) == (len(FILES), total)
    assert final["files_done"] == len(FILES)
    assert final["bytes_done"] == total
    assert final["percent"] == 100.0
    running = [s for s in seen if s["state"] == "running"]
    percents = [s["percent"] for s in running]
    assert percents == sorted(percents)
    shown = any_catalog.get("digits")
    assert shown["complete"] is True
    assert shown["version"] == final["version"]
    if on_cluster(any_catalog):
        # Fluid reports bytes cached, rounded, and no files: said so, not a made-up count.
        assert any(s["files_done"] is None and s["note"] for s in running), running
        assert final["note"] is None
        assert abs(shown["cached_bytes"] - total) <= total * 0.01
        assert "Fluid" in shown["cache_note"]
        stats = any_catalog.cache_stats()
        assert stats["hits"] is None
        assert "no hits" in stats["note"]
        assert any_catalog.evict()["evicted"] is None
        assert any_catalog.cache.capabilities() == {
            "datasets.cache": "Fluid AlluxioRuntime in namespace ml"
        }
        with pytest.raises(InvalidInput, match="labrig:// reads on the server"):
            any_catalog.open_path("digits", "train/part-0001.bin")
    else:
        assert shown["cached_bytes"] == total


def test_a_mount_pins_the_version_and_refresh_moves_the_pin(
    any_catalog: DatasetCatalog, tmp_path: Path
) -> None:
    root = add(any_catalog, tmp_path)
    with pytest.raises(Conflict, match="warm"):
        any_catalog.mount_for_job(["digits"], tmp_path / "job-1")
    assert warm_and_watch(any_catalog, "digits")[-1]["state"] == "succeeded"
    env = any_catalog.mount_for_job(["digits"], tmp_path / "job-1")
    assert env == {"LABRIG_DATASET_DIGITS": str(tmp_path / "job-1" / "digits")}
    first = any_catalog.versions_of(["digits"])["digits"]

    (root / "train" / "extra.bin").write_bytes(b"new file")
    preview = any_catalog.refresh("digits")
    assert preview["added"] == 1
    any_catalog.confirm_refresh("digits", preview["new_version"])
    second = any_catalog.versions_of(["digits"])["digits"]
    assert second != first
    with pytest.raises(Conflict):  # the new version is not in the cache yet
        any_catalog.mount_for_job(["digits"], tmp_path / "job-2")
    assert warm_and_watch(any_catalog, "digits")[-1]["state"] == "succeeded"
    any_catalog.mount_for_job(["digits"], tmp_path / "job-2")
    if on_cluster(any_catalog):
        claims = {any_catalog.cache.claim_for("digits", v) for v in (first, second)}
        assert len(claims) == 2  # a job that started on the first version keeps its claim
        # A kernel pod mounts what the server mounted, at the same path, pinned the same way.
        mounted = any_catalog.mount("digits")
        assert any_catalog.kernel_pod_mounts() == [
            ("digits", second, any_catalog.cache.claim_for("digits", second), mounted["path"])
        ]


def test_a_source_that_changed_since_its_version_was_pinned_is_refused(
    any_catalog: DatasetCatalog, tmp_path: Path
) -> None:
    root = add(any_catalog, tmp_path)
    any_catalog.manifest("digits")  # pins the version
    target = root / "train" / "part-0003.bin"
    target.write_bytes(bytes(reversed(target.read_bytes())))  # same size, new bytes
    later = time.time() + 5
    os.utime(target, (later, later))
    final = warm_and_watch(any_catalog, "digits")[-1]
    assert final["state"] == "failed"
    assert "changed" in final["error"]
    assert "refresh" in final["error"]
    with pytest.raises(SourceChanged):
        any_catalog.warm("digits")
