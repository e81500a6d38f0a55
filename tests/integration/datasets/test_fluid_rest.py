"""The dataset REST API on a server configured with the Fluid cache, against the emulated
cluster: the panel's warm-up shows progress as a local one does, as far as Fluid reports it,
and every answer fits openapi.yaml."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from pathlib import Path
from typing import Any

import pytest
from dataset_servers import make_files, write_tree
from k8s.rig import KubeRig

FILES = make_files(20, 30_000, seed=17)


@pytest.fixture
def jp_server_config(labrig_env: Path, tmp_path: Path, kube: KubeRig) -> dict[str, Any]:
    kube.cluster.fluid_files_per_pass = 2  # so that the panel sees the load under way
    return {
        "ServerApp": {"jpserver_extensions": {"labrig": True}},
        "LabrigApp": {
            "data_dir": str(labrig_env),
            "dataset_cache_class": "labrig.k8s.fluid.FluidDatasetCache",
            "local_dataset_roots": [str(tmp_path)],  # the test's sources lie beside the root
        },
        "KubernetesJobBackend": kube.settings(),
        "DatasetCache": {"mount_root": str(tmp_path / "mounts")},
        "FluidDatasetCache": {"poll_interval": 0.05, "ready_timeout": 10.0},
    }


def openapi_check() -> Any:
    source = Path(__file__).parents[1] / "test_openapi.py"
    spec = importlib.util.spec_from_file_location("labrig_test_openapi_fluid", source)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.check


async def test_a_fluid_warm_up_over_rest_shows_progress_and_what_fluid_cannot_say(
    api: Any, tmp_path: Path
) -> None:
    check = openapi_check()
    write_tree(tmp_path / "src", FILES)
    body = {"name": "fluid-ds", "source_url": f"file://{tmp_path / 'src'}"}
    status, created = await api("datasets", method="POST", body=body)
    assert status == 201, created
    status, started = await api("datasets/fluid-ds/warm", method="POST", body={})
    assert status == 202, started
    seen = [started]
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, warm = await api("datasets/fluid-ds/warm")
        check(status, warm, "/datasets/{name}/warm", "get")
        seen.append(warm)
        if warm["state"] not in ("listing", "running"):
            break
        await asyncio.sleep(0.02)
    final = seen[-1]
    assert final["state"] == "succeeded", final
    assert final["files_done"] == final["files_total"] == len(FILES)
    assert final["bytes_done"] == final["bytes_total"]
    loading = [w for w in seen if w["state"] == "running" and 0 < w["percent"] < 100]
    assert loading, "the warm-up was never seen under way"
    assert all(w["files_done"] is None and "not files" in w["note"] for w in loading)

    status, shown = await api("datasets/fluid-ds")
    check(status, shown, "/datasets/{name}", "get")
    assert shown["complete"] is True
    assert abs(shown["cached_bytes"] - shown["bytes"]) <= shown["bytes"] * 0.01
    assert "Fluid" in shown["cache_note"]
    status, stats = await api("dataset-cache")
    check(status, stats, "/dataset-cache", "get")
    assert stats["hits"] is None
    assert "Fluid" in stats["note"]

    status, mounted = await api("datasets/fluid-ds/mount", method="POST", body={})
    assert status == 200, mounted
    assert mounted["path"] == str(tmp_path / "mounts" / "fluid-ds")
    assert mounted["env"] == {"LABRIG_DATASET_FLUID_DS": mounted["path"]}
