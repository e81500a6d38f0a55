"""The Jupyter server is SIGKILLed while it warms a dataset: the next server on the host resumes
the warm-up by itself, fetches only what was not cached yet, and no partial file is visible."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from dataset_servers import FileServer, make_files, write_tree
from server_process import ServerProcess, wait_until

pytestmark = pytest.mark.slow

FILES = make_files(10, 50_000, seed=7)


def test_a_warm_up_cut_by_a_killed_server_resumes_when_the_server_is_back(
    tmp_path: Path, labrig_env: Path, http_root: Path, file_server: FileServer
) -> None:
    write_tree(http_root / "shards", FILES)
    stalled = "/shards/part-0004.bin"
    file_server.faults[stalled] = {"stall_after": 10_000, "seconds": 60, "times": 1}
    root = tmp_path / "root"
    root.mkdir()
    server = ServerProcess(root, labrig_env)
    server.start()
    try:
        server.call("datasets", {"name": "shards", "source_url": file_server.url + "shards/"})
        server.call("datasets/shards/warm", {})
        wait_until(
            lambda: (server.call("datasets/shards/warm")["files_done"] or 0) >= len(FILES) - 1,
            "all but the stalled object",
        )
        server.stop(signal.SIGKILL)
        server.start()  # nobody asks for the warm-up again
        shards = wait_until(
            lambda: (d := server.call("datasets/shards"))["complete"] and d, "the resumed warm-up"
        )
        assert shards["complete"] is True
    finally:
        if server.alive():
            server.stop()
    for name in FILES:
        path = f"/shards/{name}"
        assert file_server.gets[path] == (2 if path == stalled else 1), path
    store = labrig_env / "cache"
    leftovers = list((store / "tmp").iterdir()) if (store / "tmp").exists() else []
    assert leftovers == []
