"""The local store's copy: small files in the calling thread, larger ones copied in a second
thread while hashed; either way the blob is the file's bytes under their sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from labrig.errors import InvalidInput
from labrig.models.store import HASH_CHUNK, BlobStore


@pytest.fixture
def store(tmp_path: Path) -> BlobStore:
    return BlobStore(str(tmp_path / "store"))


@pytest.mark.parametrize("size", [1, HASH_CHUNK - 1, HASH_CHUNK, HASH_CHUNK + 1, 3 * HASH_CHUNK])
def test_a_blob_holds_the_files_bytes_under_their_hash(
    store: BlobStore, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    source = tmp_path / "model.bin"
    source.write_bytes(data)
    blob = store.put_file(source, known_sizes=set())
    assert blob.written
    assert (blob.sha256, blob.size) == (hashlib.sha256(data).hexdigest(), size)
    assert Path(store.blob_path(blob.sha256)).read_bytes() == data
    assert list(store.iter_tmp()) == []


def test_a_small_file_changing_while_copied_is_refused(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "small.bin"
    source.write_bytes(os.urandom(1000))

    appended: list[int] = []

    def append(done: int, _total: int) -> None:
        if not appended:  # once: the hash reads on while the file grows
            appended.append(done)
            with source.open("ab") as handle:
                handle.write(b"more")

    with pytest.raises(InvalidInput, match="changed while it was being hashed"):
        store.put_file(source, append, known_sizes=set())
    assert list(store.iter_blobs()) == []
    assert list(store.iter_tmp()) == []
