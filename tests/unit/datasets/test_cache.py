"""The object cache: single flight across threads and processes, verification, eviction."""

from __future__ import annotations

import errno
import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest

from labrig.dataset_mounts import cache as cache_module
from labrig.dataset_mounts.cache import ObjectStore
from labrig.dataset_mounts.sources import Entry, Source
from labrig.errors import StorageFull


class CountingSource(Source):
    """A file:// source that counts reads and can be slowed down."""

    def __init__(self, root: Path, delay: float = 0.0) -> None:
        super().__init__("ds", root.as_uri(), {}, None)
        self.reads = 0
        self.delay = delay
        self.lock = threading.Lock()

    def read(self, entry: Entry, start: int, end: int) -> bytes:
        with self.lock:
            self.reads += 1
        time.sleep(self.delay)
        return super().read(entry, start, end)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    for i in range(4):
        (root / f"f{i}.bin").write_bytes(bytes([i]) * (1000 * (i + 1)))
    return root


def entries(source: Source) -> list[Entry]:
    return source.list()


def test_threads_asking_for_one_object_fetch_it_once(tmp_path: Path, source_dir: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    source = CountingSource(source_dir, delay=0.05)
    entry = entries(source)[0]
    results: list[tuple[Path, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(store.ensure(source, entry)))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert source.reads == 1
    assert sum(fetched for _p, fetched in results) == 1
    assert {p.read_bytes() for p, _f in results} == {(source_dir / entry.path).read_bytes()}
    stats = store.stats()
    assert (stats["hits"], stats["misses"]) == (7, 1)
    assert stats["hit_ratio"] == 0.875


def _hold_lock(root: str, key: str, ready: multiprocessing.synchronize.Event) -> None:
    store = ObjectStore(Path(root))
    with store.lock(key):
        ready.set()
        time.sleep(1.0)


def test_the_lock_excludes_other_processes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=_hold_lock, args=(str(store.root), "k1", ready))
    proc.start()
    assert ready.wait(30)
    started = time.monotonic()
    with store.lock("k1"):
        waited = time.monotonic() - started
    proc.join()
    assert waited > 0.5, "the lock held by another process did not block"
    started = time.monotonic()
    with store.lock("k2"):
        assert time.monotonic() - started < 0.5


def test_large_objects_are_fetched_in_ranges(tmp_path: Path, source_dir: Path) -> None:
    (source_dir / "big.bin").write_bytes(os.urandom(10_000))
    store = ObjectStore(tmp_path / "cache", range_size=1024)
    source = CountingSource(source_dir)
    entry = next(e for e in entries(source) if e.path == "big.bin")
    path, fetched = store.ensure(source, entry)
    assert fetched
    assert source.reads == 10
    assert path.read_bytes() == (source_dir / "big.bin").read_bytes()
    assert not os.access(path, os.W_OK) or os.geteuid() == 0
    assert path.stat().st_mode & 0o777 == 0o444


def test_a_corrupt_object_is_found_by_verification_and_refetched(
    tmp_path: Path, source_dir: Path
) -> None:
    store = ObjectStore(tmp_path / "cache")
    source = CountingSource(source_dir)
    entry = entries(source)[1]
    path, _ = store.ensure(source, entry)
    os.chmod(path, 0o644)
    path.write_bytes(b"\xff" * entry.size)  # same size, wrong bytes
    assert store.ensure(source, entry)[1] is False  # a cheap check trusts the size
    assert not store.verify(store.key_for(source.url, entry), entry)
    path2, fetched = store.ensure(source, entry, verify=True)
    assert fetched
    assert path2.read_bytes() == (source_dir / entry.path).read_bytes()
    path2.chmod(0o644)
    path2.write_bytes(b"short")  # truncation is caught without verify
    assert store.ensure(source, entry)[1] is True
    assert source.reads == 3


def test_disk_full_leaves_no_partial_object(
    tmp_path: Path, source_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ObjectStore(tmp_path / "cache")
    source = CountingSource(source_dir)
    entry = entries(source)[2]

    def full(fd: int, data: bytes, offset: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cache_module, "write_at", full)
    with pytest.raises(StorageFull, match="disk under the dataset cache"):
        store.ensure(source, entry)
    assert list((store.root / "tmp").iterdir()) == []
    assert not store.complete(store.key_for(source.url, entry), entry.size)
    monkeypatch.undo()
    assert store.ensure(source, entry)[1] is True


def test_eviction_is_lru_and_spares_protected_objects(tmp_path: Path, source_dir: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    source = CountingSource(source_dir)
    es = entries(source)  # sizes 1000, 2000, 3000, 4000
    keys = [store.key_for(source.url, e) for e in es]
    for i, e in enumerate(es):
        path, _ = store.ensure(source, e)
        os.utime(path, (1000 + i, 1000 + i))
    os.utime(store.path_of(keys[0]), (5000, 5000))  # f0 used most recently
    result = store.evict(protected={keys[1]}, limit=5500)
    left = {k for k, _st in store.objects()}
    # LRU order is f1 (protected), f2, f3, f0: f2 and f3 go, then 3000 bytes are left.
    assert left == {keys[0], keys[1]}
    assert result == {"evicted": 2, "freed_bytes": 7000}


def test_temporary_files_of_dead_fetchers_are_swept(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path / "cache")
    dead = store.root / "tmp" / "k.999999.0"
    dead.write_bytes(b"partial")
    mine = store.root / "tmp" / f"k.{os.getpid()}.1"
    mine.write_bytes(b"in flight")
    assert store.sweep_tmp() == 1
    assert not dead.exists()
    assert mine.exists()


def test_sweeping_tolerates_a_fetch_that_finishes_while_it_looks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another process's warm-up sweeps while this one renames its finished fetch into place.
    store = ObjectStore(tmp_path / "cache")
    finishing = store.root / "tmp" / f"k.{os.getpid()}.2"
    finishing.write_bytes(b"done")

    def alive_and_just_renamed(pid: int) -> bool:
        finishing.rename(store.root / "objects" / "k")
        return True

    monkeypatch.setattr("labrig.dataset_mounts.cache._pid_alive", alive_and_just_renamed)
    assert store.sweep_tmp() == 0
    assert (store.root / "objects" / "k").read_bytes() == b"done"
