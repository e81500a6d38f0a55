"""A job's folder on shared storage, on a file system and on S3 (moto's server on loopback):
segments join back into the rank's log at any offset, never half a line; a staged registration
without its meta.json is invisible."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from dataset_servers import S3Server

from labrig.jobs.remote import Uploader
from labrig.jobs.runtime import JobLayout
from labrig.jobs.transport import JobFolder


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server()
    server.client.create_bucket(Bucket="labrig-jobs")
    yield server
    server.stop()


@pytest.fixture(params=["file", "s3"])
def folder(request: pytest.FixtureRequest, tmp_path: Path) -> JobFolder:
    if request.param == "file":
        return JobFolder.open(f"file://{tmp_path}/storage/jobs/j1")
    server: S3Server = request.getfixturevalue("s3")
    options = {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": server.endpoint_url},
    }
    return JobFolder.open(f"s3://labrig-jobs/{tmp_path.name}/jobs/j1", options)


def test_segments_join_back_from_any_offset_ending_at_a_line_break(folder: JobFolder) -> None:
    folder.put_segment("log", 0, 0, b"one\ntw")
    folder.put_segment("log", 0, 6, b"o\nthree\n")
    folder.put_segment("log", 0, 14, b"four (no break yet)")
    whole = folder.read_appended(0, "log", 0, 1 << 20)
    assert whole.data == b"one\ntwo\nthree\n"
    assert whole.size == 33
    later = folder.read_appended(0, "log", whole.next_offset - 6, 1 << 20)
    assert later.data == b"three\n"
    small = folder.read_appended(0, "log", 0, 5)
    assert (small.data, small.next_offset) == (b"one\n", 4)
    assert folder.read_appended(1, "log", 0, 100).data == b""


def test_an_uploader_mirrors_what_a_rank_writes(folder: JobFolder, tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "rank-side")
    layout.rank_dir(0).mkdir(parents=True)
    layout.log(0).write_bytes(b"hello\n")
    layout.metrics(0).write_text(json.dumps({"name": "loss", "value": 1.0, "step": 0}) + "\n")
    layout.progress(0).write_text(json.dumps({"cell": 0, "of": 3, "state": "done"}) + "\n")
    uploader = Uploader(layout, 0, folder, None)
    uploader.sync(final=False)
    with layout.log(0).open("ab") as f:
        f.write(b"world\n")
    layout.result(0).write_text(json.dumps({"ok": True, "reason": None}))
    uploader.sync(final=True)
    assert folder.read_appended(0, "log", 0, 1 << 20).data == b"hello\nworld\n"
    points, offset = folder.metrics(0, 0)
    assert [p["value"] for p in points] == [1.0]
    assert folder.metrics(0, offset) == ([], offset)
    assert folder.progress(0)["cell"] == 0
    assert folder.result(0) == {"ok": True, "reason": None}


def test_staged_registrations_appear_only_once_complete(folder: JobFolder, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"w" * 100)
    folder.stage("0-1", "moons", model, 0, {"metrics": {"acc": 0.9}})
    single = tmp_path / "head.pt"
    single.write_bytes(b"h")
    folder.stage("declared-0", "head", single, 0, {}, declared=True)
    # An interrupted upload: files without meta.json.
    folder.fs.makedirs(folder.path("staged", "0-2", "files"), exist_ok=True)
    folder.fs.pipe_file(folder.path("staged", "0-2", "files", "partial.bin"), b"p")
    staged = folder.staged(tmp_path / "into")
    assert [(s.name, s.key, s.declared) for s in staged] == [
        ("moons", "staged/0-1", False),
        ("head", "staged/declared-0", True),
    ]
    assert (staged[0].path / "weights.bin").read_bytes() == b"w" * 100
    assert staged[0].options == {"metrics": {"acc": 0.9}}
    assert staged[1].path.read_bytes() == b"h"
