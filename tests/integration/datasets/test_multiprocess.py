"""Eight processes read one cold dataset at once: the source serves every byte exactly once,
every process reads correct content, and no partial file is ever visible in the cache."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from dataset_servers import FileServer, make_files, write_tree

from labrig.dataset_mounts.catalog import DatasetCatalog

READER = r"""
import hashlib, json, random, sys
from concurrent.futures import ThreadPoolExecutor
import labrig.datasets as ds

name, mode, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "warm":
    ds.warm(name, progress=False)
files = [e.path for e in ds._catalog().manifest(name)[1]]
random.Random(seed).shuffle(files)

def digest(path):
    with ds.open(name, path) as f:
        return path, hashlib.sha256(f.read()).hexdigest()

with ThreadPoolExecutor(4) as pool:
    print(json.dumps(dict(pool.map(digest, files))))
"""


@pytest.mark.timeout(600)  # eight interpreters on a small shared machine
def test_eight_cold_readers_fetch_each_byte_once_and_never_see_a_partial_file(
    catalog: DatasetCatalog, file_server: FileServer, http_root: Path, labrig_env: Path
) -> None:
    files = make_files(30, 64 * 1024, seed=51) | make_files(2, 2 * 2**20, seed=52, prefix="big/")
    write_tree(http_root / "shared", files)
    catalog.create({"name": "shared", "source_url": file_server.url + "shared/"})
    file_server.reset_counts()
    store = catalog.store

    stop = threading.Event()
    seen_bad: list[str] = []
    checked = {"n": 0}

    def watch() -> None:
        # Any object visible under objects/ must be whole and correct, at every moment.
        expected = {hashlib.md5(d, usedforsecurity=False).hexdigest(): d for d in files.values()}
        while not stop.is_set():
            for key, _st in list(store.objects()):
                try:
                    data = store.path_of(key).read_bytes()
                except FileNotFoundError:
                    continue
                md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
                if expected.get(key.split("-")[1]) != data or md5 != key.split("-")[1]:
                    seen_bad.append(key)
                checked["n"] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    env = {**os.environ, "LABRIG_DATA_DIR": str(labrig_env)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", READER, "shared", "warm" if i % 2 else "lazy", str(i)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    outputs = [p.communicate(timeout=500) for p in procs]
    stop.set()
    watcher.join()

    want = {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert json.loads(out) == want
    assert seen_bad == []
    assert checked["n"] > 0
    # One process listed the cold dataset (one HEAD per file); the others read its manifest.
    assert file_server.heads == {f"/shared/{p}": 1 for p in files}
    # Exactly one GET per object and every byte sent once, across all eight processes.
    assert file_server.gets == {f"/shared/{p}": 1 for p in files}
    assert sum(file_server.bytes_sent.values()) == sum(len(d) for d in files.values())
    assert list((store.root / "tmp").iterdir()) == []
    stats = catalog.cache_stats()
    assert stats["misses"] == len(files)
    assert stats["hits"] >= 7 * len(files)
