"""The dataset REST API end to end: add, warm with progress, cancel, refresh, mount, cache."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import FileServer, S3Server, make_files, write_tree

from labrig.dataset_mounts.mount_protect import BIND
from labrig.services import Services

FILES = make_files(30, 50_000, seed=61)


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {"data_dir": str(labrig_env)},
        "LocalDatasetCache": {
            "mount_root": str(tmp_path / "mounts"),
            "workers": 4,
            "allowed_credentials_env": ["TEST_S3_*"],
        },
    }


async def wait_warm(api: Any, name: str) -> dict[str, Any]:
    for _ in range(600):
        status, body = await api(f"datasets/{name}/warm")
        assert status == 200
        if body["state"] not in ("listing", "running"):
            return dict(body)
        await asyncio.sleep(0.05)
    raise AssertionError("the warm-up did not finish")


async def test_add_warm_mount_refresh_and_remove_over_rest(
    api: Any, file_server: FileServer, http_root: Path, tmp_path: Path
) -> None:
    write_tree(http_root / "rest", FILES)
    body = {"name": "rest-ds", "source_url": file_server.url + "rest/"}
    status, created = await api("datasets", method="POST", body=body)
    assert status == 201, created
    assert created["version"] is None
    status, again = await api("datasets", method="POST", body=body)
    assert status == 409
    assert "already exists" in again["message"]

    status, warm = await api("datasets/rest-ds/warm", method="POST", body={})
    assert status == 202
    assert warm["id"]
    final = await wait_warm(api, "rest-ds")
    assert final["state"] == "succeeded", final
    assert final["files_done"] == final["files_total"] == len(FILES)
    assert final["bytes_done"] == final["bytes_total"]
    assert final["throughput_bytes_per_second"] > 0

    status, mounted = await api("datasets/rest-ds/mount", method="POST", body={})
    assert status == 200, mounted
    assert mounted["path"] == str(tmp_path / "mounts" / "rest-ds")
    assert mounted["env"] == {"LABRIG_DATASET_REST_DS": mounted["path"]}
    assert (Path(mounted["path"]) / "part-0007.bin").read_bytes() == FILES["part-0007.bin"]
    status, bad = await api(
        "datasets/rest-ds/mount", method="POST", body={"path": str(tmp_path / "outside")}
    )
    assert status == 400
    assert bad["field"] == "path"

    status, shown = await api("datasets/rest-ds")
    assert shown["complete"] is True
    assert shown["cached_bytes"] == shown["bytes"]
    assert shown["mount_path"] == mounted["path"]
    # The record says what keeps writes through the mount out of the shared cache.
    assert shown["mount_protection"] == mounted["protection"]
    if mounted["protection"] == BIND:
        with pytest.raises(OSError, match="Read-only file system"):
            (Path(mounted["path"]) / "part-0007.bin").write_bytes(b"root was here")

    (http_root / "rest" / "part-0001.bin").write_bytes(b"changed")
    (http_root / "rest" / "part-0002.bin").unlink()
    status, preview = await api("datasets/rest-ds/refresh", method="POST", body={})
    assert status == 200
    assert (preview["added"], preview["removed"], preview["modified"]) == (0, 1, 1)
    status, pinned = await api("datasets/rest-ds")
    assert pinned["version"] == preview["current_version"]
    status, confirmed = await api(
        "datasets/rest-ds/refresh/confirm", method="POST", body={"version": preview["new_version"]}
    )
    assert status == 200
    assert confirmed["version"] == preview["new_version"]

    status, stats = await api("dataset-cache")
    assert status == 200
    assert stats["objects"] == len(FILES)
    assert stats["misses"] == len(FILES)

    status, unmounted = await api("datasets/rest-ds/mount", method="DELETE")
    assert status == 200
    assert unmounted["mount_path"] is None
    assert unmounted["mount_protection"] is None
    status, _ = await api("datasets/rest-ds", method="DELETE")
    assert status == 204
    status, _ = await api("datasets/rest-ds")
    assert status == 404


async def test_a_warm_up_can_be_cancelled_and_resumed(
    api: Any, file_server: FileServer, http_root: Path
) -> None:
    write_tree(http_root / "slow", FILES)
    for i in range(0, 30, 3):
        file_server.faults[f"/slow/part-{i:04d}.bin"] = {
            "stall_after": 1000,
            "seconds": 0.5,
            "times": 1,
        }
    await api(
        "datasets", method="POST", body={"name": "slow", "source_url": file_server.url + "slow/"}
    )
    status, _ = await api("datasets/slow/warm", method="POST", body={})
    assert status == 202
    status, cancelled = await api("datasets/slow/warm", method="DELETE")
    assert status == 200, cancelled
    final = await wait_warm(api, "slow")
    assert final["state"] == "cancelled"
    assert "cancelled" in final["error"]
    status, _ = await api("datasets/slow/warm", method="DELETE")
    assert status == 409
    file_server.faults.clear()
    await api("datasets/slow/warm", method="POST", body={})
    resumed = await wait_warm(api, "slow")
    assert resumed["state"] == "succeeded"
    assert resumed["files_done"] == len(FILES)


async def test_errors_are_4xx_with_the_dataset_named_and_credentials_masked(
    api: Any, s3_server: S3Server, s3_creds: dict[str, str]
) -> None:
    s3_server.put_tree("rest-bucket", {"x/a.bin": b"a"})
    options = {"endpoint_url": s3_server.endpoint_url, "credentials_env": s3_creds}
    cases = [
        ({"name": "e1", "source_url": "gopher://x"}, 400, "source_url"),
        ({"name": "e2", "source_url": "s3://nope-bucket/x", "options": options}, 404, None),
        (
            {"name": "e3", "source_url": "s3://rest-bucket/x", "options": {"key": "AKIA"}},
            400,
            "options.key",
        ),
        ({"name": "bad name!", "source_url": "s3://rest-bucket/x"}, 400, "name"),
        (
            {
                "name": "e4",
                "source_url": "s3://rest-bucket/x",
                "include": "*.csv",
                "options": options,
            },
            400,
            "include",
        ),
    ]
    for body, code, field in cases:
        status, reply = await api("datasets", method="POST", body=body)
        assert status == code, reply
        assert reply.get("field") == field, reply
        if body["name"] != "bad name!":
            assert repr(body["name"]) in reply["message"]
        assert "very-secret-value-123" not in reply["message"]
    s3_server.counter.deny = True
    try:
        status, reply = await api(
            "datasets",
            method="POST",
            body={"name": "e5", "source_url": "s3://rest-bucket/x", "options": options},
        )
    finally:
        s3_server.counter.deny = False
    assert status == 403
    assert reply["reason"] == "access_denied"
    status, reply = await api("datasets/nope/warm", method="POST", body={})
    assert status == 404


async def test_services_expose_mounts_for_jobs_and_versions(
    server_services: Services, file_server: FileServer, http_root: Path, tmp_path: Path
) -> None:
    write_tree(http_root / "job", {"a.txt": b"a", "d/b.txt": b"b"})
    datasets = server_services.datasets
    datasets.create({"name": "job-data", "source_url": file_server.url + "job/"})
    await asyncio.to_thread(datasets.warm, "job-data")
    env = datasets.mount_for_job(["job-data"], tmp_path / "job-1" / "rank0")
    root = Path(env["LABRIG_DATASET_JOB_DATA"])
    assert (root / "d" / "b.txt").read_bytes() == b"b"
    assert datasets.versions_of(["job-data"]) == {"job-data": datasets.get("job-data")["version"]}
    with pytest.raises(Exception, match="no dataset named"):
        datasets.mount_for_job(["nope"], tmp_path / "x")
