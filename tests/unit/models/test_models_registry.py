"""The registry's rules: numbering, aliases and history, content addressing, GC, bad input."""

from __future__ import annotations

import errno
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from labrig.errors import Conflict, InvalidInput, NotFound, StorageFull, Unavailable
from labrig.identity import Principal, acting_as
from labrig.models.registry import ModelRegistry
from labrig.models.store import BlobStore
from labrig.services import Services
from labrig.store import PageRequest


@pytest.fixture
def reg(services: Services) -> ModelRegistry:
    return services.models


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def blob_files(reg: ModelRegistry) -> list[str]:
    return sorted(sha for sha, _ in reg.store.iter_blobs())


def test_versions_are_numbered_per_model_from_one(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    assert [reg.register("a", f)["version"] for _ in range(3)] == [1, 2, 3]
    assert reg.register("b", f)["version"] == 1
    assert reg.get("a")["latest_version"] == 3
    assert reg.get("a")["version_count"] == 3


def test_deleted_numbers_are_not_reused(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    for _ in range(3):
        reg.register("a", f)
    reg.delete_version("a", 3)
    assert reg.get("a")["latest_version"] == 2
    assert reg.register("a", f)["version"] == 4


def test_a_version_keeps_metrics_params_tags_note_and_lineage(
    reg: ModelRegistry, tmp_path: Path
) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    with acting_as(Principal("ana")):
        v = reg.register(
            "a",
            f,
            metrics={"acc": 0.91, "loss": 3},
            params={"lr": 0.1, "layers": [1, 2]},
            tags={"team": "vision"},
            note="first",
            lineage={"job_id": "j1", "notebook_path": "ana/plan.ipynb"},
        )
        got = reg.get_version("a", v["version"])
    # Another reader gets the job's id only: the job is ana's (she registered the version).
    with acting_as(Principal("bo")):
        assert reg.get_version("a", v["version"])["lineage"] == {"job_id": "j1"}
    assert got["metrics"] == {"acc": 0.91, "loss": 3.0}
    assert got["params"] == {"lr": 0.1, "layers": [1, 2]}
    assert got["tags"] == {"team": "vision"}
    assert (got["note"], got["user"]) == ("first", "ana")
    assert got["lineage"] == {"job_id": "j1", "notebook_path": "ana/plan.ipynb"}
    assert got["files"] == [{"path": "m.bin", "sha256": v["files"][0]["sha256"], "size": 3}]


def test_refs_resolve_by_number_alias_and_latest(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    reg.register("a", f)
    reg.register("a", f)
    reg.set_alias("a", "production", 1)
    assert reg.resolve("a") == ("a", 2)
    assert reg.resolve("a@latest") == ("a", 2)
    assert reg.resolve("a/1") == ("a", 1)
    assert reg.resolve("a@production") == ("a", 1)
    with pytest.raises(NotFound, match="no alias 'staging'"):
        reg.resolve("a@staging")
    with pytest.raises(InvalidInput):
        reg.resolve("a/x")


def test_aliases_move_with_an_audit_history(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    for _ in range(3):
        reg.register("a", f)
    # Administrators, so each may move the aliases of a model they do not own.
    with acting_as(Principal("ana", admin=True)):
        reg.set_alias("a", "production", 1)
        reg.set_alias("a", "production", 1)  # no move, no event
    with acting_as(Principal("bo", admin=True)):
        reg.set_alias("a", "production", 3)
        reg.set_alias("a", "staging", 2)
    with acting_as(Principal("cy", admin=True)):
        reg.delete_alias("a", "staging")
    history = reg.alias_history("a", PageRequest()).items
    moves = [(e["alias"], e["from_version"], e["to_version"], e["user"]) for e in history]
    assert moves == [
        ("staging", 2, None, "cy"),
        ("staging", None, 2, "bo"),
        ("production", 1, 3, "bo"),
        ("production", None, 1, "ana"),
    ]
    assert reg.get("a")["aliases"] == {"production": 3}
    assert reg.get_version("a", 3)["aliases"] == ["production"]


def test_alias_rules(reg: ModelRegistry, tmp_path: Path) -> None:
    reg.register("a", write(tmp_path / "m.bin", b"abc"))
    with pytest.raises(NotFound) as missing:
        reg.set_alias("a", "production", 7)
    assert missing.value.field == "version"
    for bad in ("3", "latest", "a/b", "<b>", ""):
        with pytest.raises(InvalidInput):
            reg.set_alias("a", bad, 1)
    reg.set_alias("a", "production", 1)
    with pytest.raises(Conflict, match="alias production"):
        reg.delete_version("a", 1)
    with pytest.raises(Conflict, match="still has aliases"):
        reg.delete("a")
    reg.delete_alias("a", "production")
    reg.delete("a")
    with pytest.raises(NotFound):
        reg.get("a")


def test_identical_files_are_stored_once_across_versions_and_models(
    reg: ModelRegistry, tmp_path: Path
) -> None:
    data = os.urandom(100_000)
    first = reg.register("a", write(tmp_path / "x" / "w.bin", data))
    second = reg.register("b", write(tmp_path / "y" / "other-name.bin", data))
    assert first["files"][0]["sha256"] == second["files"][0]["sha256"]
    assert blob_files(reg) == [first["files"][0]["sha256"]]


def test_re_registering_costs_a_hash_not_a_copy(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "w.bin", os.urandom(50_000))
    blob = reg.store.put_file(f, known_sizes=set())
    assert blob.written
    again = reg.store.put_file(f, known_sizes={blob.size})
    assert not again.written
    assert again.sha256 == blob.sha256
    assert list(reg.store.iter_tmp()) == []


def test_a_directory_is_one_version_with_relative_paths(reg: ModelRegistry, tmp_path: Path) -> None:
    d = tmp_path / "ckpt"
    write(d / "config.json", b"{}")
    write(d / "weights" / "part-0.bin", b"0" * 10)
    write(d / ".ipynb_checkpoints" / "x", b"skip")
    v = reg.register("a", d)
    assert v["kind"] == "directory"
    assert [f["path"] for f in v["files"]] == ["config.json", "weights/part-0.bin"]
    path = reg.load_path("a/1")
    assert (path / "weights" / "part-0.bin").read_bytes() == b"0" * 10


def test_load_is_cached_and_verified(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "w.bin", b"weights")
    v = reg.register("a", f)
    local = reg.load_path("a")
    assert local.read_bytes() == b"weights"
    assert local.name == "w.bin"
    # corrupt the cached copy: the next load notices (size/mtime marker) and fetches again
    local.write_bytes(b"tampered!")
    assert reg.load_path("a/1").read_bytes() == b"weights"
    # corrupt the stored blob: loading refuses it
    sha = v["files"][0]["sha256"]
    Path(reg.store.blob_path(sha)).write_bytes(b"rotten")
    local.unlink()
    with pytest.raises(Unavailable, match="corrupt"):
        reg.load_path("a/1")


def test_gc_removes_only_unreferenced_blobs(reg: ModelRegistry, tmp_path: Path) -> None:
    keep = reg.register("a", write(tmp_path / "k.bin", b"keep"))
    drop = reg.register("a", write(tmp_path / "d.bin", b"drop"))
    reg.delete_version("a", drop["version"])
    assert reg.gc()["removed_blobs"] == 0  # too young: a registration could be writing it
    result = reg.gc(timedelta(0))
    assert result["blobs"] == [drop["files"][0]["sha256"]]
    assert result["freed_bytes"] == 4
    assert blob_files(reg) == [keep["files"][0]["sha256"]]
    assert reg.load_path("a/1").read_bytes() == b"keep"


def test_gc_leaves_leased_blobs_and_stale_tmp_goes(reg: ModelRegistry, tmp_path: Path) -> None:
    from labrig.models.tables import BlobLease

    blob = reg.store.put_file(write(tmp_path / "l.bin", b"leased"))
    with reg.db.session() as session:
        session.add(BlobLease(lease_id="in-flight", sha256=blob.sha256))
    tmp = Path(reg.store.root) / "tmp" / "dead-upload"
    write(tmp, b"partial")
    result = reg.gc(timedelta(0))
    assert result["removed_blobs"] == 0
    assert result["removed_tmp"] == 1
    assert not tmp.exists()
    assert reg.store.exists(blob.sha256)


def test_idempotency_key_makes_a_retry_a_no_op(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    outputs = [{"name": "a", "path": str(f)}]
    first = reg.register_job_outputs("job-1", 0, outputs, {"snapshot_sha256": "s"})
    again = reg.register_job_outputs("job-1", 0, outputs, {"snapshot_sha256": "s"})
    assert first[0]["version"] == again[0]["version"] == 1
    assert reg.get("a")["version_count"] == 1
    assert first[0]["lineage"] == {"snapshot_sha256": "s", "job_id": "job-1", "rank": 0}
    other_rank = reg.register_job_outputs("job-1", 1, outputs, {})
    assert other_rank[0]["version"] == 2


@pytest.mark.parametrize(
    "name", ["", "a/b", "..", "a..b", "x" * 129, "<script>", "a\x00b", "tab\tname", " lead"]
)
def test_bad_model_names_are_refused(reg: ModelRegistry, tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        reg.register(name, write(tmp_path / "m.bin", b"abc"))
    assert caught.value.field == "name"
    assert reg.list(PageRequest()).items == []


@pytest.mark.parametrize(
    ("metrics", "needle"),
    [
        ({"acc": float("nan")}, "finite"),
        ({"acc": float("inf")}, "finite"),
        ({"acc": "high"}, "finite"),
        ({"acc": True}, "finite"),
        ([1, 2], "object"),
        ({"": 1}, "printable"),
    ],
)
def test_bad_metrics_are_refused(
    reg: ModelRegistry, tmp_path: Path, metrics: Any, needle: str
) -> None:
    with pytest.raises(InvalidInput, match=needle) as caught:
        reg.register("a", write(tmp_path / "m.bin", b"abc"), metrics=metrics)
    assert caught.value.field == "metrics"
    assert reg.list(PageRequest()).items == []


def test_missing_and_empty_sources_are_refused(reg: ModelRegistry, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        reg.register("a", tmp_path / "nope.bin")
    with pytest.raises(InvalidInput, match="is empty"):
        reg.register("a", write(tmp_path / "empty.bin", b""))
    (tmp_path / "empty-dir").mkdir()
    with pytest.raises(InvalidInput, match="holds no files"):
        reg.register("a", tmp_path / "empty-dir")
    assert reg.list(PageRequest()).items == []
    assert blob_files(reg) == []


def test_a_file_changing_while_hashed_is_refused(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "growing.bin", os.urandom(20 * 1024 * 1024))

    def append(done: int, total: int) -> None:
        if done < total:
            with f.open("ab") as handle:
                handle.write(b"more")

    with pytest.raises(InvalidInput, match="changed while it was being hashed"):
        reg.register("a", f, progress=append)
    assert reg.list(PageRequest()).items == []
    assert blob_files(reg) == []
    assert list(reg.store.iter_tmp()) == []


def test_a_full_store_is_storage_full_and_changes_nothing(
    reg: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(*_args: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("labrig.models.store.os.replace", no_space)
    with pytest.raises(StorageFull, match="full"):
        reg.register("a", write(tmp_path / "m.bin", b"abc"))
    assert reg.list(PageRequest()).items == []
    assert blob_files(reg) == []
    assert list(reg.store.iter_tmp()) == []


def test_an_unreachable_store_is_unavailable(services: Services, tmp_path: Path) -> None:
    blocker = write(tmp_path / "not-a-dir", b"x")
    reg = ModelRegistry(services.db, (blocker / "store").as_uri())
    with pytest.raises(Unavailable, match="cannot be reached"):
        reg.register("a", write(tmp_path / "m.bin", b"abc"))
    assert services.models.list(PageRequest()).items == []


def test_versions_page_by_number_and_by_metric(reg: ModelRegistry, tmp_path: Path) -> None:
    f = write(tmp_path / "m.bin", b"abc")
    accs = [0.5, 0.9, 0.7, 0.9, 0.1, 0.3, 0.8]
    for acc in accs:
        reg.register("a", f, metrics={"acc": acc})
    reg.register("a", f, metrics={"loss": 1})  # no acc: left out of the acc order

    def all_pages(**kwargs: Any) -> list[int]:
        seen: list[int] = []
        token = None
        while True:
            page = reg.list_versions("a", PageRequest(3, token), **kwargs)
            seen += [v["version"] for v in page.items]
            token = page.next_page_token
            if token is None:
                return seen

    assert all_pages() == [8, 7, 6, 5, 4, 3, 2, 1]
    assert all_pages(order_by="version", descending=False) == [1, 2, 3, 4, 5, 6, 7, 8]
    by_acc = all_pages(order_by="metric:acc")
    assert by_acc == [4, 2, 7, 3, 1, 6, 5]
    assert all_pages(order_by="metric:acc", descending=False) == list(reversed(by_acc))
    with pytest.raises(InvalidInput) as caught:
        reg.list_versions("a", PageRequest(), order_by="colour")
    assert caught.value.field == "order_by"


def test_blob_store_refuses_an_unknown_protocol() -> None:
    with pytest.raises(InvalidInput) as caught:
        BlobStore("nosuchproto://bucket/x")
    assert caught.value.field == "model_store_url"


async def test_periodic_gc_runs_in_the_background(
    reg: ModelRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio
    import logging

    from labrig.models.background import periodic_gc

    calls: list[int] = []
    monkeypatch.setattr(
        reg,
        "gc",
        lambda: calls.append(1) or {"removed_blobs": 0, "removed_tmp": 0, "aborted_uploads": 0},
    )
    task = asyncio.create_task(periodic_gc(reg, 0.01, logging.getLogger("test")))
    await asyncio.sleep(0.2)
    task.cancel()
    assert len(calls) >= 2
    await periodic_gc(reg, 0, logging.getLogger("test"))  # 0: off, returns at once
