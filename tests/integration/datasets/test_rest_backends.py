"""The dataset REST API on each dataset cache, local and Kubernetes (Fluid in the emulated
cluster): the same calls give the same answers where Fluid reports them, and where it cannot
(files while loading, hits, misses, exact sizes) the answer says so instead of a number."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import make_files, write_tree
from test_fluid_rest import openapi_check

FILES = make_files(12, 40_000, seed=71, prefix="train/")
TOTAL = sum(len(v) for v in FILES.values())


@pytest.fixture(params=["local", "kubernetes"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def jp_server_config(
    backend: str, labrig_env: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> dict[str, Any]:
    mounts = str(tmp_path / "mounts")
    config: dict[str, Any] = {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        # The test's sources lie beside the Jupyter root.
        "LabrigApp": {"data_dir": str(labrig_env), "local_dataset_roots": [str(tmp_path)]},
        "DatasetCache": {"mount_root": mounts},
    }
    if backend == "kubernetes":
        kube = request.getfixturevalue("kube")
        kube.cluster.fluid_files_per_pass = 3  # so that progress is seen under way
        config["LabrigApp"]["dataset_cache_class"] = "labrig.k8s.fluid.FluidDatasetCache"
        config["KubernetesJobBackend"] = kube.settings()
        config["FluidDatasetCache"] = {"poll_interval": 0.05, "ready_timeout": 10.0}
    return config


async def warm(api: Any, name: str) -> list[dict[str, Any]]:
    """Start a warm-up and poll it as the panel does; every answer seen, the last one final."""
    status, started = await api(f"datasets/{name}/warm", method="POST", body={})
    assert status == 202, started
    seen = [started]
    for _ in range(1200):
        status, body = await api(f"datasets/{name}/warm")
        openapi_check()(status, body, "/datasets/{name}/warm", "get")
        seen.append(body)
        if body["state"] not in ("listing", "running"):
            return seen
        await asyncio.sleep(0.05)
    raise AssertionError(f"the warm-up did not finish: {seen[-1]}")


async def test_add_warm_mount_refresh_and_remove_behave_alike(
    api: Any, backend: str, tmp_path: Path
) -> None:
    check = openapi_check()
    root = tmp_path / "src"
    write_tree(root, FILES)
    status, created = await api(
        "datasets", method="POST", body={"name": "both", "source_url": f"file://{root}"}
    )
    assert status == 201, created
    status, early = await api("datasets/both/mount", method="POST", body={})
    assert status == 409
    assert "warm" in early["message"]

    seen = await warm(api, "both")
    final = seen[-1]
    assert final["state"] == "succeeded", final
    assert (final["files_done"], final["files_total"]) == (len(FILES), len(FILES))
    assert (final["bytes_done"], final["bytes_total"], final["percent"]) == (TOTAL, TOTAL, 100.0)
    running = [w for w in seen if w["state"] == "running" and w["percent"] is not None]
    assert [w["percent"] for w in running] == sorted(w["percent"] for w in running)
    if backend == "kubernetes":  # Fluid counts bytes while it loads, not files: said so
        loading = [w for w in running if 0 < w["percent"] < 100]
        assert all(w["files_done"] is None and "not files" in w["note"] for w in loading)

    status, mounted = await api("datasets/both/mount", method="POST", body={})
    assert status == 200, mounted
    assert mounted["path"] == str(tmp_path / "mounts" / "both")
    assert mounted["env"] == {"LABRIG_DATASET_BOTH": mounted["path"]}

    status, shown = await api("datasets/both")
    check(status, shown, "/datasets/{name}", "get")
    assert (shown["complete"], shown["files"], shown["bytes"]) == (True, len(FILES), TOTAL)
    if backend == "kubernetes":
        assert abs(shown["cached_bytes"] - TOTAL) <= TOTAL * 0.01  # Fluid rounds its sizes
        assert "rounded by Fluid" in shown["cache_note"]
        assert [v["kept"] for v in shown["cluster_versions"]] == ["pinned"]
    else:
        assert shown["cached_bytes"] == TOTAL
        assert "cluster_versions" not in shown

    (root / "train" / "part-0001.bin").write_bytes(b"changed")
    status, preview = await api("datasets/both/refresh", method="POST", body={})
    assert (preview["added"], preview["removed"], preview["modified"]) == (0, 0, 1)
    status, confirmed = await api(
        "datasets/both/refresh/confirm", method="POST", body={"version": preview["new_version"]}
    )
    assert (status, confirmed["version"]) == (200, preview["new_version"])
    status, stale = await api("datasets/both/mount", method="POST", body={})
    assert status == 409, stale  # the new version is not in the cache yet
    assert (await warm(api, "both"))[-1]["state"] == "succeeded"
    status, remounted = await api("datasets/both/mount", method="POST", body={})
    assert (status, remounted["version"]) == (200, preview["new_version"])

    status, _ = await api("datasets/both/mount", method="DELETE")
    assert status == 200
    status, _ = await api("datasets/both", method="DELETE")
    assert status == 204
    status, _ = await api("datasets/both")
    assert status == 404


async def test_cache_figures_are_numbers_only_where_the_cache_reports_them(
    api: Any, backend: str, tmp_path: Path
) -> None:
    root = tmp_path / "src"
    write_tree(root, FILES)
    await api("datasets", method="POST", body={"name": "figures", "source_url": f"file://{root}"})
    assert (await warm(api, "figures"))[-1]["state"] == "succeeded"
    status, stats = await api("dataset-cache")
    openapi_check()(status, stats, "/dataset-cache", "get")
    if backend == "kubernetes":
        assert (stats["hits"], stats["misses"], stats["hit_ratio"]) == (None, None, None)
        assert stats["size_limit"] is None
        assert "no hits, misses or limit" in stats["note"]
        assert stats["objects"] == 1  # one Fluid Dataset
        assert abs(stats["used_bytes"] - TOTAL) <= TOTAL * 0.01
    else:
        assert (stats["objects"], stats["misses"], stats["used_bytes"]) == (
            len(FILES),
            len(FILES),
            TOTAL,
        )
        assert isinstance(stats["hit_ratio"], float)
